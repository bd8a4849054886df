"""Issue 26: signals, crashes, closed streams, browsers and downloads, with real processes.

Real signals go to real ``synkan`` processes at the moment their temporary
files exist; the PDF browser is traced with strace to observe every
connection it tries; a local HTTP server drips the model download.
"""

from __future__ import annotations

import http.server
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from hostile import ENV, children, cut_clip, leftovers, pid_alive, refused, synkan, wait_for

CLI = [sys.executable, "-m", "synkan.cli"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory, real_video) -> Path:
    return cut_clip(real_video, tmp_path_factory.mktemp("clip") / "v.mp4")


def start(*argv, **kw) -> subprocess.Popen:
    # As from a terminal: Ctrl-C works even when pytest itself runs in the background, where the shell
    # starts it (and so every child) with SIGINT ignored.
    return subprocess.Popen(
        [*CLI, *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=kw.pop("env", ENV),
        preexec_fn=kw.pop("preexec_fn", lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)),
        **kw,
    )


# --- 1: a rebuild with --deidentify masks or removes the overlay -------------------------------------------
def test_deidentify_rebuild_removes_the_whole_face_overlay(clip, tmp_path):
    out, again = tmp_path / "X", tmp_path / "Y"
    assert synkan("analyze", clip, "-o", out, "--overlay", "--no-figures", timeout=600).returncode == 0
    whole_face = (out / "overlay.mp4").read_bytes()
    shutil.copytree(out, again)
    done = synkan("report", out, "--deidentify", timeout=600)
    assert done.returncode == 0, done.stderr
    assert not (out / "overlay.mp4").exists()
    assert '"deidentified": true' in (out / "report.json").read_text()
    done = synkan("report", again, "--deidentify", "--overlay", timeout=600)  # drawn again, masked
    assert done.returncode == 0, done.stderr
    assert (again / "overlay.mp4").read_bytes() != whole_face


# --- 3, 17: the PDF browser reaches nothing, hangs are killed, only a PDF is accepted -----------------------
def _fake_browser(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "browser"
    script.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    script.chmod(0o755)
    return script


@pytest.mark.skipif(
    not (shutil.which("chromium") and shutil.which("strace")), reason="needs chromium and strace"
)
def test_pdf_browser_looks_up_no_name_and_connects_nowhere(clip, tmp_path, monkeypatch):
    """strace -f sees every connect/sendto of the browser and its children: no DNS, no outside host."""
    html = tmp_path / "r.html"
    html.write_text("<html><body><h1>report</h1><img src='https://clients2.google.com/x.png'></body></html>")
    log = tmp_path / "trace"
    browser = _fake_browser(
        tmp_path,
        f"exec strace -f -qq -e trace=connect,sendto,sendmsg -e signal=none "
        f'-o {log} {shutil.which("chromium")} "$@"\n',
    )
    monkeypatch.setenv("SYNKAN_CHROMIUM", str(browser))
    from synkan.report.pdf import write_pdf

    write_pdf(html, tmp_path / "r.pdf")
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF-")
    calls = [line for line in log.read_text().splitlines() if "AF_INET" in line]
    # Chromium's reachability probe connect()s a UDP socket to a public resolver address without sending
    # anything (the kernel only picks a source address); everything else would be traffic.
    traffic = [
        c for c in calls if not ("connect(" in c and "htons(443)" in c and ("8888" in c or "8.8.8.8" in c))
    ]
    assert not traffic, traffic[:5]
    assert not any("htons(53)" in c for c in calls)
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("synkan-chromium-*/Default/Extensions/*"))


def test_a_hung_browser_and_its_children_are_killed(tmp_path, monkeypatch):
    pids = tmp_path / "pids"
    browser = _fake_browser(tmp_path, f"sleep 1000 & echo $! > {pids}\nsleep 1000\n")
    monkeypatch.setenv("SYNKAN_CHROMIUM", str(browser))
    from synkan.errors import OutputError
    from synkan.report import pdf

    monkeypatch.setattr(pdf, "PRINT_TIMEOUT_S", 2)
    (tmp_path / "r.html").write_text("<html></html>")
    with pytest.raises(OutputError, match="did not print"):
        pdf.write_pdf(tmp_path / "r.html", tmp_path / "r.pdf")
    wait_for(lambda: not pid_alive(int(pids.read_text())), 5)


def test_a_browser_writing_no_pdf_is_refused(tmp_path, monkeypatch):
    browser = _fake_browser(
        tmp_path, 'for a; do case "$a" in --print-to-pdf=*) echo hello > "${a#*=}";; esac; done\n'
    )
    monkeypatch.setenv("SYNKAN_CHROMIUM", str(browser))
    from synkan.errors import OutputError
    from synkan.report.pdf import write_pdf

    (tmp_path / "r.html").write_text("<html></html>")
    with pytest.raises(OutputError, match="failed"):
        write_pdf(tmp_path / "r.html", tmp_path / "r.pdf")
    assert not (tmp_path / "r.pdf").exists()


# --- 7: a native crash is said, its last line kept, its files removed ---------------------------------------
CRASH = textwrap.dedent(r"""
    import os, sys
    from synkan._util.native_stderr import filtered_native_stderr
    with filtered_native_stderr():
        os.write(2, b"I0000 00:00:17961.8 12 gl_context.cc:357] dropped\n")
        os.write(2, b"F0000 00:00:1796134493.8 27042 graph.cc:9] Check failed: a native fatal error\n")
        os.abort()
""")


def test_a_native_fatal_line_and_abort_reach_the_terminal():
    done = subprocess.run([sys.executable, "-c", CRASH], capture_output=True, timeout=60)
    lines = done.stderr.decode().splitlines()
    assert done.returncode == -signal.SIGABRT
    assert lines == [
        "F0000 00:00:1796134493.8 27042 graph.cc:9] Check failed: a native fatal error",
        "synkan: error: the run crashed (killed by a signal or a native library fault); its temporary "
        "files were removed",
    ]


def test_sigsegv_during_analyze_says_so_and_leaves_nothing(clip, tmp_path):
    proc = start("analyze", clip, "-o", tmp_path / "X", "--no-figures")
    wait_for(lambda: (tmp_path / ".X.lock").exists(), 120)
    time.sleep(1.0)  # tracking
    os.kill(proc.pid, signal.SIGSEGV)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGSEGV
    assert "synkan: error: the run crashed" in err and "Traceback" not in err
    assert not leftovers(tmp_path) and not (tmp_path / "X").exists()


# --- 8: a closed or full stderr -----------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["analyze", "batch"])
def test_a_closed_stderr_changes_nothing(clip, tmp_path, command):
    done = subprocess.run(
        [
            "sh",
            "-c",
            'exec "$@" 2>&-',
            "sh",
            *CLI,
            command,
            str(clip),
            "-o",
            str(tmp_path / "o"),
            "--no-figures",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=ENV,
    )
    assert done.returncode == 0, done.stdout
    assert "internal error" not in done.stdout


def test_stderr_on_dev_full_keeps_the_exit_code(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*CLI, "analyze", str(tmp_path / "empty.mp4"), "-o", str(tmp_path / "o")],
            stderr=full,
            stdout=subprocess.PIPE,
            timeout=120,
            env=ENV,
        )
    assert done.returncode == 2


# --- 9: a batch killed with SIGKILL takes its workers with it -----------------------------------------------
def test_sigkill_of_a_batch_kills_its_workers(clip, tmp_path):
    for k in range(2):
        shutil.copy(clip, tmp_path / f"v{k}.mp4")
    proc = start(
        "batch",
        tmp_path / "v0.mp4",
        tmp_path / "v1.mp4",
        "-o",
        tmp_path / "out",
        "--jobs",
        "2",
        "--no-figures",
    )
    workers = wait_for(lambda: [p for p in children(proc.pid) if b"spawn_main" in _cmdline(p)], 120)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)  # the workers hold its stdout: this returns only once they are gone
    wait_for(lambda: not any(pid_alive(p) for p in workers), 30)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


# --- 15: SIGTERM and SIGINT clean up; leftovers of a crash are removed by the next run ----------------------
def test_sigterm_during_the_write_step_leaves_nothing(clip, tmp_path):
    proc = start("analyze", clip, "-o", tmp_path / "X")
    staging = wait_for(lambda: [p for p in tmp_path.glob(".X.tmp-*") if (p / "report.json").exists()], 300)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert not staging[0].exists() and not leftovers(tmp_path) and not (tmp_path / "X").exists()
    assert len(err.strip().splitlines()) == 1


def test_the_next_run_removes_a_crashed_runs_staging(clip, tmp_path):
    stale = tmp_path / ".X.tmp-crashed"
    stale.mkdir()
    (stale / "track.npz").write_bytes(b"eye patches")
    (tmp_path / ".X.old-123").mkdir()
    assert synkan("analyze", clip, "-o", tmp_path / "X", "--no-figures", timeout=600).returncode == 0
    assert not leftovers(tmp_path)


def test_sigint_during_synth_leaves_no_part_file_and_outputs_are_private(tmp_path):
    case = Path(__file__).resolve().parents[1] / "sample_videos" / "cases" / "control.json"
    proc = start("synth", case, "-o", tmp_path)
    wait_for(lambda: list(tmp_path.glob(".*.part.mp4")), 120)
    os.kill(proc.pid, signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode == 130 and not list(tmp_path.glob(".*")) and not list(tmp_path.glob("*.mp4"))
    done = synkan("synth", case, "-o", tmp_path / "o", timeout=600)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((tmp_path / "o").stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "o").iterdir()} == {0o600}


class _Drip(http.server.BaseHTTPRequestHandler):
    """Sends a model's worth of headers, then one byte a second."""

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Length", "1000000")
        self.end_headers()
        try:
            for _ in range(600):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(1)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def drip_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/face_landmarker.task"
    server.shutdown()


def test_sigterm_during_models_fetch_leaves_no_part(tmp_path, drip_url):
    env = dict(ENV, SYNKAN_MODEL_URL=drip_url)
    env.pop("SYNKAN_MODEL", None)
    proc = start("models", "fetch", "--dest", tmp_path, env=env)
    wait_for(lambda: list(tmp_path.glob("*.part")), 60)
    os.kill(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM and not list(tmp_path.iterdir())


def test_a_dripping_download_ends_at_its_deadline(tmp_path, drip_url):
    from synkan.errors import ModelError
    from synkan.measure.download import download_verified

    stale = tmp_path / ".m.task.old.part"
    stale.write_bytes(b"x")
    os.utime(stale, (0, 0))
    begin = time.monotonic()
    with pytest.raises(ModelError, match="deadline"):
        download_verified(drip_url, tmp_path / "m.task", "0" * 64, 1_000_000, progress=False, deadline_s=3)
    assert time.monotonic() - begin < 15 and not list(tmp_path.iterdir())


# --- 17: concurrent compares, a symlink and its target in one batch -----------------------------------------
def test_two_compares_into_one_folder_do_not_both_succeed(clip, tmp_path):
    a = tmp_path / "A"
    assert synkan("analyze", clip, "-o", a, timeout=600).returncode == 0
    procs = [start("compare", a, a, "-o", tmp_path / "C") for _ in range(2)]
    codes = sorted(p.wait(timeout=300) for p in procs)
    assert codes == [0, 2]
    refused(synkan("compare", a, a, "-o", tmp_path / "C"), "holds results already")


def test_a_symlink_and_its_target_are_one_video_in_a_batch(clip, tmp_path):
    shutil.copy(clip, tmp_path / "v.mp4")
    (tmp_path / "link.mp4").symlink_to(tmp_path / "v.mp4")
    done = synkan(
        "batch",
        tmp_path / "v.mp4",
        tmp_path / "link.mp4",
        "-o",
        tmp_path / "out",
        "--no-figures",
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "1 videos" in done.stdout or "batch: 1 video" in done.stdout, done.stdout
