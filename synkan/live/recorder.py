"""Recording a live session, only when the user asked for it: a video plus an ordinary analysis folder.

While recording is off nothing is written. While it is on, each measured
frame's JPEG (as the browser sent it) and its live values are appended to a
private folder; at the end the frames become ``session.mkv``: one video frame
per measured frame, at its capture time (whole milliseconds), lossless (FFV1
via PyAV). So the analysis sees exactly the pixels and the timestamps the
live bars were measured with: a lossy re-encoding moved the eye closure by
up to 0.04, and MediaPipe's tracking depends on the frames' time steps. That
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
from fractions import Fraction
from itertools import groupby
from pathlib import Path

import cv2
import numpy as np

from .._util.files import output_modes
from ..config import Settings
from ..errors import OutputError
from ..grade.events import parse_segments
from ..report.writer import apply_modes
from .session import Phase, RepResult

VIDEO_NAME = "session.mkv"
LIVE_CSV = "live.csv"
SESSION_JSON = "session.json"
ANALYSIS_DIR = "analysis"
_FRAMES = ".frames.bin"  # the received JPEGs, length-prefixed, until the video is written
VIDEO_CODEC = "ffv1"  # lossless; about 65 kB a 640x480 frame (80 MB a minute at 20 frames/s)
MS = Fraction(1, 1000)  # the video's time base: the capture times' whole milliseconds


@dataclass(frozen=True)
class FrameRow:
    """One recorded frame: its capture time (whole ms, the page's clock), phase and live values (live.csv)."""

    t_ms: int
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
    """Appends measured frames while recording; :meth:`finish` writes the video, tables and analysis."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.rows: list[FrameRow] = []
        fd = os.open(folder / _FRAMES, os.O_WRONLY | os.O_CREAT | os.O_EXCL, output_modes()[0])
        self._frames = os.fdopen(fd, "wb")

    def add(self, jpeg: bytes, row: FrameRow) -> None:
        """Keep one measured frame."""
        self._frames.write(struct.pack("<I", len(jpeg)) + jpeg)
        self.rows.append(row)

    def finish(
        self,
        phases: tuple[Phase, ...],
        reps: list[RepResult],
        settings: Settings,
        exercise: str,
        model: Path | None = None,
    ) -> Path:
        """Write session.avi, live.csv, session.json and the analysis folder; returns the analysis folder."""
        from ..analysis import analyze
        from ..report.writer import write_outputs

        self._frames.close()
        if len(self.rows) < 2:
            raise OutputError("too short a recording to analyse")
        t_ms = np.array([r.t_ms for r in self.rows])
        video = self.folder / VIDEO_NAME
        _write_video(self.folder / _FRAMES, video, t_ms - t_ms[0])
        (self.folder / _FRAMES).unlink()
        _write_rows(self.folder / LIVE_CSV, self.rows)
        settings = Settings(**{**settings.to_dict(), **analysis_segments(self.rows)})
        analysis_dir = write_outputs(analyze(video, settings, model=model), self.folder / ANALYSIS_DIR)
        fps = (len(t_ms) - 1) / (1e-3 * float(t_ms[-1] - t_ms[0]))
        summary = {
            "schema": "synkan.live-session/1",
            "exercise": exercise,
            "fps": round(fps, 3),
            "frames": len(t_ms),
            "phases": [asdict(p) for p in phases if np.isfinite(p.end_s)],
            "repetitions": [asdict(r) for r in reps],
            "settings": settings.to_dict(),
        }
        (self.folder / SESSION_JSON).write_text(
            json.dumps(summary, indent=2, allow_nan=False, default=_finite)
        )
        apply_modes(self.folder)
        return analysis_dir

    def discard(self) -> None:
        """Close without writing anything more (the folder keeps what was recorded so far)."""
        self._frames.close()


def _finite(x):
    return None if isinstance(x, float) and not np.isfinite(x) else x


def analysis_segments(rows: list[FrameRow]) -> dict:
    """The analysis's ``rest`` (the calibration) and ``segments`` (the holds), in the video's time.

    Examples
    --------
    >>> rows = [FrameRow(100 * k, p, m, 1, 0.0, 0.0, {}) for k, (p, m) in enumerate(
    ...     [("calibrate", "rest")] * 3 + [("hold", "smile")] * 2 + [("relax", "smile")])]
    >>> analysis_segments(rows)
    {'rest': '0-0.25', 'segments': 'smile:0.3-0.4'}
    """
    video_t = (np.array([r.t_ms for r in rows]) - rows[0].t_ms) / 1000.0
    half = float(np.median(np.diff(video_t))) / 2 if len(rows) > 1 else 0.0
    out: dict = {}
    if rows[0].phase == "calibrate":
        calibration = [k for k, r in enumerate(rows) if r.phase == "calibrate"]
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
    """Whether the analysis takes this movement as a segment kind (not bottom teeth, nasal base)."""
    try:
        parse_segments(spec)
    except Exception:  # noqa: BLE001 - any refusal means: not a segment the analysis takes
        return False
    return True


def jpeg_to_bgr(jpeg: bytes) -> np.ndarray | None:
    """A frame decoded from the browser's JPEG (None if not one): one decoding for bars and video."""
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)


def _write_video(frames: Path, video: Path, pts_ms: np.ndarray) -> None:
    """The length-prefixed JPEGs in ``frames``, decoded, as a lossless video with these timestamps (ms)."""
    import av

    with open(frames, "rb") as fh, av.open(str(video), "w") as out:
        stream = None
        for pts in pts_ms:
            image = jpeg_to_bgr(fh.read(struct.unpack("<I", fh.read(4))[0]))
            if stream is None:
                stream = out.add_stream(VIDEO_CODEC)
                stream.width, stream.height, stream.pix_fmt = image.shape[1], image.shape[0], "bgr0"
                stream.time_base = stream.codec_context.time_base = MS
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = int(pts), MS
            out.mux(stream.encode(frame))
        if stream is not None:
            out.mux(stream.encode(None))


def _write_rows(path: Path, rows: list[FrameRow]) -> None:
    """live.csv: one row per recorded frame, the live values as the page showed them."""
    names = sorted(rows[0].values)
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(
            ["frame", "t_video", "phase", "movement", "rep", "voluntary_pct", "involuntary_pp", *names]
        )
        for k, row in enumerate(rows):
            out.writerow(
                [
                    k,
                    f"{(row.t_ms - rows[0].t_ms) / 1000:.3f}",
                    row.phase,
                    row.movement,
                    row.rep,
                    _cell(row.voluntary_pct),
                    _cell(row.involuntary_pp),
                    *(_cell(row.values[n]) for n in names),
                ]
            )


def _cell(x) -> str:
    """A value of live.csv: empty where there is none (calibration, no face)."""
    return "" if x is None or not np.isfinite(x) else f"{x:.9g}"
