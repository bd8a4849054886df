"""Batch processing (issue 5): statuses, resume, crash isolation, Dask, trends.

Real runs, no mocks: short clips cut from the sample videos, a real
video, and a corrupt file, analysed with ``laterality="plain"`` and no
per-video figures to keep the suite quick.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import MODEL, ROOT, SHARED

from synkan.batch import (
    SCHEDULER_CONNECT_TIMEOUT_S,
    SCORE_COLUMNS,
    SUMMARY_COLUMNS,
    read_summary,
    run_batch,
    trend_figure_name,
    write_trends,
)
from synkan.config import Settings

REAL = SHARED / "videos" / "cosanlab_single_face.mp4"
PLAIN = Settings(laterality="plain")

pytestmark = pytest.mark.skipif(not MODEL.is_file() or not REAL.is_file(),
                                reason="needs the landmark model and ../shared/videos")


@pytest.fixture(scope="module", autouse=True)
def _model_env():
    old = os.environ.get("SYNKAN_MODEL")
    os.environ["SYNKAN_MODEL"] = str(MODEL)
    yield
    if old is None:
        os.environ.pop("SYNKAN_MODEL", None)
    else:
        os.environ["SYNKAN_MODEL"] = old


def _cut(src: Path, dst: Path, seconds: float, size: int = 256) -> Path:
    import cv2

    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS)
    out = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, (size, size))
    for _ in range(int(round(seconds * fps))):
        ok, frame = cap.read()
        if not ok:
            break
        out.write(cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA))
    out.release()
    cap.release()
    return dst


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """4 videos: 2 synthetic 3 s clips (one with left oral-ocular synkinesis), a real one, a corrupt one."""
    folder = tmp_path_factory.mktemp("videos")
    _cut(ROOT / "sample_videos" / "oral_ocular_left.mp4", folder / "synk_left.mp4", 3.0)
    sub = folder / "session2"
    sub.mkdir()
    _cut(ROOT / "sample_videos" / "control.mp4", sub / "control.mp4", 3.0)
    shutil.copy(REAL, folder / "real.mp4")
    good = (folder / "synk_left.mp4").read_bytes()
    (folder / "corrupt.mp4").write_bytes(good[:1500] + bytes(range(256)) * 20)  # truncated, then garbage
    (folder / "notes.txt").write_text("not a video")
    return folder


@pytest.fixture(scope="module")
def baseline(videos, tmp_path_factory):
    """One uninterrupted batch on the local pool (2 workers)."""
    out = tmp_path_factory.mktemp("batch") / "out"
    t0 = time.perf_counter()
    rc = run_batch([videos], out, PLAIN, jobs=2, figures=False)
    elapsed = time.perf_counter() - t0
    return {"rc": rc, "out": out, "elapsed": elapsed, "summary": read_summary(out)}


def _scores(table: pd.DataFrame) -> pd.DataFrame:
    t = table.set_index("name").sort_index()
    return t[list(SCORE_COLUMNS) + ["face_fraction", "events_smile", "events_blink", "sha256"]]


def _done(out: Path) -> set[str]:
    """Finished analysis folders (not the hidden staging folders of a write in progress)."""
    return {p.parent.name for p in out.glob("*/report.json") if not p.parent.name.startswith(".")}


def _status(table: pd.DataFrame) -> dict[str, str]:
    return dict(zip(table["name"], table["status"]))


def test_statuses_and_outputs(baseline, videos):
    s = baseline["summary"]
    assert baseline["rc"] == 1  # one video failed
    status = _status(s)
    assert set(status) == {"synk_left.mp4", "control.mp4", "real.mp4", "corrupt.mp4"}  # recursive, no .txt
    assert status["synk_left.mp4"] == status["control.mp4"] == status["real.mp4"] == "ok"
    assert status["corrupt.mp4"].startswith("failed: ") and "\n" not in status["corrupt.mp4"]
    ok = s[s["status"] == "ok"]
    for _, row in ok.iterrows():
        folder = baseline["out"] / row["output"]
        assert (folder / "report.json").is_file() and (folder / "track.npz").is_file()
        assert row["output"].endswith(row["sha256"][:8])
        assert row["elapsed_s"] > 0 and row["face_fraction"] > 0.9
    synk = ok.set_index("name").loc["synk_left.mp4"]
    # One smile in 3 s: measured, but a side is named only when the recording is conclusive.
    assert synk["oral_ocular_asymmetry_pp"] > 5 and synk["oral_ocular_affected_side"] in ("left", "") or pd.isna(
        synk["oral_ocular_affected_side"])
    # The scales' estimates are columns too, equal to each report.json's.
    import json

    from synkan.text import report_side

    for _, row in ok.iterrows():
        report = json.loads((baseline["out"] / row["output"] / "report.json").read_text())
        scores = report["scores"]
        sunnybrook, eface = scores["sunnybrook"], scores["eface_synkinesis"]
        side = report_side(report)[0]  # one affected side for the whole report (issue 24)
        given = row["sunnybrook_affected_side"]
        assert (pd.isna(given) or given == "") if side is None else given == side
        for movement, points in sunnybrook["synkinesis"].items():
            assert (pd.isna(row[f"sunnybrook_synkinesis_{movement}"]) if points is None
                    else row[f"sunnybrook_synkinesis_{movement}"] == points)
        for item in ("ocular", "midfacial", "mentalis"):
            assert pd.isna(row[f"eface_synkinesis_{item}"]) if eface[item] is None else row[f"eface_synkinesis_{item}"] == eface[item]
        assert row["oral_ocular_asymmetry_se_pp"] == scores["oral_ocular"]["asymmetry_se_pp"]
    assert baseline["summary"].attrs["units"]["sunnybrook_synkinesis_total"].startswith("Sunnybrook")
    assert (baseline["out"] / "cohort.png").is_file()


def test_pool_matches_serial(baseline):
    """Reused landmarkers in worker processes give exactly the numbers of a fresh, in-process analysis."""
    import json

    import synkan

    s = baseline["summary"]
    for _, row in s[s["status"] == "ok"].iterrows():
        pooled = json.loads((baseline["out"] / row["output"] / "report.json").read_text())
        serial = synkan.analyze(row["path"], PLAIN).report
        assert pooled["scores"] == serial["scores"], row["name"]
        assert pooled["qc"] == serial["qc"], row["name"]


def test_rerun_skips_done(baseline, videos):
    before = {p: p.stat().st_mtime_ns for p in baseline["out"].glob("*/report.json")}
    t0 = time.perf_counter()
    rc = run_batch([videos], baseline["out"], PLAIN, jobs=2, figures=False)
    elapsed = time.perf_counter() - t0
    again = read_summary(baseline["out"])
    assert rc == 1
    status = _status(again)
    assert all(status[n] == "skipped" for n in ("synk_left.mp4", "control.mp4", "real.mp4"))
    assert status["corrupt.mp4"] == _status(baseline["summary"])["corrupt.mp4"]  # known failure, kept
    pd.testing.assert_frame_equal(_scores(again), _scores(baseline["summary"]))
    assert {p: p.stat().st_mtime_ns for p in baseline["out"].glob("*/report.json")} == before
    assert elapsed < baseline["elapsed"] / 3, (elapsed, baseline["elapsed"])


def test_kill_and_resume(baseline, videos, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "synkan.cli", "batch", str(videos), "-o", str(out), "--laterality", "plain",
           "--jobs", "1", "--no-figures"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not _done(out):
            assert proc.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline, "no result after 120 s"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole batch: CLI and its worker, like a crash
        proc.wait()
    first = _done(out)
    assert 1 <= len(first) < 3
    rc = run_batch([videos], out, PLAIN, jobs=1, figures=False)
    resumed = read_summary(out)
    assert rc == 1
    assert set(resumed.loc[resumed["status"] == "skipped", "output"]) == first  # not analysed twice
    pd.testing.assert_frame_equal(_scores(resumed), _scores(baseline["summary"]))
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != ".synkan-batch"]  # no leftovers


def test_worker_crash_is_isolated(videos, tmp_path):
    """A worker killed mid-video fails that row only; the pool is recreated and the rest finish."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "long.mp4").symlink_to(ROOT / "sample_videos" / "control.mp4")  # 10 s: time to kill it
    (folder / "short.mp4").symlink_to(videos / "synk_left.mp4")
    (folder / "real.mp4").symlink_to(videos / "real.mp4")
    out = tmp_path / "out"
    result: dict = {}
    runner = threading.Thread(target=lambda: result.setdefault("rc", run_batch([folder], out, PLAIN, jobs=2,
                                                                                 figures=False, trends=False)))
    runner.start()
    running = out / ".synkan-batch" / "running"
    deadline = time.monotonic() + 120
    killed: set[int] = set()
    while time.monotonic() < deadline and runner.is_alive():  # this video crashes its worker every time
        for marker in running.glob("long-*") if running.is_dir() else []:
            pid = int(marker.name.rsplit(".", 1)[1])
            if pid not in killed:
                killed.add(pid)
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)
    runner.join(60)
    assert killed and not runner.is_alive()
    assert result["rc"] == 1
    status = _status(read_summary(out))
    assert status["long.mp4"].startswith("failed: worker process crashed")
    assert status["short.mp4"] == status["real.mp4"] == "ok"


def test_dask_matches_local_pool(baseline, videos, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", processes=True,
                                  dashboard_address=":0") as cluster:
        rc = run_batch([videos], tmp_path / "out", PLAIN, scheduler=cluster.scheduler_address, figures=False)
    dask = read_summary(tmp_path / "out")
    assert rc == 1
    assert _status(dask) == _status(baseline["summary"])
    pd.testing.assert_frame_equal(_scores(dask), _scores(baseline["summary"]))


def test_dask_scheduler_unreachable(videos, tmp_path):
    pytest.importorskip("distributed")
    import dask

    from synkan.errors import SynkanError

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}), pytest.raises(SynkanError, match="Dask sched"):
        run_batch([videos / "real.mp4"], tmp_path / "out", PLAIN, scheduler="tcp://127.0.0.1:9", figures=False)


def test_manifest_and_trends(baseline, videos, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(baseline["out"], out)  # the same videos are done already, with the same settings
    manifest = videos / "manifest.csv"
    manifest.write_text(
        "path,patient_id,session_date,affected_side,label\n"
        "synk_left.mp4,P01,2024-01-10,left,synkinesis\n"   # settings change (affected): analysed again
        "session2/control.mp4,P01,2024-04-02,,synkinesis\n"
        "real.mp4,P02,2024-02-01,,healthy\n"
        "missing.mp4,P02,2024-05-01,,healthy\n"
    )
    rc = run_batch([manifest], out, PLAIN, jobs=2, figures=False)
    s = read_summary(out).set_index("name")
    assert rc == 1
    assert s.loc["synk_left.mp4", "status"] == "ok" and s.loc["synk_left.mp4", "affected_given"] == "left"
    assert s.loc["control.mp4", "status"] == s.loc["real.mp4", "status"] == "skipped"
    assert s.loc["missing.mp4", "status"].startswith("failed: ")
    assert s.loc["control.mp4", "patient_id"] == "P01" and s.loc["real.mp4", "label"] == "healthy"
    import json

    report = json.loads((out / s.loc["synk_left.mp4", "output"] / "report.json").read_text())
    assert report["settings"]["affected"] == "left"
    assert report["visit"]["patient_id"] == "P01" and report["visit"]["visit_date"] == "2024-01-10"  # from the manifest

    trends = pd.read_csv(out / "trends.csv", dtype={"patient_id": str})
    assert list(trends["patient_id"]) == ["P01", "P01", "P02"]
    assert list(trends["session_date"]) == ["2024-01-10", "2024-04-02", "2024-02-01"]
    figures = [f"trends/{trend_figure_name(p)}" for p in ("P01", "P02")]
    for name in (*figures, "cohort.png"):
        assert (out / name).stat().st_size > 10_000
    written = write_trends(out)
    assert {p.relative_to(out).as_posix() for p in written} == {"trends.csv", *figures, "cohort.png"}


def test_scoring_change_rescores_from_the_track(baseline, videos, tmp_path):
    """Changing only the affected side re-scores from track.npz; changing a tracking setting re-tracks."""
    import json

    from synkan.batch import process_video

    folder = tmp_path / "synk_left"
    shutil.copytree(next(p.parent for p in baseline["out"].glob("synk_left-*/report.json")), folder)
    sha = json.loads((folder / "report.json").read_text())["video"]["sha256"]
    video = str(videos / "synk_left.mp4")
    settings = Settings(laterality="plain", affected="right").to_dict()
    res = process_video(video, settings, str(MODEL), str(folder), figures=False, html=False, sha256=sha)
    assert res["status"] == "ok" and res["rescored"]
    report = json.loads((folder / "report.json").read_text())
    assert report["settings"]["affected"] == "right" and report["scores"]["oral_ocular"]["affected_side"] == "right"
    res = process_video(video, {**settings, "stride": 2}, str(MODEL), str(folder), figures=False, html=False, sha256=sha)
    assert res["status"] == "ok" and not res["rescored"]
    res = process_video(video, settings, str(MODEL), str(folder), figures=False, html=False, sha256="0" * 64)
    assert res["status"] == "ok" and not res["rescored"]  # another video's folder: never reused


# --- Issue 17: hostile inputs and folders -------------------------------------------------------------
def synkan(*args, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    """The real ``synkan`` command in a subprocess."""
    return subprocess.run([sys.executable, "-m", "synkan.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kwargs)


def _one_error_line(res: subprocess.CompletedProcess) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and lines[0].startswith("synkan: error: "), res.stderr
    return lines[0]


def test_fifo_and_device_are_failed_never_read(tmp_path):
    """A FIFO and a link to /dev/zero named *.mp4: listed as failed at once (hashing them never ends)."""
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "pipe.mp4")
    (folder / "zero.mp4").symlink_to("/dev/zero")
    out = tmp_path / "out"
    res = synkan("batch", folder, "-o", out, "--laterality", "plain", timeout=60)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    status = _status(read_summary(out))
    assert set(status) == {"pipe.mp4", "zero.mp4"}
    assert all("not a regular file" in v and v.startswith("failed: ") for v in status.values()), status
    # Given by name too, rather than found in a folder.
    res = synkan("batch", folder / "pipe.mp4", "-o", tmp_path / "out2", timeout=60)
    assert res.returncode == 1 and "not a regular file" in _status(read_summary(tmp_path / "out2"))["pipe.mp4"]
    # Private, like every analysis folder.
    assert (out.stat().st_mode & 0o777, (out / "summary.csv").stat().st_mode & 0o777) == (0o700, 0o600)


def test_analyze_fifo_says_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "pipe.mp4")
    line = _one_error_line(synkan("analyze", tmp_path / "pipe.mp4", "-o", tmp_path / "out", timeout=60))
    assert "not a regular file" in line and not (tmp_path / "out").exists()


class _FakeScheduler:
    """A TCP server on 127.0.0.1 that is not Dask: it sends an HTTP reply at once, or nothing. Stops
    itself."""

    def __init__(self, banner: bytes, lifetime_s: float = 60) -> None:
        import socket

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.banner, self.stop, self.conns = banner, time.monotonic() + lifetime_s, []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while time.monotonic() < self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)
            if self.banner:
                conn.sendall(self.banner)
        for c in self.conns:
            c.close()
        self.sock.close()

    def close(self) -> None:
        self.stop = 0
        self.thread.join(timeout=5)


@pytest.mark.parametrize("banner", [b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", b""],
                         ids=["http", "silent"])
def test_scheduler_that_is_not_dask_fails_fast_in_one_line(banner, videos, tmp_path):
    server = _FakeScheduler(banner)
    try:
        t0 = time.monotonic()
        res = synkan("batch", videos / "real.mp4", "-o", tmp_path / "out", "--scheduler", server.url, timeout=90)
        elapsed = time.monotonic() - t0
    finally:
        server.close()
    assert "Dask scheduler" in _one_error_line(res)
    assert elapsed < SCHEDULER_CONNECT_TIMEOUT_S + 20
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("url", ["foo", "inproc://x", "tcp://[::1", "file://", "tcp://host", "tcp://h:99999",
                                 "tcp://h:8786/path"])
def test_malformed_scheduler_url_is_one_line(url, videos, tmp_path):
    t0 = time.monotonic()
    line = _one_error_line(synkan("batch", videos / "real.mp4", "-o", tmp_path / "out", "--scheduler", url))
    assert "expected tcp://HOST:PORT" in line and time.monotonic() - t0 < 30
    assert not (tmp_path / "out").exists()


def test_rerun_into_a_read_only_folder_is_one_line(tmp_path):
    """A batch folder the user may read but not write (run as user nobody: root writes anywhere)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None or os.geteuid() != 0:
        pytest.skip("needs root and setpriv to run as another user")
    base = Path(tempfile.mkdtemp(prefix="synkan-ro-"))
    try:
        os.chmod(base, 0o755)
        manifest = base / "manifest.csv"
        manifest.write_text("path\nmissing.mp4\n")
        out = base / "out"
        assert synkan("batch", manifest, "-o", out).returncode == 1
        subprocess.run(["chmod", "-R", "a+rX,a-w", str(out)], check=True)
        env = dict(os.environ, HOME=str(base), MPLCONFIGDIR=str(base))
        res = subprocess.run(
            [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-m", "synkan.cli", "batch",
             str(manifest), "-o", str(out)], capture_output=True, text=True, timeout=120, env=env)
        assert "not writable" in _one_error_line(res)
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(base)], check=False)
        shutil.rmtree(base, ignore_errors=True)


FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


TEXT_COLUMNS = ("path", "name", "output", "patient_id", "session_date", "label", "clinician", "note", "status")


def _formula_free(table: pd.DataFrame, columns=TEXT_COLUMNS) -> None:
    for col in columns:
        for value in table[col].dropna().astype(str):
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (col, value)


def test_manifest_formulas_are_neutralised_in_summary(tmp_path):
    import csv

    manifest = tmp_path / "manifest.csv"
    with open(manifest, "w", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL)
        writer.writerow(["path", "patient_id", "session_date", "label", "clinician", "note"])
        writer.writerows([f"{i}.mp4", f, f"2024-01-0{i + 1}", f, f, f] for i, f in enumerate(FORMULAS))
    (tmp_path / "-1.mp4").write_bytes(b"")  # a file name that is a formula too
    out = tmp_path / "out"
    assert synkan("batch", manifest, tmp_path / "-1.mp4", "-o", out).returncode == 1
    table = pd.read_csv(out / "summary.csv", dtype=str, keep_default_na=False)
    _formula_free(table)
    assert len(table) == len(FORMULAS) + 1
    assert set(table["patient_id"]) >= {"'" + f for f in FORMULAS[:4]} and "'-1.mp4" in set(table["name"])


def _summary_rows(patients: dict[str, int]) -> pd.DataFrame:
    """A summary.csv of finished sessions: ``patients`` maps each id to its number of sessions."""
    rows = []
    for k, (pid, n) in enumerate(patients.items()):
        for i in range(n):
            rows.append({c: None for c in SUMMARY_COLUMNS} | {
                "path": f"/v/{k}_{i}.mp4", "name": f"{k}_{i}.mp4", "output": f"v{k}_{i}", "patient_id": pid,
                "session_date": f"2024-0{i + 1}-01", "label": "=cmd|' /C calc'!A0", "status": "ok",
                "oral_ocular_asymmetry_pp": -3.0 + k, "oral_ocular_grade": 0, "oral_ocular_affected_side": "left"})
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def test_trends_one_figure_per_patient_and_no_formulas(tmp_path):
    """Ids that read alike as file names (P/1, Q/1, P 1, P_1) still get a figure each."""
    patients = {"P/1": 1, "Q/1": 2, "P 1": 3, "P_1": 4, "=1+1": 5}
    out = tmp_path / "batch"
    out.mkdir()
    _summary_rows(patients).to_csv(out / "summary.csv", index=False)
    res = synkan("trends", out)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (out / "trends").iterdir()) == sorted(trend_figure_name(p) for p in patients)
    trends = pd.read_csv(out / "trends.csv", dtype=str, keep_default_na=False)
    _formula_free(trends, ("patient_id", "session_date", "label", "name", "output", "path"))
    counts = trends["patient_id"].value_counts().to_dict()
    assert counts == {"P/1": 1, "Q/1": 2, "P 1": 3, "P_1": 4, "'=1+1": 5}
    assert trends["oral_ocular_asymmetry_pp"].astype(float).min() == -3.0  # numbers stay numbers


def test_without_a_terminal_one_line_per_finished_video(videos, tmp_path, capfd):
    rc = run_batch([videos / "synk_left.mp4", videos / "corrupt.mp4"], tmp_path / "out", PLAIN, jobs=1, figures=False)
    assert rc == 1
    lines = [ln for ln in capfd.readouterr().err.splitlines() if ln.startswith("[")]
    assert len(lines) == 2 and {ln.split()[0] for ln in lines} == {"[1/2]", "[2/2]"}
    assert any("synk_left.mp4: ok (" in ln for ln in lines) and any("corrupt.mp4: failed" in ln for ln in lines)


def test_workers_report_frames_under_way(tmp_path):
    from synkan.batch.worker import frames_in_progress, frames_to

    (tmp_path / "a.123").write_text("")
    write = frames_to(tmp_path / "b.456")
    write(250)
    assert frames_in_progress(tmp_path) == 250
