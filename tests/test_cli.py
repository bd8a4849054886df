"""`synkan analyze` end to end, and every kind of bad input.

Each bad input must give one line on stderr (``synkan: error: ...``), a
non-zero exit (2), no traceback (``--debug`` shows one), and no output
left behind. Most cases call :func:`synkan.cli.main` in-process (capturing
file descriptor 2, so native FFmpeg/MediaPipe log lines would be caught
too); a few run the real command in a subprocess.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SHARED

from synkan.cli import main
from synkan.measure import tracking

REAL = SHARED / "videos" / "cosanlab_single_face.mp4"
SHARED_MODEL = SHARED / "models" / "face_landmarker.task"
FFMPEG = shutil.which("ffmpeg")
FAST = ["--laterality", "plain", "--no-figures"]

pytestmark = [
    pytest.mark.skipif(FFMPEG is None, reason="needs ffmpeg (make system-deps)"),
    pytest.mark.skipif(not REAL.exists(), reason=f"needs {REAL}"),
]


@pytest.fixture(autouse=True)
def _model_env(monkeypatch):
    if not os.environ.get("SYNKAN_MODEL") and SHARED_MODEL.exists():
        monkeypatch.setenv("SYNKAN_MODEL", str(SHARED_MODEL))


def ffmpeg(*args) -> None:
    subprocess.run([FFMPEG, "-v", "error", "-y", *map(str, args)], check=True, timeout=120)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("inputs")
    f = {}
    f["clip"] = d / "clip.mp4"  # a real face, 1 s
    ffmpeg("-i", REAL, "-t", "1", "-an", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", f["clip"])
    f["missing"] = d / "missing.mp4"
    f["directory"] = d / "a_folder.mp4"
    f["directory"].mkdir()
    f["text"] = d / "notes.mp4"
    f["text"].write_text("this is not a video\n")
    f["png"] = d / "face.png"
    import cv2
    frame = cv2.VideoCapture(str(f["clip"])).read()[1]
    cv2.imwrite(str(f["png"]), frame)
    f["png_as_mp4"] = d / "face_png.mp4"
    shutil.copy(f["png"], f["png_as_mp4"])
    f["zero"] = d / "empty.mp4"
    f["zero"].write_bytes(b"")
    data = REAL.read_bytes()  # index (moov) at the end, as most cameras write
    f["truncated"] = d / "truncated.mp4"
    f["truncated"].write_bytes(data[: int(len(data) * 0.3)])
    f["audio_only"] = d / "audio.mp4"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", f["audio_only"])
    f["no_face"] = d / "noise.mp4"
    ffmpeg("-f", "lavfi", "-i", "nullsrc=s=320x240:r=30:d=1,geq=random(1)*255:128:128", "-c:v", "libx264",
           "-preset", "veryfast", "-pix_fmt", "yuv420p", f["no_face"])
    f["bad_model"] = d / "face_landmarker_corrupt.task"
    if SHARED_MODEL.exists():
        blob = bytearray(SHARED_MODEL.read_bytes())
        blob[1000] ^= 0xFF
        f["bad_model"].write_bytes(bytes(blob))
    f["short_model"] = d / "face_landmarker_short.task"
    f["short_model"].write_bytes(b"\0" * 1000)
    return f


def run(capfd, *argv) -> tuple[int, str, str]:
    rc = main(list(map(str, argv)))
    out, err = capfd.readouterr()
    return rc, out, err


def assert_clean_error(rc: int, err: str, outdir: Path, *needles: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith("synkan: error: ") and "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert not outdir.exists()
    leftovers = [p.name for p in outdir.parent.iterdir() if p.name.startswith(f".{outdir.name}.")] if outdir.parent.is_dir() else []
    assert not leftovers
    return lines[0]


BAD_INPUTS = [
    ("missing", "no such file"),
    ("directory", "is a directory"),
    ("text", "not a readable video"),
    ("png", "still image"),
    ("png_as_mp4", "still image"),
    ("zero", "empty (0 bytes)"),
    ("truncated", "not a readable video"),
    ("audio_only", "not a readable video"),
    ("no_face", "no face found"),
]


@pytest.mark.parametrize("case,message", BAD_INPUTS, ids=[c for c, _ in BAD_INPUTS])
def test_bad_video_one_line_error_no_output(case, message, inputs, tmp_path, capfd):
    out = tmp_path / "sub" / "results"
    rc, _, err = run(capfd, "analyze", inputs[case], "-o", out, *FAST)
    assert_clean_error(rc, err, out, message)
    assert not out.parent.exists()  # not even the parent folder was created


def test_debug_shows_traceback(inputs, tmp_path):
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "synkan.cli", "analyze", str(inputs["text"]), "-o", str(out)]
    quiet = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 2 and quiet.stderr.strip().count("\n") == 0 and "Traceback" not in quiet.stderr
    loud = subprocess.run([cmd[0], "-m", "synkan.cli", "--debug", *cmd[3:]], capture_output=True, text=True, timeout=120)
    assert loud.returncode != 0 and "Traceback" in loud.stderr and "InputError" in loud.stderr


@pytest.mark.parametrize("model,message", [("bad_model", "fails its checksum"), ("short_model", "expected 3758596")])
def test_corrupt_model(model, message, inputs, tmp_path, capfd):
    if not inputs[model].exists():
        pytest.skip("needs the shared model")
    out = tmp_path / "r"
    rc, _, err = run(capfd, "analyze", inputs["clip"], "-o", out, "--model", inputs[model], *FAST)
    assert_clean_error(rc, err, out, message, "synkan models import")


BAD_SETTINGS = [
    ('{"cutoff_hz": "fast"}', "cutoff_hz must be between"),
    ('{"cutoff_hz": null}', "cutoff_hz must be between"),
    ('{"stride": 0}', "stride must be a whole number"),
    ('{"stride": true}', "stride must be a whole number"),
    ('{"max_size": 12.5}', "max_size must be"),
    ('{"rotate": 45}', "rotate must be"),
    ('{"laterality": "both"}', "laterality must be"),
    ('{"affected": "middle"}', "affected must be"),
    ('{"segments": 5}', "segments must be"),
    ('{"strde": 2}', "unknown keys"),
    ('{"stride": 2', "cannot read settings file"),
    ('[1, 2]', "must hold a JSON object"),
]


@pytest.mark.parametrize("text,message", BAD_SETTINGS, ids=[m.split()[0] + str(i) for i, (_, m) in enumerate(BAD_SETTINGS)])
def test_bad_settings_file(text, message, inputs, tmp_path, capfd):
    settings = tmp_path / "bad.json"
    settings.write_text(text)
    out = tmp_path / "r"
    rc, _, err = run(capfd, "analyze", inputs["clip"], "-o", out, "--settings", settings, "--no-figures")
    line = assert_clean_error(rc, err, out, message)
    assert "bad.json" in line


def test_missing_settings_file(inputs, tmp_path, capfd):
    out = tmp_path / "r"
    rc, _, err = run(capfd, "analyze", inputs["clip"], "-o", out, "--settings", tmp_path / "nope.json", *FAST)
    assert_clean_error(rc, err, out, "cannot read settings file")


def test_output_under_a_regular_file(inputs, tmp_path, capfd):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    out = blocker / "results"
    rc, _, err = run(capfd, "analyze", inputs["clip"], "-o", out, *FAST)
    assert_clean_error(rc, err, out, "is a file, not a folder")
    assert blocker.read_text() == "x"


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a tmpfs (needs root with mount rights, as in CI containers); yields a mounter."""
    mounted = []

    def mount(options: str) -> Path:
        where = tmp_path / f"mnt{len(mounted)}"
        where.mkdir()
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
        if res.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode().strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", str(where)], check=False)


def test_read_only_output_folder(inputs, tmpfs, capfd):
    ro = tmpfs("ro,size=1m")
    out = ro / "results"
    rc, _, err = run(capfd, "analyze", inputs["clip"], "-o", out, *FAST)
    assert_clean_error(rc, err, out, "not writable")


def test_full_disk_tmpfs(inputs, tmpfs, capfd):
    disk = tmpfs("size=24k")  # far too small for track.npz and the CSVs
    out = disk / "results"
    rc, _, err = run(capfd, "analyze", inputs["clip"], "-o", out, *FAST)
    assert_clean_error(rc, err, out, "No space left on device")
    assert list(disk.iterdir()) == []


def _fake_previous(out: Path) -> bytes:
    out.mkdir(parents=True)
    old = b'{"schema": "synkan.report/1", "previous": true}\n'
    (out / "report.json").write_bytes(old)
    (out / "signals.csv").write_text("t\n0\n")
    return old


def test_full_disk_injected_keeps_previous_results(inputs, tmp_path, capfd, monkeypatch):
    """ENOSPC injected at the lowest write (the track's npz) after part of the file is out."""
    out = tmp_path / "results"
    old = _fake_previous(out)

    def disk_full(fh, arrays):
        fh.write(b"PK\x03\x04 partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tracking, "write_npz", disk_full)
    rc, _, err = run(capfd, "analyze", inputs["clip"], "-o", out, "--force", *FAST)
    lines = err.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and "No space left on device" in lines[0], err
    assert "earlier results were left as they were" in lines[0]
    assert (out / "report.json").read_bytes() == old
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "signals.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_existing_results_need_force_and_force_replaces_atomically(inputs, tmp_path, capfd):
    out = tmp_path / "results"
    old = _fake_previous(out)
    rc, _, err = run(capfd, "analyze", inputs["clip"], "-o", out, *FAST)
    assert rc == 2 and "use --force" in err and err.count("\n") == 1
    assert (out / "report.json").read_bytes() == old

    rc, stdout, err = run(capfd, "analyze", inputs["clip"], "-o", out, "--force", "--json", *FAST)
    assert rc == 0, err
    report = json.loads(stdout)
    assert report["schema"] == "synkan.report/1" and report["qc"]["face_fraction"] > 0.95
    assert json.loads((out / "report.json").read_text())["video"]["sha256"] == report["video"]["sha256"]
    assert {"report.json", "signals.csv", "events.csv", "track.npz"} <= {p.name for p in out.iterdir()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]  # no staging or .old folders


def test_force_never_replaces_a_folder_of_other_files(inputs, tmp_path, capfd):
    out = tmp_path / "Documents"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    rc, _, err = run(capfd, "analyze", inputs["clip"], "-o", out, "--force", *FAST)
    assert rc == 2 and "holds no synkan results" in err
    assert (out / "thesis.docx").read_text() == "precious"


# --- Only synkan's own files are ever removed (issue 17: 1, 2, 3, 15, 16) -------------------------
@pytest.fixture(scope="module")
def analysed(inputs, tmp_path_factory) -> Path:
    """One full analysis (figures, report.html, overlay), made by the real command; copy it before changing
    it."""
    out = tmp_path_factory.mktemp("analysed") / "results"
    res = subprocess.run([sys.executable, "-m", "synkan.cli", "analyze", str(inputs["clip"]), "-o", str(out),
                          "--laterality", "plain", "--overlay"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return out


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _user_folder(base: Path, report: bytes) -> Path:
    """The issue's folder: a report.json, a thesis and a subfolder of the user's."""
    (base / "sub").mkdir(parents=True)
    (base / "report.json").write_bytes(report)
    (base / "thesis.docx").write_text("precious")
    (base / "sub" / "data.txt").write_text("mine")
    return base


@pytest.mark.parametrize("report", [b"{}\n", b'{"schema": "synkan.report/1"}\n'], ids=["any-json", "synkan-schema"])
def test_force_never_removes_files_synkan_did_not_write(report, inputs, tmp_path, capfd):
    folder = _user_folder(tmp_path / "p", report)
    before = _tree(folder)
    rc, _, err = run(capfd, "analyze", inputs["clip"], "-o", folder, "--force", *FAST)
    assert rc == 2 and err.count("\n") == 1 and "not replacing it, even with --force" in err, err
    assert _tree(folder) == before


def test_force_on_dot_never_removes_the_working_folder(inputs, tmp_path, monkeypatch, capfd):
    folder = _user_folder(tmp_path / "p", b"{}\n")
    before = _tree(folder)
    monkeypatch.chdir(folder)
    rc, _, err = run(capfd, "analyze", inputs["clip"], "-o", ".", "--force", *FAST)
    assert rc == 2 and "not replacing it" in err, err
    assert _tree(folder) == before


def test_force_refuses_an_analysis_folder_with_a_user_file(analysed, inputs, tmp_path, capfd):
    folder = tmp_path / "results"
    shutil.copytree(analysed, folder)
    (folder / "figures" / "my_notes.txt").write_text("mine")
    rc, _, err = run(capfd, "analyze", inputs["clip"], "-o", folder, "--force", *FAST)
    assert rc == 2 and "synkan did not write (figures/my_notes.txt)" in err, err
    assert (folder / "figures" / "my_notes.txt").read_text() == "mine"


def test_report_keeps_the_users_files(analysed, tmp_path):
    folder = tmp_path / "results"
    shutil.copytree(analysed, folder)
    (folder / "notes.txt").write_text("seen on 3 May")
    (folder / "photos").mkdir()
    (folder / "photos" / "a.jpg").write_bytes(b"\xff\xd8 photo")
    (folder / "figures" / "drawing.svg").write_text("<svg/>")
    (folder / "empty_dir").mkdir()
    (folder / "report.html").write_text("stale")
    res = subprocess.run([sys.executable, "-m", "synkan.cli", "report", str(folder)], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    assert (folder / "notes.txt").read_text() == "seen on 3 May"
    assert (folder / "photos" / "a.jpg").read_bytes() == b"\xff\xd8 photo"
    assert (folder / "figures" / "drawing.svg").read_text() == "<svg/>"
    assert (folder / "empty_dir").is_dir()
    assert (folder / "report.html").read_text() != "stale" and (folder / "overlay.mp4").is_file()
    # The rebuilt folder is synkan's again, the user's files still not: a second rebuild keeps them too.
    manifest = json.loads((folder / ".synkan-files.json").read_text())["files"]
    assert "report.html" in manifest and "notes.txt" not in manifest and "photos/a.jpg" not in manifest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_concurrent_runs_into_one_folder_the_second_stops(inputs, tmp_path):
    out = tmp_path / "results"
    long_clip = tmp_path.parent / f"{tmp_path.name}-30s.mp4"  # long enough to still run while the second starts
    ffmpeg("-stream_loop", "29", "-i", inputs["clip"], "-c", "copy", long_clip)
    cmd = [sys.executable, "-m", "synkan.cli", "analyze", str(long_clip), "-o", str(out), *FAST]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / ".results.lock"
    deadline = time.monotonic() + 120
    while not lock.exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert first.poll() is None, "the first run ended before the second could start"
    second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err
    lines = second.stderr.strip().splitlines()
    assert second.returncode == 2 and len(lines) == 1 and "another synkan run is writing here" in lines[0], second.stderr
    assert (out / "report.json").is_file() and not lock.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_symlinked_output_is_written_through_not_replaced(analysed, inputs, tmp_path, capfd):
    target = tmp_path / "store" / "results"
    target.parent.mkdir()
    shutil.copytree(analysed, target)
    link = tmp_path / "link"
    link.symlink_to(target)
    rc, _, err = run(capfd, "analyze", inputs["clip"], "-o", link, "--force", *FAST)
    assert rc == 0, err
    assert link.is_symlink() and link.resolve() == target
    assert not (target / "report.html").exists()  # no stale results of the earlier run (it had figures)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "store"]
    assert sorted(p.name for p in target.parent.iterdir()) == ["results"]


def _modes(folder: Path) -> set[tuple[str, int]]:
    return {("dir" if p.is_dir() else "file", p.stat().st_mode & 0o777) for p in [folder, *folder.rglob("*")]}


def test_outputs_are_private(analysed):
    names = {p.relative_to(analysed).as_posix() for p in analysed.rglob("*")}
    assert {"track.npz", "report.json", "report.html", "overlay.mp4", "signals.csv", "figures"} <= names
    assert _modes(analysed) == {("dir", 0o700), ("file", 0o600)}


def test_shared_outputs_follow_the_umask(inputs, tmp_path):
    out = tmp_path / "results"
    env = dict(os.environ, SYNKAN_SHARED_OUTPUTS="1")
    res = subprocess.run(["sh", "-c", 'umask 027 && exec "$@"', "sh", sys.executable, "-m", "synkan.cli", "analyze",
                          str(inputs["clip"]), "-o", str(out), "--laterality", "plain"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    assert _modes(out) == {("dir", 0o750), ("file", 0o640)}


def test_rotate_flag_is_honoured(inputs, tmp_path, capfd):
    """An upside-down recording without a rotation tag, put right with --rotate 180."""
    flipped = tmp_path / "upside_down.mp4"
    ffmpeg("-i", inputs["clip"], "-vf", "hflip,vflip", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", flipped)
    out = tmp_path / "r"
    rc, stdout, err = run(capfd, "analyze", flipped, "-o", out, "--rotate", "180", "--json", *FAST)
    assert rc == 0, err
    report = json.loads(stdout)
    assert report["video"]["rotation_deg"] == 180 and report["settings"]["rotate"] == 180
    assert report["qc"]["face_fraction"] > 0.95
    assert report["video"]["width"] == 640 and report["video"]["height"] == 360
