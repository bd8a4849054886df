"""Write an analysis to its output folder, atomically.

Everything is written into a hidden sibling folder first and swapped into
place at the end, so an interrupted or failed run leaves the previous
results intact and never a half-written folder. An existing analysis is
only replaced with ``force=True``.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from ..analysis import Analysis
from ..errors import OutputError

OUTPUT_FILES = ("report.json", "signals.csv", "events.csv", "track.npz", "report.html")


def check_outdir(outdir: str | Path, force: bool = False) -> Path:
    """Refuse an output folder that holds results (unless ``force``) or cannot be written."""
    outdir = Path(outdir)
    if outdir.name in ("", ".", ".."):  # "-o ." : swap the folder by its real name
        outdir = Path(os.path.abspath(outdir))
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: exists and is not a folder")
    if outdir.is_dir() and any(outdir.iterdir()):
        if not force:
            raise OutputError(f"{outdir}: holds results already; use --force to replace them")
        if not any((outdir / name).exists() for name in ("report.json", "track.npz")):
            # --force swaps the whole folder: never throw away a folder of other files.
            raise OutputError(f"{outdir}: is not empty and holds no synkan results; not replacing it, even with --force")
    parent = outdir.parent if str(outdir.parent) else Path(".")
    blocker = next((a for a in (parent, *parent.parents) if a.exists()), None)
    if blocker is not None and not blocker.is_dir():
        raise OutputError(f"{outdir}: cannot create output folder: {blocker} is a file, not a folder")
    # Nothing is created here: a run that fails later leaves no empty folders behind.
    if blocker is not None and not os.access(blocker, os.W_OK | os.X_OK):
        raise OutputError(f"{outdir}: cannot create output folder: {blocker} is not writable")
    return outdir


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")


def _write_all(analysis: Analysis, folder: Path, figures: bool, html: bool, overlay: bool, deidentify: bool = False) -> None:
    report = analysis.report
    write_json(folder / "report.json", report)
    analysis.signals.data.to_csv(folder / "signals.csv", index=False, float_format="%.6g")
    analysis.events.table.to_csv(folder / "events.csv", index=False, float_format="%.4f")
    analysis.track.save(folder / "track.npz")
    if figures or html:
        from .figures import save_figures

        notes: dict[str, str] = {}
        pngs = save_figures(analysis, folder / "figures", deidentify=deidentify, notes=notes)
        if html:
            from .html import render_html

            (folder / "report.html").write_text(render_html(report, pngs, notes, deidentify=deidentify), encoding="utf-8")
    if overlay:
        from .overlay import write_overlay

        write_overlay(analysis, folder / "overlay.mp4", deidentify=deidentify)


def write_outputs(analysis: Analysis, outdir: str | Path, *, force: bool = False, figures: bool = True,
                  html: bool = True, overlay: bool = False, deidentify: bool = False, keep: tuple[str, ...] = ()) -> Path:
    """Write report.json, signals.csv, events.csv, track.npz, figures and report.html.

    Parameters
    ----------
    analysis : Analysis
    outdir : str or Path
    force : bool
        Replace an existing analysis in ``outdir``.
    figures, html, overlay : bool
        Which optional outputs to write.
    deidentify : bool
        Blur everything outside the face in key frames and the overlay, and
        leave the video's file name out of report.html.
    keep : tuple of str
        Files of an existing ``outdir`` to carry over when not rewritten
        (``synkan report`` keeps ``overlay.mp4``).

    Returns
    -------
    Path
        ``outdir``.
    """
    outdir = check_outdir(outdir, force)
    try:
        outdir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.tmp-", dir=outdir.parent))
        _set_default_mode(staging)
    except OSError as exc:
        raise OutputError(f"{outdir}: cannot write results ({exc.strerror or exc})") from None
    old = None
    try:
        _write_all(analysis, staging, figures, html, overlay, deidentify)
        for name in keep:
            if (outdir / name).is_file() and not (staging / name).exists():
                shutil.copy2(outdir / name, staging / name)
        if outdir.exists():
            old = outdir.with_name(f".{outdir.name}.old-{os.getpid()}")
            os.replace(outdir, old)
        os.replace(staging, outdir)
    except OSError as exc:
        raise OutputError(f"{outdir}: cannot write results ({exc.strerror or exc}); earlier results were left as they were") from None
    finally:
        if old is not None and not outdir.exists():
            os.replace(old, outdir)  # the swap failed half way: put the previous results back
            old = None
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return outdir


def _set_default_mode(folder: Path) -> None:
    """mkdtemp makes a private (0700) folder; give the results the user's usual permissions."""
    try:  # read the umask without changing it (os.umask is process-wide, racy with threads)
        status = Path("/proc/self/status").read_text()
        umask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Umask:")), 8)
    except (OSError, StopIteration, ValueError, IndexError):
        umask = 0o022
    os.chmod(folder, 0o777 & ~umask)
