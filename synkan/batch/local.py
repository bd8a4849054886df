"""The local runner: a spawn process pool that survives a worker dying.

A video that crashes its worker (killed, out of memory, a native library
fault) is marked failed and the pool is recreated; the other videos finish.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections import deque
from pathlib import Path
from typing import Any, Callable

from ..errors import SynkanError
from .worker import MARKER_INTERVAL_S, init_worker, process_video, started

Task = tuple  # (item, args for process_video)


def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def run_local(tasks: list[Task], jobs: int, model: str, n_lm: int, marker_dir: Path,
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
        pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=init_worker,
                                      initargs=(model, n_lm))
        inflight: dict[cf.Future, Task] = {}
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
                begun = started(marker_dir)
                suspects = [t for t in inflight.values() if Path(t[1][3]).name in begun]
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
