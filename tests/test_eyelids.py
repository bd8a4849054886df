"""Eye aperture from the pixels: known lid movements on drawn eyes, and on real frames."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from synkan.measure import eyelids, eyepatch
from synkan.measure.eyelids import closure_from_shifts, lid_shifts
from synkan.measure.eyepatch import PATCH_PX_PER_EW, PATCH_SHAPE, patch_affine, to_patch

ROWS, COLS = PATCH_SHAPE
CORNER_ROW = -eyepatch.PATCH_V_EW[0] * PATCH_PX_PER_EW  # the corner line's row in the patch
CORNER_COLS = ((-eyepatch.PATCH_U_EW[0] - 0.5) * PATCH_PX_PER_EW, (-eyepatch.PATCH_U_EW[0] + 0.5) * PATCH_PX_PER_EW)


def lid_rows(drop_px: float = 0.0, lift_px: float = 0.0) -> np.ndarray:
    """Upper and lower margins (2, columns) of a drawn almond eye; the upper lid lowered by ``drop_px`` at its
    middle."""
    cols = np.arange(COLS, dtype=float)
    u = (cols - CORNER_COLS[0]) / (CORNER_COLS[1] - CORNER_COLS[0])
    bump = np.where((u > 0) & (u < 1), np.sin(np.pi * np.clip(u, 0, 1)), np.nan)
    upper = CORNER_ROW - (0.2 * PATCH_PX_PER_EW - drop_px) * bump
    lower = CORNER_ROW + (0.12 * PATCH_PX_PER_EW - lift_px) * bump
    return np.stack([upper, lower])


def draw_eye(margins: np.ndarray, rng: np.random.Generator, iris_col: float | None = None) -> np.ndarray:
    """A grey eye: skin with texture, white sclera, a dark iris, dark upper lashes; lids from ``margins``."""
    skin = 150 + 12 * cv2.GaussianBlur(rng.standard_normal((ROWS, COLS)).astype(np.float32), (0, 0), 2.0)
    img = skin.copy()
    rows = np.arange(ROWS)[:, None]
    cols = np.arange(COLS)[None, :]
    upper, lower = np.nan_to_num(margins[0], nan=1e9)[None, :], np.nan_to_num(margins[1], nan=-1e9)[None, :]
    iris_col = COLS / 2 if iris_col is None else iris_col
    eyeball = np.where((cols - iris_col) ** 2 + (rows - CORNER_ROW) ** 2 < (0.22 * PATCH_PX_PER_EW) ** 2, 50.0, 225.0)
    img = np.where((rows > upper) & (rows < lower), eyeball, img)
    img = np.where((rows > upper - 2.5) & (rows <= upper), 40.0, img)  # lashes ride on the upper margin
    img += rng.normal(0, 2.0, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def true_closure(rest: np.ndarray, moved: np.ndarray) -> float:
    """The drawn eye's closure over the matched strips: 1 - moved opening / rest opening."""
    strips = eyelids._strips(rest[0], rest[1])
    return 1 - eyelids._mean_over(strips, moved[1] - moved[0]) / eyelids._mean_over(strips, rest[1] - rest[0])


def test_patch_is_scaled_by_the_face_not_the_eye():
    """Corners land on the nominal columns when the eye has its nominal width; narrower eyes do not
    magnify."""
    from synkan.measure.mesh import STABLE_POINTS

    rng = np.random.default_rng(0)
    xy = np.zeros((478, 2))
    xy[list(STABLE_POINTS)] = rng.normal(0, 1, (len(STABLE_POINTS), 2))
    xy[list(STABLE_POINTS)] *= 100.0 / eyepatch.face_scale_px(xy)  # face scale 100 px
    width = 100.0 * eyepatch.EYE_WIDTH_PER_FACE_SCALE
    angle = np.radians(-10)
    axis = np.array([np.cos(angle), np.sin(angle)])
    for eye_width, expected in ((width, CORNER_COLS), (0.9 * width, None)):
        xy[33], xy[133] = 200 - axis * eye_width / 2, 200 + axis * eye_width / 2
        corners = to_patch(xy[[33, 133]], patch_affine(xy, "r"))
        assert np.allclose(corners[:, 1], CORNER_ROW)
        assert np.isclose(corners[1, 0] - corners[0, 0], PATCH_PX_PER_EW * eye_width / width)
        if expected:
            assert np.allclose(corners[:, 0], expected)


@pytest.mark.parametrize("drop_px, lift_px", [(0.0, 0.0), (2.0, 0.0), (4.5, 0.0), (6.0, 1.5), (-1.5, 0.0)])
def test_known_lid_movement_is_recovered(drop_px, lift_px):
    rng = np.random.default_rng(int(abs(10 * drop_px) + lift_px) + 7)
    rest = lid_rows()
    template = np.median([draw_eye(rest, rng) for _ in range(5)], axis=0)
    frames = np.stack([draw_eye(lid_rows(drop_px, lift_px), rng) for _ in range(3)])
    shifts, score = lid_shifts(frames, template, rest, np.ones(len(frames), bool))
    moved = lid_rows(drop_px, lift_px)
    closure = closure_from_shifts(shifts, rest)
    assert np.all(np.abs(closure - true_closure(rest, moved)) < 0.04), (closure, true_closure(rest, moved))
    assert np.all(score > 0.5)


def test_gaze_within_the_gate_does_not_close_the_eye():
    """Irises moved sideways by the gaze gate's limit (0.1 eye widths) read as (nearly) no closure."""
    from synkan.config import EYE_MAX_GAZE_EW

    rng = np.random.default_rng(3)
    rest = lid_rows()
    template = np.median([draw_eye(rest, rng) for _ in range(5)], axis=0)
    for direction in (-1, 1):
        shift_px = direction * EYE_MAX_GAZE_EW * PATCH_PX_PER_EW
        frame = draw_eye(rest, rng, iris_col=COLS / 2 + shift_px)[None]
        shifts, _ = lid_shifts(frame, template, rest, np.ones(1, bool), np.array([shift_px]))
        assert abs(closure_from_shifts(shifts, rest)[0]) < 0.06  # without the gaze template: 0.2


def test_frames_without_a_face_stay_nan():
    rng = np.random.default_rng(0)
    rest = lid_rows()
    frames = np.stack([draw_eye(rest, rng), np.zeros((ROWS, COLS), np.uint8)])
    shifts, _ = lid_shifts(frames, draw_eye(rest, rng).astype(float), rest, np.array([True, False]))
    assert np.isfinite(shifts[0]).all() and np.isnan(shifts[1]).all()


def add_glasses(img: np.ndarray, rest: np.ndarray) -> np.ndarray:
    """A static dark glasses rim above the upper lid, and a saturated lens reflection on the eye."""
    out = img.astype(float)
    cols = np.arange(COLS)
    # Slanted, just above the lid bands (as the top rims in the shared glasses video).
    rim = np.nanmin(rest[0]) - 0.2 * PATCH_PX_PER_EW + 0.08 * (cols - COLS / 2)
    rows = np.arange(ROWS)[:, None]
    out = np.where(np.abs(rows - rim[None]) < 1.0, 30.0, out)
    glint = (rows - CORNER_ROW + 4) ** 2 + (cols[None] - COLS / 2 - 6) ** 2 < 3.0 ** 2  # on the iris
    return np.where(glint, 255.0, out).astype(np.uint8)


@pytest.mark.parametrize("drop_px", [3.0, 6.0])
def test_lid_found_through_glasses(drop_px):
    """A rim and a reflection that stay put while the lid moves do not hold the lid at rest."""
    rng = np.random.default_rng(int(drop_px) + 20)
    rest = lid_rows()
    template = np.median([add_glasses(draw_eye(rest, rng), rest) for _ in range(5)], axis=0)
    frames = np.stack([add_glasses(draw_eye(lid_rows(drop_px), rng), rest) for _ in range(3)])
    shifts, _ = lid_shifts(frames, template, rest, np.ones(len(frames), bool))
    assert np.all(np.abs(closure_from_shifts(shifts, rest) - true_closure(rest, lid_rows(drop_px))) < 0.05)


def test_nearly_shut_eye_reads_nearly_closed():
    """An upper lid lowered over nine tenths of the opening reads as (nearly) that much closure."""
    rng = np.random.default_rng(5)
    rest = lid_rows()
    drop_px = 0.9 * 0.32 * PATCH_PX_PER_EW  # of the drawn eye's 0.32-eye-width opening at its middle
    template = np.median([draw_eye(rest, rng) for _ in range(5)], axis=0)
    frames = np.stack([draw_eye(lid_rows(drop_px), rng) for _ in range(3)])
    shifts, _ = lid_shifts(frames, template, rest, np.ones(len(frames), bool))
    closure, truth = closure_from_shifts(shifts, rest), true_closure(rest, lid_rows(drop_px))
    assert np.all(np.abs(closure - truth) < 0.08), (closure, truth)
