"""De-identified images: only the eye and mouth regions stay visible.

Synkinesis shows in the eyes and the mouth corners, so those are what a
de-identified key frame or overlay keeps; everything else, the rest of the
face included (brow, nose, cheeks, chin, hair, face outline, background), is
replaced by a coarse mosaic that is then blurred, so neither the face nor its
surroundings can be recognised.
"""
from __future__ import annotations

import numpy as np

from ..measure.mesh import EYE_CONTOUR, LIPS_OUTER

# Each eye's window: its contour grown by this share of the eye's width (the
# lids and lashes, not the brow); the mouth's: the outer lips grown by this
# share of the mouth's width (the corners and their lift).
EYE_MARGIN_EW = 0.25
MOUTH_MARGIN_MW = 0.2
# Mosaic cells across the face's width: at 8 a face is a few blobs of colour.
MOSAIC_CELLS_PER_FACE = 8


def _region_mask(shape: tuple[int, int], xy: np.ndarray, contour: tuple[int, ...], margin: float) -> np.ndarray:
    import cv2

    pts = xy[list(contour)]
    pts = pts[np.isfinite(pts).all(axis=1)]
    mask = np.zeros(shape, np.uint8)
    if len(pts) < 3:
        return mask
    hull = cv2.convexHull(np.round(pts).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 255)
    width = float(np.ptp(pts[:, 0]))
    grow = max(1, int(round(margin * width)))
    return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))


def visible_mask(shape: tuple[int, int], xy: np.ndarray) -> np.ndarray:
    """uint8 mask (255: shown) of the eye and mouth regions of one frame's landmarks (image pixels)."""
    mask = _region_mask(shape, xy, LIPS_OUTER, MOUTH_MARGIN_MW)
    for side in ("right", "left"):
        mask |= _region_mask(shape, xy, EYE_CONTOUR[side], EYE_MARGIN_EW)
    return mask


def deidentify_frame(rgb: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """``rgb`` with everything but the eye and mouth regions pixelated beyond recognition.

    Parameters
    ----------
    rgb : (H, W, 3) uint8
    xy : (478, 2) array
        The frame's landmarks in image pixels.

    Returns
    -------
    (H, W, 3) uint8
    """
    import cv2

    h, w = rgb.shape[:2]
    finite = xy[np.isfinite(xy).all(axis=1)]
    face_w = float(np.ptp(finite[:, 0])) if len(finite) else float(w)
    cell = max(4, int(face_w / MOSAIC_CELLS_PER_FACE))
    small = cv2.resize(rgb, (max(1, w // cell), max(1, h // cell)), interpolation=cv2.INTER_AREA)
    mosaic = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    mosaic = cv2.GaussianBlur(mosaic, (0, 0), cell / 2)
    mask = visible_mask((h, w), xy) if len(finite) else np.zeros((h, w), np.uint8)
    soft = cv2.GaussianBlur(mask, (0, 0), 2).astype(np.float32)[..., None] / 255.0
    return (rgb * soft + mosaic * (1 - soft)).astype(np.uint8)
