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
from numpy.lib.stride_tricks import sliding_window_view

# The patch geometry is eyepatch's; its names stay importable from here.
from .eyepatch import CORNERS as CORNERS, EYE_WIDTH_PER_FACE_SCALE as EYE_WIDTH_PER_FACE_SCALE  # noqa: F401
from .eyepatch import PATCH_PX_PER_EW, PATCH_SHAPE, extract_eye_patches as extract_eye_patches, lid_margins
from .eyepatch import PATCH_U_EW as PATCH_U_EW, PATCH_V_EW as PATCH_V_EW, face_scale_px as face_scale_px
from .eyepatch import patch_affine as patch_affine, to_patch as to_patch
from .mesh import LOWER_LID as LOWER_LID, UPPER_LID as UPPER_LID

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


def _normalise(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit norm over the last two axes (NaN-free, flat bands stay zero)."""
    x = x - x.mean(axis=(-2, -1), keepdims=True)
    norm = np.sqrt((x * x).sum(axis=(-2, -1), keepdims=True))
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 1e-6)


def _band_ncc(stack: np.ndarray, templates: np.ndarray, which: np.ndarray, rows: tuple[int, int], cols: tuple[int, int],
              shifts: np.ndarray) -> np.ndarray:
    """NCC of each frame's template band with its own band shifted by each of ``shifts`` rows: (N, shifts).

    ``shifts`` are increasing whole rows.

    ``templates`` (T, rows, columns) are the candidate templates and
    ``which`` (N,) picks each frame's; the frames' bands are normalised once
    per shift, whatever template they meet.
    """
    (r0, r1), (c0, c1) = rows, cols
    refs = _normalise(templates[:, r0:r1, c0:c1])[which]
    # All shifts at once (N, shifts, band rows, columns): one vectorised pass, not
    # one per shift, which matters for a single live frame as much as for a file.
    lo, hi = int(shifts[0]), int(shifts[-1])
    # (N, rows', columns, band rows): every window of band height, for every shift
    windows = sliding_window_view(stack[:, r0 + lo:r1 + hi, c0:c1], r1 - r0, axis=1)
    bands = np.swapaxes(windows[:, np.asarray(shifts) - lo], -1, -2)
    return np.einsum("nsij,nij->ns", _normalise(bands), refs)


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

    Attributes
    ----------
    template : (rows, columns) float32
        The rest patch, blurred as the frames are.
    rest : (2, columns) array
        The rest margins.
    bands : tuple
        Per lid and strip: ``(lid, strip index, strip columns, band rows, candidate shifts,
        rest margin row)``.
    """

    template: np.ndarray
    rest: np.ndarray
    bands: tuple


def lid_bands(template: np.ndarray, rest: np.ndarray) -> LidBands:
    """The :class:`LidBands` of a rest template and its rest margins (2, columns)."""
    n_rows = PATCH_SHAPE[0]
    lid_px, eye_px = BAND_LID_EW * PATCH_PX_PER_EW, BAND_EYE_EW * PATCH_PX_PER_EW
    bands = []
    for lid, (into_lid, into_eye), search_ew in ((0, (-lid_px, eye_px), UPPER_SEARCH_EW), (1, (-eye_px, lid_px), LOWER_SEARCH_EW)):
        for j, strip in enumerate(_strips(rest[0], rest[1])):
            margin = float(_mean_over([strip], rest[lid]))
            band = (int(round(margin + into_lid)), int(round(margin + into_eye)) + 1)
            candidates = np.arange(max(int(np.floor(search_ew[0] * PATCH_PX_PER_EW)), -band[0]),
                                   min(int(np.ceil(search_ew[1] * PATCH_PX_PER_EW)), n_rows - band[1]) + 1)
            bands.append((lid, j, strip, band, candidates, margin))
    return LidBands(cv2.GaussianBlur(template.astype(np.float32), (0, 0), BLUR_SIGMA_PX), rest, tuple(bands))


def match_lids(plan: LidBands, patches: np.ndarray, mesh: np.ndarray, iris_shift_px: np.ndarray | None = None,
               chunk: int = MATCH_CHUNK_FRAMES) -> tuple[np.ndarray, np.ndarray]:
    """:func:`lid_shifts` with the rest's part made beforehand (:func:`lid_bands`)."""
    n_strips = 1 + max(j for _, j, *_ in plan.bands)
    shifts = np.full((len(patches), 2, n_strips), np.nan)
    score = np.full((len(patches), 2, n_strips), np.nan)
    # Half-pixel steps: finer than the iris landmark's own jitter, few templates.
    gaze = np.zeros(len(patches)) if iris_shift_px is None else np.round(2 * np.nan_to_num(iris_shift_px)) / 2
    gazes, which = np.unique(gaze, return_inverse=True)
    templates = np.stack([gaze_template(plan.template, plan.rest, g) for g in gazes])
    reach = MAX_CORRECTION_EW * PATCH_PX_PER_EW
    sd = PRIOR_SD_EW * PATCH_PX_PER_EW
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # frames without a face: all-NaN means
        # The mesh's lid displacement in each strip: the starting guess per frame.
        guesses = [_mean_over([strip], mesh[:, lid]) - margin for lid, _, strip, _, _, margin in plan.bands]
    for start in range(0, len(patches), chunk):
        block = _blur(patches[start:start + chunk])
        for (lid, j, strip, band, candidates, _), guess in zip(plan.bands, guesses):
            ncc = _band_ncc(block, templates, which[start:start + chunk], band, strip, candidates)
            offset = candidates[None] - guess[start:start + chunk, None]
            with np.errstate(invalid="ignore"):
                allowed = np.abs(offset) <= reach
            found = allowed.any(axis=1)
            penalised = np.where(allowed, ncc - PRIOR_WEIGHT * (offset / sd) ** 2, -np.inf)
            safe = np.where(found[:, None], penalised, 0.0)
            best, at = _peak(candidates, safe)
            shifts[start:start + chunk, lid, j] = np.where(found, best, np.nan)
            score[start:start + chunk, lid, j] = np.where(found, ncc[np.arange(len(ncc)), at], np.nan)
    return shifts.mean(axis=2), score.mean(axis=2)


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


@dataclass(frozen=True)
class EyeRest:
    """One eye at rest, against which every frame's lids are matched.

    Attributes
    ----------
    template : (rows, columns) float32
        The median rest patch.
    margins : (2, columns) float
        The mesh's upper and lower lid margins at rest (median over the rest frames).
    bands : LidBands
        The matching's part that depends on the rest alone.
    """

    template: np.ndarray
    margins: np.ndarray
    bands: LidBands


def eye_rest(landmarks: np.ndarray, patches: np.ndarray, rest: np.ndarray, side: str) -> EyeRest:
    """One eye's :class:`EyeRest` from its rest frames.

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
    template = np.median(patches[some_rest].astype(np.float32), axis=0)
    return EyeRest(template, margins, lid_bands(template, margins))


def eye_closure(at_rest: EyeRest, landmarks: np.ndarray, patches: np.ndarray, side: str,
                iris_shift_px: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One eye's ``eye_closure`` in each frame, matched against its rest.

    Parameters
    ----------
    at_rest : EyeRest
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
    shifts, match = match_lids(at_rest.bands, patches, mesh, iris_shift_px)
    return closure_from_shifts(shifts, at_rest.margins), match.min(axis=1), shifts


def _one_eye(landmarks: np.ndarray, patches: np.ndarray, rest: np.ndarray, side: str,
             iris_shift_px: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, dict]:
    """One eye's ``eye_closure``, weaker-lid match and info (see :func:`eyelids_process`).

    ``patches`` are that eye's (N, rows, columns).
    """
    at_rest = eye_rest(landmarks, patches, rest, side)
    closure, score, _ = eye_closure(at_rest, landmarks, patches, side, iris_shift_px)
    info = {"rest_aperture_ew": round(rest_aperture_px(at_rest.margins) / PATCH_PX_PER_EW, 4),
            "match_median": round(float(np.nanmedian(score)), 3) if np.isfinite(score).any() else None}
    return closure, score, info
