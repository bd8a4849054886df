"""How synkan writes files: atomically, private by default, safe to open in a spreadsheet.

Private: files are 0600 and folders 0700 (reports, key frames and tracks show
or describe the patient's face), unless ``$SYNKAN_SHARED_OUTPUTS=1``, which
makes them follow the umask instead. Reading goes through
:func:`read_regular_text`: only a regular file of bounded size, so that a
FIFO or ``/dev/zero`` named like an input can neither hang nor exhaust memory.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator

from ..errors import InputError

ENV_SHARED_OUTPUTS = "SYNKAN_SHARED_OUTPUTS"
PRIVATE_FILE_MODE, PRIVATE_DIR_MODE = 0o600, 0o700
# Spreadsheets run a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _umask() -> int:
    try:  # read the umask without changing it (os.umask is process-wide, racy with threads)
        status = Path("/proc/self/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Umask:")), 8)
    except (OSError, StopIteration, ValueError, IndexError):
        return 0o022


def output_modes() -> tuple[int, int]:
    """``(file_mode, folder_mode)`` of everything synkan writes.

    Private (0600, 0700) by default; with ``$SYNKAN_SHARED_OUTPUTS=1`` the
    user's umask decides, as for any other program.
    """
    if os.environ.get(ENV_SHARED_OUTPUTS, "") not in ("", "0"):
        mask = _umask()
        return 0o666 & ~mask, 0o777 & ~mask
    return PRIVATE_FILE_MODE, PRIVATE_DIR_MODE


def make_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) with the output folder mode; an existing folder is left as it
    is."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for p in missing:
        os.chmod(p, output_modes()[1])


def csv_safe(table):
    """A copy of ``table`` whose text cells cannot start a spreadsheet formula (a leading ``'`` is added)."""
    return table.map(lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v)


def safe_name(text: str, default: str = "video") -> str:
    """``text`` as a short file name (no leading ``-``: it would start a formula in a spreadsheet)."""
    return (re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._").lstrip("-") or default)[:60]


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp)`` on a hidden temporary file beside ``path``, then move it into place with the output
    mode."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, output_modes()[0])
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def partial_file(final: Path) -> Iterator[Path]:
    """A hidden ``.NAME.part.EXT`` beside ``final`` to write; moved into place (output mode) at the end.

    The extension stays last (a video writer picks the container by it). An
    error, Ctrl-C or SIGTERM (see :mod:`synkan._util.process`) removes the
    partial file, and so does the stderr helper if the process crashes.
    """
    from .native_stderr import removed_if_crashed

    tmp = final.with_name(f".{final.stem}.part{final.suffix}")
    try:
        with removed_if_crashed(tmp):
            yield tmp
            os.chmod(tmp, output_modes()[0])
            os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def save_figure(fig, path: Path, dpi: int = 110) -> None:
    """Save a matplotlib Figure (made without pyplot) as a PNG, atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))


def open_regular(path: str | Path, max_bytes: int, what: str = "file") -> BinaryIO:
    """``path`` opened for binary reading, once checked to be a regular file of at most ``max_bytes``.

    The one check every input file goes through (report.json, settings,
    segments, tables, tracks, key frames): a FIFO named like an input must not
    hang the run, nor ``/dev/zero`` fill the memory.

    Raises
    ------
    InputError
        Missing, unreadable, not a regular file (a FIFO, device, socket or
        folder) or too large; in one line.
    """
    path = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    st = os.fstat(fd)
    too_large = f"the {what} is too large ({st.st_size} bytes; at most {max_bytes})"
    problem = (f"the {what} is not a regular file" if not stat.S_ISREG(st.st_mode) else
               too_large if st.st_size > max_bytes else "")
    if problem:
        os.close(fd)
        raise InputError(f"{path}: {problem}")
    return os.fdopen(fd, "rb")  # (a folder's fd would not even make a file object)


def read_regular_bytes(path: str | Path, max_bytes: int, what: str = "file") -> bytes:
    """The content of ``path``, a regular file of at most ``max_bytes`` (see :func:`open_regular`)."""
    with open_regular(path, max_bytes, what) as fh:
        data = fh.read(max_bytes + 1)  # a file growing while read is still bounded
    if len(data) > max_bytes:
        raise InputError(f"{path}: the {what} is too large (more than {max_bytes} bytes)")
    return data


def read_regular_text(path: str | Path, max_bytes: int, what: str = "file") -> str:
    """The UTF-8 text of ``path``, which must be a regular file of at most ``max_bytes``.

    Raises
    ------
    InputError
        Missing, not a regular file (a FIFO, device, socket or folder), too
        large, or not UTF-8 text; in one line.
    """
    try:
        return read_regular_bytes(path, max_bytes, what).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: the {what} is not UTF-8 text") from None


def remove_stale(folder: Path, prefix: str, suffix: str = "", older_than_s: float = 0.0) -> None:
    """Remove what an interrupted run of ours left in ``folder``: entries named ``prefix*suffix``.

    Call it only where no other run can be writing such an entry (under the
    output's lock), or with ``older_than_s`` longer than any run may take.
    """
    import shutil
    import time

    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            if not (entry.name.startswith(prefix) and entry.name.endswith(suffix)):
                continue
            with contextlib.suppress(OSError):
                if time.time() - entry.lstat().st_mtime < older_than_s:
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink()


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """SHA-256 of a file, read in chunks (constant memory for large videos).

    Parameters
    ----------
    path : str or Path
        The file to hash.
    chunk_size : int
        Bytes read at a time.

    Returns
    -------
    str
        The lowercase hex digest.

    Raises
    ------
    OSError
        If the file cannot be read.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk_size)
            if not block:
                break
            h.update(block)
    return h.hexdigest()
