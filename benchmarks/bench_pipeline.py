"""Benchmark synkan against raw MediaPipe on the same frames.

For each source video it writes a test clip of ``--seconds`` (default 10 s)
and one of ``--long-seconds`` (default 65 s), by ping-pong looping the
source (forward, backward, ... so the face never jumps). The default source
is a real 640x480 webcam video. On every clip it runs:

  a   decode only (cv2.VideoCapture + BGR->RGB)
  b   the floor: decode + raw MediaPipe FaceLandmarker, VIDEO mode,
      num_faces=1, blendshapes and transformation matrices on: the cheapest
      way to get the landmarks synkan needs
  b2  as b with num_faces=2 (MediaPipe then runs its detector every frame)
  bc  as b, the result read from MediaPipe's C struct with numpy, as synkan
      reads it (MediaPipe's Python API first makes a Python object of every
      landmark, about 0.85 of 11 ms per frame here)
  c   ``synkan analyze --laterality plain --no-figures`` (the CLI, in-process)
  d   as c, with figures and report.html: ``synkan analyze --laterality plain``
  p   the default (pixel lids) with figures and report.html: ``synkan analyze``
  e   laterality="mirror" with figures and report.html (three landmarker passes)

Each variant runs in its own subprocess, so its peak RSS (``ru_maxrss``) is
its own; wall time is measured in the child from just before the first
frame work (model loading included, Python imports excluded). Variants are
interleaved within each repeat and the best of ``--repeats`` is reported,
because other processes share the machine.

Usage::

    SYNKAN_MODEL=../shared/models/face_landmarker.task python benchmarks/bench_pipeline.py
    python benchmarks/bench_pipeline.py --video my.mp4 --seconds 10 --repeats 3 --variants a,b,c
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VIDEOS = [ROOT.parent / "shared" / "videos" / "openface_multi_face.avi"]
ALL_VARIANTS = ("a", "b", "b2", "bc", "c", "d", "p", "e")
LABELS = {
    "a": "decode only",
    "b": "floor: MediaPipe raw, 1 face",
    "b2": "MediaPipe raw, 2 faces",
    "bc": "MediaPipe raw, 1 face, C result read",
    "c": "synkan plain, no figures",
    "d": "synkan plain, all outputs",
    "p": "synkan default (pixel), all outputs",
    "e": "synkan mirror, all outputs",
}
LATERALITY = {"c": "plain", "d": "plain", "p": "pixel", "e": "mirror"}


# --- clips ------------------------------------------------------------------------

def make_clip(source: Path, seconds: float, out: Path) -> Path:
    """Ping-pong loop ``source`` to ``seconds`` long (cached by name)."""
    import cv2

    if out.exists() and out.stat().st_size > 0:
        return out
    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    if not frames:
        raise SystemExit(f"{source}: no frames")
    h, w = frames[0].shape[:2]
    cycle = frames + frames[-2:0:-1] if len(frames) > 2 else frames
    need = int(round(seconds * fps))
    tmp = out.with_suffix(".tmp.mp4")
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for i in range(need):
        writer.write(cycle[i % len(cycle)])
    writer.release()
    os.replace(tmp, out)
    return out


# --- children (one variant each) --------------------------------------------------

def _model() -> str:
    from synkan.measure.models import resolve_model

    return str(resolve_model(None))


def _cpu_s() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM (ru_maxrss on Linux carries the parent's peak over fork and
    exec)."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024.0
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(variant: str, video: str) -> dict:
    import cv2

    extra: dict = {}
    cpu0 = _cpu_s()
    if variant in ("a", "b", "b2", "bc"):
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        from synkan.measure.landmarker import c_result_reader  # imported before timing, as synkan is in (c)

        model = _model()
        t0 = time.perf_counter()
        landmarker = None
        if variant != "a":
            from synkan.measure.landmarker import quiet_native_logs

            options = vision.FaceLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=model), running_mode=vision.RunningMode.VIDEO,
                num_faces=2 if variant == "b2" else 1, output_face_blendshapes=True,
                output_facial_transformation_matrixes=True)
            with quiet_native_logs():
                landmarker = vision.FaceLandmarker.create_from_options(options)
            if variant == "bc":
                read_c = c_result_reader(landmarker)
        cap = cv2.VideoCapture(video, cv2.CAP_FFMPEG)
        n, last_ms, faces = 0, -1, 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            if landmarker is not None:
                ms = max(int(round(cap.get(cv2.CAP_PROP_POS_MSEC))), last_ms + 1)
                last_ms = ms
                image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
                if variant == "bc":
                    faces += bool(read_c(image, ms).faces)
                else:
                    faces += bool(landmarker.detect_for_video(image, ms).face_landmarks)
            n += 1
        cap.release()
        if landmarker is not None:
            landmarker.close()
        elapsed = time.perf_counter() - t0
        extra["face_frames"] = faces
    else:
        from mediapipe.tasks.python import vision  # noqa: F401  (imported before timing, as in (b))

        from synkan.cli import main as synkan_main

        # The user's command itself: `synkan analyze VIDEO -o OUT --laterality L [--no-figures]`.
        laterality = LATERALITY[variant]
        with tempfile.TemporaryDirectory(prefix="synkan-bench-") as tmp:
            out = Path(tmp) / "out"
            argv = ["analyze", video, "-o", str(out), "--laterality", laterality] + (["--no-figures"] if variant == "c" else [])
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                rc = synkan_main(argv)
            elapsed = time.perf_counter() - t0
            report = json.loads((out / "report.json").read_text()) if rc == 0 else {}
        n = (report.get("video") or {}).get("frames", 0)
        extra.update(face_fraction=(report.get("qc") or {}).get("face_fraction"))
        if rc:
            extra["error"] = f"synkan analyze exited {rc}"
    rss_mb = _peak_rss_mb()
    cpu = _cpu_s() - cpu0  # includes Python-side set-up in both branches alike
    return {"variant": variant, "frames": n, "seconds": elapsed, "fps": n / elapsed, "cpu_s": cpu, "rss_mb": rss_mb, **extra}


def run_child(variant: str, video: Path) -> dict:
    cmd = [sys.executable, __file__, "--child", variant, str(video)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"variant": variant, "error": " | ".join(tail) or f"exit {proc.returncode}"}
    return json.loads(lines[-1])


# --- the driver ----------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", action="append", type=Path, help="source video (repeatable); default: a sample and a real video")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the short clip (default 10)")
    p.add_argument("--long-seconds", type=float, default=65.0, help="length of the long clip (0: skip; default 65)")
    p.add_argument("--repeats", type=int, default=1, help="interleaved repeats; best is reported (default 1)")
    p.add_argument("--variants", default="a,b,b2,bc,c,d,p,e", help=f"comma list of {','.join(ALL_VARIANTS)}")
    p.add_argument("--long-variants", default="a,b,bc,c,d,p", help="variants also run on the long clip")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "synkan-bench", help="where clips are cached")
    p.add_argument("--json", type=Path, help="also write all runs to this JSON file")
    p.add_argument("--child", nargs=2, metavar=("VARIANT", "VIDEO"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0

    if not os.environ.get("SYNKAN_MODEL"):
        shared = ROOT.parent / "shared" / "models" / "face_landmarker.task"
        if shared.exists():
            os.environ["SYNKAN_MODEL"] = str(shared)
    variants = [v for v in args.variants.split(",") if v]
    long_variants = [v for v in args.long_variants.split(",") if v in variants]
    bad = set(variants) - set(ALL_VARIANTS)
    if bad:
        p.error(f"unknown variants {sorted(bad)}")
    sources = args.video or [v for v in DEFAULT_VIDEOS if v.exists()]
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}; best of {args.repeats} interleaved repeat(s); "
          f"'vs b' = throughput ratio to the floor (raw MediaPipe, 1 face), 'cpu vs b' = CPU-seconds ratio "
          f"(b/variant; steadier on a busy machine)")

    clips: list[tuple[str, Path, list[str]]] = []
    for src in sources:
        short = make_clip(src, args.seconds, args.workdir / f"{src.stem}_{args.seconds:g}s.mp4")
        clips.append((f"{src.name} {args.seconds:g}s", short, variants))
        if args.long_seconds > 0 and long_variants:
            secs = args.long_seconds
            clips.append((f"{src.name} {secs:g}s", make_clip(src, secs, args.workdir / f"{src.stem}_{secs:g}s.mp4"), long_variants))

    runs: dict[tuple[str, str], list[dict]] = {}
    for rep in range(args.repeats):
        for name, clip, vs in clips:
            for v in vs:
                r = run_child(v, clip)
                runs.setdefault((name, v), []).append(r)
                status = r.get("error") or f"{r['fps']:.1f} fps, {r['rss_mb']:.0f} MB"
                print(f"  [{rep + 1}/{args.repeats}] {name:<32} {v:<3} {status}", file=sys.stderr, flush=True)

    def best(name: str, v: str) -> dict | None:
        ok = [r for r in runs.get((name, v), []) if "fps" in r]
        return max(ok, key=lambda r: r["fps"]) if ok else None

    print()
    hdr = f"{'clip':<34}{'variant':<36}{'frames':>7}{'s':>8}{'fps':>8}{'med fps':>8}{'vs b':>7}{'cpu vs b':>9}{'RSS MB':>8}"
    print(hdr)
    print("-" * len(hdr))
    for name, _, vs in clips:
        b = best(name, "b")
        for v in vs:
            r = best(name, v)
            if r is None:
                err = next((x.get("error") for x in runs.get((name, v), [])), "")
                print(f"{name:<34}{v + ' ' + LABELS[v]:<36}  failed: {err}")
                continue
            med = statistics.median(x["fps"] for x in runs[(name, v)] if "fps" in x)
            ratio = f"{r['fps'] / b['fps']:.2f}" if b else "-"
            cpu_ratio = f"{b['cpu_s'] / r['cpu_s']:.2f}" if b and r.get("cpu_s") else "-"
            note = ""
            if r.get("error"):
                note += f"  [{r['error']}]"
            print(f"{name:<34}{v + ' ' + LABELS[v]:<36}{r['frames']:>7}{r['seconds']:>8.2f}{r['fps']:>8.1f}{med:>8.1f}{ratio:>7}{cpu_ratio:>9}{r['rss_mb']:>8.0f}{note}")
        c, d = best(name, "c"), best(name, "d")
        if c and d:
            print(f"{'':<34}figures + HTML add {d['seconds'] - c['seconds']:+.2f} s")
        print()

    # Growth with length: short vs long clip of the same source.
    for i in range(0, len(clips) - 1):
        (n1, _, _), (n2, _, _) = clips[i], clips[i + 1]
        if n1.split()[0] != n2.split()[0]:
            continue
        for v in ("c", "d", "p"):
            r1, r2 = best(n1, v), best(n2, v)
            if r1 and r2 and r2["frames"] > r1["frames"]:
                per_frame_kb = (r2["rss_mb"] - r1["rss_mb"]) * 1024 / (r2["frames"] - r1["frames"])
                est_10min = r2["rss_mb"] + per_frame_kb * (18000 - r2["frames"]) / 1024
                print(f"{n1.split()[0]} {v}: RSS grows {per_frame_kb:.1f} KB/frame "
                      f"({r1['rss_mb']:.0f} -> {r2['rss_mb']:.0f} MB for {r1['frames']} -> {r2['frames']} frames); "
                      f"10 min at 30 fps (18000 frames) ~ {est_10min:.0f} MB at this frame size")
    if args.json:
        args.json.write_text(json.dumps([{"clip": k[0], **r} for k, rs in runs.items() for r in rs], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
