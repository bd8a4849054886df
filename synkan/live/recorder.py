"""Recording a live session, only when the user asked for it: a video plus an ordinary analysis folder.

While recording is off nothing is written. While it is on, each measured
frame's JPEG (as the browser sent it) and its live values are appended to a
private folder; at the end the frames become ``session.avi`` (motion JPEG,
one video frame per measured frame, at the session's mean rate) and that
video is analysed by :func:`synkan.analysis.analyze`, with the calibration as
the rest segment and the holds as the protocol's segments, into
``analysis/`` (report.json, report.html...), which ``synkan compare`` can
follow from session to session.
"""
from __future__ import annotations

import csv
import json
import os
import struct
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from itertools import groupby
from pathlib import Path

import cv2
import numpy as np

from ..config import Settings
from ..errors import OutputError
from ..events import parse_segments
from ..report.writer import apply_modes, output_modes
from .session import Phase, RepResult

VIDEO_NAME = "session.avi"
LIVE_CSV = "live.csv"
SESSION_JSON = "session.json"
ANALYSIS_DIR = "analysis"
_FRAMES = ".frames.bin"  # the received JPEGs, length-prefixed, until the video is written
JPEG_QUALITY = 95  # the video's re-encoding: near-lossless, so the analysis sees the frames the bars saw


@dataclass(frozen=True)
class FrameRow:
    """One recorded frame: its capture time, phase and live values (one row of live.csv)."""

    t_s: float
    phase: str
    movement: str
    rep: int
    voluntary_pct: float
    involuntary_pp: float
    values: dict


def session_folder(root: Path) -> Path:
    """A new private folder for one session under ``root`` (``session-YYYYmmdd-HHMMSS``, made unique)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    _, dir_mode = output_modes()
    try:
        root.mkdir(parents=True, exist_ok=True)
        for k in range(100):
            folder = root / (f"session-{stamp}" + (f"-{k}" if k else ""))
            try:
                folder.mkdir(mode=dir_mode)
                return folder
            except FileExistsError:
                continue
    except OSError as exc:
        raise OutputError(f"{root}: cannot create a session folder ({exc.strerror or exc})") from None
    raise OutputError(f"{root}: too many sessions this second")


class Recorder:
    """Appends measured frames while recording; :meth:`finish` writes the video, the tables and the analysis."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.rows: list[FrameRow] = []
        fd = os.open(folder / _FRAMES, os.O_WRONLY | os.O_CREAT | os.O_EXCL, output_modes()[0])
        self._frames = os.fdopen(fd, "wb")

    def add(self, jpeg: bytes, row: FrameRow) -> None:
        """Keep one measured frame."""
        self._frames.write(struct.pack("<I", len(jpeg)) + jpeg)
        self.rows.append(row)

    def finish(self, phases: tuple[Phase, ...], reps: list[RepResult], settings: Settings, exercise: str,
               model: Path | None = None) -> Path:
        """Write session.avi, live.csv, session.json and the analysis folder; returns the analysis folder."""
        from ..analysis import analyze
        from ..report.writer import write_outputs

        self._frames.close()
        if len(self.rows) < 2:
            raise OutputError("too short a recording to analyse")
        t = np.array([r.t_s for r in self.rows])
        fps = (len(t) - 1) / float(t[-1] - t[0])
        video = self.folder / VIDEO_NAME
        _write_video(self.folder / _FRAMES, video, fps)
        (self.folder / _FRAMES).unlink()
        video_t = np.arange(len(t)) / fps
        _write_rows(self.folder / LIVE_CSV, self.rows, video_t)
        settings = Settings(**{**settings.to_dict(), **analysis_segments(self.rows, video_t, fps)})
        analysis_dir = write_outputs(analyze(video, settings, model=model), self.folder / ANALYSIS_DIR)
        summary = {"schema": "synkan.live-session/1", "exercise": exercise, "fps": round(fps, 3),
                   "frames": len(t), "phases": [asdict(p) for p in phases if np.isfinite(p.end_s)],
                   "repetitions": [asdict(r) for r in reps], "settings": settings.to_dict()}
        (self.folder / SESSION_JSON).write_text(json.dumps(summary, indent=2, allow_nan=False, default=_finite))
        apply_modes(self.folder)
        return analysis_dir

    def discard(self) -> None:
        """Close without writing anything more (the folder keeps what was recorded so far)."""
        self._frames.close()


def _finite(x):
    return None if isinstance(x, float) and not np.isfinite(x) else x


def analysis_segments(rows: list[FrameRow], video_t: np.ndarray, fps: float) -> dict:
    """The analysis's ``rest`` (the calibration) and ``segments`` (the holds), in the video's time.

    Examples
    --------
    >>> rows = [FrameRow(0.1 * k, p, m, 1, 0.0, 0.0, {}) for k, (p, m) in enumerate(
    ...     [("calibrate", "rest")] * 3 + [("hold", "smile")] * 2 + [("relax", "smile")])]
    >>> analysis_segments(rows, np.arange(6) / 10.0, 10.0)
    {'rest': '0-0.25', 'segments': 'smile:0.3-0.4'}
    """
    half = 0.5 / fps
    phase = np.array([r.phase for r in rows])
    out: dict = {}
    calibration = np.flatnonzero(phase == "calibrate")
    if len(calibration) and calibration[0] == 0:
        out["rest"] = f"0-{video_t[calibration[-1]] + half:.6g}"
    spans = []
    key = lambda item: (item[1].phase == "hold", item[1].movement, item[1].rep)  # noqa: E731
    for (hold, movement, _), group in groupby(enumerate(rows), key=key):
        if hold:
            frames = [k for k, _ in group]
            spans.append(f"{movement}:{video_t[frames[0]]:.6g}-{video_t[frames[-1]]:.6g}")
    known = [s for s in spans if _is_segment(s)]
    if known:
        out["segments"] = ",".join(known)
    return out


def _is_segment(spec: str) -> bool:
    """Whether the analysis knows this movement as a segment kind (bottom teeth and nasal base it does not)."""
    try:
        parse_segments(spec)
    except Exception:  # noqa: BLE001 - any refusal means: not a segment the analysis takes
        return False
    return True


def _write_video(frames: Path, video: Path, fps: float) -> None:
    """The length-prefixed JPEGs in ``frames`` as a motion-JPEG AVI at ``fps``."""
    writer = None
    with open(frames, "rb") as fh:
        while header := fh.read(4):
            image = cv2.imdecode(np.frombuffer(fh.read(struct.unpack("<I", header)[0]), np.uint8), cv2.IMREAD_COLOR)
            if writer is None:
                writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), fps, image.shape[1::-1])
                writer.set(cv2.VIDEOWRITER_PROP_QUALITY, JPEG_QUALITY)
            writer.write(image)
    if writer is not None:
        writer.release()


def _write_rows(path: Path, rows: list[FrameRow], video_t: np.ndarray) -> None:
    """live.csv: one row per recorded frame, the live values as the page showed them."""
    names = sorted(rows[0].values)
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["frame", "t_video", "t_capture", "phase", "movement", "rep", "voluntary_pct", "involuntary_pp",
                      *names])
        for k, (row, tv) in enumerate(zip(rows, video_t)):
            out.writerow([k, f"{tv:.6f}", f"{row.t_s:.6f}", row.phase, row.movement, row.rep,
                          f"{row.voluntary_pct:.6g}", f"{row.involuntary_pp:.6g}",
                          *(f"{row.values[n]:.9g}" for n in names)])
