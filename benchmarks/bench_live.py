"""Benchmark ``synkan live``: the real page and server, a fake camera at 640x480, headless Chromium.

A real shared video is padded to 640x480 and written as a y4m by ffmpeg;
Debian's Chromium plays it as its camera (``--use-file-for-fake-video-capture``)
into the page, which sends frames to a ``synkan live`` server started as a
subprocess, exactly as a patient's browser would. After Start and a warm-up
(the 3 s calibration and a little more), the page's own counters are read:

- measured frames per second: frames whose result came back, over the window;
- latency: from the moment the page grabbed the frame to the moment its bars
  were updated (the page's clock), median and 95th percentile.

When the server falls behind, frames are dropped (counted), never queued. The CPU time the
server and the browser used per measured frame is printed too: unlike frames per second, it does not depend
on what else the machine is doing.
Like ``bench_pipeline.py`` it reports the best of ``--repeats`` runs (default 3), because other
processes share the machine. The last line reads ``live: F fps, median latency L ms, p95 P ms``.

Usage::

    SYNKAN_MODEL=../shared/models/face_landmarker.task python benchmarks/bench_live.py
    python benchmarks/bench_live.py --video ../shared/videos/KwaiVGI_d10.mp4 --seconds 30
"""

from __future__ import annotations

import argparse
import contextlib
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


def _processes() -> dict[int, tuple[int, str]]:
    """Every process: pid -> (parent pid, command line)."""
    out = {}
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            out[int(proc.name)] = (ppid, (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError, IndexError):
            continue
    return out


def cpu_s(marker: str) -> float:
    """CPU seconds used so far by the processes whose command line holds ``marker``, and their descendants."""
    table = _processes()
    chosen = {pid for pid, (_, command) in table.items() if marker in command}
    while grown := {pid for pid, (ppid, _) in table.items() if ppid in chosen} - chosen:
        chosen |= grown
    total = 0
    for pid in chosen:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime, clock ticks
    return total / os.sysconf("SC_CLK_TCK")


def run(camera: Path, seconds: float) -> dict:
    """Serve, drive the page for ``seconds`` after the warm-up, and read the page's counters and CPU use."""
    markers = {"server": "synkan.cli live", "browser": f"--use-file-for-fake-video-capture={camera}"}
    with live_server("--reps", "20") as url, browser_page(camera) as (page, _):
        start_session(page, url)
        page.wait_for_timeout(WARM_UP_S * 1000)
        before, cpu_before = page.evaluate(COUNTERS), {k: cpu_s(m) for k, m in markers.items()}
        page.wait_for_timeout(seconds * 1000)
        after, cpu_after = page.evaluate(COUNTERS), {k: cpu_s(m) for k, m in markers.items()}
        latencies = np.array(page.evaluate("synkanLive.latencies")[before["k"]:])
    frames = after["n"] - before["n"]
    return {"fps": frames / ((after["t"] - before["t"]) / 1000.0), "dropped": after["d"] - before["d"],
            "median_ms": float(np.median(latencies)), "p95_ms": float(np.percentile(latencies, 95)),
            "frames": frames,
            **{f"{k}_cpu_ms": 1000 * (cpu_after[k] - cpu_before[k]) / frames for k in markers}}


def _describe(result: dict) -> str:
    return (f"{result['frames']} frames measured at {result['fps']:.1f} fps, {result['dropped']} dropped "
            f"by the server, latency median {result['median_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms; "
            f"CPU per measured frame: server {result['server_cpu_ms']:.0f} ms, "
            f"browser {result['browser_cpu_ms']:.0f} ms; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=SHARED / "videos" / "KwaiVGI_d10.mp4")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window after the warm-up")
    parser.add_argument("--repeats", type=int, default=3, help="runs; the best (most frames/s) is reported, "
                                                              "because other processes share the machine")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        camera = camera_y4m(args.video, Path(tmp) / "camera.y4m")
        for k in range(args.repeats):
            results.append(run(camera, args.seconds))
            print(f"run {k + 1}: {_describe(results[-1])}", flush=True)
    best = max(results, key=lambda r: r["fps"])
    print(f"{args.video.name} at 640x480, best of {len(results)}: {_describe(best)}")
    print(f"live: {best['fps']:.1f} fps, median latency {best['median_ms']:.0f} ms, "
          f"p95 {best['p95_ms']:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
