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
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from synkan.batch import SCORE_COLUMNS, read_summary, run_batch, write_trends
from synkan.config import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SYNKAN_SHARED", ROOT.parent / "shared"))
MODEL = Path(os.environ.get("SYNKAN_MODEL", SHARED / "models" / "face_landmarker.task"))
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
    assert synk["oral_ocular_affected_side"] == "left" and synk["oral_ocular_asymmetry_pp"] > 5
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

    trends = pd.read_csv(out / "trends.csv", dtype={"patient_id": str})
    assert list(trends["patient_id"]) == ["P01", "P01", "P02"]
    assert list(trends["session_date"]) == ["2024-01-10", "2024-04-02", "2024-02-01"]
    for name in ("trends/P01.png", "trends/P02.png", "cohort.png"):
        assert (out / name).stat().st_size > 10_000
    written = write_trends(out)
    assert {p.relative_to(out).as_posix() for p in written} == {"trends.csv", "trends/P01.png", "trends/P02.png",
                                                                 "cohort.png"}


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
