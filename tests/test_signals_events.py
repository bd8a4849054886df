"""Known-answer tests for signal geometry, cleaning, rest estimation and events."""
import numpy as np
import pytest
from conftest import make_signals, pulses

from synkan.errors import InputError
from synkan.grade.events import events_find, events_process, parse_segments
from synkan.grade.series import hysteresis_runs
from synkan.measure.align import euler_deg, similarity_align
from synkan.measure.clean import fill_gaps, lowpass
from synkan.measure.mesh import eye_aspect_ratio
from synkan.measure.rest import rest_frames

FS = 30.0
T = np.arange(0, 20, 1 / FS)


def _rotation(yaw_deg, roll_deg):
    y, r = np.radians(yaw_deg), np.radians(roll_deg)
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry


def test_similarity_align_removes_pose_and_scale():
    rng = np.random.default_rng(1)
    reference = rng.normal(0, 50, (478, 3))
    moved = np.stack([1.7 * reference @ _rotation(12, -8).T + [30, -5, 2], reference])
    aligned, rotation = similarity_align(moved, reference)
    np.testing.assert_allclose(aligned, np.stack([reference, reference]), atol=1e-6)
    yaw, pitch, roll = euler_deg(rotation)
    assert abs(yaw[0]) == pytest.approx(12, abs=0.5) and abs(roll[0]) == pytest.approx(8, abs=0.5)
    assert abs(yaw[1]) < 1e-6


def test_ear_known_shape_and_scale_free():
    eye = np.array([[0, 0], [1, -1], [2, -1], [3, 0], [2, 1], [1, 1]], float)
    assert eye_aspect_ratio(eye) == pytest.approx(2 / 3)
    assert eye_aspect_ratio(5 * eye + 7) == pytest.approx(2 / 3)


def test_fill_gaps_short_only():
    x = np.sin(T)
    y = x.copy()
    y[30:35] = np.nan  # 5 frames = 0.17 s: filled
    y[100:130] = np.nan  # 1 s: stays NaN
    filled = fill_gaps(T, y, 0.25)
    assert np.isfinite(filled[30:35]).all() and np.allclose(filled[30:35], x[30:35], atol=0.01)
    assert np.isnan(filled[100:130]).all()


def test_lowpass_zero_phase_and_noise_reduction():
    rng = np.random.default_rng(0)
    clean = pulses(T, [5], 2.0, amplitude=1.0, ramp_s=0.4)
    noisy = clean + rng.normal(0, 0.05, T.size)
    smooth = lowpass(T, noisy, 6.0)
    # 6 Hz of a 15 Hz band keeps ~40% of white-noise power (std ~0.63)
    assert np.std(smooth - clean) < 0.7 * np.std(noisy - clean)
    assert abs(T[np.argmax(np.gradient(smooth))] - T[np.argmax(np.gradient(clean))]) <= 2 / FS  # no phase shift


def test_rest_frames_when_smiling_most_of_the_time():
    smiling = pulses(T, [1, 7, 13], 5.0, amplitude=1.0) > 0.5  # ~75% of the video smiling
    rng = np.random.default_rng(2)
    ear = 0.30 - 0.06 * smiling + rng.normal(0, 0.003, T.size)
    width = 100 + 25 * smiling + rng.normal(0, 0.5, T.size)
    elevation = -50 + 8 * smiling + rng.normal(0, 0.3, T.size)
    rest = rest_frames(np.column_stack([ear, ear, width, elevation]), np.ones(T.size, bool))
    assert rest.sum() > 0 and not smiling[rest].any()


def test_hysteresis_does_not_split_noisy_event():
    x = np.r_[np.zeros(10), 0.6, 0.45, 0.3, 0.55, 0.6, np.zeros(10)]
    assert hysteresis_runs(x, 0.5, 0.25) == [(10, 15)]


def test_blinks_closures_smiles_puckers_found_with_timing():
    blinks = [2.0, 9.0]
    closures = [4.0]
    smiles = [12.0]
    puckers = [16.0]
    eye = pulses(T, blinks, 0.2, 0.9, ramp_s=0.08) + pulses(T, closures, 1.5, 0.9)
    smile = pulses(T, smiles, 1.5, 0.12)
    pucker = pulses(T, puckers, 1.2, 0.2)
    sig = make_signals(T, eye_closure_r=eye, eye_closure_l=eye, mouth_excursion_r=smile + 0.3 * pucker,
                       mouth_excursion_l=smile + 0.3 * pucker, mouth_narrowing=pucker - 0.3 * smile)
    table = events_find(sig).table
    assert list(table["kind"]) == ["blink", "eye_closure", "blink", "smile", "pucker"]
    truth = [(2.0, 2.2), (4.0, 5.5), (9.0, 9.2), (12.0, 13.5), (16.0, 17.2)]
    for row, (start, end) in zip(table.itertuples(), truth):
        assert abs(row.start_s - start) <= 0.15 and abs(row.end_s - end) <= 0.15


def test_still_face_has_no_events():
    rng = np.random.default_rng(3)
    sig = make_signals(T, eye_closure_r=rng.normal(0, 0.02, T.size), eye_closure_l=rng.normal(0, 0.02, T.size),
                       mouth_excursion_r=np.abs(rng.normal(0, 0.005, T.size)), mouth_excursion_l=np.abs(rng.normal(0, 0.005, T.size)))
    assert sum(events_find(sig).counts().values()) == 0


def test_segments_parse_and_override():
    assert parse_segments("smile:2.0-5.5, close:7-10") == [("smile", 2.0, 5.5), ("eye_closure", 7.0, 10.0)]
    smile = pulses(T, [3.0], 1.5, 0.12)
    sig = make_signals(T, mouth_excursion_r=smile, mouth_excursion_l=smile)
    ev = events_process(sig, "smile:2.5-5,pucker:10-11")
    assert list(ev.table["source"]) == ["user", "user"]
    assert list(ev.table["kind"]) == ["smile", "pucker"]


@pytest.mark.parametrize("bad", ["smile", "smile:5-2", "wink:1-2", "smile:a-b", "missing.csv"])
def test_bad_segments_one_line_error(bad):
    with pytest.raises(InputError) as err:
        parse_segments(bad)
    assert "\n" not in str(err.value)


def test_segments_from_csv_and_json(tmp_path):
    (tmp_path / "p.csv").write_text("kind,start_s,end_s\nsmile,1,2\nclose,3,4.5\n")
    (tmp_path / "p.json").write_text('[{"kind": "pucker", "start_s": 1, "end_s": 2}]')
    assert parse_segments(tmp_path / "p.csv") == [("smile", 1.0, 2.0), ("eye_closure", 3.0, 4.5)]
    assert parse_segments(str(tmp_path / "p.json")) == [("pucker", 1.0, 2.0)]


def test_closure_during_a_smile_is_its_response_not_a_voluntary_closure():
    smile = pulses(T, [2.0, 10.0], 2.0, 0.12)
    eye = (pulses(T, [2.6], 0.2, 0.9, ramp_s=0.08)  # a blink mid-smile: still a blink
           + pulses(T, [10.2], 1.2, 0.9)  # shut through most of the second smile: its response
           + pulses(T, [11.8], 2.0, 0.9))  # closed as the smile ends (< 10% overlap): voluntary
    sig = make_signals(T, eye_closure_r=eye, eye_closure_l=eye, mouth_excursion_r=smile, mouth_excursion_l=smile)
    table = events_find(sig).table
    assert list(table["kind"]) == ["smile", "blink", "smile", "eye_closure"]
    assert table.iloc[3].start_s == pytest.approx(11.8, abs=0.15)
