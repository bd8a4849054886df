"""How synkan writes files: atomically, private by default, safe to open in a spreadsheet.

Private: files are 0600 and folders 0700 (reports, key frames and tracks show
or describe the patient's face), unless ``$SYNKAN_SHARED_OUTPUTS=1``, which
makes them follow the umask instead. Reading goes through
:func:`read_regular_text`: only a regular file of bounded size, so that a
FIFO or ``/dev/zero`` named like an input can neither hang nor exhaust memory.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from pathlib import Path

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
    """Create ``path`` (and missing parents) with the output folder mode; an existing folder is left as it is."""
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
    """Call ``write(tmp)`` on a hidden temporary file beside ``path``, then move it into place with the output mode."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, output_modes()[0])
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def save_figure(fig, path: Path, dpi: int = 110) -> None:
    """Save a matplotlib Figure (made without pyplot) as a PNG, atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))


def read_regular_text(path: str | Path, max_bytes: int, what: str = "file") -> str:
    """The UTF-8 text of ``path``, which must be a regular file of at most ``max_bytes``.

    Raises
    ------
    InputError
        Missing, not a regular file (a FIFO, device, socket or folder), too
        large, or not UTF-8 text; in one line.
    """
    path = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{path}: the {what} is not a regular file")
        if st.st_size > max_bytes:
            raise InputError(f"{path}: the {what} is too large ({st.st_size} bytes; at most {max_bytes})")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputError(f"{path}: the {what} is too large (more than {max_bytes} bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: the {what} is not UTF-8 text") from None


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
