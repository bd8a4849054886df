"""Helpers of the hostile-input tests (issue 26): run the real command, check refusals, make folders."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ENV = dict(os.environ, PYTHONWARNINGS="default")


def synkan(*argv, timeout: float = 120, cwd: Path | None = None, **kw) -> subprocess.CompletedProcess:
    """``synkan ARGV`` as its own process (text output captured), killed after ``timeout``."""
    return subprocess.run(
        [sys.executable, "-m", "synkan.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=kw.pop("env", ENV),
        **kw,
    )


def refused(done: subprocess.CompletedProcess, *needles: str) -> str:
    """Assert a refusal: exit 2, one short ``synkan: error: ...`` line on stderr, no traceback; return it."""
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("synkan: error: "), done.stderr[-2000:]
    assert "Traceback" not in done.stderr and len(lines[0]) <= 1100
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    """Hidden temporary entries synkan names (``.X.tmp-*``, ``.X.lock``, ``*.part*``) in ``folder``."""
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.name.startswith(".") and any(k in p.name for k in (".tmp", ".lock", ".part", ".old-"))
    )


def visit_copy(analysis: Path, dest: Path, **visit) -> Path:
    """A copy of an analysis folder with its visit fields set (a second "visit" for compare)."""
    shutil.copytree(analysis, dest, symlinks=True)
    edit_report(dest, lambda r: r["visit"].update(visit))
    return dest


def edit_report(folder: Path, change) -> None:
    """Apply ``change(report)`` to ``folder/report.json`` (a change may also return a replacement)."""
    path = folder / "report.json"
    report = json.loads(path.read_text())
    new = change(report)
    path.write_text(json.dumps(report if new is None else new))


def wait_for(predicate, timeout_s: float, every_s: float = 0.01):
    """Poll ``predicate`` until it returns something true; fail after ``timeout_s``."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        found = predicate()
        if found:
            return found
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {predicate}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def children(pid: int) -> list[int]:
    """Every descendant process of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parents[int(d.name)] = int((d / "stat").read_text().split(") ")[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        found += kids
        frontier += kids
    return found


def cut_clip(video: Path, out: Path, seconds: float = 2) -> Path:
    """The first ``seconds`` of ``video`` re-encoded as H.264 into ``out`` (a short real clip for a test)."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(video), "-t", str(seconds), "-an", "-c:v", "libx264",
                    "-preset", "veryfast", "-pix_fmt", "yuv420p", str(out)], check=True, timeout=120)
    return out
