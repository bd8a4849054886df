"""The batch itself: plan which videos to run, run them locally or on Dask, keep summary.csv current."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Iterable

from .._util.files import safe_name
from .._util.process import terminate_as_interrupt
from .._util.words import plural
from ..config import Settings
from ..errors import InputError, OutputError, SynkanError, one_line
from ..measure.video import check_regular_file
from .cluster import Tls, check_scheduler, run_dask
from .jobs import Job, collect_jobs
from .local import cpu_count, run_local
from .state import (
    INTERRUPTED,
    PENDING,
    SCORED_FROM,
    Failures,
    Item,
    Lock,
    ShaCache,
    clean_stale,
    prepare_state,
    read_report,
    settings_hash,
)
from .summary import previous_rows, write_summary
from .trends import write_trends
from .worker import frames_in_progress, started


def _num_or_none(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return None if v != v else v


@dataclasses.dataclass(frozen=True)
class Outputs:
    """What each analysis folder of a batch holds besides report.json (as ``synkan analyze``'s flags)."""

    figures: bool = True
    html: bool = True
    pdf: bool = False
    paper: str | None = None
    deidentify: bool = False

    def folder_name(self, path: Path, sha256: str) -> str:
        """The video's analysis folder: its name and hash, or only the generated ID when de-identified."""
        from ..clinic.deidentify import video_id

        return video_id(sha256) if self.deidentify else f"{safe_name(path.stem)}-{sha256[:8]}"

    def complete(self, folder: Path) -> bool:
        """``folder`` holds every file asked for (a report.pdf asked for now was maybe not before)."""
        return not self.pdf or (folder / "report.pdf").is_file()


def status_text(status: str, path: Path) -> str:
    """A row's status without the video's path, which the row's ``path`` column already holds.

    Examples
    --------
    >>> status_text("failed: /v/a.mp4: cannot decode /v/a.mp4", Path("/v/a.mp4"))
    'failed: cannot decode a.mp4'
    """
    return status.replace(f"{path}: ", "").replace(str(path), path.name)


def _plan(jobs: list[Job], settings: Settings, outdir: Path, state: Path, previous: dict[str, dict],
          failures: Failures, redo: str, outputs: Outputs) -> list[Item]:
    """One item per job: its input hash and output folder, and whether it is done, known to fail, or to run.

    ``redo`` is ``"all"`` (``--force``), ``"failed"`` (``--retry-failed``: the videos known to fail too) or
    ``""`` (only what is missing).
    """
    shas = ShaCache(state / "sha256.json")
    items: list[Item] = []
    owners: dict[str, Item] = {}
    for job in jobs:
        s = dataclasses.replace(settings, affected=job.affected) if job.affected else settings
        item = Item(job, s, settings_hash(s.to_dict()))
        items.append(item)
        try:
            check_regular_file(job.path)  # hashing a FIFO or /dev/zero would never end
            item.sha256 = shas.get(job.path)
        except InputError as exc:
            item.status = status_text(f"failed: {one_line(exc)}", job.path)
            continue
        except OSError as exc:
            item.status = f"failed: cannot read the video ({exc.strerror or exc})"
            continue
        name = outputs.folder_name(job.path, item.sha256)
        other = owners.get(name)
        if other is not None and other.shash != item.shash:
            name = f"{name}-{item.shash[:6]}"  # same video listed twice with different settings
            other = owners.get(name)
        item.output = name
        if other is not None:
            item.dup_of, item.status = other, other.status
            continue
        owners[name] = item
        earlier = previous.get(name, {})
        report = None if redo == "all" else item.finished(outdir)
        if report is not None and outputs.complete(outdir / name):
            item.status, item.report = "skipped", report
            item.scored_from = str(earlier.get("scored_from") or "")
            item.elapsed_s = _num_or_none(earlier.get("elapsed_s"))
        elif not redo and (known := failures.get(name, item.sha256, item.shash)):
            # A bad video fails again the same way; --retry-failed or --force retries it.
            item.status = status_text(known, job.path)
            item.elapsed_s = _num_or_none(earlier.get("elapsed_s"))
    shas.save()
    return items


def _kept_rows(previous: dict[str, dict], items: list[Item], outdir: Path) -> list[dict]:
    """Finished rows of earlier batches into this folder that this one does not list: they stay listed."""
    mine = {it.output for it in items if it.output}
    paths = {str(it.job.path) for it in items}
    kept = [r for name, r in previous.items()
            if name not in mine and r.get("path") not in paths and str(r.get("status")) in ("ok", "skipped")
            and read_report(outdir / name)]
    for r in kept:
        r["status"] = "skipped"
    return kept


class _Run:
    """One batch run's bookkeeping: results as they come, summary.csv after each, progress on stderr."""

    def __init__(self, outdir: Path, state: Path, items: list[Item], kept: list[dict], failures: Failures,
                 todo: list[Item]) -> None:
        self.outdir, self.state, self.items, self.kept, self.failures, self.todo = outdir, state, items, kept, failures, todo
        self.counts = {"ok": 0, "failed": 0}
        self.bar, self.lines = None, False

    def write(self) -> Path:
        for it in self.items:  # rows that list a video a second time take the result of its first row
            if it.dup_of is not None:
                it.status, it.report, it.elapsed_s = it.dup_of.status, it.dup_of.report, it.dup_of.elapsed_s
                it.scored_from = it.dup_of.scored_from
        return write_summary(self.outdir, self.items, self.kept)

    def start_bar(self, where: str, progress: bool | None) -> None:
        from tqdm import tqdm

        show = sys.stderr.isatty() if progress is None else progress
        self.lines = progress is None  # no terminal and no explicit choice: log lines instead of a bar
        self.bar = tqdm(total=len(self.todo), desc=f"batch ({where})", unit="video", disable=not show,
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]")
        self.bar.set_postfix_str("ok=0 failed=0")

    def finish(self, item: Item, res: dict) -> None:
        """Record one video's result (a worker's answer, checked against its folder)."""
        item.status, item.elapsed_s = status_text(res["status"], item.job.path), res.get("elapsed_s")
        item.scored_from = SCORED_FROM[bool(res.get("rescored"))] if item.status == "ok" else ""
        if item.status == "ok":
            item.report = item.finished(self.outdir)
            if item.report is None:
                item.status = "failed: the analysis folder was not written"
        elif (report := item.finished(self.outdir)) is not None:
            item.status, item.report = "ok", report  # the worker died after its results were safe
        if item.status == "ok":
            self.failures.drop(item.output)
        elif res.get("input_error"):
            self.failures.add(item.output, item.sha256, item.shash, item.status)
        self.counts["ok" if item.status == "ok" else "failed"] += 1
        self.write()
        self.bar.set_postfix_str(f"ok={self.counts['ok']} failed={self.counts['failed']}", refresh=False)
        self.bar.update(1)
        if self.bar.disable and self.lines:  # a log file or nohup: one line per finished video
            took = "" if item.elapsed_s is None else f" ({item.elapsed_s:.1f} s)"
            print(f"[{sum(self.counts.values())}/{len(self.todo)}] {item.job.path.name}: {item.status}{took}",
                  file=sys.stderr, flush=True)

    def tick(self) -> None:
        """Show the frames tracked in the videos under way."""
        if not self.bar.disable:
            frames = frames_in_progress(self.state / "running")
            under_way = f", {plural(frames, 'frame')} tracked in the videos under way" if frames else ""
            self.bar.set_postfix_str(f"ok={self.counts['ok']} failed={self.counts['failed']}{under_way}")

    def interrupted(self) -> None:
        """After Ctrl-C or SIGTERM: videos that had started are failed (rerun to finish), the others
        pending."""
        begun = started(self.state / "running")
        for it in self.todo:
            if it.status == PENDING:
                if (report := it.finished(self.outdir)) is not None:
                    it.status, it.report = "ok", report  # finished just before the interrupt
                elif it.output in begun:
                    it.status = INTERRUPTED
        self.write()


def _execute(run: _Run, scheduler: str | None, security, jobs: int | None, model_path: str, outputs: Outputs,
             progress: bool | None) -> None:
    """Run the videos to do, on Dask or a local pool; Ctrl-C or SIGTERM leaves summary.csv current."""
    todo, running = run.todo, run.state / "running"
    n_jobs = max(1, min(jobs or cpu_count(), len(todo)))
    run.start_bar(f"Dask at {scheduler}" if scheduler else plural(n_jobs, "worker"), progress)
    n_lm = 3 if any(it.settings.laterality == "mirror" for it in todo) else 1
    tasks = [(it, (str(it.job.path), it.settings.to_dict(), model_path, str((run.outdir / it.output).absolute()),
                   outputs.figures, outputs.html, str(running.absolute()), it.sha256, it.job.visit,
                   outputs.deidentify, outputs.pdf, outputs.paper)) for it in todo]
    try:
        with terminate_as_interrupt():
            if scheduler:
                run_dask(tasks, scheduler, security, run.finish)
            else:
                run_local(tasks, n_jobs, model_path, n_lm, running, run.finish, run.tick)
    except KeyboardInterrupt:
        run.interrupted()
        raise
    finally:
        run.bar.close()


def run_batch(inputs: Iterable[str | Path], outdir: str | Path, settings: Settings | None = None, *,
              jobs: int | None = None, scheduler: str | None = None, tls: Tls | None = None, force: bool = False,
              retry_failed: bool = False, model: str | Path | None = None, figures: bool = True,
              html: bool | None = None, trends: bool = True, progress: bool | None = None, pdf: bool = False,
              paper: str | None = None, deidentify: bool = False) -> int:
    """Analyse many videos; write one folder per video, summary.csv and trends.

    Parameters
    ----------
    inputs : list of str or Path
        Folders (searched recursively), globs, video files or manifest CSVs
        (see :mod:`synkan.batch.jobs`).
    outdir : str or Path
        The batch folder.
    settings : Settings, optional
        Analysis settings for every video (a manifest's ``affected_side``
        overrides ``affected`` for its row).
    jobs : int, optional
        Worker processes (default: the number of cores).
    scheduler : str, optional
        ``tcp://HOST:PORT`` or ``tls://HOST:PORT`` of a Dask scheduler to run
        on instead (see :mod:`synkan.batch.cluster` for what each trusts).
    tls : Tls, optional
        Certificates for a ``tls://`` scheduler.
    force : bool
        Analyse again every video, those already done too.
    retry_failed : bool
        Try again the videos that failed because of what they are (not
        readable, no face); without it a rerun with the same settings lists
        them as failed without running them, since they would fail again.
        Interrupted videos and worker crashes are always tried again.
    model : str or Path, optional
        The landmark model; see :func:`synkan.measure.models.resolve_model`.
    figures, html : bool
        Write figures and report.html per video (``html`` defaults to ``figures``).
    pdf, paper : bool, str
        Also print each report.html to report.pdf, on ``paper`` (as
        ``synkan analyze --pdf --paper``); a folder done without its
        report.pdf is re-scored from its track to add it.
    deidentify : bool
        De-identify every analysis folder as ``synkan analyze --deidentify``;
        the folders are named by the generated ID (``video-<sha256>``), not
        the video's name. summary.csv still lists each video's path and name:
        it is the lab's key back to its files, not a file to share.
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
    from ..measure.models import resolve_model

    if tls is not None and tls.given() and not scheduler:
        raise SynkanError(f"{next(iter(tls.given()))} needs --scheduler tls://HOST:PORT")
    security = check_scheduler(scheduler, tls) if scheduler else None  # before anything is written
    settings = settings or Settings()
    outputs = Outputs(figures, figures if html is None else html, pdf, paper, deidentify)
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise OutputError(f"{outdir}: exists and is not a folder")
    all_jobs = collect_jobs(inputs)
    model_path = str(resolve_model(model))  # a missing model fails here, once, not in every worker
    state = prepare_state(outdir)
    with Lock(state / "lock"):
        for folder in (outdir, state):
            clean_stale(folder)
        for marker in (state / "running").iterdir():
            marker.unlink(missing_ok=True)
        previous = previous_rows(outdir)
        failures = Failures(state / "failures.json")
        redo = "all" if force else "failed" if retry_failed else ""
        items = _plan(all_jobs, settings, outdir, state, previous, failures, redo, outputs)
        todo = [it for it in items if it.status == PENDING and it.dup_of is None]
        run = _Run(outdir, state, items, _kept_rows(previous, items, outdir), failures, todo)
        summary = run.write()
        if todo:
            _execute(run, scheduler, security, jobs, model_path, outputs, progress)
            summary = run.write()
    if trends:
        try:
            write_trends(outdir)
        except SynkanError as exc:
            print(f"synkan: trends not written: {exc}", file=sys.stderr)
    return _report(items, todo, summary)


def _report(items: list[Item], todo: list[Item], summary: Path) -> int:
    """Print the batch's one-line result; return its exit code."""
    n_ok = sum(it.status == "ok" for it in items)
    n_skip = sum(it.status == "skipped" for it in items)
    n_fail = sum(it.status.startswith("failed") for it in items)
    ran = {id(it) for it in todo}
    n_known = sum(it.status.startswith("failed") and id(it) not in ran and it.dup_of is None for it in items)
    known = f" ({n_known} known, not retried without --retry-failed)" if n_known else ""
    parts = [f"{n_ok} ok"] + ([f"{n_skip} already done"] if n_skip else []) + [f"{n_fail} failed{known}"]
    print(f"batch: {len(items)} videos: {', '.join(parts)}; summary in {summary}")
    return 1 if n_fail else 0
