"""Measure: from a video file to per-frame, per-side signals.

``video`` (frames and true timestamps) -> ``landmarker`` / ``tracking``
(MediaPipe FaceLandmarker -> :class:`~synkan.measure.tracking.Track`) ->
``align`` (head pose removed) -> ``eyelids``, ``texture``, ``regions``,
``mirror`` (side-specific geometry from pixels and mesh) -> ``signals``
(:class:`~synkan.measure.signals.Signals`). ``mesh`` holds every face-mesh
landmark index, ``models`` finds and checks the landmark model.
"""
import os as _os

# Native libraries read these once, when first loaded, and every stage of this
# package may be the first to load OpenCV or MediaPipe: without them their own
# log lines ("moov atom not found", TFLite's INFO) would break the one-line
# error promise. setdefault keeps a user's own choice.
_os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
_os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
_os.environ.setdefault("GLOG_minloglevel", "2")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
