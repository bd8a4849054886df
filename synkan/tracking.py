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
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import eyelids, mirror, region_pixels
from .config import EYE_L, EYE_R, MIRROR_MAX_ABS_YAW_DEG, Settings
from .errors import InputError, NoFaceError
from .landmarker import Landmarker, inside_box, only_box, patient_box, select_face
from .npz import write_npz
from .video import VideoInfo, iter_frames, probe

N_LANDMARKS = 478
N_BLENDSHAPES = 52
# One face per landmark pass: looking for a second face makes MediaPipe run its
# face detector on every frame (about 25% of the landmark pass). Other people
# are kept out instead by the position gate (select_face), plus the cheap face
# detector on its own: every FACE_COUNT_INTERVAL_S to count faces (QC), and
# whenever the patient is lost, to show the landmarker only the patient.
FACE_COUNT_INTERVAL_S = 1.0
EYE_POINTS = EYE_R + EYE_L  # the 12 eye-aperture points stored from mirrored passes
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
                    "mirror_residual": ((), "f"), "eye_patches": ((2, *eyelids.PATCH_SHAPE), "u"),
                    "lid_closure": ((2,), "f"), "lid_match": ((2,), "f"),
                    "region_patches": (region_pixels.PATCH_SHAPE, "u"), "region_raise": ((region_pixels.PATCH_SHAPE[0],), "f")}
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
        :data:`FACE_COUNT_INTERVAL_S` and whenever the patient is lost); more
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
        (:mod:`synkan.eyelids`), from which the lids are measured; zero
        where ``valid`` is False. Not stored by ``--laterality plain``
        (None), which measures the lids by the mesh alone, nor by a
        de-identified track (they are face pixels), which keeps
        ``lid_closure`` / ``lid_match`` instead.
    lid_closure, lid_match : (N, 2) float64 or None
        The pixel lid measurement (:func:`synkan.eyelids.eyelids_process`)
        of a de-identified track, made from the eye patches it no longer holds.
    region_patches : (N, 4, rows, columns) uint8 or None
        Grey patches of the right and left cheek and chin
        (:mod:`synkan.region_pixels`); zero where ``valid`` is False. Stored
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
        path = Path(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".track-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as fh:
                # Uncompressed: float32 landmarks deflate by only ~5%, at ~0.5 ms per frame.
                write_npz(fh, arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

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
            arrays = _read_track_arrays(Path(path))
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


def _npy_header(zf: zipfile.ZipFile, member: zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype, int]:
    """``(shape, dtype, header bytes)`` of one ``.npy`` member, read without reading its data."""
    with zf.open(member) as fh:
        version = np.lib.format.read_magic(fh)
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in readers:
            raise ValueError(f"{member.filename}: unsupported .npy version {version}")
        shape, _, dtype = readers[version](fh)
        return tuple(shape), dtype, fh.tell()


def _check_array(name: str, shape: tuple[int, ...], dtype: np.dtype, n: int, spec) -> None:
    trailing, kinds = spec
    want = (n, *trailing)
    if dtype.hasobject or dtype.kind not in kinds or len(shape) != len(want) or any(
            w is not None and s != w for s, w in zip(shape, want)):
        raise ValueError(f"array {name} has shape {shape} and type {dtype}, expected {want} of kind {kinds!r}")


def _read_track_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a track.npz, each checked from its header before any data is read."""
    specs = {**_TRACK_ARRAYS, **_OPTIONAL_ARRAYS}
    with zipfile.ZipFile(path) as zf:
        members = {i.filename[:-4]: i for i in zf.infolist() if i.filename[:-4] in (*specs, *_TEXT_ARRAYS)}
        missing = [k for k in (*_TRACK_ARRAYS, *_TEXT_ARRAYS) if k not in members]
        if missing:
            raise KeyError(f"no {', '.join(missing)} in the file")
        declared, size = sum(m.file_size for m in members.values()), path.stat().st_size
        if declared > MAX_TRACK_EXPANSION * size:
            raise ValueError(f"it declares {declared} bytes of data in a file of {size} (a zip bomb?)")
        headers = {k: _npy_header(zf, m) for k, m in members.items()}
    n = headers["t_s"][0][0] if len(headers["t_s"][0]) == 1 else -1
    for name, (shape, dtype, header_bytes) in headers.items():
        if name in _TEXT_ARRAYS:
            if dtype.kind != "U" or len(shape) > 1 or members[name].file_size > MAX_TEXT_BYTES:
                raise ValueError(f"array {name} is not a short text array")
            continue
        _check_array(name, shape, dtype, n, specs[name])
        if members[name].file_size > header_bytes + int(np.prod(shape)) * dtype.itemsize:
            raise ValueError(f"array {name} declares more data than its shape holds")
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in headers}


def _yaw_deg(matrix: np.ndarray) -> float:
    # Yaw of MediaPipe's face transformation (rotation about the vertical axis).
    return float(np.degrees(np.arcsin(np.clip(-matrix[2, 0], -1.0, 1.0))))


class _Arrays:
    """Per-frame columns in preallocated numpy arrays, grown geometrically when needed.

    No per-frame Python objects are kept, and the final arrays are the
    buffers themselves (trimmed in place), so memory is one copy of the
    data, not a list of small arrays plus their stacked copy.
    """

    def __init__(self, capacity: int, columns: dict[str, tuple[tuple[int, ...], Any]]) -> None:
        self.n = 0
        self.capacity = max(int(capacity), 16)
        self.columns = {k: np.empty((self.capacity, *shape), dtype) for k, (shape, dtype) in columns.items()}

    def add(self, **values: Any) -> None:
        if self.n == self.capacity:
            self.capacity = int(self.capacity * 1.5) + 16
            for k, a in self.columns.items():
                grown = np.empty((self.capacity, *a.shape[1:]), a.dtype)
                grown[: self.n] = a[: self.n]
                self.columns[k] = grown
        for key, value in values.items():
            self.columns[key][self.n] = value
        self.n += 1

    def stack(self, key: str, dtype=None) -> np.ndarray:
        a = self.columns[key]
        if len(a) != self.n:
            a.resize((self.n, *a.shape[1:]), refcheck=False)  # shrinks in place
        return a


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
        :func:`synkan.models.resolve_model` when not given.
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


class FaceFollower:
    """Which face in each frame is the patient's, frame after frame (one landmarker's VIDEO-mode pass).

    The per-frame step of :func:`track_video`, kept apart so that a live
    camera stream (:mod:`synkan.live`) follows the face exactly as a file is
    followed. Other people are kept out by the position gate
    (:func:`~synkan.landmarker.select_face`); the cheap face detector counts
    faces every :data:`FACE_COUNT_INTERVAL_S` and, whenever the patient is
    lost, shows the landmarker only the patient.
    """

    def __init__(self, landmarker: Landmarker) -> None:
        self.landmarker = landmarker
        self.center: np.ndarray | None = None  # the patient's landmark centre, normalised
        self.width: float | None = None
        self.faces_seen = 0
        self.counted_at = -np.inf

    def step(self, rgb: np.ndarray, t_s: float):
        """Landmark one frame: ``(FaceArrays, index of the patient's face or None)``."""
        landmarker, center = self.landmarker, self.center
        result = landmarker.detect_arrays(rgb, t_s)
        chosen = select_face(result.faces, center)
        if chosen is None or center is None or t_s - self.counted_at >= FACE_COUNT_INTERVAL_S:
            boxes = landmarker.face_boxes(rgb)
            self.faces_seen, self.counted_at = len(boxes), t_s
            target = patient_box(boxes, center, self.width)
            # Lost, or on someone else (the gate refused them), or at the
            # start not on the largest face: show the landmarker only the patient.
            if target is not None and (chosen is None or (center is None and not inside_box(result.faces[chosen], target))):
                landmarker.reset()  # drop the face it tracks now, so it detects afresh in this very frame
                result = landmarker.detect_arrays(only_box(rgb, target), t_s)
                chosen = select_face(result.faces, center)
        if chosen is not None:
            face = result.faces[chosen]
            self.center, self.width = face[:, :2].mean(axis=0), float(np.ptp(face[:, 0]))
        return result, chosen

    def n_faces(self, chosen: int | None) -> int:
        """Faces in view by the latest count (at least one when the patient was found)."""
        return max(self.faces_seen, int(chosen is not None))


def _track_frames(info: VideoInfo, settings: Settings, landmarkers: list[Landmarker], use_mirror: bool, progress) -> Track:
    plain = landmarkers[0]
    columns = dict(t_s=((), np.float64), frame_index=((), np.int64), n_faces=((), np.int8), valid=((), bool),
                   landmarks=((N_LANDMARKS, 3), np.float32), blendshapes=((N_BLENDSHAPES,), np.float32),
                   pose_matrix=((4, 4), np.float32))
    # Eye patches are for the pixel lid measurement (mirror tracks keep them to
    # compare all three); plain mode stays at the cost of the landmark pass and
    # measures by the mesh alone. Cheek and chin patches (as much memory again)
    # only for a recorded clinic protocol, whose scales use them.
    keys = settings.tracking_key()
    use_patches, use_skin = keys["eye_patches"], keys["skin_patches"]
    if use_patches:
        columns["eye_patches"] = ((2, *eyelids.PATCH_SHAPE), np.uint8)
    if use_skin:
        columns["region_patches"] = (region_pixels.PATCH_SHAPE, np.uint8)
    if use_mirror:
        columns.update(mirror_eyes=((2, len(EYE_POINTS), 3), np.float32), mirror_valid=((2,), bool), mirror_residual=((), np.float32))
    declared = info.n_frames_nominal // settings.stride + 2 if info.n_frames_nominal > 0 else 1024
    expected = min(declared, os.path.getsize(info.path) // MIN_BYTES_PER_FRAME + 2)
    store = _Arrays(expected, columns)
    nan_eyes = np.full((2, len(EYE_POINTS), 3), np.nan, np.float32)
    follower = FaceFollower(plain)
    names: tuple[str, ...] = ()
    # Normalised -> original pixels, per axis (a downscaled frame's rounded size
    # would otherwise stretch the aspect ratio); z uses the x scale, as MediaPipe's.
    to_px = np.array([info.width, info.height, info.width], np.float32)
    frame_px = None  # normalised -> the decoded (possibly downscaled) frame's pixels
    # closing(): an exception or Ctrl-C in the loop stops the decoder thread now,
    # not when the traceback is garbage-collected.
    frames = contextlib.closing(iter_frames(info.path, rotate=settings.rotate, stride=settings.stride, max_size=settings.max_size))
    with frames as stream:
        for count, frame in enumerate(stream, 1):
            if frame_px is None:
                frame_px = np.array(frame.rgb.shape[1::-1], np.float32)
            result, chosen = follower.step(frame.rgb, frame.t_s)
            center = follower.center
            faces = result.faces
            row: dict[str, Any] = dict(t_s=frame.t_s, frame_index=frame.index, n_faces=follower.n_faces(chosen))
            if chosen is None:
                row.update(landmarks=np.nan, blendshapes=np.nan, pose_matrix=np.nan, valid=False)
                row.update({k: 0 for k in ("eye_patches", "region_patches") if k in columns})
                eyes, eyes_ok, residual = nan_eyes, (False, False), np.nan
            else:
                face = faces[chosen]
                # Normalised -> original pixels; MediaPipe's z uses roughly the x scale.
                px = face * to_px
                shapes = result.blendshapes[chosen] if chosen < len(result.blendshapes) else None
                if shapes is not None and len(shapes) == N_BLENDSHAPES and not names:
                    names = result.names
                matrix = result.matrices[chosen] if chosen < len(result.matrices) else np.full((4, 4), np.nan, np.float32)
                row.update(landmarks=px, blendshapes=shapes if shapes is not None and len(shapes) == N_BLENDSHAPES else np.nan,
                           pose_matrix=matrix, valid=True)
                xy_px = face[:, :2] * frame_px
                if use_patches:
                    row["eye_patches"] = eyelids.extract_eye_patches(frame.rgb, xy_px)
                if use_skin:
                    row["region_patches"] = region_pixels.extract_region_patches(frame.rgb, xy_px)
                eyes, eyes_ok, residual = nan_eyes, (False, False), np.nan
                if use_mirror:
                    eyes, eyes_ok, residual = _mirror_passes(frame, face, matrix, landmarkers[1:], center)
            if use_mirror:
                row.update(mirror_eyes=eyes, mirror_valid=eyes_ok, mirror_residual=residual)
            store.add(**row)
            if progress is not None:
                progress(count)
    if not store.n:
        raise InputError(f"{info.path}: no decodable video frame")
    mirror_fields = {}
    if use_mirror:
        mirror_fields = dict(mirror_eyes=store.stack("mirror_eyes", np.float32), mirror_valid=store.stack("mirror_valid", bool),
                             mirror_residual=store.stack("mirror_residual", np.float32))
    return Track(
        t_s=store.stack("t_s", np.float64), frame_index=store.stack("frame_index", np.int64),
        landmarks=store.stack("landmarks", np.float32), blendshapes=store.stack("blendshapes", np.float32),
        pose_matrix=store.stack("pose_matrix", np.float32), valid=store.stack("valid", bool),
        n_faces=store.stack("n_faces", np.int8), eye_patches=store.stack("eye_patches") if use_patches else None,
        region_patches=store.stack("region_patches") if use_skin else None,
        blendshape_names=names or tuple(f"blendshape_{i}" for i in range(N_BLENDSHAPES)),
        width=info.width, height=info.height,
        meta={"video": info.path, "fps_nominal": info.fps_nominal, "rotation_deg": info.rotation_deg,
              "n_frames_nominal": info.n_frames_nominal,
              "settings": settings.tracking_key()},
        **mirror_fields,
    )


def _mirror_passes(frame, face: np.ndarray, matrix: np.ndarray, landmarkers: list[Landmarker], center: np.ndarray):
    """Landmark the two eye-band composites; eye points in original pixels."""
    h, w = frame.rgb.shape[:2]
    xy = face[:, :2] * np.array([w, h], np.float32)
    eyes = np.full((2, len(EYE_POINTS), 3), np.nan, np.float32)
    ok = [False, False]
    midline = mirror.fit_midline(xy)
    if abs(_yaw_deg(matrix)) > MIRROR_MAX_ABS_YAW_DEG:
        # Every composite also keeps the landmarker fed, so its tracking and
        # timestamps stay in step with the plain pass.
        for landmarker in landmarkers:
            landmarker.detect(frame.rgb, frame.t_s)
        return eyes, tuple(ok), midline.residual
    for side, landmarker in enumerate(landmarkers):
        composite = mirror.eye_band_composite(frame.rgb, xy, midline, side="right" if side == 0 else "left")
        faces = landmarker.detect_arrays(composite, frame.t_s).faces
        chosen = select_face(faces, center)
        if chosen is not None:
            eyes[side] = faces[chosen][list(EYE_POINTS)] * np.array([w / frame.scale, h / frame.scale, w / frame.scale], np.float32)
            ok[side] = True
    return eyes, tuple(ok), midline.residual
