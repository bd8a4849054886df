"""Clinical recording protocols: the movement sequences, their instruction sheets, and labelling by sequence.

``sunnybrook``
    The five voluntary movements the Sunnybrook Facial Grading System grades
    (Ross et al. 1996): brow raise, gentle eye closure, open-mouth smile,
    snarl, lip pucker.
``bell``
    The Sir Charles Bell Society standard set: rest, small closed smile,
    big toothy smile, brow raise, gentle eye closure, tight eye closure,
    pucker, bottom teeth, snarl, nasal base.

When a video is known to follow a protocol (``--protocol``), its movement
bouts are matched to the steps in order (:func:`label`), so two movements
that look alike (a small and a big smile, a gentle and a tight closure) still
get their step's name. The matching is an order-preserving alignment
(edit distance): a step whose movement does not look like its bout costs
one, a skipped step or an extra bout costs one. A bout held for less than
the steps' instructed hold (a passing expression) weighs in proportion:
leaving it out costs less, and giving it a step costs more, so a step takes
the real, held movement rather than the first brief one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError


@dataclass(frozen=True)
class Step:
    """One protocol step: the movement, what to tell the patient, how long to hold it."""

    movement: str  # a synkan.grade.movements kind, or "rest"
    instruction: str
    hold_s: float = 3.0
    variant: str = ""


PROTOCOLS: dict[str, tuple[str, tuple[Step, ...]]] = {
    "sunnybrook": ("Sunnybrook Facial Grading System (Ross 1996): the five graded voluntary movements", (
        Step("rest", "Look straight at the camera, face relaxed, lips closed.", 3.0),
        Step("brow_raise", "Raise both eyebrows as high as you can (look surprised).", 3.0),
        Step("gentle_eye_closure", "Close both eyes gently, as if asleep. Do not squeeze.", 3.0),
        Step("smile", "Smile broadly with the mouth open, showing your teeth.", 3.0, "open"),
        Step("snarl", "Wrinkle your nose and raise the upper lip (a snarl or sneer).", 3.0),
        Step("pucker", "Pucker your lips as if to whistle or kiss.", 3.0),
    )),
    "bell": ("Sir Charles Bell Society standard set", (
        Step("rest", "Look straight at the camera, face relaxed, lips closed.", 3.0),
        Step("smile", "Smile gently with the lips closed.", 3.0, "closed"),
        Step("smile", "Give a big smile showing your teeth.", 3.0, "open"),
        Step("brow_raise", "Raise both eyebrows as high as you can.", 3.0),
        Step("gentle_eye_closure", "Close both eyes gently, as if asleep.", 3.0),
        Step("tight_eye_closure", "Screw both eyes shut as tightly as you can.", 3.0),
        Step("pucker", "Pucker your lips as if to whistle or kiss.", 3.0),
        Step("bottom_teeth", "Pull the lower lip down to show your bottom teeth.", 3.0),
        Step("snarl", "Wrinkle your nose and raise the upper lip (a snarl).", 3.0),
        Step("nasal_base", "Flare your nostrils (breathe in hard through the nose).", 3.0),
    )),
}
REST_BETWEEN_S = 2.0  # relax between steps, so each movement is its own bout

# Which detected movement kinds a step may be (a step the detector cannot tell apart fits any mouth movement).
_MOUTH = {"smile", "snarl", "pucker"}
_FITS = {"brow_raise": {"brow_raise"}, "gentle_eye_closure": {"gentle_eye_closure", "tight_eye_closure"},
         "tight_eye_closure": {"tight_eye_closure", "gentle_eye_closure"}, "smile": {"smile"}, "snarl": {"snarl", "smile"},
         "pucker": {"pucker"}, "bottom_teeth": _MOUTH, "nasal_base": _MOUTH | {"snarl"}}
# Mismatch costs: the step's movement is one the detector can confuse with the bout's.
_EXACT, _VARIANT, _CONFUSABLE, _MISMATCH, _SKIP = 0.0, 0.25, 0.5, 1.5, 1.0


def protocol_steps(name: str) -> tuple[Step, ...]:
    """The steps of a protocol, or a one-line InputError naming the known ones."""
    if name not in PROTOCOLS:
        raise InputError(f"unknown protocol {name!r}; use one of {', '.join(PROTOCOLS)}")
    return PROTOCOLS[name][1]


def _cost(step: Step, kind: str, variant: str = "") -> float:
    if step.movement == kind:
        # A closed smile found where the step wants an open one (or the reverse) still fits, a little worse.
        return _EXACT if not (step.variant and variant) or step.variant == variant else _VARIANT
    return _CONFUSABLE if kind in _FITS[step.movement] else _MISMATCH


def bout_weights(steps: list[Step], durations: list[float]) -> list[float]:
    """How much each bout counts, 0-1: its duration over the steps' shortest instructed hold.

    Examples
    --------
    >>> bout_weights([Step("smile", "", 3.0)], [1.5, 5.0])
    [0.5, 1.0]
    """
    full = min(step.hold_s for step in steps)
    return [float(np.clip(d / full, 0.0, 1.0)) for d in durations]


def align(steps: list[Step], kinds: list[str], variants: list[str] | None = None,
          weights: list[float] | None = None) -> list[tuple[int | None, int | None]]:
    """Order-preserving alignment of protocol steps to detected kinds: ``(step index, bout index)`` pairs.

    ``None`` on one side is a skipped step or an extra bout. ``variants``
    (``open`` / ``closed`` smiles) break ties between steps of one movement.
    ``weights`` (:func:`bout_weights`, default 1) make a brief bout cheap
    to leave out and costly to give a step.

    Examples
    --------
    >>> steps = [Step("brow_raise", ""), Step("gentle_eye_closure", ""), Step("smile", "")]
    >>> align(steps, ["brow_raise", "smile"])
    [(0, 0), (1, None), (2, 1)]
    >>> align([Step("smile", "")], ["smile", "smile"], weights=[0.3, 1.0])
    [(None, 0), (0, 1)]
    """
    n, m = len(steps), len(kinds)
    variants = variants or [""] * m
    weights = weights or [1.0] * m
    match = lambda i, j: _cost(steps[i], kinds[j], variants[j]) + _SKIP * (1.0 - weights[j])  # noqa: E731
    cost = np.zeros((n + 1, m + 1))
    cost[:, 0] = np.arange(n + 1) * _SKIP
    cost[0, :] = np.r_[0.0, np.cumsum(weights)] * _SKIP
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i, j] = min(cost[i - 1, j - 1] + match(i - 1, j - 1), cost[i - 1, j] + _SKIP,
                             cost[i, j - 1] + _SKIP * weights[j - 1])
    pairs: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i or j:
        if i and j and np.isclose(cost[i, j], cost[i - 1, j - 1] + match(i - 1, j - 1)):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and np.isclose(cost[i, j], cost[i - 1, j] + _SKIP):
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    return pairs[::-1]


def label(table: pd.DataFrame, protocol: str) -> tuple[pd.DataFrame, dict]:
    """Rename detected movements to the protocol's steps, matched in order.

    Parameters
    ----------
    table : pandas.DataFrame
        Movements (:attr:`synkan.grade.movements.Movements.table`), in time order.
        User-given rows keep their kind, and are matched like the others.
    protocol : {"sunnybrook", "bell"}

    Returns
    -------
    table : pandas.DataFrame
        Matched rows with the step's movement as ``kind``, ``source``
        ``protocol`` (``user`` for user rows) and ``step`` (1-based, counting
        the rest step); extra movements keep their detected kind, ``step`` NaN.
    info : dict
        ``protocol``, ``missing`` (steps without a movement) and ``extra``
        (movements beyond the protocol) as lists of labels.
    """
    numbers = [k + 1 for k, s in enumerate(protocol_steps(protocol)) if s.movement != "rest"]  # as on the sheet
    steps = [protocol_steps(protocol)[k - 1] for k in numbers]
    table = table.reset_index(drop=True).copy()
    missing, extra = [], []
    variants = table["variant"].fillna("").tolist() if "variant" in table else None
    weights = bout_weights(steps, (table["end_s"] - table["start_s"]).tolist())
    for step_i, row_i in align(steps, table["kind"].tolist(), variants, weights):
        if row_i is None:
            missing.append(f"step {numbers[step_i]}: {steps[step_i].movement}")
        elif step_i is None:
            extra.append(f"{table.at[row_i, 'kind']} at {table.at[row_i, 'start_s']:.1f} s")
        else:
            table.at[row_i, "kind"] = steps[step_i].movement
            table.at[row_i, "step"] = numbers[step_i]
            if table.at[row_i, "source"] == "auto":
                table.at[row_i, "source"] = "protocol"
    return table, {"protocol": protocol, "missing": missing, "extra": extra}


def instruction_sheet(name: str) -> str:
    """The protocol as a plain-text sheet to hand to whoever films the patient.

    Examples
    --------
    >>> print(instruction_sheet("sunnybrook").splitlines()[0])
    Recording protocol: Sunnybrook Facial Grading System (Ross 1996): the five graded voluntary movements
    """
    title, steps = PROTOCOLS[name][0], protocol_steps(name)
    total = sum(s.hold_s for s in steps) + REST_BETWEEN_S * (len(steps) - 1)
    lines = [f"Recording protocol: {title}", "",
             "Camera: at eye level, about 1 m away, the face filling a third or more of the frame, both ears",
             "visible, even front light, no glasses. Record continuously (about "
             f"{total:.0f} s); do not pause between steps.",
             f"Before each step, relax the face for {REST_BETWEEN_S:.0f} s. Hold each movement for its time, then relax.",
             "The person filming reads each instruction aloud:", ""]
    for k, step in enumerate(steps, 1):
        lines.append(f"{k:2d}. {step.instruction}  (hold {step.hold_s:.0f} s)")
    lines += ["", f"Analyse with: synkan analyze VIDEO --protocol {name}",
              "Keep the steps in this order: synkan names each movement by its place in the sequence."]
    return "\n".join(lines)
