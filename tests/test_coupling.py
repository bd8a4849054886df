"""Known-answer tests for coupling and scoring on synthetic signals."""
import warnings

import numpy as np
import pytest
from conftest import make_signals, pulses

from synkan.config import EYE_CLOSURE_MIN, MIN_LAG_PAIRS, SMILE_MIN_EXCURSION, SMILE_MIN_S
from synkan.grade.coupling import coupling_process, remove_blinks
from synkan.grade.events import events_find, events_process, eye_driver, mouth_driver
from synkan.grade.grades import eface_ocular_synkinesis, grade, grade_thresholds, score_direction
from synkan.grade.normative import NORMATIVE_SCHEMA
from synkan.grade.series import lagged_gain, normalized_xcorr

# A fixed healthy reference, so the expected grades do not move with the shipped one:
# oral-ocular limit 10 pp (grades at 10, 18, 26), ocular-oral 1.5 (1.5, 3, 6).
NORMATIVE = {"schema": NORMATIVE_SCHEMA, "movements": {
    "oral_ocular": {"all": {"limit": 10.0, "event_sd": 3.0, "people": 20}},
    "ocular_oral": {"all": {"limit": 1.5, "event_sd": 0.5, "people": 20}}}}


def judged(c, movement=None):
    """The direction entry of a coupling driven by one movement (smiles, or eye closures)."""
    kind = movement or ("smile" if c.direction == "oral_ocular" else "eye_closure")
    return score_direction(c.direction, {kind: c}, NORMATIVE)

FS = 30.0
T = np.arange(0, 20, 1 / FS)


def _oral_ocular_case(side="left", gain=3.0, lag_s=0.1, seed=0, healthy_gain=0.3):
    """Smiles drive one eye's closure with a known delay and gain; the other eye moves ``healthy_gain`` as
    much."""
    rng = np.random.default_rng(seed)
    smile = pulses(T, [2, 6, 10, 14], 1.5, amplitude=0.10)
    delayed = np.interp(T - lag_s, T, smile)
    affected = gain * delayed + rng.normal(0, 0.005, T.size)
    healthy = healthy_gain * smile + rng.normal(0, 0.005, T.size)
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
    entry = judged(c)
    assert entry["affected_side"] == side
    assert entry["asymmetry_pp"] == pytest.approx(27.0, abs=2.5)
    assert entry["grade"] == 3 and entry["conclusive"]  # 27 pp: severe (>= 26 pp from a 10 pp limit)
    assert entry["movement"] == "smile" and entry["detectable_pp"] < 5


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
    from synkan.measure.signals import Signals

    sig = Signals(data, sig.info)
    ev = events_find(sig)
    assert ev.counts()["blink"] == 4
    cleaned = remove_blinks(T, sig["eye_closure_r"], ev.of("blink"))
    assert np.nanmax(cleaned) < 0.1
    c = coupling_process(sig, ev, "oral_ocular")
    assert c.sides["right"].involuntary_pct == pytest.approx(3.0, abs=1.5)
    assert judged(c)["grade"] == 0


def test_ocular_oral_known_side():
    closure = pulses(T, [3, 8, 13], 1.2, amplitude=0.9)
    lift = 0.08 * closure
    sig = make_signals(T, eye_closure_r=closure, eye_closure_l=closure, mouth_excursion_r=lift, mouth_vertical_r=lift)
    ev = events_find(sig)
    assert ev.counts()["eye_closure"] == 3
    entry = judged(coupling_process(sig, ev, "ocular_oral"))
    assert entry["affected_side"] == "right"
    assert entry["asymmetry_pp"] == pytest.approx(7.2, abs=1.0)
    assert entry["right"]["lag_s"] == pytest.approx(0.0, abs=1 / FS)


def test_no_driver_gives_null_with_reason_never_zero():
    sig = make_signals(T)  # a still face
    ev = events_find(sig)
    assert sum(ev.counts().values()) == 0
    c = coupling_process(sig, ev, "oral_ocular")
    assert c.reason == "no smile or pucker found"
    entry = judged(c)
    assert entry["grade"] is None and entry["asymmetry_pp"] is None and entry["right"]["r"] is None
    value, reason = eface_ocular_synkinesis(sig, ev, None)
    assert value is None and "no smile" in reason


def test_grade_thresholds_monotone():
    assert grade_thresholds("oral_ocular", 10.0) == (10.0, 18.0, 26.0)
    grades = [grade(a, "oral_ocular", 10.0) for a in (10, 17.9, 18, 25.9, 26, 60)]
    assert grades == [1, 1, 2, 2, 3, 3]


def test_late_one_sided_movement_is_not_time_locked_synkinesis():
    # 30 pp on one side, but 0.45 s after each smile: beyond the physiological lag window.
    sig = _oral_ocular_case(side="left", gain=3.0, lag_s=0.45)
    entry = judged(coupling_process(sig, events_find(sig), "oral_ocular", lag_window_s=0.5))
    assert entry["verdict"] == "not time-locked" and entry["grade"] == 0


def test_eface_one_sided_narrowing():
    sig = _oral_ocular_case(side="left", gain=3.0, lag_s=0.0)
    ev = events_find(sig)
    value, reason = eface_ocular_synkinesis(sig, ev, "left")
    # aperture left 0.70 vs right 0.97 -> 72
    assert reason is None and value == pytest.approx(100 * 0.70 / 0.97, abs=3)


def _pearson_per_lag(x, y, window, max_lag):
    """Brute-force reference: np.corrcoef of each lag's own in-window finite pairs (NaN below
    MIN_LAG_PAIRS)."""
    n = len(x)
    r = []
    for k in range(-max_lag, max_lag + 1):
        idx = np.arange(max(0, -k), min(n, n - k))
        ok = window[idx] & window[idx + k] & np.isfinite(x[idx]) & np.isfinite(y[idx + k])
        r.append(np.corrcoef(x[idx][ok], y[idx + k][ok])[0, 1] if ok.sum() >= MIN_LAG_PAIRS else np.nan)
    return np.array(r)


def _random_case(rng):
    """Random smooth-ish signals with a random lag, random NaN gaps and a random patchy window."""
    n = int(rng.integers(40, 3000))  # long ones take scipy's FFT path
    x = np.cumsum(rng.normal(size=n)) * rng.uniform(0, 1) + rng.normal(size=n)
    y = rng.uniform(-3, 3) * np.roll(x, int(rng.integers(-20, 21))) + rng.normal(0, rng.uniform(0.01, 5), n) + rng.uniform(-50, 50)
    for s in (x, y):
        for _ in range(int(rng.integers(0, 6))):
            start = int(rng.integers(0, n))
            s[start:start + int(rng.integers(1, 60))] = np.nan
        s[rng.random(n) < rng.uniform(0, 0.2)] = np.nan
    window = np.zeros(n, bool)
    for _ in range(int(rng.integers(1, 8))):
        start = int(rng.integers(0, n))
        window[start:start + int(rng.integers(5, 120))] = True
    return x, y, window, int(rng.integers(1, 30))


def test_xcorr_is_each_lags_own_pearson_r():
    checked = 0
    for seed in range(300):
        x, y, window, max_lag = _random_case(np.random.default_rng(seed))
        lags, r = normalized_xcorr(x, y, window, max_lag)
        assert list(lags) == list(range(-max_lag, max_lag + 1))
        finite = np.isfinite(r)
        assert (np.abs(r[finite]) <= 1 + 1e-9).all(), seed
        reference = _pearson_per_lag(x, y, window, max_lag)
        np.testing.assert_array_equal(finite, np.isfinite(reference), err_msg=f"seed {seed}")
        np.testing.assert_allclose(r[finite], reference[finite], atol=1e-9, err_msg=f"seed {seed}")
        checked += finite.sum()
    assert checked > 1000


def test_xcorr_known_lag_with_gaps_and_mask_peaks_inside_the_window():
    rng = np.random.default_rng(7)
    driver = pulses(T, [1.5, 4.2, 7.0, 10.1, 13.3, 16.4], 1.2, amplitude=0.1)
    responder = 2.5 * np.roll(driver, 4) + rng.normal(0, 0.01, T.size)
    driver[95:101] = np.nan
    responder[rng.random(T.size) < 0.05] = np.nan
    responder[300:320] = np.nan
    window = (driver > 0.005) | np.roll(driver > 0.005, 8)
    window[200:240] = False
    lags, r = normalized_xcorr(driver, responder, window, 15)
    best = int(np.nanargmax(r))
    assert lags[best] == 4
    assert 0.95 < r[best] <= 1.0
    assert np.nanmax(np.abs(r)) <= 1.0
    assert lagged_gain(driver, responder, window, 4) == pytest.approx(2.5, rel=0.03)


@pytest.mark.parametrize("healthy_gain", [0.3, 10.0], ids=["one-sided", "bilateral"])
def test_eye_shut_during_smiles_is_the_responder_not_masked(healthy_gain):
    # Severe synkinesis (or a laughing squint when both eyes shut): each smile
    # shuts the eye for over a second. That is a long bilateral closure to the
    # eye detector, yet it must stay in the analysis as the responder.
    sig = _oral_ocular_case(side="left", gain=10.0, lag_s=0.1, healthy_gain=healthy_gain)
    assert (eye_driver(sig) > EYE_CLOSURE_MIN).sum() / FS > 4 * 0.5
    ev = events_find(sig)
    assert ev.counts()["smile"] == 4 and ev.counts()["eye_closure"] == 0
    c = coupling_process(sig, ev, "oral_ocular")
    assert c.reason is None and c.window.sum() / FS > 4 * 1.5
    left = c.sides["left"]
    assert left.r > 0.95 and left.involuntary_pct > 90 and left.n_events == 4
    assert abs(left.lag_s - 0.1) <= 1 / FS + 1e-9
    entry = judged(c)
    if healthy_gain < 1:
        assert entry["affected_side"] == "left" and entry["grade"] == 3
    else:  # both eyes shut alike: time-locked, but no side difference to grade
        assert c.sides["right"].r > 0.95 and entry["grade"] == 0


@pytest.mark.parametrize("extra", [0.0, 2.0], ids=["healthy", "one-sided"])
def test_eyes_widening_in_a_smile_with_one_also_pulled_shut_is_graded(extra):
    """Some people's eyes widen as they smile. An eye also pulled shut then barely follows the smile on its
    own (here it still widens, r < 0), but its difference from the other eye does: that is time-locked."""
    sig = _oral_ocular_case(side="left", gain=-2.0 + extra, lag_s=0.0, healthy_gain=-2.0)
    c = coupling_process(sig, events_find(sig), "oral_ocular")
    entry = judged(c)
    if extra:
        assert c.sides["left"].r < 0.3 < entry["asymmetry_r"]  # the eye alone would not count as time-locked
        assert entry["affected_side"] == "left" and entry["asymmetry_pp"] == pytest.approx(20.0, abs=2.5)
        assert entry["grade"] == 2 and abs(entry["asymmetry_lag_s"]) <= 1 / FS + 1e-9
    else:
        assert abs(entry["asymmetry_pp"]) < 2.0 and entry["grade"] == 0


def test_voluntary_closure_without_mouth_movement_is_masked_from_oral_ocular():
    sig = _oral_ocular_case(side="left", gain=3.0, lag_s=0.0)
    data = sig.data.copy()
    closure = pulses(T, [3.6, 18.0], 1.5, amplitude=0.9)  # right after the first smile, inside its padding
    data["eye_closure_r"] += closure
    data["eye_closure_l"] += closure
    from synkan.measure.signals import Signals

    sig = Signals(data, sig.info)
    ev = events_find(sig)
    closures = ev.of("eye_closure")
    assert len(closures) == 2 and ev.counts()["smile"] == 4
    c = coupling_process(sig, ev, "oral_ocular")
    first = closures.iloc[0]
    inside = (c.t >= first.start_s) & (c.t <= first.end_s)
    assert not c.window[inside].any()
    assert c.window[(c.t > first.start_s - 0.3) & (c.t < first.start_s)].all()  # the smile's own padding stays
    assert c.sides["left"].r > 0.95 and judged(c)["grade"] == 3  # 30 pp


def test_protocol_closure_over_a_smile_is_voluntary():
    sig = _oral_ocular_case(side="left", gain=10.0, lag_s=0.1)
    ev = events_process(sig, "close:6-7.6")
    user = ev.of("eye_closure")
    assert list(user["source"]) == ["user"] and ev.counts()["smile"] == 3
    oo = coupling_process(sig, ev, "oral_ocular")
    assert not oo.window[(oo.t >= 6) & (oo.t <= 7.6)].any()
    assert oo.sides["left"].n_events == 3 and oo.sides["left"].r > 0.95
    oc = coupling_process(sig, ev, "ocular_oral")
    assert oc.reason is None and oc.window[(oc.t >= 6) & (oc.t <= 7.6)].all()


def test_mouth_pulled_while_eyes_shut_is_the_ocular_oral_responder():
    # The mirror case: the corner lift is big enough to pass for a smile, but
    # it only happens inside each voluntary closure, so it is the closure's
    # response: the closure stays the driver and the lift is not masked.
    closure = pulses(T, [3, 8, 13], 1.2, amplitude=0.9)
    sig = make_signals(T, eye_closure_r=closure, eye_closure_l=closure, mouth_excursion_r=0.12 * closure,
                       mouth_vertical_r=0.12 * closure)
    assert (mouth_driver(sig) > SMILE_MIN_EXCURSION).sum() / FS > 3 * SMILE_MIN_S  # big enough to pass for smiles
    ev = events_find(sig)
    assert ev.counts()["eye_closure"] == 3 and ev.counts()["smile"] == 0
    c = coupling_process(sig, ev, "ocular_oral")
    entry = judged(c)
    assert entry["affected_side"] == "right" and entry["grade"] == 3
    assert c.sides["right"].r > 0.95 and c.sides["right"].involuntary_pct == pytest.approx(10.8, abs=1.0)


def test_faceless_frames_raise_no_warnings():
    sig = _oral_ocular_case(side="left")
    data = sig.data.copy()
    data.loc[100:160, ["eye_closure_r", "eye_closure_l", "mouth_excursion_r", "mouth_excursion_l", "mouth_narrowing"]] = np.nan
    data.loc[300:400, ["mouth_narrowing"]] = np.nan
    from synkan.measure.signals import Signals

    sig = Signals(data, sig.info)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ev = events_find(sig)
        for direction in ("oral_ocular", "ocular_oral"):
            coupling_process(sig, ev, direction)
    assert np.isnan(eye_driver(sig)[100:161]).all()
