"""Two-layer closures of the synthetic face: eyelids over a static eyeball, lips over static teeth.

A closing lid (or lip) is a layer whose margin band moves rigidly down (or
up) over the still image beneath it, while the skin behind the margin
stretches, fading to zero at the brow (or nose). :func:`eye_rig` and
:func:`lips_rig` measure that geometry once per column of the still image;
:func:`layer_offset` turns a closure (0 open, 1 shut) into the source offset
of every pixel for ``cv2.remap``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..measure.mesh import (
    BROW_LOWER,
    LIP_INNER_LOWER,
    LIP_INNER_UPPER,
    LIP_OUTER_LOWER,
    LIP_OUTER_UPPER,
    LOWER_LID,
    UPPER_LID,
)

# Eye contours, outer corner to inner corner (the mesh's lids, reversed for the left eye).
EYE_UPPER = {"right": UPPER_LID["r"], "left": UPPER_LID["l"][::-1]}
EYE_LOWER = {"right": LOWER_LID["r"], "left": LOWER_LID["l"][::-1]}
#: Fraction of the lid gap closed by the upper lid; the lower lid does the rest.
UPPER_LID_SHARE = 0.75
#: Fraction of the lip gap closed by the upper lip (the jaw and lower lip do more).
UPPER_LIP_SHARE = 0.4
#: How far (in mouth widths) the inner-lip margins are pulled onto the lips.
LIP_MARGIN_PULL = 0.02


@dataclass(frozen=True)
class LayerRig:
    """Per-column geometry of a two-layer closure (eyelids, lips), in still pixels.

    Attributes
    ----------
    x0, y0 : int
        Top-left of the eye's working box (columns x0.., rows y0..).
    upper, lower : ndarray
        Upper and lower lid margins per column (y, float); equal outside the eye.
    top : ndarray
        Row where the upper layer's displacement has faded to zero (brow, nose).
    bottom : ndarray
        Row where the lower layer's displacement has faded to zero (cheek, chin).
    band_upper, band_lower : float or ndarray
        Thickness of the rigidly moving bands (lashes, lips), pixels.
    share : float
        Fraction of the gap closed by the upper layer; the lower one does the rest.
    rows : int
        Height of the working box.
    """

    x0: int
    y0: int
    upper: np.ndarray
    lower: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    band_upper: float | np.ndarray
    band_lower: float | np.ndarray
    rows: int
    share: float


def _smooth(y: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing of a 1-D profile (edges replicated), to remove kinks."""
    if sigma <= 0:
        return y
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    return np.convolve(np.pad(y, r, mode="edge"), k, mode="valid")


def eye_rig(lm: np.ndarray, side: str) -> LayerRig:
    """Column-wise lid geometry of one eye from the rest landmarks."""
    up = lm[list(EYE_UPPER[side])]
    lo = lm[list(EYE_LOWER[side])]
    brow = lm[list(BROW_LOWER[side])]
    width = float(np.linalg.norm(up[0] - up[-1]))
    x_lo, x_hi = min(up[:, 0].min(), lo[:, 0].min()), max(up[:, 0].max(), lo[:, 0].max())
    x0 = int(np.floor(x_lo)) - 2
    x1 = int(np.ceil(x_hi)) + 3
    xs = np.arange(x0, x1, dtype=np.float64)

    def profile(pts: np.ndarray) -> np.ndarray:
        order = np.argsort(pts[:, 0])
        return np.interp(xs, pts[order, 0], pts[order, 1])

    upper, lower = profile(up), profile(lo)
    inside = (xs > x_lo) & (xs < x_hi)
    # Outside the corners the lids meet: no aperture, nothing moves.
    mid = 0.5 * (upper + lower)
    upper = np.where(inside, upper, mid)
    lower = np.where(inside, lower, mid)
    upper = _smooth(upper, 0.04 * width)
    lower = _smooth(lower, 0.04 * width)
    lower = np.maximum(lower, upper)
    # The fade zone above the lid ends just below the brow hair.
    brow_y = profile(brow) + 0.06 * width
    brow_y = np.minimum(brow_y, upper - 0.25 * width)
    cheek = lower + 0.45 * width
    y0 = int(np.floor(brow_y.min())) - 1
    y1 = int(np.ceil(cheek.max())) + 2
    # The upper band holds the lashes, which must move rigidly, not stretch.
    return LayerRig(x0=x0, y0=y0, upper=upper, lower=lower, top=brow_y, bottom=cheek,
                    band_upper=0.13 * width, band_lower=0.04 * width, rows=y1 - y0, share=UPPER_LID_SHARE)


def layer_offset(rig: LayerRig, closure: float, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Vertical source offset ``dy`` of the two-layer closure at points (x, y).

    A point at (x, y) of the closed face samples the open face at
    ``(x, y + dy)``. Per column, with gap ``a = lower - upper``:

    * the upper band (lashes, upper lip) moves rigidly down by ``share * c * a``;
      the skin between it and ``top`` is stretched linearly, so its
      displacement fades to zero at the brow (or below the nose);
    * the lower band moves up by the rest of the gap, the skin below it
      stretched down to ``bottom``;
    * between the two bands the static base (eyeball, teeth) shows unchanged
      (``dy = 0``): it is simply covered as the bands advance over it.

    At ``c = 1`` the two bands meet and none of the base is visible. The
    offset is evaluated at each point's exact (sub-pixel) position rather
    than interpolated from a raster: interpolating across the band edges
    would sample the base in between and leave a hairline of teeth or eyeball.
    """
    c = float(np.clip(closure, 0.0, 1.0))
    cols = np.arange(len(rig.upper), dtype=np.float64) + rig.x0

    def at(profile: np.ndarray | float) -> np.ndarray | float:
        return np.interp(x, cols, profile) if isinstance(profile, np.ndarray) else profile

    upper, lower, top, bot = at(rig.upper), at(rig.lower), at(rig.top), at(rig.bottom)
    bu, bl = at(rig.band_upper), at(rig.band_lower)
    ys = y.astype(np.float64)
    # Close a little past the gap (<= 1.5 px, none at the corners) so that
    # the bands overlap and no base shows between closed lids or lips.
    gap = lower - upper
    gap = gap + np.minimum(gap, 1.5)
    d_up = rig.share * c * gap
    d_lo = (1.0 - rig.share) * c * gap
    up_new = upper + d_up  # new upper margin (bottom of the upper band)
    lo_new = lower - d_lo
    dy = np.zeros_like(ys)
    # Upper skin stretch: rows top..up_new-bu sample top..upper-bu.
    span_new = np.maximum(up_new - bu - top, 1e-6)
    span_old = upper - bu - top
    stretch = (ys >= top) & (ys < up_new - bu)
    dy = np.where(stretch, (top + (ys - top) * span_old / span_new) - ys, dy)
    dy = np.where((ys >= up_new - bu) & (ys < up_new), -d_up, dy)
    # Lower band moves rigidly; the skin below stretches to the bottom row.
    # Where the bands overlap the upper one is in front.
    dy = np.where((ys >= lo_new) & (ys < lo_new + bl) & (ys >= up_new), d_lo, dy)
    span_new_l = np.maximum(bot - (lo_new + bl), 1e-6)
    span_old_l = bot - (lower + bl)
    stretch_l = (ys >= lo_new + bl) & (ys < bot) & (ys >= up_new)
    dy = np.where(stretch_l, (bot - (bot - ys) * span_old_l / span_new_l) - ys, dy)
    return dy.astype(np.float32)


def layer_offset_field(rig: LayerRig, closure: float) -> np.ndarray:
    """:func:`layer_offset` on the integer pixel grid of the rig's box, (rows, cols)."""
    ys, xs = np.mgrid[rig.y0:rig.y0 + rig.rows, rig.x0:rig.x0 + len(rig.upper)]
    return layer_offset(rig, closure, xs.astype(np.float64), ys.astype(np.float64))


def lips_rig(lm: np.ndarray) -> LayerRig:
    """Column-wise geometry of the lips closing over the (static) teeth.

    The rest photo shows teeth in a smile. The lips are the rigid bands (inner
    to outer lip contour); the skin above stretches up to below the nose and
    the skin below down towards the chin, as the eyelids do.
    """
    inner_u, inner_l = lm[list(LIP_INNER_UPPER)], lm[list(LIP_INNER_LOWER)]
    outer_u, outer_l = lm[list(LIP_OUTER_UPPER)], lm[list(LIP_OUTER_LOWER)]
    mw = float(np.linalg.norm(lm[291] - lm[61]))
    x0 = int(np.floor(outer_u[:, 0].min())) - 2
    x1 = int(np.ceil(outer_u[:, 0].max())) + 3
    xs = np.arange(x0, x1, dtype=np.float64)

    def profile(pts: np.ndarray) -> np.ndarray:
        order = np.argsort(pts[:, 0])
        return np.interp(xs, pts[order, 0], pts[order, 1])

    x_lo, x_hi = inner_u[:, 0].min(), inner_u[:, 0].max()
    inside = (xs > x_lo) & (xs < x_hi)
    upper, lower = profile(inner_u), profile(inner_l)
    mid = 0.5 * (upper + lower)
    upper = _smooth(np.where(inside, upper, mid), 0.01 * mw)
    lower = np.maximum(_smooth(np.where(inside, lower, mid), 0.01 * mw), upper)
    # The landmark contours sit slightly inside the teeth; pull the margins
    # onto the lips so the moving lip bands carry no teeth with them.
    pull = np.minimum(0.25 * (lower - upper), LIP_MARGIN_PULL * mw)
    upper, lower = upper - pull, lower + pull
    top_lip, bot_lip = profile(outer_u), profile(outer_l)
    band_u = np.maximum(upper - top_lip, 1.0)
    band_l = np.maximum(bot_lip - lower, 1.0)
    top = top_lip - 0.15 * mw
    bottom = bot_lip + 0.3 * mw
    y0 = int(np.floor(top.min())) - 1
    y1 = int(np.ceil(bottom.max())) + 2
    return LayerRig(x0=x0, y0=y0, upper=upper, lower=lower, top=top, bottom=bottom,
                    band_upper=band_u, band_lower=band_l, rows=y1 - y0, share=UPPER_LIP_SHARE)


