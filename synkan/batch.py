"""Many videos at once: a local process pool by default, Dask distributed on request.

``synkan batch INPUT... -o OUTDIR`` analyses every video found in the
inputs (folders searched recursively, globs, or manifest CSVs) and writes:

- ``OUTDIR/<stem>-<sha8>/``: one ordinary analysis folder per video
  (report.json, signals.csv, ...), written atomically by
  :func:`synkan.report.writer.write_outputs`. This folder is the durable
  record of a finished video.
- ``OUTDIR/summary.csv``: one row per video (scores, QC, status, time),
  rebuilt from those folders and rewritten atomically after every result.
- ``OUTDIR/trends.csv``, ``OUTDIR/trends/<patient>.png`` and
  ``OUTDIR/cohort.png``: see :func:`write_trends`.

Resume: a video whose folder holds a report.json with the same input
SHA-256 and the same settings hash (settings + synkan version) is skipped;
one whose settings changed is analysed again and its folder replaced. After
a crash or Ctrl-C a rerun finishes only what is missing.

Failure isolation: a corrupt video, a video without a face, or a worker
process that dies marks that video's row ``failed: <reason>`` and the batch
goes on (a broken process pool is recreated). The exit code is 0 when every
video is ok, 1 when some failed.

MediaPipe is not fork-safe, so worker processes are spawned. Each worker
builds its landmarkers once (1 for plain laterality, 3 for mirror) and
reuses them for every video it analyses; :meth:`Landmarker.reset` makes the
results independent of which video came before, so a batch gives the same
numbers as analysing each video on its own.

With ``--scheduler tcp://HOST:PORT`` the same work runs on an existing Dask
cluster. Workers read the videos and write OUTDIR at the same paths as the
client, so both must be on a shared filesystem.
"""
from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import glob
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from . import __version__
from .config import Settings
from .errors import InputError, OutputError, SynkanError
from .video import check_regular_file
from .visit import manifest_visit

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv", ".flv",
                              ".3gp", ".mts", ".m2ts", ".ts", ".ogv"})
MANIFEST_COLUMNS = ("path", "patient_id", "session_date", "affected_side", "label")
SUMMARY_NAME = "summary.csv"
STATE_DIR = ".synkan-batch"  # hidden bookkeeping inside OUTDIR (lock, sha cache, running markers)
MARKER_INTERVAL_S = 1.0  # workers note their frames this often; the bar shows them
SCHEDULER_SCHEMES = ("tcp", "tls")
SCHEDULER_CONNECT_TIMEOUT_S = 10.0  # a scheduler that does not answer a Dask handshake in this time is not one
MAX_HANDSHAKE_BYTES = 1 << 20  # a Dask handshake is a few hundred bytes
DIRECTIONS = ("oral_ocular", "ocular_oral")
SIDES = ("right", "left")
EVENT_KINDS = ("blink", "eye_closure", "smile", "pucker")

# Columns of summary.csv, in order.
SCORE_COLUMNS = tuple(
    [f"{d}_{k}" for d in DIRECTIONS for k in ("affected_side", "asymmetry_pp", "grade")]
    + [f"{d}_{k}_{s}" for d in DIRECTIONS for k in ("r", "lag_s", "involuntary_pct") for s in SIDES]
    + ["eface_ocular_synkinesis"]
)
QC_COLUMNS = ("face_fraction", "max_abs_yaw_deg") + tuple(f"events_{k}" for k in EVENT_KINDS) + ("n_warnings",)
SUMMARY_COLUMNS = (("path", "name", "output", "patient_id", "session_date", "label", "affected_given", "sha256",
                    "settings_hash", "synkan_version") + SCORE_COLUMNS + QC_COLUMNS + ("status", "elapsed_s"))


# --- Jobs ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """One video of a batch, with its manifest metadata."""

    path: Path
    patient_id: str = ""
    session_date: str = ""
    label: str = ""
    affected: str | None = None


def settings_hash(settings: dict[str, Any], version: str = __version__) -> str:
    """A short stable hash of analysis settings and the synkan version (the resume key)."""
    blob = json.dumps({"settings": settings, "synkan_version": version}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".")


def _find_videos(folder: Path) -> list[Path]:
    """Video files under ``folder`` (recursive), skipping hidden files and folders."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / f for f in sorted(files) if _is_video(Path(f))]
    return found


def _norm_side(value: str, where: str) -> str | None:
    v = value.strip().lower()
    if v in ("", "none", "unknown", "nan", "na", "-"):
        return None
    if v in ("right", "r"):
        return "right"
    if v in ("left", "l"):
        return "left"
    raise InputError(f"{where}: affected_side must be 'right' or 'left', not {value!r}")


def read_manifest(path: str | Path) -> list[Job]:
    """Jobs from a manifest CSV: column ``path`` plus optional ``patient_id``,
    ``session_date``, ``affected_side`` and ``label``. Relative paths are taken
    from the manifest's folder."""
    import pandas as pd

    path = Path(path)
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read manifest ({' '.join(str(exc).split())})") from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    if "path" not in table.columns:
        raise InputError(f"{path}: manifest needs a 'path' column (found: {', '.join(table.columns) or 'none'})")
    jobs = []
    for i, row in enumerate(table.to_dict("records"), start=2):  # line 1 is the header
        raw = str(row["path"]).strip()
        if not raw:
            continue
        video = Path(raw).expanduser()
        if not video.is_absolute():
            video = path.parent / video
        jobs.append(Job(path=Path(os.path.abspath(video)),
                        patient_id=str(row.get("patient_id", "")).strip(),
                        session_date=str(row.get("session_date", "")).strip(),
                        label=str(row.get("label", "")).strip(),
                        affected=_norm_side(str(row.get("affected_side", "")), f"{path} line {i}")))
    return jobs


def collect_jobs(inputs: Iterable[str | Path]) -> list[Job]:
    """Every video named by ``inputs`` (folders, globs, video files, manifest CSVs), first mention wins."""
    jobs: list[Job] = []
    for item in inputs:
        p = Path(item).expanduser()
        if p.is_dir():
            found = [Job(Path(os.path.abspath(v))) for v in _find_videos(p)]
            if not found:
                raise InputError(f"{item}: no video files found (looked for {', '.join(sorted(VIDEO_EXTENSIONS))})")
            jobs += found
        elif p.is_file() and p.suffix.lower() in (".csv", ".tsv"):
            jobs += read_manifest(p)
        elif os.path.lexists(p):  # a file, or a FIFO or device: recorded as failed, never read
            jobs.append(Job(Path(os.path.abspath(p))))
        else:
            matches = sorted(glob.glob(str(p), recursive=True))
            videos = [Path(m) for m in matches if not Path(m).is_dir() and _is_video(Path(m))]
            for m in matches:
                if Path(m).is_dir():
                    videos += _find_videos(Path(m))
            if not videos:
                what = "no such file or folder" if not glob.has_magic(str(p)) else "the pattern matches no video files"
                raise InputError(f"{item}: {what}")
            jobs += [Job(Path(os.path.abspath(v))) for v in videos]
    seen: set[Path] = set()
    unique = []
    for job in jobs:
        if job.path not in seen:
            seen.add(job.path)
            unique.append(job)
    if not unique:
        raise InputError("no videos to analyse")
    return unique


def _safe_name(text: str, default: str = "video") -> str:
    """``text`` as a short file name (no leading ``-``: it would start a formula in a spreadsheet)."""
    return (re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._").lstrip("-") or default)[:60]


def _safe_stem(path: Path) -> str:
    return _safe_name(path.stem)


def trend_figure_name(patient_id: str) -> str:
    """File name of a patient's trend figure: readable, and distinct for ids that read alike (``P/1``, ``P_1``)."""
    digest = hashlib.sha256(patient_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{_safe_name(patient_id, 'patient')}-{digest}.png"


# --- Output folder state --------------------------------------------------------------
def _read_report(folder: Path) -> dict | None:
    try:
        report = json.loads((folder / "report.json").read_text())
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) else None


def _report_key(report: dict) -> tuple[str | None, str]:
    """(input sha256, settings hash) recorded in a report.json."""
    return (report.get("video") or {}).get("sha256"), settings_hash(report.get("settings") or {},
                                                                     report.get("synkan_version", ""))


class _JsonStore:
    """A small dict kept in a JSON file in OUTDIR (missing or damaged file: empty)."""

    def __init__(self, file: Path) -> None:
        self.file = file
        try:
            self.data = json.loads(file.read_text())
        except (OSError, ValueError):
            self.data = {}

    def save(self) -> None:
        _atomic_write_text(self.file, json.dumps(self.data, indent=1))


class _ShaCache(_JsonStore):
    """SHA-256 of input videos, remembered by (path, size, mtime) in OUTDIR so reruns do not re-read every video."""

    def get(self, path: Path) -> str:
        from .models import sha256_file

        st = path.stat()
        key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
        if key not in self.data:
            self.data[key] = sha256_file(path)
        return self.data[key]


class _Failures(_JsonStore):
    """Videos that failed because of what they are (unreadable, no face), by output folder name.

    A rerun with the same input and settings lists them as failed again
    without re-running them; ``--force`` retries them. Worker crashes and
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


def _output_modes() -> tuple[int, int]:
    """Modes of what a batch writes: the same as each analysis folder's (private by default)."""
    from .report.writer import output_modes as modes

    return modes()


def _make_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) with the output folder mode; an existing folder is left as it is."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for p in missing:
        os.chmod(p, _output_modes()[1])


# Spreadsheets run a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(table):
    """A copy of ``table`` whose text cells cannot start a spreadsheet formula (a leading ``'`` is added)."""
    return table.map(lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v)


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, _output_modes()[0])
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(eq=False)
class _Item:
    """A job's state during a batch."""

    job: Job
    settings: Settings
    shash: str
    sha256: str | None = None
    output: str = ""
    status: str = "pending"
    elapsed_s: float | None = None
    report: dict | None = None
    dup_of: "_Item | None" = None  # the same video listed twice: analysed once, reported on both rows


# --- Workers ----------------------------------------------------------------------------
# The landmarkers of this worker, built once and reused for every video. Thread-local, because a
# MediaPipe landmarker must not be shared between threads (a Dask worker may run several).
_WORKER = threading.local()


def _landmarkers(model: str, n: int) -> list:
    """This worker's landmarkers, built once and reused (grown to ``n`` if needed)."""
    from .models import resolve_model
    from .tracking import Landmarker

    if getattr(_WORKER, "key", None) != model:
        old = getattr(_WORKER, "landmarkers", [])
        for lm in old:
            lm.close()
        path = model if model and Path(model).is_file() else None  # a Dask worker may resolve its own copy
        _WORKER.path = str(resolve_model(path))
        _WORKER.landmarkers = []
        _WORKER.key = model
    while len(_WORKER.landmarkers) < n:
        _WORKER.landmarkers.append(Landmarker(_WORKER.path))
    return _WORKER.landmarkers


def _init_worker(model: str, n_landmarkers: int) -> None:
    """Process-pool initializer: build the landmarkers once per worker."""
    # Ctrl-C reaches the whole process group: the main process stops the pool and terminates the
    # workers, so they ignore SIGINT rather than each printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _landmarkers(model, n_landmarkers)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, SynkanError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def reusable_track(folder: Path, sha256: str | None, settings: Settings):
    """``(track, report)`` of an earlier analysis in ``folder`` of the same video with the same tracking settings, or None.

    Only scoring settings changed (affected side, segments, lag window,
    cutoff): the landmarks are the same, so the video need not be decoded
    and tracked again.
    """
    from .tracking import Track

    report = _read_report(folder)
    if sha256 is None or report is None or report.get("synkan_version") != __version__:
        return None
    if (report.get("video") or {}).get("sha256") != sha256:
        return None
    try:
        earlier = Settings(**(report.get("settings") or {}))
        if earlier.tracking_key() != settings.tracking_key():
            return None
        return Track.load(folder / "track.npz"), report
    except (InputError, TypeError):
        return None


def _frames_to(marker: Path) -> Callable[[int], None]:
    """A progress callback that writes the frames tracked so far into ``marker``, about once a second."""
    last = [0.0]

    def write(frames: int) -> None:
        now = time.monotonic()
        if now - last[0] >= MARKER_INTERVAL_S:
            last[0] = now
            marker.write_text(str(frames))

    return write


def frames_in_progress(marker_dir: Path) -> int:
    """Frames tracked so far by the videos under way (the workers' running markers)."""
    total = 0
    for marker in marker_dir.glob("*"):
        try:
            total += int(marker.read_text() or 0)
        except (OSError, ValueError):  # just finished, or being written
            pass
    return total


def process_video(path: str, settings: dict, model: str, folder: str, figures: bool = True, html: bool = True,
                  marker_dir: str | None = None, sha256: str | None = None, visit: dict | None = None) -> dict:
    """Analyse one video in a worker and write its folder; never raises for a bad video.

    When ``folder`` already holds an analysis of this video (``sha256``)
    with the same tracking settings, it is re-scored from its ``track.npz``.
    ``visit`` (the manifest's patient ID and date) goes into its report.json.

    Returns ``{"status": "ok" | "failed: <reason>", "elapsed_s": float, "input_error": bool, "rescored": bool}``;
    ``input_error`` marks a failure that is a property of the video (not
    readable, no face), which a rerun with the same settings would repeat;
    ``rescored`` that an earlier track was reused.
    """
    from .analysis import analyze, rescore
    from .report.writer import write_outputs
    from .visit import Visit

    marker = Path(marker_dir) / f"{Path(folder).name}.{os.getpid()}" if marker_dir else None
    t0 = time.perf_counter()
    input_error = False
    earlier = None
    try:
        if marker is not None:
            marker.touch()
        s = Settings(**settings)
        earlier = reusable_track(Path(folder), sha256, s)
        if earlier is not None:
            track, report = earlier
            result = rescore(track, report["video"], s, report.get("model"), visit=Visit.from_dict(visit))
        else:
            lms = _landmarkers(model, 3 if s.laterality == "mirror" else 1)
            result = analyze(path, s, landmarkers=lms[: 3 if s.laterality == "mirror" else 1],
                             progress=None if marker is None else _frames_to(marker), visit=Visit.from_dict(visit))
        write_outputs(result, folder, force=True, figures=figures, html=html)
        status = "ok"
    except InputError as exc:
        status, input_error = f"failed: {_one_line(exc)}", True
    except Exception as exc:  # one bad video must not stop the batch
        status = f"failed: {_one_line(exc)}"
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)
    return {"status": status, "elapsed_s": round(time.perf_counter() - t0, 3), "input_error": input_error,
            "rescored": earlier is not None}


# --- Executors ---------------------------------------------------------------------------
_Task = tuple  # (item, args for process_video)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _run_local(tasks: list[_Task], jobs: int, model: str, n_lm: int, marker_dir: Path,
               on_result: Callable[[Any, dict], None], on_tick: Callable[[], None] = lambda: None) -> None:
    """Run tasks on a spawn process pool; recreate the pool when a worker dies.

    At most ``jobs`` tasks are in flight, so every submitted task has a
    worker. When the pool breaks, the tasks that had started (their marker
    file exists) are the suspects: a single suspect is marked failed; several
    are retried one at a time, so the culprit is found and the others finish.
    """
    ctx = multiprocessing.get_context("spawn")
    pending = deque(tasks)
    solo: deque = deque()
    empty_breaks = 0
    while pending or solo:
        pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=_init_worker,
                                      initargs=(model, n_lm))
        inflight: dict[cf.Future, _Task] = {}
        try:
            broken = False
            while (pending or solo or inflight) and not broken:
                queue = solo if solo else pending
                limit = 1 if solo else jobs
                try:
                    while queue and len(inflight) < limit:
                        inflight[pool.submit(process_video, *queue[0][1])] = queue[0]
                        queue.popleft()  # only once submitted: a broken pool refuses the task
                except cf.process.BrokenProcessPool:
                    broken = True  # a worker died between two results
                    continue
                cf.wait(inflight, timeout=MARKER_INTERVAL_S, return_when=cf.FIRST_COMPLETED)
                on_tick()
                for fut in [f for f in inflight if f.done()]:
                    try:
                        res = fut.result()
                    except cf.process.BrokenProcessPool:
                        broken = True
                        continue
                    on_result(inflight.pop(fut)[0], res)
            if broken:
                was_solo = len(inflight) == 1
                started = {m.name.rsplit(".", 1)[0] for m in marker_dir.iterdir()}
                suspects = [t for t in inflight.values() if Path(t[1][3]).name in started]
                others = [t for t in inflight.values() if t not in suspects]
                for m in marker_dir.iterdir():
                    m.unlink(missing_ok=True)
                pending.extendleft(reversed(others))
                if not suspects:
                    empty_breaks += 1
                    if empty_breaks >= 2:
                        raise SynkanError("batch worker processes die on start-up (out of memory, or a broken "
                                          "MediaPipe install?); rerun with --jobs 1 or --debug")
                elif len(suspects) == 1 or was_solo:
                    for t in suspects:
                        on_result(t[0], {"status": "failed: worker process crashed (killed, out of memory or a "
                                                   "native library fault)", "elapsed_s": None})
                else:
                    solo.extend(suspects)
        finally:
            _shutdown(pool)


def _shutdown(pool: cf.ProcessPoolExecutor) -> None:
    """Stop a pool now, killing workers still busy (on Ctrl-C or errors)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(timeout=5)


def _dask_task(path: str, settings: dict, model: str, folder: str, figures: bool, html: bool,
               marker_dir: str | None, sha256: str | None, visit: dict | None = None) -> dict:
    """The Dask task: landmarkers are cached per worker process in a module global."""
    return process_video(path, settings, model, folder, figures, html, None, sha256, visit)


def check_scheduler(url: str) -> None:
    """Check that ``url`` reads ``tcp://HOST:PORT`` or ``tls://HOST:PORT`` and a Dask scheduler answers there.

    Raises
    ------
    SynkanError
        A malformed URL (before any connection is tried), or no Dask
        scheduler answering within :data:`SCHEDULER_CONNECT_TIMEOUT_S`.
    """
    usage = f"--scheduler {url!r}: expected tcp://HOST:PORT (or tls://HOST:PORT)"
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:  # "tcp://[::1", a port that is not a number or out of range
        raise SynkanError(usage) from None
    if (parts.scheme not in SCHEDULER_SCHEMES or not parts.hostname or port is None or parts.path not in ("", "/")
            or parts.query or parts.fragment or parts.username is not None):
        raise SynkanError(usage)
    _probe_scheduler(url)


def _probe_scheduler(url: str) -> None:
    """Check that a Dask scheduler answers at ``url``, within :data:`SCHEDULER_CONNECT_TIMEOUT_S`.

    A Dask scheduler sends its handshake as soon as a client connects,
    prefixed by its length. Reading that length ourselves keeps a silent
    server from hanging the batch, and a server of another kind from having
    its first bytes taken for a frame size of exabytes inside Dask. Over
    ``tls://`` the handshake is encrypted, so only the connection is checked.
    """
    parts = urllib.parse.urlsplit(url)
    where = f"cannot connect to the Dask scheduler at {url}"
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=SCHEDULER_CONNECT_TIMEOUT_S) as sock:
            if parts.scheme != "tcp":
                return
            head = b""
            while len(head) < 8:
                block = sock.recv(8 - len(head))
                if not block:
                    raise SynkanError(f"{where}: it closed the connection (not a Dask scheduler?)")
                head += block
    except socket.timeout:
        raise SynkanError(f"{where}: no Dask handshake within {SCHEDULER_CONNECT_TIMEOUT_S:.0f} s "
                          "(not a Dask scheduler?)") from None
    except OSError as exc:
        raise SynkanError(f"{where}: {exc.strerror or _one_line(exc)}") from None
    if not 0 < struct.unpack("<Q", head)[0] <= MAX_HANDSHAKE_BYTES:
        raise SynkanError(f"{where}: it does not speak Dask's protocol (not a Dask scheduler?)")


def _run_dask(tasks: list[_Task], scheduler: str, on_result: Callable[[Any, dict], None]) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SynkanError("--scheduler needs Dask distributed: pip install synkan[dask]") from None
    try:
        client = Client(scheduler, set_as_default=False, timeout=SCHEDULER_CONNECT_TIMEOUT_S)
    except Exception as exc:  # refused, silent, or not Dask at all (an HTTP server's reply read as a frame size)
        raise SynkanError(f"cannot connect to the Dask scheduler at {scheduler}: {_one_line(exc)}") from None
    try:
        futures = {}
        for task in tasks:
            fut = client.submit(_dask_task, *task[1], pure=False, key=f"synkan-{Path(task[1][3]).name}-{os.urandom(4).hex()}")
            futures[fut] = task
        for fut in as_completed(list(futures), loop=client.loop):
            item = futures[fut][0]
            try:
                res = fut.result()
            except Exception as exc:  # e.g. KilledWorker: the video crashed worker after worker
                res = {"status": f"failed: worker crashed ({_one_line(exc)})", "elapsed_s": None}
            on_result(item, res)
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
    finally:
        client.close()


# --- Summary --------------------------------------------------------------------------------
def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict):
            return None
        d = d.get(k)
    return d


def summary_row(item: _Item) -> dict[str, Any]:
    """One summary.csv row from a job and its report.json (if any)."""
    r = item.report or {}
    row: dict[str, Any] = {
        "path": str(item.job.path), "name": item.job.path.name, "output": item.output,
        "patient_id": item.job.patient_id, "session_date": item.job.session_date, "label": item.job.label,
        "affected_given": item.settings.affected or "", "sha256": item.sha256 or "",
        "settings_hash": item.shash, "synkan_version": r.get("synkan_version", __version__),
    }
    scores = r.get("scores") or {}
    for d in DIRECTIONS:
        for k in ("affected_side", "asymmetry_pp", "grade"):
            row[f"{d}_{k}"] = _get(scores, d, k)
        for k in ("r", "lag_s", "involuntary_pct"):
            for s in SIDES:
                row[f"{d}_{k}_{s}"] = _get(scores, d, s, k)
    row["eface_ocular_synkinesis"] = scores.get("eface_ocular_synkinesis")
    qc = r.get("qc") or {}
    row["face_fraction"] = qc.get("face_fraction")
    row["max_abs_yaw_deg"] = qc.get("max_abs_yaw_deg")
    for k in EVENT_KINDS:
        row[f"events_{k}"] = _get(qc, "events", k)
    row["n_warnings"] = len(r.get("warnings") or []) if r else None
    row["status"] = item.status
    row["elapsed_s"] = item.elapsed_s
    return row


def write_summary(outdir: Path, items: list[_Item], kept: list[dict] | None = None) -> Path:
    """Write OUTDIR/summary.csv atomically (rows of this batch, then ``kept`` earlier rows)."""
    import pandas as pd

    rows = [summary_row(it) for it in items] + list(kept or [])
    table = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    path = outdir / SUMMARY_NAME
    _atomic_write_text(path, csv_safe(table).to_csv(index=False, float_format="%.6g"))
    return path


def read_summary(outdir: str | Path):
    """summary.csv as a DataFrame (identifiers as strings, scores as numbers)."""
    import pandas as pd

    path = Path(outdir) / SUMMARY_NAME
    try:
        return pd.read_csv(path, dtype={c: str for c in ("path", "name", "output", "patient_id", "session_date",
                                                          "label", "affected_given", "sha256", "settings_hash",
                                                          "synkan_version", "status")}, keep_default_na=False,
                           na_values={c: [""] for c in SCORE_COLUMNS + QC_COLUMNS + ("elapsed_s",)})
    except FileNotFoundError:
        raise InputError(f"{path}: not found (run `synkan batch ... -o {outdir}` first)") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read ({' '.join(str(exc).split())})") from None


def _previous_rows(outdir: Path) -> dict[str, dict]:
    """Rows of an earlier summary.csv, by output folder (to keep elapsed times and other batches' rows)."""
    if not (outdir / SUMMARY_NAME).is_file():
        return {}
    try:
        table = read_summary(outdir)
    except InputError:
        return {}
    return {str(r.get("output")): r for r in table.to_dict("records") if r.get("output")}


class _Lock:
    """An exclusive lock on OUTDIR, so two batches never write the same folder at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = None

    def __enter__(self) -> "_Lock":
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


def _clean_stale(outdir: Path) -> None:
    """Remove staging folders and temp files left by a killed run (never a finished analysis folder).

    Only called while holding the batch lock, so no other batch is writing them.
    """
    for p in outdir.glob(".*"):
        if p.is_dir() and re.search(r"\.(tmp|old)-[^/]*$", p.name):
            shutil.rmtree(p, ignore_errors=True)
        elif p.is_file() and p.name.endswith(".tmp"):  # from _atomic_write_text
            p.unlink(missing_ok=True)


# --- The batch ---------------------------------------------------------------------------------
def run_batch(inputs: Iterable[str | Path], outdir: str | Path, settings: Settings | None = None, *,
              jobs: int | None = None, scheduler: str | None = None, force: bool = False,
              model: str | Path | None = None, figures: bool = True, html: bool | None = None,
              trends: bool = True, progress: bool | None = None) -> int:
    """Analyse many videos; write one folder per video, summary.csv and trends.

    Parameters
    ----------
    inputs : list of str or Path
        Folders (searched recursively), globs, video files or manifest CSVs.
    outdir : str or Path
        The batch folder.
    settings : Settings, optional
        Analysis settings for every video (a manifest's ``affected_side``
        overrides ``affected`` for its row).
    jobs : int, optional
        Worker processes (default: the number of cores).
    scheduler : str, optional
        ``tcp://HOST:PORT`` of a Dask scheduler to run on instead.
    force : bool
        Analyse again videos already done.
    model : str or Path, optional
        The landmark model; see :func:`synkan.models.resolve_model`.
    figures, html : bool
        Write figures and report.html per video (``html`` defaults to ``figures``).
    trends : bool
        Write trends.csv and the figures of :func:`write_trends` at the end.
    progress : bool, optional
        Show a progress bar, with the frames tracked in the videos under way
        (default: when stderr is a terminal; otherwise one line per finished
        video).

    Returns
    -------
    int
        0 when every video is ok (or was done already), 1 when some failed.
    """
    from .models import resolve_model

    if scheduler:
        check_scheduler(scheduler)  # before anything is written
    settings = settings or Settings()
    html = figures if html is None else html
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: exists and is not a folder")
    all_jobs = collect_jobs(inputs)
    model_path = str(resolve_model(model))  # a missing model fails here, once, not in every worker
    state = outdir / STATE_DIR
    try:
        _make_dir(state / "running")
    except OSError as exc:
        raise OutputError(f"{outdir}: cannot create output folder ({exc.strerror or exc})") from None
    for folder in (outdir, state, state / "running"):
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(f"{folder}: not writable; the batch needs to write its results there")
    with _Lock(state / "lock"):
        _clean_stale(outdir)
        _clean_stale(state)
        for m in (state / "running").iterdir():
            m.unlink(missing_ok=True)
        previous = _previous_rows(outdir)
        shas = _ShaCache(state / "sha256.json")
        failures = _Failures(state / "failures.json")

        # Which videos are done, which to run.
        items: list[_Item] = []
        owners: dict[str, _Item] = {}
        for job in all_jobs:
            s = dataclasses.replace(settings, affected=job.affected) if job.affected else settings
            item = _Item(job, s, settings_hash(s.to_dict()))
            items.append(item)
            try:
                check_regular_file(job.path)  # hashing a FIFO or /dev/zero would never end
                item.sha256 = shas.get(job.path)
            except InputError as exc:
                item.status = f"failed: {_one_line(exc)}"
                continue
            except OSError as exc:
                item.status = f"failed: cannot read {job.path} ({exc.strerror or exc})"
                continue
            name = f"{_safe_stem(job.path)}-{item.sha256[:8]}"
            other = owners.get(name)
            if other is not None and other.shash != item.shash:
                name = f"{name}-{item.shash[:6]}"  # same video listed twice with different settings
                other = owners.get(name)
            item.output = name
            if other is not None:
                item.dup_of, item.status = other, other.status
                continue
            owners[name] = item
            report = _read_report(outdir / name)
            if not force and report is not None and _report_key(report) == (item.sha256, item.shash):
                item.status, item.report = "skipped", report
                item.elapsed_s = _num_or_none(previous.get(name, {}).get("elapsed_s"))
            elif not force and (known := failures.get(name, item.sha256, item.shash)):
                item.status = known  # a bad video fails again the same way; --force retries it
                item.elapsed_s = _num_or_none(previous.get(name, {}).get("elapsed_s"))
        shas.save()

        mine = {it.output for it in items if it.output}
        paths = {str(it.job.path) for it in items}
        kept = [r for name, r in previous.items()  # rows of earlier batches into this folder stay listed
                if name not in mine and r.get("path") not in paths and str(r.get("status")) in ("ok", "skipped")
                and _read_report(outdir / name)]
        for r in kept:
            r["status"] = "skipped" if r.get("status") == "ok" else r["status"]
        todo = [it for it in items if it.status == "pending" and it.dup_of is None]

        bar, lines = None, False
        counts = {"ok": 0, "failed": 0}

        def finish(item: _Item, res: dict) -> None:
            item.status = res["status"]
            item.elapsed_s = res.get("elapsed_s")
            if item.status == "ok":
                item.report = _read_report(outdir / item.output)
                if item.report is None or _report_key(item.report) != (item.sha256, item.shash):
                    item.status, item.report = "failed: the analysis folder was not written", None
            elif (rep := _read_report(outdir / item.output)) is not None and _report_key(rep) == (item.sha256, item.shash):
                item.status, item.report = "ok", rep  # the worker died after its results were safe
            if item.status == "ok":
                failures.drop(item.output)
            elif res.get("input_error"):
                failures.add(item.output, item.sha256, item.shash, item.status)
            counts["ok" if item.status == "ok" else "failed"] += 1
            _sync_duplicates(items)
            write_summary(outdir, items, kept)
            if bar is not None:
                bar.set_postfix_str(f"ok={counts['ok']} failed={counts['failed']}", refresh=False)
                bar.update(1)
                if bar.disable and lines:  # a log file or nohup: one line per finished video
                    took = "" if item.elapsed_s is None else f" ({item.elapsed_s:.1f} s)"
                    print(f"[{sum(counts.values())}/{len(todo)}] {item.job.path.name}: {item.status}{took}", file=sys.stderr, flush=True)

        def tick() -> None:
            if bar is not None and not bar.disable:
                frames = frames_in_progress(state / "running")
                bar.set_postfix_str(f"ok={counts['ok']} failed={counts['failed']}"
                                    + (f", {frames} frames tracked in the videos under way" if frames else ""))

        _sync_duplicates(items)
        write_summary(outdir, items, kept)
        if todo:
            from tqdm import tqdm

            show = sys.stderr.isatty() if progress is None else progress
            lines = progress is None  # no terminal and no explicit choice: log lines instead of a bar
            n_jobs = max(1, min(jobs or _cpu_count(), len(todo)))
            where = f"Dask at {scheduler}" if scheduler else f"{n_jobs} worker{'s' * (n_jobs > 1)}"
            bar = tqdm(total=len(todo), desc=f"batch ({where})", unit="video", disable=not show,
                       bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]")
            bar.set_postfix_str("ok=0 failed=0")
            n_lm = 3 if any(it.settings.laterality == "mirror" for it in todo) else 1
            tasks = [(it, (str(it.job.path), it.settings.to_dict(), model_path, str((outdir / it.output).absolute()),
                           figures, html, str((state / "running").absolute()), it.sha256,
                           manifest_visit(it.job.patient_id, it.job.session_date).to_dict())) for it in todo]
            old_term = _sigterm_as_interrupt()
            try:
                if scheduler:
                    _run_dask(tasks, scheduler, finish)
                else:
                    _run_local(tasks, n_jobs, model_path, n_lm, state / "running", finish, tick)
            except KeyboardInterrupt:
                for it in todo:
                    if it.status == "pending":
                        rep = _read_report(outdir / it.output)
                        if rep is not None and _report_key(rep) == (it.sha256, it.shash):
                            it.status, it.report = "ok", rep  # finished just before the interrupt
                        else:
                            it.status = "failed: interrupted (rerun to finish)"
                _sync_duplicates(items)
                write_summary(outdir, items, kept)
                raise
            finally:
                _restore_sigterm(old_term)
                bar.close()
        _sync_duplicates(items)
        summary = write_summary(outdir, items, kept)

    if trends:
        try:
            write_trends(outdir)
        except SynkanError as exc:
            print(f"synkan: trends not written: {exc}", file=sys.stderr)
    n_ok = sum(it.status == "ok" for it in items)
    n_skip = sum(it.status == "skipped" for it in items)
    n_fail = sum(it.status.startswith("failed") for it in items)
    ran = {id(it) for it in todo}
    n_known = sum(it.status.startswith("failed") and id(it) not in ran and it.dup_of is None for it in items)
    parts = ([f"{n_ok} ok"] + ([f"{n_skip} already done"] if n_skip else [])
             + [f"{n_fail} failed" + (f" ({n_known} known, not retried without --force)" if n_known else "")])
    print(f"batch: {len(items)} videos: {', '.join(parts)}; summary in {summary}")
    return 1 if n_fail else 0


def _num_or_none(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if v != v else v


def _sync_duplicates(items: list[_Item]) -> None:
    """Rows that list a video a second time take the result of its first row."""
    for it in items:
        if it.dup_of is not None:
            it.status, it.report, it.elapsed_s = it.dup_of.status, it.dup_of.report, it.dup_of.elapsed_s


def _sigterm_as_interrupt():
    """Treat SIGTERM like Ctrl-C while the batch runs (main thread only)."""
    try:
        def handler(signum, frame):
            raise KeyboardInterrupt

        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        return None


def _restore_sigterm(old) -> None:
    if old is not None:
        try:
            signal.signal(signal.SIGTERM, old)
        except ValueError:
            pass


# --- Trends -----------------------------------------------------------------------------------------
def write_trends(outdir: str | Path) -> list[Path]:
    """Per-patient trends and a cohort figure from OUTDIR/summary.csv.

    Writes ``trends.csv`` (finished videos with a patient id and a session
    date, by patient and date) and ``trends/<patient>.png`` (each
    direction's asymmetry and grade over sessions) when the summary has
    patient ids and session dates, and ``cohort.png`` (the distribution of
    scores over all finished videos, by label when there are labels).

    Returns
    -------
    list of Path
        The files written.
    """
    import pandas as pd

    outdir = Path(outdir)
    table = read_summary(outdir)
    done = table[table["status"].isin(["ok", "skipped"])].copy()
    written: list[Path] = []
    if done.empty:
        return written
    done["date"] = pd.to_datetime(done["session_date"].replace("", None), errors="coerce")
    has = (done["patient_id"] != "") & done["date"].notna()
    trend_dir = outdir / "trends"
    if has.any():
        t = done[has].sort_values(["patient_id", "date", "name"])
        cols = ["patient_id", "session_date", "label", "name", "output"] + [
            f"{d}_{k}" for d in DIRECTIONS for k in ("affected_side", "asymmetry_pp", "grade")] + [
            "eface_ocular_synkinesis", "face_fraction", "path"]
        out = t[cols].copy()
        out["session_date"] = t["date"].dt.strftime("%Y-%m-%d")
        path = outdir / "trends.csv"
        _atomic_write_text(path, csv_safe(out).to_csv(index=False, float_format="%.4g"))
        written.append(path)
        _make_dir(trend_dir)
        wanted = set()
        for pid, rows in t.groupby("patient_id", sort=True):
            png = trend_dir / trend_figure_name(str(pid))
            wanted.add(png.name)
            _save_fig(_patient_figure(str(pid), rows), png)
            written.append(png)
        for old in trend_dir.glob("*.png"):
            if old.name not in wanted:
                old.unlink(missing_ok=True)
    path = outdir / "cohort.png"
    _save_fig(_cohort_figure(done), path)
    written.append(path)
    return written


_DIR_TITLE = {"oral_ocular": "oral-ocular (eye moves when mouth moves)",
              "ocular_oral": "ocular-oral (mouth moves when eyes close)"}
_DIR_SHORT = {"oral_ocular": "oral-ocular", "ocular_oral": "ocular-oral"}
_DIR_COLOR = {"oral_ocular": "#1f77b4", "ocular_oral": "#d62728"}
_GRADE_NAMES = ("none", "mild", "moderate", "severe")


def _save_fig(fig, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110)
        os.chmod(tmp, _output_modes()[0])
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _thresholds(ax, direction: str) -> None:
    """A direction's dashed grade thresholds on an asymmetry axis, named at the right edge."""
    from matplotlib.transforms import blended_transform_factory

    from .config import GRADE_ASYMMETRY_PP

    levels = GRADE_ASYMMETRY_PP[direction] if isinstance(GRADE_ASYMMETRY_PP, dict) else GRADE_ASYMMETRY_PP
    lo, hi = ax.get_ylim()
    tr = blended_transform_factory(ax.transAxes, ax.transData)
    for level, name in zip(levels, _GRADE_NAMES[1:]):
        if lo < level < hi:
            ax.axhline(level, color="0.75", lw=0.8, ls="--", zorder=0)
            ax.text(0.995, level, name, transform=tr, ha="right", va="bottom", fontsize=7.5, color="0.5")
    ax.axhline(0, color="0.4", lw=0.8, zorder=0)


def _top_threshold(direction: str) -> float:
    from .config import GRADE_ASYMMETRY_PP

    levels = GRADE_ASYMMETRY_PP[direction] if isinstance(GRADE_ASYMMETRY_PP, dict) else GRADE_ASYMMETRY_PP
    return float(max(levels))


def _patient_figure(pid: str, rows):
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.5, 7.6), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 2.2, 1.6]})
    dates = rows["date"].reset_index(drop=True)
    n = len(rows)
    grade_ax = axes[2]
    for i, (ax, d) in enumerate(zip(axes, DIRECTIONS)):
        y = rows[f"{d}_asymmetry_pp"].astype(float).reset_index(drop=True)
        g = rows[f"{d}_grade"].astype(float).reset_index(drop=True)
        sides = rows[f"{d}_affected_side"].reset_index(drop=True)
        ok = y.notna()
        # A session without a score (e.g. no smile filmed) is left out of the line and marked "n/a".
        ax.plot(dates[ok], y[ok], "-o", color=_DIR_COLOR[d], lw=2, ms=6, zorder=3)
        for x, v, sd in zip(dates[ok], y[ok], sides[ok]):
            if isinstance(sd, str) and sd:
                ax.annotate(sd[0].upper(), (x, v), textcoords="offset points", xytext=(0, 6), ha="center",
                            fontsize=8, color=_DIR_COLOR[d], fontweight="bold")
        for x in dates[~ok]:
            ax.annotate("n/a", (x, 0), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8,
                        color="0.45")
        top = _top_threshold(d) * 1.25
        hi = max(top, float(y.max()) * 1.15) if ok.any() else top
        lo = min(-0.08 * hi, float(y.min()) * 1.15) if ok.any() else -0.08 * hi
        ax.set_ylim(lo, hi)
        _thresholds(ax, d)
        ax.set_title(_DIR_TITLE[d], loc="left", fontsize=10, color=_DIR_COLOR[d])
        ax.set_ylabel("asymmetry (pp)")
        off = (i - 0.5) * 0.14
        gok = g.notna()
        grade_ax.plot(dates[gok], g[gok] + off, "-s", color=_DIR_COLOR[d], lw=2, ms=6, label=_DIR_SHORT[d])
    fig.suptitle(f"Patient {pid}: synkinesis over {n} session{'s' * (n != 1)}", x=0.01, ha="left", fontsize=12)
    grade_ax.set_ylim(-0.4, 3.4)
    grade_ax.set_yticks(range(4), [f"{k} {name}" for k, name in enumerate(_GRADE_NAMES)])
    grade_ax.set_ylabel("grade (heuristic)")
    grade_ax.set_title("grade", loc="left", fontsize=10)
    grade_ax.grid(axis="y", color="0.9")
    grade_ax.legend(loc="upper right", bbox_to_anchor=(1.0, 1.25), ncol=2, frameon=False, fontsize=8.5)
    span = (dates.max() - dates.min()) if n > 1 else np.timedelta64(30, "D")
    pad = max(span * 0.08, np.timedelta64(5, "D"))
    grade_ax.set_xlim(dates.min() - pad, dates.max() + pad)
    if n <= 10:  # label every session
        grade_ax.set_xticks(list(dates), [x.strftime("%Y-%m-%d") for x in dates], rotation=30, ha="right")
    grade_ax.set_xlabel("session date")
    fig.text(0.99, 0.995, "asymmetry: affected minus other side, percentage points; letters: affected side (R/L)",
             ha="right", va="top", fontsize=7.5, color="0.45")
    return fig


def _cohort_figure(done):
    import numpy as np
    from matplotlib.figure import Figure

    labels = sorted(x for x in done["label"].unique() if x)
    groups = labels + (["(no label)"] if (done["label"] == "").any() and labels else [])
    if not labels:
        groups = ["all videos"]

    def members(g):
        if g == "all videos":
            return done
        return done[done["label"] == ("" if g == "(no label)" else g)]

    panels = [(f"{d}_asymmetry_pp", f"{_DIR_SHORT[d]} asymmetry (pp)\naffected minus other side") for d in DIRECTIONS]
    panels.append(("eface_ocular_synkinesis", "eFACE ocular synkinesis\n(100 = none)"))
    fig = Figure(figsize=(max(9.0, 3 * (1.6 + 0.9 * len(groups))), 4.4),
                 layout="constrained")
    axes = fig.subplots(1, len(panels))
    rng = np.random.default_rng(0)
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"]
    for ax, (col, title) in zip(axes, panels):
        data = [members(g)[col].astype(float).dropna().to_numpy() for g in groups]
        pos = np.arange(len(groups))
        nonempty = [i for i, v in enumerate(data) if len(v) >= 3]  # a box of fewer points says nothing
        if nonempty:
            ax.boxplot([data[i] for i in nonempty], positions=pos[nonempty], widths=0.5, showfliers=False,
                       medianprops={"color": "k"}, boxprops={"color": "0.6"}, whiskerprops={"color": "0.6"},
                       capprops={"color": "0.6"})
        for i, v in enumerate(data):
            ax.scatter(i + rng.uniform(-0.13, 0.13, len(v)), v, s=30, alpha=0.85, color=colors[i % len(colors)],
                       edgecolor="white", linewidth=0.5, zorder=3)
        ax.set_xticks(pos, [f"{g}\nn={len(v)}" for g, v in zip(groups, data)], fontsize=9)
        ax.set_xlim(-0.6, len(groups) - (0.05 if col.endswith("asymmetry_pp") else 0.4))  # room for threshold names
        ax.set_title(title, fontsize=10)
        if not any(len(v) for v in data):
            ax.text(0.5, 0.5, "no scores\n(no driver movements found)", transform=ax.transAxes, ha="center",
                    va="center", fontsize=9, color="0.45")
        if col.endswith("asymmetry_pp"):
            lo, hi = ax.get_ylim()
            d = col[: -len("_asymmetry_pp")]
            ax.set_ylim(min(lo, -0.08 * hi), max(hi, _top_threshold(d) * 1.15))
            _thresholds(ax, d)
        else:
            ax.grid(axis="y", color="0.93")
            ax.set_ylim(min(-2.0, ax.get_ylim()[0]), 103)
    n = len(done)
    fig.suptitle(f"Cohort: {n} analysed video{'s' * (n != 1)}" + (" by label" if labels else "")
                 + " (one dot per video; grade thresholds dashed)", fontsize=11, x=0.01, ha="left")
    return fig
