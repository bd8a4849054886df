"""Real-face ground truth: add a known one-sided synkinesis to a healthy person's video.

The person's own voluntary movements drive what is added, so the added
synkinesis is time-locked to real smiles and real eye closures, with real
lids, gaze, lighting and laughter (what the synthetic rig lacks):

* oral-ocular (``k_oo``): the chosen eye's upper lid moves down over the
  static eyeball by ``k_oo x smile_norm(t)`` of that frame's lid opening;
* ocular-oral (``k_ocul``): the chosen mouth corner moves by
  ``k_ocul x c(t)`` of its own peak-smile displacement, ``c`` being the
  person's own eye closure;
* mentalis (``k_chin``): the chosen side's chin pad moves up by
  ``k_chin x smile_norm(t) x`` :data:`CHIN_LIFT_IOD`.

The geometry is synkan's own plain-mesh tracking of the source, frame by
frame. Each movement is one ``cv2.remap`` of a small box around the eye or
the mouth corner, so the rest of the image is untouched up to the codec.
OpenCV's ``mp4v`` writer (the one :mod:`synkan.synth.render` uses) shifts
every pixel by about -2 grey levels on the round trip; compare outputs with
a ``k_oo=0, k_ocul=0`` render of the same video, not with the source.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator

from .._version import __version__
from ..measure import eyelids
from ..config import Settings
from ..measure.mesh import BROW_L, BROW_R, CHIN_L, CHIN_R, EYE_L, EYE_R, MOUTH_CORNER_L, MOUTH_CORNER_R
from ..errors import InputError, OutputError
from ..grade.events import eye_driver, mouth_driver
from .._util.files import sha256_file
from ..measure.signals import signals_process
from ..measure.tracking import Track, track_video
from ..measure.video import iter_frames, probe
from .._util.files import atomic_write_text

SCHEMA = "synkan.synth_from_video/1"
SIDES = {"right": "r", "left": "l"}

#: Mouth excursion beyond rest (IOD) that counts as a full smile when the
#: video's own 99th percentile is smaller: about a modest real smile, so a
#: video without a smile gets almost nothing added.
SMILE_SCALE_MIN_IOD = 0.08

# Lid contours and eye corners of MediaPipe's mesh, keyed by subject side.
UPPER_LID = {"right": eyelids.UPPER_LID["r"], "left": eyelids.UPPER_LID["l"]}  # corner to corner
LOWER_LID = {"right": eyelids.LOWER_LID["r"], "left": eyelids.LOWER_LID["l"]}
CORNERS = {"right": (EYE_R[0], EYE_R[3]), "left": (EYE_L[3], EYE_L[0])}  # outer, inner
BROW = {"right": BROW_R, "left": BROW_L}
MOUTH_CORNER = {"right": MOUTH_CORNER_R, "left": MOUTH_CORNER_L}

#: The mesh's upper-lid contour runs along the middle of the dark lash line in
#: the shared real videos; the lid margin (where the lashes meet the eyeball)
#: lies about this far below it, in eye widths. Splitting the layers there
#: makes the whole lash line move with the lid.
MARGIN_OFFSET_EW = 0.04
#: Height of the pretarsal lid above the margin that moves rigidly with it
#: (the tarsal plate; 3-5 mm of a ~30 mm wide eye), eye widths.
RIGID_LID_EW = 0.12
#: Width of the anti-aliasing ramp across the moved lid margin, pixels.
EDGE_AA_PX = 1.0
#: Margin of the eye box around the lid and brow landmarks, eye widths.
EYE_BOX_PAD_EW = 0.25

#: Below this peak mouth excursion (IOD) the video has no usable smile, and the
#: corner moves by :data:`DEFAULT_LIFT_IOD` instead of its own smile.
MIN_PEAK_SMILE_IOD = 0.04
DEFAULT_LIFT_IOD = (0.06, 0.12)  # (outward, upward)
#: Spread of the Gaussian weight around the mouth corner, IOD.
LIFT_SIGMA_IOD = 0.25
#: Fixed-point iterations inverting the corner warp. Each shrinks the error by
#: the warp's largest gradient, 0.61 |lift| / sigma: about 0.5 for a big real
#: smile's displacement (0.2 IOD), so ten leave well under 1% of it.
LIFT_INVERSE_ITERATIONS = 10

GT_COLUMNS = ("t", "frame", "valid", "smile_norm", "eye_closure_own", "added_closure_r", "added_closure_l",
              "corner_lift_r", "corner_lift_l")
CHIN_COLUMNS = ("chin_lift_r", "chin_lift_l")  # written when k_chin > 0
#: A full mentalis lift of the chin pad at k_chin = 1, IOD (~3 mm: clearly visible chin dimpling).
CHIN_LIFT_IOD = 0.05
CHIN_SIGMA_IOD = 0.15  # the chin pad beside the midline, ~9 mm


# --- drivers -----------------------------------------------------------------------

def normalised_smile(smile_iod: np.ndarray, rest: np.ndarray | None = None) -> tuple[np.ndarray, float, float]:
    """The person's smile on a 0..1 scale from their own rest: 0 at rest, 1 at their broadest smile.

    Synkinesis is movement beyond rest in proportion to the voluntary
    movement beyond rest. The mouth driver is a distance from the rest
    shape, so it is never 0 even at rest (landmark jitter; a person who
    never quite rests, such as one grimacing throughout): its median over
    the rest frames is the zero. Otherwise narrowing would be added at rest
    too, a resting asymmetry that no rest-relative measure can see.

    Parameters
    ----------
    smile_iod : (N,) array
        Mean mouth-corner excursion in inter-ocular distances (NaN: no face).
    rest : (N,) bool array, optional
        The rest frames (synkan's own, ``signals.data["rest"]``); without
        them the zero is 0.

    Returns
    -------
    smile_norm : (N,) array
        ``clip((smile - rest_level) / span, 0, 1)``, 0 where ``smile_iod`` is NaN.
    span_iod : float
        ``max(P99(smile) - rest_level, SMILE_SCALE_MIN_IOD)``.
    rest_level_iod : float
        The median of ``smile_iod`` over the rest frames.

    Examples
    --------
    >>> norm, span, zero = normalised_smile(np.array([0.0, 0.02, np.nan]))
    >>> norm.tolist(), span, zero
    ([0.0, 0.25, 0.0], 0.08, 0.0)
    >>> norm, span, zero = normalised_smile(np.array([0.03, 0.05, 0.23]), rest=np.array([True, True, False]))
    >>> np.round(norm, 3).tolist(), round(span, 3), round(zero, 3)
    ([0.0, 0.054, 1.0], 0.186, 0.04)
    """
    finite = np.isfinite(smile_iod)
    at_rest = finite & rest if rest is not None else np.zeros(len(smile_iod), bool)
    zero = float(np.median(smile_iod[at_rest])) if at_rest.any() else 0.0
    p99 = float(np.percentile(smile_iod[finite], 99)) if finite.any() else 0.0
    span = max(p99 - zero, SMILE_SCALE_MIN_IOD)
    return np.nan_to_num(np.clip((smile_iod - zero) / span, 0.0, 1.0), nan=0.0), span, zero


def peak_smile_lift_iod(smile_iod: np.ndarray, lateral_iod: np.ndarray, vertical_iod: np.ndarray) -> tuple[np.ndarray, str]:
    """The corner's own (outward, upward) displacement at the largest smile, in IOD.

    Falls back to :data:`DEFAULT_LIFT_IOD` when the largest smile's mean
    excursion is below :data:`MIN_PEAK_SMILE_IOD` (or the corner is NaN there).

    Returns
    -------
    lift_iod : (2,) array
    source : {"peak_smile", "default"}
    """
    if np.isfinite(smile_iod).any():
        k = int(np.nanargmax(smile_iod))
        lift = np.array([lateral_iod[k], vertical_iod[k]], float)
        if smile_iod[k] >= MIN_PEAK_SMILE_IOD and np.isfinite(lift).all():
            return lift, "peak_smile"
    return np.array(DEFAULT_LIFT_IOD, float), "default"


# --- geometry ----------------------------------------------------------------------

@dataclass(frozen=True)
class EyeAxes:
    """Eye-aligned pixel coordinates: ``u`` along the corner axis from the outer
    corner, ``v`` perpendicular to it, pointing down the face (handles head roll)."""

    origin: np.ndarray  # (2,) image px
    e_u: np.ndarray
    e_v: np.ndarray
    width_px: float

    @classmethod
    def of(cls, xy: np.ndarray, side: str) -> "EyeAxes":
        """The axes of ``side``'s eye in one frame's (478, 2) image landmarks."""
        outer, inner = xy[CORNERS[side][0]], xy[CORNERS[side][1]]
        width = float(np.linalg.norm(inner - outer))
        e_u = (inner - outer) / width
        e_v = np.array([-e_u[1], e_u[0]])
        if (xy[list(BROW[side])].mean(axis=0) - outer) @ e_v > 0:
            e_v = -e_v  # the brow lies above the eye, at v < 0
        return cls(outer, e_u, e_v, width)

    def uv(self, xy: np.ndarray) -> np.ndarray:
        """(..., 2) image px -> (..., 2) eye-aligned px."""
        d = xy - self.origin
        return np.stack([d @ self.e_u, d @ self.e_v], axis=-1)

    def xy(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Eye-aligned px -> image x, y."""
        return (self.origin[0] + u * self.e_u[0] + v * self.e_v[0],
                self.origin[1] + u * self.e_u[1] + v * self.e_v[1])


def contour_v(uv: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A contour's ``v`` at columns ``u``: monotone cubic through its points, constant beyond its ends.

    Parameters
    ----------
    uv : (K, 2) array
        Contour points in eye-aligned px, in any order.
    u : array
        Columns to evaluate at.
    """
    knots, first = np.unique(uv[:, 0], return_index=True)
    return PchipInterpolator(knots, uv[first, 1])(np.clip(u, knots[0], knots[-1]))


def lid_source_v(v_out: np.ndarray, brow_v: np.ndarray, margin_v: np.ndarray, drop_px: np.ndarray,
                 rigid_px: np.ndarray | float = 0.0) -> np.ndarray:
    """Source row of the lid layer for output row ``v_out`` (all in eye-aligned px).

    The lid layer moves by ``drop_px * w(v)``: ``w`` is 1 over the pretarsal
    band (``rigid_px`` above the margin, where the tarsal plate keeps the
    lid rigid, lashes and eyeliner included) and falls linearly to 0 at the
    brow above it, where the skin stretches. The inverse is closed-form.
    Rows above the brow stay put.

    Examples
    --------
    >>> float(lid_source_v(np.array(12.0), np.array(0.0), np.array(10.0), np.array(2.0)))
    10.0
    >>> float(lid_source_v(np.array(9.0), np.array(0.0), np.array(10.0), np.array(2.0), rigid_px=4.0))
    7.0
    """
    top = np.maximum(margin_v - rigid_px, brow_v + 1.0)  # upper edge of the rigid band
    span = top - brow_v
    stretched = brow_v + (v_out - brow_v) * span / (span + drop_px)
    return np.where(v_out <= brow_v, v_out, np.where(v_out < top + drop_px, stretched, v_out - drop_px))


def _box(points: np.ndarray, pad_px: float, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Integer box (x0, y0, x1, y1) around ``points`` padded by ``pad_px``, inside the image."""
    x0, y0 = np.floor(points.min(axis=0) - pad_px).astype(int)
    x1, y1 = np.ceil(points.max(axis=0) + pad_px).astype(int) + 1
    return max(x0, 0), max(y0, 0), min(x1, shape[1]), min(y1, shape[0])


def lower_upper_lid(img: np.ndarray, xy: np.ndarray, side: str, fraction: float) -> np.ndarray:
    """Move ``side``'s upper lid down over the static eyeball by ``fraction`` of the eye's opening.

    Parameters
    ----------
    img : (H, W, 3) uint8
        The frame (not modified).
    xy : (478, 2) array
        This frame's landmarks in image px.
    side : {"right", "left"}
        Subject's side.
    fraction : float
        0 (no change) to 1 (lid down to the lower lid).

    Returns
    -------
    (H, W, 3) uint8
        A copy with the eye-and-brow box re-rendered.

    Notes
    -----
    Two layers, as in the synthetic rig: the eyeball (everything below the
    lid margin) stays put; the lid layer (margin up to the brow) moves down,
    the margin and the pretarsal band above it (:data:`RIGID_LID_EW`) rigidly
    by ``d(u) = fraction x opening(u)``, the skin above that stretching,
    fading linearly to 0 at the brow. ``d`` vanishes at the eye
    corners, where the opening does, so the sides have no seam. The new
    margin is anti-aliased over :data:`EDGE_AA_PX`.
    """
    axes = EyeAxes.of(xy, side)
    upper = axes.uv(xy[list(UPPER_LID[side])])
    lower = axes.uv(xy[list(LOWER_LID[side])])
    brow = axes.uv(xy[list(BROW[side])])
    x0, y0, x1, y1 = _box(xy[list(UPPER_LID[side] + LOWER_LID[side] + BROW[side])],
                          EYE_BOX_PAD_EW * axes.width_px, img.shape[:2])
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    u, v = np.moveaxis(axes.uv(np.stack([xs, ys], axis=-1)), -1, 0)
    margin = contour_v(upper, u) + MARGIN_OFFSET_EW * axes.width_px
    inside = (u > 0) & (u < axes.width_px)
    drop = fraction * np.where(inside, np.clip(contour_v(lower, u) - margin, 0.0, None), 0.0)
    src_x, src_y = axes.xy(u, lid_source_v(v, contour_v(brow, u), margin, drop, RIGID_LID_EW * axes.width_px))
    lid = cv2.remap(img, src_x.astype(np.float32), src_y.astype(np.float32), cv2.INTER_CUBIC,
                    borderMode=cv2.BORDER_REFLECT101)
    coverage = np.clip((margin + drop - v) / EDGE_AA_PX + 0.5, 0.0, 1.0)[..., None]
    out = img.copy()
    box = img[y0:y1, x0:x1].astype(np.float64)
    out[y0:y1, x0:x1] = np.clip(coverage * lid + (1.0 - coverage) * box + 0.5, 0, 255).astype(np.uint8)
    return out


def gaussian_lift_source(x: np.ndarray, y: np.ndarray, center: np.ndarray, lift_px: np.ndarray,
                         sigma_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Source pixels of the warp ``p -> p + lift * exp(-|p - center|^2 / (2 sigma^2))``.

    The forward warp has no closed-form inverse; fixed-point iteration
    converges because its gradient stays below 1 (no folds) for
    ``|lift| < 1.6 sigma``.
    """
    sx, sy = x, y
    for _ in range(LIFT_INVERSE_ITERATIONS):
        w = np.exp(-((sx - center[0]) ** 2 + (sy - center[1]) ** 2) / (2.0 * sigma_px ** 2))
        sx, sy = x - lift_px[0] * w, y - lift_px[1] * w
    return sx, sy


def lift_mouth_corner(img: np.ndarray, xy: np.ndarray, side: str, lift_iod: np.ndarray) -> np.ndarray:
    """Move ``side``'s mouth corner by ``lift_iod`` (outward, upward), with a Gaussian-weighted warp.

    Parameters
    ----------
    img : (H, W, 3) uint8
        The frame (not modified).
    xy : (478, 2) array
        This frame's landmarks in image px; its eye axis gives the directions
        and its inter-ocular distance the scale, so head roll and distance
        are followed.
    side : {"right", "left"}
    lift_iod : (2,) array
        Outward and upward displacement, inter-ocular distances.

    Returns
    -------
    (H, W, 3) uint8
        A copy with the box around the corner re-rendered.
    """
    iod, towards_left, down = _face_axes(xy)
    outward = towards_left if side == "left" else -towards_left
    return _gaussian_warp(img, xy[MOUTH_CORNER[side]], iod * (lift_iod[0] * outward - lift_iod[1] * down), LIFT_SIGMA_IOD * iod)


def lift_chin(img: np.ndarray, xy: np.ndarray, side: str, lift_iod: float) -> np.ndarray:
    """Move ``side``'s chin pad up by ``lift_iod`` with a Gaussian-weighted warp (see :func:`lift_mouth_corner`)."""
    iod, _, down = _face_axes(xy)
    return _gaussian_warp(img, xy[list(CHIN_R if side == "right" else CHIN_L)].mean(axis=0), -iod * lift_iod * down,
                          CHIN_SIGMA_IOD * iod)


def _face_axes(xy: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Inter-ocular distance (px) and unit vectors towards the subject's left (image-right) and down the face."""
    c_r, c_l = xy[list(EYE_R)].mean(axis=0), xy[list(EYE_L)].mean(axis=0)
    iod = float(np.linalg.norm(c_l - c_r))
    towards_left = (c_l - c_r) / iod
    return iod, towards_left, np.array([-towards_left[1], towards_left[0]])


def _gaussian_warp(img: np.ndarray, center: np.ndarray, lift_px: np.ndarray, sigma: float) -> np.ndarray:
    """``img`` with the box around ``center`` re-rendered through :func:`gaussian_lift_source`."""
    x0, y0, x1, y1 = _box(center[None], 3.0 * sigma + float(np.linalg.norm(lift_px)), img.shape[:2])
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    sx, sy = gaussian_lift_source(xs, ys, center, lift_px, sigma)
    out = img.copy()
    out[y0:y1, x0:x1] = cv2.remap(img, sx.astype(np.float32), sy.astype(np.float32), cv2.INTER_CUBIC,
                                  borderMode=cv2.BORDER_REFLECT101)
    return out


# --- the generator -------------------------------------------------------------------

def _check(side: str, k_oo: float, k_ocul: float, name: str | None, k_chin: float = 0.0) -> None:
    if side not in SIDES:
        raise InputError(f"side must be 'right' or 'left' (the subject's side), not {side!r}")
    for label, k in (("k_oo", k_oo), ("k_ocul", k_ocul), ("k_chin", k_chin)):
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0.0 <= k <= 1.0:
            raise InputError(f"{label} must be a number from 0 to 1, not {k!r}")
    if name is not None and (not name or Path(name).name != name):
        raise InputError(f"name must be a plain file name without folders, not {name!r}")


def _writer_fps(video: Path, t_s: np.ndarray) -> float:
    """The container's frame rate if plausible, else the decoder timestamps' median rate."""
    fps = probe(video).fps_nominal
    if math.isfinite(fps) and 1.0 <= fps <= 1000.0:
        return fps
    dt = float(np.median(np.diff(t_s))) if len(t_s) > 1 else 0.0
    return 1.0 / dt if dt > 0 else 30.0


def synth_from_video(video: str | Path, out_dir: str | Path, side: str, k_oo: float = 0.0, k_ocul: float = 0.0,
                     name: str | None = None, model: str | Path | None = None,
                     track: Track | None = None, k_chin: float = 0.0) -> dict[str, Path]:
    """Add a known one-sided synkinesis to a real video of a healthy person.

    Parameters
    ----------
    video : str or Path
        The healthy person's video.
    out_dir : str or Path
        Output directory (created if needed); existing outputs of the same
        name are replaced.
    side : {"right", "left"}
        The affected side (the subject's side: their right eye is image-left).
    k_oo : float
        Oral-ocular coupling, 0..1: the eye's opening narrows by
        ``k_oo x smile_norm(t)``, the person's own smile on a 0..1 scale.
    k_ocul : float
        Ocular-oral coupling, 0..1: the mouth corner moves by ``k_ocul x c(t)``
        (their own eye closure) of its own peak-smile displacement.
    name : str, optional
        Output base name; default ``f"{stem}_{side}_oo{k_oo:g}_ocul{k_ocul:g}"``.
    model : str or Path, optional
        ``face_landmarker.task``; resolved as usual when not given.
    track : Track, optional
        The video's track, when it has been tracked already (any laterality
        but mirror tracks the same way); otherwise the video is tracked here.
    k_chin : float
        Mentalis coupling, 0..1: the chin pad rises by ``k_chin x smile_norm(t)
        x CHIN_LIFT_IOD`` (the CSV then has ``chin_lift_*``, IOD).

    Returns
    -------
    dict of Path
        ``{"video": <name>.mp4, "json": <name>.json, "gt_csv": <name>_gt.csv}``.
        The CSV has one row per frame: ``t``, ``frame``, ``valid``,
        ``smile_norm``, ``eye_closure_own``, and per side ``added_closure_*``
        (the true added narrowing in units of synkan's ``eye_closure``,
        ``k_oo x smile_norm x EAR / EAR_rest`` on the affected side, 0 on the
        other) and ``corner_lift_*`` (IOD).

    Raises
    ------
    InputError
        A missing or unreadable video, no face, or a bad side or k.
    OutputError
        The output directory or video cannot be written.

    Examples
    --------
    >>> paths = synth_from_video("healthy.mp4", "out", "left", k_oo=0.5)  # doctest: +SKIP
    >>> pd.read_csv(paths["gt_csv"])["added_closure_l"].max()  # doctest: +SKIP
    0.47
    """
    _check(side, k_oo, k_ocul, name, k_chin)
    video = Path(video)
    plain = Settings(laterality="plain")
    tr = track if track is not None else track_video(video, plain, model_path=model)
    sig = signals_process(tr, plain)
    s = SIDES[side]
    smile_iod = mouth_driver(sig)
    smile, span, zero = normalised_smile(smile_iod, sig.data["rest"].to_numpy(bool))
    closure_own = np.nan_to_num(np.clip(eye_driver(sig), 0.0, 1.0), nan=0.0)
    # The rendered drop is k x the opening below the lash margin, which lies
    # MARGIN_OFFSET_EW under the mesh contour: as a share of the rest opening
    # (EAR_rest, the unit of eye_closure) that is EAR/EAR_rest - offset/EAR_rest.
    aperture = np.clip(1.0 - sig[f"eye_closure_plain_{s}"] - MARGIN_OFFSET_EW / sig.info["rest"][f"ear_{s}"], 0.0, None)
    valid = tr.valid & np.isfinite(aperture)
    lift_iod, lift_source = peak_smile_lift_iod(smile_iod, sig[f"mouth_lateral_{s}"], sig[f"mouth_vertical_{s}"])
    narrow = np.where(valid, k_oo * smile, 0.0)
    lift = np.where(valid, k_ocul * closure_own, 0.0)
    chin = np.where(valid, k_chin * smile * CHIN_LIFT_IOD, 0.0)
    truth = {"t": tr.t_s, "frame": tr.frame_index, "valid": valid, "smile_norm": smile, "eye_closure_own": closure_own}
    for side_name, suffix in SIDES.items():
        hit = side_name == side
        truth[f"added_closure_{suffix}"] = narrow * np.nan_to_num(aperture) if hit else np.zeros(len(valid))
        # The upward part: what synkan's ocular-oral responder (mouth_vertical) measures.
        truth[f"corner_lift_{suffix}"] = lift * float(lift_iod[1]) if hit else np.zeros(len(valid))
        truth[f"chin_lift_{suffix}"] = chin if hit else np.zeros(len(valid))

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output directory {out}: {exc.strerror or exc}") from None
    name = name or f"{video.stem}_{side}_oo{k_oo:g}_ocul{k_ocul:g}" + (f"_chin{k_chin:g}" if k_chin else "")
    paths = {"video": out / f"{name}.mp4", "json": out / f"{name}.json", "gt_csv": out / f"{name}_gt.csv"}
    fps = _writer_fps(video, tr.t_s)
    row_of = {int(f): k for k, f in enumerate(tr.frame_index)}
    tmp_video = out / f".{name}.part.mp4"  # the container follows the extension
    writer = cv2.VideoWriter(str(tmp_video), cv2.VideoWriter_fourcc(*"mp4v"), fps, (tr.width, tr.height))
    if not writer.isOpened():
        raise OutputError(f"cannot write video {tmp_video}")
    n_frames = 0
    try:
        for frame in iter_frames(video):
            img = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR)
            k = row_of.get(frame.index)
            if k is not None and valid[k]:
                xy = tr.landmarks[k, :, :2].astype(np.float64)
                if narrow[k] > 0:
                    img = lower_upper_lid(img, xy, side, float(narrow[k]))
                if lift[k] > 0:
                    img = lift_mouth_corner(img, xy, side, lift[k] * lift_iod)
                if chin[k] > 0:
                    img = lift_chin(img, xy, side, float(chin[k]))
            writer.write(img)
            n_frames += 1
    finally:
        writer.release()
    os.replace(tmp_video, paths["video"])
    case = {"schema": SCHEMA, "synkan_version": __version__,
            "source": {"path": str(video), "sha256": sha256_file(video)},
            "side": side, "k_oo": k_oo, "k_ocul": k_ocul, "fps": fps, "frames": n_frames,
            "width": tr.width, "height": tr.height, "smile_norm_span_iod": span, "smile_norm_zero_iod": zero,
            "corner_lift_iod": {"outward": float(lift_iod[0]), "upward": float(lift_iod[1]), "source": lift_source},
            "margin_offset_ew": MARGIN_OFFSET_EW,
            "truth": {"affected_side": side, "k_oo": k_oo, "k_ocul": k_ocul}}
    if k_chin:
        case["k_chin"] = case["truth"]["k_chin"] = k_chin
    atomic_write_text(paths["json"], json.dumps(case, indent=2) + "\n")
    table = pd.DataFrame({c: truth[c] for c in GT_COLUMNS + (CHIN_COLUMNS if k_chin else ())})
    atomic_write_text(paths["gt_csv"], table.to_csv(index=False, float_format="%.6f", lineterminator="\n"))
    return paths
