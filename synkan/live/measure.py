"""One camera frame measured the way ``synkan analyze`` measures a video frame.

The live path has no measurement of its own: a frame is landmarked by the
tracker's own per-frame step (:class:`synkan.measure.landmarker.FaceFollower`),
its eye patches are cut by :func:`synkan.measure.eyepatch.extract_eye_patches`,
the rest comes from the calibration frames through
:func:`synkan.measure.rest.rest_and_shape` (exactly as ``synkan analyze
--rest START-END`` takes a rest segment), and each frame's signals come from
:func:`synkan.measure.signals.mesh_columns` and
:func:`synkan.measure.eyelids.eye_closure`. Only the low-pass filter of the file
pipeline is missing: it is zero-phase, so it needs the future frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import NoFaceError
from ..measure import eyelids, eyepatch
from ..measure.align import similarity_align
from ..measure.landmarker import FaceFollower, Landmarker
from ..measure.mesh import MOUTH_CORNER_L, MOUTH_CORNER_R, MeshIndex
from ..measure.mirror import gaze_offset
from ..measure.rest import rest_and_shape
from ..measure.signals import SIDES, SIGNAL_POINTS, gaze_deviation, mesh_columns, pixel_rest
from ..measure.video import Frame

USED = list(SIGNAL_POINTS)
# The per-frame signals a live frame reports (names as in signals.csv).
SIGNALS = (
    "eye_closure_r",
    "eye_closure_l",
    "mouth_excursion_r",
    "mouth_excursion_l",
    "mouth_vertical_r",
    "mouth_vertical_l",
    "mouth_narrowing",
    "brow_raise_r",
    "brow_raise_l",
)


@dataclass(frozen=True)
class FaceFrame:
    """One landmarked frame.

    Attributes
    ----------
    t_s : float
        Capture time, seconds.
    landmarks : (478, 3) float32
        Image pixels; NaN without a face.
    patches : (2, rows, columns) uint8
        Both eyes' patches (:func:`synkan.eyepatch.extract_eye_patches`); zero without a face.
    valid : bool
        The patient's face was found.
    """

    t_s: float
    landmarks: np.ndarray
    patches: np.ndarray
    valid: bool


@dataclass(frozen=True)
class LiveRest:
    """The person's own rest, from the calibration frames.

    Attributes
    ----------
    shape : (P, 3) float64
        Rest shape of the :data:`USED` points (the similarity-alignment target).
    aligned : (K, P, 2) float64
        The calibration frames aligned to it: the rest rows of :func:`synkan.signals.mesh_columns`.
    gaze : (2,) float64
        Rest iris position of each eye (eye widths).
    eyes : tuple of LidBands
        Right and left eye at rest (:func:`synkan.measure.eyelids.eye_rest`).
    """

    shape: np.ndarray
    aligned: np.ndarray
    gaze: np.ndarray
    eyes: tuple[eyelids.LidBands, eyelids.LidBands]


@dataclass(frozen=True)
class Measured:
    """One frame's signals and the overlay that shows where they were measured.

    Attributes
    ----------
    values : dict of str to float
        :data:`SIGNALS`, dimensionless (as in signals.csv); NaN where not measurable.
    lids_px : dict of str to (2, K, 2) array
        Per side, the upper and lower lid margins found in the image (pixels).
    corners_px : (2, 2) array
        Right and left mouth corner, image pixels.
    """

    values: dict
    lids_px: dict
    corners_px: np.ndarray


def landmark(landmarker: Landmarker, follower: FaceFollower, rgb: np.ndarray, t_s: float) -> FaceFrame:
    """Landmark one RGB frame (the per-frame step of :func:`synkan.measure.tracking.track_video`)."""
    result, chosen = follower.step(landmarker, Frame(0, t_s, rgb, 1.0))
    h, w = rgb.shape[:2]
    if chosen is None:
        return FaceFrame(
            t_s, np.full((478, 3), np.nan, np.float32), np.zeros((2, *eyepatch.PATCH_SHAPE), np.uint8), False
        )
    face = result.faces[chosen]
    px = face * np.array([w, h, w], np.float32)
    return FaceFrame(
        t_s, px, eyepatch.extract_eye_patches(rgb, face[:, :2] * np.array([w, h], np.float32)), True
    )


def new_follower(landmarker: Landmarker) -> FaceFollower:
    """A fresh face follower: the landmarker forgets the face it tracked, as at the start of a video."""
    landmarker.reset()
    return FaceFollower()


def calibrate(frames: list[FaceFrame]) -> LiveRest:
    """The rest from calibration frames, as the file pipeline takes a user rest segment.

    Raises
    ------
    NoFaceError
        No calibration frame has a face.
    """
    valid = np.array([f.valid for f in frames])
    if not valid.any():
        raise NoFaceError("no face during the calibration")
    landmarks = np.stack([f.landmarks for f in frames])
    patches = np.stack([f.patches for f in frames])
    t = np.array([f.t_s for f in frames])
    ix = MeshIndex(SIGNAL_POINTS)
    rest, shape = rest_and_shape(landmarks, t, valid, ix, (float(t[0]), float(t[-1])))
    aligned, _ = similarity_align(landmarks[rest], shape, ix.stable, columns=USED, dims=2)
    gaze = gaze_offset(landmarks)
    gaze_rest = np.nanmedian(gaze[rest], axis=0)
    _, _, frontal = gaze_deviation(gaze, gaze_rest)
    eye_frames = pixel_rest(rest, frontal)
    eyes = tuple(
        eyelids.eye_rest(landmarks[..., :2], patches[:, k], eye_frames, side) for k, side in enumerate(SIDES)
    )
    return LiveRest(shape, aligned, gaze_rest, eyes)


def measure(rest: LiveRest, frame: FaceFrame) -> Measured:
    """One frame's :data:`SIGNALS` against ``rest``, and its overlay."""
    if not frame.valid:
        return Measured({name: float("nan") for name in SIGNALS}, {}, np.full((2, 2), np.nan))
    ix = MeshIndex(SIGNAL_POINTS)
    landmarks = frame.landmarks[None]
    xy, _ = similarity_align(landmarks, rest.shape, ix.stable, columns=USED, dims=2)
    # The calibration rows go first so that every rest value (median over rest
    # rows) is the one analyze computes from the same rest segment.
    rows = np.concatenate([rest.aligned, xy])
    at_rest = np.r_[np.ones(len(rest.aligned), bool), False]
    cols = mesh_columns(rows, rest.shape[:, :2], at_rest, ix)[0]
    values = {name: float(cols[name][-1]) for name in SIGNALS if name in cols}
    gaze_dev, _, _ = gaze_deviation(gaze_offset(landmarks), rest.gaze)
    lids = {}
    for k, side in enumerate(SIDES):
        closure, _, shifts = eyelids.eye_closure(
            rest.eyes[k],
            landmarks[..., :2],
            frame.patches[None, k],
            side,
            gaze_dev[:, k] * eyepatch.PATCH_PX_PER_EW,
        )
        values[f"eye_closure_{side}"] = float(closure[0])
        lids[side] = lid_lines_px(rest.eyes[k], shifts[0], frame.landmarks[:, :2], side)
    corners = frame.landmarks[[MOUTH_CORNER_R, MOUTH_CORNER_L], :2].astype(float)
    return Measured(values, lids, corners)


def lid_lines_px(at_rest: eyelids.LidBands, shifts: np.ndarray, xy: np.ndarray, side: str) -> np.ndarray:
    """The lid margins as measured: the rest margins moved by the frame's lid shifts, in image pixels.

    Returns
    -------
    (2, K, 2) array
        Upper and lower margin, K points each (the patch columns between the eye's corners).
    """
    columns = np.flatnonzero(np.isfinite(at_rest.rest).all(axis=0))
    affine = eyepatch.patch_affine(xy, side)
    lines = []
    for lid in range(2):
        rows = at_rest.rest[lid, columns] + np.nan_to_num(shifts[lid])
        patch_points = np.column_stack([columns, rows, np.ones(len(columns))])
        lines.append(patch_points @ affine.T)
    return np.stack(lines)
