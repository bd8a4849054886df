"""The videos of a batch and their metadata: folders, globs, video files and manifest CSVs.

A manifest is a CSV with one row per video (:data:`MANIFEST_COLUMNS`;
only ``path`` is required, column names are case-insensitive):

``path``
    The video, absolute or relative to the manifest's folder.
``patient_id``
    Groups a patient's sessions into one trend (``trends/<patient>.png``).
``session_date``
    The visit's date, ``YYYY-MM-DD`` (a day-first or month-first date would
    be ambiguous, so nothing else is accepted).
``affected_side``
    ``right`` / ``left`` (or ``r`` / ``l``), the subject's side; it
    overrides ``--affected`` for that video. Empty: found from the video.
``label``
    The patient's group (``synkinesis``, ``control``...), the same on each
    of a patient's rows (a row may leave it empty); the cohort figure
    groups by it.
``clinician``, ``note``
    Who filmed or rated the visit, and a free remark on it.

Manifest wins: a video named both by a folder (or glob) and by a manifest
keeps the manifest's metadata, whatever the order of the inputs. Two
manifests (or two rows) that give the same video different values are an
error naming both, as is a patient with two labels.
"""
from __future__ import annotations

import dataclasses
import glob
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .._util.files import read_regular_text
from ..errors import InputError
from ..visit import Visit, check_date

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv", ".flv",
                              ".3gp", ".mts", ".m2ts", ".ts", ".ogv"})
MAX_MANIFEST_BYTES = 20_000_000  # a row is ~100 bytes: far more videos than a batch holds
MANIFEST_COLUMNS = ("path", "patient_id", "session_date", "affected_side", "label", "clinician", "note")
# Job fields filled from a manifest, by column.
_FIELDS = {"patient_id": "patient_id", "session_date": "session_date", "affected_side": "affected", "label": "label",
           "clinician": "clinician", "note": "note"}


@dataclass(frozen=True)
class Job:
    """One video of a batch, with its manifest metadata (empty when it came from a folder or glob).

    Attributes
    ----------
    path : Path
        The video (absolute).
    patient_id, session_date, clinician, note : str
        The visit (see :attr:`visit`).
    label : str
        The patient's group.
    affected : {"right", "left"} or None
        The known affected side.
    source : str
        Where the metadata came from (``manifest.csv line 3``), for error messages.
    """

    path: Path
    patient_id: str = ""
    session_date: str = ""
    label: str = ""
    affected: str | None = None
    clinician: str = ""
    note: str = ""
    source: str = ""

    @property
    def visit(self) -> dict[str, str]:
        """The visit fields of this video, as report.json's ``visit`` block names them."""
        return {"patient_id": self.patient_id, "visit_date": self.session_date, "clinician": self.clinician,
                "note": self.note}


def is_video(path: Path) -> bool:
    """A file name with a video extension that is not hidden."""
    return path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".")


def find_videos(folder: Path) -> list[Path]:
    """Video files under ``folder`` (recursive), skipping hidden files and folders."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in sorted(files) if is_video(Path(f))]
    return found


def _side(value: str, where: str) -> str | None:
    v = value.lower()
    if v in ("", "none", "unknown", "nan", "na", "-"):
        return None
    if v in ("right", "r"):
        return "right"
    if v in ("left", "l"):
        return "left"
    raise InputError(f"{where}: affected_side must be 'right' or 'left', not {value!r}")


def _check_visit(values: dict[str, str], where: str) -> None:
    """Refuse a row whose visit the analysis would refuse (a bad date, a long note): before any work."""
    try:
        check_date(values["session_date"], "session_date")
        Visit(patient_id=values["patient_id"], visit_date=values["session_date"],
              clinician=values["clinician"], note=values["note"])
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def read_manifest(path: str | Path) -> list[Job]:
    """Jobs from a manifest CSV (columns: :data:`MANIFEST_COLUMNS`, see the module docstring).

    Raises
    ------
    InputError
        An unreadable file, no ``path`` column, an unknown column, or a bad
        value (the message names the line).
    """
    import pandas as pd

    path = Path(path)
    text = read_regular_text(path, MAX_MANIFEST_BYTES, "manifest")
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read manifest ({' '.join(str(exc).split())})") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    if "path" not in table.columns:
        raise InputError(f"{path}: manifest needs a 'path' column (found: {', '.join(table.columns) or 'none'})")
    unknown = [c for c in table.columns if c not in MANIFEST_COLUMNS]
    if unknown:  # a misspelt column would otherwise lose its metadata without a word
        raise InputError(f"{path}: unknown manifest column {unknown[0]!r} (known: {', '.join(MANIFEST_COLUMNS)})")
    jobs = []
    for i, row in enumerate(table.to_dict("records"), start=2):  # line 1 is the header
        raw = str(row["path"]).strip()
        if not raw:
            continue
        where = f"{path} line {i}"
        video = Path(raw).expanduser()
        if not video.is_absolute():
            video = path.parent / video
        values = {field: str(row.get(column, "")).strip() for column, field in _FIELDS.items()}
        values["affected"] = _side(values["affected"], where)
        _check_visit(values, where)
        jobs.append(Job(path=Path(os.path.abspath(video)), source=where, **values))
    return jobs


def _mentions(item: str | Path) -> list[Job]:
    """The videos one input names."""
    p = Path(item).expanduser()
    if p.is_dir():
        found = [Job(Path(os.path.abspath(v))) for v in find_videos(p)]
        if not found:
            raise InputError(f"{item}: no video files found (looked for {', '.join(sorted(VIDEO_EXTENSIONS))})")
        return found
    if p.is_file() and p.suffix.lower() in (".csv", ".tsv"):
        return read_manifest(p)
    if os.path.lexists(p):  # a file, or a FIFO or device: recorded as failed, never read
        return [Job(Path(os.path.abspath(p)))]
    matches = sorted(glob.glob(str(p), recursive=True))
    videos = [Path(m) for m in matches if not Path(m).is_dir() and is_video(Path(m))]
    for m in matches:
        if Path(m).is_dir():
            videos += find_videos(Path(m))
    if not videos:
        what = "no such file or folder" if not glob.has_magic(str(p)) else "the pattern matches no video files"
        raise InputError(f"{item}: {what}")
    return [Job(Path(os.path.abspath(v))) for v in videos]


def merge_runs(first: Job, other: Job) -> Job:
    """One job from two mentions of a video: a manifest's metadata wins over none; two manifests must
    agree."""
    if not other.source:
        return first
    if not first.source:
        return other
    for field in _FIELDS.values():
        a, b = getattr(first, field), getattr(other, field)
        if a and b and a != b:
            raise InputError(f"{first.path.name}: {field} is {a!r} in {first.source} but {b!r} in {other.source}")
    filled = {f: getattr(first, f) or getattr(other, f) for f in _FIELDS.values()}
    return dataclasses.replace(first, **filled)


def _patient_labels(jobs: list[Job]) -> list[Job]:
    """Each patient's label on all their rows; a patient with two labels is an error."""
    label: dict[str, Job] = {}
    for job in jobs:
        if job.patient_id and job.label:
            known = label.setdefault(job.patient_id, job)
            if known.label != job.label:
                raise InputError(f"patient {job.patient_id!r} has label {known.label!r} in {known.source} but "
                                 f"{job.label!r} in {job.source}; label is the patient's group (put remarks on a "
                                 "session in note)")
    return [dataclasses.replace(j, label=label[j.patient_id].label) if j.patient_id in label and not j.label else j
            for j in jobs]


def collect_jobs(inputs: Iterable[str | Path]) -> list[Job]:
    """Every video named by ``inputs`` (folders, globs, video files, manifest CSVs), once, in first-mention
    order.

    Raises
    ------
    InputError
        An input that names nothing, conflicting metadata (naming both
        places), or no video at all.
    """
    jobs: dict[Path, Job] = {}
    for item in inputs:
        for job in _mentions(item):
            key = Path(os.path.realpath(job.path))  # a symlink and its target are one video, analysed once
            jobs[key] = merge_runs(jobs[key], job) if key in jobs else job
    if not jobs:
        raise InputError("no videos to analyse")
    return _patient_labels(list(jobs.values()))
