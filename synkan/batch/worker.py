"""One video in a worker process: analyse it (or re-score it from its track) and write its folder.

MediaPipe is not fork-safe, so local workers are spawned. Each worker builds
its landmarkers once (1 for plain laterality, 3 for mirror) and reuses them
for every video it analyses; :meth:`Landmarker.reset` makes the results
independent of which video came before, so a batch gives the same numbers as
analysing each video on its own.

While a video is under way its worker keeps a running marker
``<state>/running/<output>.<pid>`` holding the frames tracked so far: the
progress bar sums them, a broken pool learns from them which videos had
started, and an interrupt tells started videos from those still pending.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path
from typing import Callable

from .._util.process import die_with_parent
from .._version import __version__
from ..config import Settings
from ..errors import InputError, one_line
from .state import read_report

MARKER_INTERVAL_S = 1.0  # workers note their frames this often; the bar shows them

# The landmarkers of this worker, built once and reused for every video. Thread-local, because a
# MediaPipe landmarker must not be shared between threads (a Dask worker may run several).
_WORKER = threading.local()


def landmarkers(model: str, n: int) -> list:
    """This worker's landmarkers, built once and reused (grown to ``n`` if needed)."""
    from ..measure.models import resolve_model
    from ..measure.tracking import Landmarker

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


def init_worker(model: str, n_landmarkers: int) -> None:
    """Process-pool initializer: build the landmarkers once per worker."""
    # Ctrl-C reaches the whole process group: the main process stops the pool and terminates the
    # workers, so they ignore SIGINT rather than each printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A batch killed with SIGKILL must not leave its workers (~340 MB each) running, even one still starting.
    parent = multiprocessing.parent_process()
    die_with_parent(parent.pid if parent is not None else None)
    landmarkers(model, n_landmarkers)


def reusable_track(folder: Path, sha256: str | None, settings: Settings):
    """``(track, report)`` of an earlier analysis in ``folder`` of the same video with the same tracking
    settings, or None.

    Only scoring settings changed (affected side, segments, lag window,
    cutoff): the landmarks are the same, so the video need not be decoded
    and tracked again.
    """
    from ..measure.tracking import Track

    report = read_report(folder)
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


def frames_to(marker: Path) -> Callable[[int], None]:
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
                  marker_dir: str | None = None, sha256: str | None = None, visit: dict | None = None,
                  deidentify: bool = False, pdf: bool = False, paper: str | None = None) -> dict:
    """Analyse one video in a worker and write its folder; never raises for a bad video.

    ``visit`` (the manifest's :attr:`Job.visit`) goes into its report.json;
    ``figures``, ``html``, ``deidentify``, ``pdf`` and ``paper`` are
    :func:`~synkan.report.writer.write_outputs`' (``synkan analyze``'s flags).
    When ``folder`` already holds an analysis of this video (``sha256``)
    with the same tracking settings, it is re-scored from its ``track.npz``.

    Returns ``{"status": "ok" | "failed: <reason>", "elapsed_s": float, "input_error": bool, "rescored":
    bool}``;
    ``input_error`` marks a failure that is a property of the video (not
    readable, no face), which a rerun with the same settings would repeat;
    ``rescored`` that an earlier track was reused.
    """
    from ..analysis import analyze, rescore
    from ..report.writer import write_outputs
    from ..visit import Visit

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
            lms = landmarkers(model, 3 if s.laterality == "mirror" else 1)
            result = analyze(path, s, landmarkers=lms[: 3 if s.laterality == "mirror" else 1],
                             progress=None if marker is None else frames_to(marker), visit=Visit.from_dict(visit))
        write_outputs(result, folder, force=True, figures=figures, html=html, deidentify=deidentify, pdf=pdf,
                      paper=paper)
        status = "ok"
    except InputError as exc:
        status, input_error = f"failed: {one_line(exc)}", True
    except Exception as exc:  # one bad video must not stop the batch
        status = f"failed: {one_line(exc)}"
    finally:
        if marker is not None:
            marker.unlink(missing_ok=True)
    return {"status": status, "elapsed_s": round(time.perf_counter() - t0, 3), "input_error": input_error,
            "rescored": earlier is not None}


def started(marker_dir: Path) -> set[str]:
    """Output folder names of the videos whose worker has started them (their running marker exists)."""
    return {m.name.rsplit(".", 1)[0] for m in marker_dir.iterdir()}
