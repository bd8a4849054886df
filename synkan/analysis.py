"""The Python API: one call per pipeline stage, and :func:`analyze` for all of them.

The CLI calls these same functions; there is no second code path.

Examples
--------
>>> import synkan
>>> result = synkan.analyze("sample_videos/oral_ocular_left.mp4", laterality="plain")  # doctest: +SKIP
>>> result.scores.scores["oral_ocular"]["affected_side"]  # doctest: +SKIP
'left'
>>> sig = synkan.signals(result.track, cutoff_hz=4.0)  # re-run a stage, no re-tracking  # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import __version__
from .config import Settings
from .coupling import DIRECTIONS, Coupling, coupling_process
from .errors import InputError
from .events import Events, events_process
from .models import model_info, resolve_model, sha256_file
from .matrix import Matrix, matrix_process
from .movements import Movements, movements_process
from .scales import scales_process
from .scoring import Scores, scores_process
from .signals import Signals, signals_process
from .tracking import Landmarker, Track, decode_warnings, track_video

REPORT_SCHEMA = "synkan.report/1"


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
    movements: Movements | None = None
    matrix: Matrix | None = None

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
        return {
            "schema": REPORT_SCHEMA,
            "synkan_version": __version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "video": self.video,
            "settings": self.settings.to_dict(),
            "model": {k: self.model.get(k) for k in ("name", "sha256")},
            "environment": environment(),
            "qc": self.scores.qc,
            "scores": self.scores.scores,
            "events": self.events.table.round(3).to_dict("records"),
            "movements": [] if self.movements is None else _records(self.movements.table),
            "matrix": [] if self.matrix is None else self.matrix.to_records(),
            "warnings": list(self.scores.warnings),
        }

    def summary(self) -> str:
        """A short human summary, one line per direction.

        Examples
        --------
        >>> result = synkan.analyze("sample_videos/oral_ocular_left.mp4", laterality="plain")  # doctest: +SKIP
        >>> print(result.summary().splitlines()[0])  # doctest: +SKIP
        Oral-ocular synkinesis, LEFT, mild (grade 1): the left eye narrows 31% during smiles and puckers ...
        """
        from .report.text import summary_lines

        return "\n".join(summary_lines(self.report))


def _records(table) -> list[dict]:
    """A table as JSON records, NaN as null."""
    return [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}
            for row in table.round(3).to_dict("records")]


def environment() -> dict[str, str]:
    """Versions that change landmark output or numbers: Python, MediaPipe, OpenCV, numpy, scipy (report.json)."""
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


def track(path: str | Path, settings: Settings | None = None, *, model: str | Path | None = None,
          progress: Callable[[int], None] | None = None, landmarkers: list[Landmarker] | None = None, **overrides: Any) -> Track:
    """Track face landmarks through a video (the slow stage; cache it with ``Track.save``).

    Examples
    --------
    >>> tr = synkan.track("sample_videos/control.mp4", laterality="plain")  # doctest: +SKIP
    >>> tr.landmarks.shape  # doctest: +SKIP
    (300, 478, 3)
    """
    s = _settings(settings, overrides)
    return track_video(path, s, model_path=model, progress=progress, landmarkers=landmarkers)


def signals(track: Track, settings: Settings | None = None, rest_s: tuple[float, float] | None = None, **overrides: Any) -> Signals:
    """Per-side signals of a track; see :func:`synkan.signals.signals_process`.

    Parameters
    ----------
    track : Track
        From :func:`track`, ``Analysis.track`` or ``Track.load``.
    settings : Settings, optional
        Defaults to ``Settings()``; pass ``result.settings`` to keep an
        analysis' other settings. Keyword arguments override single fields
        (``cutoff_hz`` and ``laterality`` apply here).
    rest_s : (float, float), optional
        A rest segment in seconds; otherwise rest is found automatically.

    Returns
    -------
    Signals
        ``.data`` is a DataFrame, one row per frame; ``sig["eye_closure_l"]``
        is one column as a numpy array.

    Examples
    --------
    >>> sig = synkan.signals(result.track, result.settings, cutoff_hz=3.0)  # doctest: +SKIP
    >>> sig.data[["t", "eye_closure_r", "eye_closure_l"]].head()  # doctest: +SKIP
    """
    return signals_process(track, _settings(settings, overrides), rest_s=rest_s)


def events(signals: Signals, segments: str | Path | None = None) -> Events:
    """Events of a video's signals; see :func:`synkan.events.events_process`.

    Parameters
    ----------
    signals : Signals
    segments : str or Path, optional
        A user protocol (``"smile:2-5,close:7-9"``, or a CSV / JSON file)
        that overrides detection for the listed spans.

    Returns
    -------
    Events
        ``.table`` is a DataFrame (kind, start_s, end_s, duration_s, peak_s,
        peak, source); ``.of("smile")`` selects kinds, ``.counts()`` counts them.

    Examples
    --------
    >>> ev = synkan.events(sig)  # doctest: +SKIP
    >>> ev.counts()  # doctest: +SKIP
    {'blink': 1, 'eye_closure': 2, 'smile': 2, 'pucker': 0}
    >>> ev = synkan.events(sig, segments="smile:1-2.2,close:3.85-5.35")  # doctest: +SKIP
    """
    return events_process(signals, segments)


def coupling(signals: Signals, events: Events, direction: str = "oral_ocular", lag_window_s: float | None = None) -> Coupling:
    """One direction's coupling; see :func:`synkan.coupling.coupling_process`.

    Parameters
    ----------
    signals : Signals
    events : Events
    direction : {"oral_ocular", "ocular_oral"}
    lag_window_s : float, optional
        Lags searched, +/- seconds (default ``Settings().lag_window_s``, 0.5 s).

    Returns
    -------
    Coupling
        ``.sides["right"]`` / ``.sides["left"]`` hold r, lag_s, gain,
        involuntary_pct, n_events and the whole xcorr curve; ``.driver``,
        ``.responders``, ``.window`` and ``.t`` are the series behind them.

    Examples
    --------
    >>> oo = synkan.coupling(result.signals, result.events, "oral_ocular", lag_window_s=0.25)  # doctest: +SKIP
    >>> oo.sides["left"].r, oo.sides["left"].lag_s  # doctest: +SKIP
    (0.99, 0.0)
    """
    return coupling_process(signals, events, direction, lag_window_s or Settings().lag_window_s)


def rescore(track: Track, video: dict, settings: Settings | None = None, model: dict | None = None, **overrides: Any) -> Analysis:
    """Run every stage after tracking on an existing track.

    Examples
    --------
    >>> again = synkan.rescore(result.track, result.video, result.settings, affected="left")  # doctest: +SKIP
    >>> again.scores.scores["oral_ocular"]["affected_side"]  # doctest: +SKIP
    'left'
    """
    s = _settings(settings, overrides)
    sig = signals_process(track, s)
    ev = events_process(sig, s.segments)
    couplings = {d: coupling_process(sig, ev, d, s.lag_window_s) for d in DIRECTIONS}
    sc = scores_process(track, sig, ev, couplings, s.affected)
    mv = movements_process(sig, ev, s.segments, s.protocol)
    mx = matrix_process(sig, ev, mv, s.lag_window_s)
    scales, scale_warnings = scales_process(mx, mv, sc.scores, s.affected)
    sc.scores.update(scales)
    sc.warnings.extend(scale_warnings)
    sc.warnings.extend(decode_warnings(track))
    return Analysis(video, s, track, sig, ev, couplings, sc, model or {}, mv, mx)


def analyze(path: str | Path, settings: Settings | None = None, *, model: str | Path | None = None,
            progress: Callable[[int], None] | None = None, landmarkers: list[Landmarker] | None = None,
            **overrides: Any) -> Analysis:
    """Analyse one video from start to finish.

    Parameters
    ----------
    path : str or Path
        The video.
    settings : Settings, optional
        Analysis settings; keyword arguments override single fields
        (``laterality="plain"``, ``affected="left"``, ``segments="smile:2-5"``...).
    model : str or Path, optional
        The landmark model; see :func:`synkan.models.resolve_model`.
    progress : callable, optional
        Called with the number of frames tracked so far.
    landmarkers : list of Landmarker, optional
        Reused landmarkers (batch workers).

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
        from .events import parse_segments

        parse_segments(s.segments)  # fail on a bad protocol before the slow tracking
    model_path = resolve_model(model) if landmarkers is None else None
    tr = track_video(path, s, model_path=model_path, progress=progress, landmarkers=landmarkers)
    info = model_info(model_path) if model_path else {}
    return rescore(tr, video_summary(path, tr), s, info)


def load(outdir: str | Path) -> Analysis:
    """Reload a saved analysis (``track.npz`` + ``report.json``) and re-score it, without re-tracking.

    Examples
    --------
    >>> result = synkan.load("demo_out")  # doctest: +SKIP
    """
    outdir = Path(outdir)
    try:
        report = json.loads((outdir / "report.json").read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{outdir}: no readable report.json ({exc})") from None
    if report.get("schema") != REPORT_SCHEMA:
        raise InputError(f"{outdir}/report.json: unknown schema {report.get('schema')!r}")
    tr = Track.load(outdir / "track.npz")
    return rescore(tr, report["video"], Settings(**report.get("settings", {})), report.get("model"))
