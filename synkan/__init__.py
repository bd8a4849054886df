"""synkan: measure facial synkinesis from ordinary video.

The pipeline, one module per stage::

    video -> tracking -> signals -> events -> coupling -> scoring -> report

Quick start
-----------
>>> import synkan
>>> result = synkan.analyze("sample_videos/oral_ocular_left.mp4")  # doctest: +SKIP
>>> print(result.summary())  # doctest: +SKIP
"""
__version__ = "0.1.0"

from .analysis import Analysis, analyze, coupling, events, load, rescore, signals, track  # noqa: E402
from .config import Settings  # noqa: E402
from .errors import SynkanError  # noqa: E402
from .tracking import Track  # noqa: E402

__all__ = ["Analysis", "Settings", "SynkanError", "Track", "analyze", "coupling", "events", "load", "rescore",
           "signals", "track", "__version__"]
