"""Image warps that add a movement to one frame of a real video: a lid down, a mouth corner or chin up.

Each warp is one ``cv2.remap`` of a small box around the eye or the mouth
corner, so the rest of the image is untouched up to the codec. All take one
frame's (478, 2) MediaPipe landmarks in image pixels, so head roll and
distance are followed.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.interpolate import PchipInterpolator

from ..config import IRIS_DIAMETER_MM
from ..measure import mesh
from ..measure.mesh import (
    BROW_L,
    BROW_R,
    CHIN_L,
    CHIN_R,
    EYE_L,
    EYE_R,
    IRIS_EDGES_L,
    IRIS_EDGES_R,
    MOUTH_CORNER_L,
    MOUTH_CORNER_R,
)

# Lid contours and eye corners of MediaPipe's mesh, keyed by subject side.
UPPER_LID = {"right": mesh.UPPER_LID["r"], "left": mesh.UPPER_LID["l"]}  # corner to corner
LOWER_LID = {"right": mesh.LOWER_LID["r"], "left": mesh.LOWER_LID["l"]}
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

#: Spread of the Gaussian weight around the mouth corner, IOD.
LIFT_SIGMA_IOD = 0.25
#: Fixed-point iterations inverting the corner warp. Each shrinks the error by
#: the warp's largest gradient, 0.61 |lift| / sigma: about 0.5 for a big real
#: smile's displacement (0.2 IOD), so ten leave well under 1% of it.
LIFT_INVERSE_ITERATIONS = 10
CHIN_SIGMA_IOD = 0.15  # the chin pad beside the midline, ~9 mm


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
    iod, towards_left, down = face_axes(xy)
    outward = towards_left if side == "left" else -towards_left
    lift_px = iod * (lift_iod[0] * outward - lift_iod[1] * down)
    return _gaussian_warp(img, xy[MOUTH_CORNER[side]], lift_px, LIFT_SIGMA_IOD * iod)


def lift_chin(img: np.ndarray, xy: np.ndarray, side: str, lift_iod: float) -> np.ndarray:
    """Move ``side``'s chin pad up by ``lift_iod``, Gaussian-weighted (see :func:`lift_mouth_corner`)."""
    iod, _, down = face_axes(xy)
    pad = xy[list(CHIN_R if side == "right" else CHIN_L)].mean(axis=0)
    return _gaussian_warp(img, pad, -iod * lift_iod * down, CHIN_SIGMA_IOD * iod)


def face_axes(xy: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Inter-ocular distance (px, between the eyes' mean points) and unit vectors towards the subject's left
    (image-right) and down the face."""
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


def mm_per_iod(landmarks: np.ndarray, valid: np.ndarray) -> float | None:
    """Millimetres per inter-ocular distance (as :func:`face_axes` measures it), through the iris.

    The visible iris diameter varies little between adults
    (:data:`~synkan.config.IRIS_DIAMETER_MM`); the median over valid frames of
    IOD / iris diameter turns IOD into millimetres.

    Parameters
    ----------
    landmarks : (N, 478, >=2) array
        Image-pixel landmarks (MediaPipe's mesh with irises).
    valid : (N,) bool

    Returns
    -------
    float or None
        None when no valid frame has both irises.
    """
    xy = landmarks[valid][..., :2].astype(np.float64)
    iod = np.linalg.norm(xy[:, list(EYE_L)].mean(axis=1) - xy[:, list(EYE_R)].mean(axis=1), axis=1)
    edges = (IRIS_EDGES_R, IRIS_EDGES_L)
    iris = np.mean([np.linalg.norm(xy[:, a] - xy[:, b], axis=1) for a, b in edges], axis=0)
    ratio = iod / iris
    ratio = ratio[np.isfinite(ratio) & (iris > 0)]
    return float(IRIS_DIAMETER_MM * np.median(ratio)) if ratio.size else None
