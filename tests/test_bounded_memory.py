"""Long videos are processed in blocks of frames, and written without copies, to bound memory: neither may
change
any number or byte."""
from __future__ import annotations

import io
import zipfile

import numpy as np

from synkan._util.npz import write_npz
from synkan.measure import eyepatch
from synkan.measure.align import similarity_align
from synkan.measure.mesh import STABLE_POINTS

N_FRAMES = 157  # not a multiple of the block sizes below: the last block is short


def _moving_faces(rng: np.random.Generator, n: int = N_FRAMES) -> np.ndarray:
    """(n, 478, 3) float32 landmarks: one face rotated, scaled and shifted per frame, some frames without a
    face."""
    face = rng.normal(0, 60, (478, 3))
    angles = rng.uniform(-0.3, 0.3, (n, 3))
    frames = []
    for a, b, c in angles:
        rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
        frames.append((1 + 0.2 * c) * face @ (rz @ ry).T + rng.normal(300, 40, 3) + rng.normal(0, 1.5, face.shape))
    points = np.asarray(frames, np.float32)
    points[[3, 50, 51, 156]] = np.nan
    return points


def _face_with_eyes(rng: np.random.Generator, n: int = N_FRAMES) -> np.ndarray:
    """(n, 478, 2) image-pixel landmarks whose eye corners and lid contours are eye-shaped, with jitter."""
    face = rng.normal(320, 50, (478, 2))
    for side, x0 in (("r", 250.0), ("l", 370.0)):
        a, b = eyepatch.CORNERS[side]
        face[a], face[b] = (x0, 240.0), (x0 + 50.0, 240.0)
        for contour, sign in ((eyepatch.UPPER_LID[side], -1), (eyepatch.LOWER_LID[side], 1)):
            s = np.linspace(0, 1, len(contour))
            face[list(contour)] = np.column_stack([x0 + 50 * s, 240 + sign * 12 * np.sin(np.pi * s)])
    xy = face + rng.normal(0, 0.8, (n, 478, 2))
    xy[[0, 77]] = np.nan
    return xy.astype(np.float32)


def test_similarity_fit_in_blocks_equals_one_fit():
    rng = np.random.default_rng(3)
    points = _moving_faces(rng)
    reference = np.nanmedian(points.astype(np.float64), axis=0)
    whole, whole_rotation = similarity_align(points, reference, chunk=len(points))
    assert np.isfinite(whole[0]).all() and np.isnan(whole[3]).all()
    for chunk in (1, 10, 64):
        aligned, rotation = similarity_align(points, reference, chunk=chunk)
        np.testing.assert_array_equal(aligned, whole)
        np.testing.assert_array_equal(rotation, whole_rotation)
    # float32 landmarks give what their float64 copy gives: the fit is made in float64.
    np.testing.assert_array_equal(similarity_align(points.astype(np.float64), reference)[0], whole)


def test_similarity_fit_of_picked_columns_and_2d_output():
    rng = np.random.default_rng(4)
    points = _moving_faces(rng)
    columns = sorted(set(STABLE_POINTS) | {33, 133, 263, 362, 61, 291})
    subset = tuple(columns.index(i) for i in STABLE_POINTS)
    picked = points[:, columns]
    reference = np.nanmedian(picked.astype(np.float64), axis=0)
    expected, expected_rotation = similarity_align(picked, reference, subset, chunk=len(points))
    xy, rotation = similarity_align(points, reference, subset, chunk=16, columns=columns, dims=2)
    np.testing.assert_array_equal(xy, expected[..., :2])
    np.testing.assert_array_equal(rotation, expected_rotation)


def test_lid_margins_in_blocks_equal_one_block():
    xy = _face_with_eyes(np.random.default_rng(5))
    for side in ("r", "l"):
        whole = eyepatch.lid_margins(xy, side, chunk=len(xy))
        assert np.isfinite(whole[1]).sum() > whole.shape[-1] and np.isnan(whole[0]).all()
        for chunk in (1, 20):
            np.testing.assert_array_equal(eyepatch.lid_margins(xy, side, chunk=chunk), whole)


def test_npz_written_from_the_arrays_is_what_savez_writes():
    rng = np.random.default_rng(6)
    arrays = {"landmarks": rng.normal(size=(40, 478, 3)).astype(np.float32), "valid": rng.random(40) > 0.5,
              "strided": rng.normal(size=(40, 6))[:, ::2], "info": np.array('{"schema": "x", "µ": 1}'),
              "names": np.array(["a", "bc"]), "empty": np.zeros((0, 4), np.uint8)}
    ours, theirs = io.BytesIO(), io.BytesIO()
    write_npz(ours, arrays)
    np.savez(theirs, **arrays)
    with zipfile.ZipFile(ours) as a, zipfile.ZipFile(theirs) as b:
        assert a.namelist() == b.namelist()
        for name in b.namelist():
            assert a.read(name) == b.read(name), name
    ours.seek(0)
    with np.load(ours) as loaded:
        assert loaded["info"].shape == () and str(loaded["info"]) == str(arrays["info"])
