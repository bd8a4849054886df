"""Keep native libraries' informational log lines off the command line's stderr.

MediaPipe's C++ core logs through Abseil straight to file descriptor 2, and
no Python logger or environment variable reaches it (``GLOG_minloglevel`` no
longer does since MediaPipe moved to Abseil logging). Some of its warnings
come at random, for example LiteRT's "Input tensor memory is not aligned ...
Reallocating memory", which depends on where the allocator happened to put a
tensor. A user's terminal must show synkan's one-line messages, not that.

:func:`filtered_native_stderr` routes fd 2 through a pipe read by a thread
that drops Abseil/glog INFO and WARNING lines (and TensorFlow Lite's
``INFO:`` lines) and passes everything else on, errors and fatal messages
included. Python's own ``sys.stderr`` keeps writing to the terminal
directly, so progress bars still see a terminal and Python messages are not
delayed.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from typing import Iterator

# Abseil / glog prefix: severity letter, MMDD, time, thread id, file:line]
# (for example "W0000 00:00:1796134493.808395   27042 inference_runner_litert.cc:1433] ...").
_DROPPED_LINE = re.compile(rb"^(?:[IW]\d{4} \d\d:\d\d:[\d.]+\s+\d+ [^\]\s]+:\d+\] |INFO: )")
_JOIN_TIMEOUT_S = 2.0  # a child process still holding the pipe must not hold up the exit


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


def _forward(read_fd: int, write_fd: int) -> None:
    """Copy ``read_fd`` to ``write_fd`` line by line, without the dropped lines; close both at the end."""
    pending = b""
    try:
        while chunk := os.read(read_fd, 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            kept = b"".join(line + b"\n" for line in lines if not is_dropped(line))
            if kept:
                os.write(write_fd, kept)
        if pending and not is_dropped(pending):
            os.write(write_fd, pending)
    except OSError:  # the terminal went away: nothing left to tell
        pass
    finally:
        os.close(read_fd)
        os.close(write_fd)


@contextlib.contextmanager
def filtered_native_stderr() -> Iterator[None]:
    """Within the block, native writes to fd 2 lose their INFO and WARNING log lines.

    Python's ``sys.stderr`` is pointed at the original stream for the block's
    duration. Where ``sys.stderr`` is not the process's own (a notebook,
    pytest's capture) or there is no fd 2, the block runs unchanged.
    """
    if sys.stderr is not sys.__stderr__ or sys.stderr is None:
        yield
        return
    try:
        sys.stderr.flush()
        original = os.dup(2)
    except (AttributeError, OSError, ValueError):
        yield
        return
    read_fd, write_fd = os.pipe()
    reader = threading.Thread(target=_forward, args=(read_fd, os.dup(original)), name="native-stderr", daemon=True)
    reader.start()
    python_stderr = sys.stderr
    sys.stderr = open(os.dup(original), "w", buffering=1, encoding=python_stderr.encoding,
                      errors=python_stderr.errors)  # line-buffered, as Python's own stderr
    os.dup2(write_fd, 2)
    os.close(write_fd)
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr.close()
        sys.stderr = python_stderr
        os.dup2(original, 2)  # closes the pipe's last write end: the reader sees the end
        os.close(original)
        reader.join(_JOIN_TIMEOUT_S)
