"""What a batch knows between runs: which videos are done, which failed for good, and one writer at a time.

A video is done when its folder holds a report.json with the same input
SHA-256 and the same settings hash (:func:`settings_hash`: settings and
synkan version). The hidden folder :data:`STATE_DIR` inside OUTDIR keeps
the lock, the SHA-256 cache, the videos that failed because of what they
are, and the running markers of the videos under way.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import report_json
from .._util.files import atomic_write_text, make_dir, read_regular_text
from .._version import __version__
from ..config import Settings
from ..errors import InputError, OutputError
from .jobs import Job

MAX_STORE_BYTES = 100_000_000  # the SHA-256 cache of a large cohort is a few MB
STATE_DIR = ".synkan-batch"  # hidden bookkeeping inside OUTDIR (lock, sha cache, running markers)
PENDING = "pending"  # not started yet (also after an interrupt)
INTERRUPTED = "failed: interrupted (rerun to finish)"
# summary.csv's scored_from of a video analysed now: tracked from the video, or re-scored from its track
SCORED_FROM = {False: "video", True: "track.npz"}


@dataclass(eq=False)
class Item:
    """A job's state during a batch."""

    job: Job
    settings: Settings
    shash: str
    sha256: str | None = None
    output: str = ""
    status: str = PENDING
    elapsed_s: float | None = None
    scored_from: str = ""  # a value of SCORED_FROM once analysed
    report: dict | None = None
    dup_of: "Item | None" = None  # the same video listed twice: analysed once, reported on both rows

    def finished(self, outdir: Path) -> dict | None:
        """This video's report.json in OUTDIR when it is this item's result (same input and settings), else
        None."""
        report = read_report(outdir / self.output) if self.output else None
        return report if report is not None and report_key(report) == (self.sha256, self.shash) else None


def settings_hash(settings: dict[str, Any], version: str = __version__) -> str:
    """A short stable hash of analysis settings and the synkan version (the resume key)."""
    blob = json.dumps({"settings": settings, "synkan_version": version}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def read_report(folder: Path) -> dict | None:
    """``folder/report.json`` (:func:`synkan.report_json.read_report`), or None when there is no usable
    one."""
    try:
        return report_json.read_report(folder)
    except InputError:
        return None


def report_key(report: dict) -> tuple[str | None, str]:
    """(input sha256, settings hash) recorded in a report.json."""
    return (report.get("video") or {}).get("sha256"), settings_hash(report.get("settings") or {},
                                                                     report.get("synkan_version", ""))


class JsonStore:
    """A small dict kept in a JSON file in OUTDIR (missing or damaged file: empty)."""

    def __init__(self, file: Path) -> None:
        self.file = file
        try:
            self.data = json.loads(read_regular_text(file, MAX_STORE_BYTES, "batch state"))
        except (InputError, ValueError, RecursionError):
            self.data = {}

    def save(self) -> None:
        atomic_write_text(self.file, json.dumps(self.data, indent=1))


class ShaCache(JsonStore):
    """SHA-256 of input videos, remembered by (path, size, mtime) in OUTDIR so reruns do not re-read every
    video."""

    def get(self, path: Path) -> str:
        from .._util.files import sha256_file

        st = path.stat()
        key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
        if key not in self.data:
            self.data[key] = sha256_file(path)
        return self.data[key]


class Failures(JsonStore):
    """Videos that failed because of what they are (unreadable, no face), by output folder name.

    A rerun with the same input and settings lists them as failed again
    without re-running them; ``--retry-failed`` (or ``--force``) retries them. Worker crashes and
    interruptions are not recorded: those videos are tried again.
    """

    def get(self, name: str, sha: str | None, shash: str) -> str | None:
        rec = self.data.get(name) or {}
        return rec.get("status") if (rec.get("sha256"), rec.get("settings_hash")) == (sha, shash) else None

    def add(self, name: str, sha: str | None, shash: str, status: str) -> None:
        self.data[name] = {"sha256": sha, "settings_hash": shash, "status": status}
        self.save()

    def drop(self, name: str) -> None:
        if self.data.pop(name, None) is not None:
            self.save()


class Lock:
    """An exclusive lock on OUTDIR, so two batches never write the same folder at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = None

    def __enter__(self) -> "Lock":
        try:
            self.fh = open(self.path, "a+")
        except OSError as exc:
            raise OutputError(f"{self.path.parent.parent}: cannot write here ({exc.strerror or exc})") from None
        try:
            import fcntl

            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # not on POSIX: no lock
            pass
        except OSError:
            self.fh.close()
            raise OutputError(f"{self.path.parent.parent}: another synkan batch is writing here") from None
        return self

    def __exit__(self, *exc: Any) -> None:
        self.fh.close()


def prepare_state(outdir: Path) -> Path:
    """Create OUTDIR and its state folder (checked writable); return the state folder.

    Raises
    ------
    OutputError
        OUTDIR is not a folder, or cannot be created or written.
    """
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: exists and is not a folder")
    state = outdir / STATE_DIR
    try:
        make_dir(state / "running")
    except OSError as exc:
        raise OutputError(f"{outdir}: cannot create output folder ({exc.strerror or exc})") from None
    for folder in (outdir, state, state / "running"):
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(f"{folder}: not writable; the batch needs to write its results there")
    return state


def clean_stale(outdir: Path) -> None:
    """Remove staging folders and temp files left by a killed run (never a finished analysis folder).

    Only called while holding the batch lock, so no other batch is writing them.
    """
    for p in outdir.glob(".*"):
        if p.is_dir() and re.search(r"\.(tmp|old)-[^/]*$", p.name):
            shutil.rmtree(p, ignore_errors=True)
        elif p.is_file() and p.name.endswith(".tmp"):  # from atomic_write_text
            p.unlink(missing_ok=True)
