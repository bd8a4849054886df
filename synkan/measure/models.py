"""The landmark model registry: where ``face_landmarker.task`` comes from.

synkan uses MediaPipe's official Face Landmarker bundle (float16, version 1).
Every copy that is used is checked against its SHA-256, wherever it was found.

Resolution order (:func:`resolve_model`):

1. an explicit path (``--model PATH``);
2. ``$SYNKAN_MODEL``;
3. ``models/face_landmarker.task`` in the source tree (next to the ``synkan/``
   package, only when running from a checkout);
4. the user cache directory (``$SYNKAN_CACHE_DIR``, else
   ``$XDG_CACHE_HOME/synkan``, else ``~/.cache/synkan``);
5. a download from the official address (or ``$SYNKAN_MODEL_URL``, e.g. a
   hospital mirror) into the user cache.

An explicit path or ``$SYNKAN_MODEL`` that is missing or corrupt is an error:
synkan never silently falls back to another copy the user did not ask for.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from .._util.files import sha256_file
from .._version import __version__
from ..errors import ModelError, one_line
from .download import CHUNK_BYTES, download_verified

__all__ = [
    "MODEL_URL",
    "MODEL_SHA256",
    "MODEL_SIZE",
    "MODEL_FILENAME",
    "MODEL_LICENSE",
    "SOURCE_MODEL_DIR",
    "user_cache_dir",
    "sha256_file",
    "resolve_model",
    "fetch_model",
    "import_model",
    "model_info",
]

log = logging.getLogger(__name__)

# --- The model, in one place ---------------------------------------------------
MODEL_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/"
    "face_landmarker/float16/1/face_landmarker.task"
)
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MODEL_SIZE = 3758596
MODEL_FILENAME = "face_landmarker.task"
MODEL_LICENSE = "Apache-2.0"

ENV_MODEL = "SYNKAN_MODEL"
ENV_CACHE_DIR = "SYNKAN_CACHE_DIR"
ENV_MODEL_URL = "SYNKAN_MODEL_URL"

_HINT = (
    "run `synkan models import FILE` with a copy of face_landmarker.task, "
    f"or set {ENV_MODEL}"
)


def _source_model_dir() -> Path | None:
    """The checkout's ``models/`` directory, or None when not run from a checkout."""
    root = Path(__file__).resolve().parents[2]  # synkan/measure/models.py -> the checkout
    if (root / "pyproject.toml").is_file() and (root / "models").is_dir():
        return root / "models"
    return None


#: ``models/`` next to the ``synkan/`` package in a source checkout (None when
#: synkan is installed from a wheel).
SOURCE_MODEL_DIR: Path | None = _source_model_dir()

_lock = threading.Lock()
# (resolved path, size, mtime_ns) -> sha256 hex digest
_sha_cache: dict[tuple[str, int, int], str] = {}


# --- Helpers ---------------------------------------------------------------------
def user_cache_dir() -> Path:
    """The per-user directory where synkan caches the model.

    Returns
    -------
    Path
        ``$SYNKAN_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/synkan``, else
        ``~/.cache/synkan``. The directory is not created.
    """
    explicit = os.environ.get(ENV_CACHE_DIR)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "synkan"



def _cached_sha256(path: Path) -> str:
    """:func:`sha256_file`, memoised per (path, size, mtime) for this process."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _lock:
        hit = _sha_cache.get(key)
    if hit is not None:
        return hit
    digest = sha256_file(path)
    with _lock:
        _sha_cache[key] = digest
    return digest


def _verify(path: Path, what: str) -> None:
    """Raise ModelError unless ``path`` is the expected model file."""
    try:
        if not path.is_file():
            raise ModelError(f"{what} {path} does not exist or is not a file: {_HINT}")
        size = path.stat().st_size
        if size != MODEL_SIZE:
            raise ModelError(
                f"{what} {path} is {size} bytes, expected {MODEL_SIZE} "
                f"(not face_landmarker.task float16 v1, or truncated): {_HINT}"
            )
        digest = _cached_sha256(path)
    except OSError as exc:
        raise ModelError(f"cannot read {what} {path}: {exc.strerror or exc}: {_HINT}") from None
    if digest != MODEL_SHA256:
        raise ModelError(
            f"{what} {path} fails its checksum (sha256 {digest[:12]}..., expected "
            f"{MODEL_SHA256[:12]}...): {_HINT}"
        )


def _as_model_file(p: str | Path) -> Path:
    """A user-given path; a directory means the model file inside it."""
    path = Path(p).expanduser()
    if path.is_dir():
        path = path / MODEL_FILENAME
    return path


# --- Public API ----------------------------------------------------------------
def resolve_model(explicit: str | Path | None = None, *, download: bool = True) -> Path:
    """Find (or fetch) a verified copy of the landmark model.

    Parameters
    ----------
    explicit : str or Path, optional
        A path given by the user (``--model``); a directory means
        ``face_landmarker.task`` inside it.
    download : bool
        Download into the user cache when no copy is found.

    Returns
    -------
    Path
        A model file whose SHA-256 matches :data:`MODEL_SHA256`.

    Raises
    ------
    ModelError
        If ``explicit`` or ``$SYNKAN_MODEL`` is missing or corrupt, a copy in
        the source tree is corrupt, or no copy is found and the download is
        disabled or fails.
    """
    if explicit is not None and str(explicit) != "":
        path = _as_model_file(explicit)
        _verify(path, "model")
        return path

    env = os.environ.get(ENV_MODEL)
    if env:
        path = _as_model_file(env)
        _verify(path, f"{ENV_MODEL} model")
        return path

    src_dir = SOURCE_MODEL_DIR
    if src_dir is not None:
        path = Path(src_dir) / MODEL_FILENAME
        if path.exists():
            _verify(path, "source-tree model")
            return path

    cache = user_cache_dir()
    path = cache / MODEL_FILENAME
    if path.exists():
        try:
            _verify(path, "cached model")
            return path
        except ModelError:
            if not download:
                raise
            log.warning("cached model %s is corrupt; downloading it again", path)

    if not download:
        raise ModelError(
            f"model not found (looked in {ENV_MODEL}, "
            + (f"{Path(src_dir) / MODEL_FILENAME}, " if src_dir is not None else "")
            + f"{path}): run `synkan models fetch`, or `synkan models import FILE` "
            f"with a copy of face_landmarker.task, or set {ENV_MODEL}"
        )

    try:
        got = fetch_model(cache)
    except ModelError as exc:
        raise ModelError(
            f"model not found and download failed ({one_line(exc, with_type=False)}): {_HINT}"
        ) from None
    return got


def fetch_model(
    dest_dir: Path | None = None,
    *,
    url: str | None = None,
    sha256: str = MODEL_SHA256,
    size: int = MODEL_SIZE,
    progress: bool = True,
    timeout_s: float = 30,
) -> Path:
    """Download the model, verify it and move it into place atomically.

    See :func:`synkan.measure.download.download_verified`: a partial or
    corrupt download never carries the final name.

    Parameters
    ----------
    dest_dir : Path, optional
        Target directory (created if needed); default :func:`user_cache_dir`.
    url : str, optional
        Where to download from: default ``$SYNKAN_MODEL_URL`` (e.g. a
        hospital mirror), else :data:`MODEL_URL`.
    sha256 : str
        Expected SHA-256 hex digest.
    size, progress, timeout_s
        As :func:`synkan.measure.download.download_verified`.

    Returns
    -------
    Path
        ``dest_dir / face_landmarker.task``.

    Raises
    ------
    ModelError
        On network errors, a wrong checksum, or an unwritable ``dest_dir``.
    """
    url = url or os.environ.get(ENV_MODEL_URL) or MODEL_URL
    dest_dir = Path(dest_dir).expanduser() if dest_dir is not None else user_cache_dir()
    final = download_verified(url, dest_dir / MODEL_FILENAME, sha256, size, progress=progress, timeout_s=timeout_s,
                              user_agent=f"synkan/{__version__}", hint=_HINT)
    log.info("model downloaded to %s", final)
    return final


def import_model(src: Path, dest_dir: Path | None = None) -> Path:
    """Install a copy of the model from a file (for machines without internet).

    The source is verified, copied to a temporary file in ``dest_dir``,
    verified again, and renamed into place atomically.

    Parameters
    ----------
    src : Path
        A copy of ``face_landmarker.task`` (float16, version 1).
    dest_dir : Path, optional
        Target directory (created if needed); default :func:`user_cache_dir`.

    Returns
    -------
    Path
        ``dest_dir / face_landmarker.task``.

    Raises
    ------
    ModelError
        If ``src`` is missing or is not the expected model, or ``dest_dir``
        cannot be written.
    """
    src = _as_model_file(src)
    _verify(src, "file to import")
    dest_dir = Path(dest_dir).expanduser() if dest_dir is not None else user_cache_dir()
    final = dest_dir / MODEL_FILENAME
    try:
        if final.exists() and os.path.samefile(src, final):
            return final
        dest_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{MODEL_FILENAME}.", suffix=".part", dir=dest_dir)
    except OSError as exc:
        raise ModelError(f"cannot write the model into {dest_dir}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        try:
            with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
                shutil.copyfileobj(inp, out, CHUNK_BYTES)
                out.flush()
                os.fsync(out.fileno())
            digest = sha256_file(tmp)
        except OSError as exc:
            raise ModelError(f"cannot copy {src} into {dest_dir}: {exc.strerror or exc}") from None
        if digest != MODEL_SHA256:
            raise ModelError(f"copy of {src} in {dest_dir} fails its checksum (disk error?); nothing was installed")
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def _classify(path: Path) -> str:
    """Which resolution rule a path corresponds to, judged by its location."""
    try:
        env = os.environ.get(ENV_MODEL)
        if env and _as_model_file(env).resolve() == path.resolve():
            return "env"
        if SOURCE_MODEL_DIR is not None and (Path(SOURCE_MODEL_DIR) / MODEL_FILENAME).resolve() == path.resolve():
            return "source"
        if (user_cache_dir() / MODEL_FILENAME).resolve() == path.resolve():
            return "cache"
    except OSError:
        pass
    return "explicit"


def model_info(path: str | Path | None = None) -> dict[str, Any]:
    """Describe the model in use (for ``synkan models path`` and report.json).

    Parameters
    ----------
    path : str or Path, optional
        A model file; default: resolve it without downloading.

    Returns
    -------
    dict
        ``path`` (absolute, str), ``sha256``, ``size`` (bytes), ``source``
        (where the file is, by the resolution order: ``"env"``, ``"source"``
        or ``"cache"``, else ``"explicit"``; a download lands in the cache),
        ``verified`` (the SHA-256 matches
        :data:`MODEL_SHA256`), plus ``name``, ``url`` and ``license``.

    Raises
    ------
    ModelError
        If the file does not exist or cannot be read (or, without ``path``,
        no verified model is found).
    """
    p = resolve_model(download=False) if path is None else _as_model_file(path)
    try:
        size = p.stat().st_size
        digest = _cached_sha256(p)
    except OSError as exc:
        raise ModelError(f"cannot read model {p}: {exc.strerror or exc}: {_HINT}") from None
    abspath = p.resolve()
    return {
        "path": str(abspath),
        "sha256": digest,
        "size": size,
        "source": _classify(p),
        "verified": digest == MODEL_SHA256,
        "name": MODEL_FILENAME,
        "url": MODEL_URL,
        "license": MODEL_LICENSE,
    }
