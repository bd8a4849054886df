"""Eye aperture from the pixels: the lid margins located in small eye patches.

MediaPipe's mesh has a symmetric prior: on real faces it sees about a third
of a one-sided lid movement and leaks part of it onto the other eye. Here the
mesh only says *where* each eye is (its two corners); the lids themselves are
found in the image.

During tracking each eye is resampled into a small grey patch in eye
coordinates: centred between the eye's corners, ``u`` along the corner axis
(towards image-right), ``v`` perpendicular to it (down the face positive),
at :data:`PATCH_PX_PER_EW` pixels per nominal eye width
(:func:`patch_affine`, :func:`extract_eye_patches`). The scale comes from
the face, not the eye: :data:`EYE_WIDTH_PER_FACE_SCALE` times the spread of
the stable landmarks (forehead, nose, temples). A smile pulls the eye
corners by up to 10% of the eye's width; a patch scaled by the corners would
magnify the eye in a smile and read a narrowing as a widening. The patches are kept in
the :class:`~synkan.measure.tracking.Track`, so the measurement can be redone without
decoding the video again.

After tracking, each eye's rest template (the median patch over the rest
frames) and rest lid margins (the mesh's lid contours at rest, where the mesh
is right) give, for each lid, a band of rows straddling its margin in
:data:`STRIPS` column strips. In every frame each band is searched
vertically for its best normalised cross-correlation with the template
(:func:`lid_shifts`); a lid's shift is the mean of its strips that agree with
their median (:func:`~synkan._util.robust.agreeing_mean`), so a strip crossed
by a glasses rim, a lens reflection or the iris does not drag the lid. ``eye_closure =
(shift_upper - shift_lower) / aperture_rest`` (:func:`closure_from_shifts`)
has the units of the mesh's ``1 - EAR / EAR_rest``: 0 at rest, 1 closed.

Each eye is measured from its own pixels over the lid's whole travel, with no pull towards the mesh's
lids, whose symmetric prior carries part of one eye's narrowing onto the other. Matching against the
rest template means no drift; normalising each band's mean and contrast ignores lighting.
"""
from __future__ import annotations

import warnings

import cv2
import numpy as np

from .._util.robust import agreeing_mean
from .mesh import EYE_L, EYE_R, LOWER_LID, STABLE_POINTS, UPPER_LID

PATCH_PX_PER_EW = 48  # patch pixels per eye width (a 640x480 webcam face has eyes ~45 px wide)
PATCH_U_EW = (-0.7, 0.7)  # patch extent along the corner axis, eye widths from the corners' midpoint
PATCH_V_EW = (-0.55, 0.5)  # extent across it, eye widths from the corner line (down positive)
# Eye width / RMS radius of the stable landmarks, in frontal faces: 0.49-0.58
# (median 0.53) over the six real test videos. It sets only the patch's
# resolution; measurements are relative to each eye's own rest.
EYE_WIDTH_PER_FACE_SCALE = 0.53
PATCH_SHAPE = (round((PATCH_V_EW[1] - PATCH_V_EW[0]) * PATCH_PX_PER_EW),
               round((PATCH_U_EW[1] - PATCH_U_EW[0]) * PATCH_PX_PER_EW))  # (rows, columns)

# Corners in image-left -> image-right order, per subject side (right eye is image-left).
CORNERS = {"r": (EYE_R[0], EYE_R[3]), "l": (EYE_L[0], EYE_L[3])}

STRIPS = 6  # column strips (~5 px) across the open eye: a rim or a reflection crossing one or two is outvoted
# A lid's shift is the mean of the strips within this of their median (eye widths, ~2 px): the median alone
# over-reads a lid dropping more in the middle than at the sides, a plain mean follows the outliers.
STRIP_AGREE_EW = 0.04
STRIP_MIN_OPENING = 0.6  # strips cover columns whose rest opening is >= this share of the widest
BAND_LID_EW = 0.14  # each band reaches this far into the lid from its margin...
BAND_EYE_EW = 0.03  # ...and just into the eyeball: the margin edge, little of the iris (which moves with gaze)
# Shifts searched (eye widths; + is down the face). The upper lid can travel the
# whole fissure (about 0.3 eye widths) down, the lower lid most of it up.
UPPER_SEARCH_EW = (-0.12, 0.45)
LOWER_SEARCH_EW = (-0.45, 0.12)
TEMPLATE_MAX_FRAMES = 256  # rest frames (evenly spaced) in an eye's rest template
BLUR_SIGMA_PX = 0.8  # tames sensor noise and codec blocks before matching
MARGIN_CHUNK_FRAMES = 2048  # frames whose mesh lid margins are computed at once (bounds memory on long videos)
MATCH_CHUNK_FRAMES = 256  # eye patches matched at once (bounds the correlation temporaries)


def face_scale_px(xy: np.ndarray) -> np.ndarray:
    """RMS radius of the stable landmarks (..., 478, 2) about their centroid, in pixels.

    Examples
    --------
    >>> angle = np.linspace(0, 2 * np.pi, len(STABLE_POINTS), endpoint=False)
    >>> xy = np.zeros((478, 2)); xy[list(STABLE_POINTS)] = 50 * np.column_stack([np.cos(angle), np.sin(angle)])
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
        colour = cv2.warpAffine(rgb, patch_affine(xy, side), (cols, rows), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE)
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
        out[start:start + chunk] = _lid_margins_block(landmarks[start:start + chunk], side)
    return out


def _lid_margins_block(landmarks: np.ndarray, side: str) -> np.ndarray:
    """:func:`lid_margins` of one block of frames."""
    origin, ex, ey = _eye_frames(landmarks, side)
    length2 = (ex ** 2).sum(axis=1)[:, None]
    cols = np.arange(PATCH_SHAPE[1], dtype=np.float32)
    out = np.full((len(landmarks), 2, len(cols)), np.nan, np.float32)
    for lid, contour in enumerate((UPPER_LID[side], LOWER_LID[side])):
        d = landmarks[:, list(contour), :2].astype(np.float64) - origin[:, None]
        u = (np.einsum("npk,nk->np", d, ex) / length2).astype(np.float32)  # (N, points): patch column of each point
        v = (np.einsum("npk,nk->np", d, ey) / length2).astype(np.float32)
        # Piecewise-linear through the contour (corner to corner), segment by segment, all frames at once.
        for p in range(u.shape[1] - 1):
            u0, u1, v0, v1 = u[:, p:p + 1], u[:, p + 1:p + 2], v[:, p:p + 1], v[:, p + 1:p + 2]
            with np.errstate(invalid="ignore", divide="ignore"):
                w = (cols[None] - u0) / (u1 - u0)
                inside = (w >= 0) & (w <= 1) & (u1 > u0)
                w *= v1 - v0
                w += v0
            np.copyto(out[:, lid], w, where=inside)
    return out


def _strips(upper: np.ndarray, lower: np.ndarray) -> list[tuple[int, int]]:
    """Column ranges ``[c0, c1)`` of the strips across the open middle of the eye."""
    opening = lower - upper
    wide = np.flatnonzero(np.nan_to_num(opening, nan=0.0) >= STRIP_MIN_OPENING * np.nanmax(opening))
    edges = np.linspace(wide[0], wide[-1] + 1, STRIPS + 1).round().astype(int)
    return [(int(c0), int(c1)) for c0, c1 in zip(edges[:-1], edges[1:]) if c1 > c0]


def _normalise(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit norm over the last two axes (NaN-free, flat bands stay zero)."""
    x = x - x.mean(axis=(-2, -1), keepdims=True)
    norm = np.sqrt((x * x).sum(axis=(-2, -1), keepdims=True))
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 1e-6)


def _band_ncc(stack: np.ndarray, templates: np.ndarray, which: np.ndarray, rows: tuple[int, int], cols: tuple[int, int],
              shifts: np.ndarray) -> np.ndarray:
    """NCC of each frame's template band with its own band shifted by each of ``shifts`` rows: (N, shifts).

    ``templates`` (T, rows, columns) are the candidate templates and
    ``which`` (N,) picks each frame's; the frames' bands are normalised once
    per shift, whatever template they meet.
    """
    (r0, r1), (c0, c1) = rows, cols
    refs = _normalise(templates[:, r0:r1, c0:c1])[which]
    return np.stack([np.einsum("nij,nij->n", _normalise(stack[:, r0 + s:r1 + s, c0:c1]), refs) for s in shifts], axis=1)


def gaze_template(template: np.ndarray, rest: np.ndarray, shift_px: float) -> np.ndarray:
    """The rest template with the eyeball (between the rest margins) moved ``shift_px`` columns sideways.

    When the eyes turn, the iris slides under the lids and the bands that
    straddle the margins change, although the lids did not move. Comparing
    each frame with the rest eye *at that frame's gaze* (the iris shift is
    the mesh's, which tracks the iris well) keeps gaze out of the aperture.
    """
    if shift_px == 0:
        return template
    rows = np.arange(template.shape[0])[:, None]
    upper, lower = np.nan_to_num(rest[0], nan=np.inf), np.nan_to_num(rest[1], nan=-np.inf)
    eyeball = (rows > upper[None]) & (rows < lower[None])
    cols = np.arange(template.shape[1])
    source = np.clip(cols - shift_px, 0, template.shape[1] - 1)
    moved = np.stack([np.interp(source, cols, row) for row in template])
    inside = eyeball & eyeball[:, np.round(source).astype(int)]
    return np.where(inside, moved, template)


def _peak(shifts: np.ndarray, ncc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel argmax of each row (parabola through the peak and its neighbours) and the argmax itself."""
    k = np.argmax(ncc, axis=1)
    rows = np.arange(len(ncc))
    inner = (k > 0) & (k < ncc.shape[1] - 1)
    kk = np.clip(k, 1, ncc.shape[1] - 2)
    a, b, c = ncc[rows, kk - 1], ncc[rows, kk], ncc[rows, kk + 1]
    denominator = a - 2 * b + c
    with np.errstate(invalid="ignore", divide="ignore"):  # flat or -inf neighbours: no refinement
        offset = np.where(inner & (denominator < 0), 0.5 * (a - c) / np.where(denominator < 0, denominator, -1), 0.0)
    offset = np.nan_to_num(offset)
    return shifts[k] + np.clip(offset, -0.5, 0.5), k


def _blur(patches: np.ndarray) -> np.ndarray:
    """Each patch as float32, Gaussian-blurred by :data:`BLUR_SIGMA_PX`."""
    out = np.empty(patches.shape, np.float32)
    for k, p in enumerate(patches):
        out[k] = cv2.GaussianBlur(p.astype(np.float32), (0, 0), BLUR_SIGMA_PX)
    return out


def _mean_over(strips, rows: np.ndarray) -> np.ndarray:
    """Mean of margin rows (..., columns) over the strips' columns."""
    cols = np.concatenate([np.arange(c0, c1) for c0, c1 in strips])
    return np.nanmean(rows[..., cols], axis=-1)


def lid_shifts(patches: np.ndarray, template: np.ndarray, rest: np.ndarray, valid: np.ndarray,
               iris_shift_px: np.ndarray | None = None, chunk: int = MATCH_CHUNK_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's upper- and lower-lid displacement from rest, in patch pixels (down positive).

    Each band is searched over its lid's whole travel (:data:`UPPER_SEARCH_EW`, :data:`LOWER_SEARCH_EW`).

    Parameters
    ----------
    patches : (N, rows, columns) uint8
        One eye's patches (:func:`extract_eye_patches`).
    template : (rows, columns) float
        That eye's rest patch (median over rest frames).
    rest : (2, columns) array
        Upper and lower rest margins (:func:`lid_margins` at rest).
    valid : (N,) bool
        Frames with a face (the others' patches are blank).
    iris_shift_px : (N,) array, optional
        Each frame's sideways iris shift from rest, in patch columns; each
        frame is compared with :func:`gaze_template` at that shift.
    chunk : int
        Frames matched at once (bounds memory on long videos).

    Returns
    -------
    shifts : (N, 2) float
        Upper, lower lid displacement; NaN where ``valid`` is False.
    score : (N, 2) float
        The matches' normalised cross-correlation (1 = identical to rest), median over strips.
    """
    strips = _strips(rest[0], rest[1])
    template = cv2.GaussianBlur(template.astype(np.float32), (0, 0), BLUR_SIGMA_PX)
    shifts, score = np.full((2, len(patches), 2, len(strips)), np.nan)  # (frames, lid, strip) each
    # Half-pixel steps: finer than the iris landmark's own jitter, few templates.
    gaze = np.zeros(len(patches)) if iris_shift_px is None else np.round(2 * np.nan_to_num(iris_shift_px)) / 2
    gazes, which = np.unique(gaze, return_inverse=True)
    templates = np.stack([gaze_template(template, rest, g) for g in gazes])
    plans = [(lid, j, strip, *_search_plan(rest[lid], strip, lid))
             for lid in (0, 1) for j, strip in enumerate(strips)]
    for start in range(0, len(patches), chunk):
        block = _blur(patches[start:start + chunk])
        for lid, j, strip, band, candidates in plans:
            ncc = _band_ncc(block, templates, which[start:start + chunk], band, strip, candidates)
            best, at = _peak(candidates, ncc)
            shifts[start:start + chunk, lid, j] = best
            score[start:start + chunk, lid, j] = ncc[np.arange(len(ncc)), at]
    shifts[~valid], score[~valid] = np.nan, np.nan  # blank patches
    return agreeing_mean(shifts, STRIP_AGREE_EW * PATCH_PX_PER_EW), np.median(score, axis=2)


def _search_plan(margin_rows: np.ndarray, strip: tuple[int, int], lid: int
                 ) -> tuple[tuple[int, int], np.ndarray]:
    """One lid's template band rows ``[r0, r1)`` in one strip, and the shifts (patch rows) searched.

    ``margin_rows`` (columns,) is the lid's rest margin; ``lid`` 0 is the upper lid, 1 the lower.
    """
    top_ew, bottom_ew = (-BAND_LID_EW, BAND_EYE_EW) if lid == 0 else (-BAND_EYE_EW, BAND_LID_EW)
    search_ew = UPPER_SEARCH_EW if lid == 0 else LOWER_SEARCH_EW
    margin = float(_mean_over([strip], margin_rows))
    band = (round(margin + top_ew * PATCH_PX_PER_EW), round(margin + bottom_ew * PATCH_PX_PER_EW) + 1)
    candidates = np.arange(max(int(np.floor(search_ew[0] * PATCH_PX_PER_EW)), -band[0]),
                           min(int(np.ceil(search_ew[1] * PATCH_PX_PER_EW)), PATCH_SHAPE[0] - band[1]) + 1)
    return band, candidates


def closure_from_shifts(shifts: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """``eye_closure`` from lid shifts: ``(upper shift - lower shift) / rest aperture``, clipped to [-1, 1].

    The rest aperture is the mean rest opening over the matched strips.

    Examples
    --------
    >>> rest = np.stack([np.full(PATCH_SHAPE[1], 15.0), np.full(PATCH_SHAPE[1], 30.0)])
    >>> closure_from_shifts(np.array([[3.0, -3.0], [0.0, 0.0]]), rest)
    array([0.4, 0. ])
    """
    return np.clip((shifts[:, 0] - shifts[:, 1]) / rest_aperture_px(rest), -1.0, 1.0)


def rest_aperture_px(rest: np.ndarray) -> float:
    """Mean rest opening (patch pixels) over the matched strips, from the rest margins (2, columns)."""
    return float(_mean_over(_strips(rest[0], rest[1]), rest[1] - rest[0]))


def eyelids_process(landmarks: np.ndarray, patches: np.ndarray, rest: np.ndarray,
                    gaze_ew: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Both eyes' ``eye_closure`` measured from the pixels.

    Parameters
    ----------
    landmarks : (N, 478, 2) array
        Image-pixel landmarks (NaN where there is no face).
    patches : (N, 2, rows, columns) uint8
        The track's eye patches (subject's right eye first).
    rest : (N,) bool
        Rest frames: the templates and the rest margins come from these.
    gaze_ew : (N, 2) array, optional
        Each eye's sideways iris shift from rest, in eye widths
        (:func:`synkan.measure.mirror.gaze_offset` minus its rest value).

    Returns
    -------
    closure : (N, 2) array
        ``eye_closure`` of the subject's right and left eye (NaN without a face).
    score : (N, 2) array
        The weaker lid's match with the rest template (NCC, 1 = as at rest).
    info : dict
        Per side: rest aperture (eye widths) and median match score.
    """
    closure = np.full((len(patches), 2), np.nan)
    score = np.full((len(patches), 2), np.nan)
    info: dict = {}
    for k, side in enumerate(("r", "l")):
        iris = None if gaze_ew is None else gaze_ew[:, k] * PATCH_PX_PER_EW
        closure[:, k], score[:, k], info[side] = _one_eye(landmarks, patches[:, k], rest, side, iris)
    return closure, score, info


def _one_eye(landmarks: np.ndarray, patches: np.ndarray, rest: np.ndarray, side: str, iris_shift_px: np.ndarray | None
             ) -> tuple[np.ndarray, np.ndarray, dict]:
    """One eye's ``eye_closure``, weaker-lid match and info (see :func:`eyelids_process`); ``patches`` (N, rows, columns)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # columns outside the corners are all-NaN
        rest_rows = np.nanmedian(lid_margins(landmarks[rest], side), axis=0)
    valid = np.isfinite(landmarks).all(axis=(1, 2))
    # A few hundred rest frames make a noise-free template; more only cost memory.
    some_rest = np.flatnonzero(rest)[:: max(1, int(rest.sum()) // TEMPLATE_MAX_FRAMES)]
    template = np.median(patches[some_rest].astype(np.float32), axis=0)
    shifts, match = lid_shifts(patches, template, rest_rows, valid, iris_shift_px)
    score = match.min(axis=1)
    info = {"rest_aperture_ew": round(rest_aperture_px(rest_rows) / PATCH_PX_PER_EW, 4),
            "match_median": round(float(np.nanmedian(score)), 3) if np.isfinite(score).any() else None}
    return closure_from_shifts(shifts, rest_rows), score, info
