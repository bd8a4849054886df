"""The rest baseline: which frames show the neutral face, and the face's rest shape.

Every signal is expressed against rest (``eye_closure`` is 0 at rest), so rest
must be found robustly even in a video that spends more time smiling than at
rest (:func:`rest_frames`), or taken from a segment the user names.
"""
from __future__ import annotations

import numpy as np

from ..config import REST_QUANTILE
from ..errors import InputError
from .align import aligned_blocks, similarity_align
from .mesh import MeshIndex, eye_aspect_ratio

REFERENCE_MAX_FRAMES = 2000  # frames in the first reference shape: a median over more changes nothing


def rest_frames(features: np.ndarray, valid: np.ndarray, quantile: float = REST_QUANTILE) -> np.ndarray:
    """Boolean mask of the frames nearest the neutral expression.

    Parameters
    ----------
    features : (N, 4) array
        Right EAR, left EAR, mouth width and mouth-corner elevation per frame.
    valid : (N,) bool

    Notes
    -----
    A patient video may spend more time smiling than at rest, so neither
    the mode nor the median is safe. Instead each feature's neutral value
    follows from physiology: the eyes are open at rest (EAR high: its 75th
    percentile, short of rare widening), the corners are not raised
    (elevation low: its 25th percentile), and the mouth width is the typical
    width among frames with unraised corners. A frame's distance is its
    largest deviation in robust units (MAD); the closest ``quantile`` of
    valid frames are rest frames.
    """
    rows = valid & np.isfinite(features).all(axis=1)
    f = features[rows]
    ear_r, ear_l, width, elevation = f.T
    low_corners = elevation <= np.percentile(elevation, 30)
    target = np.array([np.percentile(ear_r, 75), np.percentile(ear_l, 75), np.median(width[low_corners]),
                       np.percentile(elevation, 25)])
    mad = np.median(np.abs(f - np.median(f, axis=0)), axis=0) + 1e-9
    distance = np.max(np.abs(f - target) / mad, axis=1)
    keep = distance <= np.quantile(distance, quantile)
    mask = np.zeros(len(features), bool)
    mask[np.flatnonzero(rows)[keep]] = True
    return mask


def rest_features(aligned: np.ndarray, ix: MeshIndex | None = None) -> np.ndarray:
    """Per frame (N, 4): right EAR, left EAR, mouth width and mouth-corner elevation (the :func:`rest_frames`
    features)."""
    ix = ix or MeshIndex(range(aligned.shape[1]))
    xy = aligned[..., :2]
    return np.column_stack([
        eye_aspect_ratio(xy[:, list(ix.eye_r)]), eye_aspect_ratio(xy[:, list(ix.eye_l)]),
        np.linalg.norm(xy[:, ix.mouth_r] - xy[:, ix.mouth_l], axis=1),
        -(xy[:, ix.mouth_r, 1] + xy[:, ix.mouth_l, 1]) / 2,  # image y points down
    ])


def median0(a: np.ndarray) -> np.ndarray:
    """Median over axis 0, ignoring NaN (np.nanmedian is ~20x slower on NaN-free data)."""
    return np.median(a, axis=0) if np.isfinite(a).all() else np.nanmedian(a, axis=0)


def rest_and_shape(landmarks: np.ndarray, t: np.ndarray, valid: np.ndarray, ix: MeshIndex,
                    rest_s: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """The rest frames (the user's segment, or :func:`rest_frames`) and the rest shape: their median aligned
    landmarks.

    ``landmarks`` are the track's (N, 478, 3); the rest shape holds ``ix.points``.
    """
    used = list(ix.points)
    if rest_s is not None:
        rest = valid & (t >= rest_s[0]) & (t <= rest_s[1])
        if not rest.any():
            raise InputError(f"rest segment {rest_s[0]}-{rest_s[1]} s holds no frame with a face")
        # The rest frames are their own reference: the rest shape then does not
        # depend on what follows the rest (a live session has not happened yet).
        reference = median0(landmarks[np.ix_(rest, used)].astype(np.float64))
    else:
        # A first reference shape for the rest search: a median over at most
        # REFERENCE_MAX_FRAMES evenly spaced frames is as good as over all of them.
        some = np.flatnonzero(valid)
        reference = median0(landmarks[np.ix_(some[:: max(1, len(some) // REFERENCE_MAX_FRAMES)], used)]
                            .astype(np.float64))
        # Only the rest features of each block are kept, not the aligned landmarks.
        blocks = aligned_blocks(landmarks, reference, ix.stable, columns=used)
        rest = rest_frames(np.concatenate([rest_features(block, ix) for _, block, _ in blocks]), valid)
    # The fit is per frame, so aligning only the rest frames gives the same shape.
    return rest, median0(similarity_align(landmarks[np.ix_(rest, used)], reference, ix.stable)[0])
