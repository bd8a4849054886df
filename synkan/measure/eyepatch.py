"""Each eye resampled into a small grey patch in eye coordinates, and the mesh's lid margins in it.

The patch is centred between the eye's corners, ``u`` along the corner axis
(towards image-right), ``v`` perpendicular to it (down the face positive),
at :data:`PATCH_PX_PER_EW` pixels per nominal eye width
(:func:`patch_affine`, :func:`extract_eye_patches`). The scale comes from
the face, not the eye: :data:`EYE_WIDTH_PER_FACE_SCALE` times the spread of
the stable landmarks (forehead, nose, temples). A smile pulls the eye
corners by up to 10% of the eye's width; a patch scaled by the corners would
magnify the eye in a smile and read a narrowing as a widening. The lids are
measured in these patches by :mod:`synkan.measure.eyelids`.
"""

from __future__ import annotations

import cv2
import numpy as np

from .mesh import EYE_L, EYE_R, LOWER_LID, STABLE_POINTS, UPPER_LID

PATCH_PX_PER_EW = 48  # patch pixels per eye width (a 640x480 webcam face has eyes ~45 px wide)
PATCH_U_EW = (-0.7, 0.7)  # patch extent along the corner axis, eye widths from the corners' midpoint
PATCH_V_EW = (-0.55, 0.5)  # extent across it, eye widths from the corner line (down positive)
# Eye width / RMS radius of the stable landmarks, in frontal faces: 0.49-0.58
# (median 0.53) over the six real test videos. It sets only the patch's
# resolution; measurements are relative to each eye's own rest.
EYE_WIDTH_PER_FACE_SCALE = 0.53
PATCH_SHAPE = (
    round((PATCH_V_EW[1] - PATCH_V_EW[0]) * PATCH_PX_PER_EW),
    round((PATCH_U_EW[1] - PATCH_U_EW[0]) * PATCH_PX_PER_EW),
)  # (rows, columns)

# Corners in image-left -> image-right order, per subject side (right eye is image-left).
CORNERS = {"r": (EYE_R[0], EYE_R[3]), "l": (EYE_L[0], EYE_L[3])}

MARGIN_CHUNK_FRAMES = (
    2048  # frames whose mesh lid margins are computed at once (bounds memory on long videos)
)


def face_scale_px(xy: np.ndarray) -> np.ndarray:
    """RMS radius of the stable landmarks (..., 478, 2) about their centroid, in pixels.

    Examples
    --------
    >>> angle = np.linspace(0, 2 * np.pi, len(STABLE_POINTS), endpoint=False)
    >>> xy = np.zeros((478, 2))
    >>> xy[list(STABLE_POINTS)] = 50 * np.column_stack([np.cos(angle), np.sin(angle)])
    >>> round(float(face_scale_px(xy)), 6)
    50.0
    """
    stable = xy[..., list(STABLE_POINTS), :2].astype(np.float64)
    return np.sqrt(((stable - stable.mean(axis=-2, keepdims=True)) ** 2).sum(axis=-1).mean(axis=-1))


def _eye_frames(xy: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each frame's patch origin and one patch column / row step, in image pixels: (..., 2) each."""
    a, b = CORNERS[side]
    left, right = xy[..., a, :2].astype(np.float64), xy[..., b, :2].astype(np.float64)
    axis = right - left
    length = np.linalg.norm(axis, axis=-1, keepdims=True)
    step = (EYE_WIDTH_PER_FACE_SCALE * face_scale_px(xy) / PATCH_PX_PER_EW)[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        ex = axis / length * step
    ey = np.stack([-ex[..., 1], ex[..., 0]], axis=-1)  # image y points down, so this is down the face
    origin = (left + right) / 2 + PATCH_U_EW[0] * PATCH_PX_PER_EW * ex + PATCH_V_EW[0] * PATCH_PX_PER_EW * ey
    return origin, ex, ey


def patch_affine(xy: np.ndarray, side: str) -> np.ndarray:
    """2x3 matrix taking patch pixels (column, row) to image pixels, for one eye of one frame.

    Parameters
    ----------
    xy : (478, 2) array
        The frame's landmarks, in image pixels.
    side : {"r", "l"}
    """
    origin, ex, ey = _eye_frames(xy, side)
    return np.column_stack([ex, ey, origin])


def to_patch(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Image pixels (..., 2) -> patch pixels (column, row) under one eye's ``affine``."""
    inverse = cv2.invertAffineTransform(affine.astype(np.float64))
    return points @ inverse[:, :2].T + inverse[:, 2]


def extract_eye_patches(rgb: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Both eyes' grey patches from one frame.

    Parameters
    ----------
    rgb : (H, W, 3) uint8
        The frame the landmarks were found in.
    xy : (478, 2) array
        Landmarks in that frame's pixels.

    Returns
    -------
    (2, rows, columns) uint8
        Subject's right eye first, then left (see :data:`PATCH_SHAPE`).
    """
    rows, cols = PATCH_SHAPE
    out = np.empty((2, rows, cols), np.uint8)
    for k, side in enumerate(("r", "l")):
        colour = cv2.warpAffine(
            rgb,
            patch_affine(xy, side),
            (cols, rows),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        out[k] = cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY)
    return out


def lid_margins(landmarks: np.ndarray, side: str, chunk: int = MARGIN_CHUNK_FRAMES) -> np.ndarray:
    """The mesh's upper and lower lid margins in each frame's patch, as a row for every patch column.

    Parameters
    ----------
    landmarks : (N, 478, 2) array
        Image-pixel landmarks.
    side : {"r", "l"}
    chunk : int
        Frames computed at once (bounds the float64 temporaries; the result does not depend on it).

    Returns
    -------
    (N, 2, columns) float32
        Upper and lower margin rows; NaN outside the corners and in frames
        without a face.
    """
    # float32 output: a tenth of a patch pixel is plenty, and a long video's
    # (frames x columns) arrays stay small.
    out = np.empty((len(landmarks), 2, PATCH_SHAPE[1]), np.float32)
    for start in range(0, len(landmarks), chunk):
        out[start : start + chunk] = _lid_margins_block(landmarks[start : start + chunk], side)
    return out


def _lid_margins_block(landmarks: np.ndarray, side: str) -> np.ndarray:
    """:func:`lid_margins` of one block of frames."""
    origin, ex, ey = _eye_frames(landmarks, side)
    length2 = (ex**2).sum(axis=1)[:, None]
    cols = np.arange(PATCH_SHAPE[1], dtype=np.float32)
    out = np.full((len(landmarks), 2, len(cols)), np.nan, np.float32)
    for lid, contour in enumerate((UPPER_LID[side], LOWER_LID[side])):
        d = landmarks[:, list(contour), :2].astype(np.float64) - origin[:, None]
        u = (np.einsum("npk,nk->np", d, ex) / length2).astype(
            np.float32
        )  # (N, points): patch column of each point
        v = (np.einsum("npk,nk->np", d, ey) / length2).astype(np.float32)
        # Piecewise-linear through the contour (corner to corner), segment by segment, all frames at once.
        for p in range(u.shape[1] - 1):
            u0, u1, v0, v1 = u[:, p : p + 1], u[:, p + 1 : p + 2], v[:, p : p + 1], v[:, p + 1 : p + 2]
            with np.errstate(invalid="ignore", divide="ignore"):
                w = (cols[None] - u0) / (u1 - u0)
                inside = (w >= 0) & (w <= 1) & (u1 > u0)
                w *= v1 - v0
                w += v0
            np.copyto(out[:, lid], w, where=inside)
    return out
