"""Batch throughput of the local process pool at 1 and 2 (or more) jobs.

Runs ``synkan.batch.run_batch`` on the same set of videos into a fresh
folder per run (no resume, no per-video figures) and prints videos per
minute and the speed-up over 1 job. Wall time includes starting the worker
processes and building their landmarkers, as a user would see it. With
``--rescore`` it then reruns the last batch with only the affected side
changed, which must re-score from the tracks instead of re-tracking, and
prints that rerun's time as a share of the first run's.

    python benchmarks/bench_batch.py                      # sample videos + shared real videos
    python benchmarks/bench_batch.py --jobs 1 2 --laterality mirror  VIDEO_OR_FOLDER...
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SYNKAN_SHARED", ROOT.parent / "shared"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inputs", nargs="*", help="videos, folders or globs (default: sample_videos/*.mp4 + shared videos)")
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--laterality", choices=("plain", "mirror"), default="plain")
    p.add_argument("--repeat", type=int, default=1, help="runs per job count (the fastest is kept)")
    p.add_argument("--rescore", action="store_true", help="also time a rerun with only the affected side changed")
    args = p.parse_args(argv)
    os.environ.setdefault("SYNKAN_MODEL", str(SHARED / "models" / "face_landmarker.task"))

    from synkan.batch import collect_jobs, run_batch
    from synkan.config import Settings

    inputs = args.inputs or [str(ROOT / "sample_videos" / "*.mp4"), str(SHARED / "videos" / "*.mp4")]
    videos = collect_jobs(inputs)
    settings = Settings(laterality=args.laterality)
    frames = _frames([j.path for j in videos])
    print(f"{len(videos)} videos, {frames} frames, laterality={args.laterality}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    rows = []
    for jobs in args.jobs:
        best = None
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix="synkan-bench-") as tmp:
                t0 = time.perf_counter()
                c0 = _cpu()
                with contextlib.redirect_stdout(io.StringIO()):
                    rc = run_batch(inputs, Path(tmp) / "out", settings, jobs=jobs, figures=False, trends=False,
                                   progress=False)
                wall = time.perf_counter() - t0
                cpu = _cpu() - c0
                if args.rescore:
                    t1 = time.perf_counter()
                    with contextlib.redirect_stdout(io.StringIO()):
                        run_batch(inputs, Path(tmp) / "out", dataclasses.replace(settings, affected="left"), jobs=jobs,
                                  figures=False, trends=False, progress=False)
                    again = time.perf_counter() - t1
                    print(f"jobs={jobs}: rerun with only the affected side changed took {again:.1f} s, "
                          f"{100 * again / wall:.0f}% of the first run ({wall:.1f} s)")
            if rc != 0:
                print(f"jobs={jobs}: some videos failed (exit {rc})", file=sys.stderr)
            if best is None or wall < best[0]:
                best = (wall, cpu)
        rows.append((jobs, *best))
    base = len(videos) / rows[0][1] * 60
    print(f"\n{'jobs':>4}  {'wall s':>7}  {'CPU s':>6}  {'videos/min':>10}  {'frames/s':>8}  {'speed-up':>8}")
    for jobs, wall, cpu in rows:
        vpm = len(videos) / wall * 60
        print(f"{jobs:>4}  {wall:>7.1f}  {cpu:>6.1f}  {vpm:>10.1f}  {frames / wall:>8.0f}  {vpm / base:>7.2f}x")
    print(f"load average {os.getloadavg()[0]:.1f} at end (other processes on the machine skew these numbers)")
    return 0


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children (the workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _frames(paths) -> int:
    import cv2

    total = 0
    for p in paths:
        cap = cv2.VideoCapture(str(p))
        total += int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
    return total


if __name__ == "__main__":
    sys.exit(main())
