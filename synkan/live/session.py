"""A guided retraining exercise: the plan of phases, the two bars, and each repetition's result.

Facial retraining practises one movement at a time while keeping the
synkinetic region still; consensus guidance is to hold each movement about
5 s. A session is a 3 s calibration (the face at rest: the person's own rest
for every value that follows), then for each movement and repetition a
count-down, a hold and a relax phase.

The bars are in the report's units. The voluntary bar is the movement's
driver: mouth-corner excursion (mean of both sides) for a smile or snarl,
mouth narrowing for a pucker, brow raise for a brow raise, eye closure for an
eye closure; all in percent (of the inter-ocular distance, or of the rest
width or opening). The involuntary bar is the side difference the report
grades, in percentage points: during mouth or brow movements how much the
affected eye narrows beyond the other (``eye_closure``), during eye closures
how much the affected mouth corner lifts beyond the other (``mouth_vertical``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..grade.protocols import PROTOCOLS, Step, protocol_steps

CALIBRATE_S = 3.0
COUNTDOWN_S = 3.0
HOLD_S = 5.0
RELAX_S = 3.0
DEFAULT_REPS = 3
# A repetition's involuntary value is its median over the hold frames where the
# movement is near its peak: one frame is too noisy, the whole hold includes the ramp.
NEAR_PEAK_SHARE = 0.8

_GENTLE_SMILE = Step("smile", "Smile gently with the lips closed, keeping both eyes open.", HOLD_S, "closed")
_PUCKER = Step("pucker", "Pucker your lips gently, as if to kiss, keeping both eyes open.", HOLD_S)
EXERCISES: dict[str, tuple[Step, ...]] = {
    "retraining": (_GENTLE_SMILE, _PUCKER),
    "smile": (_GENTLE_SMILE,),
    "pucker": (_PUCKER,),
}
EXERCISE_NAMES = (*EXERCISES, *PROTOCOLS)
# Voluntary driver of each movement: (signal per side or both, label, unit).
_MOUTH_DRIVER = ("mouth_excursion", "mouth movement", "% of eye distance")
DRIVERS = {
    "smile": _MOUTH_DRIVER,
    "snarl": _MOUTH_DRIVER,
    "bottom_teeth": _MOUTH_DRIVER,
    "nasal_base": _MOUTH_DRIVER,
    "pucker": ("mouth_narrowing", "pucker", "% of rest mouth width"),
    "brow_raise": ("brow_raise", "brow raise", "% of eye distance"),
    "gentle_eye_closure": ("eye_closure", "eye closure", "% of rest opening"),
    "tight_eye_closure": ("eye_closure", "eye closure", "% of rest opening"),
}
_EYE_MOVEMENTS = {"gentle_eye_closure", "tight_eye_closure"}


@dataclass(frozen=True)
class Phase:
    """One phase of the session: ``calibrate``, ``countdown``, ``hold``, ``relax`` or ``done``."""

    name: str
    start_s: float
    end_s: float
    movement: str = "rest"
    instruction: str = "Relax your face and look at the camera."
    rep: int = 0  # 1-based repetition of this movement; 0 for calibration


@dataclass(frozen=True)
class Bars:
    """The two live values, in the report's units (NaN when not measurable)."""

    voluntary_pct: float
    involuntary_pp: float
    involuntary_side: str  # "right" or "left": the side whose narrowing is shown


@dataclass(frozen=True)
class RepResult:
    """One repetition: its movement, peak voluntary movement and the involuntary value near that peak."""

    movement: str
    rep: int
    peak_voluntary_pct: float
    involuntary_pp: float
    involuntary_side: str


def exercise_steps(name: str) -> tuple[Step, ...]:
    """The movements of an exercise: one of :data:`EXERCISES`, or a protocol's steps without its rest."""
    if name in EXERCISES:
        return EXERCISES[name]
    if name in PROTOCOLS:
        return tuple(s for s in protocol_steps(name) if s.movement in DRIVERS)
    raise InputError(f"unknown exercise {name!r}; use one of {', '.join(EXERCISE_NAMES)}")


def plan(steps: tuple[Step, ...], reps: int = DEFAULT_REPS) -> tuple[Phase, ...]:
    """The session's phases, back to back from 0 s.

    Examples
    --------
    >>> phases = plan(EXERCISES["smile"], reps=1)
    >>> [(p.name, p.end_s) for p in phases]
    [('calibrate', 3.0), ('countdown', 6.0), ('hold', 11.0), ('relax', 14.0), ('done', inf)]
    """
    phases = [
        Phase("calibrate", 0.0, CALIBRATE_S, instruction="Calibrating: relax your face and keep still.")
    ]
    t = CALIBRATE_S
    for step in steps:
        for rep in range(1, reps + 1):
            for name, duration, text in (
                ("countdown", COUNTDOWN_S, f"Get ready: {step.instruction}"),
                ("hold", HOLD_S, f"Hold: {step.instruction}"),
                ("relax", RELAX_S, "Relax."),
            ):
                phases.append(Phase(name, t, t + duration, step.movement, text, rep))
                t += duration
    phases.append(Phase("done", t, float("inf"), instruction="Well done: the session is over."))
    return tuple(phases)


def phase_at(phases: tuple[Phase, ...], t_s: float) -> Phase:
    """The phase at ``t_s`` seconds since the session started."""
    starts = np.array([p.start_s for p in phases])
    return phases[max(0, int(np.searchsorted(starts, t_s, side="right")) - 1)]


def bars(values: dict, movement: str, affected: str | None) -> Bars:
    """The voluntary and involuntary bars of one frame's signals (:data:`synkan.live.measure.SIGNALS`).

    Without a known affected side the involuntary bar shows the side that
    narrows more in this frame.

    Examples
    --------
    >>> v = {"mouth_excursion_r": 0.10, "mouth_excursion_l": 0.14}
    >>> v.update(eye_closure_r=0.05, eye_closure_l=0.20)
    >>> b = bars(v, "smile", "left")
    >>> round(b.voluntary_pct, 6), round(b.involuntary_pp, 6), b.involuntary_side
    (12.0, 15.0, 'left')
    """
    signal = DRIVERS.get(movement, _MOUTH_DRIVER)[0]
    both = (values.get(f"{signal}_r", np.nan), values.get(f"{signal}_l", np.nan))
    voluntary = values.get(signal, np.nan) if signal == "mouth_narrowing" else float(np.mean(both))
    responder = "mouth_vertical" if movement in _EYE_MOVEMENTS else "eye_closure"
    right, left = values.get(f"{responder}_r", np.nan), values.get(f"{responder}_l", np.nan)
    side = affected or ("left" if left > right else "right")
    difference = left - right if side == "left" else right - left
    return Bars(100.0 * float(voluntary), 100.0 * float(difference), side)


def rep_result(
    movement: str, rep: int, voluntary_pct: np.ndarray, involuntary_pp: np.ndarray, sides: list[str]
) -> RepResult:
    """One repetition's result from its hold frames' bars.

    Examples
    --------
    >>> vol, invol = np.array([2.0, 9.0, 10.0, 9.5]), np.array([0.0, 3.0, 5.0, 4.0])
    >>> r = rep_result("smile", 1, vol, invol, ["left"] * 4)
    >>> r.peak_voluntary_pct, r.involuntary_pp, r.involuntary_side
    (10.0, 4.0, 'left')
    """
    finite = np.isfinite(voluntary_pct) & np.isfinite(involuntary_pp)
    if not finite.any():
        return RepResult(movement, rep, float("nan"), float("nan"), "")
    peak = float(np.max(voluntary_pct[finite]))
    near = finite & (voluntary_pct >= NEAR_PEAK_SHARE * peak)
    chosen = [s for s, n in zip(sides, near) if n]
    side = max(set(chosen), key=chosen.count)
    return RepResult(movement, rep, peak, float(np.median(involuntary_pp[near])), side)
