"""Eye aperture from the pixels: the lid margins located in small eye patches.

MediaPipe's mesh has a symmetric prior: on real faces it sees about a third
of a one-sided lid movement and leaks part of it onto the other eye. Here the
mesh only says *where* each eye is (its two corners); the lids themselves are
found in the image.

During tracking each eye is resampled into a small grey patch in eye
coordinates (:mod:`synkan.measure.eyepatch`). The patches are kept in the
:class:`~synkan.measure.tracking.Track`, so the measurement can be redone
without decoding the video again.

After tracking, a rest template (the median patch over the rest frames) and
the rest lid margins (the mesh's lid contours at rest, where the mesh is
right) give, for each lid, a band of rows straddling its margin in a few
column strips across the middle of the eye. In every frame each band is
searched vertically for its best normalised cross-correlation with the
template (:func:`lid_shifts`): the upper lid's shift down and the lower lid's
shift up narrow the fissure. ``eye_closure = (shift_upper - shift_lower) /
aperture_rest`` (:func:`closure_from_shifts`) is in the same units as the
mesh's ``1 - EAR / EAR_rest``: 0 at rest, 1 closed, negative when wider.

Matching against the rest template, not the previous frame, means there is
no drift; normalising each band's mean and contrast makes it insensitive to
lighting changes.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import cv2
import numpy as np

from .eyepatch import PATCH_PX_PER_EW, PATCH_SHAPE, lid_margins

STRIPS = 4  # column strips across the open middle of the eye, matched separately
STRIP_MIN_OPENING = 0.6  # strips cover columns whose rest opening is >= this share of the widest
BAND_LID_EW = 0.14  # each band reaches this far into the lid from its margin...
BAND_EYE_EW = 0.03  # ...and just into the eyeball: the margin edge, little of the iris (which moves with gaze)
# Shifts searched (eye widths; + is down the face). The upper lid can travel the
# whole fissure (about 0.3 eye widths) down, the lower lid most of it up.
UPPER_SEARCH_EW = (-0.12, 0.45)
LOWER_SEARCH_EW = (-0.45, 0.12)
# The mesh's lid displacement is the starting guess: the pixels may correct it by
# up to a whole rest fissure (~0.3 eye widths: a one-sided closure the mesh
# missed entirely), with a soft pull towards the guess for ambiguous images.
MAX_CORRECTION_EW = 0.25
PRIOR_SD_EW = 0.1
PRIOR_WEIGHT = 0.05  # NCC points lost one PRIOR_SD_EW away from the guess
TEMPLATE_MAX_FRAMES = 256  # rest frames (evenly spaced) in an eye's rest template
BLUR_SIGMA_PX = 0.8  # tames sensor noise and codec blocks before matching
MATCH_CHUNK_FRAMES = 256  # eye patches matched at once (bounds the correlation temporaries)


def _strips(upper: np.ndarray, lower: np.ndarray) -> list[tuple[int, int]]:
    """Column ranges ``[c0, c1)`` of the strips across the open middle of the eye."""
    opening = lower - upper
    wide = np.flatnonzero(np.nan_to_num(opening, nan=0.0) >= STRIP_MIN_OPENING * np.nanmax(opening))
    edges = np.linspace(wide[0], wide[-1] + 1, STRIPS + 1).round().astype(int)
    return [(int(c0), int(c1)) for c0, c1 in zip(edges[:-1], edges[1:]) if c1 > c0]


def _masked_normalise(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Zero mean, unit norm over the last two axes, counting only ``mask`` (broadcast); 0 outside it."""
    n = mask.sum(axis=(-2, -1), keepdims=True)
    x = (x - (x * mask).sum(axis=(-2, -1), keepdims=True) / n) * mask
    norm = np.sqrt((x * x).sum(axis=(-2, -1), keepdims=True))
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 1e-6)


def _bands_ncc(stack: np.ndarray, refs: np.ndarray, plan: LidBands) -> np.ndarray:
    """NCC (N, bands, shifts) of every band of every frame, at every candidate shift, with its template band.

    All bands and shifts in one gather (padded to the largest band and
    search; :class:`LidBands` holds the indices and masks): a handful of
    array operations instead of a few dozen per band, which matters for a
    single live frame as much as for a file. ``refs`` (N, bands, rows,
    columns) are each frame's normalised template bands.
    """
    bands = stack[:, plan.rows[..., None], plan.cols[:, None, None, :]]  # (N, B, S, H, W)
    return np.einsum("nbshw,nbhw->nbs", _masked_normalise(bands, plan.mask[:, None]), refs)


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
    """Sub-pixel argmax of each row (parabola through the peak and its neighbours) and the argmax itself.

    ``shifts`` (S,) or (rows, S) are the values at the columns of ``ncc`` (rows, S).
    """
    k = np.argmax(ncc, axis=1)
    rows = np.arange(len(ncc))
    inner = (k > 0) & (k < ncc.shape[1] - 1)
    kk = np.clip(k, 1, ncc.shape[1] - 2)
    a, b, c = ncc[rows, kk - 1], ncc[rows, kk], ncc[rows, kk + 1]
    denominator = a - 2 * b + c
    with np.errstate(invalid="ignore", divide="ignore"):  # flat or -inf neighbours: no refinement
        offset = np.where(inner & (denominator < 0), 0.5 * (a - c) / np.where(denominator < 0, denominator, -1), 0.0)
    offset = np.nan_to_num(offset)
    chosen = shifts[k] if shifts.ndim == 1 else shifts[rows, k]  # one set of shifts, or one per row
    return chosen + np.clip(offset, -0.5, 0.5), k


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


def lid_shifts(patches: np.ndarray, template: np.ndarray, rest: np.ndarray, mesh: np.ndarray,
               iris_shift_px: np.ndarray | None = None, chunk: int = MATCH_CHUNK_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """Each frame's upper- and lower-lid displacement from rest, in patch pixels (down positive).

    The mesh's own displacement of each lid is the starting guess; the
    pixels decide within :data:`MAX_CORRECTION_EW` of it, with a gentle pull
    towards it (:data:`PRIOR_SD_EW`) that only matters when the image is
    ambiguous (a closed eye, motion blur).

    Parameters
    ----------
    patches : (N, rows, columns) uint8
        One eye's patches (:func:`extract_eye_patches`).
    template : (rows, columns) float
        That eye's rest patch (median over rest frames).
    rest : (2, columns) array
        Upper and lower rest margins (:func:`lid_margins` at rest).
    mesh : (N, 2, columns) array
        The mesh's margins in every frame (:func:`lid_margins`).
    iris_shift_px : (N,) array, optional
        Each frame's sideways iris shift from rest, in patch columns; each
        frame is compared with :func:`gaze_template` at that shift.
    chunk : int
        Frames matched at once (bounds memory on long videos).

    Returns
    -------
    shifts : (N, 2) float
        Upper, lower lid displacement; NaN where the mesh has no face.
    score : (N, 2) float
        The matches' normalised cross-correlation (1 = identical to rest).
    """
    return match_lids(lid_bands(template, rest), patches, mesh, iris_shift_px, chunk)


@dataclass(frozen=True)
class LidBands:
    """What the lid matching takes from the rest alone (made once per rest, used for every frame).

    Each lid is matched in a band of rows straddling its rest margin, in each
    column strip; the bands and their candidate shifts are padded to common
    sizes (``mask``, ``valid``) so that all are matched at once.

    Attributes
    ----------
    template : (rows, columns) float32
        The rest patch, blurred as the frames are; ``rest`` (2, columns) the rest margins.
    lid, margin : (B,) int, float
        Each band's lid (0 upper, 1 lower) and rest margin row (mean over its strip).
    columns : (B, columns) bool
        Each band's strip, over the patch's columns.
    rows, rest_rows, cols : (B, S, H), (B, H), (B, W) int
        Patch rows of each band at each candidate shift and unshifted; its columns.
    mask : (B, H, W) float32
        1 on each band's own rows and columns, 0 on the padding.
    shifts, valid : (B, S) float, bool
        Candidate shifts (rows, down positive), and which are the band's own.
    """

    template: np.ndarray
    rest: np.ndarray
    lid: np.ndarray
    margin: np.ndarray
    columns: np.ndarray
    rows: np.ndarray
    rest_rows: np.ndarray
    cols: np.ndarray
    mask: np.ndarray
    shifts: np.ndarray
    valid: np.ndarray


def _band_specs(rest: np.ndarray) -> list[tuple]:
    """Per lid and strip: ``(lid, (c0, c1) columns, (r0, r1) rows, candidate shifts, rest margin row)``."""
    n_rows = PATCH_SHAPE[0]
    lid_px, eye_px = BAND_LID_EW * PATCH_PX_PER_EW, BAND_EYE_EW * PATCH_PX_PER_EW
    specs = []
    for lid, (into_lid, into_eye), search_ew in ((0, (-lid_px, eye_px), UPPER_SEARCH_EW),
                                                 (1, (-eye_px, lid_px), LOWER_SEARCH_EW)):
        for strip in _strips(rest[0], rest[1]):
            margin = float(_mean_over([strip], rest[lid]))
            band = (int(round(margin + into_lid)), int(round(margin + into_eye)) + 1)
            candidates = np.arange(max(int(np.floor(search_ew[0] * PATCH_PX_PER_EW)), -band[0]),
                                   min(int(np.ceil(search_ew[1] * PATCH_PX_PER_EW)), n_rows - band[1]) + 1)
            specs.append((lid, strip, band, candidates, margin))
    return specs


def lid_bands(template: np.ndarray, rest: np.ndarray) -> LidBands:
    """The :class:`LidBands` of a rest template and its rest margins (2, columns)."""
    n_rows, n_cols = PATCH_SHAPE
    specs = _band_specs(rest)
    height = max(r1 - r0 for _, _, (r0, r1), _, _ in specs)
    width = max(c1 - c0 for _, (c0, c1), *_ in specs)
    n_shifts = max(len(c) for *_, c, _ in specs)
    b = len(specs)
    rows, rest_rows = np.zeros((b, n_shifts, height), int), np.zeros((b, height), int)
    cols = np.zeros((b, width), int)
    mask, shifts = np.zeros((b, height, width), np.float32), np.zeros((b, n_shifts))
    valid, columns = np.zeros((b, n_shifts), bool), np.zeros((b, n_cols), bool)
    for k, (_, (c0, c1), (r0, r1), candidates, _) in enumerate(specs):
        h, w, s = r1 - r0, c1 - c0, len(candidates)
        padded = np.r_[candidates, np.full(n_shifts - s, candidates[-1])]  # the padding repeats a real shift
        rows[k] = np.clip(r0 + padded[:, None] + np.arange(height), 0, n_rows - 1)
        rest_rows[k] = np.clip(r0 + np.arange(height), 0, n_rows - 1)
        cols[k] = np.clip(c0 + np.arange(width), 0, n_cols - 1)
        mask[k, :h, :w], shifts[k], valid[k, :s], columns[k, c0:c1] = 1, padded, True, True
    lid, margin = np.array([spec[0] for spec in specs]), np.array([spec[4] for spec in specs])
    blurred = cv2.GaussianBlur(template.astype(np.float32), (0, 0), BLUR_SIGMA_PX)
    return LidBands(blurred, rest, lid, margin, columns, rows, rest_rows, cols, mask, shifts, valid)


def _guesses(plan: LidBands, mesh: np.ndarray) -> np.ndarray:
    """The mesh's displacement of each band's lid from rest (N, B): its margin's mean over the strip."""
    rows = mesh[:, plan.lid]  # (N, B, columns)
    inside = np.isfinite(rows) & plan.columns
    with np.errstate(invalid="ignore", divide="ignore"):  # frames without a face: no guess (NaN)
        return np.where(inside, rows, 0).sum(axis=-1) / inside.sum(axis=-1) - plan.margin


def match_lids(plan: LidBands, patches: np.ndarray, mesh: np.ndarray, iris_shift_px: np.ndarray | None = None,
               chunk: int = MATCH_CHUNK_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """:func:`lid_shifts` with the rest's part made beforehand (:func:`lid_bands`)."""
    # Half-pixel steps: finer than the iris landmark's own jitter, few templates.
    gaze = np.zeros(len(patches)) if iris_shift_px is None else np.round(2 * np.nan_to_num(iris_shift_px)) / 2
    gazes, which = np.unique(gaze, return_inverse=True)
    templates = np.stack([gaze_template(plan.template, plan.rest, g) for g in gazes])
    refs = _masked_normalise(templates[:, plan.rest_rows[..., None], plan.cols[:, None, :]], plan.mask)
    offset = plan.shifts[None] - _guesses(plan, mesh)[..., None]  # (N, B, S): from the mesh's guess
    with np.errstate(invalid="ignore"):
        allowed = (np.abs(offset) <= MAX_CORRECTION_EW * PATCH_PX_PER_EW) & plan.valid
    found = allowed.any(axis=-1)
    shifts, score = np.full(found.shape, np.nan), np.full(found.shape, np.nan)
    for start in range(0, len(patches), chunk):
        rows = slice(start, start + chunk)
        ncc = _bands_ncc(_blur(patches[rows]), refs[which[rows]], plan)
        prior = PRIOR_WEIGHT * (offset[rows] / (PRIOR_SD_EW * PATCH_PX_PER_EW)) ** 2
        safe = np.where(found[rows, :, None], np.where(allowed[rows], ncc - prior, -np.inf), 0.0)
        n, b, s = ncc.shape
        best, at = _peak(np.broadcast_to(plan.shifts, (n, b, s)).reshape(-1, s), safe.reshape(-1, s))
        shifts[rows] = np.where(found[rows], best.reshape(n, b), np.nan)
        picked = np.take_along_axis(ncc.reshape(-1, s), at[:, None], axis=1).reshape(n, b)
        score[rows] = np.where(found[rows], picked, np.nan)
    per_lid = [np.mean(a[:, plan.lid == lid], axis=1) for a in (shifts, score) for lid in (0, 1)]
    return np.stack(per_lid[:2], axis=1), np.stack(per_lid[2:], axis=1)


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
        Rest frames: the template and the rest margins come from these.
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


def eye_rest(landmarks: np.ndarray, patches: np.ndarray, rest: np.ndarray, side: str) -> LidBands:
    """One eye at rest, against which every frame's lids are matched: :class:`LidBands` from its rest frames.

    The template is the median rest patch; the margins, the mesh's lid margins at rest.

    Parameters
    ----------
    landmarks : (N, 478, 2) array
        Image-pixel landmarks.
    patches : (N, rows, columns) uint8
        That eye's patches.
    rest : (N,) bool
        The rest frames.
    side : {"r", "l"}
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # columns outside the corners are all-NaN
        margins = np.nanmedian(lid_margins(landmarks[rest], side), axis=0)
    # A few hundred rest frames make a noise-free template; more only cost memory.
    some_rest = np.flatnonzero(rest)[:: max(1, int(rest.sum()) // TEMPLATE_MAX_FRAMES)]
    return lid_bands(np.median(patches[some_rest].astype(np.float32), axis=0), margins)


def eye_closure(at_rest: LidBands, landmarks: np.ndarray, patches: np.ndarray, side: str,
                iris_shift_px: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One eye's ``eye_closure`` in each frame, matched against its rest.

    Parameters
    ----------
    at_rest : LidBands
        The eye at rest (:func:`eye_rest`).
    landmarks : (N, 478, 2) array
        Image-pixel landmarks (NaN where there is no face).
    patches : (N, rows, columns) uint8
    side : {"r", "l"}
    iris_shift_px : (N,) array, optional
        Sideways iris shift from rest, in patch columns (see :func:`lid_shifts`).

    Returns
    -------
    closure : (N,) array
    score : (N,) array
        The weaker lid's match with the rest template.
    shifts : (N, 2) array
        Upper and lower lid displacement from rest, patch pixels (down positive).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # columns outside the corners are all-NaN
        mesh = lid_margins(landmarks, side)
    shifts, match = match_lids(at_rest, patches, mesh, iris_shift_px)
    return closure_from_shifts(shifts, at_rest.rest), match.min(axis=1), shifts


def _one_eye(landmarks: np.ndarray, patches: np.ndarray, rest: np.ndarray, side: str,
             iris_shift_px: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, dict]:
    """One eye's ``eye_closure``, weaker-lid match and info (see :func:`eyelids_process`).

    ``patches`` are that eye's (N, rows, columns).
    """
    at_rest = eye_rest(landmarks, patches, rest, side)
    closure, score, _ = eye_closure(at_rest, landmarks, patches, side, iris_shift_px)
    info = {"rest_aperture_ew": round(rest_aperture_px(at_rest.rest) / PATCH_PX_PER_EW, 4),
            "match_median": round(float(np.nanmedian(score)), 3) if np.isfinite(score).any() else None}
    return closure, score, info
