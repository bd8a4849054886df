"""The Python API: :func:`analyze` runs every stage, :func:`rescore` every stage after tracking, :func:`load`
reloads.

Each stage's own function lives in its module (``synkan.measure.tracking.track_video``,
``synkan.measure.signals.signals_process``, ``synkan.grade.events.events_process``,
``synkan.grade.coupling.coupling_process``) and is importable from ``synkan`` too.

The CLI calls these same functions; there is no second code path.

Examples
--------
>>> import synkan
>>> result = synkan.analyze("sample_videos/oral_ocular_left.mp4", laterality="plain")  # doctest: +SKIP
>>> result.scores.scores["oral_ocular"]["affected_side"]  # doctest: +SKIP
'left'
>>> from synkan.measure.signals import signals_process  # or synkan.signals_process
>>> sig = signals_process(result.track, Settings(cutoff_hz=4.0))  # re-run a stage, no re-tracking  # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from ._util.files import sha256_file
from ._util.memory import release_free_memory
from ._version import __version__
from .config import Settings
from .grade.coupling import DIRECTIONS, Coupling, coupling_process, movement_couplings
from .grade.events import Events, events_process
from .grade.grades import Scores, scores_process
from .grade.matrix import Matrix, matrix_process
from .grade.movements import Movements, movements_process
from .grade.normative import load_normative
from .grade.scales import Scales, scales_process
from .measure.models import model_info, resolve_model
from .measure.signals import Signals, signals_process
from .measure.tracking import Landmarker, Track, decode_warnings, track_video
from .measure.video import check_frame_rate, check_recording, probe
from .report_json import REPORT_SCHEMA, read_report
from .visit import Visit


@dataclass(frozen=True)
class Analysis:
    """Everything one analysis produced.

    Attributes
    ----------
    video : dict
        Path, SHA-256, fps, frames, duration, size (report.json's ``video``).
    settings : Settings
    track : Track
    signals : Signals
        ``signals.data`` is a DataFrame, one row per frame.
    events : Events
        ``events.table`` is a DataFrame, one row per event.
    couplings : dict of Coupling
        Keyed by direction (``oral_ocular``, ``ocular_oral``).
    scores : Scores
    model : dict
        Which landmark model was used.
    visit : Visit
        Patient ID, visit date, clinician and note (report.json's ``visit``).
    created : str
        When the video was analysed (ISO 8601, UTC); :func:`load` and a
        rebuilt report keep it.
    rebuilt : str or None
        When ``synkan report`` last rebuilt the outputs.
    comparison : dict or None
        The change since a previous visit (:func:`synkan.clinic.compare.compare_reports`),
        from ``synkan analyze --previous``.
    movements : Movements
        The clinic's named movements (brow raise, closures, smile, snarl, pucker).
    matrix : Matrix
        Movement x region x side measurements behind the clinical scales.
    """

    video: dict
    settings: Settings
    track: Track
    signals: Signals
    events: Events
    couplings: dict[str, Coupling]
    scores: Scores
    model: dict
    visit: Visit = Visit()
    created: str = ""
    rebuilt: str | None = None
    comparison: dict | None = None
    movements: Movements | None = None
    matrix: Matrix | None = None
    scales: Scales | None = None

    @property
    def report_scores(self) -> dict:
        """report.json's ``scores``: both directions' and the scales' estimates (Sunnybrook, eFACE)."""
        return {**self.scores.scores, **(self.scales.to_scores() if self.scales else {})}

    @property
    def report(self) -> dict:
        """The report.json contract (schema ``synkan.report/1``).

        Examples
        --------
        >>> import pandas as pd
        >>> scores = result.report["scores"]  # doctest: +SKIP
        >>> scores["oral_ocular"]["affected_side"], scores["oral_ocular"]["grade"]  # doctest: +SKIP
        ('left', 1)
        >>> pd.DataFrame({s: scores["oral_ocular"][s] for s in ("right", "left")}).T  # doctest: +SKIP
        """
        report = {
            "schema": REPORT_SCHEMA,
            "synkan_version": __version__,
            "created": self.created or now_utc(),
            **({"rebuilt": self.rebuilt} if self.rebuilt else {}),
            "visit": self.visit.to_dict(),
            "video": self.video,
            "settings": self.settings.to_dict(),
            "model": {k: self.model.get(k) for k in ("name", "sha256")},
            "environment": environment(),
            "qc": self.scores.qc,
            "scores": self.report_scores,
            "events": self.events.table.round(3).to_dict("records"),
            "movements": [] if self.movements is None else _records(self.movements.table),
            "matrix": [] if self.matrix is None else self.matrix.to_records(),
            "warnings": self.warnings,
        }
        if self.comparison is not None:
            report["comparison"] = self.comparison
        return report

    @property
    def warnings(self) -> list[str]:
        """Every warning of the analysis: scoring's, the scales', then the video decoder's."""
        scales = list(self.scales.warnings) if self.scales else []
        return [*self.scores.warnings, *scales, *decode_warnings(self.track)]

    def summary(self) -> str:
        """A short human summary, one line per direction.

        Examples
        --------
        >>> result = synkan.analyze("sample_videos/oral_ocular_left.mp4", laterality="plain")  # doctest: +SKIP
        >>> print(result.summary().splitlines()[0])  # doctest: +SKIP
        Oral-ocular synkinesis, LEFT, mild (grade 1): the left eye narrows 31% during smiles and puckers ...
        """
        from .text import summary_lines

        return "\n".join(summary_lines(self.report))

    def scores_table(self) -> pd.DataFrame:
        """The scores in long format (direction, side, measure, value, unit); see
        :func:`synkan.tables.scores_table`.

        Examples
        --------
        >>> t = result.scores_table()  # doctest: +SKIP
        >>> t[(t.measure == "involuntary_pct")].pivot(index="side", columns="direction", values="value")  # doctest: +SKIP
        """
        from .tables import scores_table

        return scores_table(self.report_scores)

    def landmarks_table(self) -> pd.DataFrame:
        """Landmarks and blendshapes, one row per frame; see :func:`synkan.tables.landmarks_table`."""
        from .tables import landmarks_table

        return landmarks_table(self.track)


def now_utc() -> str:
    """The current time as report.json writes it (ISO 8601, seconds, UTC)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _records(table) -> list[dict]:
    """A table as JSON records, NaN as null."""
    return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}
            for row in table.round(3).to_dict("records")]


def environment() -> dict[str, str]:
    """Versions that change landmark output or numbers: Python, MediaPipe, OpenCV, numpy, scipy
    (report.json)."""
    import platform
    from importlib import metadata

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    return {"python": platform.python_version(), "platform": platform.platform(terse=True),
            **{name: version(dist) for name, dist in (("mediapipe", "mediapipe"), ("opencv", "opencv-contrib-python"),
                                                      ("numpy", "numpy"), ("scipy", "scipy"))}}


def _settings(settings: Settings | None, overrides: dict[str, Any]) -> Settings:
    base = settings or Settings()
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = set(overrides) - known
    if unknown:
        raise TypeError(f"unknown settings {sorted(unknown)}; known: {sorted(known)}")
    return dataclasses.replace(base, **overrides) if overrides else base


def video_summary(path: str | Path, track: Track) -> dict:
    """report.json's ``video`` section, from the file and its track."""
    t = track.t_s
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    return {
        "path": str(path), "sha256": sha256_file(path), "fps": round(1.0 / dt, 3) if dt > 0 else None,
        "fps_nominal": track.meta.get("fps_nominal"), "frames": int(len(t)),
        "duration_s": round(float(t[-1] - t[0] + dt), 3) if len(t) else 0.0,
        "width": track.width, "height": track.height, "rotation_deg": track.meta.get("rotation_deg", 0),
    }




def rescore(track: Track, video: dict, settings: Settings | None = None, model: dict | None = None, *,
            visit: Visit | None = None, created: str | None = None, **overrides: Any) -> Analysis:
    """Run every stage after tracking on an existing track.

    ``visit`` and ``created`` (the analysis time) are carried into the
    result; ``created`` defaults to now.

    Examples
    --------
    >>> again = synkan.rescore(result.track, result.video, result.settings, affected="left")  # doctest: +SKIP
    >>> again.scores.scores["oral_ocular"]["affected_side"]  # doctest: +SKIP
    'left'
    """
    s = _settings(settings, overrides)
    sig = signals_process(track, s, rest_s=s.rest_span_s())
    ev = events_process(sig, s.segments)
    couplings = {d: coupling_process(sig, ev, d, s.lag_window_s) for d in DIRECTIONS}
    mv = movements_process(sig, ev, s.segments, s.protocol)
    by_movement = {d: movement_couplings(sig, ev, mv.table, d, s.lag_window_s) for d in DIRECTIONS}
    sc = scores_process(track, sig, ev, couplings, s.affected, by_movement, load_normative(s.normative))
    mx = matrix_process(sig, ev, mv, s.lag_window_s)
    scales = scales_process(mx, mv, sc.scores, s.affected)
    release_free_memory()  # the stages' temporaries, before the report is written (see synkan._util.memory)
    return Analysis(video, s, track, sig, ev, couplings, sc, model or {}, visit or Visit(), created or now_utc(),
                    movements=mv, matrix=mx, scales=scales)


def analyze(path: str | Path, settings: Settings | None = None, *, model: str | Path | None = None,
            progress: Callable[[int], None] | None = None, landmarkers: list[Landmarker] | None = None,
            visit: Visit | None = None, **overrides: Any) -> Analysis:
    """Analyse one video from start to finish.

    Parameters
    ----------
    path : str or Path
        The video.
    settings : Settings, optional
        Analysis settings; keyword arguments override single fields
        (``laterality="plain"``, ``affected="left"``, ``segments="smile:2-5"``...).
    model : str or Path, optional
        The landmark model; see :func:`synkan.measure.models.resolve_model`.
    progress : callable, optional
        Called with the number of frames tracked so far.
    landmarkers : list of Landmarker, optional
        Reused landmarkers (batch workers).
    visit : Visit, optional
        Patient ID, visit date, clinician and note, stored in report.json.

    Returns
    -------
    Analysis

    Raises
    ------
    synkan.errors.SynkanError
        Bad input, no face, or no model; the message is one line.

    Examples
    --------
    >>> result = synkan.analyze("sample_videos/control.mp4")  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
    """
    s = _settings(settings, overrides)
    if s.segments:
        from .grade.events import parse_segments

        parse_segments(s.segments)  # fail on a bad protocol before the slow tracking
    # A missing or unreadable video, tiny frames, too few frames a second: before the model is looked for.
    check_recording(probe(path, s.rotate), s.stride)
    model_path = resolve_model(model) if landmarkers is None else None
    tr = track_video(path, s, model_path=model_path, progress=progress, landmarkers=landmarkers)
    # The timestamps, not the header: 150 frames over 10 hours is no video to grade.
    n = len(tr.t_s)
    check_frame_rate((n - 1) / float(tr.t_s[-1] - tr.t_s[0]) if n > 1 else 0.0, path, s.stride)
    release_free_memory()  # the decoder's frames and MediaPipe's buffers (see synkan._util.memory)
    info = model_info(model_path) if model_path else {}
    return rescore(tr, video_summary(path, tr), s, info, visit=visit)


def load(outdir: str | Path) -> Analysis:
    """Reload a saved analysis (``track.npz`` + ``report.json``) and re-score it, without re-tracking.

    Examples
    --------
    >>> result = synkan.load("demo_out")  # doctest: +SKIP
    """
    outdir = Path(outdir)
    report = read_report(outdir)
    tr = Track.load(outdir / "track.npz")
    again = rescore(tr, report["video"], Settings(**report.get("settings", {})), report.get("model"),
                    visit=Visit.from_dict(report.get("visit")), created=report.get("created"))
    return dataclasses.replace(again, rebuilt=report.get("rebuilt"), comparison=report.get("comparison"))
