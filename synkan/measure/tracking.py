"""MediaPipe FaceLandmarker (VIDEO mode) over a video -> :class:`Track`.

A frame without the patient's face keeps its row, with NaN landmarks and
``valid=False``, so the timeline never shifts. Landmarks are stored in the
original video's pixels (x, y, and z on the x scale), as float32, never
rounded.
"""
from __future__ import annotations

import contextlib
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .._util.columns import FrameColumns
from .._util.files import atomic_write
from .._util.npz import read_npz_checked, write_npz
from ..config import Settings
from ..errors import InputError, NoFaceError
from . import eyepatch, mirror, texture
from .landmarker import FaceFollower, Landmarker
from .mesh import EYE_POINTS
from .video import VideoInfo, iter_frames, probe

N_LANDMARKS = 478
N_BLENDSHAPES = 52
TRACK_SCHEMA = "synkan.track/1"
# A container's frame count is a claim (a damaged AVI said 2**31 - 1). It is
# believed up to one frame per MIN_BYTES_PER_FRAME of the file (no codec
# stores a frame in less), so a real video's store is allocated once: growing
# it copies the whole track, briefly doubling memory on long videos. Unwritten
# preallocated rows cost address space, not memory.
MIN_BYTES_PER_FRAME = 16
# track.npz arrays: shape after the frame axis (None: any length) and dtype kinds.
_TRACK_ARRAYS = {"t_s": ((), "f"), "frame_index": ((), "iu"), "landmarks": ((N_LANDMARKS, 3), "f"),
                 "blendshapes": ((None,), "f"), "pose_matrix": ((4, 4), "f"), "valid": ((), "b"), "n_faces": ((), "iu")}
_OPTIONAL_ARRAYS = {"mirror_eyes": ((2, len(EYE_POINTS), 3), "f"), "mirror_valid": ((2,), "b"),
                    "mirror_residual": ((), "f"), "eye_patches": ((2, *eyepatch.PATCH_SHAPE), "u"),
                    "lid_closure": ((2,), "f"), "lid_match": ((2,), "f"),
                    "region_patches": (texture.PATCH_SHAPE, "u"), "region_raise": ((texture.PATCH_SHAPE[0],), "f")}
_TEXT_ARRAYS = ("blendshape_names", "info")
MAX_TEXT_BYTES = 1 << 20  # names and the info JSON are a few kB
# save() stores arrays uncompressed, so a track's data is about its size on
# disk; far more than that, declared inside the zip, is a zip bomb.
MAX_TRACK_EXPANSION = 20


@dataclass(frozen=True)
class Track:
    """Per-frame face landmarks of one video.

    Attributes
    ----------
    t_s : (N,) float64
        Decoder timestamps in seconds.
    frame_index : (N,) int64
        Index of the frame in the file (differs from the row with ``stride``).
    landmarks : (N, 478, 3) float32
        Landmarks in original-video pixels; NaN where ``valid`` is False.
    blendshapes : (N, 52) float32
        MediaPipe blendshape scores (auxiliary; not used for laterality).
    pose_matrix : (N, 4, 4) float32
        MediaPipe's facial transformation matrix.
    valid : (N,) bool
        The patient's face was found.
    n_faces : (N,) int8
        Faces in view by the face detector's latest count (made every
        :data:`~synkan.measure.landmarker.FACE_COUNT_INTERVAL_S` and whenever the patient is lost); more
        than one: another person.
    mirror_eyes : (N, 2, 12, 3) float32 or None
        Eye-aperture landmarks (``EYE_R + EYE_L``) found in the right- and
        left-hemiface eye-band composites (``--laterality mirror``).
    mirror_valid : (N, 2) bool or None
        A face was found in each composite and the frame passed the yaw gate.
    mirror_residual : (N,) float32 or None
        RMS distance of the midline landmarks from the fitted midline, in
        eye widths (mirror QC).
    eye_patches : (N, 2, rows, columns) uint8 or None
        Grey patches of the subject's right and left eye in eye coordinates
        (:mod:`synkan.measure.eyelids`), from which the lids are measured; zero
        where ``valid`` is False. Not stored by ``--laterality plain``
        (None), which measures the lids by the mesh alone, nor by a
        de-identified track (they are face pixels), which keeps
        ``lid_closure`` / ``lid_match`` instead.
    lid_closure, lid_match : (N, 2) float64 or None
        The pixel lid measurement (:func:`synkan.measure.eyelids.eyelids_process`)
        of a de-identified track, made from the eye patches it no longer holds.
    region_patches : (N, 4, rows, columns) uint8 or None
        Grey patches of the right and left cheek and chin
        (:mod:`synkan.measure.texture`); zero where ``valid`` is False. Stored
        for a clinic protocol (``--protocol``) with the eye patches; a
        de-identified track keeps ``region_raise``
        instead.
    region_raise : (N, 4) float64 or None
        The cheek and chin lift measured from those patches, of a
        de-identified track.
    blendshape_names : tuple of str
    width, height : int
        Upright frame size in original pixels.
    meta : dict
        Video path, nominal fps, rotation, settings used.
    """

    t_s: np.ndarray
    frame_index: np.ndarray
    landmarks: np.ndarray
    blendshapes: np.ndarray
    pose_matrix: np.ndarray
    valid: np.ndarray
    n_faces: np.ndarray
    blendshape_names: tuple[str, ...]
    width: int
    height: int
    meta: dict = field(default_factory=dict)
    mirror_eyes: np.ndarray | None = None
    mirror_valid: np.ndarray | None = None
    mirror_residual: np.ndarray | None = None
    eye_patches: np.ndarray | None = None
    lid_closure: np.ndarray | None = None
    lid_match: np.ndarray | None = None
    region_patches: np.ndarray | None = None
    region_raise: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.t_s)

    @property
    def face_fraction(self) -> float:
        """Share of frames in which the patient's face was found."""
        return float(self.valid.mean()) if len(self) else 0.0

    def save(self, path: str | Path) -> None:
        """Write the track to ``path`` (``.npz``), atomically."""
        arrays = {
            "t_s": self.t_s,
            "frame_index": self.frame_index,
            "landmarks": self.landmarks,
            "blendshapes": self.blendshapes,
            "pose_matrix": self.pose_matrix,
            "valid": self.valid,
            "n_faces": self.n_faces,
            "blendshape_names": np.array(self.blendshape_names, dtype=str),
            "info": np.array(json.dumps({"schema": TRACK_SCHEMA, "width": self.width, "height": self.height, "meta": self.meta})),
        }
        if self.mirror_eyes is not None:
            arrays.update(mirror_eyes=self.mirror_eyes, mirror_valid=self.mirror_valid, mirror_residual=self.mirror_residual)
        for name in ("eye_patches", "lid_closure", "lid_match", "region_patches", "region_raise"):
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        def write(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                # Uncompressed: float32 landmarks deflate by only ~5%, at ~0.5 ms per frame.
                write_npz(fh, arrays)

        atomic_write(Path(path), write)

    @classmethod
    def load(cls, path: str | Path) -> "Track":
        """Read a track written by :meth:`save`, checking it first.

        Raises
        ------
        InputError
            If the file is not a zip, declares more data than its size
            allows, or holds arrays of the wrong shape or type, times that
            are not finite and increasing, or a bad info record.
        """
        try:
            arrays = read_npz_checked(Path(path), _TRACK_ARRAYS, _OPTIONAL_ARRAYS, _TEXT_ARRAYS, MAX_TEXT_BYTES,
                                      MAX_TRACK_EXPANSION)
            info = json.loads(str(arrays.pop("info")))
            schema = info.get("schema") if isinstance(info, dict) else None
            if schema != TRACK_SCHEMA:
                raise InputError(f"{path}: not a synkan track (schema {schema!r})")
            t = arrays["t_s"]
            if not (np.isfinite(t).all() and (np.diff(t) > 0).all()):
                raise InputError(f"{path}: damaged track: frame times are not finite and increasing")
            width, height, meta = int(info["width"]), int(info["height"]), info["meta"]
            if width <= 0 or height <= 0 or not isinstance(meta, dict):
                raise InputError(f"{path}: damaged track: bad frame size or metadata")
            names = tuple(str(s) for s in arrays.pop("blendshape_names"))
            return cls(**arrays, blendshape_names=names, width=width, height=height, meta=meta)
        except (OSError, KeyError, TypeError, ValueError, EOFError, RuntimeError, NotImplementedError,
                zipfile.BadZipFile, zlib.error) as exc:
            raise InputError(f"{path}: cannot read track ({' '.join(str(exc).split()) or type(exc).__name__})") from None




def track_video(
    path: str | Path,
    settings: Settings = Settings(),
    *,
    model_path: str | Path | None = None,
    landmarkers: list[Landmarker] | None = None,
    progress: Callable[[int], None] | None = None,
) -> Track:
    """Track the patient's face landmarks through a video.

    Parameters
    ----------
    path : str or Path
        The video file.
    settings : Settings
        ``stride``, ``max_size``, ``rotate`` and ``laterality`` apply here.
    model_path : str or Path, optional
        The ``face_landmarker.task`` bundle; resolved by
        :func:`synkan.measure.models.resolve_model` when not given.
    landmarkers : list of Landmarker, optional
        Reuse landmarkers (one, or three for mirror mode) across videos, as
        batch workers do; they are reset first.
    progress : callable, optional
        Called with the number of frames done so far (for progress bars).

    Returns
    -------
    Track

    Raises
    ------
    InputError
        The file is not a readable video.
    NoFaceError
        No face was found in any frame.
    """
    info = probe(path, settings.rotate)
    use_mirror = settings.laterality == "mirror"
    own = landmarkers is None
    if own:
        from .models import resolve_model

        model = resolve_model(model_path)
        landmarkers = [Landmarker(model) for _ in range(3 if use_mirror else 1)]
    if use_mirror and len(landmarkers) < 3:
        raise ValueError("mirror laterality needs three landmarkers")
    try:
        for landmarker in landmarkers:
            landmarker.reset()
        track = _track_frames(info, settings, landmarkers, use_mirror, progress)
    finally:
        if own:
            for landmarker in landmarkers:
                landmarker.close()
    if not track.valid.any():
        raise NoFaceError(f"{path}: no face found in any of {len(track)} frames")
    return track


def decode_warnings(track: Track) -> list[str]:
    """Warnings about the decoding itself, for report.json.

    A truncated or damaged file often decodes only part way although its
    container declares more frames: the analysis then covers the decoded
    part, and says so.
    """
    nominal = int(track.meta.get("n_frames_nominal") or 0)
    if not len(track) or nominal <= 0:
        return []
    decoded = int(track.frame_index[-1]) + 1
    stride = int(track.meta.get("settings", {}).get("stride") or 1)
    if decoded >= nominal - max(2, stride, 0.02 * nominal):
        return []
    return [f"decoded only {decoded} of the {nominal} frames the file declares (up to {track.t_s[-1]:.2f} s): "
            f"truncated or damaged file; results cover the decoded part"]


def _column_specs(settings: Settings, use_mirror: bool) -> dict[str, tuple[tuple[int, ...], Any]]:
    """The per-frame arrays a track of these settings stores: ``name -> (shape after the frame axis,
    dtype)``."""
    columns = dict(t_s=((), np.float64), frame_index=((), np.int64), n_faces=((), np.int8), valid=((), bool),
                   landmarks=((N_LANDMARKS, 3), np.float32), blendshapes=((N_BLENDSHAPES,), np.float32),
                   pose_matrix=((4, 4), np.float32))
    # Eye patches are for the pixel lid measurement (mirror tracks keep them to
    # compare all three); plain mode stays at the cost of the landmark pass and
    # measures by the mesh alone. Cheek and chin patches (as much memory again)
    # only for a recorded clinic protocol, whose scales use them.
    keys = settings.tracking_key()
    if keys["eye_patches"]:
        columns["eye_patches"] = ((2, *eyepatch.PATCH_SHAPE), np.uint8)
    if keys["skin_patches"]:
        columns["region_patches"] = (texture.PATCH_SHAPE, np.uint8)
    if use_mirror:
        columns.update(mirror_eyes=((2, len(EYE_POINTS), 3), np.float32), mirror_valid=((2,), bool),
                       mirror_residual=((), np.float32))
    return columns


def _face_row(frame, result, chosen: int, follow: FaceFollower, to_px: np.ndarray,
              columns: dict) -> dict[str, Any]:
    """The stored values of a frame with the patient's face (and its blendshape names into ``follow``)."""
    face = result.faces[chosen]
    shapes = result.blendshapes[chosen] if chosen < len(result.blendshapes) else None
    full = shapes is not None and len(shapes) == N_BLENDSHAPES
    if full and not follow.names:
        follow.names = result.names
    matrix = result.matrices[chosen] if chosen < len(result.matrices) else np.full((4, 4), np.nan, np.float32)
    # Normalised -> original pixels; MediaPipe's z uses roughly the x scale.
    row = dict(landmarks=face * to_px, blendshapes=shapes if full else np.nan, pose_matrix=matrix, valid=True)
    xy_px = face[:, :2] * np.array(frame.rgb.shape[1::-1], np.float32)  # the decoded (maybe downscaled) frame
    if "eye_patches" in columns:
        row["eye_patches"] = eyepatch.extract_eye_patches(frame.rgb, xy_px)
    if "region_patches" in columns:
        row["region_patches"] = texture.extract_region_patches(frame.rgb, xy_px)
    return row


def _track_frames(info: VideoInfo, settings: Settings, landmarkers: list[Landmarker], use_mirror: bool,
                  progress) -> Track:
    """Landmark every decoded frame (plus the mirrored passes) into a :class:`Track`."""
    plain = landmarkers[0]
    columns = _column_specs(settings, use_mirror)
    declared = info.n_frames_nominal // settings.stride + 2 if info.n_frames_nominal > 0 else 1024
    store = FrameColumns(min(declared, os.path.getsize(info.path) // MIN_BYTES_PER_FRAME + 2), columns)
    nan_eyes = np.full((2, len(EYE_POINTS), 3), np.nan, np.float32)
    follow = FaceFollower()
    # Normalised -> original pixels, per axis (a downscaled frame's rounded size
    # would otherwise stretch the aspect ratio); z uses the x scale, as MediaPipe's.
    to_px = np.array([info.width, info.height, info.width], np.float32)
    # closing(): an exception or Ctrl-C in the loop stops the decoder thread now,
    # not when the traceback is garbage-collected.
    frames = contextlib.closing(iter_frames(info.path, rotate=settings.rotate, stride=settings.stride,
                                            max_size=settings.max_size))
    with frames as stream:
        for count, frame in enumerate(stream, 1):
            result, chosen = follow.step(plain, frame)
            row: dict[str, Any] = dict(t_s=frame.t_s, frame_index=frame.index,
                                       n_faces=max(follow.faces_seen, int(chosen is not None)))
            eyes, eyes_ok, residual = nan_eyes, (False, False), np.nan
            if chosen is None:
                row.update(landmarks=np.nan, blendshapes=np.nan, pose_matrix=np.nan, valid=False)
                row.update({k: 0 for k in ("eye_patches", "region_patches") if k in columns})
            else:
                row.update(_face_row(frame, result, chosen, follow, to_px, columns))
                if use_mirror:
                    eyes, eyes_ok, residual = mirror.landmark_composites(frame, result.faces[chosen], row["pose_matrix"],
                                                             landmarkers[1:], follow.center)
            if use_mirror:
                row.update(mirror_eyes=eyes, mirror_valid=eyes_ok, mirror_residual=residual)
            store.add(**row)
            if progress is not None:
                progress(count)
    if not store.n:
        raise InputError(f"{info.path}: no decodable video frame")
    return _to_track(store, info, settings, follow.names)


def _to_track(store: FrameColumns, info: VideoInfo, settings: Settings, names: tuple[str, ...]) -> Track:
    """The stored columns as a :class:`Track` (optional arrays None when not stored)."""
    optional = {k: store.stack(k) if k in store.columns else None
                for k in ("eye_patches", "region_patches", "mirror_eyes", "mirror_valid", "mirror_residual")}
    return Track(
        t_s=store.stack("t_s"), frame_index=store.stack("frame_index"), landmarks=store.stack("landmarks"),
        blendshapes=store.stack("blendshapes"), pose_matrix=store.stack("pose_matrix"), valid=store.stack("valid"),
        n_faces=store.stack("n_faces"), **optional,
        blendshape_names=names or tuple(f"blendshape_{i}" for i in range(N_BLENDSHAPES)),
        width=info.width, height=info.height,
        meta={"video": info.path, "fps_nominal": info.fps_nominal, "rotation_deg": info.rotation_deg,
              "n_frames_nominal": info.n_frames_nominal, "settings": settings.tracking_key()},
    )


