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
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SYNKAN_SHARED", ROOT.parent / "shared"))
WARM_UP_S = 5.0  # calibration (3 s) and the first measured frames


def camera_file(video: Path, folder: Path) -> Path:
    """The video padded (or scaled) to 640x480 at 30 frames/s, as a y4m for Chromium's fake camera."""
    out = folder / "camera.y4m"
    scale = "scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,fps=30"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(video), "-vf", scale, "-pix_fmt", "yuv420p", str(out)],
        check=True,
    )
    return out


def run(camera: Path, seconds: float, chromium: str) -> dict:
    """Serve, drive the page for ``seconds`` after the warm-up, and read the page's counters."""
    from playwright.sync_api import sync_playwright

    server = subprocess.Popen(
        [sys.executable, "-m", "synkan.cli", "live", "--port", "0", "--reps", "20"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        url = re.search(r"(http://\S+)", server.stdout.readline()).group(1)
        flags = [
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}",
        ]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=flags)
            page = browser.new_page(bypass_csp=True)  # Playwright's evaluate() needs eval
            page.goto(url)
            page.wait_for_function("document.getElementById('start').disabled === false", timeout=60_000)
            page.click("#start")
            page.wait_for_timeout(WARM_UP_S * 1000)
            before = page.evaluate(
                "({n: synkanLive.measured, d: synkanLive.dropped, k: synkanLive.latencies.length,"
                " t: synkanLive.lastAt})"
            )
            page.wait_for_timeout(seconds * 1000)
            after = page.evaluate(
                "({n: synkanLive.measured, d: synkanLive.dropped, t: synkanLive.lastAt,"
                " lat: synkanLive.latencies, server: synkanLive.serverMs || []})"
            )
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    latencies = np.array(after["lat"][before["k"] :])
    return {
        "fps": (after["n"] - before["n"]) / ((after["t"] - before["t"]) / 1000.0),
        "dropped": after["d"] - before["d"],
        "median_ms": float(np.median(latencies)),
        "p95_ms": float(np.percentile(latencies, 95)),
        "server_ms": float(np.median(after["server"][-len(latencies) :])),
        "frames": len(latencies),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=SHARED / "videos" / "KwaiVGI_d10.mp4")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window after the warm-up")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        result = run(camera_file(args.video, Path(tmp)), args.seconds, args.chromium)
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
