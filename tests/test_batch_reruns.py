"""Batch reruns, statuses, outputs and trends (issue 24, point 12): real runs of ``synkan batch``, ``trends``.

One real face video and a corrupt file, plain laterality and no figures, except
where the point is the figures (--pdf) or de-identification.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import MODEL, SHARED

from synkan.batch import NO_TRENDS_NOTE, SUMMARY_COLUMNS, read_summary, write_trends

REAL = SHARED / "videos" / "cosanlab_single_face.mp4"
FAST = ("--laterality", "plain", "--jobs", "1")

pytestmark = pytest.mark.skipif(not MODEL.is_file() or not REAL.is_file(),
                                reason="needs the landmark model and ../shared/videos")


def synkan(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real ``synkan`` command in a subprocess."""
    return subprocess.run([sys.executable, "-m", "synkan.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def _rows(out: Path) -> dict[str, dict]:
    return {r["name"]: r for r in read_summary(out).to_dict("records")}


def _last_line(res: subprocess.CompletedProcess) -> str:
    return res.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("videos")
    shutil.copy(REAL, folder / "face.mp4")
    (folder / "corrupt.mp4").write_bytes(REAL.read_bytes()[:1500] + bytes(range(256)) * 20)
    return folder


@pytest.fixture(scope="module")
def first(videos, tmp_path_factory):
    """One batch of the good and the corrupt video, by the real command."""
    out = tmp_path_factory.mktemp("batch") / "out"
    res = synkan("batch", videos, "-o", out, "--no-figures", *FAST)
    return out, res


def test_exit_code_is_1_when_a_video_failed_and_documented(first):
    out, res = first
    assert res.returncode == 1, res.stderr
    rows = _rows(out)
    assert rows["face.mp4"]["status"] == "ok" and rows["corrupt.mp4"]["status"].startswith("failed: ")
    page = synkan("batch", "--help").stdout
    assert "exit status: 0 when every video is ok" in page and "1 when any video failed" in page
    assert "--retry-failed" in page
    labs = (Path(__file__).resolve().parents[1] / "docs" / "labs.md").read_text()
    assert "**Exit status**" in labs and "`--retry-failed`" in labs


def test_failed_status_does_not_repeat_the_path(first, videos):
    out, _ = first
    row = _rows(out)["corrupt.mp4"]
    assert row["path"] == str(videos / "corrupt.mp4")
    assert str(videos) not in row["status"] and len(row["status"]) > len("failed: "), row["status"]


def test_scored_from_says_tracked_or_rescored(first, videos, tmp_path):
    out, _ = first
    assert _rows(out)["face.mp4"]["scored_from"] == "video"
    assert "scored_from" in SUMMARY_COLUMNS
    again = tmp_path / "again"
    shutil.copytree(out, again)
    res = synkan("batch", videos / "face.mp4", "-o", again, "--no-figures", "--affected", "left", *FAST)
    assert res.returncode == 0, res.stderr
    row = _rows(again)["face.mp4"]
    assert row["status"] == "ok" and row["scored_from"] == "track.npz"
    report = json.loads((again / row["output"] / "report.json").read_text())
    assert report["settings"]["affected"] == "left"
    res = synkan("batch", videos / "face.mp4", "-o", again, "--no-figures", "--affected", "left", *FAST)
    row = _rows(again)["face.mp4"]
    assert row["status"] == "skipped" and row["scored_from"] == "track.npz"  # kept from the run that scored


def test_rerun_keeps_known_failures_retry_failed_runs_them(first, videos, tmp_path):
    out, _ = first
    folder = tmp_path / "out"
    shutil.copytree(out, folder)
    before = _rows(folder)
    res = synkan("batch", videos, "-o", folder, "--no-figures", *FAST)
    assert res.returncode == 1 and "corrupt.mp4" not in res.stderr  # not run
    assert "1 known, not retried without --retry-failed" in _last_line(res)
    rows = _rows(folder)
    assert rows["face.mp4"]["status"] == "skipped"
    assert rows["corrupt.mp4"]["status"] == before["corrupt.mp4"]["status"]

    res = synkan("batch", videos, "-o", folder, "--no-figures", "--retry-failed", *FAST)
    assert res.returncode == 1 and "not retried" not in _last_line(res), res.stdout
    assert "1 already done" in _last_line(res)  # the good video is not redone
    assert "[1/1] corrupt.mp4: failed" in res.stderr  # run again, one line per finished video
    rows = _rows(folder)
    assert rows["face.mp4"]["status"] == "skipped" and rows["corrupt.mp4"]["status"].startswith("failed: ")
    assert str(videos) not in rows["corrupt.mp4"]["status"]


def test_batch_pdf_and_deidentify_as_analyze(videos, tmp_path):
    out = tmp_path / "out"
    res = synkan("batch", videos / "face.mp4", "-o", out, "--pdf", "--deidentify", *FAST)
    assert res.returncode == 0, res.stderr
    row = _rows(out)["face.mp4"]
    folder = out / row["output"]
    assert row["output"].startswith("video-") and "face" not in row["output"]  # the folder's name is the ID
    assert (folder / "report.pdf").read_bytes()[:5] == b"%PDF-"
    report = json.loads((folder / "report.json").read_text())
    video = report["video"]
    assert video["deidentified"] and video["id"] == row["output"] and "path" not in video
    for name in ("report.json", "report.html", "events.csv", "signals.csv"):
        assert "face.mp4" not in (folder / name).read_text(errors="replace"), name


def test_batch_pdf_adds_a_missing_pdf(first, videos, tmp_path):
    """A folder done without report.pdf gets one on a rerun with --pdf (not skipped)."""
    out, _ = first
    folder = tmp_path / "out"
    shutil.copytree(out, folder)
    res = synkan("batch", videos / "face.mp4", "-o", folder, "--pdf", *FAST)
    assert res.returncode == 0, res.stderr
    row = _rows(folder)["face.mp4"]
    assert row["status"] == "ok" and row["scored_from"] == "track.npz"
    assert (folder / row["output"] / "report.pdf").is_file()


def test_batch_pdf_without_figures_is_one_line(videos, tmp_path):
    res = synkan("batch", videos / "face.mp4", "-o", tmp_path / "out", "--pdf", "--no-figures", *FAST)
    assert res.returncode == 2 and "--no-figures" in res.stderr and res.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_trends_without_manifest_says_why_only_the_cohort(first, tmp_path):
    out, _ = first
    folder = tmp_path / "out"
    shutil.copytree(out, folder)
    res = synkan("trends", folder)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == [str(folder / "cohort.png")]
    assert res.stderr.strip() == NO_TRENDS_NOTE and "manifest" in NO_TRENDS_NOTE


def test_cohort_tick_labels_do_not_overlap(tmp_path):
    """Long group names on cohort.png wrap instead of running into each other."""
    from synkan.batch.trend_figures import cohort_figure

    labels = ["synkinesis after Bell's palsy", "healthy control", "post-surgical synkinesis", "Ramsay Hunt"]
    rows = [{c: None for c in SUMMARY_COLUMNS} | {
        "name": f"{k}.mp4", "patient_id": f"P{k}", "session_date": "", "label": labels[k % 4], "status": "ok",
        "oral_ocular_asymmetry_pp": float(k), "ocular_oral_asymmetry_pp": k / 2,
        "eface_ocular_synkinesis": 90.0 - k} for k in range(16)]
    pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS)).to_csv(tmp_path / "summary.csv", index=False)
    assert write_trends(tmp_path) == [tmp_path / "cohort.png"]
    done = read_summary(tmp_path)
    done["group"] = done["label"]
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = cohort_figure(done)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    for ax in fig.axes:
        boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels()]
        assert len(boxes) == 4
        for a, b in zip(boxes, boxes[1:]):
            assert a.x1 < b.x0, (a, b)


def test_counts_are_pluralised():
    from synkan._util.words import plural
    from synkan.batch.trend_figures import cohort_tick

    assert plural(1, "frame") == "1 frame" and plural(2, "frame") == "2 frames"
    assert plural(0, "video") == "0 videos"
    assert cohort_tick("control", 1, pd.DataFrame({"patient_id": ["P1"]})) == "control\n1 video\n1 patient"
