"""Issue 26: hostile input files and values, each refused in one line with exit 2, on real files.

FIFOs, ``/dev/zero``, symlinks out of a folder, damaged report.json values,
odd dates, frame rates and segment lists go to the real ``synkan`` command.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hostile import cut_clip, edit_report, leftovers, refused, synkan, visit_copy

FIFO_TIMEOUT_S = 60  # a FIFO that is opened for reading blocks forever: the run must end long before


@pytest.fixture(scope="module")
def clip(tmp_path_factory, real_video) -> Path:
    """A 2 s cut of a real face video."""
    return cut_clip(real_video, tmp_path_factory.mktemp("clip") / "v.mp4")


@pytest.fixture(scope="module")
def analysis(tmp_path_factory, clip) -> Path:
    """One real analysis folder (figures, key frames), copied by the tests that change it."""
    out = tmp_path_factory.mktemp("analysis") / "A"
    done = synkan("analyze", clip, "-o", out, timeout=600)
    assert done.returncode == 0, done.stderr
    return out


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


# --- 2, 6: settings, report.json, track.npz, signals.csv, --previous as FIFOs or devices --------------------
def test_settings_from_dev_zero_or_a_fifo_is_refused_at_once(tmp_path, clip):
    for bad, why in (("/dev/zero", "not a regular file"), (fifo(tmp_path / "s.json"), "not a regular file")):
        refused(synkan("analyze", clip, "-o", tmp_path / "o", "--settings", bad, timeout=FIFO_TIMEOUT_S), why)
    big = tmp_path / "big.json"
    big.write_text(" " * 2_000_000 + "{}")
    refused(synkan("analyze", clip, "-o", tmp_path / "o", "--settings", big), "too large")
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    refused(synkan("analyze", clip, "-o", tmp_path / "o", "--settings", nested), "not readable JSON")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("name", ["report.json", "track.npz"])
def test_report_with_a_fifo_in_the_folder_is_refused(analysis, tmp_path, name):
    folder = visit_copy(analysis, tmp_path / "A")
    (folder / name).unlink()
    fifo(folder / name)
    refused(synkan("report", folder, timeout=FIFO_TIMEOUT_S), "not a regular file")


@pytest.mark.parametrize("name", ["report.json", "signals.csv", "events.csv"])
def test_compare_with_a_fifo_in_a_visit_is_refused(analysis, tmp_path, name):
    second = visit_copy(analysis, tmp_path / "B")
    (second / name).unlink()
    fifo(second / name)
    refused(
        synkan("compare", analysis, second, "-o", tmp_path / "C", timeout=FIFO_TIMEOUT_S),
        "not a regular file",
    )
    assert not (tmp_path / "C").exists() and not leftovers(tmp_path)


def test_previous_pointing_at_a_fifo_is_refused_before_the_analysis(analysis, clip, tmp_path):
    previous = tmp_path / "P"
    previous.mkdir()
    fifo(previous / "report.json")
    refused(synkan("analyze", clip, "-o", tmp_path / "o", "--previous", previous, timeout=FIFO_TIMEOUT_S))


# --- 5: key frames embedded in compare.html ---------------------------------------------------------------
def test_compare_embeds_only_a_png_inside_the_visit_folder(analysis, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("PATIENT SECRET 0123456789")
    second = visit_copy(analysis, tmp_path / "B")
    (second / "figures" / "keyframes.png").unlink()
    (second / "figures" / "keyframes.png").symlink_to(secret)
    third = visit_copy(analysis, tmp_path / "C")
    with open(third / "figures" / "keyframes.png", "wb") as fh:  # large, and not a PNG
        fh.truncate(30_000_000)
    done = synkan("compare", analysis, second, third, "-o", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "out" / "compare.html").read_text()
    import base64

    assert base64.b64encode(secret.read_bytes()).decode()[:20] not in html
    assert html.count("no key frames in this analysis folder") == 2
    assert (tmp_path / "out" / "compare.html").stat().st_size < 10_000_000


# --- 10, 14, 16: report.json values, one schema for report, compare and --previous -------------------------
BAD_REPORTS = {
    "nan_asymmetry": lambda r: r["scores"]["oral_ocular"].update(asymmetry_pp=float("nan")),
    "inf_se": lambda r: r["scores"]["oral_ocular"].update(asymmetry_se_pp=float("inf")),
    "string_asymmetry": lambda r: r["scores"]["oral_ocular"].update(asymmetry_pp="12"),
    "negative_se": lambda r: r["scores"]["oral_ocular"].update(asymmetry_se_pp=-1.0),
    "affected_path": lambda r: r["settings"].update(affected="../../etc"),
    "unknown_affected_side": lambda r: r["scores"]["oral_ocular"].update(affected_side="up"),
    "patient_id_number": lambda r: r["visit"].update(patient_id=17),
    "date_number": lambda r: r["visit"].update(visit_date=20240110),
    "date_text": lambda r: r["visit"].update(visit_date="zzzz"),
    "date_week": lambda r: r["visit"].update(visit_date="2026-W05-1"),
    "sha_number": lambda r: r["video"].update(sha256=12),
    "unknown_settings_key": lambda r: r["settings"].update(colour="red"),
    "a_list": lambda r: [r],
    "only_schema": lambda r: {"schema": r["schema"]},
    "nested": lambda r: r["scores"].update(deep=json.loads("[" * 50 + "]" * 50)),
}


@pytest.mark.parametrize("case", sorted(set(BAD_REPORTS) - {"nested"}))
def test_compare_and_report_refuse_a_damaged_report(analysis, tmp_path, case):
    second = visit_copy(analysis, tmp_path / "B")
    edit_report(second, BAD_REPORTS[case])
    refused(synkan("compare", analysis, second, "-o", tmp_path / "C"))
    refused(synkan("report", second))
    assert not (tmp_path / "C").exists()


def test_deeply_nested_report_is_one_line(analysis, tmp_path):
    second = visit_copy(analysis, tmp_path / "B")
    (second / "report.json").write_text(
        '{"schema": "synkan.report/1", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    )
    refused(synkan("report", second), "not readable JSON")


def test_previous_with_a_nan_report_fails_before_the_analysis(analysis, clip, tmp_path):
    previous = visit_copy(analysis, tmp_path / "P")
    edit_report(previous, BAD_REPORTS["nan_asymmetry"])
    done = synkan("analyze", clip, "-o", tmp_path / "o", "--previous", previous, timeout=60)
    refused(done, "asymmetry_pp")
    assert not (tmp_path / "o").exists()


def test_compare_refuses_tables_without_their_columns(analysis, tmp_path):
    second = visit_copy(analysis, tmp_path / "B")
    (second / "signals.csv").write_text("a,b\n1,2\n")
    refused(synkan("compare", analysis, second, "-o", tmp_path / "C"), "no column 't'")
    third = visit_copy(analysis, tmp_path / "D")
    (third / "events.csv").write_text("what,when\nsmile,1\n")
    refused(synkan("compare", analysis, third, "-o", tmp_path / "C"), "no column")


@pytest.mark.parametrize("date", ["2026-W05-1", "20260110", "2026-02-30", "zzzz"])
def test_only_calendar_dates_are_visit_dates(clip, tmp_path, date):
    refused(synkan("analyze", clip, "-o", tmp_path / "o", "--visit-date", date), "YYYY-MM-DD")


@pytest.mark.parametrize("row", ["v.mp4,P1,20240110", "v.mp4,P1,2024-01-10,note" + "x" * 3000])
def test_bad_manifest_rows_stop_the_batch_before_anything_is_written(clip, tmp_path, row):
    shutil.copy(clip, tmp_path / "v.mp4")
    manifest = tmp_path / "m.csv"
    header = "path,patient_id,session_date" + (",note" if row.count(",") == 3 else "")
    manifest.write_text(f"{header}\n{row}\n")
    refused(synkan("batch", manifest, "-o", tmp_path / "out"), "line 2")
    assert not (tmp_path / "out").exists()


# --- 11, 12, --stride: what cannot be graded is refused before the work -------------------------------------
def ffmpeg(*args) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True, timeout=300)


def test_a_frame_rate_too_low_to_see_a_blink_is_refused(clip, tmp_path):
    slow = tmp_path / "slow.mp4"
    ffmpeg(
        "-i", clip, "-vf", "setpts=N/(1/240)/TB", "-r", "1/240", "-frames:v", "10", "-c:v", "libx264", slow
    )
    refused(synkan("analyze", slow, "-o", tmp_path / "o"), "a blink")
    refused(synkan("analyze", clip, "-o", tmp_path / "o", "--stride", "100000"), "a blink")


def test_a_tiny_frame_is_refused_at_once(tmp_path):
    tiny = tmp_path / "tiny.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=16x16:rate=1000",
        "-frames:v",
        "20000",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        tiny,
    )
    done = synkan("analyze", tiny, "-o", tmp_path / "o", timeout=60)
    refused(done, "too small to hold a face")


# --- 13: segments ----------------------------------------------------------------------------------------
def test_inline_segments_are_text_and_errors_stay_short(clip, tmp_path):
    long_text = ",".join(f"smile:{k}-{k}.5" for k in range(40))  # > 256 characters: once tried as a path
    assert len(long_text) > 256
    done = synkan("analyze", clip, "-o", tmp_path / "o", "--segments", long_text + ",nonsense")
    assert "File name too long" not in refused(done, "nonsense")
    many = ",".join("smile:1-2" for _ in range(10_000))  # 100 KB, one argument
    assert len(refused(synkan("analyze", clip, "-o", tmp_path / "o", "--segments", many), "at most")) < 400
    for bad in ("smile:1-inf", "smile:1-5,close:3-4", "smile:nan-3"):
        refused(synkan("analyze", clip, "-o", tmp_path / "o", "--segments", bad))
    nested = tmp_path / "s.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    refused(synkan("analyze", clip, "-o", tmp_path / "o", "--segments", nested))
    refused(
        synkan(
            "analyze",
            clip,
            "-o",
            tmp_path / "o",
            "--segments",
            fifo(tmp_path / "f.csv"),
            timeout=FIFO_TIMEOUT_S,
        ),
        "not a regular file",
    )


# --- 4, 17: outputs that would replace an input -------------------------------------------------------------
def test_synth_refuses_to_overwrite_its_input(clip, tmp_path):
    victim = tmp_path / "victim.mp4"
    shutil.copy(clip, victim)
    before = victim.read_bytes()
    refused(
        synkan(
            "synth",
            "--from-video",
            victim,
            "--side",
            "left",
            "--k-oo",
            "0.3",
            "--name",
            "victim",
            "-o",
            ".",
            cwd=tmp_path,
        ),
        "is the input video",
    )
    link = tmp_path / "link.mp4"
    link.symlink_to(victim)
    refused(
        synkan(
            "synth",
            "--from-video",
            link,
            "--side",
            "left",
            "--k-oo",
            "0.3",
            "--name",
            "victim",
            "-o",
            tmp_path,
        )
    )
    refused(
        synkan(
            "synth", "--from-video", victim, "--side", "left", "--k-oo", "0.3", "--name", "..", "-o", tmp_path
        )
    )
    assert victim.read_bytes() == before


def test_export_landmarks_refuses_a_folder_and_the_analysis_own_track(analysis, tmp_path):
    folder = visit_copy(analysis, tmp_path / "A")
    track = (folder / "track.npz").read_bytes()
    (tmp_path / "D").mkdir()
    refused(synkan("export-landmarks", folder, "-o", tmp_path / "D", "--force"), "not a regular file")
    refused(
        synkan("export-landmarks", folder, "-o", folder / "track.npz", "--force"),
        "inside the analysis folder",
    )
    assert (folder / "track.npz").read_bytes() == track


# --- 17: --protocol prints no numpy warnings ----------------------------------------------------------------
def test_protocol_analysis_prints_no_runtime_warnings(samples_dir, tmp_path):
    env = dict(os.environ, PYTHONWARNINGS="error::RuntimeWarning")
    done = synkan("analyze", samples_dir / "control.mp4", "-o", tmp_path / "o", "--no-figures", "--protocol",
                  "sunnybrook", timeout=600, env=env)
    assert done.returncode == 0 and done.stderr == "", done.stderr[-2000:]
