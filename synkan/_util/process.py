"""How synkan's processes start and end: closed stdio, SIGTERM, children that die with their parent.

- :func:`usable_stdio`: a command started with stderr closed (``2>&-``)
  gets ``/dev/null`` there, so no file opened later becomes fd 2 (native
  log lines would land in it) and ``sys.stderr`` is never None.
- :func:`terminate_as_interrupt`: SIGTERM and SIGHUP stop a run as Ctrl-C
  does, so every ``finally`` removes its temporary files.
- :func:`die_with_parent`: a worker process is killed when its parent dies,
  even by SIGKILL (Linux ``PR_SET_PDEATHSIG``; elsewhere a watchdog thread).
- :func:`run_in_group`: an external program (the browser) in its own process
  group, the whole group killed on a timeout or an interrupt.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Iterator

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCHDOG_INTERVAL_S = 1.0


def usable_stdio() -> None:
    """Open ``/dev/null`` on any of fds 0-2 that is closed, and give Python a stream for each."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:  # the lowest free fd: it is ``fd`` unless a lower one was closed too
                os.dup2(null, fd)
                os.close(null)
    for name, fd, mode in (("stdout", 1, "w"), ("stderr", 2, "w")):
        if getattr(sys, name) is None:
            stream = open(fd, mode, buffering=1, closefd=False)
            setattr(sys, name, stream)
            setattr(sys, f"__{name}__", stream)


def say(message: str) -> None:
    """One line on stderr; a stderr that cannot be written (closed, ``/dev/full``) changes nothing."""
    with contextlib.suppress(OSError, ValueError):
        print(message, file=sys.stderr, flush=True)


def release_stderr() -> None:
    """Flush stderr and let go of it: on ``/dev/full`` the exit code stays the command's, not Python's 120."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    sys.stderr = None


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: handled as Ctrl-C, so that cleanup runs."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated(signal.Signals(signum).name)


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """In the block SIGTERM and SIGHUP raise :class:`Terminated`, a KeyboardInterrupt (main thread only)."""
    old = {}
    with contextlib.suppress(ValueError):  # not the main thread: leave the handlers alone
        for sig in (signal.SIGTERM, signal.SIGHUP):
            old[sig] = signal.signal(sig, _raise_terminated)
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def die_with_parent(parent: int | None = None) -> None:
    """Have this process killed when its parent dies (call first thing in a worker).

    Parameters
    ----------
    parent : int, optional
        The pid of the parent that started this process (default: the current
        parent); if it is no longer the parent, it died already: exit now.
    """
    parent = os.getppid() if parent is None else parent
    libc_name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None
    done = False
    if libc_name:
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(libc_name, use_errno=True)
            done = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)
    if not done:
        threading.Thread(target=_watch_parent, args=(parent,), name="parent-watchdog", daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCHDOG_INTERVAL_S)
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_in_group(cmd: list[str], timeout_s: float) -> tuple[int, str]:
    """Run ``cmd`` in a new process group, killed as a whole when it ends; ``(exit code, stderr)``.

    The program's own children (a browser's renderer and helper processes)
    cannot outlive it, a timeout or an interrupt; its stderr goes to a
    temporary file (a pipe held open by a leftover child would block).

    Raises
    ------
    subprocess.TimeoutExpired
        After ``timeout_s``; the group was killed.
    OSError
        The program cannot be started.
    """
    import tempfile

    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
        try:
            code = proc.wait(timeout=timeout_s)
        finally:
            _kill_group(proc.pid)  # its leftovers too, also after a normal exit
            proc.kill()
            proc.wait()
        err.seek(0)
        return code, err.read(1_000_000).decode(errors="replace")
