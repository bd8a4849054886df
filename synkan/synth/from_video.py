"""Real-face ground truth: add a known one-sided synkinesis to a healthy person's video.

The person's own voluntary movements drive what is added, so the added
synkinesis is time-locked to real smiles, puckers, blinks and eye closures,
with real lids, gaze, lighting and laughter (what the synthetic rig lacks):

* oral-ocular (``k_oo``): the chosen eye's upper lid moves down over the
  static eyeball by ``k_oo x d(t)`` of that frame's lid opening, ``d`` being
  the chosen driver (``driver_oo``: the person's own smile, pucker, or either);
* ocular-oral (``k_ocul``): the chosen mouth corner moves up and out (at
  :data:`LIFT_ANGLE_DEG` above the horizontal) by ``k_ocul x`` :data:`LIFT_FULL_MM`
  ``x c(t)``, ``c`` being the person's own eye closure during the chosen
  driver's events (``driver_ocul``: blinks, sustained closures, or either);
* mentalis (``k_chin``): the chosen side's chin pad moves up by
  ``k_chin x smile(t) x`` :data:`CHIN_LIFT_IOD`.

The drivers come from :mod:`synkan.synth.drivers`, the generator's own
geometry on the raw landmarks, never from the analysis's signals (which
would make the ground truth circular). Millimetres are converted through the
iris (:func:`synkan.synth.warps.mm_per_iod`).

Changed in case schema 2: ``k_ocul`` was a share of the corner's own
peak-smile displacement following the analysis's eye driver; it is now
``k_ocul x 5 mm`` at a full closure, following the chosen driver. The
oral-ocular default driver is the smile alone (it was any mouth excursion).

OpenCV's ``mp4v`` writer (the one :mod:`synkan.synth.render` uses) shifts
every pixel by about -2 grey levels on the round trip; compare outputs with
a ``k_oo=0, k_ocul=0`` render of the same video, not with the source.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from .._util.files import atomic_write_text, make_dir, partial_file, sha256_file
from .._version import __version__
from ..config import Settings
from ..errors import InputError, OutputError
from ..measure.tracking import Track, track_video
from ..measure.video import iter_frames, probe
from .drivers import OCUL_DRIVERS, OO_DRIVERS, Drivers, drivers_from_landmarks
from .warps import MARGIN_OFFSET_EW, lift_chin, lift_mouth_corner, lower_upper_lid, mm_per_iod

SCHEMA = "synkan.synth_from_video/2"
SIDES = {"right": "r", "left": "l"}

#: The ocular-oral corner lift at k_ocul = 1 and a full eye closure, mm (the hidden real-face set's unit).
LIFT_FULL_MM = 5.0
#: Direction of the corner lift above the horizontal, outward (zygomaticus pulls up and out).
LIFT_ANGLE_DEG = 45.0
#: A full mentalis lift of the chin pad at k_chin = 1, IOD (~3 mm: clearly visible chin dimpling).
CHIN_LIFT_IOD = 0.05

GT_COLUMNS = ("t", "frame", "valid", "smile_norm", "pucker_norm", "eye_closure_own", "driver_oo",
              "driver_ocul", "added_closure_r", "added_closure_l", "corner_lift_r", "corner_lift_l",
              "corner_lift_mm_r", "corner_lift_mm_l")
CHIN_COLUMNS = ("chin_lift_r", "chin_lift_l")  # written when k_chin > 0


def _check(side: str, ks: dict[str, float], name: str | None, driver_oo: str, driver_ocul: str) -> None:
    if side not in SIDES:
        raise InputError(f"side must be 'right' or 'left' (the subject's side), not {side!r}")
    for label, k in ks.items():
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0.0 <= k <= 1.0:
            raise InputError(f"{label} must be a number from 0 to 1, not {k!r}")
    if driver_oo not in OO_DRIVERS:
        raise InputError(f"oral-ocular driver must be one of {'|'.join(OO_DRIVERS)}, not {driver_oo!r}")
    if driver_ocul not in OCUL_DRIVERS:
        raise InputError(f"ocular-oral driver must be one of {'|'.join(OCUL_DRIVERS)}, not {driver_ocul!r}")
    if name is not None and (not name or Path(name).name != name or name.startswith(".") or len(name) > 100):
        raise InputError(f"name must be a plain file name without folders, not {name!r}")


def case_kind(k_oo: float, k_ocul: float) -> str:
    """``oral_ocular``, ``ocular_oral``, ``both`` or ``control`` (nothing added)."""
    return {(True, False): "oral_ocular", (False, True): "ocular_oral", (True, True): "both"}.get(
        (k_oo > 0, k_ocul > 0), "control")


def _writer_fps(video: Path, t_s: np.ndarray) -> float:
    """The container's frame rate if plausible, else the decoder timestamps' median rate."""
    fps = probe(video).fps_nominal
    if math.isfinite(fps) and 1.0 <= fps <= 1000.0:
        return fps
    dt = float(np.median(np.diff(t_s))) if len(t_s) > 1 else 0.0
    return 1.0 / dt if dt > 0 else 30.0


def truth_table(drv: Drivers, side: str, k: dict[str, float], driver_oo: str, driver_ocul: str,
                mm_iod: float) -> dict[str, np.ndarray]:
    """Per-frame truth: the drivers and what is added on each side.

    Parameters
    ----------
    drv : Drivers
    side : {"right", "left"}
    k : dict
        ``k_oo``, ``k_ocul``, ``k_chin``.
    driver_oo, driver_ocul : str
    mm_iod : float
        Millimetres per inter-ocular distance.

    Returns
    -------
    dict of (N,) arrays
        :data:`GT_COLUMNS` (less ``frame``) and :data:`CHIN_COLUMNS`. ``added_closure_*``
        is in units of synkan's ``eye_closure`` (a share of the rest opening): the
        rendered drop is ``k_oo x d`` of the opening below the lash margin, which lies
        :data:`~synkan.synth.warps.MARGIN_OFFSET_EW` under the mesh contour.
        ``corner_lift_*`` is the lift's upward part in IOD (what the analysis's
        ``mouth_vertical`` measures), ``corner_lift_mm_*`` its full length in mm.
    """
    d_oo, d_ocul = drv.oral_ocular(driver_oo), drv.ocular_oral(driver_ocul)
    s = SIDES[side]
    opening = drv.opening_r if s == "r" else drv.opening_l
    ear_rest = drv.info[f"ear_rest_{s}"]
    aperture = np.nan_to_num(np.clip(opening - MARGIN_OFFSET_EW / ear_rest, 0.0, None))
    lift_mm = np.where(drv.valid, k["k_ocul"] * LIFT_FULL_MM * d_ocul, 0.0)
    added = {"added_closure": np.where(drv.valid, k["k_oo"] * d_oo, 0.0) * aperture,
             "corner_lift": lift_mm / mm_iod * math.sin(math.radians(LIFT_ANGLE_DEG)),
             "corner_lift_mm": lift_mm,
             "chin_lift": np.where(drv.valid, k["k_chin"] * drv.smile * CHIN_LIFT_IOD, 0.0)}
    table = {"t": drv.t, "valid": drv.valid, "smile_norm": drv.smile, "pucker_norm": drv.pucker,
             "eye_closure_own": drv.closure, "driver_oo": d_oo, "driver_ocul": d_ocul}
    for name, values in added.items():
        for side_name, suffix in SIDES.items():
            table[f"{name}_{suffix}"] = values if side_name == side else np.zeros(len(values))
    return table


def _render(video: Path, tr: Track, out_path: Path, side: str, truth: dict[str, np.ndarray], k_oo: float,
            mm_iod: float) -> tuple[float, int]:
    """Write the modified video to ``out_path`` (atomically); return its fps and frame count."""
    s = SIDES[side]
    narrow = np.where(truth["valid"], k_oo * truth["driver_oo"], 0.0)
    angle = math.radians(LIFT_ANGLE_DEG)
    direction = np.array([math.cos(angle), math.sin(angle)])  # (outward, upward)
    lift_iod = truth[f"corner_lift_mm_{s}"] / mm_iod
    fps = _writer_fps(video, tr.t_s)
    row_of = {int(f): k for k, f in enumerate(tr.frame_index)}
    n_frames = 0
    with partial_file(out_path) as tmp_video:  # removed if interrupted; private, as every output
        writer = cv2.VideoWriter(str(tmp_video), cv2.VideoWriter_fourcc(*"mp4v"), fps, (tr.width, tr.height))
        if not writer.isOpened():
            raise OutputError(f"cannot write video {tmp_video}")
        try:
            for frame in iter_frames(video):
                img = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR)
                k = row_of.get(frame.index)
                if k is not None and truth["valid"][k]:
                    xy = tr.landmarks[k, :, :2].astype(np.float64)
                    if narrow[k] > 0:
                        img = lower_upper_lid(img, xy, side, float(narrow[k]))
                    if lift_iod[k] > 0:
                        img = lift_mouth_corner(img, xy, side, lift_iod[k] * direction)
                    if truth[f"chin_lift_{s}"][k] > 0:
                        img = lift_chin(img, xy, side, float(truth[f"chin_lift_{s}"][k]))
                writer.write(img)
                n_frames += 1
        finally:
            writer.release()
    return fps, n_frames


def _output_paths(out: Path, name: str) -> dict[str, Path]:
    """The video, case and truth paths of ``name`` in ``out`` (created)."""
    try:
        make_dir(out)
    except OSError as exc:
        raise OutputError(f"cannot create output directory {out}: {exc.strerror or exc}") from None
    return output_names(out, name)


def output_names(out: Path, name: str) -> dict[str, Path]:
    """The video, case and truth paths of ``name`` in ``out``.

    Examples
    --------
    >>> output_names(Path("o"), "x")["gt_csv"].as_posix()
    'o/x_gt.csv'
    """
    return {"video": out / f"{name}.mp4", "json": out / f"{name}.json", "gt_csv": out / f"{name}_gt.csv"}


def _refuse_overwriting(video: Path, paths: dict[str, Path]) -> None:
    """Refuse outputs that would replace the input video (``-o .`` and ``--name`` its stem, or a link)."""
    for path in paths.values():
        same = path.exists() and os.path.samefile(path, video)  # a hard link too
        if same or os.path.realpath(path) == os.path.realpath(video):
            raise OutputError(f"{path}: is the input video {video}; choose another --name or -o")


def _default_name(stem: str, side: str, k: dict[str, float], driver_oo: str, driver_ocul: str) -> str:
    name = f"{stem}_{side}_oo{k['k_oo']:g}_ocul{k['k_ocul']:g}"
    name += f"_{driver_oo}" if k["k_oo"] and driver_oo != "smile" else ""
    name += f"_{driver_ocul}" if k["k_ocul"] and driver_ocul != "blink" else ""
    return name + (f"_chin{k['k_chin']:g}" if k["k_chin"] else "")


def _case_json(video: Path, side: str, k: dict[str, float], drivers: dict[str, str], drv: Drivers,
               tr: Track, mm_iod: float) -> dict:
    """The case file: the source, what was added and following which driver, and the truth."""
    kind, lift_mm = case_kind(k["k_oo"], k["k_ocul"]), k["k_ocul"] * LIFT_FULL_MM
    return {"schema": SCHEMA, "synkan_version": __version__,
            "source": {"path": str(video), "sha256": sha256_file(video)},
            "side": side, "kind": kind, **k, **drivers, "width": tr.width, "height": tr.height,
            "mm_per_iod": mm_iod,
            "corner_lift": {"full_mm": LIFT_FULL_MM, "angle_deg": LIFT_ANGLE_DEG, "mm": lift_mm},
            "drivers": {"module": "synkan.synth.drivers", **drv.info,
                        "events": {e: drv.count(e) for e in ("smile", "pucker", "blink", "closure")}},
            "margin_offset_ew": MARGIN_OFFSET_EW,
            "truth": {"affected_side": side, "kind": kind, **k, **drivers, "corner_lift_mm": lift_mm}}


def synth_from_video(video: str | Path, out_dir: str | Path, side: str, k_oo: float = 0.0,
                     k_ocul: float = 0.0, name: str | None = None, model: str | Path | None = None,
                     track: Track | None = None, k_chin: float = 0.0, driver_oo: str = "smile",
                     driver_ocul: str = "blink") -> dict[str, Path]:
    """Add a known one-sided synkinesis to a real video of a healthy person.

    Parameters
    ----------
    video : str or Path
        The healthy person's video.
    out_dir : str or Path
        Output directory (created if needed); existing outputs of the same name are replaced.
    side : {"right", "left"}
        The affected side (the subject's side: their right eye is image-left).
    k_oo : float
        Oral-ocular coupling, 0..1: the eye's opening narrows by ``k_oo x driver_oo(t)``.
    k_ocul : float
        Ocular-oral coupling, 0..1: the mouth corner lifts up and out by
        ``k_ocul x 5 mm x driver_ocul(t)`` (1 at a full closure).
    name : str, optional
        Output base name; default ``f"{stem}_{side}_oo{k_oo:g}_ocul{k_ocul:g}"``, plus any
        driver other than the defaults.
    model : str or Path, optional
        ``face_landmarker.task``; resolved as usual when not given.
    track : Track, optional
        The video's track, when it has been tracked already; otherwise it is tracked here.
    k_chin : float
        Mentalis coupling, 0..1: the chin pad rises by ``k_chin x smile(t) x CHIN_LIFT_IOD``.
    driver_oo : {"smile", "pucker", "any"}
        What the narrowing follows (:mod:`synkan.synth.drivers`).
    driver_ocul : {"blink", "closure", "any"}
        What the corner lift follows: blinks (< 0.5 s), sustained closures, or both.

    Returns
    -------
    dict of Path
        ``{"video": <name>.mp4, "json": <name>.json, "gt_csv": <name>_gt.csv}``; the
        CSV has one row per frame (:data:`GT_COLUMNS`, see :func:`truth_table`).

    Raises
    ------
    InputError
        A missing or unreadable video, no face, no iris to calibrate mm, or a bad side, k or driver.
    OutputError
        The output directory or video cannot be written.

    """
    k = {"k_oo": k_oo, "k_ocul": k_ocul, "k_chin": k_chin}
    _check(side, k, name, driver_oo, driver_ocul)
    video = Path(video)
    name = name or _default_name(video.stem, side, k, driver_oo, driver_ocul)
    out = Path(out_dir)
    _refuse_overwriting(video, output_names(out, name))  # before the slow part
    tr = track if track is not None else track_video(video, Settings(laterality="plain"), model_path=model)
    drv = drivers_from_landmarks(tr.t_s, tr.landmarks, tr.valid)
    mm_iod = mm_per_iod(tr.landmarks, drv.valid)
    if mm_iod is None:
        raise InputError(f"{video}: no frame shows both irises, so millimetres cannot be calibrated")
    truth = truth_table(drv, side, k, driver_oo, driver_ocul, mm_iod)
    paths = _output_paths(out, name)
    fps, n_frames = _render(video, tr, paths["video"], side, truth, k_oo, mm_iod)
    case = _case_json(video, side, k, {"driver_oo": driver_oo, "driver_ocul": driver_ocul}, drv, tr, mm_iod)
    case |= {"fps": fps, "frames": n_frames}
    atomic_write_text(paths["json"], json.dumps(case, indent=2) + "\n")
    truth["frame"] = tr.frame_index
    table = pd.DataFrame({c: truth[c] for c in GT_COLUMNS + (CHIN_COLUMNS if k_chin else ())})
    atomic_write_text(paths["gt_csv"], table.to_csv(index=False, float_format="%.6f", lineterminator="\n"))
    return paths
