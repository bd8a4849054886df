"""Hemiface eye-band mirroring, so a one-sided eye narrowing stays one-sided.

MediaPipe's mesh has a symmetric prior: when one eye narrows it under-reads
it and leaks part of it onto the other eye. Here each side's eye region is
mirrored across the fitted facial midline, making a face whose two eyes are
both that side's eye; the landmarker then has no healthy eye to pull toward.
Only a horizontal band around the eyes is replaced (full-face mirroring
creates false asymmetry elsewhere), with soft edges.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .config import BROW_L, BROW_R, EYE_L, EYE_R, MIDLINE_POINTS

BAND_ABOVE_BROW_EW = 0.4  # band top, eye widths above the brows
BAND_BELOW_LID_EW = 0.9  # band bottom, eye widths below the lower lids...
BAND_FLOOR_POINT = 195  # ...but never below this nose point
BAND_FADE_EW = 0.25  # soft transition at the band's top and bottom
MIDLINE_FADE_EW = 0.1  # soft transition across the midline


@dataclass(frozen=True)
class Midline:
    """The facial midline in image pixels: ``point`` + s * ``direction`` (pointing down the face)."""

    point: np.ndarray
    direction: np.ndarray
    eye_width_px: float
    residual: float  # RMS distance of midline landmarks from the line, in eye widths


def eye_width_px(xy: np.ndarray) -> float:
    """Mean of both eyes' corner-to-corner widths, in pixels."""
    return float((np.linalg.norm(xy[EYE_R[0]] - xy[EYE_R[3]]) + np.linalg.norm(xy[EYE_L[0]] - xy[EYE_L[3]])) / 2)


def fit_midline(xy: np.ndarray) -> Midline:
    """Total-least-squares line through the midline landmarks of one face.

    Parameters
    ----------
    xy : (478, 2) array
        Landmark pixel coordinates of one frame.
    """
    points = xy[list(MIDLINE_POINTS)].astype(np.float64)
    center = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - center, full_matrices=False)
    direction = vt[0] if vt[0][1] >= 0 else -vt[0]
    normal = np.array([-direction[1], direction[0]])
    width = eye_width_px(xy)
    residual = float(np.sqrt(np.mean(((points - center) @ normal) ** 2)) / max(width, 1e-6))
    return Midline(center, direction, width, residual)


def reflection_matrix(midline: Midline) -> np.ndarray:
    """2x3 affine matrix reflecting image points across the midline."""
    d = midline.direction
    rotation = 2.0 * np.outer(d, d) - np.eye(2)
    return np.hstack([rotation, (midline.point - rotation @ midline.point)[:, None]])


def eye_band_composite(rgb: np.ndarray, xy: np.ndarray, midline: Midline, side: str) -> np.ndarray:
    """A frame whose eye band shows ``side``'s half of the face on both halves.

    Parameters
    ----------
    rgb : (H, W, 3) uint8
        The frame.
    xy : (478, 2) array
        The face's landmarks in this frame's pixels.
    midline : Midline
        From :func:`fit_midline`.
    side : {"right", "left"}
        The subject's side to keep; it is mirrored onto the other side.

    Returns
    -------
    (H, W, 3) uint8
        A copy of ``rgb`` with the eye band replaced.
    """
    ew = midline.eye_width_px
    d = midline.direction
    n = np.array([-d[1], d[0]])  # points to image-right: the subject's left
    along = lambda idx: float((xy[idx] - midline.point) @ d)  # noqa: E731  (position down the face)
    top = min(along(i) for i in BROW_R + BROW_L) - BAND_ABOVE_BROW_EW * ew
    lower_lids = max(along(i) for i in (EYE_R[4], EYE_R[5], EYE_L[4], EYE_L[5]))
    bottom = min(lower_lids + BAND_BELOW_LID_EW * ew, along(BAND_FLOOR_POINT))
    # Work only on the bounding box of the band, for speed.
    h, w = rgb.shape[:2]
    half_width = 0.5 * (np.ptp(xy[:, 0]) + np.ptp(xy[:, 1])) + ew
    corners = np.array([midline.point + s * d + t * n for s in (top - ew, bottom + ew) for t in (-half_width, half_width)])
    x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int), 0, [w, h])
    x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 1, 0, [w, h])
    out = rgb.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    # Box pixel -> frame pixel -> its reflection (a reflection is its own inverse);
    # source pixels may lie anywhere in the frame.
    box_to_frame = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    sample_at = reflection_matrix(midline) @ box_to_frame
    reflected = cv2.warpAffine(rgb, sample_at, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)
    gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    rel_x, rel_y = gx - midline.point[0], gy - midline.point[1]
    s = rel_x * d[0] + rel_y * d[1]
    t = rel_x * n[0] + rel_y * n[1]
    fade = BAND_FADE_EW * ew
    band = np.clip((s - top) / fade + 0.5, 0, 1) * np.clip((bottom - s) / fade + 0.5, 0, 1)
    # Replace the half opposite to the kept side: subject's left (t > 0) when keeping the right.
    sign = 1.0 if side == "right" else -1.0
    half = np.clip(sign * t / (MIDLINE_FADE_EW * ew) + 0.5, 0, 1)
    weight = (band * half)[..., None]
    roi = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = (roi + weight * (reflected.astype(np.float32) - roi) + 0.5).astype(np.uint8)
    return out
