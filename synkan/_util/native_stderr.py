"""Keep native libraries' informational log lines off the command line's stderr, and say when a run crashed.

MediaPipe's C++ core logs through Abseil straight to file descriptor 2, and
no Python logger or environment variable reaches it (``GLOG_minloglevel`` no
longer does since MediaPipe moved to Abseil logging). Some of its warnings
come at random, for example LiteRT's "Input tensor memory is not aligned ...
Reallocating memory", which depends on where the allocator happened to put a
tensor. A user's terminal must show synkan's one-line messages, not that.

:func:`filtered_native_stderr` routes fd 2 through a pipe read by a small
forked helper process that drops Abseil/glog INFO and WARNING lines (and
TensorFlow Lite's ``INFO:`` lines) and passes everything else on, errors and
fatal messages included. A process, not a thread: when the run dies of a
signal (a native abort or segfault, the OOM killer) the helper still reads
and passes on what the dying run wrote (the native FATAL line), says in one
line that the run crashed, and removes what the run registered with
:func:`removed_if_crashed` (its output lock and staging folder). Python's
own ``sys.stderr`` keeps writing to the terminal directly, so progress bars
still see a terminal and Python messages are not delayed.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
import select
import shutil
import signal
import sys
import time
from typing import Iterator

# Abseil / glog prefix: severity letter, MMDD, time, thread id, file:line]
# (for example "W0000 00:00:1796134493.808395   27042 inference_runner_litert.cc:1433] ...").
_DROPPED_LINE = re.compile(rb"^(?:[IW]\d{4} \d\d:\d\d:[\d.]+\s+\d+ [^\]\s]+:\d+\] |INFO: )")
_JOIN_TIMEOUT_S = 2.0  # a child process still holding the pipe must not hold up the exit
_DRAIN_QUIET_S = 0.3  # after the run ended: what its children still write, until this long a silence
# Control records from the run to the helper, each ended by NUL (no path holds one).
_CLEAN_END, _ADD_LOCK, _ADD_PATH, _DROP = b"=", b"L", b"P", b"-"
CRASH_MESSAGE = (b"synkan: error: the run crashed (killed by a signal or a native library fault); "
                 b"its temporary files were removed\n")
_control_fd: int | None = None  # the helper's control pipe, while a filter runs in this process


def is_dropped(line: bytes) -> bool:
    """Whether one native log line is informational (dropped) rather than an error (kept).

    Examples
    --------
    >>> is_dropped(b"W0000 00:00:1796134493.808395   27042 inference_runner_litert.cc:1433] Input tensor ...")
    True
    >>> is_dropped(b"E0000 00:00:1796134493.808395   27042 calculator_graph.cc:928] INTERNAL: ...")
    False
    >>> is_dropped(b"synkan: error: no face found")
    False
    """
    return bool(_DROPPED_LINE.match(line))


def _write(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the terminal went away: nothing left to tell
        os.write(fd, data)


def _filter(pending: bytes, chunk: bytes, out_fd: int) -> bytes:
    """Pass on the complete kept lines of ``pending + chunk``; return the incomplete rest."""
    *lines, rest = (pending + chunk).split(b"\n")
    kept = b"".join(line + b"\n" for line in lines if not is_dropped(line))
    if kept:
        _write(out_fd, kept)
    return rest


def _remove(path: bytes, kind: bytes) -> None:
    """Remove what a crashed run registered; a lock only when no other run holds it."""
    with contextlib.suppress(OSError):
        if kind == _ADD_PATH:
            shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)
            return
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(path)  # held: a run waiting on it sees the inode change and retries
        finally:
            os.close(fd)


def _apply(records: list[bytes], registered: dict[bytes, bytes]) -> bool:
    """Apply control records to ``registered``; whether the run said it ended cleanly."""
    clean = False
    for record in records:
        kind, path = record[:1], record[1:]
        if kind == _CLEAN_END:
            clean = True
        elif kind == _DROP:
            registered.pop(path, None)
        elif kind in (_ADD_LOCK, _ADD_PATH):
            registered[path] = kind
    return clean


def _supervise(read_fd: int, control_fd: int, out_fd: int) -> None:
    """The helper: filter ``read_fd`` to ``out_fd`` until the run ends; if it crashed, say so and clean up."""
    pending, control, registered, clean, ended = b"", b"", {}, False, False
    watched = [read_fd, control_fd]
    while watched:
        ready, _, _ = select.select(watched, [], [], _DRAIN_QUIET_S if ended else None)
        if not ready:
            break  # the run is over and its children (holding fd 2) are quiet
        for fd in ready:
            chunk = os.read(fd, 65536)
            if fd == read_fd:
                pending = _filter(pending, chunk, out_fd) if chunk else pending
            else:
                *records, control = (control + chunk).split(b"\0")
                clean |= _apply(records, registered)
            if not chunk:
                watched.remove(fd)
                ended = ended or fd == control_fd
    if pending and not is_dropped(pending):
        _write(out_fd, pending)
    if not clean:
        _write(out_fd, CRASH_MESSAGE)
        for path, kind in registered.items():
            _remove(path, kind)


def _start_helper(out_fd: int) -> tuple[int, int, int]:
    """Fork the helper; returns ``(pid, write end of the stderr pipe, control fd)``."""
    read_fd, write_fd = os.pipe()
    control_r, control_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the helper: outlives a crash of the run, so it ignores what stops the run
        try:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)
            os.close(write_fd)
            os.close(control_w)
            _supervise(read_fd, control_r, out_fd)
        finally:
            os._exit(0)
    os.close(read_fd)
    os.close(control_r)
    return pid, write_fd, control_w


def _send(record: bytes) -> None:
    if _control_fd is not None:
        with contextlib.suppress(OSError):
            os.write(_control_fd, record + b"\0")


@contextlib.contextmanager
def removed_if_crashed(path: str | os.PathLike, lock: bool = False) -> Iterator[None]:
    """Within the block, a crash of this run (while a filter runs) removes ``path`` (a lock file: if free).

    Where no :func:`filtered_native_stderr` runs, nothing is registered.
    """
    key = os.fsencode(os.path.abspath(path))
    _send((_ADD_LOCK if lock else _ADD_PATH) + key)
    try:
        yield
    finally:
        _send(_DROP + key)


def _wait(pid: int, timeout_s: float) -> None:
    """Reap the helper, waiting at most ``timeout_s`` for it to pass on the last lines."""
    deadline = time.monotonic() + timeout_s
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(pid, os.WNOHANG) == (0, 0) and time.monotonic() < deadline:
            time.sleep(0.01)


@contextlib.contextmanager
def filtered_native_stderr() -> Iterator[None]:
    """Within the block, native writes to fd 2 lose their INFO and WARNING log lines; a crash is reported.

    Python's ``sys.stderr`` is pointed at the original stream for the block's
    duration. Where ``sys.stderr`` is not the process's own (a notebook,
    pytest's capture) or there is no fd 2, the block runs unchanged.
    """
    global _control_fd
    if sys.stderr is not sys.__stderr__ or sys.stderr is None or _control_fd is not None:
        yield
        return
    try:
        sys.stderr.flush()
        original = os.dup(2)
    except (AttributeError, OSError, ValueError):
        yield
        return
    pid, write_fd, _control_fd = _start_helper(original)
    python_stderr = sys.stderr
    sys.stderr = open(os.dup(original), "w", buffering=1, encoding=python_stderr.encoding,
                      errors=python_stderr.errors)  # line-buffered, as Python's own stderr
    os.dup2(write_fd, 2)
    os.close(write_fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            sys.stderr.flush()
        with contextlib.suppress(OSError):
            sys.stderr.close()
        sys.stderr = python_stderr
        os.dup2(original, 2)  # closes the pipe's last write end here: the helper sees the end
        os.close(original)
        _send(_CLEAN_END)
        os.close(_control_fd)
        _control_fd = None
        _wait(pid, _JOIN_TIMEOUT_S)
