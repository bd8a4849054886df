"""Each eye measured on its own, and blink-locked twitches kept at low frame rates."""
from __future__ import annotations

import numpy as np
import pytest

from synkan.measure.clean import lowpass
from synkan.measure.signals import lid_rest_frames

SMILE = np.clip(np.sin(np.linspace(0, 6 * np.pi, 400)), 0, None)  # three smiles


def _columns(rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = len(SMILE)
    return {"eye_closure_plain_r": 0.3 * SMILE + rng.normal(0, 0.02, n),
            "eye_closure_plain_l": 0.3 * SMILE + rng.normal(0, 0.02, n),
            "mouth_narrowing": -0.2 * SMILE + rng.normal(0, 0.01, n),
            "mouth_vertical_r": 0.1 * SMILE + rng.normal(0, 0.005, n),
            "mouth_vertical_l": 0.1 * SMILE + rng.normal(0, 0.005, n)}


def test_one_eye_narrowing_leaves_the_lids_rest_frames_alone():
    """Narrowing one eye in smiles (oral-ocular synkinesis) leaves the frames both templates come from."""
    rng = np.random.default_rng(1)
    cols = _columns(rng)
    valid = np.ones(len(SMILE), bool)
    before = lid_rest_frames(cols, valid)
    narrowed = dict(cols, eye_closure_plain_l=cols["eye_closure_plain_l"] + 0.4 * SMILE)
    np.testing.assert_array_equal(lid_rest_frames(narrowed, valid), before)
    assert before.sum() >= 0.15 * len(SMILE)


def test_eyes_shut_with_the_mouth_still_are_not_rest():
    """A held eye closure with a still mouth would otherwise become the open eye's template."""
    rng = np.random.default_rng(2)
    cols = _columns(rng)
    shut = np.zeros(len(SMILE), bool)
    shut[SMILE == 0] = True  # every mouth-still frame of the first half: eyes closed
    shut[len(SMILE) // 2:] = False
    for side in "rl":
        cols[f"eye_closure_plain_{side}"] = np.where(shut, 0.9, cols[f"eye_closure_plain_{side}"])
    rest = lid_rest_frames(cols, np.ones(len(SMILE), bool))
    assert rest.any() and not (rest & shut).any()


@pytest.mark.parametrize("fps", [14.99, 15.0, 15.01, 18.0])
def test_one_frame_twitch_survives_below_20_fps(fps):
    """At 15 frames/s a blink's corner twitch lasts 1-2 frames: the low-pass must not shave it."""
    t = np.arange(60) / fps
    x = np.zeros(60)
    x[30] = 1.0
    assert lowpass(t, x, 6.0)[30] == pytest.approx(1.0)


def test_jitter_still_smoothed_at_30_fps():
    """Above 20 frames/s the configured cut-off still removes frame-to-frame jitter."""
    t = np.arange(300) / 30.0
    jitter = np.random.default_rng(0).normal(0, 1, 300)
    assert np.std(lowpass(t, jitter, 6.0)) < 0.8 * np.std(jitter)
