"""synkan: measure facial synkinesis from ordinary video.

The pipeline, one module per stage::

    video -> tracking -> signals -> events -> coupling -> scoring -> report

Quick start
-----------
>>> import synkan
>>> result = synkan.analyze("sample_videos/oral_ocular_left.mp4")  # doctest: +SKIP
>>> print(result.summary())  # doctest: +SKIP
"""
import os as _os

# MediaPipe's and OpenCV's native logging would otherwise flood the terminal.
_os.environ.setdefault("GLOG_minloglevel", "2")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")

__version__ = "0.1.0"

from .analysis import Analysis, analyze, coupling, events, load, rescore, signals, track  # noqa: E402
from .config import Settings  # noqa: E402
from .errors import SynkanError  # noqa: E402
from .tracking import Track  # noqa: E402

__all__ = ["Analysis", "Settings", "SynkanError", "Track", "analyze", "coupling", "events", "load", "rescore",
           "signals", "track", "__version__"]
