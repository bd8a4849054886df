"""Movement labels that agree with what the face does (issue 22).

Synthetic signals with known answers (a drifting brow is not a raise, a
smile's lip lift is not a snarl, peaks avoid blinks, one pucker definition,
protocol steps take the held movement), and the two real videos where a new
user saw them go wrong (KwaiVGI_d10, KwaiVGI_d18).
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import pulses, shared_video

from synkan.config import BLINK_MASK_PAD_S, VOLUNTARY_MAX_S
from synkan.grade.events import events_process
from synkan.grade.movements import movements_process
from synkan.measure.signals import Signals

T = np.arange(0, 30, 1 / 30)
PAIRED = ("eye_closure", "mouth_excursion", "mouth_lateral", "mouth_vertical", "brow_raise", "cheek_raise",
          "upper_lip_raise", "chin_raise", "nose_raise")


def face(t: np.ndarray = T, **both: np.ndarray) -> Signals:
    """Signals with every column the movements read; ``name=x`` sets both sides (or the one column)."""
    ones = np.ones(len(t), bool)
    data = {"t": t, "frame": np.arange(len(t)), "valid": ones, "pose_ok": ones}
    for name in (*PAIRED, "mouth_narrowing", "lip_gap", "yaw_deg", "pitch_deg", "roll_deg"):
        x = np.asarray(both.pop(name, np.zeros(len(t))), float)
        if name in PAIRED:
            data[f"{name}_r"] = data[f"{name}_l"] = x
        else:
            data[name] = x
    assert not both, f"unknown columns {sorted(both)}"
    return Signals(pd.DataFrame(data), {"fs_hz": 30.0})


def smile_face(t: np.ndarray, starts, duration_s: float, lip_per_corner: float, **more: np.ndarray) -> dict:
    """A smile whose corners go up more than out (a child's smile), lifting the upper lip in proportion."""
    corner = pulses(t, starts, duration_s, 0.15)
    return dict(mouth_excursion=corner, mouth_lateral=0.3 * corner, mouth_vertical=0.95 * corner,
                mouth_narrowing=-1.0 * corner, upper_lip_raise=lip_per_corner * corner, **more)


def kinds(signals: Signals, protocol: str | None = None) -> list[str]:
    return movements_process(signals, events_process(signals), protocol=protocol).table["kind"].tolist()


def test_drifting_or_resting_raised_brow_is_not_a_raise():
    drift = 0.15 * T / T[-1]  # the brow-to-eye distance creeps up 0.15 IOD over the video
    assert "brow_raise" not in kinds(face(brow_raise=drift))
    resting_up = pulses(T, [5.0], 15.0, 0.1)  # brows up for 15 s: a posture, not a movement
    assert "brow_raise" not in kinds(face(brow_raise=resting_up))
    table = movements_process(raised := face(brow_raise=drift + pulses(T, [12.0], 2.0, 0.12)),
                              events_process(raised)).table
    assert table["kind"].tolist() == ["brow_raise"]
    assert table["start_s"].iloc[0] == pytest.approx(12.0, abs=0.3)
    assert table["duration_s"].iloc[0] < VOLUNTARY_MAX_S


def test_smile_lifting_the_upper_lip_is_not_a_snarl_but_a_lip_lift_alone_is():
    assert kinds(face(**smile_face(T, [3.0, 12.0], 2.0, lip_per_corner=1.0))) == ["smile", "smile"]
    snarl = pulses(T, [8.0], 2.0, 0.1)  # the lip (and ala) rises, the corners hardly move
    signals = face(upper_lip_raise=snarl, nose_raise=0.5 * snarl, mouth_vertical=0.2 * snarl,
                   mouth_excursion=0.2 * snarl)
    assert kinds(signals) == ["snarl"]


def test_peaks_and_key_frames_avoid_blinks():
    from synkan.report.figures import _frame_rows
    from synkan.report.scales_figure import movement_frame_rows

    blinks = pulses(T, [4.0], 0.2, 0.9, ramp_s=0.08) + pulses(T, [12.7], 0.2, 0.9, ramp_s=0.08)
    # The smile's corner excursion and the brows (measured from the eye centre) both peak in a blink.
    more = dict(smile_face(T, [3.0], 2.5, 0.6), eye_closure=blinks,
                brow_raise=pulses(T, [12.0], 2.0, 0.1) + 0.1 * pulses(T, [12.7], 0.2, 1.0, 0.08))
    more["mouth_excursion"] = more["mouth_excursion"] + 0.05 * pulses(T, [4.0], 0.2, 1.0, 0.08)
    signals = face(**more)
    events = events_process(signals)
    blinks = events.of("blink")
    assert len(blinks) == 2
    movements = movements_process(signals, events)
    assert movements.table["kind"].tolist() == ["smile", "brow_raise"]

    def on_blink(t_s: float) -> bool:
        pad = BLINK_MASK_PAD_S
        return bool(((blinks["start_s"] - pad <= t_s) & (t_s <= blinks["end_s"] + pad)).any())

    assert not any(on_blink(t) for t in events.of("smile")["peak_s"])
    assert not any(on_blink(t) for t in movements.table["peak_s"])
    track = SimpleNamespace(t_s=T, valid=np.ones(len(T), bool))
    analysis = SimpleNamespace(signals=signals, track=track, events=events, movements=movements)
    shown = [(title, row) for title, row in _frame_rows(analysis) + movement_frame_rows(analysis)
             if "eye" not in title and "blink" not in title and title != "rest"]
    assert len(shown) == 3 and not any(on_blink(T[row]) for _, row in shown)


def test_the_events_puckers_are_the_movements_puckers():
    pucker = pulses(T, [5.0], 1.0, 0.25)
    # Surprise: the brows go up over the pucker, and more, relative to their threshold.
    signals = face(mouth_narrowing=pucker, mouth_excursion=0.3 * pucker, mouth_lateral=-0.3 * pucker,
                   brow_raise=pulses(T, [4.5], 2.5, 0.2), **{"upper_lip_raise": 0.2 * pucker})
    events = events_process(signals)
    table = movements_process(signals, events).table
    assert events.of("pucker")[["start_s", "end_s"]].values.tolist() == \
        table[table["kind"] == "pucker"][["start_s", "end_s"]].values.tolist()


def test_smile_never_claims_a_puckers_frames():
    pucker, smile = pulses(T, [2.0], 0.8, 0.25), pulses(T, [3.0], 2.0, 0.15)
    signals = face(mouth_narrowing=pucker - smile, mouth_excursion=0.4 * pucker + smile, mouth_lateral=smile)
    table = events_process(signals).table
    assert table["kind"].tolist() == ["pucker", "smile"]
    assert table["start_s"].iloc[1] > table["end_s"].iloc[0]


def test_protocol_step_takes_the_held_movement_not_the_first_brief_one():
    # A 0.5 s closed smile at the start, then the real 4 s open smile.
    brief = pulses(T, [0.0], 0.5, 0.15)
    held = pulses(T, [8.0], 4.0, 0.15)
    signals = face(mouth_excursion=brief + held, mouth_lateral=0.6 * (brief + held),
                   mouth_vertical=0.6 * (brief + held), mouth_narrowing=-(brief + held), lip_gap=2 * held)
    table = movements_process(signals, events_process(signals), protocol="sunnybrook").table
    step = table[table["step"] == 4]
    assert len(step) == 1 and step["start_s"].iloc[0] == pytest.approx(8.0, abs=0.3)


# --- real faces ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    import synkan

    return {name: synkan.analyze(shared_video(f"{name}.mp4")) for name in ("KwaiVGI_d10", "KwaiVGI_d18")}


def test_real_d10_movements_agree_with_the_face(real):
    result = real["KwaiVGI_d10"]
    table, events = result.movements.table, result.events
    assert not ((table["kind"] == "brow_raise") & (table["duration_s"] > VOLUNTARY_MAX_S)).any()
    assert table["duration_s"].max() < 10.0  # no chain of movements merged into one
    puckers = table[table["kind"] == "pucker"][["start_s", "end_s"]].values.tolist()
    assert puckers == events.of("pucker")[["start_s", "end_s"]].values.tolist() and puckers
    smiles = events.of("smile")
    for snarl in table[table["kind"] == "snarl"].itertuples():
        assert not ((smiles["start_s"] < snarl.end_s) & (smiles["end_s"] > snarl.start_s)).any()
    blinks = events.of("blink")
    start, end = blinks["start_s"] - BLINK_MASK_PAD_S, blinks["end_s"] + BLINK_MASK_PAD_S
    for row in table[~table["kind"].str.contains("closure")].itertuples():
        if ((start <= row.start_s) & (row.end_s <= end)).any():
            continue  # wholly inside a blink: no other frame to show
        assert not ((start <= row.peak_s) & (row.peak_s <= end)).any(), row


def test_real_d18_protocol_gives_the_open_smile_step_to_the_held_open_smile(real):
    import synkan

    base = real["KwaiVGI_d18"]
    result = synkan.rescore(base.track, base.video, base.settings, protocol="sunnybrook")
    smile = result.movements.table[result.movements.table["step"] == 4]
    assert len(smile) == 1
    row = smile.iloc[0]
    assert row["kind"] == "smile" and row["variant"] == "open"
    assert row["duration_s"] > 2.0 and row["start_s"] > 1.0
