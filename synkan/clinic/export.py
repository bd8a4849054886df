"""``synkan export-landmarks``: an analysis folder's landmarks as one CSV or Parquet table (OpenFace's
layout).

The file is written beside the analysis folder, not into it: an analysis
folder holds only synkan's own files, so that ``--force`` may replace it.
Like every output it is private by default (0600; see
:func:`synkan.report.writer.output_modes`) and written atomically.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputError, OutputError, SynkanError

FORMATS = ("csv", "parquet")


def default_path(outdir: str | Path, fmt: str) -> Path:
    """``<OUTDIR>_landmarks.<fmt>`` beside the analysis folder."""
    folder = Path(outdir).resolve()
    return folder.with_name(f"{folder.name}_landmarks.{fmt}")


def _check_output(path: Path, outdir: Path, force: bool) -> None:
    """Refuse a target that is not a new or replaceable regular file beside (not in) the analysis folder."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise OutputError(f"{path}: exists and is not a regular file; not replacing it")
    if path.exists() and not force:
        raise OutputError(f"{path}: exists (use --force to replace it)")
    if not path.parent.is_dir():
        raise OutputError(f"{path.parent}: no such folder")
    folder, target = Path(os.path.realpath(outdir)), Path(os.path.realpath(path.parent))
    if target == folder or folder in target.parents:
        raise OutputError(f"{path}: inside the analysis folder {outdir}, whose files are synkan's own "
                          "(track.npz, ...); write the table beside it")


def export_landmarks(outdir: str | Path, fmt: str = "csv", output: str | Path | None = None,
                     force: bool = False) -> Path:
    """Write the landmarks table (:func:`synkan.tables.landmarks_table`) of an analysis folder.

    Parameters
    ----------
    outdir : str or Path
        A folder written by ``synkan analyze`` or ``synkan batch`` (its ``track.npz``).
    fmt : {"csv", "parquet"}
        Parquet needs pyarrow (``pip install synkan[parquet]``).
    output : str or Path, optional
        The file to write (default :func:`default_path`).
    force : bool
        Replace an existing file.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    SynkanError
        No readable track, an existing file without ``force``, or no pyarrow for Parquet.
    """
    from .._util.files import atomic_write
    from ..measure.tracking import Track
    from ..tables import landmarks_table

    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise SynkanError("--format parquet needs pyarrow: pip install 'synkan[parquet]' (or use --format csv)") from None
    track_file = Path(outdir) / "track.npz"
    if not track_file.is_file():
        raise InputError(f"{outdir}: no track.npz (not a folder written by synkan analyze or batch)")
    path = Path(output) if output else default_path(outdir, fmt)
    _check_output(path, Path(outdir), force)
    table = landmarks_table(Track.load(track_file))
    if fmt == "csv":
        atomic_write(path, lambda tmp: table.to_csv(tmp, index=False, float_format="%.6g"))
    else:
        atomic_write(path, lambda tmp: table.to_parquet(tmp, index=False, engine="pyarrow"))
    return path
