"""Write a comparison of visits (``synkan compare``): compare.json, compare.html and its figures, atomically.

Like an analysis folder, the output is staged in a hidden sibling and swapped
into place, is private (0600/0700) unless ``$SYNKAN_SHARED_OUTPUTS`` is set,
and an existing comparison is replaced only with ``force``; a folder holding
anything else is never replaced.
"""
from __future__ import annotations

import fnmatch
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from ..clinic.compare import compare_reports, load_reports
from ..errors import InputError, OutputError
from .writer import apply_modes, resolve_outdir, swap_in, write_json

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


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read ({type(exc).__name__})") from None


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
    from .compare_figures import plot_side_difference, plot_visits_timeseries
    from .compare_html import render_compare_html
    from .figures import DPI

    folders = [Path(f) for f in folders]
    comparison = compare_reports(load_reports(folders))
    outdir = resolve_outdir(outdir)
    _check(outdir, force)
    labels = [v["label"] for v in comparison["visits"]]
    signals = [_read_csv(f / "signals.csv") for f in folders]
    events = [_read_csv(f / "events.csv") for f in folders]
    outdir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.tmp-", dir=outdir.parent))
    try:
        (staging / "figures").mkdir()
        pngs = {}
        for name, fig in (("side_difference", plot_side_difference(comparison)),
                          ("timeseries", plot_visits_timeseries(signals, events, labels))):
            pngs[name] = staging / "figures" / f"{name}.png"
            fig.savefig(pngs[name], dpi=DPI, facecolor="white")
        keyframes = [(label, f / "figures" / "keyframes.png" if (f / "figures" / "keyframes.png").is_file() else None)
                     for label, f in zip(labels, folders)]
        write_json(staging / "compare.json", comparison)
        (staging / "compare.html").write_text(render_compare_html(comparison, pngs, keyframes), encoding="utf-8")
        apply_modes(staging)
        swap_in(staging, outdir)
    except OSError as exc:
        raise OutputError(f"{outdir}: cannot write the comparison ({exc.strerror or exc}); an earlier one was left "
                          "as it was") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return outdir, comparison
