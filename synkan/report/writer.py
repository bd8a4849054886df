"""Write an analysis to its output folder, atomically, replacing only what synkan wrote.

Atomic: everything is written into a hidden sibling folder first and swapped
into place at the end, so an interrupted or failed run leaves the previous
results intact and never a half-written folder.

Only synkan's own files: every output folder holds a hidden manifest
(:data:`MANIFEST_NAME`) listing the files synkan wrote in it. An existing
analysis is only replaced with ``force=True``, and only when its report.json
is synkan's and every file in the folder is one synkan wrote; ``synkan
report`` (``keep_foreign=True``) rebuilds synkan's files and carries every
other file over. A symlinked output folder is written through to its target.

One writer at a time: a run holds an exclusive lock (``flock`` on a hidden
file beside the folder) from its first check to the swap, so a second run
into the same folder stops with a one-line error instead of replacing the
first one's results.

Private: files are 0600 and folders 0700 (the report and key frames show the
patient's face), unless ``$SYNKAN_SHARED_OUTPUTS=1``, which makes them follow
the umask instead.
"""
from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from .._util.files import PRIVATE_FILE_MODE, output_modes, read_regular_text, remove_stale
from .._util.native_stderr import removed_if_crashed
from ..analysis import Analysis
from ..errors import InputError, OutputError
from ..report_json import is_report_folder

# Outputs that show the whole face unless drawn de-identified (report.pdf prints the key frames).
FACE_FILES = ("overlay.mp4", "report.pdf")
# What a run leaves beside OUT if it dies: its staging folder, the folder it was replacing.
STALE_PREFIXES = (".tmp-", ".old-")
OUTPUT_FILES = ("report.json", "signals.csv", "events.csv", "track.npz", "report.html")
MANIFEST_NAME = ".synkan-files.json"
MANIFEST_SCHEMA = "synkan.outputs/1"
MAX_MANIFEST_BYTES = 10_000_000  # a few hundred file names
# Folders written before there was a manifest: synkan's names only.
LEGACY_PATTERNS = OUTPUT_FILES + ("overlay.mp4", "figures/*.png")
# Rows of signals.csv formatted at once: pandas turns each chunk into Python
# strings, about 7 KB per row (its default chunk is 12 MB for a long video).
CSV_CHUNK_ROWS = 500


# --- Permissions --------------------------------------------------------------------------
def apply_modes(path: Path) -> None:
    """Give ``path`` (a file, or a folder and everything in it) the :func:`output_modes`."""
    file_mode, dir_mode = output_modes()
    if not path.is_dir():
        os.chmod(path, file_mode)
        return
    os.chmod(path, dir_mode)
    for root, dirs, files in os.walk(path):
        for d in dirs:
            os.chmod(os.path.join(root, d), dir_mode)
        for f in files:
            os.chmod(os.path.join(root, f), file_mode)


# --- Ownership ----------------------------------------------------------------------------
def _entries(folder: Path) -> list[str]:
    """Every file, link and empty folder under ``folder``, as relative POSIX paths."""
    found = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        links = [d for d in dirs if os.path.islink(os.path.join(root, d))]  # walk does not follow them
        found += [(rel / name).as_posix() for name in files + links]
        if not dirs and not files and rel != Path("."):
            found.append(rel.as_posix() + "/")
    return found


def _manifest(folder: Path) -> set[str] | None:
    try:
        data = json.loads(read_regular_text(folder / MANIFEST_NAME, MAX_MANIFEST_BYTES, "file list"))
    except (InputError, ValueError, RecursionError):  # none, or not ours: judged by the legacy names
        return None
    if not isinstance(data, dict) or data.get("schema") != MANIFEST_SCHEMA or not isinstance(data.get("files"), list):
        return None
    return {str(f) for f in data["files"]}


def foreign_files(folder: Path) -> list[str]:
    """Entries of a synkan output folder that synkan did not write (relative paths).

    Synkan's files are those in the folder's manifest, or, in a folder
    written before manifests, those with the names synkan writes.
    """
    listed = _manifest(folder)
    if listed is not None:
        return [e for e in _entries(folder) if e not in listed and e != MANIFEST_NAME]
    return [e for e in _entries(folder) if not any(fnmatch.fnmatchcase(e, p) for p in LEGACY_PATTERNS)]


def _write_manifest(folder: Path) -> None:
    files = sorted(_entries(folder))
    (folder / MANIFEST_NAME).write_text(json.dumps({"schema": MANIFEST_SCHEMA, "files": files}, indent=1) + "\n")
    os.chmod(folder / MANIFEST_NAME, output_modes()[0])


def _carry_over(old: Path, staging: Path, names: list[str]) -> None:
    """Hard-link (or copy) the user's files ``names`` of ``old`` into ``staging``, keeping their modes."""
    for name in names:
        src, dst = old / name.rstrip("/"), staging / name.rstrip("/")
        for parent in reversed([p for p in dst.relative_to(staging).parents if p != Path(".")]):
            if not (staging / parent).exists():
                (staging / parent).mkdir()
                shutil.copystat(old / parent, staging / parent)
        if name.endswith("/"):
            dst.mkdir(exist_ok=True)
            shutil.copystat(src, dst)
            continue
        try:
            os.link(src, dst, follow_symlinks=False)
        except OSError:  # another filesystem, or links not allowed: copy
            shutil.copy2(src, dst, follow_symlinks=False)


# --- The output folder ---------------------------------------------------------------------
def resolve_outdir(outdir: str | Path) -> Path:
    """The real folder behind ``outdir``: ``-o .`` by its name, a symlink by its target (never replaced)."""
    return Path(os.path.realpath(outdir))


def check_outdir(outdir: str | Path, force: bool = False, keep_foreign: bool = False) -> Path:
    """Refuse an output folder that cannot be written, or holds results (unless ``force``), or other files.

    Parameters
    ----------
    outdir : str or Path
    force : bool
        Allow replacing an earlier analysis (a folder synkan wrote).
    keep_foreign : bool
        Files synkan did not write will be carried over (``synkan report``),
        so they do not block the replacement.

    Returns
    -------
    Path
        The resolved output folder.

    Raises
    ------
    OutputError
        With a one-line reason.
    """
    outdir = resolve_outdir(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: exists and is not a folder")
    if outdir.is_dir() and any(outdir.iterdir()):
        if not force:
            raise OutputError(f"{outdir}: holds results already; use --force to replace them")
        if not is_report_folder(outdir):
            raise OutputError(f"{outdir}: is not empty and holds no synkan results; not replacing it, even with --force")
        foreign = [] if keep_foreign else foreign_files(outdir)
        if foreign:
            more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
            raise OutputError(f"{outdir}: holds files synkan did not write ({foreign[0]}{more}); not replacing it, "
                              "even with --force: move them away or choose another folder")
    blocker = next(a for a in outdir.parents if a.exists())
    if not blocker.is_dir():
        raise OutputError(f"{outdir}: cannot create output folder: {blocker} is a file, not a folder")
    # Nothing is created here: a run that fails later leaves no empty folders behind.
    if not os.access(blocker, os.W_OK | os.X_OK):
        raise OutputError(f"{outdir}: cannot create output folder: {blocker} is not writable")
    return outdir


_HELD: dict[str, int] = {}  # output folders this process has claimed (the claim is reentrant)


@contextlib.contextmanager
def lock_outdir(outdir: Path) -> Iterator[None]:
    """Hold ``.NAME.lock`` beside ``outdir`` alone; remove the parents made for it if nothing was written.

    Under the lock, what an interrupted or crashed earlier run left beside
    ``outdir`` (:data:`STALE_PREFIXES`) is removed: nobody else can be writing it.

    Raises
    ------
    OutputError
        Another run holds the lock, or the lock cannot be made.
    """
    import fcntl

    made = [p for p in outdir.parents if not p.exists()]
    path = outdir.parent / f".{outdir.name}.lock"
    try:
        outdir.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise OutputError(f"{outdir}: another synkan run is writing here; wait for it to finish") from None
            with contextlib.suppress(FileNotFoundError):
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    break
            os.close(fd)  # the holder before us removed the file after we opened it: lock the new one
        else:
            raise OutputError(f"{outdir}: another synkan run is writing here; wait for it to finish")
    except OSError as exc:
        raise OutputError(f"{outdir}: cannot write results ({exc.strerror or exc})") from None
    try:
        for leftover in STALE_PREFIXES:  # an interrupted or crashed run's; nobody else writes them now
            remove_stale(outdir.parent, f".{outdir.name}{leftover}")
        with removed_if_crashed(path, lock=True):
            yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)  # still holding the lock: a waiting run sees the inode change and retries
        os.close(fd)
        if not outdir.exists():
            for parent in made:
                with contextlib.suppress(OSError):
                    parent.rmdir()


@contextlib.contextmanager
def claim_outdir(outdir: str | Path, force: bool = False, keep_foreign: bool = False) -> Iterator[Path]:
    """Check ``outdir`` (see :func:`check_outdir`) and hold it against other synkan runs.

    Yields
    ------
    Path
        The resolved output folder, checked again once the lock is held.

    Raises
    ------
    OutputError
        If another run holds the folder, or :func:`check_outdir` refuses it.
    """
    outdir = check_outdir(outdir, force, keep_foreign)
    key = str(outdir)
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield outdir
        finally:
            _HELD[key] -= 1
        return
    with lock_outdir(outdir):
        _HELD[key] = 1
        try:
            yield check_outdir(outdir, force, keep_foreign)  # another run may have finished while we started
        finally:
            del _HELD[key]


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")


def _write_all(analysis: Analysis, folder: Path, figures: bool, html: bool, overlay: bool, deidentify: bool = False,
               pdf: bool = False, paper: str | None = None) -> None:
    from ..clinic.deidentify import deidentify as deidentified
    from ..clinic.deidentify import is_deidentified

    deidentify = deidentify or is_deidentified(analysis.video)
    # The record is written without the source's path and eye images; the
    # images are drawn from the source, masked.
    record = deidentified(analysis) if deidentify else analysis
    report = record.report
    write_json(folder / "report.json", report)
    record.signals.data.to_csv(folder / "signals.csv", index=False, float_format="%.6g", chunksize=CSV_CHUNK_ROWS)
    record.events.table.to_csv(folder / "events.csv", index=False, float_format="%.4f")
    record.track.save(folder / "track.npz")
    if figures or html:
        from .figures import save_figures

        notes: dict[str, str] = {}
        pngs = save_figures(analysis, folder / "figures", deidentify=deidentify, notes=notes)
        if html:
            from .html import render_html

            (folder / "report.html").write_text(render_html(report, pngs, notes, deidentify=deidentify), encoding="utf-8")
            if pdf:
                from .pdf import write_pdf

                write_pdf(folder / "report.html", folder / "report.pdf", paper)
    if overlay:
        from .overlay import write_overlay

        write_overlay(analysis, folder / "overlay.mp4", deidentify=deidentify)


def write_outputs(analysis: Analysis, outdir: str | Path, *, force: bool = False, figures: bool = True,
                  html: bool = True, overlay: bool = False, deidentify: bool = False, pdf: bool = False,
                  keep: tuple[str, ...] = (), keep_foreign: bool = False, paper: str | None = None) -> Path:
    """Write report.json, signals.csv, events.csv, track.npz, figures and report.html.

    Parameters
    ----------
    analysis : Analysis
    outdir : str or Path
    force : bool
        Replace an existing analysis in ``outdir`` (only a folder synkan wrote).
    figures, html, overlay : bool
        Which optional outputs to write.
    deidentify : bool
        Write no path, file name or eye image of the source, and show only
        the eye and mouth regions in key frames and the overlay
        (:mod:`synkan.clinic.deidentify`). An analysis that is de-identified stays so.
    pdf : bool
        Also print report.html to report.pdf (headless Chromium).
    keep : tuple of str
        Files of an existing ``outdir`` to carry over when not rewritten
        (``synkan report`` keeps ``overlay.mp4``).
    keep_foreign : bool
        Carry over every file of ``outdir`` that synkan did not write
        (``synkan report``) instead of refusing to replace the folder.
    paper : {"a4", "letter"}, optional
        report.pdf's sheet size (default: the locale's, else A4).

    Returns
    -------
    Path
        The output folder (a symlink's target).
    """
    with claim_outdir(outdir, force, keep_foreign) as outdir:
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.tmp-", dir=outdir.parent))
        except OSError as exc:
            raise OutputError(f"{outdir}: cannot write results ({exc.strerror or exc})") from None
        with removed_if_crashed(staging):
            _write_swap(analysis, outdir, staging, (figures, html, overlay, deidentify, pdf, paper),
                        _still_private(analysis, keep, deidentify), keep_foreign)
    return outdir


def _still_private(analysis: Analysis, keep: tuple[str, ...], deidentify: bool) -> tuple[str, ...]:
    """``keep`` without the files showing the whole face, when this write de-identifies a folder that was not.

    An overlay or PDF made before ``--deidentify`` shows the patient's face:
    it is removed, not carried over, unless made again (masked) in this write.
    """
    from ..clinic.deidentify import is_deidentified

    if deidentify and not is_deidentified(analysis.video):
        return tuple(name for name in keep if name not in FACE_FILES)
    return keep


def swap_in(staging: Path, outdir: Path) -> None:
    """Put the folder ``staging`` in the place of ``outdir``; if that fails half way, the previous ``outdir``
    goes back.

    Raises
    ------
    OSError
        From the renames; ``outdir`` is then as it was.
    """
    old = None
    if outdir.exists():
        old = outdir.with_name(f".{outdir.name}.old-{os.getpid()}")
        os.replace(outdir, old)
    try:
        os.replace(staging, outdir)
    except OSError:
        if old is not None:
            os.replace(old, outdir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_swap(analysis: Analysis, outdir: Path, staging: Path, options: tuple, keep: tuple[str, ...],
                keep_foreign: bool) -> None:
    """Write into ``staging``, then swap it with ``outdir``; on failure the previous results stay."""
    try:
        _write_all(analysis, staging, *options)
        for name in keep:
            if (outdir / name).is_file() and not (staging / name).exists():
                shutil.copy2(outdir / name, staging / name)
        apply_modes(staging)
        _write_manifest(staging)
        if keep_foreign and outdir.is_dir():
            _carry_over(outdir, staging, foreign_files(outdir))
        swap_in(staging, outdir)
    except OSError as exc:
        raise OutputError(f"{outdir}: cannot write results ({exc.strerror or exc}); earlier results were left as they were") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
