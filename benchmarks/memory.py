"""Peak memory (RSS) of `synkan analyze` against video length: it must stay flat.

Loops a bundled 10 s sample 1x and 10x (optionally also 30 s at 1080p, and
N minutes at 720p), runs the real command in a child process for each, and
prints the child's peak RSS from getrusage. Not a unit test: the 10-minute
720p run takes several minutes.

    SYNKAN_MODEL=../shared/models/face_landmarker.task python benchmarks/memory.py [--hd] [--hd720-minutes 10]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_videos" / "oral_ocular_left.mp4"


def peak_rss_mb(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd`` in a fresh process; its peak RSS (MB) and wall time (s)."""
    # RUSAGE_CHILDREN keeps the maximum over all waited-for children, so use a
    # throwaway parent per measurement.
    probe = ("import resource, subprocess, sys, time; t = time.time(); "
             "rc = subprocess.run(sys.argv[1:]).returncode; "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.time() - t, rc)")
    out = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, check=True)
    kb, wall, rc = out.stdout.split()[-3:]
    if rc != "0":
        raise SystemExit(f"{cmd} failed: {out.stderr}")
    return int(kb) / 1024, float(wall)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hd", action="store_true", help="also measure a 1080p version (slower)")
    ap.add_argument("--loops", type=int, default=10)
    ap.add_argument("--hd720-minutes", type=float, default=0, help="also measure this many minutes of 1280x720 at 30 fps")
    ap.add_argument("--laterality", default="pixel")
    args = ap.parse_args()
    ffmpeg = shutil.which("ffmpeg") or sys.exit("needs ffmpeg")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        videos = {"1x 512px (10 s)": SAMPLE}
        videos[f"{args.loops}x 512px ({10 * args.loops} s)"] = tmp / "long.mp4"
        subprocess.run([ffmpeg, "-v", "error", "-stream_loop", str(args.loops - 1), "-i", SAMPLE, "-c", "copy",
                        videos[f"{args.loops}x 512px ({10 * args.loops} s)"]], check=True)
        if args.hd:
            hd = tmp / "hd.mp4"
            subprocess.run([ffmpeg, "-v", "error", "-stream_loop", "2", "-i", SAMPLE, "-vf",
                            "scale=1080:1080,pad=1920:1080:420:0", "-c:v", "libx264", "-preset", "ultrafast",
                            "-pix_fmt", "yuv420p", hd], check=True)
            videos["3x 1080p (30 s)"] = hd
        if args.hd720_minutes > 0:
            long720 = tmp / "720p.mp4"
            loops = int(round(6 * args.hd720_minutes))  # the sample is 10 s
            subprocess.run([ffmpeg, "-v", "error", "-stream_loop", str(loops - 1), "-i", SAMPLE, "-vf",
                            "scale=720:720,pad=1280:720:280:0", "-c:v", "libx264", "-preset", "ultrafast",
                            "-pix_fmt", "yuv420p", long720], check=True)
            videos[f"{args.hd720_minutes:g} min 720p"] = long720
        print(f"{'video':<24} {'frames':>7} {'peak RSS MB':>12} {'wall s':>8}")
        for name, video in videos.items():
            out = tmp / f"out-{time.monotonic_ns()}"
            cmd = [sys.executable, "-m", "synkan.cli", "analyze", str(video), "-o", str(out), "--no-figures",
                   "--laterality", args.laterality]
            rss, wall = peak_rss_mb(cmd)
            import json
            frames = json.loads((out / "report.json").read_text())["video"]["frames"]
            print(f"{name:<24} {frames:>7} {rss:>12.0f} {wall:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
