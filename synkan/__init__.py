"""synkan: measure facial synkinesis from ordinary video.

The pipeline runs one way, one subpackage per layer::

    synkan.measure   video -> tracking -> signals            track_video, signals_process
    synkan.grade     events -> movements -> coupling ->      events_process, movements_process,
                     grades -> matrix -> scales               coupling_process, scores_process,
                                                              matrix_process, scales_process
    synkan.analysis  the one place the stage order lives     analyze, rescore, load
    synkan.clinic    visits, compare, de-identify, export
    synkan.report    report.json, CSVs, figures, report.html
    synkan.batch     many videos, locally or on Dask;  synkan.synth  ground-truth videos;
    synkan.validation  accuracy against ground truth;   synkan.cli  the command line

Every stage function and its frozen result class is importable from here:
:func:`track_video` (:class:`Track`), :func:`signals_process` (:class:`Signals`),
:func:`events_process` (:class:`Events`), :func:`movements_process` (:class:`Movements`),
:func:`coupling_process` (:class:`Coupling`), :func:`scores_process` (:class:`Scores`),
:func:`matrix_process` (:class:`Matrix`), :func:`scales_process` (:class:`Scales`).
:func:`analyze` runs every stage, :func:`rescore` every stage after tracking
(re-grade without re-tracking), :func:`load` reloads a saved analysis folder,
:func:`write_outputs` writes one, and :func:`read_summary` reads a batch's summary.csv.
Nothing heavy (MediaPipe, OpenCV, matplotlib) is imported until a name is first used.

Quick start
-----------
>>> import synkan
>>> result = synkan.analyze("sample_videos/oral_ocular_left.mp4")  # doctest: +SKIP
>>> print(result.summary())  # doctest: +SKIP
>>> result.signals.data[["t", "eye_closure_r", "eye_closure_l"]].head()  # doctest: +SKIP
>>> result.scores_table()  # long format: direction, side, measure, value, unit  # doctest: +SKIP
>>> fig = synkan.plot_timeseries(result)  # a matplotlib Figure  # doctest: +SKIP

The figure functions (``plot_timeseries``, ``plot_xcorr``, ``plot_scatter``,
``plot_keyframes``, ``plot_summary_matrix``, ``save_figures``) live in
:mod:`synkan.report.figures`. Worked examples are in the ``notebooks/``
folder of the source tree. Module paths from before 0.2 (``synkan.signals``,
``synkan.scoring``, ...) still import, with a DeprecationWarning, for one
release (see the changelog).
"""
from __future__ import annotations

import importlib

from . import _compat
from ._version import __version__

# Public name -> the module that defines it.
_API = {
    "Analysis": "analysis", "analyze": "analysis", "load": "analysis", "rescore": "analysis",
    "Settings": "config", "SynkanError": "errors",
    "Track": "measure.tracking", "track_video": "measure.tracking",
    "Signals": "measure.signals", "signals_process": "measure.signals",
    "Events": "grade.events", "events_process": "grade.events",
    "Movements": "grade.movements", "movements_process": "grade.movements",
    "Coupling": "grade.coupling", "coupling_process": "grade.coupling",
    "Scores": "grade.grades", "scores_process": "grade.grades",
    "Matrix": "grade.matrix", "matrix_process": "grade.matrix",
    "Scales": "grade.scales", "scales_process": "grade.scales",
    "Visit": "visit", "read_summary": "batch.summary", "write_outputs": "report.writer",
    **{name: "report.figures" for name in ("plot_timeseries", "plot_xcorr", "plot_scatter", "plot_keyframes",
                                           "plot_summary_matrix", "save_figures")},
}

_compat.install()


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
        globals()[name] = value  # later look-ups skip this hook
        return value
    if _compat.new_module_name(f"{__name__}.{name}"):
        return _compat.import_moved(f"{__name__}.{name}")
    raise AttributeError(f"module 'synkan' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


__all__ = ["__version__", *_API]
