"""Batch metadata (issue 16): the README's batch command, manifest wins, conflicts, pending after an
interrupt.

Real runs of the ``synkan`` command on the bundled sample videos and the
example manifest ``sample_videos/manifest.csv``; no mocks.
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import synkan
from synkan.batch import collect_jobs, trend_figure_name
from synkan.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_videos"
MANIFEST = SAMPLES / "manifest.csv"


def synkan_cli(*args, cwd=None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synkan.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout)


def _one_error_line(res: subprocess.CompletedProcess) -> str:
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and lines[0].startswith("synkan: error: "), res.stderr
    return lines[0]


def _docs_section(page: str, title: str) -> str:
    """A section of a documentation page (docs/PAGE.md) by its heading."""
    text = (ROOT / "docs" / f"{page}.md").read_text()
    start = text.index(f"## {title}\n")
    return text[start:text.index("\n## ", start + 1)]


def _commands(section: str, prefix: str) -> list[list[str]]:
    """The command lines of a docs section that start with ``prefix``, as their words."""
    return [shlex.split(ln.split("#")[0]) for ln in section.splitlines() if ln.startswith(prefix)]


def _python_blocks(section: str) -> list[str]:
    return [block.split("```")[0] for block in section.split("```python\n")[1:]]


@pytest.mark.slow
def test_readme_batch_command_keeps_the_manifest(tmp_path, model_path):
    """Exactly the README's command, from a folder holding sample_videos/: metadata filled, per-patient
    trends."""
    [words] = _commands(_docs_section("clinicians", "Analysing a video"), "synkan batch ")
    assert words[:2] == ["synkan", "batch"] and "sample_videos/manifest.csv" in words
    assert words.index("sample_videos/") < words.index("sample_videos/manifest.csv")  # the folder comes first
    (tmp_path / "sample_videos").symlink_to(SAMPLES)
    res = synkan_cli(*words[1:], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = tmp_path / words[words.index("-o") + 1]
    summary = synkan.read_summary(out)
    manifest = pd.read_csv(MANIFEST, dtype=str, keep_default_na=False).set_index("path")
    assert sorted(summary["name"]) == sorted(manifest.index) and (summary["status"] == "ok").all()
    for _, row in summary.iterrows():
        given = manifest.loc[row["name"]]
        for column in ("patient_id", "session_date", "label", "clinician", "note"):
            assert row[column] == given[column], (row["name"], column)
        assert row["affected_given"] == given["affected_side"]
    assert summary.attrs["units"]["oral_ocular_asymmetry_pp"] == "pp of rest eye opening"
    trends = pd.read_csv(out / "trends.csv", dtype=str, keep_default_na=False)
    s01 = trends[trends["patient_id"] == "S01"]
    assert list(s01["session_date"]) == ["2024-01-10", "2024-04-12"] and list(s01["note"])[0] == "baseline"
    for pid in set(manifest["patient_id"]):
        assert (out / "trends" / trend_figure_name(pid)).stat().st_size > 10_000
    assert (out / "cohort.png").stat().st_size > 10_000

    # Re-grading the whole batch from its track files, as the README shows it: the command, then the Python
    # loop.
    section = _docs_section("labs", "Batches and manifests")
    [regrade] = _commands(section, "synkan batch ")
    t0 = time.monotonic()
    res = synkan_cli(*regrade[1:], cwd=tmp_path)
    assert res.returncode == 0 and time.monotonic() - t0 < 60, res.stderr
    again = synkan.read_summary(out)
    assert (again["status"] == "ok").all() and dict(zip(again["name"], again["patient_id"])) == dict(
        zip(summary["name"], summary["patient_id"]))
    for folder in again["output"]:
        report = json.loads((out / folder / "report.json").read_text())
        assert report["settings"]["lag_window_s"] == 0.3 and report["video"]["sha256"] in set(summary["sha256"])
    [loop] = [b for b in _python_blocks(section) if "synkan.rescore" in b]
    res = subprocess.run([sys.executable, "-c", loop], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and len(res.stdout.splitlines()) == len(summary), res.stderr


def test_manifest_wins_whatever_the_order():
    folder_first = collect_jobs([SAMPLES, MANIFEST])
    manifest_first = collect_jobs([MANIFEST, SAMPLES])
    assert len(folder_first) == len(manifest_first) == 4
    by_path = {j.path: j for j in manifest_first}
    for job in folder_first:
        assert job.patient_id and job.session_date and job.label and job.source.startswith(str(MANIFEST))
        assert (job.patient_id, job.session_date, job.label, job.affected, job.clinician, job.note) == (
            by_path[job.path].patient_id, by_path[job.path].session_date, by_path[job.path].label,
            by_path[job.path].affected, by_path[job.path].clinician, by_path[job.path].note)
    control = next(j for j in folder_first if j.path.name == "control.mp4")
    assert control.visit == {"patient_id": "C01", "visit_date": "2024-01-15", "clinician": "Dr. B",
                             "note": "healthy volunteer"}


def _manifest(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_manifests_that_disagree_are_an_error_naming_both(tmp_path):
    video = SAMPLES / "control.mp4"
    a = _manifest(tmp_path, "a.csv", f"path,patient_id,label\n{video},P01,control\n")
    b = _manifest(tmp_path, "b.csv", f"path,patient_id,session_date\n{video},P02,2024-01-01\n")
    same = _manifest(tmp_path, "same.csv", f"path,session_date\n{video},2024-01-01\n")
    line = _one_error_line(synkan_cli("batch", a, b, "-o", tmp_path / "out"))
    assert "patient_id is 'P01' in " + str(a) + " line 2 but 'P02' in " + str(b) + " line 2" in line
    assert not (tmp_path / "out").exists()
    merged = collect_jobs([a, same])  # different columns that agree: merged
    assert [(j.patient_id, j.label, j.session_date) for j in merged] == [("P01", "control", "2024-01-01")]


@pytest.mark.parametrize("text, expected", [
    ("path,patient_id,label\nx.mp4,P1,synkinesis\ny.mp4,P1,control\n", "patient 'P1' has label 'synkinesis'"),
    ("path,session_date\nx.mp4,10/01/2024\n", "line 2: session_date must be YYYY-MM-DD"),
    ("path,patient\nx.mp4,P1\n", "unknown manifest column 'patient'"),
    ("path,affected_side\nx.mp4,both\n", "line 2: affected_side must be 'right' or 'left'"),
])
def test_bad_manifest_is_one_line(tmp_path, text, expected):
    manifest = _manifest(tmp_path, "m.csv", text)
    with pytest.raises(InputError, match=expected):
        collect_jobs([manifest])
    assert expected in _one_error_line(synkan_cli("batch", manifest, "-o", tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_a_patients_label_fills_their_unlabelled_rows(tmp_path):
    manifest = _manifest(tmp_path, "m.csv", "path,patient_id,label\nx.mp4,P1,\ny.mp4,P1,control\nz.mp4,,\n")
    assert [j.label for j in collect_jobs([manifest])] == ["control", "control", ""]


@pytest.mark.slow
def test_interrupt_marks_unstarted_videos_pending(tmp_path, model_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("control.mp4", "both_left.mp4", "oral_ocular_left.mp4"):
        (folder / name).symlink_to(SAMPLES / name)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "synkan.cli", "batch", str(folder), "-o", str(out), "--laterality", "plain",
           "--jobs", "1", "--no-figures"]
    # SIGINT as from a terminal, even when pytest runs in the background (there the shell ignores it).
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    running = out / ".synkan-batch" / "running"
    deadline = time.monotonic() + 120
    while not (running.is_dir() and any(running.iterdir())):  # the first video is under way
        assert proc.poll() is None and time.monotonic() < deadline, "the first video never started"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    status = pd.read_csv(out / "summary.csv", dtype=str, keep_default_na=False).set_index("name")["status"]
    assert sorted(status) == ["failed: interrupted (rerun to finish)", "pending", "pending"], status.to_dict()
    res = synkan_cli("batch", folder, "-o", out, "--laterality", "plain", "--jobs", "1", "--no-figures")
    assert res.returncode == 0, res.stderr
    assert (synkan.read_summary(out)["status"] == "ok").all()
    shutil.rmtree(out)
