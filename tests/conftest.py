"""Shared fixtures: the shared model and real videos beside the project."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SYNKAN_SHARED", ROOT.parent / "shared"))
MODEL = Path(os.environ.get("SYNKAN_MODEL", SHARED / "models" / "face_landmarker.task"))
os.environ.setdefault("SYNKAN_MODEL", str(MODEL))


@pytest.fixture(scope="session")
def model_path() -> Path:
    assert MODEL.is_file(), f"model not found at {MODEL}; set SYNKAN_MODEL"
    return MODEL


def shared_video(name: str) -> Path:
    """One of the shared real videos (``SHARED/videos/NAME``).

    A clone with no shared data beside it at all (a fresh machine) skips the
    real-face tests, saying why; where the shared folder is there (as in CI)
    a missing video is an error, so the real-face tests never vanish quietly.
    """
    path = SHARED / "videos" / name
    if not SHARED.is_dir():
        pytest.skip(f"real-face test: no shared data at {SHARED} (set SYNKAN_SHARED to the folder holding videos/)")
    assert path.is_file(), f"shared video missing: {path}"
    return path


@pytest.fixture(scope="session")
def real_video() -> Path:
    """A real healthy face: neutral, a toothy smile, one blink (640x360, 2.4 s)."""
    return shared_video("cosanlab_single_face.mp4")


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return ROOT / "sample_videos"


def make_signals(t: np.ndarray, **columns: np.ndarray):
    """A :class:`synkan.measure.signals.Signals` from arrays (missing signals are zero)."""
    from synkan.measure.signals import Signals

    names = ["eye_closure_r", "eye_closure_l", "mouth_excursion_r", "mouth_excursion_l", "mouth_lateral_r",
             "mouth_lateral_l", "mouth_vertical_r", "mouth_vertical_l", "mouth_narrowing", "brow_raise_r", "brow_raise_l",
             "yaw_deg", "pitch_deg", "roll_deg"]
    data = {"t": t, "frame": np.arange(len(t)), "valid": np.ones(len(t), bool), "pose_ok": np.ones(len(t), bool)}
    for name in names:
        data[name] = np.asarray(columns.pop(name, np.zeros(len(t))), float)
    assert not columns, f"unknown columns {sorted(columns)}"
    return Signals(pd.DataFrame(data), {"fs_hz": 1 / np.median(np.diff(t))})


def pulses(t: np.ndarray, starts, duration_s: float, amplitude: float = 1.0, ramp_s: float = 0.15) -> np.ndarray:
    """Raised-cosine-edged pulses: 0 at rest, ``amplitude`` on the plateau."""
    x = np.zeros_like(t)
    for s in starts:
        rise = np.clip((t - s) / ramp_s, 0, 1)
        fall = np.clip((s + duration_s - t) / ramp_s, 0, 1)
        x = np.maximum(x, amplitude * 0.5 * (1 - np.cos(np.pi * np.minimum(rise, fall))))
    return x
