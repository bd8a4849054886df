"""Cheek and chin movement measured in the image, not only by the mesh.

MediaPipe's mesh infers the cheek and chin points from the face's overall
shape: on the synthetic faces a 2 mm one-sided cheek lift during eye closure
moved its cheek points by about 0.3 mm (as with the lids, see
:mod:`synkan.measure.eyelids`). The skin's own texture (pores, freckles, the
nasolabial fold, the lower lip's edge) does move. So during tracking a small
grey patch is cut around each side's cheek and chin points, in face
coordinates (rows run down the face, scaled by the face's size); here each
frame's patch is matched against the person's own rest patch
(``cv2.matchTemplate``, normalised correlation, sub-pixel peak), and the
vertical shift of the texture within the patch, which the mesh missed, is
added to the mesh's own displacement of those points. The chin is matched on
the patch's lower half only (:data:`synkan.config.TEMPLATE_ROWS`): the upper half holds the
lower lip, which the jaw moves in any open-mouth movement.
"""
from __future__ import annotations

import cv2
import numpy as np

from ..config import MIN_TEXTURE_GREY, TEMPLATE_ROWS
from .eyepatch import face_scale_px
from .mesh import CHEEK_L, CHEEK_R, CHIN_L, CHIN_R, EYE_L, EYE_R

REGIONS = ("cheek", "chin")
POINTS = {("cheek", "r"): CHEEK_R, ("cheek", "l"): CHEEK_L, ("chin", "r"): CHIN_R, ("chin", "l"): CHIN_L}
PATCH_PX = 40  # patch side, pixels
PATCH_FS = 0.5  # patch side in face scales (RMS radius of the stable points; ~0.45 IOD, ~27 mm)
TEMPLATE_FRACTION = 0.6  # the rest template is the patch's middle 60%: +/- 20% (~5 mm) of travel is searched
BLUR_SIGMA_PX = 1.0  # tames sensor noise and codec blocks before matching
# A weaker best match (shading, an occluding hand, a laugh reshaping the skin)
# leaves the mesh's value alone. Synthetic skin matches at 0.97-0.99, real
# cheeks and chins mostly at 0.7-0.99 (the six real videos' median per patch).
MIN_MATCH = 0.8
SHADING_SIGMA_PX = 4.0
TEMPLATE_MAX_FRAMES = 256
PATCH_SHAPE = (len(REGIONS) * 2, PATCH_PX, PATCH_PX)
KEYS = tuple((region, side) for region in REGIONS for side in "rl")  # patch order
RAISE_COLUMNS = tuple(f"{region}_raise_{side}" for region, side in KEYS)
PIXEL_RAISE_COLUMNS = tuple(f"{region}_raise_pixel_{side}" for region, side in KEYS)  # the image part alone, in signals.csv


def _axes(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors across (towards the subject's left) and down the face, from the eye centres."""
    across = xy[list(EYE_L)].mean(axis=0) - xy[list(EYE_R)].mean(axis=0)
    across = across / np.linalg.norm(across)
    return across, np.array([-across[1], across[0]])


def extract_region_patches(rgb: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """The cheek and chin patches of one frame, (4, PATCH_PX, PATCH_PX) uint8.

    Order: right cheek, left cheek, right chin, left chin. ``xy`` holds the
    frame's 478 landmarks in its pixels.
    """
    across, down = _axes(xy)
    step = PATCH_FS * float(face_scale_px(xy)) / PATCH_PX
    out = np.empty(PATCH_SHAPE, np.uint8)
    for k, key in enumerate(KEYS):
        center = xy[list(POINTS[key])].mean(axis=0)
        origin = center - (PATCH_PX - 1) / 2 * step * (across + down)
        affine = np.column_stack([across * step, down * step, origin])
        # Warp, then convert only the patch to grey (a whole 1080p frame would cost more).
        colour = cv2.warpAffine(rgb, affine, (PATCH_PX, PATCH_PX), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE)
        out[k] = cv2.cvtColor(colour, cv2.COLOR_RGB2GRAY)
    return out


def _subpixel(c: np.ndarray, k: int) -> float:
    """Offset of a correlation peak from sample ``k`` by a parabola through its neighbours."""
    if 0 < k < len(c) - 1:
        a, b, d = c[k - 1], c[k], c[k + 1]
        denominator = a - 2 * b + d
        if denominator < 0:
            return float(np.clip(0.5 * (a - d) / denominator, -0.5, 0.5))
    return 0.0


def texture_shift_px(patches: np.ndarray, rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upward shift of each patch's texture against the rest template, in patch pixels.

    Parameters
    ----------
    patches : (N, 4, PATCH_PX, PATCH_PX) uint8
    rest : (N,) bool
        Rest frames (their median patch is the template).

    Returns
    -------
    up_px : (N, 4) array
        Upward shift (NaN where the best match is below :data:`MIN_MATCH` or
        on the search's edge).
    match : (N, 4) array
        The best normalised correlation.
    """
    n = len(patches)
    up, match = np.full((n, patches.shape[1]), np.nan), np.full((n, patches.shape[1]), np.nan)
    rows = np.flatnonzero(rest)
    rows = rows[:: max(1, len(rows) // TEMPLATE_MAX_FRAMES)]
    if not len(rows):
        return up, match
    inner = int(round(PATCH_PX * TEMPLATE_FRACTION))
    a = (PATCH_PX - inner) // 2
    blur = lambda x: cv2.GaussianBlur(x.astype(np.float32), (0, 0), BLUR_SIGMA_PX)  # noqa: E731
    for k in range(patches.shape[1]):
        first, last = TEMPLATE_ROWS[KEYS[k][0]]
        top, bottom = a + int(round(first * inner)), a + int(round(last * inner))
        template = blur(np.median(patches[rows, k], axis=0))[top:bottom, a:a + inner]
        fine = template - cv2.GaussianBlur(template, (0, 0), SHADING_SIGMA_PX)
        if fine.std() < MIN_TEXTURE_GREY:
            continue  # smooth (or beauty-filtered) skin: the match would follow shading and noise
        for i in range(n):
            if not patches[i, k].any():
                continue  # no face in this frame
            c = cv2.matchTemplate(blur(patches[i, k]), template, cv2.TM_CCOEFF_NORMED)
            y, x = np.unravel_index(int(np.argmax(c)), c.shape)
            match[i, k] = c[y, x]
            # A peak on the search's edge is a texture the template left behind (a
            # laugh reshaping the cheek), not a measured shift.
            if c[y, x] >= MIN_MATCH and 0 < y < c.shape[0] - 1 and 0 < x < c.shape[1] - 1:
                up[i, k] = -(y + _subpixel(c[:, x], y) - top)  # rows run down the face
    return up, match


def pixel_raise_iod(patches: np.ndarray, rest: np.ndarray, face_scale_iod: float) -> np.ndarray:
    """The texture's upward shift per region and side in IOD, (N, 4) in :data:`RAISE_COLUMNS` order.

    ``face_scale_iod`` is the face scale (RMS radius of the stable points)
    in inter-ocular distances, from the rest shape. NaN where the match failed.
    """
    up, _ = texture_shift_px(patches, rest)
    return up * (PATCH_FS * face_scale_iod / PATCH_PX)
