"""Head-pose-free, scale-free per-side signals from a :class:`~synkan.tracking.Track`.

Every frame's landmarks are aligned to the video's rest shape by a 3-D
similarity fit of stable landmarks (forehead, nose bridge, temples; :mod:`synkan.align`), which
removes head pose and distance to the camera and yields yaw, pitch and roll.
All signals are dimensionless and expressed against rest:

``eye_closure_r/l``
    0 at rest, 1 fully closed, negative when wider: the lids' movement as a
    share of the rest opening. By default (``laterality="pixel"``) it is
    measured from the image (:mod:`synkan.eyelids`); the mesh's
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
    :mod:`synkan.regions`, which also gives the millimetre calibration).
``yaw_deg``, ``pitch_deg``, ``roll_deg``
    Head rotation relative to the rest pose.

Columns ending ``_r`` are the subject's right side (image-left).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .config import (
    BROW_L, BROW_R, EYE_L, EYE_R, MAX_ABS_PITCH_DEG, MAX_ABS_ROLL_DEG, MAX_ABS_YAW_DEG, MAX_GAP_S, MOUTH_CORNER_L,
    MIRROR_MAX_ABS_YAW_DEG, MIRROR_MAX_GAZE_EW, EYE_MAX_GAZE_EW, MIRROR_MAX_RESIDUAL_EW, MOUTH_CORNER_R, REST_QUANTILE, STABLE_POINTS,
    TWITCH_MIN_S, Settings,
)
from . import eyelids, mirror, region_pixels, regions
from .align import aligned_blocks, euler_deg, similarity_align
from .tracking import Track

SIDES = ("r", "l")
REFERENCE_MAX_FRAMES = 2000


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
        ``eye_closure_*`` is the one used.
    info : dict
        Rest values, face scale, rest frames, sampling rate, laterality used.
    """

    data: pd.DataFrame
    info: dict = field(default_factory=dict)

    @property
    def t(self) -> np.ndarray:
        return self.data["t"].to_numpy()

    def __getitem__(self, column: str) -> np.ndarray:
        return self.data[column].to_numpy(dtype=float)


# --- geometry ------------------------------------------------------------------

def _finite_median(x: np.ndarray) -> float | None:
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    return float(np.median(x)) if len(x) else None


def _mp_yaw_deg(matrix: np.ndarray) -> np.ndarray:
    """Yaw of MediaPipe's facial transformation matrices (N, 4, 4), degrees (the tracker's mirror gate)."""
    return np.degrees(np.arcsin(np.clip(-matrix[:, 2, 0].astype(float), -1.0, 1.0)))


def eye_aspect_ratio(eye: np.ndarray) -> np.ndarray:
    """EAR = (|p1-p5| + |p2-p4|) / (2 |p0-p3|) over the last-but-one axis.

    Parameters
    ----------
    eye : (..., 6, D) array
        Points p0..p5 in the order of :data:`synkan.config.EYE_R`.

    Examples
    --------
    >>> eye = np.array([[0, 0], [1, -1], [2, -1], [3, 0], [2, 1], [1, 1]], float)
    >>> float(eye_aspect_ratio(eye))
    0.6666666666666666
    """
    dist = lambda a, b: np.linalg.norm(eye[..., a, :] - eye[..., b, :], axis=-1)  # noqa: E731
    return (dist(1, 5) + dist(2, 4)) / (2.0 * dist(0, 3))


def rest_frames(features: np.ndarray, valid: np.ndarray, quantile: float = REST_QUANTILE) -> np.ndarray:
    """Boolean mask of the frames nearest the neutral expression.

    Parameters
    ----------
    features : (N, 4) array
        Right EAR, left EAR, mouth width and mouth-corner elevation per frame.
    valid : (N,) bool

    Notes
    -----
    A patient video may spend more time smiling than at rest, so neither
    the mode nor the median is safe. Instead each feature's neutral value
    follows from physiology: the eyes are open at rest (EAR high: its 75th
    percentile, short of rare widening), the corners are not raised
    (elevation low: its 25th percentile), and the mouth width is the typical
    width among frames with unraised corners. A frame's distance is its
    largest deviation in robust units (MAD); the closest ``quantile`` of
    valid frames are rest frames.
    """
    rows = valid & np.isfinite(features).all(axis=1)
    f = features[rows]
    ear_r, ear_l, width, elevation = f.T
    low_corners = elevation <= np.percentile(elevation, 30)
    target = np.array([np.percentile(ear_r, 75), np.percentile(ear_l, 75), np.median(width[low_corners]),
                       np.percentile(elevation, 25)])
    mad = np.median(np.abs(f - np.median(f, axis=0)), axis=0) + 1e-9
    distance = np.max(np.abs(f - target) / mad, axis=1)
    keep = distance <= np.quantile(distance, quantile)
    mask = np.zeros(len(features), bool)
    mask[np.flatnonzero(rows)[keep]] = True
    return mask


def _rest_features(aligned: np.ndarray, ix=None) -> np.ndarray:
    ix = ix or _Index(range(aligned.shape[1]))
    xy = aligned[..., :2]
    return np.column_stack([
        eye_aspect_ratio(xy[:, list(ix.eye_r)]), eye_aspect_ratio(xy[:, list(ix.eye_l)]),
        np.linalg.norm(xy[:, ix.mouth_r] - xy[:, ix.mouth_l], axis=1),
        -(xy[:, ix.mouth_r, 1] + xy[:, ix.mouth_l, 1]) / 2,  # image y points down
    ])


class _Index:
    """The mesh indices the signals use, renumbered into a subset of the landmarks.

    The signals need about 50 of the 478 landmarks; aligning only those keeps
    the stage fast and its memory a small multiple of the track's.
    """

    USED = tuple(sorted(set(STABLE_POINTS + EYE_R + EYE_L + BROW_R + BROW_L + (MOUTH_CORNER_R, MOUTH_CORNER_L) + regions.POINTS)))

    def __init__(self, points) -> None:
        self.pos = pos = {g: k for k, g in enumerate(points)}
        self.stable = tuple(pos[i] for i in STABLE_POINTS)
        self.eye_r, self.eye_l = tuple(pos[i] for i in EYE_R), tuple(pos[i] for i in EYE_L)
        self.brow_r, self.brow_l = tuple(pos[i] for i in BROW_R), tuple(pos[i] for i in BROW_L)
        self.mouth_r, self.mouth_l = pos[MOUTH_CORNER_R], pos[MOUTH_CORNER_L]


def _median0(a: np.ndarray) -> np.ndarray:
    """Median over axis 0, ignoring NaN (np.nanmedian is ~20x slower on NaN-free data)."""
    return np.median(a, axis=0) if np.isfinite(a).all() else np.nanmedian(a, axis=0)


# --- cleaning --------------------------------------------------------------------

def fill_gaps(t: np.ndarray, x: np.ndarray, max_gap_s: float = MAX_GAP_S) -> np.ndarray:
    """Linearly interpolate NaN runs no longer than ``max_gap_s``; longer runs stay NaN."""
    x = np.asarray(x, float).copy()
    finite = np.isfinite(x)
    if finite.sum() < 2 or finite.all():
        return x
    idx = np.flatnonzero(finite)
    filled = np.interp(t, t[idx], x[idx])
    # Gap length = time between the finite neighbours of each missing sample.
    nxt = np.searchsorted(idx, np.arange(len(x)))
    prev_t = t[idx[np.clip(nxt - 1, 0, len(idx) - 1)]]
    next_t = t[idx[np.clip(nxt, 0, len(idx) - 1)]]
    inside = (nxt > 0) & (nxt < len(idx))
    fill = ~finite & inside & ((next_t - prev_t) <= max_gap_s + 1e-9)
    x[fill] = filled[fill]
    return x


def lowpass(t: np.ndarray, x: np.ndarray, cutoff_hz: float) -> np.ndarray:
    """Zero-phase Butterworth low-pass of each finite run, on a uniform time grid.

    Variable-frame-rate samples are interpolated onto a uniform grid at the
    median frame interval, filtered with ``sosfiltfilt``, and read back at
    their own timestamps. The filter follows the frame rate: when the
    Nyquist frequency is within the band of a blink's twitch
    (:data:`~synkan.config.TWITCH_MIN_S`), or too close to the cut-off to
    shape anything, the samples are returned unfiltered.

    Examples
    --------
    >>> t = np.arange(30) / 15.01  # a 15 frames/s camera: a one-frame twitch survives
    >>> x = np.zeros(30); x[15] = 1.0
    >>> float(lowpass(t, x, 6.0)[15])
    1.0
    """
    x = np.asarray(x, float)
    out = x.copy()
    if len(t) < 4:
        return out
    dt = float(np.median(np.diff(t)))
    fs = 1.0 / dt if dt > 0 else 0.0
    if fs / 2 <= max(1.25 * cutoff_hz, 1.0 / TWITCH_MIN_S):
        return out  # no band above the movements' own to remove
    from scipy import signal as sps  # on first use, after tracking: see synkan.memory

    sos = sps.butter(2, cutoff_hz / (fs / 2), output="sos")
    finite = np.isfinite(x)
    edges = np.flatnonzero(np.diff(np.r_[0, finite.astype(int), 0]))
    for start, stop in zip(edges[::2], edges[1::2]):
        seg_t, seg_x = t[start:stop], x[start:stop]
        grid = np.arange(seg_t[0], seg_t[-1] + dt / 2, dt)
        if len(grid) <= 15:  # too short for filtfilt's padding
            continue
        smooth = sps.sosfiltfilt(sos, np.interp(grid, seg_t, seg_x))
        out[start:stop] = np.interp(seg_t, grid, smooth)
    return out


# --- the stage -------------------------------------------------------------------

def eye_rest_frames(cols: dict[str, np.ndarray], valid: np.ndarray) -> np.ndarray:
    """Each eye's own rest frames (N, 2): :func:`rest_frames` with that eye's opening standing for both eyes'.

    The pixel lids are measured against each eye's rest. Rest frames chosen
    with both eyes' openings would let a narrowing of one eye change the
    other eye's rest, and so its measurement: a leak through the rest frames.
    ``cols`` holds the unfiltered ``eye_closure_plain_*``, ``mouth_narrowing``
    and ``mouth_vertical_*`` columns.
    """
    elevation = (cols["mouth_vertical_r"] + cols["mouth_vertical_l"]) / 2
    width = -cols["mouth_narrowing"]
    # rest_frames compares each feature with its own percentiles in MAD units, so
    # these affine stand-ins for the EAR, the width and the elevation select alike.
    return np.column_stack([rest_frames(np.column_stack([-cols[f"eye_closure_plain_{side}"]] * 2 + [width, elevation]),
                                        valid) for side in SIDES])


def pixel_lids(track: Track, rest: np.ndarray, gaze_dev: np.ndarray, gaze_frontal: np.ndarray,
               user_rest: bool = False) -> tuple[np.ndarray, np.ndarray, dict] | None:
    """The pixel lid measurement of a track (``closure``, ``match``, ``info`` of
    :func:`synkan.eyelids.eyelids_process`), or None without eye patches.

    ``rest`` (N, 2) is each eye's rest (:func:`eye_rest_frames`, or the user's segment).

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
        frontal = rest & gaze_frontal[:, None]
        pixel_rest = np.where(frontal.any(axis=0), frontal, rest)
        return eyelids.eyelids_process(track.landmarks[..., :2], track.eye_patches, pixel_rest, gaze_dev)
    if track.lid_closure is None:
        return None
    if user_rest:
        from .errors import InputError

        raise InputError("a de-identified track keeps its lid measurement, not the eye images: a new rest segment "
                         "needs the video (or use laterality='plain')")
    return track.lid_closure.astype(float), track.lid_match.astype(float), track.meta.get("eyelids")


def _laterality_used(requested: str, track: Track) -> str:
    """The eye measurement a track allows: ``pixel`` needs eye patches (or their stored measurement), ``mirror`` its extra passes."""
    if requested == "pixel" and track.eye_patches is None and track.lid_closure is None:
        return "plain"
    if requested == "mirror" and track.mirror_eyes is None:
        return "plain"
    return requested


def _rest_and_shape(landmarks: np.ndarray, t: np.ndarray, valid: np.ndarray, ix: _Index,
                    rest_s: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """The rest frames (the user's segment, or :func:`rest_frames`) and the rest shape: their median aligned landmarks.

    ``landmarks`` are the track's (N, 478, 3); the rest shape holds the :attr:`_Index.USED` points.
    """
    used = list(_Index.USED)
    # A first reference shape for the rest search: a median over at most
    # REFERENCE_MAX_FRAMES evenly spaced frames is as good as over all of them.
    some = np.flatnonzero(valid)
    reference = _median0(landmarks[np.ix_(some[:: max(1, len(some) // REFERENCE_MAX_FRAMES)], used)].astype(np.float64))
    if rest_s is not None:
        rest = valid & (t >= rest_s[0]) & (t <= rest_s[1])
        if not rest.any():
            from .errors import InputError

            raise InputError(f"rest segment {rest_s[0]}-{rest_s[1]} s holds no frame with a face")
    else:
        # Only the rest features of each block are kept, not the aligned landmarks.
        blocks = aligned_blocks(landmarks, reference, ix.stable, columns=used)
        rest = rest_frames(np.concatenate([_rest_features(block, ix) for _, block, _ in blocks]), valid)
    # The fit is per frame, so aligning only the rest frames gives the same shape.
    return rest, _median0(similarity_align(landmarks[np.ix_(rest, used)], reference, ix.stable)[0])


def _mesh_columns(xy: np.ndarray, rest_xy: np.ndarray, rest: np.ndarray, ix: _Index
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


def signals_process(track: Track, settings: Settings = Settings(), rest_s: tuple[float, float] | None = None) -> Signals:
    """Compute the per-side signals of a track.

    Parameters
    ----------
    track : Track
        Landmarks from :func:`synkan.tracking.track_video` (or ``Track.load``).
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
    ix = _Index(_Index.USED)
    rest, rest_shape = _rest_and_shape(track.landmarks, t, valid, ix, rest_s)
    # Only the points used below, aligned in float64 blocks; only x, y are used.
    xy, rotation = similarity_align(track.landmarks, rest_shape, ix.stable, columns=list(_Index.USED), dims=2)
    yaw, pitch, roll = euler_deg(rotation)
    rest_xy = rest_shape[:, :2]
    cols, rest_values, iod, down = _mesh_columns(xy, rest_xy, rest, ix)
    extra: dict[str, np.ndarray] = {}  # per-frame QC, written unfiltered
    stable = rest_xy[list(ix.stable)]
    face_scale_iod = float(np.sqrt(((stable - stable.mean(axis=0)) ** 2).sum(axis=1).mean())) / iod  # as eyelids.face_scale_px
    # A de-identified track keeps the pixel measurement instead of the skin patches.
    pixel_raise = (track.region_raise if track.region_patches is None
                   else region_pixels.pixel_raise_iod(track.region_patches, rest, face_scale_iod))
    region_cols, region_info = regions.region_signals(xy, rest_xy, rest, iod, down, ix.pos, pixel_raise)
    del xy  # the largest array of the stage: gone before the eyelids' matching
    cols.update(region_cols)
    if pixel_raise is not None:
        extra.update(zip(region_pixels.PIXEL_RAISE_COLUMNS, pixel_raise.T))

    laterality = _laterality_used(settings.laterality, track)
    mirror_used = np.zeros(len(t), bool)
    gate: dict[str, int] = {}
    # Conjugate horizontal gaze relative to rest (mean iris shift, eye widths).
    gaze = mirror.gaze_offset(track.landmarks)  # reads 6 points: no full-track float64 copy
    gaze_dev = gaze - np.nanmedian(gaze[rest], axis=0)
    with np.errstate(invalid="ignore"):
        conjugate_gaze = np.abs(gaze_dev.mean(axis=1))
        # Looking far sideways reshapes both lid fissures, unequally: such
        # frames do not measure involuntary eye narrowing.
        gaze_frontal = ~(conjugate_gaze > EYE_MAX_GAZE_EW)
    for k, side in enumerate(SIDES):
        extra[f"gaze_dev_{side}"] = gaze_dev[:, k]
    extra["gaze_ok"] = gaze_frontal
    eye_rest = np.column_stack([rest, rest]) if rest_s is not None else eye_rest_frames(cols, valid)
    for k, side in enumerate(SIDES):
        extra[f"rest_eye_{side}"] = eye_rest[:, k]
    lids = pixel_lids(track, eye_rest, gaze_dev, gaze_frontal, user_rest=rest_s is not None)
    pixel_info = None
    if lids is not None:
        closure, match, pixel_info = lids
        for k, side in enumerate(SIDES):
            cols[f"eye_closure_pixel_{side}"] = closure[:, k]
            extra[f"lid_match_{side}"] = match[:, k]
    if track.mirror_eyes is not None:
        composites_ok = track.mirror_valid.all(axis=1)
        # Gaze gate: a mirrored eye looks the other way, so when the eyes turn
        # sideways together from their rest position (conjugate gaze c) both
        # composites are cross- or wall-eyed (their vergence is off by +/- c)
        # and their lids are misread; those frames use the plain pass. The
        # vergence part of the gaze survives mirroring and needs no gate.
        with np.errstate(invalid="ignore"):
            gaze_ok = conjugate_gaze <= MIRROR_MAX_GAZE_EW
            residual_ok = track.mirror_residual <= MIRROR_MAX_RESIDUAL_EW
        usable = composites_ok & gaze_ok & residual_ok
        n = len(EYE_R)
        for k, side in enumerate(SIDES):
            eyes = track.mirror_eyes[:, k, :, :2].astype(float)
            # In a side's composite both eyes are that side's eye: average them.
            ear = (eye_aspect_ratio(eyes[:, :n]) + eye_aspect_ratio(eyes[:, n:])) / 2
            ok = track.mirror_valid[:, k]
            base = rest & ok & usable
            ear_rest = float(np.nanmedian(ear[base])) if base.any() else np.nan
            cols[f"eye_closure_mirror_{side}"] = np.where(ok, 1.0 - ear / ear_rest, np.nan)
        extra["mirror_residual"] = track.mirror_residual.astype(float)
        mirror_used = (usable & np.isfinite(cols["eye_closure_mirror_r"]) & np.isfinite(cols["eye_closure_mirror_l"])
                       & (laterality == "mirror"))
        yaw_gated = valid & (np.abs(_mp_yaw_deg(track.pose_matrix)) > MIRROR_MAX_ABS_YAW_DEG)
        gate = {"yaw": int(yaw_gated.sum()),
                "no_face_in_composite": int((valid & ~yaw_gated & ~composites_ok).sum()),
                "gaze": int((valid & composites_ok & ~gaze_ok).sum()),
                "midline_residual": int((valid & composites_ok & gaze_ok & ~residual_ok).sum())}
    for side in SIDES:
        plain = cols[f"eye_closure_plain_{side}"]
        if laterality == "pixel":
            cols[f"eye_closure_{side}"] = cols[f"eye_closure_pixel_{side}"]
        elif laterality == "mirror":
            cols[f"eye_closure_{side}"] = np.where(mirror_used, cols[f"eye_closure_mirror_{side}"], plain)
        else:
            cols[f"eye_closure_{side}"] = plain

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
        "mirror_fraction": float(mirror_used[valid].mean()) if valid.any() else 0.0,
        "mirror_gate": gate,
        "mirror_residual_median": _finite_median(track.mirror_residual[valid]) if track.mirror_residual is not None else None,
        "eyelids": pixel_info,
        "regions": region_info,
    }
    return Signals(data, info)
