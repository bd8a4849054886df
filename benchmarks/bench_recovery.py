"""How much of a known one-sided movement the measurement recovers on real faces, person by person.

For every real video of a healthy person (one person per video) this renders,
with :func:`synkan.synth.synth_from_video`:

* a control: the same video through the same ``mp4v`` writer, nothing added
  (the codec shifts every pixel a little; compare with this, not the source);
* for each side, that side's upper lid lowered by ``K_OO`` x the person's own
  smile *and* that side's mouth corner lifted by ``K_OCUL`` x 5 mm x their own
  blink (the generator's own drivers, independent of the analysis; the two
  movements are far apart on the face, so one render serves both).

Every render is tracked once with pixel laterality and cached as
``track.npz`` under ``--cache``; re-running only re-measures. Per case:

* **recovered** = least-squares slope (with intercept) of (measured signal on
  the modified side minus the control's) on the true added amount from the
  ground-truth CSV; 1 = all of it seen;
* **leak** = the same slope for the other side; 0 = none leaks.

Narrowing is ``eye_closure`` (frames with a face and frontal gaze, as the
oral-ocular analysis uses); the corner is ``mouth_vertical`` (IOD, the
report's units). A person's numbers are the mean over their two sides.

``--fps 15`` first resamples each video to 15 fps with ffmpeg (in the
cache), where a blink's corner twitch lasts 1-2 frames.

Usage::

    SYNKAN_MODEL=../shared/models/face_landmarker.task \\
        python benchmarks/bench_recovery.py --videos ../shared/videos --cache /tmp/synkan_recovery [--fps 15]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from synkan.config import Settings
from synkan.measure.signals import signals_process
from synkan.measure.tracking import Track, track_video
from synkan.measure.video import iter_frames
from synkan.synth import synth_from_video
from synkan.synth.from_video import _writer_fps
from synkan.validation.real import _slope

K_OO = 0.6
K_OCUL = 0.6
SIDES = ("right", "left")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".wmv", ".mov")


def resample(video: Path, fps: float, cache: Path) -> Path:
    """``video`` re-encoded at ``fps`` (frames dropped or repeated by ffmpeg), cached."""
    out = cache / f"{video.stem}_{fps:g}fps.mp4"
    if not out.exists():
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(video), "-vf", f"fps={fps:g}",
                        "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


def control_render(video: Path, out: Path, t_s: np.ndarray | None = None) -> None:
    """``video`` through the generator's writer with nothing added (its k = 0 render)."""
    if out.exists():
        return
    first = next(iter_frames(video))
    fps = _writer_fps(video, t_s if t_s is not None else np.array([0.0]))
    size = (first.rgb.shape[1], first.rgb.shape[0])
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for frame in iter_frames(video):
        writer.write(cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR))
    writer.release()


def cached_track(video: Path, path: Path) -> Track:
    """The pixel-laterality track of ``video``, tracked once and kept at ``path``."""
    if path.exists():
        return Track.load(path)
    track = track_video(video, Settings())
    track.save(path)
    return track


def render_person(video: Path, cache: Path) -> Path:
    """Control and both sides' cases of one video, each tracked; returns the person's folder."""
    folder = cache / video.stem
    folder.mkdir(parents=True, exist_ok=True)
    control_render(video, folder / "k0.mp4")
    control = cached_track(folder / "k0.mp4", folder / "k0_track.npz")
    for side in SIDES:
        if not (folder / f"{side}_track.npz").exists():
            # The control's landmarks stand in for the source's: same frames, same codec round trip.
            paths = synth_from_video(video, folder, side, k_oo=K_OO, k_ocul=K_OCUL, name=side, track=control)
            cached_track(paths["video"], folder / f"{side}_track.npz")
    return folder


def case_slopes(control, modified, truth: pd.DataFrame, side: str,
                eye_column: str = "eye_closure_{}") -> dict:
    """Recovered share and leak of the narrowing and of the corner lift in one case.

    ``control`` and ``modified`` are :class:`~synkan.measure.signals.Signals` (or
    anything indexable by column name returning arrays, with ``valid`` and
    ``gaze_ok``).
    """
    s, o = side[0], "l" if side == "right" else "r"
    n = min(len(control["valid"]), len(modified["valid"]), len(truth))
    ok = np.asarray(control["valid"][:n], bool) & np.asarray(modified["valid"][:n], bool)
    gaze = ok & np.asarray(control["gaze_ok"][:n], bool) & np.asarray(modified["gaze_ok"][:n], bool)
    added = np.where(gaze, truth[f"added_closure_{s}"].to_numpy(float)[:n], np.nan)
    lift = np.where(ok, truth[f"corner_lift_{s}"].to_numpy(float)[:n], np.nan)
    change = {(kind, x): modified[column.format(x)][:n] - control[column.format(x)][:n]
              for kind, column in (("eye", eye_column), ("corner", "mouth_vertical_{}")) for x in (s, o)}
    return {"recovered_eye": _slope(added, change["eye", s]), "leak_eye": _slope(added, change["eye", o]),
            "recovered_corner": _slope(lift, change["corner", s]),
            "leak_corner": _slope(lift, change["corner", o])}


def columns(signals) -> dict[str, np.ndarray]:
    """The signal columns a case needs, as arrays."""
    data = signals.data
    keep = [c for c in data.columns if c.startswith(("eye_closure", "mouth_vertical"))] + ["valid", "gaze_ok"]
    return {c: data[c].to_numpy() for c in keep}


def score_person(folder: Path, settings: Settings) -> list[dict]:
    """Both sides' slopes of one person under ``settings``."""
    control = columns(signals_process(Track.load(folder / "k0_track.npz"), settings))
    rows = []
    for side in SIDES:
        modified = columns(signals_process(Track.load(folder / f"{side}_track.npz"), settings))
        truth = pd.read_csv(folder / f"{side}_gt.csv")
        row = {"person": folder.name, "side": side, **case_slopes(control, modified, truth, side)}
        mesh = case_slopes(control, modified, truth, side, "eye_closure_plain_{}")
        row.update(recovered_eye_mesh=mesh["recovered_eye"], leak_eye_mesh=mesh["leak_eye"])
        rows.append(row)
    return rows


def per_person(table: pd.DataFrame) -> pd.DataFrame:
    """Mean over each person's two sides, with a median row."""
    people = table.drop(columns="side").groupby("person").mean(numeric_only=True)
    people.loc["MEDIAN"] = people.median()
    return people


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, required=True)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--fps", type=float, help="resample each video to this frame rate first")
    parser.add_argument("--only", help="comma-separated video stems")
    parser.add_argument("--render-only", action="store_true")
    parser.add_argument("--cutoff-hz", type=float, help="the signals' low-pass cut-off (default: synkan's)")
    parser.add_argument("-o", "--output", type=Path, help="CSV of per-case slopes")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    videos = sorted(p for p in args.videos.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    if args.only:
        videos = [v for v in videos if v.stem in args.only.split(",")]
    settings = Settings() if args.cutoff_hz is None else Settings(cutoff_hz=args.cutoff_hz)
    rows = []
    for video in videos:
        source = resample(video, args.fps, args.cache) if args.fps else video
        folder = render_person(source, args.cache)
        print(f"rendered {folder.name}", file=sys.stderr, flush=True)
        if not args.render_only:
            rows += score_person(folder, settings)
    if rows:
        table = pd.DataFrame(rows)
        if args.output:
            table.to_csv(args.output, index=False, float_format="%.4f")
        print(per_person(table).round(2).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
