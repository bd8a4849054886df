"""Fuzz campaign: damaged and unusual inputs to the real ``synkan analyze`` command (issue 17).

Every input is made on the fly in a temporary folder from a 1 s cut of a
real video (truncations at many offsets, byte flips, zeroed runs, text and
images named .mp4, a header claiming 2**31 - 1 frames, an 8000x8000 frame,
1- and 2-frame videos, a FIFO, a folder, an unreadable file, odd names) and
run as its own ``python -m synkan.cli analyze`` subprocess, two at a time.
Each must end in exit 0 with results, or exit 2 with one line on stderr and
no output left behind; none may print a traceback, take longer than
:data:`DEADLINE_S` or use more than :data:`MAX_RSS_MB` of memory.

``pytest`` runs one input of each kind (:data:`QUICK`); ``make fuzz``
(``SYNKAN_FUZZ=full``) runs all of them, seeded, and prints the counts.
"""
from __future__ import annotations

import concurrent.futures as cf
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import SHARED

REAL = SHARED / "videos" / "cosanlab_single_face.mp4"
FFMPEG = shutil.which("ffmpeg")
SEED = 20240617
DEADLINE_S = 120.0  # per input, two at a time on a loaded 2-core machine
MAX_RSS_MB = 2048.0
FULL = os.environ.get("SYNKAN_FUZZ") == "full"
# One input of each kind, for the everyday test run.
QUICK = ("trunc03", "flip15", "zeros_run00", "empty", "text", "png", "huge_count", "big_8000", "one_frame",
         "fifo", "folder", "unreadable", "name_newline", "intact")  # flip15: OpenCV once logged its own error lines

pytestmark = [pytest.mark.skipif(FFMPEG is None, reason="needs ffmpeg (make system-deps)"),
              pytest.mark.skipif(not REAL.exists(), reason=f"needs {REAL}")]

# Runs a command and reports its exit code, wall time and peak memory: RUSAGE_CHILDREN of this
# small parent covers exactly the one command.
_MEASURE = ("import os, resource, subprocess, sys, time\n"
            "t = time.monotonic(); rc = subprocess.call(sys.argv[2:])\n"
            "with open(sys.argv[1], 'w') as fh:\n"
            "    fh.write(f'{rc} {time.monotonic() - t} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}')\n")


@dataclass
class Outcome:
    """How one run ended."""

    rc: int | None  # None: killed at the deadline
    stderr: str
    seconds: float
    peak_mb: float


def run_measured(cmd: list[str], timeout_s: float, *, env: dict | None = None, cwd: Path | None = None,
                 user: int | None = None) -> Outcome:
    """Run ``cmd`` (as ``user`` through setpriv, if given), killing its whole process group at
    ``timeout_s``."""
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    fd, report = tempfile.mkstemp(prefix="synkan-measure-")
    os.close(fd)
    try:
        proc = subprocess.Popen([sys.executable, "-c", _MEASURE, report, *cmd], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=env, cwd=cwd, start_new_session=True)
        try:
            _, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
            return Outcome(None, err.decode(errors="replace"), timeout_s, float("nan"))
        rc, seconds, rss_kb = Path(report).read_text().split()
        return Outcome(int(rc), err.decode(errors="replace"), float(seconds), int(rss_kb) / 1024)
    finally:
        Path(report).unlink(missing_ok=True)


def ffmpeg(*args) -> None:
    subprocess.run([FFMPEG, "-v", "error", "-y", *map(str, args)], check=True, timeout=300)


# --- The inputs --------------------------------------------------------------------------------------
def _encoded(d: Path) -> dict[str, Path]:
    """Intact sources cut from the real video."""
    src = {"mp4": d / "src.mp4", "avi": d / "src.avi", "big": d / "big_8000.mp4", "one": d / "one_frame.mp4",
           "two": d / "two_frames.mp4", "hevc": d / "hevc10.mkv"}
    x264 = ["-an", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
    ffmpeg("-i", REAL, "-t", "1", *x264, "-movflags", "+faststart", src["mp4"])
    ffmpeg("-i", REAL, "-t", "1", "-an", "-c:v", "mjpeg", "-q:v", "5", src["avi"])
    ffmpeg("-i", REAL, "-frames:v", "2", "-vf", "scale=8000:8000", "-an", "-c:v", "mjpeg", "-q:v", "20", src["big"])
    ffmpeg("-i", REAL, "-frames:v", "1", *x264, src["one"])
    ffmpeg("-i", REAL, "-frames:v", "2", *x264, src["two"])
    ffmpeg("-i", REAL, "-t", "1", "-an", "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p10le",
           "-x265-params", "log-level=error", src["hevc"])
    return src


def _claim_frames(avi: bytes, n: int) -> bytes:
    """An AVI whose main header and stream header claim ``n`` frames."""
    b = bytearray(avi)
    struct.pack_into("<I", b, b.find(b"avih") + 8 + 16, n)  # MainAVIHeader.dwTotalFrames
    struct.pack_into("<I", b, b.find(b"strh") + 8 + 32, n)  # AVIStreamHeader.dwLength
    return bytes(b)


def _damaged(data: bytes, rng: random.Random, n: int) -> list[tuple[str, bytes]]:
    """Truncations, bit flips and zeroed runs of ``data``: ``n`` of each."""
    out = []
    for k in range(n):  # offsets spread over the file, the header included
        cut = int(len(data) * (k + rng.random()) / n)
        out.append((f"trunc{k:02d}", data[: max(cut, 1)]))
    for k in range(n):
        buf = bytearray(data)
        lo = 0 if k % 4 == 0 else 64  # every fourth copy has a damaged header too
        for _ in range(rng.choice((1, 5, 50, 500))):
            i = rng.randrange(lo, len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        out.append((f"flip{k:02d}", bytes(buf)))
    for k in range(n):
        buf = bytearray(data)
        start, length = rng.randrange(len(buf)), rng.choice((16, 512, 8192, 65536))
        buf[start: start + length] = bytes(len(buf[start: start + length]))
        out.append((f"zeros_run{k:02d}", bytes(buf)))
    return out


def make_inputs(d: Path, n_damaged: int) -> dict[str, Path]:
    """Every fuzz input, by name, written into ``d``."""
    rng = random.Random(SEED)
    src = _encoded(d)
    data = src["mp4"].read_bytes()
    blobs = _damaged(data, rng, n_damaged)
    blobs += [(f"avi_{name}", blob) for name, blob in _damaged(src["avi"].read_bytes(), rng, max(2, n_damaged // 3))]
    blobs += [("empty", b""), ("zeros", bytes(10_000)), ("random", rng.randbytes(50_000)),
              ("text", b"this is not a video\n" * 10), ("huge_count", _claim_frames(src["avi"].read_bytes(), 2**31 - 1)),
              ("header_only", data[:2000]), ("doubled", data + data)]
    inputs = {name: d / f"{name}.mp4" for name, _ in blobs}
    for name, blob in blobs:
        inputs[name].write_bytes(blob)
    import cv2

    cv2.imwrite(str(d / "still.png"), cv2.VideoCapture(str(REAL)).read()[1])
    inputs["png"] = d / "png.mp4"
    shutil.copy(d / "still.png", inputs["png"])
    for name in ("big", "one", "two", "hevc"):
        inputs[src[name].stem] = src[name]
    inputs["intact"] = src["mp4"]
    inputs["fifo"] = d / "fifo.mp4"
    os.mkfifo(inputs["fifo"])
    inputs["dev_zero"] = d / "dev_zero.mp4"
    inputs["dev_zero"].symlink_to("/dev/zero")
    inputs["folder"] = d / "folder.mp4"
    inputs["folder"].mkdir()
    inputs["missing"] = d / "missing.mp4"
    inputs["unreadable"] = d / "unreadable.mp4"
    shutil.copy(src["mp4"], inputs["unreadable"])
    os.chmod(inputs["unreadable"], 0o000)
    for name, odd in (("name_spaces", "a video  with spaces.mp4"), ("name_unicode", "vidéo_ñ_顔_😀.mp4"),
                      ("name_newline", "two\nlines.mp4"), ("name_dash", "-rf.mp4"), ("name_quote", "it's \"x\".mp4")):
        inputs[name] = d / odd
        shutil.copy(src["mp4"], inputs[name])
    return inputs


# --- The campaign ------------------------------------------------------------------------------------
def _run_one(name: str, video: Path, work: Path) -> tuple[str, Outcome, Path]:
    out = work / f"out_{name}"
    env = dict(os.environ, HOME=str(work), MPLCONFIGDIR=str(work / "mpl"), PYTHONWARNINGS="default")
    # Root reads every file: the unreadable one is tried as user nobody.
    user = 65534 if name == "unreadable" and os.geteuid() == 0 and shutil.which("setpriv") else None
    cmd = [sys.executable, "-m", "synkan.cli", "analyze", str(video), "-o", str(out), "--no-figures"]
    return name, run_measured(cmd, DEADLINE_S, env=env, cwd=work, user=user), out


def _problems(name: str, o: Outcome, out: Path) -> list[str]:
    lines = [line for line in o.stderr.splitlines() if line.strip()]
    problems = []
    if o.rc is None:
        problems.append(f"killed after {DEADLINE_S:.0f} s")
    elif o.rc not in (0, 2):
        problems.append(f"exit {o.rc}")
    if "Traceback" in o.stderr:
        problems.append("traceback")
    if o.rc == 2 and (len(lines) != 1 or not lines[0].startswith("synkan: error: ")):
        problems.append("not a one-line error")
    if o.rc == 2 and (out.exists() or any(p.name.startswith(f".{out.name}.") for p in out.parent.iterdir())):
        problems.append("output left after a failure")
    if o.rc == 0 and not (out / "report.json").is_file():
        problems.append("exit 0 without report.json")
    if not o.peak_mb < MAX_RSS_MB:
        problems.append(f"peak memory {o.peak_mb:.0f} MB")
    return [f"{name}: {p}: {o.stderr.strip()[:300]!r}" for p in problems]


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    d = Path(tempfile.mkdtemp(prefix="synkan-fuzz-"))  # not under pytest's private tmp: user nobody runs here
    os.chmod(d, 0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_fuzz_campaign(work):
    """Each damaged or unusual input ends in results or one clean line, in bounded time and memory."""
    inputs = make_inputs(work, n_damaged=24)
    chosen = inputs if FULL else {k: inputs[k] for k in QUICK}
    with cf.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda kv: _run_one(*kv, work), chosen.items()))
    problems = [p for name, o, out in results for p in _problems(name, o, out)]
    by_rc: dict[str, int] = {}
    for _, o, _ in results:
        by_rc[str(o.rc)] = by_rc.get(str(o.rc), 0) + 1
    slowest = max(results, key=lambda r: r[1].seconds)
    biggest = max(results, key=lambda r: r[1].peak_mb)
    print(f"\nfuzz: {len(results)} inputs; exit codes {dict(sorted(by_rc.items()))}; slowest {slowest[0]} "
          f"{slowest[1].seconds:.1f} s; largest {biggest[0]} {biggest[1].peak_mb:.0f} MB")
    if FULL:
        assert len(results) >= 100
    assert not problems, "\n".join(problems)


# --- The other commands (issue 26) --------------------------------------------------------------------------
COMMAND_DEADLINE_S = 180.0
LEFTOVER_MARKS = (".tmp-", ".tmp", ".lock", ".part", ".old-")


def _command_problems(c, o: Outcome) -> list[str]:
    lines = [line for line in o.stderr.splitlines() if line.strip()]
    problems = []
    if o.rc is None:
        problems.append(f"killed after {COMMAND_DEADLINE_S:.0f} s")
    elif o.rc not in (0, 2):
        problems.append(f"exit {o.rc}")
    if "Traceback" in o.stderr or "internal error" in o.stderr:
        problems.append("traceback or internal error")
    if o.rc == 2 and (len(lines) != 1 or not lines[0].startswith("synkan: error: ") or len(lines[0]) > 1100):
        problems.append("not a one-line error")
    if o.rc == 2 and c.out is not None and c.out.exists():
        problems.append("output left after a failure")
    if not o.peak_mb < MAX_RSS_MB:
        problems.append(f"peak memory {o.peak_mb:.0f} MB")
    return [f"{c.name}: {p}: {o.stderr.strip()[:300]!r}" for p in problems]


def _leftovers(work: Path) -> list[str]:
    return [str(p) for p in work.rglob(".*") if any(m in p.name for m in LEFTOVER_MARKS)]


def _analysis_for_commands(work: Path) -> tuple[Path, Path]:
    clip = work / "clip.mp4"
    ffmpeg("-i", REAL, "-t", "1.5", "-an", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
           clip)
    analysis = work / "A"
    subprocess.run([sys.executable, "-m", "synkan.cli", "analyze", str(clip), "-o", str(analysis)],
                   check=True, timeout=600, capture_output=True)
    return clip, analysis


def test_fuzz_other_commands(work):
    """compare, report, synth, export-landmarks, --settings, --segments: results or one line, nothing left."""
    from fuzz_commands import option_inputs, report_inputs, synth_inputs, table_inputs

    clip, analysis = _analysis_for_commands(work)
    rng = random.Random(SEED)
    commands = (report_inputs(analysis, work, rng) + table_inputs(analysis, work, rng)
                + option_inputs(clip, work, rng) + synth_inputs(clip, analysis, work, rng))
    if not FULL:
        commands = list({c.kind: c for c in reversed(commands)}.values())  # the first of each kind
    env = dict(os.environ, HOME=str(work), MPLCONFIGDIR=str(work / "mpl"), PYTHONWARNINGS="default")
    run = lambda c: run_measured([sys.executable, "-m", "synkan.cli", *c.argv], COMMAND_DEADLINE_S,  # noqa: E731
                                 env=env, cwd=work)
    with cf.ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(run, commands))
    problems = [p for c, o in zip(commands, outcomes) for p in _command_problems(c, o)]
    problems += [f"left behind: {p}" for p in _leftovers(work)]
    by_rc: dict[str, int] = {}
    for o in outcomes:
        by_rc[str(o.rc)] = by_rc.get(str(o.rc), 0) + 1
    slowest = max(zip(commands, outcomes), key=lambda r: r[1].seconds)
    biggest = max(zip(commands, outcomes), key=lambda r: r[1].peak_mb)
    print(f"\nfuzz (other commands): {len(commands)} inputs; exit codes {dict(sorted(by_rc.items()))}; "
          f"slowest {slowest[0].name} {slowest[1].seconds:.1f} s; largest {biggest[0].name} "
          f"{biggest[1].peak_mb:.0f} MB; leftovers {len(_leftovers(work))}")
    if FULL:
        assert len(commands) >= 200
    assert not problems, "\n".join(problems)
