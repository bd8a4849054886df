"""MediaPipe's FaceLandmarker and face detector, and which face is the patient.

:class:`Landmarker` wraps a VIDEO-mode FaceLandmarker (one face per pass)
together with the face detector inside the same model bundle, and returns
numpy arrays. :func:`select_face` and :func:`patient_box` keep the patient:
never switch to another person in the frame.
"""
from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import sys
import threading
import weakref
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .video import FRAME_ALIGNMENT_BYTES, aligned_empty

# One face per landmark pass: looking for a second face makes MediaPipe run its
# face detector on every frame (about 25% of the landmark pass). Other people
# are kept out instead by the position gate (select_face), plus the cheap face
# detector on its own: every FACE_COUNT_INTERVAL_S to count faces (QC), and
# whenever the patient is lost, to show the landmarker only the patient (FaceFollower).
FACE_COUNT_INTERVAL_S = 1.0
REACQUIRE_BOX_FACE_WIDTHS = 2.0  # the part of the frame the landmarker sees while re-finding the patient
FACE_DETECTOR_MIN_CONFIDENCE = 0.5


@contextlib.contextmanager
def quiet_native_logs():
    """Silence MediaPipe's C++ start-up logging, which writes straight to fd 2."""
    # MediaPipe writes to file descriptor 2 whatever sys.stderr is (a notebook's
    # or pytest's stand-in has no usable fileno()), so quiet fd 2 itself.
    fd = 2
    try:
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
    try:
        saved = os.dup(fd)
    except OSError:  # no fd 2 at all
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)
        os.close(devnull)


class Landmarker:
    """A VIDEO-mode FaceLandmarker that can be reused across videos.

    MediaPipe needs strictly increasing timestamps per landmarker, and it
    carries its face-tracking state from frame to frame. :meth:`reset`
    starts a new video: timestamps continue after the last one, and a blank
    frame clears the tracking state so results do not depend on which video
    came before.
    """

    def __init__(self, model_path: str | Path, num_faces: int = 1) -> None:
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path)),
            running_mode=vision.RunningMode.VIDEO,
            num_faces=num_faces,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        self._offset_ms = 0
        self._last_ms = -1
        self._model_path = Path(model_path)
        self._detector = None
        with quiet_native_logs():
            self._landmarker = vision.FaceLandmarker.create_from_options(options)
            self.detect(np.zeros((64, 64, 3), np.uint8), 0.0)  # first inference logs too
        self._read_c = c_result_reader(self._landmarker)
        # MediaPipe's own __del__ fails noisily at interpreter exit (its dispatcher
        # thread pool is shut down by then): close the tasks while they still work,
        # once, whoever forgets to (a batch worker's cached landmarkers, a notebook).
        self._tasks = [self._landmarker]
        self._close = weakref.finalize(self, _close_tasks, self._tasks)
        self._close.atexit = False
        _before_thread_pools_stop(self._close)

    def face_boxes(self, rgb: np.ndarray) -> np.ndarray:
        """Every face in the frame by MediaPipe's face detector (the one inside the model bundle).

        Returns
        -------
        (K, 4) array
            ``x0, y0, x1, y1`` of each face, normalised to the frame's size.
        """
        from mediapipe.tasks.python import BaseOptions, vision

        if self._detector is None:
            with zipfile.ZipFile(self._model_path) as bundle:
                detector_model = bundle.read("face_detector.tflite")
            options = vision.FaceDetectorOptions(base_options=BaseOptions(model_asset_buffer=detector_model),
                                                 running_mode=vision.RunningMode.IMAGE,
                                                 min_detection_confidence=FACE_DETECTOR_MIN_CONFIDENCE)
            with quiet_native_logs():
                self._detector = vision.FaceDetector.create_from_options(options)
                self._detector.detect(mp_image(np.zeros((64, 64, 3), np.uint8)))
            self._tasks.append(self._detector)
        h, w = rgb.shape[:2]
        found = self._detector.detect(mp_image(rgb)).detections
        boxes = [(b.origin_x / w, b.origin_y / h, (b.origin_x + b.width) / w, (b.origin_y + b.height) / h)
                 for b in (d.bounding_box for d in found)]
        return np.array(boxes, float).reshape(-1, 4)

    def _timestamp_ms(self, t_s: float) -> int:
        ms = self._offset_ms + int(round(t_s * 1000.0))
        ms = max(ms, self._last_ms + 1)  # duplicate or backwards timestamps in broken files
        self._last_ms = ms
        return ms

    def detect(self, rgb: np.ndarray, t_s: float):
        """Run the landmarker on one RGB frame at time ``t_s`` (seconds in the current video)."""
        ms = self._timestamp_ms(t_s)
        return self._landmarker.detect_for_video(mp_image(rgb), ms)

    def detect_arrays(self, rgb: np.ndarray, t_s: float) -> "FaceArrays":
        """As :meth:`detect`, with the result as numpy arrays.

        The arrays are read straight from MediaPipe's C result where this
        MediaPipe has the C interface synkan knows (:func:`c_result_reader`):
        its Python API turns every landmark into a Python object first (0.85
        of 11 ms per frame, measured on this machine). Elsewhere the public
        result is converted.
        """
        if self._read_c is None:
            return _face_arrays(self.detect(rgb, t_s))
        return self._read_c(mp_image(rgb), self._timestamp_ms(t_s))

    def reset(self) -> None:
        """Forget the face tracked so far; the next frame starts a new video."""
        self._offset_ms = self._last_ms + 1000
        self._last_ms = self._offset_ms - 1
        self.detect(np.zeros((64, 64, 3), np.uint8), 0.0)
        self._offset_ms = self._last_ms + 1000

    def close(self) -> None:
        """Release MediaPipe's resources (safe to call more than once)."""
        self._close()


def _before_thread_pools_stop(callback: Callable[[], Any]) -> None:
    """Run ``callback`` at exit before concurrent.futures stops its thread pools.

    Plain ``atexit`` runs too late; threading's exit hooks run in reverse
    order of registration, so one registered now runs before the pools'
    (registered when concurrent.futures was imported).
    """
    register = getattr(threading, "_register_atexit", None)
    (register or atexit.register)(callback)


def aligned(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` (uint8) as a C-contiguous array whose data start on a :data:`FRAME_ALIGNMENT_BYTES` boundary.

    MediaPipe's inference runner copies a misaligned input and says so on
    stderr from native code (no Python logger can silence it); numpy only
    guarantees 16-byte alignment. The decoder's frames are aligned already
    and pass through unchanged.

    Examples
    --------
    >>> a = aligned(np.zeros((5, 7, 3), np.uint8)[1:])
    >>> a.ctypes.data % FRAME_ALIGNMENT_BYTES, a.shape, a.flags.c_contiguous
    (0, (4, 7, 3), True)
    """
    if rgb.flags.c_contiguous and rgb.ctypes.data % FRAME_ALIGNMENT_BYTES == 0:
        return rgb
    out = aligned_empty(rgb.shape)
    out[...] = rgb
    return out


def mp_image(rgb: np.ndarray):
    """``rgb`` (uint8) as a MediaPipe SRGB image, from :func:`aligned` data."""
    import mediapipe as mp

    return mp.Image(image_format=mp.ImageFormat.SRGB, data=aligned(rgb))


def _close_tasks(tasks: list) -> None:
    with quiet_native_logs():
        for task in tasks:
            task.close()


def c_result_reader(landmarker) -> Callable | None:
    """``read(image, timestamp_ms) -> FaceArrays`` through MediaPipe's C interface, or None without it.

    Calls the same C function as ``FaceLandmarker.detect_for_video`` (with
    its status checks) and copies the landmarks, blendshape scores and
    matrices out of the C result with numpy before freeing it.
    """
    try:
        from mediapipe.tasks.python.vision.face_landmarker import MpFaceLandmarkerResultC

        lib, handle = landmarker._lib, landmarker._handle
        detect, close = lib.MpFaceLandmarkerDetectForVideo, lib.MpFaceLandmarkerCloseResult
    except (ImportError, AttributeError):  # another MediaPipe: the public API
        return None

    def read(image, timestamp_ms: int) -> FaceArrays:
        result = MpFaceLandmarkerResultC()
        detect(handle, image._image_ptr, None, timestamp_ms, ctypes.byref(result))
        try:
            return face_arrays_from_c(result)
        finally:
            close(ctypes.byref(result))

    return read


def _c_floats(items, count: int, fields: tuple[str, ...]) -> np.ndarray:
    """Named float fields of ``count`` C structs at pointer ``items``, as a (count, len(fields)) float32
    copy."""
    struct = items._type_
    if not count:
        return np.empty((0, len(fields)), np.float32)
    size = ctypes.sizeof(struct)
    raw = (ctypes.c_char * (size * count)).from_address(ctypes.addressof(items.contents))
    layout = np.dtype({"names": list(fields), "formats": ["<f4"] * len(fields),
                       "offsets": [getattr(struct, f).offset for f in fields], "itemsize": size})
    records = np.frombuffer(raw, layout)
    return np.stack([records[f] for f in fields], axis=1)


def face_arrays_from_c(result) -> FaceArrays:
    """FaceArrays from MediaPipe's C ``MpFaceLandmarkerResultC`` (copied: the result is freed after)."""
    faces = [_c_floats(f.landmarks, f.landmarks_count, ("x", "y", "z"))
             for f in result.face_landmarks[:result.face_landmarks_count]]
    shapes = result.face_blendshapes[:result.face_blendshapes_count]
    scores = [_c_floats(c.categories, c.categories_count, ("score",))[:, 0] for c in shapes]
    names = tuple(c.category_name.decode() for c in shapes[0].categories[:shapes[0].categories_count]) if shapes else ()
    matrices = [np.asarray(m.to_numpy(), np.float32)
                for m in result.facial_transformation_matrixes[:result.facial_transformation_matrixes_count]]
    return FaceArrays(faces, scores, matrices, names)


def _face_array(face) -> np.ndarray:
    return np.array([(p.x, p.y, p.z) for p in face], dtype=np.float32)


@dataclass(frozen=True)
class FaceArrays:
    """One frame's landmarker output as arrays (normalised coordinates)."""

    faces: list  # of (478, 3) float32
    blendshapes: list  # of (52,) float32, parallel to faces (may be empty)
    matrices: list  # of (4, 4) float32, parallel to faces (may be empty)
    names: tuple  # blendshape names ('' until known)


def _face_arrays(result) -> FaceArrays:
    """FaceArrays from MediaPipe's public result objects (the slow, always-available path)."""
    shapes = result.face_blendshapes or []
    names = tuple(c.category_name for c in shapes[0]) if shapes else ()
    return FaceArrays([_face_array(f) for f in result.face_landmarks],
                      [np.array([c.score for c in s], np.float32) for s in shapes],
                      [np.asarray(m, np.float32) for m in (result.facial_transformation_matrixes or [])], names)


def select_face(faces: list[np.ndarray], previous_center: np.ndarray | None) -> int | None:
    """Index of the patient's face among normalised landmark arrays.

    The first time, the largest face; afterwards the face nearest to where
    the patient was, and none if every face is farther than one face width
    (the patient left the frame: never switch to another person).
    """
    if not faces:
        return None
    centers = np.array([f[:, :2].mean(axis=0) for f in faces])
    widths = np.array([np.ptp(f[:, 0]) for f in faces])
    if previous_center is None:
        heights = np.array([np.ptp(f[:, 1]) for f in faces])
        return int(np.argmax(widths * heights))
    distances = np.linalg.norm(centers - previous_center, axis=1)
    best = int(np.argmin(distances))
    return best if distances[best] <= widths[best] else None


def patient_box(boxes: np.ndarray, previous_center: np.ndarray | None, previous_width: float | None) -> np.ndarray | None:
    """The face-detector box that is the patient: the largest at the start, then the nearest within one face
    width.

    Examples
    --------
    >>> boxes = np.array([[0.1, 0.1, 0.3, 0.4], [0.6, 0.2, 0.7, 0.3]])
    >>> patient_box(boxes, None, None).tolist()
    [0.1, 0.1, 0.3, 0.4]
    >>> patient_box(boxes, np.array([0.62, 0.22]), 0.1).tolist()
    [0.6, 0.2, 0.7, 0.3]
    >>> patient_box(boxes, np.array([0.9, 0.9]), 0.1) is None
    True
    """
    if not len(boxes):
        return None
    if previous_center is None:
        return boxes[int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))]
    centers = (boxes[:, :2] + boxes[:, 2:]) / 2
    distances = np.linalg.norm(centers - previous_center, axis=1)
    best = int(np.argmin(distances))
    return boxes[best] if distances[best] <= previous_width else None


def only_box(rgb: np.ndarray, box: np.ndarray, grow: float = REACQUIRE_BOX_FACE_WIDTHS) -> np.ndarray:
    """A copy of the frame that is mid-grey outside ``box`` (normalised) grown ``grow``-fold about its
    centre."""
    h, w = rgb.shape[:2]
    center, half = (box[:2] + box[2:]) / 2, grow * (box[2:] - box[:2]) / 2
    x0, y0 = np.clip(((center - half) * (w, h)).astype(int), 0, None)
    x1, y1 = np.ceil((center + half) * (w, h)).astype(int)
    out = np.full_like(rgb, 128)
    out[y0:y1, x0:x1] = rgb[y0:y1, x0:x1]
    return out


def inside_box(face: np.ndarray, box: np.ndarray) -> bool:
    """Whether the centre of the (normalised) landmarks lies inside ``box``."""
    cx, cy = face[:, :2].mean(axis=0)
    return bool(box[0] <= cx <= box[2] and box[1] <= cy <= box[3])


class FaceFollower:
    """Which face is the patient's, carried from frame to frame (position, width, faces counted lately).

    :meth:`step` is the per-frame landmarking of :func:`synkan.measure.tracking.track_video`, kept
    apart so that a live camera stream (:mod:`synkan.live`) follows the face exactly as a file is
    followed.
    """

    def __init__(self) -> None:
        self.center: np.ndarray | None = None
        self.width: float | None = None
        self.faces_seen, self.counted_at = 0, -np.inf
        self.names: tuple[str, ...] = ()

    def step(self, plain: Landmarker, frame):
        """Landmark one frame (``.rgb``, ``.t_s``): ``(result, index of the patient's face or None)``."""
        result, chosen = self.choose(plain, frame, plain.detect_arrays(frame.rgb, frame.t_s))
        if chosen is not None:
            face = result.faces[chosen]
            self.center, self.width = face[:, :2].mean(axis=0), float(np.ptp(face[:, 0]))
        return result, chosen

    def choose(self, plain: Landmarker, frame, result):
        """``(result, index of the patient's face or None)``; re-detects on the patient alone when needed."""
        chosen = select_face(result.faces, self.center)
        if chosen is None or self.center is None or frame.t_s - self.counted_at >= FACE_COUNT_INTERVAL_S:
            boxes = plain.face_boxes(frame.rgb)
            self.faces_seen, self.counted_at = len(boxes), frame.t_s
            target = patient_box(boxes, self.center, self.width)
            # Lost, or on someone else (the gate refused them), or at the
            # start not on the largest face: show the landmarker only the patient.
            if target is not None and (chosen is None or (self.center is None
                                                          and not inside_box(result.faces[chosen], target))):
                plain.reset()  # drop the face it tracks now, so it detects afresh in this very frame
                result = plain.detect_arrays(only_box(frame.rgb, target), frame.t_s)
                chosen = select_face(result.faces, self.center)
        return result, chosen
