"""Each eye measured on its own, and blink-locked twitches kept at low frame rates."""
from __future__ import annotations

import numpy as np
import pytest

from synkan.measure.signals import eye_rest_frames, lowpass


def _columns(rng: np.random.Generator, n: int = 400) -> dict[str, np.ndarray]:
    smile = np.clip(np.sin(np.linspace(0, 6 * np.pi, n)), 0, None)  # three smiles
    return {"eye_closure_plain_r": 0.3 * smile + rng.normal(0, 0.02, n),
            "eye_closure_plain_l": 0.3 * smile + rng.normal(0, 0.02, n),
            "mouth_narrowing": -0.2 * smile + rng.normal(0, 0.01, n),
            "mouth_vertical_r": 0.1 * smile + rng.normal(0, 0.005, n),
            "mouth_vertical_l": 0.1 * smile + rng.normal(0, 0.005, n)}


def test_one_eye_narrowing_leaves_the_other_eyes_rest_alone():
    """Narrowing the left eye (as synkinesis would) changes only the left eye's rest frames."""
    rng = np.random.default_rng(1)
    cols = _columns(rng)
    valid = np.ones(400, bool)
    before = eye_rest_frames(cols, valid)
    narrowed = dict(cols, eye_closure_plain_l=cols["eye_closure_plain_l"] + rng.uniform(0, 0.4, 400))
    after = eye_rest_frames(narrowed, valid)
    np.testing.assert_array_equal(after[:, 0], before[:, 0])
    assert (after[:, 1] != before[:, 1]).any()


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
