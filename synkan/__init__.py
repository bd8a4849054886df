"""synkan: measure facial synkinesis from ordinary video.

The pipeline, one module per stage, each with its public function::

    video -> tracking -> signals -> events -> coupling -> scoring -> report
             track_video  signals_process  events_process  coupling_process  scores_process

``import synkan.signals`` (or ``help(synkan.signals)``) gives the module, whose
docstring defines the signals and their units; the stage functions are
importable from here too: :func:`track_video`, :func:`signals_process`,
:func:`events_process`, :func:`coupling_process`. :func:`analyze` runs every
stage, :func:`rescore` every stage after tracking (re-grade without
re-tracking), :func:`load` reloads a saved analysis folder, and
:func:`read_summary` reads a batch's summary.csv.

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
:mod:`synkan.report.figures`; they are importable from here too, and
matplotlib is only imported when one is first used. Worked examples are in
the ``notebooks/`` folder of the source tree.
"""
import os as _os

# MediaPipe's and OpenCV's native logging would otherwise flood the terminal.
_os.environ.setdefault("GLOG_minloglevel", "2")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

__version__ = "0.1.0"

from .analysis import Analysis, analyze, load, rescore  # noqa: E402
from .config import Settings  # noqa: E402
from .coupling import coupling_process  # noqa: E402
from .errors import SynkanError  # noqa: E402
from .events import events_process  # noqa: E402
from .signals import signals_process  # noqa: E402
from .batch.summary import read_summary  # noqa: E402
from .tracking import Track, track_video  # noqa: E402
from .visit import Visit  # noqa: E402

# Figure functions, imported on first use so that `import synkan` does not import matplotlib.
_FIGURES = ("plot_timeseries", "plot_xcorr", "plot_scatter", "plot_keyframes", "plot_summary_matrix", "save_figures")


def __getattr__(name: str):
    if name in _FIGURES:
        from .report import figures

        return getattr(figures, name)
    raise AttributeError(f"module 'synkan' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_FIGURES))


__all__ = ["Analysis", "Settings", "SynkanError", "Track", "Visit", "analyze", "coupling_process", "events_process", "load",
           "read_summary", "rescore", "signals_process", "track_video", "__version__", *_FIGURES]
