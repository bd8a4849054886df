"""Stream video frames with their true timestamps, in constant memory.

Frames are decoded in a background thread into a small bounded queue, so
decoding overlaps with landmarking and memory does not grow with length.
Timestamps come from the decoder (``CAP_PROP_POS_MSEC``), not from
``index / fps``: phones record at a variable frame rate.
"""
from __future__ import annotations

import math
import os
import queue
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..errors import InputError, SynkanError

QUEUE_FRAMES = 8  # decoded frames buffered ahead of the landmarker
FRAME_ALIGNMENT_BYTES = 64  # MediaPipe's LiteRT runner copies (and warns about) less aligned images
DECODE_STALL_S = 120.0  # no frame from the decoder for this long: give up
# MediaPipe's face detector needs a face some tens of pixels wide; a frame smaller than this holds none.
MIN_FRAME_SIDE_PX = 32
# Blinks last 100-400 ms: below 5 frames/s (200 ms apart) a blink, or a twitch, may fall between two
# frames, so neither it nor the synkinesis it drives can be measured.
MIN_ANALYSIS_FPS = 5.0
_ROTATE_CODES = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video, after rotation.

    ``width`` and ``height`` are of the upright frame in original pixels;
    ``n_frames_nominal`` and ``fps_nominal`` are the container's claims and may
    be wrong for variable-frame-rate or truncated files.
    """

    path: str
    width: int
    height: int
    fps_nominal: float
    n_frames_nominal: int
    rotation_deg: int


@dataclass(frozen=True)
class Frame:
    """One decoded frame: ``rgb`` is upright and downscaled by ``scale`` (<= 1)."""

    index: int
    t_s: float
    rgb: np.ndarray
    scale: float


def check_regular_file(path: str | Path) -> None:
    """Refuse anything but a non-empty regular file, without opening it.

    A FIFO or a device (``/dev/zero``) named ``*.mp4`` would block or never
    end when read.

    Raises
    ------
    InputError
        With the reason, in one line.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is a directory, not a video file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: not a regular file (a FIFO, device or socket), not a video file")
    if st.st_size == 0:
        raise InputError(f"{path}: file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: cannot read (permission denied)")


def _open(path: Path, rotate: int | None) -> cv2.VideoCapture:
    check_regular_file(path)
    # OpenCV logs a failed open at its ERROR level ("Could not find decoder for codec_id=0");
    # the InputError below says it in one line.
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    finally:
        cv2.utils.logging.setLogLevel(level)
    if not cap.isOpened():
        raise InputError(f"{path}: not a readable video (unknown format or corrupt file)")
    # A user rotation replaces the file's rotation metadata.
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0 if rotate is not None else 1)
    return cap


def _rotation(cap: cv2.VideoCapture, rotate: int | None) -> int:
    if rotate is not None:
        return int(rotate) % 360
    return int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0) % 360


def read_frames_at(path: str | Path, frame_indices: list[int], rotate: int | None = None) -> dict[int, np.ndarray]:
    """Upright RGB frames by file frame index (seeking; for a few key frames, not for streaming).

    Frames that cannot be decoded are left out of the result.

    Raises
    ------
    InputError
        The file cannot be opened as a video.
    """
    cap = _open(Path(path), rotate)
    frames: dict[int, np.ndarray] = {}
    try:
        for index in sorted(set(frame_indices)):
            cap.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, bgr = cap.read()
            if not ok or bgr is None:
                continue
            if rotate:
                bgr = cv2.rotate(bgr, _ROTATE_CODES[rotate])
            frames[index] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()
    return frames


def probe(path: str | Path, rotate: int | None = None) -> VideoInfo:
    """Open a video, decode its first frame and describe it.

    Raises
    ------
    InputError
        If the path is missing, a directory, empty, not a video, or has no
        decodable frame (for example an audio-only file).
    """
    path = Path(path)
    cap = _open(path, rotate)
    try:
        ok, frame = cap.read()
        if not ok or frame is None:
            raise InputError(f"{path}: no decodable video frame (audio-only, truncated or corrupt file)")
        if not cap.grab():
            raise InputError(f"{path}: only one decodable frame: a still image, not a video")
        if rotate:
            frame = cv2.rotate(frame, _ROTATE_CODES[rotate])
        height, width = frame.shape[:2]
        return VideoInfo(
            path=str(path),
            width=int(width),
            height=int(height),
            fps_nominal=float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
            n_frames_nominal=int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
            rotation_deg=_rotation(cap, rotate),
        )
    finally:
        cap.release()


def check_recording(info: VideoInfo, stride: int = 1) -> None:
    """Refuse, before tracking, frames too small to hold a face and a frame rate too low to see a blink.

    Raises
    ------
    InputError
        Frames under :data:`MIN_FRAME_SIDE_PX`, or a declared frame rate
        (divided by ``stride``) under :data:`MIN_ANALYSIS_FPS`; in one line.
    """
    if min(info.width, info.height) < MIN_FRAME_SIDE_PX:
        raise InputError(f"{info.path}: frames of {info.width}x{info.height} pixels are too small to hold a "
                         "face "
                         f"(at least {MIN_FRAME_SIDE_PX} pixels a side)")
    if info.fps_nominal > 0:
        check_frame_rate(info.fps_nominal / stride, info.path, stride)


def check_frame_rate(fps: float, path: str | Path, stride: int = 1) -> None:
    """Refuse an analysed frame rate under :data:`MIN_ANALYSIS_FPS` (blinks and twitches fall between frames).

    Raises
    ------
    InputError
        In one line, with the rate and the limit.
    """
    if not fps >= MIN_ANALYSIS_FPS:
        every = f" (every {stride}th frame)" if stride > 1 else ""
        raise InputError(f"{path}: {fps:.3g} frames/s analysed{every}: below {MIN_ANALYSIS_FPS:g}, a blink "
                         "(100-400 ms) can fall between two frames; use a normal video rate or a smaller "
                         "--stride")


def downscale_factor(width: int, height: int, max_size: int | None) -> float:
    """Scale (<= 1) that brings the longer side to at most ``max_size`` pixels."""
    if not max_size or max(width, height) <= max_size:
        return 1.0
    return max_size / max(width, height)


def _decode(path: Path, rotate: int | None, stride: int, max_size: int | None, out: queue.Queue, stop: threading.Event) -> None:
    cap = None
    try:
        cap = _open(path, rotate)
        fps = cap.get(cv2.CAP_PROP_FPS)
        step_s = 1.0 / fps if fps and math.isfinite(fps) and 1.0 <= fps <= 1000.0 else 1.0 / 30.0
        last_t = -math.inf
        index = 0
        while not stop.is_set():
            if index % stride:
                # grab() skips the colour conversion of frames we do not use.
                if not cap.grab():
                    break
                index += 1
                continue
            ok, bgr = cap.read()
            if not ok or bgr is None:
                break
            t_s = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            if not math.isfinite(t_s) or t_s <= last_t:
                # A frame without a timestamp, or a duplicate/backwards one in a
                # damaged file: keep time strictly increasing.
                t_s = last_t + step_s * stride if math.isfinite(last_t) else 0.0
            last_t = t_s
            if rotate:
                bgr = cv2.rotate(bgr, _ROTATE_CODES[rotate])
            scale = downscale_factor(bgr.shape[1], bgr.shape[0], max_size)
            if scale < 1.0:
                bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=aligned_empty(bgr.shape))
            while not stop.is_set():
                try:
                    out.put(Frame(index, t_s, rgb, scale), timeout=0.1)
                    break
                except queue.Full:
                    continue
            index += 1
    except BaseException as exc:  # hand decoder failures to the consumer
        _put(out, exc, stop)
    finally:
        if cap is not None:
            cap.release()
        _put(out, None, stop)


def _put(out: queue.Queue, item, stop: threading.Event) -> None:
    """Queue ``item`` unless the consumer has gone (``stop``), never blocking forever."""
    while True:
        try:
            out.put(item, timeout=0.1)
            return
        except queue.Full:
            if stop.is_set():
                return


def aligned_empty(shape: tuple[int, ...], alignment: int = FRAME_ALIGNMENT_BYTES) -> np.ndarray:
    """An uninitialised uint8 array whose data start on an ``alignment``-byte boundary.

    Examples
    --------
    >>> aligned_empty((4, 7, 3)).ctypes.data % FRAME_ALIGNMENT_BYTES
    0
    """
    n = int(np.prod(shape))
    buffer = np.empty(n + alignment, np.uint8)
    start = -buffer.ctypes.data % alignment
    return buffer[start:start + n].reshape(shape)


def iter_frames(
    path: str | Path, *, rotate: int | None = None, stride: int = 1, max_size: int | None = None
) -> Iterator[Frame]:
    """Yield upright RGB frames with decoder timestamps, decoded in a background thread.

    Parameters
    ----------
    path : str or Path
        The video file.
    rotate : {None, 0, 90, 180, 270}
        Clockwise rotation to apply instead of the file's rotation metadata.
    stride : int
        Yield every ``stride``-th frame (the others are skipped undecoded).
    max_size : int, optional
        Downscale so that the longer side is at most this many pixels.

    Yields
    ------
    Frame
        ``t_s`` is seconds from the decoder's presentation timestamp.

    Examples
    --------
    >>> for frame in iter_frames("clip.mp4", max_size=640):  # doctest: +SKIP
    ...     print(frame.t_s, frame.rgb.shape)
    """
    path = Path(path)
    _open(path, rotate).release()  # raise input errors here, in the caller's thread
    frames: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
    stop = threading.Event()
    worker = threading.Thread(target=_decode, args=(path, rotate, stride, max_size, frames, stop), daemon=True,
                              name=f"synkan-decoder:{path.name}")
    worker.start()
    try:
        waited = 0.0
        while True:
            try:
                item = frames.get(timeout=0.5)
            except queue.Empty:
                waited += 0.5
                if not worker.is_alive():
                    return
                if waited >= DECODE_STALL_S:
                    raise InputError(f"{path}: the decoder stalled for {DECODE_STALL_S:.0f} s (corrupt file?)") from None
                continue
            waited = 0.0
            if item is None:
                return
            if isinstance(item, SynkanError):
                raise item
            if isinstance(item, BaseException):
                raise InputError(f"{path}: decoding failed: {item}")
            yield item
    finally:
        stop.set()
        # Drain so the decoder thread is never blocked on a full queue; a
        # decoder stuck inside FFmpeg is a daemon thread and is left behind.
        deadline = time.monotonic() + 5.0
        while worker.is_alive() and time.monotonic() < deadline:
            try:
                frames.get(timeout=0.05)
            except queue.Empty:
                pass
        worker.join(timeout=max(0.0, deadline - time.monotonic()))
