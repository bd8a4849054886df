"""The generator's own drivers (synkan.synth.drivers) on synthetic landmarks with known movements."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from synkan.synth import drivers
from synkan.synth.drivers import drivers_from_landmarks, face_frame

FPS = 30.0
# Timeline (s): smile 1-2.5, pucker 3.5-5, blink 6-6.2, closure 7.5-9, wink 10-10.2; rest between.
SMILE, PUCKER, BLINK, CLOSURE, WINK = (1.0, 2.5), (3.5, 5.0), (6.0, 6.2), (7.5, 9.0), (10.0, 10.2)
T = np.arange(0, 11.0, 1 / FPS)


def _in(span, t=T) -> np.ndarray:
    return (t >= span[0]) & (t < span[1])


def _ramp(span, ramp_s=0.1, t=T) -> np.ndarray:
    """0 outside ``span``, 1 inside, with linear edges of ``ramp_s``."""
    return np.clip(np.minimum(t - span[0], span[1] - t) / ramp_s + 0.5, 0, 1)


def synthetic_face(roll_deg: float = 0.0, scale: float = 1.0, seed: int = 0) -> np.ndarray:
    """(N, 478, 3) image-pixel landmarks of a face that smiles, puckers, blinks, closes its eyes and winks."""
    n = len(T)
    lm = np.zeros((n, 478, 3))
    rest = {33: (100, 200), 133: (160, 200), 362: (240, 200), 263: (300, 200), 61: (140, 340),
            291: (260, 340),
            13: (200, 338), 14: (200, 338)}
    for i, xy in rest.items():
        lm[:, i, :2] = xy
    smile, pucker = _ramp(SMILE), _ramp(PUCKER)
    lm[:, 61, 0] -= 14 * smile - 20 * pucker   # out (image-left) in a smile, in during a pucker
    lm[:, 291, 0] += 14 * smile - 20 * pucker
    lm[:, [61, 291], 1] -= (14 * smile)[:, None]  # up
    lm[:, 14, 1] += 12 * smile + 4 * pucker  # a toothy smile opens the lips; a pucker parts them a little
    both = np.maximum(_ramp(BLINK, 0.05), _ramp(CLOSURE))
    closed = {"r": np.maximum(both, _ramp(WINK, 0.05)), "l": both}  # a wink: the right eye only
    for side, x0 in (("r", 100), ("l", 240)):
        for (up, lo), dx in zip(drivers.LID_PAIRS[side], (15, 30, 45)):
            half = 8 * (1 - 0.9 * closed[side])
            lm[:, up, :2] = np.stack([np.full(n, x0 + dx), 200 - half], axis=1)
            lm[:, lo, :2] = np.stack([np.full(n, x0 + dx), 200 + half], axis=1)
    lm[..., :2] += np.random.default_rng(seed).normal(0, 0.2, lm[..., :2].shape)  # landmark jitter
    a = np.radians(roll_deg)
    rot = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    lm[..., :2] = (lm[..., :2] - 200) @ rot.T + np.array([320, 240])
    return lm


@pytest.fixture(scope="module")
def drv():
    return drivers_from_landmarks(T, synthetic_face(), np.ones(len(T), bool))


def test_smile_pucker_blink_and_closure_are_told_apart(drv):
    assert [e[0] for e in drv.events] == ["smile", "pucker", "blink", "closure"]  # the wink is no blink
    smile_mid, pucker_mid = _in((1.3, 2.2)), _in((3.8, 4.7))
    assert drv.smile[smile_mid].min() > 0.8 and drv.smile[pucker_mid].max() < 0.05
    assert drv.pucker[pucker_mid].min() > 0.8 and drv.pucker[smile_mid].max() < 0.05
    rest = ~(_in((0.8, 2.7)) | _in((3.3, 5.2)))
    assert drv.smile[rest].max() < 0.1 and drv.pucker[rest].max() < 0.1


def test_directions_and_any(drv):
    assert np.array_equal(drv.oral_ocular("any"), np.maximum(drv.smile, drv.pucker))
    blink, closure = drv.ocular_oral("blink"), drv.ocular_oral("closure")
    assert blink[_in((6.05, 6.15))].min() > 0.7 and blink[_in((7.0, 11.0))].max() == 0
    assert closure[_in((7.8, 8.8))].min() > 0.8 and closure[_in((0, 7.0))].max() == 0
    assert np.array_equal(drv.ocular_oral("any"), np.maximum(blink, closure))
    # Eyes narrow only in the closure events; the smile does not count as a closure.
    assert drv.ocular_oral("any")[_in(SMILE)].max() == 0
    with pytest.raises(ValueError, match="oral-ocular driver"):
        drv.oral_ocular("blink")


def test_head_roll_scale_and_position_do_not_matter(drv):
    moved = drivers_from_landmarks(T, synthetic_face(roll_deg=12.0, scale=1.7), np.ones(len(T), bool))
    for name in ("smile", "pucker", "closure"):
        assert np.abs(getattr(moved, name) - getattr(drv, name)).max() < 0.05, name
    assert [e[0] for e in moved.events] == [e[0] for e in drv.events]


def test_no_face_gives_no_driver():
    valid = ~_in(SMILE)
    lm = synthetic_face()
    lm[~valid] = np.nan
    drv = drivers_from_landmarks(T, lm, valid)
    assert drv.smile[~valid].max() == 0 and drv.closure[~valid].max() == 0
    assert [e[0] for e in drv.events] == ["pucker", "blink", "closure"]


def test_face_frame_is_in_inter_ocular_distances():
    lm = synthetic_face()
    face = face_frame(lm)
    assert np.linalg.norm(face[0, 263] - face[0, 33]) == pytest.approx(200 / 140, rel=0.01)


def test_independent_of_the_analysis():
    """The ground truth's driver must not be the analysis's own signal."""
    tree = ast.parse(Path(drivers.__file__).read_text())
    imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert imported <= {"__future__", "dataclasses", "numpy"}, imported
    source = Path(drivers.__file__).read_text()
    for name in ("signals_process", "mouth_driver(", "eye_driver("):
        assert name not in source
