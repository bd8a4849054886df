"""Write a comparison of visits (``synkan compare``): compare.json, compare.html and its figures, atomically.

Like an analysis folder, the output is staged in a hidden sibling and swapped
into place, is private (0600/0700) unless ``$SYNKAN_SHARED_OUTPUTS`` is set,
and an existing comparison is replaced only with ``force``; a folder holding
anything else is never replaced.
"""
from __future__ import annotations

import fnmatch
import io
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .._util.files import read_regular_bytes, read_regular_text
from .._util.native_stderr import removed_if_crashed
from ..clinic.compare import compare_reports, load_reports
from ..errors import InputError, OutputError
from .writer import apply_modes, lock_outdir, resolve_outdir, swap_in, write_json

KEYFRAMES = Path("figures") / "keyframes.png"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_KEYFRAMES_BYTES = 20_000_000  # the key-frame figure is about 1 MB
MAX_TABLE_BYTES = 1_000_000_000  # signals.csv of an hour at 60 frames/s is a few hundred MB
COMPARE_FILES = ("compare.json", "compare.html", "figures/side_difference.png", "figures/timeseries.png")


def _check(outdir: Path, force: bool) -> None:
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: exists and is not a folder")
    if not outdir.is_dir() or not any(outdir.iterdir()):
        return
    if not force:
        raise OutputError(f"{outdir}: holds results already; use --force to replace them")
    entries = [p.relative_to(outdir).as_posix() for p in outdir.rglob("*") if not p.is_dir()]
    foreign = [e for e in entries if not any(fnmatch.fnmatchcase(e, pattern) for pattern in COMPARE_FILES)]
    if foreign or not (outdir / "compare.json").is_file():
        raise OutputError(f"{outdir}: holds files that are not a synkan comparison ({(foreign or entries or ['empty folders'])[0]}); "
                          "not replacing it, even with --force")


def _read_table(path: Path, numeric: tuple[str, ...], text: tuple[str, ...] = ()) -> pd.DataFrame:
    """A visit's CSV table, bounded and checked: ``numeric`` columns finite numbers, ``text`` ones present."""
    data = read_regular_text(path, MAX_TABLE_BYTES, "table")
    try:
        table = pd.read_csv(io.StringIO(data))
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: not a readable CSV table ({type(exc).__name__})") from None
    missing = [c for c in (*numeric, *text) if c not in table.columns]
    if missing:
        raise InputError(f"{path}: no column {missing[0]!r} (not a synkan table)")
    for column in numeric:
        values = pd.to_numeric(table[column], errors="coerce")
        if not (values.notna() | table[column].isna()).all() or np.isinf(values).any():
            raise InputError(f"{path}: column {column!r} holds values that are not finite numbers")
        table[column] = values
    return table


def _keyframes(folder: Path) -> bytes | None:
    """A visit's ``figures/keyframes.png``: only a PNG of bounded size inside the visit's folder, else None.

    A link out of the folder (to any readable file) or a huge or non-PNG
    file would otherwise be embedded in compare.html.
    """
    path = folder / KEYFRAMES
    if not path.exists() or not os.path.realpath(path).startswith(os.path.realpath(folder) + os.sep):
        return None
    try:
        data = read_regular_bytes(path, MAX_KEYFRAMES_BYTES, "key frames")
    except InputError:
        return None
    return data if data.startswith(PNG_MAGIC) else None


def _read_visits(folders: list[Path]) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[bytes | None]]:
    """Each visit's signals, events and key frames (checked)."""
    from .compare_figures import ROWS

    signal_columns = ("t", *(f"{stem}_{side}" for stem, _ in ROWS for side in "rl"))
    signals = [_read_table(f / "signals.csv", signal_columns) for f in folders]
    events = [_read_table(f / "events.csv", ("start_s", "end_s"), ("kind",)) for f in folders]
    return signals, events, [_keyframes(f) for f in folders]


def write_compare(folders: list[str | Path], outdir: str | Path, force: bool = False) -> tuple[Path, dict]:
    """Compare the analyses in ``folders`` (oldest first) and write the comparison to ``outdir``.

    Returns
    -------
    (Path, dict)
        The output folder and compare.json's content.

    Raises
    ------
    InputError
        A folder is not an analysis, or the visits do not belong together.
    OutputError
        ``outdir`` cannot be written or holds other files.
    """
    folders = [Path(f) for f in folders]
    comparison = compare_reports(load_reports(folders))
    outdir = resolve_outdir(outdir)
    _check(outdir, force)
    signals, events, keyframes = _read_visits(folders)
    with lock_outdir(outdir):
        _check(outdir, force)  # another comparison may have finished while this one read
        _write(comparison, outdir, signals, events, keyframes)
    return outdir, comparison


def _write(comparison: dict, outdir: Path, signals: list[pd.DataFrame], events: list[pd.DataFrame],
           keyframes: list[bytes | None]) -> None:
    """Write the comparison into a staging folder and swap it into place."""
    staging = None
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.tmp-", dir=outdir.parent))
        with removed_if_crashed(staging):
            _fill(staging, comparison, signals, events, keyframes)
            apply_modes(staging)
            swap_in(staging, outdir)
    except OSError as exc:
        raise OutputError(f"{outdir}: cannot write the comparison ({exc.strerror or exc}); an earlier one was left "
                          "as it was") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def _fill(staging: Path, comparison: dict, signals: list[pd.DataFrame], events: list[pd.DataFrame],
          keyframes: list[bytes | None]) -> None:
    from .compare_figures import plot_side_difference, plot_visits_timeseries
    from .compare_html import render_compare_html
    from .figures import DPI

    labels = [v["label"] for v in comparison["visits"]]
    (staging / "figures").mkdir()
    pngs = {}
    for name, fig in (("side_difference", plot_side_difference(comparison)),
                      ("timeseries", plot_visits_timeseries(signals, events, labels))):
        pngs[name] = staging / "figures" / f"{name}.png"
        fig.savefig(pngs[name], dpi=DPI, facecolor="white")
    write_json(staging / "compare.json", comparison)
    html = render_compare_html(comparison, pngs, list(zip(labels, keyframes)))
    (staging / "compare.html").write_text(html, encoding="utf-8")
