"""One live connection's state: frames in, the page's numbers out.

An :class:`Engine` turns each JPEG the page sends into a JSON-ready message:
the overlay (lid margins and mouth corners in image pixels), the signals,
the two bars and the session's phase. It runs in one worker thread per
connection, so frames and commands are handled strictly in order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from ..config import Settings
from ..errors import NoFaceError
from ..measure.landmarker import Landmarker
from ..measure.mesh import LOWER_LID, MOUTH_CORNER_L, MOUTH_CORNER_R, UPPER_LID
from . import measure, session
from .recorder import FrameRow, Recorder, jpeg_to_bgr, session_folder


@dataclass(frozen=True)
class EngineConfig:
    """What a session does: the affected side (or None), the exercise and its repetitions, where
    recordings go,
    and the landmark model their analysis uses."""

    affected: str | None
    exercise: str
    reps: int
    output: Path
    model: Path | None = None


def decode_jpeg(jpeg: bytes) -> np.ndarray | None:
    """An RGB frame from JPEG bytes, or None if they are not an image (decoded as the recording is)."""
    bgr = jpeg_to_bgr(jpeg)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _points(a: np.ndarray) -> list:
    """Pixel coordinates rounded to 0.1 px for the page (NaN as None)."""
    return [
        [None if not np.isfinite(v) else round(float(v), 1) for v in p] for p in np.asarray(a).reshape(-1, 2)
    ]


def _number(x: float, digits: int = 4):
    return round(float(x), digits) if np.isfinite(x) else None


def mesh_overlay(frame: measure.FaceFrame) -> dict:
    """Before calibration: the mesh's lid contours and the mouth corners."""
    xy = frame.landmarks[:, :2]
    lids = {
        side: [_points(xy[list(UPPER_LID[side])]), _points(xy[list(LOWER_LID[side])])] for side in ("r", "l")
    }
    return {"lids": lids, "corners": _points(xy[[MOUTH_CORNER_R, MOUTH_CORNER_L]])}


class Engine:
    """Frames of one connection, measured in order (see the module docstring)."""

    def __init__(self, landmarker: Landmarker, config: EngineConfig) -> None:
        self.landmarker, self.config = landmarker, config
        self.steps = session.exercise_steps(config.exercise)
        self.follower = measure.new_follower(landmarker)
        self.last_ms = -1
        self.phases: tuple[session.Phase, ...] = ()
        self.reset_session()

    def reset_session(self) -> None:
        """Back to the idle state: no session, no rest, no recording."""
        self.active = False
        self.t0: float | None = None
        self.calibration: list[measure.FaceFrame] = []
        self.rest: measure.LiveRest | None = None
        self.phase: session.Phase | None = None
        self.hold: list[tuple[float, float, str]] = []
        self.reps: list[session.RepResult] = []
        self.recorder: Recorder | None = None

    def restart_tracking(self) -> None:
        """A fresh face follower, as at the start of a video file: a recorded session's
        analysis then tracks its first frame exactly as the live path did."""
        self.follower = measure.new_follower(self.landmarker)

    def start(self, record: bool) -> dict:
        """Start a session (calibration first); record it only when asked."""
        if self.recorder is not None:
            self.recorder.discard()
        self.reset_session()
        self.phases = session.plan(self.steps, self.config.reps)
        self.active = True
        folder = session_folder(self.config.output) if record else None
        self.recorder = Recorder(folder) if folder else None
        return {
            "type": "started",
            "record": record,
            "folder": str(folder) if folder else None,
            "phases": [asdict(p) for p in self.phases if np.isfinite(p.end_s)],
        }

    def stop(self) -> Recorder | None:
        """End the session now; returns its recorder (to finish) if it was recording."""
        recorder, self.recorder = self.recorder, None
        self.active, self.t0, self.phase = False, None, None
        return recorder

    def settings(self) -> Settings:
        """The analysis settings of a recorded session (the segments and rest are added from its frames)."""
        return Settings(affected=self.config.affected)

    def landmark(self, jpeg: bytes, capture_ms: float) -> measure.FaceFrame | None:
        """The first stage of a frame: decode and landmark it (None: not a JPEG image).

        The capture time is taken in whole milliseconds, increasing: the
        recording stores exactly these times, and MediaPipe's tracking
        depends on the time steps.
        """
        rgb = decode_jpeg(jpeg)
        if rgb is None:
            return None
        self.last_ms = max(int(round(capture_ms)), self.last_ms + 1)
        return measure.landmark(self.landmarker, self.follower, rgb, self.last_ms / 1000.0)

    def process(self, frame: measure.FaceFrame | None, jpeg: bytes) -> dict:
        """The second stage: a landmarked frame -> the page's message (``type: frame``)."""
        if frame is None:
            return {"type": "error", "message": "a frame was not a JPEG image"}
        t_s = frame.t_s
        message: dict = {"type": "frame", "face": frame.valid}
        if self.active and self.t0 is None:
            self.t0 = t_s  # the session's clock starts at its first frame
        if not self.active:
            message["overlay"] = mesh_overlay(frame) if frame.valid else None
            return message
        phase = session.phase_at(self.phases, t_s - self.t0)
        message.update(self._session_step(frame, phase, t_s))
        if self.recorder is not None and phase.name != "done":
            bars = message.get("bars") or {}
            self.recorder.add(
                jpeg,
                FrameRow(
                    int(round(1000 * t_s)),
                    phase.name,
                    phase.movement,
                    phase.rep,
                    _nan(bars.get("voluntary_pct")),
                    _nan(bars.get("involuntary_pp")),
                    message["values"],
                ),
            )
            message["rec_frame"] = len(self.recorder.rows) - 1
        return message

    def _session_step(self, frame: measure.FaceFrame, phase: session.Phase, t_s: float) -> dict:
        """Calibrate, measure, and keep the repetitions' results; the phase-dependent part of a message."""
        out: dict = {
            "phase": {
                **asdict(phase),
                "elapsed_s": round(t_s - self.t0, 3),
                "remaining_s": round(phase.end_s - (t_s - self.t0), 3),
            }
        }
        if phase.name == "calibrate":
            self.calibration.append(frame)
            out["overlay"] = mesh_overlay(frame) if frame.valid else None
            out["values"] = {name: None for name in measure.SIGNALS}
            return out
        if self.rest is None:
            try:
                self.rest = measure.calibrate(self.calibration)
            except NoFaceError:
                # No face while calibrating: calibrate again from now.
                self.t0, self.calibration = t_s, []
                out["notice"] = "No face was seen during the calibration: calibrating again."
                return out
        measured = measure.measure(self.rest, frame)
        out["values"] = {k: _number(v, 6) for k, v in measured.values.items()}
        if frame.valid:
            out["overlay"] = {
                "lids": {s: [_points(line) for line in lines] for s, lines in measured.lids_px.items()},
                "corners": _points(measured.corners_px),
            }
        movement = phase.movement if phase.movement != "rest" else self.steps[0].movement
        bars = session.bars(measured.values, movement, self.config.affected)
        out["bars"] = {
            "voluntary_pct": _number(bars.voluntary_pct, 2),
            "involuntary_pp": _number(bars.involuntary_pp, 2),
            "involuntary_side": bars.involuntary_side,
            "movement": movement,
            "voluntary_label": session.DRIVERS.get(movement, session.DRIVERS["smile"])[1:],
        }
        out.update(self._repetitions(phase, bars))
        return out

    def _repetitions(self, phase: session.Phase, bars: session.Bars) -> dict:
        """Collect the hold's bars; when a hold ends, its repetition's result."""
        if phase.name == "hold":
            self.hold.append((bars.voluntary_pct, bars.involuntary_pp, bars.involuntary_side))
        elif self.hold:
            vol, invol, sides = zip(*self.hold)
            last = self.phase if self.phase is not None else phase
            self.reps.append(
                session.rep_result(last.movement, last.rep, np.array(vol), np.array(invol), list(sides))
            )
            self.hold = []
        self.phase = phase
        out: dict = {
            "reps": [
                {k: _number(v, 2) if isinstance(v, float) else v for k, v in asdict(r).items()}
                for r in self.reps
            ]
        }
        out["done"] = phase.name == "done"
        return out


def _nan(x) -> float:
    return float("nan") if x is None else float(x)
