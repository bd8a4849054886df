"""Laterality: eye-band hemiface mirroring (synkan.measure.mirror), its gates, and its accuracy on synth
cases."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from synkan.config import MIRROR_MAX_GAZE_EW
from synkan.measure import mirror
from synkan.measure.mesh import BROW_L, BROW_R, EYE_L, EYE_R, IRIS_L, IRIS_R, MIDLINE_POINTS

N = 478


def _face(angle_deg: float = 8.0, center=(250.0, 260.0), ew: float = 40.0) -> np.ndarray:
    """Landmarks of a schematic face whose midline is tilted by ``angle_deg`` about ``center``."""
    a = np.radians(angle_deg)
    down = np.array([np.sin(a), np.cos(a)])  # unit vector down the face (image y points down)
    right = np.array([down[1], -down[0]])  # towards image-right
    c = np.asarray(center)
    at = lambda s, t: c + s * down + t * right  # noqa: E731
    xy = np.tile(at(0.0, 0.0), (N, 1))
    for k, i in enumerate(MIDLINE_POINTS):
        xy[i] = at(-100 + 200 * k / (len(MIDLINE_POINTS) - 1), 0.0)
    xy[195] = at(40.0, 0.0)
    for eye, sign in ((EYE_R, -1), (EYE_L, 1)):  # subject's right eye is image-left
        cx = sign * 1.5 * ew
        p = {0: (-ew / 2, 0), 1: (-ew / 6, -ew / 6), 2: (ew / 6, -ew / 6), 3: (ew / 2, 0), 4: (ew / 6, ew / 6), 5: (-ew / 6, ew / 6)}
        for j, (dt, ds) in p.items():
            xy[eye[j]] = at(ds, cx + dt)
        xy[IRIS_R if sign < 0 else IRIS_L] = at(0.0, cx)
    for brow, sign in ((BROW_R, -1), (BROW_L, 1)):
        for k, i in enumerate(brow):
            xy[i] = at(-0.8 * ew, sign * (0.8 * ew + 0.3 * ew * k))
    # Spread a face outline so the composite knows how far the face reaches.
    xy[234], xy[454] = at(0.0, -3.5 * ew), at(0.0, 3.5 * ew)
    return xy


def _image(h: int = 512, w: int = 512) -> np.ndarray:
    """A smooth, strongly asymmetric RGB image (so reflections are easy to verify)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / 37.0) * np.cos(y / 53.0)
    g = 40 + 0.4 * x
    b = 60 + 0.3 * y + 30 * np.sin((x + 2 * y) / 41.0)
    return np.clip(np.dstack([r, g, b]), 0, 255).astype(np.uint8)


def _bilinear(img: np.ndarray, q: np.ndarray) -> np.ndarray:
    x0, y0 = int(np.floor(q[0])), int(np.floor(q[1]))
    fx, fy = q[0] - x0, q[1] - y0
    c = img[y0:y0 + 2, x0:x0 + 2].astype(float)
    return (c[0, 0] * (1 - fx) * (1 - fy) + c[0, 1] * fx * (1 - fy) + c[1, 0] * (1 - fx) * fy + c[1, 1] * fx * fy)


def test_fit_midline_recovers_a_tilted_line():
    xy = _face(angle_deg=8.0)
    m = mirror.fit_midline(xy)
    a = np.radians(8.0)
    assert np.allclose(m.direction, [np.sin(a), np.cos(a)], atol=1e-9)
    assert m.residual < 1e-9
    assert m.eye_width_px == pytest.approx(40.0)


def test_reflection_matrix_is_an_involution_fixing_the_midline():
    m = mirror.fit_midline(_face(angle_deg=-12.0))
    r = mirror.reflection_matrix(m)
    h = np.vstack([r, [0, 0, 1]])
    assert np.allclose(h @ h, np.eye(3), atol=1e-12)
    on_line = m.point + 37.0 * m.direction
    assert np.allclose(r @ np.r_[on_line, 1.0], on_line)
    off = m.point + 20.0 * np.array([m.direction[1], -m.direction[0]])
    assert np.allclose(r @ np.r_[off, 1.0], m.point - 20.0 * np.array([m.direction[1], -m.direction[0]]))


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("angle", [0.0, 8.0, -15.0])
def test_eye_band_composite_reflects_only_the_other_half_of_the_band(side, angle):
    xy, img = _face(angle_deg=angle), _image()
    m = mirror.fit_midline(xy)
    out = mirror.eye_band_composite(img, xy, m, side)
    d = m.direction
    right = np.array([d[1], -d[0]])
    ew = m.eye_width_px
    r = mirror.reflection_matrix(m)
    replaced = 1.0 if side == "right" else -1.0  # "right" keeps the subject's right (image-left) half
    # Inside the band, well clear of its edges and of the midline: the replaced
    # half shows the reflection of the kept half; the kept half is untouched.
    for s in np.linspace(-0.9 * ew, 0.6 * ew, 7):  # band: brows - 0.4 ew .. nose floor (~0.9 ew), fades 0.25 ew
        for t in np.linspace(0.3 * ew, 2.5 * ew, 6):
            p = np.round(m.point + s * d + replaced * t * right)
            got = out[int(p[1]), int(p[0])].astype(float)
            want = _bilinear(img, r @ np.r_[p, 1.0])
            assert np.abs(got - want).max() <= 2, (s, t, got, want)
            kept = m.point + s * d - replaced * t * right
            ky, kx = int(round(kept[1])), int(round(kept[0]))
            assert np.array_equal(out[ky, kx], img[ky, kx])
    # Outside the band (above the brows' margin, below the nose floor) nothing changes.
    for s in (-4.0 * ew, 4.0 * ew):
        for t in (-2 * ew, 2 * ew):
            p = np.round(m.point + s * d + t * right).astype(int)
            assert np.array_equal(out[p[1], p[0]], img[p[1], p[0]])
    assert out.shape == img.shape and out.dtype == np.uint8


def test_symmetric_image_is_a_fixed_point():
    """A face symmetric about the midline composites to itself (no false asymmetry from the method)."""
    xy = _face(angle_deg=0.0, center=(256.0, 256.0))
    img = _image()
    img = np.ascontiguousarray(np.concatenate([img[:, :256], img[:, :256][:, ::-1]], axis=1))
    m = dataclasses.replace(mirror.fit_midline(xy), point=np.array([255.5, 256.0]))
    for side in ("right", "left"):
        out = mirror.eye_band_composite(img, xy, m, side)
        assert np.abs(out.astype(int) - img.astype(int)).max() <= 1


def test_gaze_offset():
    xy = _face(angle_deg=10.0)
    assert np.allclose(mirror.gaze_offset(xy), 0.0, atol=1e-12)
    m = mirror.fit_midline(xy)
    right = np.array([m.direction[1], -m.direction[0]])
    xy[IRIS_R] += 0.1 * 40.0 * right  # both irises look 0.1 eye widths towards image-right
    xy[IRIS_L] += 0.1 * 40.0 * right
    assert np.allclose(mirror.gaze_offset(xy), [0.1, 0.1])
    assert mirror.gaze_offset(np.stack([xy, xy])).shape == (2, 2)


class _FakeLandmarker:
    def __init__(self):
        self.frames = []

    def detect(self, rgb, t_s):
        self.frames.append(rgb)

        class _R:
            face_landmarks = []

        return _R()

    def detect_arrays(self, rgb, t_s):
        from synkan.measure.landmarker import FaceArrays

        self.frames.append(rgb)
        return FaceArrays([], [], [], ())


def test_yaw_gate_feeds_the_raw_frame_and_marks_composites_invalid():
    from synkan.measure.mirror import landmark_composites

    xy = _face()
    img = _image()
    frame = type("F", (), {"rgb": img, "t_s": 0.0, "scale": 1.0})()
    face = np.c_[xy / 512.0, np.zeros(N)].astype(np.float32)
    yaw = np.radians(30.0)
    matrix = np.eye(4, dtype=np.float32)
    matrix[:3, :3] = [[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]]
    fakes = [_FakeLandmarker(), _FakeLandmarker()]
    eyes, ok, _ = landmark_composites(frame, face, matrix, fakes, face[:, :2].mean(axis=0))
    assert ok == (False, False) and np.isnan(eyes).all()
    assert all(len(f.frames) == 1 and f.frames[0] is img for f in fakes)  # kept in step, raw frame
    fakes = [_FakeLandmarker(), _FakeLandmarker()]
    landmark_composites(frame, face, np.eye(4, dtype=np.float32), fakes, face[:, :2].mean(axis=0))
    assert all(len(f.frames) == 1 and f.frames[0] is not img for f in fakes)  # frontal: composites


# --- real MediaPipe on short generated clips ---------------------------------------

DURATION_S = 1.8


@pytest.fixture(scope="module")
def measured(tmp_path_factory, model_path):
    from synkan.validation.synthetic import laterality_table

    out = tmp_path_factory.mktemp("laterality")
    table = laterality_table(out, sizes=(0.35, 0.5, 0.7), symmetric=(), controls=(0, 1), duration_s=DURATION_S)
    return out, table


def test_mirror_separates_every_one_sided_case_from_every_control(measured):
    _, table = measured
    mir = table[table["mode"] == "mirror"]
    one = mir[mir.kind == "one-sided"]
    ctrl = mir[mir.kind == "control"]
    assert len(one) == 6 and len(ctrl) == 2
    assert one.abs_r_minus_l.min() > ctrl.abs_r_minus_l.max() + 0.05, mir.to_string()
    assert ctrl.abs_r_minus_l.max() <= 0.05
    # The affected side reads larger, on both sides.
    assert ((one.true_r > 0) == (one.read_r > one.read_l)).all()
    assert (one.mirror_fraction > 0.9).all()  # no gate fired on a frontal, still-gazing face


def test_pixel_lids_separate_one_sided_cases_and_recover_more_than_the_mesh(measured):
    _, table = measured
    pix = table[table["mode"] == "pixel"]
    one, ctrl = pix[pix.kind == "one-sided"], pix[pix.kind == "control"]
    assert one.abs_r_minus_l.min() > ctrl.abs_r_minus_l.max() + 0.05, pix.to_string()
    assert ((one.true_r > 0) == (one.read_r > one.read_l)).all()
    wide = table[table.kind == "one-sided"].pivot(index="case", columns="mode", values="recovered")
    assert (wide["pixel"] > wide["plain"]).all(), wide.to_string()
    leak = table[table.kind == "one-sided"].pivot(index="case", columns="mode", values="leakage")
    assert (leak["pixel"].abs() < leak["plain"]).all(), leak.to_string()


def test_mirror_leaks_less_than_plain(measured):
    _, table = measured
    one = table[table.kind == "one-sided"].pivot(index="case", columns="mode", values="leakage")
    assert (one["mirror"] < one["plain"]).all(), one.to_string()


def test_gaze_gate_falls_back_to_plain(measured):
    from synkan.config import Settings
    from synkan.measure.signals import signals_process
    from synkan.measure.tracking import Track

    out, _ = measured
    tr = Track.load(out / "narrow_left_0.50.track.npz")
    lm = tr.landmarks.copy()
    frames = np.arange(len(tr)) % 3 == 0
    width = np.linalg.norm(lm[:, EYE_L[0], :2] - lm[:, EYE_L[3], :2], axis=1)
    for iris in (IRIS_R, IRIS_L):  # both eyes look sideways (conjugate gaze)
        lm[frames, iris, 0] += 2.0 * MIRROR_MAX_GAZE_EW * width[frames]
    sig = signals_process(dataclasses.replace(tr, landmarks=lm), Settings(laterality="mirror"), rest_s=(0.0, 0.45))
    used = sig.data["mirror_used"].to_numpy()
    assert not used[frames].any() and used[~frames].mean() > 0.9
    assert sig.info["mirror_gate"]["gaze"] == int(frames.sum())
    assert abs(sig.data["gaze_dev_l"].to_numpy()[frames].mean() - 2 * MIRROR_MAX_GAZE_EW) < 0.02
    plain = signals_process(tr, Settings(laterality="plain"), rest_s=(0.0, 0.45))
    assert not plain.data["mirror_used"].any()
    assert np.allclose(plain["eye_closure_r"], plain["eye_closure_plain_r"], equal_nan=True)
