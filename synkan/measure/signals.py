"""Head-pose-free, scale-free per-side signals from a :class:`~synkan.measure.tracking.Track`.

Every frame's landmarks are aligned to the video's rest shape by a 3-D
similarity fit of stable landmarks (forehead, nose bridge, temples; :mod:`synkan.measure.align`), which
removes head pose and distance to the camera and yields yaw, pitch and roll.
All signals are dimensionless and expressed against rest:

``eye_closure_r/l``
    0 at rest, 1 fully closed, negative when wider: the lids' movement as a
    share of the rest opening. By default (``laterality="pixel"``) it is
    measured from the image (:mod:`synkan.measure.eyelids`); the mesh's
    ``1 - EAR / EAR_rest`` is kept as ``eye_closure_plain_r/l`` (and the
    mirror estimate as ``eye_closure_mirror_r/l`` in mirror mode).
``mouth_excursion_r/l``
    Mouth-corner displacement from rest, in inter-ocular distances (IOD),
    with its ``mouth_lateral_r/l`` (outward +) and ``mouth_vertical_r/l``
    (upward +) parts.
``mouth_narrowing``
    ``1 - width / width_rest`` (positive in a pucker, negative in a smile).
``brow_raise_r/l``
    Brow height above the eye relative to rest, in IOD.
``cheek_raise_r/l``, ``upper_lip_raise_r/l``, ``chin_raise_r/l``, ``nose_raise_r/l``, ``lip_gap``
    The other facial regions, upward displacement from rest in IOD (see
    :mod:`synkan.measure.regions`, which also gives the millimetre calibration).
``yaw_deg``, ``pitch_deg``, ``roll_deg``
    Head rotation relative to the rest pose.

Columns ending ``_r`` are the subject's right side (image-left).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..config import (
    EYE_CLOSURE_MIN,
    EYE_MAX_GAZE_EW,
    MAX_ABS_PITCH_DEG,
    MAX_ABS_ROLL_DEG,
    MAX_ABS_YAW_DEG,
    Settings,
)
from . import eyelids, mirror, regions, texture
from .align import euler_deg, similarity_align
from .clean import fill_gaps, lowpass
from .mesh import (
    BROW_L,
    BROW_R,
    EYE_L,
    EYE_R,
    MOUTH_CORNER_L,
    MOUTH_CORNER_R,
    STABLE_POINTS,
    MeshIndex,
    eye_aspect_ratio,
)
from .rest import rest_and_shape, rest_frames
from .tracking import Track

SIDES = ("r", "l")
# The units of the signals (Signals.data.attrs["units"]; events.csv's peak_unit).
EYE_UNIT = "share of rest eye opening (0 at rest, 1 shut)"
IOD_UNIT = "IOD (inter-ocular distances)"
MOUTH_WIDTH_UNIT = "share of rest mouth width"
_UNIT_OF = {"t": "s", "frame": "frame index", "mouth_narrowing": MOUTH_WIDTH_UNIT, "lip_gap": IOD_UNIT,
            "mirror_residual": "eye widths",
            **dict.fromkeys(("valid", "rest", "rest_lids", "pose_ok", "mirror_used", "gaze_ok"), "0/1")}
# The other columns' units by the start of their name, first match wins (``eye_closure`` covers its
# pixel, plain and mirror estimates; the mouth corner's parts and every ``*_raise*`` are in IOD).
_UNIT_BY_PREFIX = (("eye_closure", EYE_UNIT), ("mouth_", IOD_UNIT), ("gaze_dev", "eye widths"),
                   ("lid_match", "normalised cross-correlation with rest (1 = same)"))
# The signals need about 50 of the 478 landmarks; aligning only those keeps
# the stage fast and its memory a small multiple of the track's.
SIGNAL_POINTS = tuple(sorted(set(STABLE_POINTS + EYE_R + EYE_L + BROW_R + BROW_L + (MOUTH_CORNER_R, MOUTH_CORNER_L)
                                 + regions.POINTS)))


@dataclass(frozen=True)
class Signals:
    """Per-frame signals (one row per track frame) plus how they were made.

    Attributes
    ----------
    data : pandas.DataFrame
        Columns ``t``, ``valid``, ``rest`` (the frames taken as the rest
        expression), ``pose_ok`` and the signals listed in the module
        docstring; ``eye_closure_pixel_*``, ``eye_closure_plain_*`` and
        ``eye_closure_mirror_*`` keep every eye estimate the track allows,
        ``eye_closure_*`` is the one used. ``attrs["units"]`` names each
        column's unit (:func:`signal_unit`).
    info : dict
        Rest values, face scale, rest frames, sampling rate, laterality used.
    """

    data: pd.DataFrame
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # set on every construction (signals_process, de-identification, rescoring): no Signals without units
        # (a flag column is 0/1 whatever its name)
        self.data.attrs["units"] = {c: "0/1" if self.data[c].dtype == bool else signal_unit(c)
                                    for c in self.data.columns}

    @property
    def t(self) -> np.ndarray:
        return self.data["t"].to_numpy()

    def __getitem__(self, column: str) -> np.ndarray:
        return self.data[column].to_numpy(dtype=float)


# --- geometry ------------------------------------------------------------------

def signal_unit(column: str) -> str:
    """The unit of one column of :attr:`Signals.data`.

    Examples
    --------
    >>> signal_unit("eye_closure_pixel_r"), signal_unit("cheek_raise_l"), signal_unit("yaw_deg")
    ('share of rest eye opening (0 at rest, 1 shut)', 'IOD (inter-ocular distances)', 'deg')
    """
    if column in _UNIT_OF:
        return _UNIT_OF[column]
    if column.endswith("_deg"):
        return "deg"
    if "_raise" in column:
        return IOD_UNIT
    unit = next((u for prefix, u in _UNIT_BY_PREFIX if column.startswith(prefix)), None)
    if unit is None:
        raise KeyError(f"no unit for signal column {column}")
    return unit


def _finite_median(x: np.ndarray) -> float | None:
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else None








# --- the stage -------------------------------------------------------------------

def lid_rest_frames(cols: dict[str, np.ndarray], valid: np.ndarray) -> np.ndarray:
    """The frames the pixel lids are measured against (N,): the mouth at rest, the eyes not shut.

    Rest frames chosen with the eyes' openings (:func:`~synkan.measure.rest.rest_frames`)
    change when one eye narrows, and so do both eyes' templates: a leak from
    one eye's narrowing to the other eye's measurement through the rest frames (and, through
    the mesh's symmetric prior, even a rest chosen per eye leaks). The mouth
    alone chooses instead; frames where both eyes are shut (a blink or a
    closure with the mouth still, mean mesh closure >= ``EYE_CLOSURE_MIN``)
    are left out. ``cols`` holds the unfiltered ``eye_closure_plain_*``,
    ``mouth_narrowing`` and ``mouth_vertical_*`` columns.
    """
    elevation = (cols["mouth_vertical_r"] + cols["mouth_vertical_l"]) / 2
    still_eyes = np.zeros(len(valid))  # constant eye features: rest_frames then ranks by the mouth only
    features = np.column_stack([still_eyes, still_eyes, -cols["mouth_narrowing"], elevation])
    mouth_rest = rest_frames(features, valid)
    with np.errstate(invalid="ignore"):
        shut = (cols["eye_closure_plain_r"] + cols["eye_closure_plain_l"]) / 2 >= EYE_CLOSURE_MIN
    return mouth_rest & ~shut if (mouth_rest & ~shut).any() else mouth_rest


def pixel_lids(track: Track, rest: np.ndarray, gaze_dev: np.ndarray, gaze_frontal: np.ndarray,
               user_rest: bool = False) -> tuple[np.ndarray, np.ndarray, dict] | None:
    """The pixel lid measurement of a track (``closure``, ``match``, ``info`` of
    :func:`synkan.measure.eyelids.eyelids_process`), or None without eye patches.

    A de-identified track holds no eye patches (they are face pixels) but the
    measurement made from them, against the automatic rest frames; that is
    returned as stored.

    Raises
    ------
    InputError
        A user rest segment on a de-identified track: its lids cannot be
        measured again against another rest without the eye images.
    """
    if track.eye_patches is not None:
        patches, rest_eyes = track.eye_patches, pixel_rest(rest, gaze_frontal)
        return eyelids.eyelids_process(track.landmarks[..., :2], patches, rest_eyes, gaze_dev)
    if track.lid_closure is None:
        return None
    if user_rest:
        from ..errors import InputError

        raise InputError("a de-identified track keeps its lid measurement, not the eye images: a new rest segment "
                         "needs the video (or use laterality='plain')")
    return track.lid_closure.astype(float), track.lid_match.astype(float), track.meta.get("eyelids")


def _laterality_used(requested: str, track: Track) -> str:
    """The eye measurement a track allows: ``pixel`` needs eye patches (or their stored measurement),
    ``mirror`` its extra passes."""
    if requested == "pixel" and track.eye_patches is None and track.lid_closure is None:
        return "plain"
    if requested == "mirror" and track.mirror_eyes is None:
        return "plain"
    return requested



def mesh_columns(xy: np.ndarray, rest_xy: np.ndarray, rest: np.ndarray, ix: MeshIndex
                  ) -> tuple[dict[str, np.ndarray], dict[str, float], float, np.ndarray]:
    """Eye (mesh EAR), mouth and brow columns of the aligned landmarks ``xy`` (N, P, 2).

    Returns the columns, their rest values, the inter-ocular distance and the
    face's downward unit vector (both of the rest shape).
    """
    eye_center = lambda pts, idx: pts[..., list(idx), :].mean(axis=-2)  # noqa: E731
    c_r, c_l = eye_center(rest_xy, ix.eye_r), eye_center(rest_xy, ix.eye_l)
    iod = float(np.linalg.norm(c_l - c_r))
    u = (c_l - c_r) / iod  # towards the subject's left (image-right)
    down = np.array([-u[1], u[0]])
    cols: dict[str, np.ndarray] = {}
    rest_values: dict[str, float] = {}
    for side, eye_idx, corner, brow, outward in (("r", ix.eye_r, ix.mouth_r, ix.brow_r, -u), ("l", ix.eye_l, ix.mouth_l, ix.brow_l, u)):
        ear = eye_aspect_ratio(xy[:, list(eye_idx)])
        ear_rest = float(np.nanmedian(ear[rest]))
        cols[f"eye_closure_plain_{side}"] = 1.0 - ear / ear_rest
        rest_values[f"ear_{side}"] = ear_rest
        disp = (xy[:, corner] - rest_xy[corner]) / iod
        cols[f"mouth_lateral_{side}"] = disp @ outward
        cols[f"mouth_vertical_{side}"] = -(disp @ down)
        brow_height = -((eye_center(xy, brow) - eye_center(xy, eye_idx)) @ down) / iod
        cols[f"brow_raise_{side}"] = brow_height - float(np.nanmedian(brow_height[rest]))
    for side in SIDES:
        cols[f"mouth_excursion_{side}"] = np.hypot(cols[f"mouth_lateral_{side}"], cols[f"mouth_vertical_{side}"])
    width = np.linalg.norm(xy[:, ix.mouth_r] - xy[:, ix.mouth_l], axis=1)
    cols["mouth_narrowing"] = 1.0 - width / float(np.nanmedian(width[rest]))
    return cols, rest_values, iod, down


def gaze_deviation(gaze: np.ndarray, gaze_rest: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each eye's horizontal gaze from rest (N, 2), their conjugate mean's size (N,) and the frontal frames
    (N,).

    ``gaze`` (N, 2) is :func:`synkan.measure.mirror.gaze_offset` of each frame and ``gaze_rest`` (2,) its
    rest value, in eye widths. Looking far sideways reshapes both lid fissures, unequally: frames beyond
    :data:`~synkan.config.EYE_MAX_GAZE_EW` do not measure involuntary eye narrowing.
    """
    gaze_dev = gaze - gaze_rest
    with np.errstate(invalid="ignore"):
        conjugate_gaze = np.abs(gaze_dev.mean(axis=1))
        frontal = ~(conjugate_gaze > EYE_MAX_GAZE_EW)
    return gaze_dev, conjugate_gaze, frontal


def _gaze(landmarks: np.ndarray, rest: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`gaze_deviation` of a track's landmarks from their median over the rest frames."""
    gaze = mirror.gaze_offset(landmarks)  # reads 6 points: no full-track float64 copy
    return gaze_deviation(gaze, np.nanmedian(gaze[rest], axis=0))


def pixel_rest(rest: np.ndarray, gaze_frontal: np.ndarray) -> np.ndarray:
    """The rest frames the eye templates come from: the frontal-gaze ones, unless there are none."""
    return rest & gaze_frontal if (rest & gaze_frontal).any() else rest


def _eye_closure(cols: dict[str, np.ndarray], side: str, laterality: str, mirror_used: np.ndarray) -> np.ndarray:
    """The ``eye_closure`` of ``side`` that ``laterality`` selects (the mirror estimate only where usable)."""
    plain = cols[f"eye_closure_plain_{side}"]
    if laterality == "pixel":
        return cols[f"eye_closure_pixel_{side}"]
    if laterality == "mirror":
        return np.where(mirror_used, cols[f"eye_closure_mirror_{side}"], plain)
    return plain


def signals_process(track: Track, settings: Settings = Settings(), rest_s: tuple[float, float] | None = None) -> Signals:
    """Compute the per-side signals of a track.

    Parameters
    ----------
    track : Track
        Landmarks from :func:`synkan.measure.tracking.track_video` (or ``Track.load``).
    settings : Settings
        ``cutoff_hz`` and ``laterality`` apply here.
    rest_s : (float, float), optional
        A rest segment (seconds) given by the user; otherwise rest is the
        most common expression.

    Returns
    -------
    Signals

    Examples
    --------
    >>> track = synkan.Track.load("out/track.npz")  # doctest: +SKIP
    >>> sig = signals_process(track, Settings(cutoff_hz=4))  # doctest: +SKIP
    >>> sig.data[["t", "eye_closure_r", "eye_closure_l"]].head()  # doctest: +SKIP
    """
    t = track.t_s.astype(float)
    valid = track.valid.copy()
    ix = MeshIndex(SIGNAL_POINTS)
    rest, rest_shape = rest_and_shape(track.landmarks, t, valid, ix, rest_s)
    # Only the points used below, aligned in float64 blocks; only x, y are used.
    xy, rotation = similarity_align(track.landmarks, rest_shape, ix.stable, columns=list(SIGNAL_POINTS), dims=2)
    yaw, pitch, roll = euler_deg(rotation)
    rest_xy = rest_shape[:, :2]
    cols, rest_values, iod, down = mesh_columns(xy, rest_xy, rest, ix)
    extra: dict[str, np.ndarray] = {}  # per-frame QC, written unfiltered
    stable = rest_xy[list(ix.stable)]
    face_scale_iod = float(np.sqrt(((stable - stable.mean(axis=0)) ** 2).sum(axis=1).mean())) / iod  # as eyepatch.face_scale_px
    # A de-identified track keeps the pixel measurement instead of the skin patches.
    pixel_raise = (track.region_raise if track.region_patches is None
                   else texture.pixel_raise_iod(track.region_patches, rest, face_scale_iod))
    region_cols, region_info = regions.region_signals(xy, rest_xy, rest, iod, down, ix.pos, pixel_raise)
    del xy  # the largest array of the stage: gone before the eyelids' matching
    cols.update(region_cols)
    if pixel_raise is not None:
        extra.update(zip(texture.PIXEL_RAISE_COLUMNS, pixel_raise.T))

    laterality = _laterality_used(settings.laterality, track)
    mirror_used = np.zeros(len(t), bool)
    gate: dict[str, int] = {}
    gaze_dev, conjugate_gaze, gaze_frontal = _gaze(track.landmarks, rest)
    extra.update({f"gaze_dev_{side}": gaze_dev[:, k] for k, side in enumerate(SIDES)}, gaze_ok=gaze_frontal)
    extra["rest_lids"] = rest if rest_s is not None else lid_rest_frames(cols, valid)
    lids = pixel_lids(track, extra["rest_lids"], gaze_dev, gaze_frontal, user_rest=rest_s is not None)
    pixel_info = None
    if lids is not None:
        closure, match, pixel_info = lids
        cols.update({f"eye_closure_pixel_{side}": closure[:, k] for k, side in enumerate(SIDES)})
        extra.update({f"lid_match_{side}": match[:, k] for k, side in enumerate(SIDES)})
    if track.mirror_eyes is not None:
        mirror_cols, mirror_extra, usable, gate = mirror.mirror_closure(
            track.mirror_eyes, track.mirror_valid, track.mirror_residual, track.pose_matrix, rest, valid, conjugate_gaze)
        cols.update(mirror_cols)
        extra.update(mirror_extra)
        mirror_used = (usable & np.isfinite(cols["eye_closure_mirror_r"]) & np.isfinite(cols["eye_closure_mirror_l"])
                       & (laterality == "mirror"))
    for side in SIDES:
        cols[f"eye_closure_{side}"] = _eye_closure(cols, side, laterality, mirror_used)

    cleaned = {name: lowpass(t, fill_gaps(t, np.where(valid, x, np.nan)), settings.cutoff_hz) for name, x in cols.items()}
    pose_ok = valid & (np.abs(yaw) <= MAX_ABS_YAW_DEG) & (np.abs(pitch) <= MAX_ABS_PITCH_DEG) & (np.abs(roll) <= MAX_ABS_ROLL_DEG)
    order = ["eye_closure_r", "eye_closure_l", "mouth_excursion_r", "mouth_excursion_l", "mouth_lateral_r", "mouth_lateral_l",
             "mouth_vertical_r", "mouth_vertical_l", "mouth_narrowing", "brow_raise_r", "brow_raise_l",
             "eye_closure_plain_r", "eye_closure_plain_l", *region_cols]
    order += [c for c in ("eye_closure_pixel_r", "eye_closure_pixel_l", "eye_closure_mirror_r", "eye_closure_mirror_l") if c in cleaned]
    data = pd.DataFrame({"t": t, "frame": track.frame_index, "valid": valid, "rest": rest, "pose_ok": pose_ok,
                         **{c: cleaned[c] for c in order}, "mirror_used": mirror_used, **extra,
                         "yaw_deg": yaw, "pitch_deg": pitch, "roll_deg": roll})
    dt = np.diff(t)
    info = {
        "rest_frames": int(rest.sum()), "rest_source": "user" if rest_s else "auto", "iod_px": iod,
        "rest": rest_values, "fs_hz": float(1.0 / np.median(dt)) if len(dt) else float("nan"),
        "cutoff_hz": settings.cutoff_hz, "laterality": laterality,
        "mirror_fraction": float(mirror_used[valid].mean()) if valid.any() else 0.0, "mirror_gate": gate,
        "mirror_residual_median": _finite_median(track.mirror_residual[valid]) if track.mirror_residual is not None else None,
        "eyelids": pixel_info,
        "regions": region_info,
    }
    return Signals(data, info)
