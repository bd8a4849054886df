"""summary.csv: one row per video of a batch (metadata, scores, QC, status), and :func:`read_summary`.

Statuses: ``ok`` (analysed now), ``skipped`` (done by an earlier run with
the same input and settings), ``pending`` (not started: the batch was
interrupted first; a rerun does it), ``failed: <reason>`` (the reason
without the video's path, which is in the ``path`` column).
``scored_from`` says how a finished video was scored: ``video`` (tracked)
or ``track.npz`` (re-scored from the track of an earlier analysis, because
only scoring settings changed).
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from .._util.files import atomic_write_text, csv_safe, read_regular_text
from .._version import __version__
from ..errors import InputError
from ..tables import DIRECTIONS, SCALE_ROWS, SIDES, scale_value, unit
from ..text import report_side
from .state import Item

SUMMARY_NAME = "summary.csv"
MAX_SUMMARY_BYTES = 500_000_000  # a row is a few KB: far more videos than a batch holds
EVENT_KINDS = ("blink", "eye_closure", "smile", "pucker")
TEXT_COLUMNS = ("path", "name", "output", "patient_id", "session_date", "label", "clinician", "note", "affected_given",
                "sha256", "settings_hash", "synkan_version")
# Per direction: the deciding movement's verdict (synkan.grade.grades.score_direction).
DIRECTION_FIELDS = ("affected_side", "movement", "asymmetry_pp", "asymmetry_se_pp", "detectable_pp", "conclusive",
                    "grade")
SCORE_COLUMNS = tuple(
    [f"{d}_{k}" for d in DIRECTIONS for k in DIRECTION_FIELDS]
    + [f"{d}_{k}_{s}" for d in DIRECTIONS for k in ("r", "lag_s", "involuntary_pct") for s in SIDES]
    + ["eface_ocular_synkinesis", "sunnybrook_affected_side"]
    + list(SCALE_ROWS)
)
QC_COLUMNS = ("face_fraction", "max_abs_yaw_deg") + tuple(f"events_{k}" for k in EVENT_KINDS) + ("n_warnings",)
SUMMARY_COLUMNS = TEXT_COLUMNS + SCORE_COLUMNS + QC_COLUMNS + ("status", "scored_from", "elapsed_s")


def _units() -> dict[str, str]:
    """The unit of every numeric summary column."""
    units = {"face_fraction": "fraction of frames", "max_abs_yaw_deg": "deg", "n_warnings": "count", "elapsed_s": "s",
             **{f"events_{k}": "count" for k in EVENT_KINDS}, "eface_ocular_synkinesis": unit(None, "eface_ocular_synkinesis"),
             **{m: unit(None, m) for m in SCALE_ROWS}}
    for d in DIRECTIONS:
        units |= {f"{d}_{k}": unit(d, k) for k in ("asymmetry_pp", "asymmetry_se_pp", "detectable_pp", "grade")}
        units[f"{d}_conclusive"] = "true: the recording decides (synkinesis, or ruled out)"
        units |= {f"{d}_{k}_{s}": unit(d, k) for k in ("r", "lag_s", "involuntary_pct") for s in SIDES}
    return units


UNITS = _units()


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def summary_row(item: Item) -> dict[str, Any]:
    """One summary.csv row from a job and its report.json (if any)."""
    r = item.report or {}
    job = item.job
    row: dict[str, Any] = {
        "path": str(job.path), "name": job.path.name, "output": item.output, "patient_id": job.patient_id,
        "session_date": job.session_date, "label": job.label, "clinician": job.clinician, "note": job.note,
        "affected_given": item.settings.affected or "", "sha256": item.sha256 or "",
        "settings_hash": item.shash, "synkan_version": r.get("synkan_version", __version__),
    }
    scores = r.get("scores") or {}
    for d in DIRECTIONS:
        for k in DIRECTION_FIELDS:
            row[f"{d}_{k}"] = _get(scores, d, k)
        for k in ("r", "lag_s", "involuntary_pct"):
            for s in SIDES:
                row[f"{d}_{k}_{s}"] = _get(scores, d, s, k)
    row["eface_ocular_synkinesis"] = scores.get("eface_ocular_synkinesis")
    # One rule for the whole report (synkan.text.report_side): a side only from --affected or a finding.
    side = report_side(r)[0] or ""
    for d in DIRECTIONS:
        row[f"{d}_affected_side"] = side
    row["sunnybrook_affected_side"] = side
    for m in SCALE_ROWS:
        row[m] = scale_value(scores, m)
    qc = r.get("qc") or {}
    row["face_fraction"] = qc.get("face_fraction")
    row["max_abs_yaw_deg"] = qc.get("max_abs_yaw_deg")
    for k in EVENT_KINDS:
        row[f"events_{k}"] = _get(qc, "events", k)
    row["n_warnings"] = len(r.get("warnings") or []) if r else None
    row["status"] = item.status
    row["scored_from"] = item.scored_from
    row["elapsed_s"] = item.elapsed_s
    return row


def write_summary(outdir: Path, items: list[Item], kept: list[dict] | None = None) -> Path:
    """Write OUTDIR/summary.csv atomically (rows of this batch, then ``kept`` earlier rows)."""
    import pandas as pd

    rows = [summary_row(it) for it in items] + list(kept or [])
    table = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    path = outdir / SUMMARY_NAME
    atomic_write_text(path, csv_safe(table).to_csv(index=False, float_format="%.6g"))
    return path


def read_summary(path_or_outdir: str | Path):
    """A batch's summary.csv as a DataFrame: identifiers as text, scores as numbers, units in ``attrs``.

    Parameters
    ----------
    path_or_outdir : str or Path
        The batch folder, or its summary.csv.

    Returns
    -------
    DataFrame
        One row per video (:data:`SUMMARY_COLUMNS`); ``attrs["units"]`` maps
        each numeric column to its unit (see :mod:`synkan.tables`).

    Raises
    ------
    InputError
        No summary.csv there, or it cannot be read.

    Examples
    --------
    >>> s = synkan.read_summary("cohort_out")  # doctest: +SKIP
    >>> s.attrs["units"]["oral_ocular_asymmetry_pp"]  # doctest: +SKIP
    'pp of rest eye opening'
    """
    import pandas as pd

    path = Path(path_or_outdir)
    if path.is_dir() or path.suffix.lower() != ".csv":
        path = path / SUMMARY_NAME
    if not path.exists():
        raise InputError(f"{path}: not found (run `synkan batch ... -o {path.parent}` first)")
    text = read_regular_text(path, MAX_SUMMARY_BYTES, "summary")
    try:
        text_columns = TEXT_COLUMNS + ("status", "scored_from")
        table = pd.read_csv(io.StringIO(text), dtype={c: str for c in text_columns},
                            keep_default_na=False,
                            na_values={c: [""] for c in SCORE_COLUMNS + QC_COLUMNS + ("elapsed_s",)})
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read ({' '.join(str(exc).split())})") from None
    for column in set(SUMMARY_COLUMNS) - set(table.columns):  # written by an older synkan
        table[column] = "" if column in TEXT_COLUMNS + ("scored_from",) else float("nan")
    table = table[[*SUMMARY_COLUMNS, *(c for c in table.columns if c not in SUMMARY_COLUMNS)]]
    table.attrs["units"] = {c: u for c, u in UNITS.items() if c in table.columns}
    return table


def previous_rows(outdir: Path) -> dict[str, dict]:
    """Rows of an earlier summary.csv, by output folder (to keep elapsed times and other batches' rows)."""
    if not (outdir / SUMMARY_NAME).is_file():
        return {}
    try:
        table = read_summary(outdir)
    except InputError:
        return {}
    return {str(r.get("output")): r for r in table.to_dict("records") if r.get("output")}
