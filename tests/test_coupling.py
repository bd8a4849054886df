"""Known-answer tests for coupling and scoring on synthetic signals."""
import numpy as np
import pytest

from conftest import make_signals, pulses
from synkan.coupling import coupling_process, lagged_gain, normalized_xcorr, remove_blinks
from synkan.events import events_find
from synkan.scoring import eface_ocular_synkinesis, grade, score_direction

FS = 30.0
T = np.arange(0, 20, 1 / FS)


def _oral_ocular_case(side="left", gain=3.0, lag_s=0.1, seed=0):
    """Smiles drive one eye's closure with a known delay and gain; the other eye barely moves."""
    rng = np.random.default_rng(seed)
    smile = pulses(T, [2, 6, 10, 14], 1.5, amplitude=0.10)
    delayed = np.interp(T - lag_s, T, smile)
    affected = gain * delayed + rng.normal(0, 0.005, T.size)
    healthy = 0.3 * smile + rng.normal(0, 0.005, T.size)
    eyes = {"eye_closure_l": affected, "eye_closure_r": healthy} if side == "left" else {"eye_closure_r": affected, "eye_closure_l": healthy}
    return make_signals(T, mouth_excursion_r=smile, mouth_excursion_l=smile, mouth_narrowing=-0.5 * smile, **eyes)


@pytest.mark.parametrize("side", ["left", "right"])
def test_sine_driver_known_lag_gain_side(side):
    sig = _oral_ocular_case(side=side, gain=3.0, lag_s=0.1)
    ev = events_find(sig)
    assert ev.counts()["smile"] == 4
    c = coupling_process(sig, ev, "oral_ocular")
    aff = c.sides[side]
    assert aff.r > 0.95
    assert abs(aff.lag_s - 0.1) <= 1 / FS + 1e-9
    assert aff.gain == pytest.approx(3.0, rel=0.05)
    assert aff.involuntary_pct == pytest.approx(30.0, abs=2.0)
    assert aff.n_events == 4
    entry = score_direction(c)
    assert entry["affected_side"] == side
    assert entry["asymmetry_pp"] == pytest.approx(27.0, abs=2.5)
    assert entry["grade"] == 2  # 27 pp: moderate


def test_xcorr_pure_sine_lag_and_gain():
    x = np.sin(2 * np.pi * 0.5 * T)
    y = 2.0 * np.interp(T - 0.2, T, x)
    lags, r = normalized_xcorr(x, y, np.ones(T.size, bool), 15)
    k = int(lags[np.nanargmax(r)])
    assert k == 6  # 0.2 s at 30 fps
    assert np.nanmax(r) > 0.99
    assert lagged_gain(x, y, np.ones(T.size, bool), k) == pytest.approx(2.0, rel=0.02)


def test_blinks_removed_from_oral_ocular_responder():
    sig = _oral_ocular_case(side="left", gain=0.0)
    blink = pulses(T, [2.5, 6.5, 10.5, 14.5], 0.25, amplitude=0.9, ramp_s=0.08)
    data = sig.data.copy()
    data["eye_closure_r"] += blink
    data["eye_closure_l"] += blink
    from synkan.signals import Signals

    sig = Signals(data, sig.info)
    ev = events_find(sig)
    assert ev.counts()["blink"] == 4
    cleaned = remove_blinks(T, sig["eye_closure_r"], ev.of("blink"))
    assert np.nanmax(cleaned) < 0.1
    c = coupling_process(sig, ev, "oral_ocular")
    assert c.sides["right"].involuntary_pct == pytest.approx(3.0, abs=1.5)
    assert score_direction(c)["grade"] == 0


def test_ocular_oral_known_side():
    closure = pulses(T, [3, 8, 13], 1.2, amplitude=0.9)
    lift = 0.08 * closure
    sig = make_signals(T, eye_closure_r=closure, eye_closure_l=closure, mouth_excursion_r=lift)
    ev = events_find(sig)
    assert ev.counts()["eye_closure"] == 3
    entry = score_direction(coupling_process(sig, ev, "ocular_oral"))
    assert entry["affected_side"] == "right"
    assert entry["asymmetry_pp"] == pytest.approx(7.2, abs=1.0)
    assert entry["right"]["lag_s"] == pytest.approx(0.0, abs=1 / FS)


def test_no_driver_gives_null_with_reason_never_zero():
    sig = make_signals(T)  # a still face
    ev = events_find(sig)
    assert sum(ev.counts().values()) == 0
    c = coupling_process(sig, ev, "oral_ocular")
    assert c.reason == "no smile or pucker found"
    entry = score_direction(c)
    assert entry["grade"] is None and entry["asymmetry_pp"] is None and entry["right"]["r"] is None
    value, reason = eface_ocular_synkinesis(sig, ev, None)
    assert value is None and "no smile" in reason


def test_grade_thresholds_monotone():
    grades = [grade(a, 0.8) for a in (0, 7.9, 8, 14.9, 15, 29.9, 30, 60)]
    assert grades == [0, 0, 1, 1, 2, 2, 3, 3]
    assert grade(60, 0.1) == 0  # not time-locked
    assert grade(60, 0.9, lag_s=0.6) == 0


def test_eface_one_sided_narrowing():
    sig = _oral_ocular_case(side="left", gain=3.0, lag_s=0.0)
    ev = events_find(sig)
    value, reason = eface_ocular_synkinesis(sig, ev, "left")
    # aperture left 0.70 vs right 0.97 -> 72
    assert reason is None and value == pytest.approx(100 * 0.70 / 0.97, abs=3)
