"""Real-face ground truth (``synkan synth --from-video``), on a real healthy video with the real model.

The outputs are compared with a ``k_oo=0, k_ocul=0`` render of the same
video, which has the same codec round trip (OpenCV's mp4v writer shifts
every pixel by about 2 grey levels), so any remaining difference is what
was added.
"""
from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import shared_video

import synkan
from synkan.cli import main
from synkan.config import Settings
from synkan.grade.events import events_process
from synkan.synth import synth_from_video
from synkan.synth.drivers import drivers_from_landmarks
from synkan.synth.from_video import LIFT_ANGLE_DEG
from synkan.synth.warps import MARGIN_OFFSET_EW, gaussian_lift_source, lid_source_v

PLAIN = Settings(laterality="plain")

K_OO = 0.6
EYE_BROW = {"right": (33, 133, 246, 161, 160, 159, 158, 157, 173, 7, 163, 144, 145, 153, 154, 155, 70, 63, 105, 66, 107),
            "left": (263, 362, 466, 388, 387, 386, 385, 384, 398, 249, 390, 373, 374, 380, 381, 382, 300, 293, 334, 296, 336)}
MOUTH_CORNER_R = 61
CODEC_MARGIN_PX = 16  # mp4v macroblocks next to a changed box may change too


def _frames(path) -> np.ndarray:
    """All frames of a video as grey levels, (N, H, W) float."""
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(float))
    cap.release()
    return np.array(out)


def _box_mask(shape, points: np.ndarray, pad_px: float) -> np.ndarray:
    """Boolean mask of the box around ``points`` (any number of frames' landmarks) padded by ``pad_px``."""
    x0, y0 = np.floor(np.nanmin(points, axis=0) - pad_px).astype(int)
    x1, y1 = np.ceil(np.nanmax(points, axis=0) + pad_px).astype(int)
    mask = np.zeros(shape, bool)
    mask[max(y0, 0):y1, max(x0, 0):x1] = True
    return mask


@pytest.fixture(scope="module")
def source(real_video, model_path):
    track = synkan.track_video(real_video, PLAIN, model_path=model_path)
    return track, synkan.signals_process(track, PLAIN), _frames(real_video)


@pytest.fixture(scope="module")
def renders(real_video, model_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("from_video")
    return {"control": synth_from_video(real_video, out, "right", model=model_path),
            "oo": synth_from_video(real_video, out, "right", k_oo=K_OO, model=model_path),
            "ocul": synth_from_video(real_video, out, "right", k_ocul=1.0, name="ocul", model=model_path)}


@pytest.fixture(scope="module")
def frames(renders):
    return {kind: _frames(paths["video"]) for kind, paths in renders.items()}


@pytest.fixture(scope="module")
def truth(renders):
    return pd.read_csv(renders["oo"]["gt_csv"])


def _eye_box(source, side: str, width: float) -> np.ndarray:
    track, _, grey = source
    pts = track.landmarks[:, list(EYE_BROW[side]), :2].reshape(-1, 2)
    eye_width = np.nanmedian(np.linalg.norm(track.landmarks[:, 33, :2] - track.landmarks[:, 133, :2], axis=1))
    return _box_mask(grey.shape[1:], pts, width * eye_width)


def test_same_frames_size_and_case(renders, frames, source, real_video):
    track, _, grey = source
    for kind in renders:
        assert frames[kind].shape == grey.shape
        # Same frames in the same order: only the codec's few grey levels apart.
        assert np.abs(frames[kind] - grey).mean(axis=(1, 2)).max() < 4.0
    case = json.loads(renders["oo"]["json"].read_text())
    assert case["schema"] == "synkan.synth_from_video/2"
    assert case["frames"] == len(grey) and case["fps"] == pytest.approx(30.0)
    assert case["source"]["path"] == str(real_video) and len(case["source"]["sha256"]) == 64
    assert case["truth"] == {"affected_side": "right", "kind": "oral_ocular", "k_oo": K_OO, "k_ocul": 0.0, "k_chin": 0.0,
                             "driver_oo": "smile", "driver_ocul": "blink", "corner_lift_mm": 0.0}
    assert case["drivers"]["module"] == "synkan.synth.drivers" and case["drivers"]["events"]["smile"] == 1
    assert renders["oo"]["video"].name == "cosanlab_single_face_right_oo0.6_ocul0.mp4"


def test_only_the_target_eye_changes(frames, source, truth):
    diff = np.abs(frames["oo"] - frames["control"])
    target = _eye_box(source, "right", 0.5)
    target_padded = _box_mask(target.shape, np.argwhere(target)[:, ::-1], CODEC_MARGIN_PX)
    other = _eye_box(source, "left", 0.3) & ~target_padded
    assert diff[:, ~target_padded].mean(axis=1).max() < 1.5
    assert diff[:, other].mean(axis=1).max() < 1.5
    track, _, _ = source
    eye = lambda k: _box_mask(target.shape, track.landmarks[k, list(EYE_BROW["right"][:16]), :2], 2.0)  # noqa: E731
    peak = int(truth["smile_norm"].idxmax())
    rest = np.flatnonzero(truth["smile_norm"] < 0.03)
    assert len(rest) >= 5
    # Near rest the person's mouth still moves a little (smile_norm ~0.03): a
    # sub-pixel lid shift, an order of magnitude below the peak's change.
    assert diff[peak][eye(peak)].mean() > 10.0
    assert max(diff[k][eye(k)].mean() for k in rest) < 3.0


def test_truth_table(truth, source):
    track, _, _ = source
    drv = drivers_from_landmarks(track.t_s, track.landmarks, track.valid)
    assert truth["valid"].all() and truth["smile_norm"].max() == pytest.approx(1.0)
    assert np.allclose(truth["driver_oo"], drv.smile, atol=1e-5)
    peak = int(truth["added_closure_r"].idxmax())
    # The opening below the lash margin, as a share of the rest opening.
    aperture = drv.opening_r[peak] - MARGIN_OFFSET_EW / drv.info["ear_rest_r"]
    assert truth["added_closure_r"][peak] == pytest.approx(K_OO * truth["smile_norm"][peak] * aperture, abs=1e-4)
    assert (truth[["added_closure_l", "corner_lift_r", "corner_lift_l", "corner_lift_mm_r"]] == 0).all().all()


def test_mesh_sees_the_narrowing(renders, truth):
    def plain(path):
        sig = synkan.signals_process(synkan.track_video(path, PLAIN), PLAIN)
        return sig["eye_closure_plain_r"], sig["eye_closure_plain_l"]

    (oo_r, oo_l), (ctl_r, ctl_l) = plain(renders["oo"]["video"]), plain(renders["control"]["video"])
    smiling = (truth["smile_norm"] > 0.5).to_numpy()
    rise_r, rise_l = np.nanmean((oo_r - ctl_r)[smiling]), np.nanmean((oo_l - ctl_l)[smiling])
    # The plain mesh under-reads a one-sided narrowing and leaks part of it to the other eye.
    assert rise_r > 0.08
    assert rise_r > rise_l + 0.04


def test_ocular_oral_moves_the_mouth_corner_with_the_blink(renders, frames, source):
    track, _, _ = source
    gt = pd.read_csv(renders["ocul"]["gt_csv"])
    blink = int(gt["eye_closure_own"].idxmax())
    # k_ocul = 1: 5 mm up and out at a full closure, the lift's upward part in IOD beside it.
    assert gt["corner_lift_mm_r"][blink] == pytest.approx(5.0 * gt["driver_ocul"][blink], abs=1e-4)
    assert gt["driver_ocul"][blink] > 0.5 and (gt["corner_lift_l"] == 0).all()
    case = json.loads(renders["ocul"]["json"].read_text())
    iod_mm = case["mm_per_iod"]
    assert 50 < iod_mm < 80  # an adult's inter-ocular distance, through the iris
    up_iod = gt["corner_lift_mm_r"][blink] / iod_mm * np.sin(np.radians(LIFT_ANGLE_DEG))
    assert gt["corner_lift_r"][blink] == pytest.approx(up_iod, abs=1e-4)
    assert case["truth"]["driver_ocul"] == "blink" and case["truth"]["corner_lift_mm"] == 5.0
    iod = np.linalg.norm(track.landmarks[blink, 33, :2] - track.landmarks[blink, 263, :2])
    mouth = _box_mask(frames["ocul"].shape[1:], track.landmarks[blink, [MOUTH_CORNER_R], :2], 0.3 * iod)
    diff = np.abs(frames["ocul"] - frames["control"])
    assert diff[blink][mouth].mean() > 2.0
    assert diff[blink][_eye_box(source, "right", 0.3)].mean() < 1.5


@pytest.mark.parametrize("argv, message", [
    (["--from-video", "/no/such/video.mp4", "--side", "right", "--k-oo", "0.5"], "no such file"),
    (["--from-video", "VIDEO", "--side", "up", "--k-oo", "0.5"], "side must be 'right' or 'left'"),
    (["--from-video", "VIDEO", "--side", "left", "--k-oo", "2"], "k_oo must be a number from 0 to 1"),
    (["--side", "right"], "--side needs --from-video"),
    ([], "give case file(s), or --from-video"),
    (["--from-video", "VIDEO", "--side", "left", "--k-oo", "0.5", "--driver", "blink"], "--driver blink does not fit --k-oo"),
    (["--from-video", "VIDEO", "--side", "left", "--driver", "smile"], "--driver needs --k-oo or --k-ocul"),
    (["--driver", "smile"], "--driver needs --from-video"),
])
def test_cli_errors_are_one_line(argv, message, real_video, tmp_path, capfd):
    argv = [str(real_video) if a == "VIDEO" else a for a in argv]
    assert main(["synth", *argv, "-o", str(tmp_path / "out")]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("rigid", [0.0, 4.0])
def test_lid_inverse_is_exact(rigid):
    brow, margin, drop = np.array(-20.0), np.array(0.0), np.array(3.0)
    v_src = np.linspace(-30.0, -0.01, 50)
    w = np.clip((v_src - brow) / (margin - rigid - brow), 0.0, 1.0)  # 1 over the rigid band
    v_out = v_src + drop * w
    assert np.allclose(lid_source_v(v_out, brow, margin, drop, rigid), v_src)


def test_corner_warp_inverse_converges():
    center, lift, sigma = np.array([50.0, 40.0]), np.array([-4.0, -6.0]), 15.0
    sx, sy = np.meshgrid(np.linspace(0, 100, 21), np.linspace(0, 80, 17))
    w = np.exp(-((sx - center[0]) ** 2 + (sy - center[1]) ** 2) / (2 * sigma ** 2))
    x, y = sx + lift[0] * w, sy + lift[1] * w
    back_x, back_y = gaussian_lift_source(x, y, center, lift, sigma)
    assert np.abs(back_x - sx).max() < 0.01 and np.abs(back_y - sy).max() < 0.01


@pytest.fixture(scope="module")
def d10(model_path, tmp_path_factory):
    """A real face with "oo" puckers and smiles, narrowed on the left following each driver in turn."""
    video = shared_video("KwaiVGI_d10.mp4")
    track = synkan.track_video(video, PLAIN, model_path=model_path)
    out = tmp_path_factory.mktemp("d10")
    return track, {d: synth_from_video(video, out, "left", k_oo=K_OO, driver_oo=d, track=track) for d in ("smile", "pucker")}


def _during(t: np.ndarray, events) -> np.ndarray:
    inside = np.zeros(len(t), bool)
    for e in events.itertuples():
        inside |= (t >= e.start_s) & (t <= e.end_s)
    return inside


def test_added_narrowing_follows_smiles_not_puckers(d10):
    """Judged by the analysis's own smile and pucker events, which the generator never sees."""
    track, renders = d10
    events = events_process(synkan.signals_process(track, PLAIN))
    smiling, puckering = _during(track.t_s, events.of("smile")), _during(track.t_s, events.of("pucker"))
    assert smiling.sum() >= 15 and puckering.sum() >= 15
    by_smile = pd.read_csv(renders["smile"]["gt_csv"])["added_closure_l"].to_numpy()
    by_pucker = pd.read_csv(renders["pucker"]["gt_csv"])["added_closure_l"].to_numpy()
    only_smile, only_pucker = smiling & ~puckering, puckering & ~smiling
    # The analysis's smile events are long (any mouth excursion, speech included): a mean of 0.05 is
    # about a fifth of them at a full smile; its pucker events must get almost none of it.
    assert np.mean(by_smile[only_smile]) > 0.05 and np.mean(by_smile[only_pucker]) < 0.2 * np.mean(by_smile[only_smile])
    assert np.mean(by_pucker[only_pucker]) > 0.1 and np.mean(by_pucker[only_smile]) < 0.2 * np.mean(by_pucker[only_pucker])
    for driver, paths in renders.items():
        case = json.loads(paths["json"].read_text())
        assert case["driver_oo"] == case["truth"]["driver_oo"] == driver and case["kind"] == "oral_ocular"
    assert renders["pucker"]["video"].name == "KwaiVGI_d10_left_oo0.6_ocul0_pucker.mp4"
