"""Real-world videos: rotation, variable frame rate, 4K, several faces, a face
that is lost or turned away, truncated files, Ctrl-C, a header claiming 2**31 - 1
frames and damaged track.npz files (the fuzz campaign is tests/test_fuzz.py).

Test videos are made on the fly with ffmpeg (Debian's package; ``make
system-deps``) and OpenCV from short crops of the bundled and shared videos.
Every analysis uses ``laterality="plain"`` and clips of 1-3 s to stay fast.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT, SHARED

import synkan
from synkan.config import MAX_ABS_YAW_DEG, MIN_FACE_FRACTION, Settings
from synkan.measure.landmarker import select_face
from synkan.measure.tracking import track_video
from synkan.measure.video import iter_frames, probe

REAL = SHARED / "videos" / "cosanlab_single_face.mp4"  # 640x360, 30 fps, 2.4 s, real face
SYNTH = ROOT / "sample_videos" / "oral_ocular_left.mp4"  # 512x512, 30 fps, 10 s, smiles at known times
CONTROL = ROOT / "sample_videos" / "control.mp4"
FFMPEG = shutil.which("ffmpeg")

pytestmark = [
    pytest.mark.skipif(FFMPEG is None, reason="needs ffmpeg (make system-deps)"),
    pytest.mark.skipif(not REAL.exists(), reason=f"needs {REAL}"),
]
PLAIN = Settings(laterality="plain")


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-v", "error", "-y", *map(str, args)], check=True, timeout=300)


def write_video(path: Path, frames, fps: float = 30.0) -> Path:
    """Write BGR frames with OpenCV (mp4v)."""
    frames = list(frames)
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        out.write(f)
    out.release()
    return path


def read_bgr(path: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < n:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("media")
    # A real face, 1 s, H.264 with the index up front so that truncation keeps the start decodable.
    ffmpeg("-i", REAL, "-t", "1", "-an", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
           "-movflags", "+faststart", d / "real1s.mp4")
    ffmpeg("-i", REAL, "-an", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
           "-movflags", "+faststart", d / "real_full.mp4")
    return d


# --- orientation -------------------------------------------------------------------

def test_rotation_metadata_is_honoured_and_rotate_overrides(media):
    """A phone-style portrait file (pixels stored sideways + rotation tag) is analysed upright."""
    stored = media / "stored_sideways.mp4"
    ffmpeg("-i", media / "real1s.mp4", "-vf", "transpose=1", "-c:v", "libx264", "-preset", "veryfast",
           "-pix_fmt", "yuv420p", stored)
    tagged = media / "rotated_tag.mp4"
    ffmpeg("-i", stored, "-c", "copy", "-metadata:s:v:0", "rotate=90", tagged)

    upright, rotated = probe(media / "real1s.mp4"), probe(tagged)
    assert (rotated.width, rotated.height) == (upright.width, upright.height) == (640, 360)
    assert rotated.rotation_deg in (90, 270)
    a = next(iter(iter_frames(media / "real1s.mp4"))).rgb.astype(float)
    b = next(iter(iter_frames(tagged))).rgb.astype(float)
    assert np.abs(a - b).mean() < 3.0  # the same upright picture

    # --rotate replaces the metadata: 0 gives the stored (sideways) pixels, the
    # tag's own angle gives the upright picture again.
    assert probe(tagged, rotate=0).width == 360
    assert next(iter(iter_frames(tagged, rotate=0))).rgb.shape == (640, 360, 3)
    c = next(iter(iter_frames(tagged, rotate=rotated.rotation_deg))).rgb.astype(float)
    assert np.abs(a - c).mean() < 3.0

    tr_up = track_video(media / "real1s.mp4", PLAIN)
    tr_rot = track_video(tagged, PLAIN)
    assert tr_rot.valid.mean() > 0.95 and (tr_rot.width, tr_rot.height) == (640, 360)
    both = tr_up.valid & tr_rot.valid
    err = np.linalg.norm(tr_up.landmarks[both, :, :2] - tr_rot.landmarks[both, :, :2], axis=-1)
    assert np.median(err) < 2.0, np.median(err)  # pixels, in a 640x360 frame
    # Without the rotation the face lies on its side: MediaPipe finds it rarely or sideways.
    tr_side = track_video(tagged, dataclasses.replace(PLAIN, rotate=0))
    assert (tr_side.width, tr_side.height) == (360, 640)


# --- variable frame rate -----------------------------------------------------------

def test_variable_frame_rate_matches_constant_twin(tmp_path):
    """Dropping frames unevenly (timestamps kept) must not move signals, lags or events."""
    cfr = tmp_path / "cfr.mp4"
    ffmpeg("-i", SYNTH, "-t", "3", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", "10", cfr)
    vfr = tmp_path / "vfr.mp4"
    # Frames 10-40: drop every third; 50-70: drop every other. -vsync vfr keeps the original timestamps.
    keep = r"not(between(n\,10\,40)*not(mod(n\,3)))*not(between(n\,50\,70)*mod(n\,2))"
    ffmpeg("-i", cfr, "-vf", f"select='{keep}'", "-vsync", "vfr", "-c:v", "libx264", "-preset", "veryfast",
           "-pix_fmt", "yuv420p", vfr)
    a = synkan.analyze(cfr, PLAIN)
    b = synkan.analyze(vfr, PLAIN)
    ta, tb = a.signals.t, b.signals.t
    assert len(tb) == 70 and len(ta) == 90
    steps = np.diff(tb)
    assert steps.max() > 1.9 / 30 and steps.min() < 1.1 / 30  # really variable
    # Decoder timestamps: each VFR frame sits at its CFR twin's time (index/fps would put
    # frame 69 at 2.3 s instead of 2.967 s).
    idx = np.searchsorted(ta, tb - 1e-4)
    np.testing.assert_allclose(ta[idx], tb, atol=1e-3)
    frame = 1 / 30
    # Signals: no time shift beyond one frame interval (cross-correlation on a 1 ms grid).
    grid = np.arange(tb[0], tb[-1], 0.001)
    for col in ("eye_closure_l", "mouth_excursion_l", "mouth_excursion_r"):
        x = np.interp(grid, ta, a.signals.data[col].to_numpy())
        y = np.interp(grid, tb, b.signals.data[col].to_numpy())
        x, y = x - x.mean(), y - y.mean()
        lags = np.arange(-200, 201)
        cc = [np.dot(x[max(0, k):len(x) + min(0, k)], y[max(0, -k):len(y) - max(0, k)]) for k in lags]
        assert abs(lags[int(np.argmax(cc))]) * 0.001 <= frame, col
        assert np.nanmax(np.abs(x - y)) < 0.1 * np.ptp(x) + 0.02, col
    # Events and coupling lags within one frame interval.
    ea, eb = a.events.table, b.events.table
    assert list(ea["kind"]) == list(eb["kind"]) and len(ea) >= 1
    for col in ("start_s", "end_s", "peak_s"):
        for ta_event, tb_event in zip(ea[col], eb[col]):
            # "One frame interval": the VFR file's own interval where the event edge falls.
            near = np.abs(tb[1:] - tb_event) <= 0.1
            local = max(frame, float(steps[near].max())) if near.any() else frame
            assert abs(ta_event - tb_event) <= local + 1e-3, (col, ta_event, tb_event, local)
    for side in ("right", "left"):
        la, lb = a.couplings["oral_ocular"].sides[side].lag_s, b.couplings["oral_ocular"].sides[side].lag_s
        assert abs(la - lb) <= frame + 1e-6
        ia, ib = (c.couplings["oral_ocular"].sides[side].involuntary_pct for c in (a, b))
        assert abs(ia - ib) < 3.0
    assert a.scores.scores["oral_ocular"]["affected_side"] == b.scores.scores["oral_ocular"]["affected_side"] == "left"


# --- large frames ------------------------------------------------------------------

def test_4k_is_downscaled_and_landmarks_come_back_in_original_pixels(media, tmp_path):
    big = tmp_path / "uhd.mp4"
    ffmpeg("-i", media / "real1s.mp4", "-frames:v", "12", "-vf", "scale=3840:2160", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", big)
    frame = next(iter(iter_frames(big, max_size=Settings().max_size)))
    assert frame.rgb.shape == (720, 1280, 3) and frame.scale == pytest.approx(1 / 3)
    # A size that does not divide evenly keeps the aspect ratio to within a pixel.
    odd = next(iter(iter_frames(big, max_size=1000))).rgb.shape
    assert odd[1] == 1000 and abs(odd[0] - 562.5) <= 1

    small = track_video(media / "real1s.mp4", PLAIN)
    large = track_video(big, PLAIN)
    assert (large.width, large.height) == (3840, 2160)
    n = min(len(small), len(large))
    both = small.valid[:n] & large.valid[:n]
    assert both.sum() >= 10
    scaled = small.landmarks[:n][both, :, :2] * 6.0
    err = np.linalg.norm(large.landmarks[:n][both, :, :2] - scaled, axis=-1)
    face_width = np.ptp(scaled[..., 0], axis=1).mean()
    assert np.median(err) < 0.01 * face_width, (np.median(err), face_width)
    assert large.landmarks.dtype == np.float32 and not np.allclose(large.landmarks[both], np.round(large.landmarks[both]))


# --- several faces -------------------------------------------------------------------

def _face(cx: float, cy: float, w: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    pts = rng.uniform(-0.5, 0.5, (478, 3)).astype(np.float32) * w
    pts[:, 0] += cx
    pts[:, 1] += cy
    return pts


def test_select_face_largest_first_then_by_position():
    small, big = _face(0.2, 0.5, 0.1), _face(0.7, 0.5, 0.3)
    assert select_face([], None) is None
    assert select_face([small, big], None) == 1  # the largest face first
    assert select_face([big, small], None) == 0
    # Afterwards, the face nearest to where the patient was, even if another is larger.
    center = small[:, :2].mean(axis=0)
    assert select_face([big, small], center) == 1
    # The patient left: never switch to the other person.
    assert select_face([big], center) is None
    moved = _face(0.25, 0.52, 0.1)
    assert select_face([big, moved], center) == 1


def test_two_faces_patient_followed_never_switched(tmp_path):
    """Large face (patient) on the right, a smaller one on the left; the patient is hidden for a while."""
    patient = read_bgr(SYNTH, 45)
    other = [cv2.resize(f, (320, 320), interpolation=cv2.INTER_AREA) for f in read_bgr(CONTROL, 45)]
    frames = []
    for i, (p, o) in enumerate(zip(patient, other)):
        canvas = np.full((512, 896, 3), 128, np.uint8)
        canvas[96:416, 24:344] = o
        if not 15 <= i < 30:
            canvas[:, 384:896] = p
        frames.append(canvas)
    video = write_video(tmp_path / "two_faces.mp4", frames)
    result = synkan.analyze(video, PLAIN)
    tr = result.track
    hidden = np.zeros(len(tr), bool)
    hidden[15:30] = True
    assert tr.valid[~hidden].all()
    assert not tr.valid[hidden].any()  # lost, reported, and no switch to the other person
    x = np.nanmean(tr.landmarks[tr.valid, :, 0], axis=1)
    assert (x > 384).all()
    assert (tr.n_faces[~hidden] == 2).mean() > 0.8 and (tr.n_faces[hidden] >= 1).all()
    qc = result.report["qc"]
    assert qc["frames_without_face"] == 15 and qc["frames_multiple_faces"] > 0
    assert any("more than one face" in w for w in result.report["warnings"])


# --- face lost or turned away -----------------------------------------------------------

def test_face_missing_in_most_frames_gives_null_scores(media, tmp_path):
    frames = read_bgr(media / "real_full.mp4", 72)
    for f in frames[20:]:
        f[:] = 90  # blanked: the face is in 20 of 72 frames
    video = write_video(tmp_path / "mostly_blank.mp4", frames)
    result = synkan.analyze(video, PLAIN)
    report = result.report
    assert report["qc"]["face_fraction"] < MIN_FACE_FRACTION
    assert len(result.track) == 72 and result.track.valid[:18].all() and not result.track.valid[22:].any()
    assert np.all(np.diff(result.track.t_s) > 0)  # the timeline never shifts
    assert any("face found in only" in w for w in report["warnings"])
    for direction in ("oral_ocular", "ocular_oral"):
        entry = report["scores"][direction]
        assert entry["grade"] is None and entry["asymmetry_pp"] is None
        assert entry["right"]["involuntary_pct"] is None and entry["left"]["involuntary_pct"] is None
    assert report["scores"]["eface_ocular_synkinesis"] is None


def _rotate_points(lm: np.ndarray, deg: float, axis: str) -> np.ndarray:
    """Rotate landmarks (N, 478, 3) about their centroid; 'y' = yaw, 'z' = roll."""
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    r = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]) if axis == "y" else np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    center = np.nanmean(lm, axis=1, keepdims=True)
    return ((lm - center) @ r.T + center).astype(np.float32)


def test_turned_head_frames_flagged_and_left_out_of_coupling(media):
    """Frames with yaw or roll beyond the limits: pose_ok False, QC counts them, coupling skips them."""
    base = synkan.track_video(media / "real_full.mp4", PLAIN)
    lm = base.landmarks.copy()
    yaw_rows, roll_rows = np.arange(40, 50), np.arange(55, 60)
    lm[yaw_rows] = _rotate_points(lm[yaw_rows], MAX_ABS_YAW_DEG + 15, "y")
    lm[roll_rows] = _rotate_points(lm[roll_rows], 40, "z")
    turned = dataclasses.replace(base, landmarks=lm)
    video = synkan.analysis.video_summary(media / "real_full.mp4", turned)
    result = synkan.rescore(turned, video, PLAIN)
    data = result.signals.data
    bad = np.zeros(len(data), bool)
    bad[yaw_rows] = bad[roll_rows] = True
    assert not data["pose_ok"][bad].any()
    assert data["pose_ok"][~bad & base.valid].mean() > 0.95
    assert (np.abs(data["yaw_deg"][yaw_rows]) > MAX_ABS_YAW_DEG).all()
    assert result.report["qc"]["frames_large_rotation"] >= bad.sum()
    assert any("head rotation" in w for w in result.report["warnings"])
    for coupling in result.couplings.values():
        t_bad = data["t"].to_numpy()[bad]
        near = np.abs(coupling.t[:, None] - t_bad[None, :]).min(axis=1) < 0.5 / 30
        assert not coupling.window[near].any()


# --- truncated files -------------------------------------------------------------------

def test_truncated_file_warns_with_frames_decoded(media, tmp_path):
    src = media / "real_full.mp4"
    data = src.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    info = probe(cut)
    assert info.n_frames_nominal == 72
    result = synkan.analyze(cut, PLAIN)
    decoded = len(result.track)
    assert 5 < decoded < 72
    warning = [w for w in result.report["warnings"] if w.startswith("decoded only")]
    assert warning and f"{decoded} of the 72 frames" in warning[0]


def test_intact_file_has_no_decode_warning(media):
    result = synkan.analyze(media / "real1s.mp4", PLAIN)
    assert not any(w.startswith("decoded only") for w in result.report["warnings"])


# --- Ctrl-C -------------------------------------------------------------------------------

def test_keyboard_interrupt_during_tracking_stops_decoder_thread(media):
    def interrupt(n: int) -> None:
        if n == 5:
            raise KeyboardInterrupt

    def decoders():
        return [t for t in threading.enumerate() if t.name.startswith("synkan-decoder")]

    with pytest.raises(KeyboardInterrupt) as info:
        synkan.track_video(media / "real_full.mp4", PLAIN, progress=interrupt)
    # The traceback (and with it the generator's frame) is still alive here,
    # as it would be in a notebook: the decoder must be gone all the same.
    assert info.value is not None
    deadline = time.monotonic() + 2.0
    while decoders() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not decoders()


def test_sigint_during_analyze_keeps_previous_results(tmp_path):
    """SIGINT midway through `analyze --force` into an existing results folder."""
    long_video = tmp_path / "long.mp4"
    ffmpeg("-stream_loop", "1", "-i", SYNTH, "-c", "copy", long_video)  # 20 s
    out = tmp_path / "results"
    out.mkdir()
    old = b'{"schema": "synkan.report/1", "previous": true}\n'
    (out / "report.json").write_bytes(old)
    (out / "signals.csv").write_text("t\n0\n")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "synkan.cli", "analyze", str(long_video), "-o", str(out), "--force",
                             "--laterality", "plain", "--no-figures"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # Wait until the decoder has the video open (tracking under way) for a moment.
    fd_dir = Path(f"/proc/{proc.pid}/fd")
    deadline, open_since = time.monotonic() + 120, None
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            is_open = any(os.path.realpath(fd) == str(long_video) for fd in fd_dir.iterdir())
        except OSError:
            is_open = False
        open_since = (open_since or time.monotonic()) if is_open else None
        if open_since and time.monotonic() - open_since > 1.0:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "analysis finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    stderr = stderr.decode()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert (out / "report.json").read_bytes() == old
    assert sorted(p.name for p in out.iterdir()) == ["report.json", "signals.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.mp4", "results"]  # no temp folders


def test_real_three_people_laughing_patient_kept(model_path):
    """OpenFace's multi_face.avi: three people laugh and move; one landmark pass per frame keeps the first
    patient."""
    tr = synkan.track_video(SHARED / "videos" / "openface_multi_face.avi")
    assert tr.valid.mean() > 0.95
    centers = tr.landmarks[tr.valid, :, :2].mean(axis=1)
    widths = np.ptp(tr.landmarks[tr.valid, :, 0], axis=1)
    # Never a jump to another person: consecutive centres stay within a fraction of a face width.
    assert (np.linalg.norm(np.diff(centers, axis=0), axis=1) < 0.5 * widths[1:]).all()
    assert (tr.n_faces >= 2).mean() > 0.5  # the others were seen, and counted


# --- Damaged headers and tracks (issue 17: 7, 8) -----------------------------------------------------
def test_avi_claiming_two_billion_frames_is_not_preallocated(media, tmp_path):
    """The container's frame count is a claim: 2**31 - 1 frames must not become an 11 TiB allocation."""
    from test_fuzz import _claim_frames, run_measured

    avi = tmp_path / "src.avi"
    ffmpeg("-i", media / "real1s.mp4", "-an", "-c:v", "mjpeg", "-q:v", "5", avi)
    huge = tmp_path / "huge.avi"
    huge.write_bytes(_claim_frames(avi.read_bytes(), 2**31 - 1))
    assert cv2.VideoCapture(str(huge)).get(cv2.CAP_PROP_FRAME_COUNT) == 2**31 - 1
    o = run_measured([sys.executable, "-m", "synkan.cli", "analyze", str(huge), "-o", str(tmp_path / "out"),
                      "--laterality", "plain", "--no-figures"], 120)
    assert o.rc == 0, o.stderr
    assert o.peak_mb < 1024


def _track_arrays(n: int = 30) -> dict[str, np.ndarray]:
    """The arrays of a small valid track.npz, as Track.save writes them."""
    from synkan.measure.eyepatch import PATCH_SHAPE
    from synkan.measure.tracking import TRACK_SCHEMA

    info = {"schema": TRACK_SCHEMA, "width": 640, "height": 360, "meta": {}}
    return {"t_s": np.arange(n) / 30.0, "frame_index": np.arange(n), "landmarks": np.zeros((n, 478, 3), np.float32),
            "blendshapes": np.zeros((n, 52), np.float32), "pose_matrix": np.zeros((n, 4, 4), np.float32),
            "valid": np.ones(n, bool), "n_faces": np.ones(n, np.int8), "blendshape_names": np.array(["a"] * 52),
            "info": np.array(__import__("json").dumps(info)),
            "eye_patches": np.zeros((n, 2, *PATCH_SHAPE), np.uint8)}


def _zip_bomb(path: Path, n: int = 100_000) -> None:
    """A valid-looking track whose landmarks (n x 478 x 3 float32, 574 MB of zeros) deflate to almost
    nothing."""
    import zipfile

    arrays = _track_arrays(n)
    landmarks = arrays.pop("landmarks")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for key, value in arrays.items():
            with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, value)
        with zf.open("landmarks.npy", "w", force_zip64=True) as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "<f4", "fortran_order": False, "shape": landmarks.shape})
            block = bytes(1 << 22)
            left = landmarks.nbytes
            while left:
                fh.write(block[: min(left, len(block))])
                left -= min(left, len(block))


def _bad_tracks(d: Path) -> dict[str, Path]:
    cases = {}
    cases["bad_zip"] = d / "bad_zip.npz"
    cases["bad_zip"].write_bytes(b"PK\x03\x04" + bytes(range(256)) * 40)
    cases["zip_bomb"] = d / "zip_bomb.npz"
    _zip_bomb(cases["zip_bomb"])
    for name, change in {"wrong_shape": {"landmarks": np.zeros((30, 10, 3), np.float32)},
                         "short_valid": {"valid": np.ones(29, bool)},
                         "text_times": {"t_s": np.array(["x"] * 30)},
                         "nan_times": {"t_s": np.r_[np.arange(29) / 30.0, np.nan]},
                         "backwards_times": {"t_s": np.r_[np.arange(29) / 30.0, 0.5]},
                         "bad_info": {"info": np.array('{"schema": "synkan.track/1", "width": -1}')},
                         "missing_key": {"landmarks": None}}.items():
        arrays = {k: v for k, v in {**_track_arrays(), **change}.items() if v is not None}
        cases[name] = d / f"{name}.npz"
        np.savez(cases[name], **arrays)
    return cases


def test_damaged_track_npz_is_one_line_in_bounded_memory(tmp_path):
    from test_fuzz import run_measured

    from synkan.measure.tracking import Track

    good = tmp_path / "good.npz"
    np.savez(good, **_track_arrays())
    assert len(Track.load(good)) == 30  # the checks accept what save() writes
    for name, track in _bad_tracks(tmp_path).items():
        folder = tmp_path / f"report_{name}"
        folder.mkdir()
        (folder / "report.json").write_text('{"schema": "synkan.report/1", "video": {}, "settings": {}}')
        shutil.copy(track, folder / "track.npz")
        o = run_measured([sys.executable, "-m", "synkan.cli", "report", str(folder)], 60)
        lines = o.stderr.strip().splitlines()
        assert o.rc == 2 and len(lines) == 1 and "track" in lines[0] and "internal" not in lines[0], (name, o.stderr)
        assert o.peak_mb < 400 and o.seconds < 30, (name, o.peak_mb, o.seconds)
        assert sorted(p.name for p in folder.iterdir()) == ["report.json", "track.npz"]


def test_sideways_face_is_not_scored_and_the_fix_is_named(real_video, tmp_path):
    """Wrong rotation metadata (the face lies sideways): no scores, a reason, and the --rotate that fixes
    it."""
    import cv2

    cap = cv2.VideoCapture(str(real_video))
    frames = []
    while (ok_frame := cap.read())[0]:
        frames.append(cv2.rotate(ok_frame[1], cv2.ROTATE_90_CLOCKWISE))
    video = write_video(tmp_path / "sideways.mp4", frames)
    result = synkan.analyze(video)
    assert abs(result.scores.qc["camera_roll_deg"]) > 80
    assert result.scores.scores["oral_ocular"]["grade"] is None and result.scores.scores["eface_ocular_synkinesis"] is None
    reason = next(w for w in result.warnings if "not upright" in w)
    turn = int(reason.rsplit("--rotate ", 1)[1].rstrip(")"))
    fixed = synkan.rescore(synkan.track_video(video, synkan.Settings(rotate=turn)), result.video)
    # Scored again: measured (one smile: not conclusive, so no grade either way).
    oo = fixed.scores.scores["oral_ocular"]
    assert abs(fixed.scores.qc["camera_roll_deg"]) < 15 and oo["asymmetry_pp"] is not None and oo["grade"] in (0, None)
