"""Quality control of one analysis: face found, head rotation, frames left out, events per kind.

Also whether a video may be scored at all (:func:`not_scorable`): too little
face, or a face that is not upright (wrong rotation metadata).
"""
from __future__ import annotations

import numpy as np

from ..config import MAX_UPRIGHT_ROLL_DEG, MIN_FACE_FRACTION
from ..measure.mesh import EYE_L, EYE_R
from ..measure.signals import Signals
from ..measure.tracking import Track
from .events import Events


def qc_summary(track: Track, signals: Signals, events: Events) -> dict:
    """Quality control: face found, head rotation, frames left out, events per kind."""
    data = signals.data
    valid = data["valid"].to_numpy()
    absmax = lambda c: round(float(np.nanmax(np.abs(data[c][valid]))), 1) if valid.any() else None  # noqa: E731
    return {
        "face_fraction": round(track.face_fraction, 4),
        "frames": int(len(track)),
        "frames_without_face": int((~track.valid).sum()),
        "frames_multiple_faces": int((track.n_faces > 1).sum()),
        "max_abs_yaw_deg": absmax("yaw_deg"),
        "max_abs_pitch_deg": absmax("pitch_deg"),
        "max_abs_roll_deg": absmax("roll_deg"),
        "frames_large_rotation": int((valid & ~data["pose_ok"].to_numpy()).sum()),
        "frames_gaze_sideways": int((valid & ~data["gaze_ok"].to_numpy(bool)).sum()) if "gaze_ok" in data else 0,
        "rest_frames": signals.info.get("rest_frames"),
        "laterality": signals.info.get("laterality"),
        "mirror_fraction": round(float(signals.info.get("mirror_fraction", 0.0)), 4),
        # Frames that fell back to the plain pass, by reason (yaw, gaze, no face in a composite, midline fit).
        "mirror_gate": signals.info.get("mirror_gate", {}),
        "mirror_midline_residual_median": (None if signals.info.get("mirror_residual_median") is None
                                           else round(float(signals.info["mirror_residual_median"]), 4)),
        "eye_width_px": _eye_width_px(track),
        "camera_roll_deg": None if (roll := camera_roll_deg(track)) is None else round(roll, 1),
        "events": events.counts(),
    }


def _eye_width_px(track: Track) -> float | None:
    """Median corner-to-corner eye width in video pixels (the lids' resolution)."""
    corners = track.landmarks[:, [EYE_R[0], EYE_R[3], EYE_L[0], EYE_L[3]], :2][track.valid].astype(float)
    if not len(corners):
        return None
    widths = (np.linalg.norm(corners[:, 0] - corners[:, 1], axis=1) + np.linalg.norm(corners[:, 2] - corners[:, 3], axis=1)) / 2
    return round(float(np.median(widths)), 1)


def camera_roll_deg(track: Track) -> float | None:
    """Median roll of the face in the image, degrees (0: upright), from MediaPipe's face transformation.

    Unlike the signals' roll, which is relative to the video's own rest pose,
    this one is absolute: a face lying sideways reads about +/-90.
    """
    m = track.pose_matrix[track.valid].astype(float)
    roll = np.degrees(np.arctan2(m[:, 1, 0], m[:, 0, 0]))
    roll = roll[np.isfinite(roll)]
    return float(np.median(roll)) if len(roll) else None


def not_scorable(track: Track, qc: dict) -> str | None:
    """Why a video must not be scored at all (too little face, a face that is not upright), or None."""
    if track.face_fraction < MIN_FACE_FRACTION:
        return f"face found in only {100 * track.face_fraction:.0f}% of frames (minimum {100 * MIN_FACE_FRACTION:.0f}%): no scores"
    roll = qc.get("camera_roll_deg")
    if roll is not None and abs(roll) > MAX_UPRIGHT_ROLL_DEG:
        turn = int(round(roll / 90.0)) * 90 % 360
        return (f"the face is not upright (turned {abs(roll):.0f} deg in the image): the video's rotation metadata is "
                f"probably wrong; no scores (re-run with --rotate {turn or 180})")
    return None
