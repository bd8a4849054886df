"""Tests of the ground-truth video generator (synkan.synth), on real renders."""
from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from synkan.errors import InputError
from synkan.synth import Action, Case, narrow_case, render_case, standard_case, synth_main, truth_signals

_SHARED_MODEL = Path(__file__).resolve().parents[2] / "shared" / "models" / "face_landmarker.task"
if "SYNKAN_MODEL" not in os.environ and _SHARED_MODEL.exists():
    os.environ["SYNKAN_MODEL"] = str(_SHARED_MODEL)

EYE_R = (33, 160, 158, 133, 153, 144)
EYE_L = (362, 385, 387, 263, 373, 380)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _short_case(name: str = "short", seed: int = 7) -> Case:
    return Case(name=name, duration_s=2.0, fps=30.0, seed=seed, size=256, affected_side="left",
                k_oo=0.5, k_ocul=0.4, duchenne=0.1,
                timeline=(Action("smile", 0.3, 1.2), Action("blink", 1.4, 1.65)))


@pytest.fixture(scope="module")
def short_render(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    case = _short_case()
    return case, render_case(case, out)


def _ear(p: np.ndarray, idx: tuple[int, ...]) -> float:
    p0, p1, p2, p3, p4, p5 = (p[i] for i in idx)
    return (np.linalg.norm(p1 - p5) + np.linalg.norm(p2 - p4)) / (2 * np.linalg.norm(p0 - p3))


def _measure_ears(video: Path) -> np.ndarray:
    """MediaPipe EAR (right, left) per frame of a video, (n, 2)."""
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from synkan.measure.models import resolve_model

    opts = vision.FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(resolve_model(download=False))),
                                        running_mode=vision.RunningMode.IMAGE)
    cap = cv2.VideoCapture(str(video))
    out = []
    with vision.FaceLandmarker.create_from_options(opts) as lmk:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            rgb = np.ascontiguousarray(frame[:, :, ::-1])
            res = lmk.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            p = np.array([[q.x * frame.shape[1], q.y * frame.shape[0]] for q in res.face_landmarks[0]])
            out.append((_ear(p, EYE_R), _ear(p, EYE_L)))
    cap.release()
    return np.array(out)


def test_outputs_and_frame_count(short_render):
    case, paths = short_render
    assert set(paths) == {"video", "json", "gt_csv"}
    assert all(p.exists() and p.stat().st_size > 0 for p in paths.values())
    cap = cv2.VideoCapture(str(paths["video"]))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == case.n_frames == 60
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(30.0)
    n, stamps = 0, []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        stamps.append(cap.get(cv2.CAP_PROP_POS_MSEC))
        assert frame.shape == (256, 256, 3)
        n += 1
    assert n == 60
    # Decoder timestamps are evenly spaced at 1/fps.
    assert np.allclose(np.diff(stamps), 1000 / 30, atol=1.0)


def test_truth_json(short_render):
    case, paths = short_render
    data = json.loads(paths["json"].read_text())
    assert Case.from_dict(data["case"]) == case
    assert data["truth"] == {"affected_side": "left", "k_oo": 0.5, "k_ocul": 0.4, "lag_s": 0.0, "duchenne": 0.1}
    assert [(e["kind"], e["start_s"], e["end_s"]) for e in data["events"]] == [("smile", 0.3, 1.2), ("blink", 1.4, 1.65)]
    assert "synkan_version" in data


def test_gt_csv_matches_timeline(short_render):
    case, paths = short_render
    with paths["gt_csv"].open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["frame", "t_s", "eye_closure_r", "eye_closure_l", "smile_r", "smile_l", "pucker"]
    assert len(rows) == 60
    col = {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}
    assert np.allclose(col["t_s"], np.arange(60) / 30)
    t = col["t_s"]
    # Rest before the first action.
    assert np.all(col["smile_r"][t < 0.3] == 0) and np.all(col["eye_closure_l"][t < 0.3] == 0)
    mid_smile = (t > 0.5) & (t < 1.0)
    assert np.allclose(col["smile_r"][mid_smile], 1.0) and np.allclose(col["smile_l"][mid_smile], 1.0)
    # Duchenne 0.1 on both eyes; oral-ocular 0.5 more on the affected (left) eye.
    assert np.allclose(col["eye_closure_r"][mid_smile], 0.1)
    assert np.allclose(col["eye_closure_l"][mid_smile], 0.6)
    # The blink peaks at 1.525 s: both eyes (nearly) closed, and ocular-oral
    # lifts only the left mouth corner, by about k_ocul.
    blink = np.argmin(np.abs(t - 1.525))
    assert col["eye_closure_r"][blink] > 0.95 and col["eye_closure_l"][blink] > 0.95
    assert col["smile_r"][blink] == 0 and col["smile_l"][blink] == pytest.approx(0.4, abs=0.03)
    assert np.all(col["pucker"] == 0)


def test_lag_shifts_only_the_synkinetic_response():
    case = Case(name="lag", duration_s=3.0, fps=30.0, affected_side="right", k_oo=0.5, lag_s=0.1,
                timeline=(Action("smile", 0.5, 2.0),))
    tr = truth_signals(case)
    onset_smile = np.argmax(tr.smile_r > 0)
    onset_eye = np.argmax(tr.eye_closure_r > 0)
    assert onset_eye - onset_smile == 3  # 0.1 s at 30 fps
    assert np.all(tr.eye_closure_l == 0)


def test_deterministic(short_render, tmp_path):
    case, paths = short_render
    again = render_case(case, tmp_path)
    for key in paths:
        assert _sha(paths[key]) == _sha(again[key]), key
    other = render_case(_short_case(name="other_seed", seed=8), tmp_path)
    assert _sha(other["video"]) != _sha(paths["video"])


def test_one_sided_narrowing_reads_on_the_subjects_side(tmp_path):
    """A left narrowing (subject's left = image right) must lower the 362..263 eye's EAR."""
    case = narrow_case("narrow_left", side="left", amplitude=0.6, duration_s=1.6, size=256)  # 0.5..1.1 s
    paths = render_case(case, tmp_path)
    ears = _measure_ears(paths["video"])
    t = np.arange(len(ears)) / case.fps
    rest, held = ears[t < 0.45].mean(0), ears[(t > 0.7) & (t < 0.95)].mean(0)
    drop = 1 - held / rest  # per-side closure as MediaPipe sees it
    # MediaPipe's symmetric prior shrinks a one-sided narrowing and leaks part
    # of it to the other eye, so only the ordering and a floor are asserted.
    assert drop[1] > 0.15, drop
    assert drop[1] > 1.5 * drop[0], drop


def test_standard_case_protocol():
    case = standard_case("s", "both", side="right", k_oo=0.3, k_ocul=0.2)
    kinds = [a.kind for a in case.timeline]
    assert kinds.count("smile") >= 2 and "blink" in kinds and "close" in kinds
    acts = sorted(case.timeline, key=lambda a: a.start_s)
    assert acts[0].start_s >= 1.0
    assert all(b.start_s - a.end_s >= 0.7 - 1e-9 for a, b in zip(acts, acts[1:]))
    assert acts[-1].end_s <= case.duration_s - 0.7 + 1e-9
    assert case.affected_side == "right" and case.k_oo == 0.3 and case.k_ocul == 0.2
    control = standard_case("c", "control")
    assert control.affected_side is None and control.k_oo == 0 and control.k_ocul == 0


def test_case_json_round_trip(tmp_path):
    case = standard_case("rt", "oral_ocular", side="left", lag_s=0.1)
    path = tmp_path / "rt.json"
    case.to_json(path)
    assert Case.from_json(path) == case


@pytest.mark.parametrize("content, message", [
    (None, "cannot read"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"name": "x"}', "missing keys"),
    ('{"name": "x", "duration_s": 2, "colour": 1}', "unknown keys"),
    ('{"name": "x", "duration_s": -1}', "duration_s"),
    ('{"name": "x", "duration_s": 2, "k_oo": 0.5}', "affected_side"),
    ('{"name": "x", "duration_s": 2, "affected_side": "middle"}', "affected_side"),
    ('{"name": "../x", "duration_s": 2}', "name"),
    ('{"name": "x", "duration_s": 2, "timeline": [{"kind": "frown", "start_s": 0, "end_s": 1}]}', "kind"),
    ('{"name": "x", "duration_s": 2, "timeline": [{"kind": "smile", "start_s": 1, "end_s": 3}]}', "after"),
    ('{"name": "x", "duration_s": 2, "timeline": [{"kind": "blink", "start_s": 1, "end_s": 0.5}]}', "start_s"),
])
def test_bad_case_files_raise_input_error(tmp_path, content, message):
    path = tmp_path / "case.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=message) as info:
        synth_main([str(path)], str(tmp_path / "out"))
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_duplicate_case_names_rejected(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    _short_case("same").to_json(a)
    _short_case("same").to_json(b)
    with pytest.raises(InputError, match="name"):
        synth_main([str(a), str(b)], str(tmp_path / "out"))
