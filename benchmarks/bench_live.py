"""Benchmark ``synkan live``: the real page and server, a fake camera at 640x480, headless Chromium.

A real shared video is padded to 640x480 and written as a y4m by ffmpeg;
Debian's Chromium plays it as its camera (``--use-file-for-fake-video-capture``)
into the page, which sends frames to a ``synkan live`` server started as a
subprocess, exactly as a patient's browser would. After Start and a warm-up
(the 3 s calibration and a little more), the page's own counters are read:

- measured frames per second: frames whose result came back, over the window;
- latency: from the moment the page grabbed the frame to the moment its bars
  were updated (the page's clock), median and 95th percentile.

When the server falls behind, frames are dropped (counted), never queued.
The last line reads ``live: F fps, median latency L ms, p95 P ms``.

Usage::

    SYNKAN_MODEL=../shared/models/face_landmarker.task python benchmarks/bench_live.py
    python benchmarks/bench_live.py --video ../shared/videos/KwaiVGI_d10.mp4 --seconds 30
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SYNKAN_SHARED", ROOT.parent / "shared"))
sys.path.insert(0, str(ROOT / "tests"))
from live_harness import browser_page, camera_y4m, live_server, start_session  # noqa: E402

WARM_UP_S = 5.0  # calibration (3 s) and the first measured frames
COUNTERS = ("({n: synkanLive.measured, d: synkanLive.dropped, k: synkanLive.latencies.length, "
            "t: synkanLive.lastAt})")


def run(camera: Path, seconds: float) -> dict:
    """Serve, drive the page for ``seconds`` after the warm-up, and read the page's counters."""
    with live_server("--reps", "20") as url, browser_page(camera) as (page, _):
        start_session(page, url)
        page.wait_for_timeout(WARM_UP_S * 1000)
        before = page.evaluate(COUNTERS)
        page.wait_for_timeout(seconds * 1000)
        after = page.evaluate(COUNTERS)
        latencies = np.array(page.evaluate("synkanLive.latencies")[before["k"]:])
        server_ms = page.evaluate("synkanLive.serverMs")[-len(latencies):]
    return {"fps": (after["n"] - before["n"]) / ((after["t"] - before["t"]) / 1000.0),
            "dropped": after["d"] - before["d"], "median_ms": float(np.median(latencies)),
            "p95_ms": float(np.percentile(latencies, 95)), "server_ms": float(np.median(server_ms)),
            "frames": len(latencies)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=SHARED / "videos" / "KwaiVGI_d10.mp4")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window after the warm-up")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        result = run(camera_y4m(args.video, Path(tmp) / "camera.y4m"), args.seconds)
    print(
        f"{args.video.name} at 640x480: {result['frames']} frames measured, "
        f"{result['dropped']} dropped by the "
        f"server, server time median {result['server_ms']:.0f} ms, load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores"
    )
    print(
        f"live: {result['fps']:.1f} fps, median latency {result['median_ms']:.0f} ms, "
        f"p95 {result['p95_ms']:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
