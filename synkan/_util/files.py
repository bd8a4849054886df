"""How a batch writes its own files: atomically, private by default, safe to open in a spreadsheet."""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

# Spreadsheets run a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def output_modes() -> tuple[int, int]:
    """Modes of what a batch writes: the same as each analysis folder's (private by default)."""
    from ..report.writer import output_modes as modes

    return modes()


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
