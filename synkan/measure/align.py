"""Head pose and distance removed: each frame's 3-D similarity fit (Umeyama) to a reference shape.

The fit is made frame by frame, so long videos are fitted in blocks of
:data:`ALIGN_CHUNK_FRAMES`: the float64 working copies then stay a few MB
whatever the length, and the result is the same, bit for bit, as one fit of
all frames at once.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .mesh import STABLE_POINTS

ALIGN_CHUNK_FRAMES = 1024  # frames fitted at once (under 2 MB of float64 per working copy of 69 landmarks)


def fit_block(points: np.ndarray, reference: np.ndarray, subset: tuple[int, ...] = STABLE_POINTS
              ) -> tuple[np.ndarray, np.ndarray]:
    """One block of frames aligned to ``reference`` by a similarity fit of ``subset``, in float64.

    Parameters and returns as :func:`similarity_align` (all three dimensions, one block).
    """
    src = points[:, list(subset)].astype(np.float64)
    dst = reference[list(subset)].astype(np.float64)
    mu_s = src.mean(axis=1, keepdims=True)
    mu_d = dst.mean(axis=0)
    sc, dc = src - mu_s, dst - mu_d
    cov = np.einsum("ki,nkj->nij", dc, sc) / len(subset)
    ok = np.isfinite(cov).all(axis=(1, 2))
    cov[~ok] = np.eye(3)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones((len(points), 3))
    d[:, 2] = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    rotation = u @ (d[:, :, None] * vt)
    # One contiguous reduction per frame: summing over axes (1, 2) takes another
    # path in numpy for a one-frame block, which would make results depend on the blocks.
    var_s = (sc ** 2).reshape(len(sc), -1).sum(axis=1) / len(subset)
    scale = (s * d).sum(axis=1) / np.where(var_s > 0, var_s, np.nan)
    aligned = scale[:, None, None] * np.einsum("nij,npj->npi", rotation, points - mu_s) + mu_d
    aligned[~ok] = np.nan
    rotation[~ok] = np.nan
    return aligned, rotation


def aligned_blocks(points: np.ndarray, reference: np.ndarray, subset: tuple[int, ...] = STABLE_POINTS,
                   chunk: int = ALIGN_CHUNK_FRAMES, columns: list[int] | None = None
                   ) -> Iterator[tuple[slice, np.ndarray, np.ndarray]]:
    """:func:`fit_block` over consecutive blocks of at most ``chunk`` frames: ``(rows, aligned, rotation)``
    each.

    ``columns``, if given, are the landmarks of ``points`` to align, picked
    block by block (no copy of them all); ``reference`` and ``subset`` are
    then numbered as ``columns``.
    """
    for start in range(0, len(points), chunk):
        rows = slice(start, min(start + chunk, len(points)))
        block = points[rows] if columns is None else points[rows][:, columns]
        yield (rows, *fit_block(block, reference, subset))


def similarity_align(points: np.ndarray, reference: np.ndarray, subset: tuple[int, ...] = STABLE_POINTS,
                     chunk: int = ALIGN_CHUNK_FRAMES, columns: list[int] | None = None, dims: int = 3
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Align each frame to ``reference`` by a 3-D similarity fit (Umeyama) of ``subset``.

    Parameters
    ----------
    points : (N, P, 3) array
        Landmarks per frame, any float type (NaN frames stay NaN).
    reference : (P, 3) array
        The target shape.
    subset : tuple of int
        The landmarks fitted (columns of ``points``).
    chunk : int
        Frames fitted at once (bounds the working memory; the result does not depend on it).
    columns : list of int, optional
        Align only these landmarks of ``points`` (``reference`` and ``subset`` then number them).
    dims : {3, 2}
        Keep x, y, z of the aligned landmarks, or only x, y.

    Returns
    -------
    aligned : (N, P, dims) float64
        ``scale * R @ p + t`` for every landmark.
    rotation : (N, 3, 3) float64
        ``R``, the rotation taking each frame to the reference pose.
    """
    aligned = np.empty((len(points), len(reference), dims), np.float64)
    rotation = np.empty((len(points), 3, 3), np.float64)
    for rows, block, block_rotation in aligned_blocks(points, reference, subset, chunk, columns):
        aligned[rows], rotation[rows] = block[..., :dims], block_rotation
    return aligned, rotation


def euler_deg(rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Yaw, pitch, roll (degrees) of the head relative to rest, from frame->rest rotations."""
    head = np.transpose(rotation, (0, 2, 1))  # rest -> frame
    yaw = np.degrees(np.arcsin(np.clip(-head[:, 2, 0], -1, 1)))
    pitch = np.degrees(np.arctan2(head[:, 2, 1], head[:, 2, 2]))
    roll = np.degrees(np.arctan2(head[:, 1, 0], head[:, 0, 0]))
    return yaw, pitch, roll
