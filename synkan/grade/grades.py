"""Per-direction, per-side scores, the side difference, grades and QC.

Healthy people narrow both eyes in a genuine smile (about 22% +/- 13%), so a
one-sided amount means little on its own: the scores compare sides. The
grade thresholds live in :mod:`synkan.config`; they are heuristic, not
clinically validated. Too little data gives ``None`` plus a warning, never 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..config import (
    GRADE_MAX_ABS_LAG_S,
    GRADE_MIN_R,
    GRADE_NAMES,
    GRADE_STEPS,
    LOCKED_R_FRACTION,
    MAX_ABS_ROLL_DEG,
    MAX_ABS_YAW_DEG,
    MIN_EYE_WIDTH_PX,
    SIDEWAYS_GAZE_WARN_FRACTION,
)
from ..measure.signals import Signals
from ..measure.tracking import Track
from .coupling import Coupling, SideCoupling, xcorr_peak
from .detection import conclude
from .events import Events, mouth_driver
from .normative import Reference, load_normative, reference
from .qc import not_scorable, qc_summary
from .series import normalized_xcorr, peak_masks, value_at_peaks

OTHER = {"right": "left", "left": "right"}
DIRECTION_LABELS = {"oral_ocular": "Oral-ocular", "ocular_oral": "Ocular-oral"}
MOVEMENT_WORDS = {"smile": "smile", "pucker": "pucker", "snarl": "snarl", "blink": "blink",
                  "eye_closure": "eye closure"}


@dataclass(frozen=True)
class Scores:
    """The ``scores``, ``qc`` and ``warnings`` sections of report.json."""

    scores: dict
    qc: dict
    warnings: list[str] = field(default_factory=list)


def is_locked(r: float | None, lag_s: float | None) -> bool:
    """Whether a correlation peak counts as time-locked: r >= GRADE_MIN_R within +/- GRADE_MAX_ABS_LAG_S.

    Examples
    --------
    >>> is_locked(0.5, 0.1), is_locked(0.2, 0.0), is_locked(0.9, 0.45), is_locked(None, None)
    (True, False, False, False)
    """
    return (r is not None and lag_s is not None and np.isfinite(r) and r >= GRADE_MIN_R
            and abs(lag_s) <= GRADE_MAX_ABS_LAG_S + 1e-9)


def grade_thresholds(direction: str, limit: float) -> tuple[float, ...]:
    """Where grades 1-3 start: :data:`~synkan.config.GRADE_STEPS` multiples of the healthy ``limit``.

    Examples
    --------
    >>> grade_thresholds("oral_ocular", 10.0)
    (10.0, 18.0, 26.0)
    """
    return tuple(round(step * limit, 6) for step in GRADE_STEPS[direction])


def grade(asymmetry: float, direction: str, limit: float) -> int:
    """Grade 1-3 of a side difference already shown to exceed the healthy ``limit`` (at least 1).

    Examples
    --------
    >>> grade(30.0, "oral_ocular", 10.0), grade(12.0, "oral_ocular", 10.0), grade(9.0, "oral_ocular", 10.0)
    (3, 1, 1)
    """
    return max(1, int(np.searchsorted(grade_thresholds(direction, limit), asymmetry, side="right")))


def time_locked(side: SideCoupling) -> tuple[float | None, float | None]:
    """``(r, lag_s)`` to grade by: the best r within +/- ``GRADE_MAX_ABS_LAG_S``, unless the overall peak is
    clearly higher.

    Slow movements (a smile held for seconds) give a broad correlation
    plateau whose maximum can sit anywhere on it, even at the edge of the lag
    window. A responder whose r within the physiological lag window is within
    :data:`~synkan.config.LOCKED_R_FRACTION` of its overall peak is time-locked;
    otherwise the overall peak (and its long lag) is returned.

    Examples
    --------
    >>> lags = np.linspace(-0.5, 0.5, 11)
    >>> plateau = SideCoupling(0.74, -0.5, 1.0, 30.0, 3, lags, np.linspace(0.74, 0.54, 11))
    >>> [round(x, 3) for x in time_locked(plateau)]
    [0.7, -0.3]
    >>> late = SideCoupling(0.9, 0.5, 1.0, 30.0, 3, lags, np.r_[np.full(10, 0.1), 0.9])
    >>> time_locked(late)
    (0.9, 0.5)
    """
    if side.r is None or not len(side.xcorr):
        return side.r, side.lag_s
    inside = (np.abs(side.lags_s) <= GRADE_MAX_ABS_LAG_S + 1e-9) & np.isfinite(side.xcorr)
    if not inside.any():
        return side.r, side.lag_s
    k = int(np.flatnonzero(inside)[np.argmax(side.xcorr[inside])])
    if side.xcorr[k] >= LOCKED_R_FRACTION * side.r and abs(side.lag_s) > GRADE_MAX_ABS_LAG_S:
        return float(side.xcorr[k]), float(side.lags_s[k])
    return side.r, side.lag_s


def difference_time_locked(coupling: Coupling, side: str) -> tuple[float | None, float | None]:
    """``(r, lag_s)`` of the side difference (``side`` minus the other side) with the driver, as
    :func:`time_locked`.

    What is graded is the side difference, so its own time-locking is
    evidence of synkinesis too. It matters when the healthy pattern moves the
    other way: a person whose eyes widen as they smile, with one eye also
    pulled shut, has an affected eye that barely correlates with the smile
    while its difference from the other eye follows the smile closely.
    Lags are searched over the same window as the side's own correlation.

    Examples
    --------
    >>> import pandas as pd
    >>> t = np.arange(0, 6, 0.05); smile = np.exp(-((t - 3) / 0.5) ** 2)
    >>> widen = -0.3 * smile  # both eyes widen with the smile; the left one is also pulled shut
    >>> c = Coupling("oral_ocular", {"left": SideCoupling(0.1, 0.0, None, None, 1, np.linspace(-0.5, 0.5, 21), np.zeros(21))},
    ...              t, smile, {"left": widen + 0.28 * smile, "right": widen}, np.ones(len(t), bool), None,
    ...              pd.DataFrame({"start_s": [2.0], "end_s": [4.0]}))
    >>> [round(x, 2) for x in difference_time_locked(c, "left")]
    [1.0, 0.0]
    """
    own = coupling.sides[side]
    if not len(own.lags_s):
        return None, None
    dt = float(np.median(np.diff(coupling.t)))
    difference = coupling.responders[side] - coupling.responders[OTHER[side]]
    return time_locked(xcorr_peak(*normalized_xcorr(coupling.driver, difference, coupling.window, len(own.lags_s) // 2), dt))


def paired_differences(coupling: Coupling) -> np.ndarray:
    """Per driver event, the left-minus-right responder at its peak frames, in percentage points.

    Each event gives one difference with both sides on the same frames, so
    what varies from event to event on both sides alike (a bigger laugh)
    cancels.

    Examples
    --------
    >>> import pandas as pd
    >>> t = np.arange(0, 6, 0.1); bump = lambda c: np.exp(-((t - c) / 0.3) ** 2)
    >>> c = Coupling("oral_ocular", {}, t, bump(1) + bump(4), {"left": np.where(t < 2.5, 0.3, 0.1), "right": 0 * t},
    ...              np.ones(len(t), bool), None, pd.DataFrame({"start_s": [0.5, 3.5], "end_s": [1.5, 4.5]}))
    >>> paired_differences(c).round(1).tolist()  # events of 30 and 10 pp
    [30.0, 10.0]
    """
    left, right = coupling.responders["left"], coupling.responders["right"]
    masks = peak_masks(coupling.t, coupling.driver, coupling.driver_events, left, right)
    return np.array([100 * (np.median(left[m]) - np.median(right[m])) for m in masks])


def side_difference(coupling: Coupling, affected: str | None = None) -> tuple[str, float, float | None] | None:
    """``(affected side, asymmetry, its SE)`` from the events' paired side differences, or None.

    The asymmetry is the median over events of the affected minus the other
    side (the affected side, unless given, is the one this median favours);
    its SE is the between-event SD / sqrt(n) (a single event: its
    frame-to-frame SD over the peak frames stands in). Used by the
    movement x region matrix; the directions judge with
    :mod:`synkan.grade.detection`.
    """
    differences = paired_differences(coupling)
    if not len(differences):
        return None
    median = float(np.median(differences))
    side = affected or ("left" if median > 0 else "right")
    sign = 1.0 if side == "left" else -1.0
    if len(differences) >= 2:
        se = float(np.std(differences, ddof=1)) / float(np.sqrt(len(differences)))
    else:
        left, right = coupling.responders["left"], coupling.responders["right"]
        frames = peak_masks(coupling.t, coupling.driver, coupling.driver_events, left, right)[0]
        se = float(np.std(100 * (left[frames] - right[frames]), ddof=1)) if frames.sum() >= 2 else None
    return side, sign * median, se


def score_movement(coupling: Coupling, ref: Reference, n_tests: int, affected: str | None = None) -> dict | None:
    """report.json's entry for one driver movement of a direction, or None when it has no event with data.

    The side difference is judged by :func:`synkan.grade.detection.conclude`
    against the movement's healthy reference; a positive verdict also needs
    the affected side (or its difference from the other side) to be
    time-locked to the driver where a correlation can be measured.
    """
    differences = paired_differences(coupling)
    if not len(differences):
        return None
    side = affected or ("left" if np.median(differences) > 0 else "right")
    verdict = conclude(differences if side == "left" else -differences, ref.limit, ref.event_sd, n_tests)
    r_diff, lag_diff = difference_time_locked(coupling, side)
    candidates = [time_locked(coupling.sides[side]), (r_diff, lag_diff)]
    measured = any(rl[0] is not None for rl in candidates)
    locked = any(is_locked(*rl) for rl in candidates)
    # A side difference beyond the healthy range that does not follow the
    # driver in time is not synkinesis (a voluntary one-sided grimace): grade 0.
    # Where no correlation can be measured (too little time around the
    # events), time-locking is unknown, so synkinesis cannot be claimed.
    unlocked = verdict.positive and measured and not locked
    positive = verdict.positive and locked
    conclusive = positive or unlocked or verdict.negative
    g = grade(verdict.estimate, coupling.direction, ref.limit) if positive else (0 if conclusive else None)
    return {
        "n_events": verdict.n_events, "affected_side": side, "asymmetry_pp": _round(verdict.estimate, 2),
        # Pooled with the healthy between-event SD, so it exists from one event on (compare's MDC uses
        # it); the report shows it only from MIN_EVENTS_FOR_SE events.
        "asymmetry_se_pp": _round(verdict.se, 2),
        "detectable_pp": _round(verdict.detectable, 2), "conclusive": conclusive,
        "verdict": ("synkinesis" if positive else "not time-locked" if unlocked else "ruled out" if conclusive
                    else "not conclusive"),
        "rules_out_above_pp": _round(verdict.rules_out_above, 2),
        "repetitions_needed": None if conclusive else verdict.repetitions_needed,
        "healthy_max_pp": _round(ref.limit, 2), "healthy_source": ref.source,
        "asymmetry_r": _round(r_diff, 3), "asymmetry_lag_s": _round(lag_diff, 4), "time_locked": locked,
        "grade": g, "grade_name": GRADE_NAMES[g] if g is not None else None,
        "right": coupling.sides["right"].to_dict(), "left": coupling.sides["left"].to_dict(),
    }


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), digits)


def choose_movement(entries: dict[str, dict]) -> str | None:
    """The movement that decides the direction.

    The strongest synkinesis (largest lower bound of its side difference).
    Without one, a movement that is not conclusive keeps the direction open
    (the one with the most events; synkinesis may follow just that movement);
    only when every movement rules it out (or is not time-locked) is the
    direction settled, by the movement with the most events.
    """
    if not entries:
        return None
    positive = {k: e for k, e in entries.items() if e["verdict"] == "synkinesis"}
    if positive:
        return max(positive, key=lambda k: positive[k]["asymmetry_pp"] - positive[k]["detectable_pp"])
    open_ = {k: e for k, e in entries.items() if not e["conclusive"]}
    pool = open_ or entries
    return max(pool, key=lambda k: pool[k]["n_events"])


def score_direction(direction: str, by_movement: dict[str, Coupling], normative: dict,
                    affected: str | None = None) -> dict:
    """report.json's entry for one direction: each driver movement judged on its own, and the one that
    decides.

    Parameters
    ----------
    direction : {"oral_ocular", "ocular_oral"}
    by_movement : dict
        ``{movement: Coupling}`` driven by that movement's events only
        (:func:`synkan.grade.coupling.movement_couplings`).
    normative : dict
        The healthy reference (:func:`synkan.grade.normative.load_normative`).
    affected : {"right", "left"}, optional
        The known affected side; otherwise each movement's own.

    Returns
    -------
    dict
        The deciding movement's fields (sides, ``affected_side``,
        ``asymmetry_pp``, ``detectable_pp``, ``conclusive``, ``grade``...)
        plus ``movement`` (which one) and ``movements`` (every one).
    """
    measured = {k: c for k, c in by_movement.items() if not c.reason}
    entries = {}
    for kind, coupling in measured.items():
        entry = score_movement(coupling, reference(normative, direction, kind), len(measured), affected)
        if entry is not None:
            entries[kind] = entry
    chosen = choose_movement(entries)
    if chosen is None:
        return empty_direction()
    return {**entries[chosen], "movement": chosen, "movements": entries}


def not_conclusive_text(direction: str, entry: dict) -> str:
    """What a recording that is not conclusive can say, and what it needs.

    Examples
    --------
    >>> not_conclusive_text("oral_ocular", {"movement": "smile", "n_events": 2, "rules_out_above_pp": 25.0,
    ...                                     "repetitions_needed": 6, "healthy_max_pp": 9.5})
    'Oral-ocular: not conclusive from 2 smiles (healthy limit 9.5 pp): it rules out side differences above 25 pp, \
not synkinesis; record at least 4 more smiles to decide'
    """
    kind, n = MOVEMENT_WORDS.get(entry["movement"], entry["movement"]), entry["n_events"]
    more = max(1, (entry["repetitions_needed"] or 0) - n)
    return (f"{DIRECTION_LABELS[direction]}: not conclusive from {n} {kind}{'s' if n != 1 else ''} (healthy limit "
            f"{entry['healthy_max_pp']:.1f} pp): it rules out side differences above {entry['rules_out_above_pp']:.0f}"
            f" pp, not synkinesis; record at least {more} more {kind}s to decide")


def empty_direction() -> dict:
    """A direction with nothing to measure: every value null."""
    nulls = ("affected_side", "asymmetry_pp", "asymmetry_se_pp", "detectable_pp", "conclusive", "verdict",
             "rules_out_above_pp", "repetitions_needed", "healthy_max_pp", "healthy_source", "asymmetry_r",
             "asymmetry_lag_s", "time_locked", "grade", "grade_name", "movement")
    side = SideCoupling(None, None, None, None, 0).to_dict()
    return {"right": side, "left": dict(side), **dict.fromkeys(nulls), "movements": {}}


def eface_ocular_synkinesis(signals: Signals, events: Events, affected: str | None) -> tuple[float | None, str | None]:
    """eFACE-style ocular synkinesis, 0-100 (100: none), or None with a reason.

    ``100 * min(affected / healthy eye aperture during smile, the same during
    pucker)``, clipped to [0, 100]. Apertures are relative to each eye's own
    rest (``1 - eye_closure``), so a static lid asymmetry does not count as
    synkinesis. Without a known affected side, the side whose eye narrows
    more is taken.
    """
    t = signals.t
    ratios = []
    for kind in ("smile", "pucker"):
        rows = events.of(kind)
        if rows.empty:
            continue
        driver = mouth_driver(signals)
        aperture = {side: value_at_peaks(t, driver, 1.0 - signals[f"eye_closure_{side[0]}"], rows)[0] for side in ("right", "left")}
        if not all(np.isfinite(v) and v > 0 for v in aperture.values()):
            continue
        side = affected or min(aperture, key=aperture.get)
        ratios.append(aperture[side] / aperture[OTHER[side]])
    if not ratios:
        return None, "eFACE ocular synkinesis: no smile or pucker found"
    return round(float(np.clip(100.0 * min(ratios), 0.0, 100.0)), 1), None



def scores_process(track: Track, signals: Signals, events: Events, couplings: dict[str, Coupling],
                   affected: str | None = None, by_movement: dict[str, dict[str, Coupling]] | None = None,
                   normative: dict | None = None) -> Scores:
    """Scores, QC and warnings for report.json.

    Parameters
    ----------
    track, signals, events
        The earlier stages' outputs.
    couplings : dict
        ``{"oral_ocular": Coupling, "ocular_oral": Coupling}``, all driver movements pooled.
    affected : {"right", "left"}, optional
        The known affected side.
    by_movement : dict, optional
        ``{direction: {movement: Coupling}}`` (:func:`synkan.grade.coupling.movement_couplings`):
        what each direction is judged on. Without it, nothing is graded.
    normative : dict, optional
        The healthy reference (default: the shipped one, :func:`synkan.grade.normative.load_normative`).
    """
    qc = qc_summary(track, signals, events)
    warnings: list[str] = []
    scores: dict = {}
    refusal = not_scorable(track, qc)
    enough_face = refusal is None
    if refusal:
        warnings.append(refusal)
    normative = load_normative() if normative is None else normative
    for direction, coupling in couplings.items():
        entry = empty_direction()
        if enough_face:
            entry = score_direction(direction, (by_movement or {}).get(direction, {}), normative, affected)
            if entry["movement"] is None:
                warnings.append(f"{DIRECTION_LABELS[direction]}: {coupling.reason or 'no driver event with data'}; "
                                "scores are null")
            elif not entry["conclusive"]:
                warnings.append(not_conclusive_text(direction, entry))
        scores[direction] = entry
    eface_side = affected or scores.get("oral_ocular", {}).get("affected_side")
    eface, reason = eface_ocular_synkinesis(signals, events, eface_side) if enough_face else (None, None)
    if reason:
        warnings.append(reason)
    scores["eface_ocular_synkinesis"] = eface
    if qc["frames_large_rotation"]:
        warnings.append(f"{qc['frames_large_rotation']} frames with head rotation beyond yaw {MAX_ABS_YAW_DEG:.0f} deg or "
                        f"roll {MAX_ABS_ROLL_DEG:.0f} deg were left out of coupling")
    if qc["frames_gaze_sideways"] > SIDEWAYS_GAZE_WARN_FRACTION * max(qc["frames"], 1):
        warnings.append(f"the eyes looked sideways (beyond about 15 deg) in {qc['frames_gaze_sideways']} frames; "
                        "those frames were left out of the eye measurements")
    if qc["eye_width_px"] is not None and qc["eye_width_px"] < MIN_EYE_WIDTH_PX:
        warnings.append(f"the eyes are only {qc['eye_width_px']:.0f} px wide (record closer: below {MIN_EYE_WIDTH_PX:.0f} px "
                        "one pixel is over a tenth of the lid opening); eye measurements are imprecise")
    if qc["frames_multiple_faces"]:
        warnings.append(f"more than one face in {qc['frames_multiple_faces']} frames; the patient was followed by position")
    return Scores(scores, qc, warnings)


