"""The clinic's standard movements: brow raise, gentle and tight eye closure, smile, snarl, pucker.

Facial grading scales (Sunnybrook, eFACE, the Sir Charles Bell Society set)
grade synkinesis *during named voluntary movements*. This stage names them:

``brow_raise``
    Both brows up (frontalis): the mean ``brow_raise`` above
    :data:`~synkan.config.BROW_RAISE_MIN_IOD`.
``gentle_eye_closure`` / ``tight_eye_closure``
    A voluntary eye closure (:mod:`synkan.grade.events`); it is tight when the
    orbital part of orbicularis oculi squeezes, pulling the brows down
    and the cheeks up (:data:`~synkan.config.TIGHT_SQUEEZE_IOD`).
``smile``
    A smile event; ``variant`` is ``open`` when the lips part
    (:data:`~synkan.config.OPEN_MOUTH_GAP_IOD`, teeth showing), else ``closed``.
``snarl``
    The upper lip raised (levator labii superioris) much more than the mouth
    corners move outward: a smile widens the mouth, a snarl lifts the lip.
``pucker``
    A pucker event (the mouth narrows).

Movements that overlap in time do not merge: a pucker (the events' pucker)
always stands, and of the others the one that exceeds its own detection
threshold the most keeps its span (:func:`exclusive`). ``--segments`` spans
(``brow:1-3,gentle_close:4-6,snarl:9-11``) replace detection where they lie,
and a protocol (:mod:`synkan.grade.protocols`) renames movements to the steps the video
is known to follow.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import (
    BROW_BASELINE_S,
    BROW_RAISE_MIN_IOD,
    EVENT_MIN_GAP_S,
    OPEN_MOUTH_GAP_IOD,
    SNARL_LATERAL_WEIGHT,
    SNARL_MIN_IOD,
    TIGHT_SQUEEZE_IOD,
    VOLUNTARY_MAX_S,
)
from ..measure.signals import Signals
from .events import Events, blink_frames, parse_segments
from .series import finite_mean, hysteresis_runs, merge_runs, peak_index, peak_masks, span_mask, thresholds

MOVEMENT_KINDS = ("brow_raise", "gentle_eye_closure", "tight_eye_closure", "smile", "snarl", "pucker")
MOVEMENT_LABELS = {"brow_raise": "brow raise", "gentle_eye_closure": "gentle eye closure",
                   "tight_eye_closure": "tight eye closure", "smile": "smile", "snarl": "snarl", "pucker": "lip pucker",
                   "bottom_teeth": "show bottom teeth", "nasal_base": "nasal base (flare nostrils)"}
# The region each movement moves on purpose (its driver's region).
VOLUNTARY_REGION = {"brow_raise": "brow", "gentle_eye_closure": "eye", "tight_eye_closure": "eye", "smile": "mouth",
                    "snarl": "upper_lip", "pucker": "mouth", "bottom_teeth": "chin", "nasal_base": "midface"}
MOVEMENT_MIN_S = 0.3  # a held movement; shorter bumps are blinks or jitter
COLUMNS = ["kind", "variant", "start_s", "end_s", "duration_s", "peak_s", "source", "step"]


@dataclass(frozen=True)
class Movements:
    """The named voluntary movements of a video.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per movement: ``kind`` (:data:`MOVEMENT_KINDS`, or a protocol
        step's movement), ``variant`` (``open`` / ``closed`` for smiles),
        ``start_s``, ``end_s``, ``duration_s``, ``peak_s``, ``source``
        (``auto``, ``user`` or ``protocol``) and ``step`` (the protocol step
        number, 1-based; NaN without a protocol).
    info : dict
        Thresholds used, and the protocol's matching (``protocol``,
        ``missing`` steps, ``extra`` movements).
    """

    table: pd.DataFrame
    info: dict = field(default_factory=dict)

    def of(self, *kinds: str) -> pd.DataFrame:
        """Rows of the given kinds."""
        return self.table[self.table["kind"].isin(kinds)]

    def counts(self) -> dict[str, int]:
        """Number of movements per kind (every kind of :data:`MOVEMENT_KINDS`, zero if none)."""
        return {k: int((self.table["kind"] == k).sum()) for k in MOVEMENT_KINDS}


def _mean(signals: Signals, column: str) -> np.ndarray:
    return finite_mean(np.vstack([signals[f"{column}_r"], signals[f"{column}_l"]]), axis=0)


def driver(signals: Signals, kind: str) -> np.ndarray:
    """The bilateral signal a movement drives (its voluntary region, both sides' mean).

    Examples
    --------
    >>> driver(sig, "snarl")  # doctest: +SKIP
    array([0.001, 0.002, ...])
    """
    if kind == "pucker":
        return signals["mouth_narrowing"]
    if kind == "smile":
        return _mean(signals, "mouth_excursion")
    if kind == "snarl":
        # The lip rises in a smile too, but there the corners move outward.
        outward = np.clip(_mean(signals, "mouth_lateral"), 0.0, None)
        return _mean(signals, "upper_lip_raise") - SNARL_LATERAL_WEIGHT * outward
    if kind == "brow_raise":
        return _above_baseline(signals.t, _mean(signals, "brow_raise"))
    column = {"brow": "brow_raise", "eye": "eye_closure", "midface": "cheek_raise", "upper_lip": "upper_lip_raise",
              "chin": "chin_raise"}[VOLUNTARY_REGION[kind]]
    return _mean(signals, column)


def _above_baseline(t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``x`` less its running median over :data:`~synkan.config.BROW_BASELINE_S` (slow drift removed)."""
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    window = max(1, int(round(BROW_BASELINE_S / dt)))
    baseline = pd.Series(x).rolling(window, center=True, min_periods=1).median().to_numpy()
    return x - baseline


def _at_peak(signals: Signals, x: np.ndarray, kind: str, start_s: float, end_s: float) -> float:
    """Median of ``x`` over the frames where the movement's driver is near its peak."""
    t = signals.t
    row = pd.DataFrame({"start_s": [start_s], "end_s": [end_s]})
    masks = peak_masks(t, driver(signals, kind), row, x)
    return float(np.median(x[masks[0]])) if masks and masks[0].any() else float("nan")


def _variant(signals: Signals, kind: str, start_s: float, end_s: float) -> str:
    """``tight`` / ``gentle`` for closures, ``open`` / ``closed`` for smiles, else ``""``."""
    if kind == "eye_closure":
        squeeze = _mean(signals, "cheek_raise") - _mean(signals, "brow_raise")
        return "tight" if _at_peak(signals, squeeze, "gentle_eye_closure", start_s, end_s) >= TIGHT_SQUEEZE_IOD else "gentle"
    if kind == "smile":
        return "open" if _at_peak(signals, signals["lip_gap"], "smile", start_s, end_s) >= OPEN_MOUTH_GAP_IOD else "closed"
    return ""


def _own_runs(signals: Signals, events: Events, kind: str, floor: float) -> list[dict]:
    """The brow raises or snarls in a video, each with its strength (peak over the detection threshold).

    The brows are not read during blinks (the lid moves the eye centre they
    are measured from): they are bridged from either side; a snarl never claims a smile's or a pucker's frames
    (both lift the upper lip too). Runs longer than
    :data:`~synkan.config.VOLUNTARY_MAX_S` are a posture or drift, not a movement.
    """
    t = signals.t
    x = np.where(signals.data["pose_ok"].to_numpy(), driver(signals, kind), np.nan)
    if kind == "brow_raise":
        x = _bridged(x, blink_frames(t, events.table))
    else:
        x[span_mask(t, events.of("smile", "pucker"), EVENT_MIN_GAP_S)] = np.nan
    hi, lo = thresholds(x, floor)
    return [dict(kind=kind, start_s=float(t[a]), end_s=float(t[b - 1]),
                 strength=float(np.nanmax(x[a:b])) / hi)
            for a, b in merge_runs(hysteresis_runs(x, hi, lo), t, EVENT_MIN_GAP_S)
            if MOVEMENT_MIN_S <= t[b - 1] - t[a] <= VOLUNTARY_MAX_S]


def _bridged(x: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """``x`` with the ``gaps`` frames replaced by a straight line between the finite samples either side."""
    known = np.flatnonzero(np.isfinite(x) & ~gaps)
    if known.size < 2:
        return np.where(gaps, np.nan, x)
    return np.where(gaps, np.interp(np.arange(len(x)), known, x[known]), x)


def _candidates(signals: Signals, events: Events) -> pd.DataFrame:
    """Every movement found, with its strength relative to its own detection threshold."""
    rows = (_own_runs(signals, events, "brow_raise", BROW_RAISE_MIN_IOD)
            + _own_runs(signals, events, "snarl", SNARL_MIN_IOD))
    for ev in events.of("eye_closure", "smile", "pucker").itertuples():
        high = events.info.get({"eye_closure": "eye", "smile": "smile", "pucker": "pucker"}[ev.kind], {}).get("high")
        strength = ev.peak / high if high else 1.0
        kind = ev.kind
        if kind == "eye_closure":
            kind = f"{_variant(signals, 'eye_closure', ev.start_s, ev.end_s)}_eye_closure"
        rows.append(dict(kind=kind, start_s=float(ev.start_s), end_s=float(ev.end_s), strength=float(strength)))
    return pd.DataFrame(rows, columns=["kind", "start_s", "end_s", "strength"]).sort_values("start_s", kind="stable")


def exclusive(table: pd.DataFrame) -> pd.DataFrame:
    """The movements that do not overlap a stronger one, in time order.

    Every pucker is kept first: a pucker is the events' pucker (the mouth
    narrows, which neither a smile nor a snarl does), so the puckers graded
    are the puckers in events.csv. The others are taken from the strongest
    down (``strength``: peak over the movement's own detection threshold),
    each with its own span, so a chain of overlapping movements never merges
    into one long one.

    Examples
    --------
    >>> rows = pd.DataFrame({"kind": ["brow_raise", "pucker", "smile", "smile"],
    ...                      "start_s": [0.0, 1.5, 1.8, 4.0], "end_s": [2.0, 2.5, 3.0, 5.0],
    ...                      "strength": [3.0, 1.2, 2.0, 1.5]})
    >>> exclusive(rows)["kind"].tolist()
    ['pucker', 'smile']
    """
    later = table["kind"] != "pucker"
    order = table.assign(later=later).sort_values(["later", "strength"], ascending=[True, False])
    kept: list[tuple[float, float]] = []
    keep = []
    for index, start, end in zip(order.index, order["start_s"], order["end_s"]):
        if not any(min(end, e) > max(start, s) for s, e in kept):
            kept.append((start, end))
            keep.append(index)
    return table.loc[keep].sort_values("start_s", kind="stable")


def _row(signals: Signals, kind: str, start_s: float, end_s: float, source: str, avoid: np.ndarray) -> dict:
    """A movement row; its peak is the driver's largest value in the span off the ``avoid`` (blink) frames."""
    t = signals.t
    inside = np.flatnonzero((t >= start_s) & (t <= end_s))
    peak_s = start_s
    if inside.size:
        peak_s = float(t[peak_index(driver(signals, kind), inside[0], inside[-1] + 1, avoid)])
    return dict(kind=kind, variant=_variant(signals, kind, start_s, end_s), start_s=start_s, end_s=end_s,
                duration_s=end_s - start_s, peak_s=peak_s, source=source, step=np.nan)


def movements_process(signals: Signals, events: Events, segments: str | Path | None = None,
                      protocol: str | None = None) -> Movements:
    """Find and name the video's voluntary movements.

    Parameters
    ----------
    signals : Signals
    events : Events
        The voluntary events (:func:`synkan.grade.events.events_process`); its eye
        closures, smiles and puckers are movements here too.
    segments : str or Path, optional
        User spans (:func:`synkan.grade.events.parse_segments`); movement kinds
        among them replace detection within their spans.
    protocol : {"sunnybrook", "bell"}, optional
        The sequence the video follows; movements are renamed to its steps
        (:func:`synkan.grade.protocols.label`).

    Returns
    -------
    Movements

    Examples
    --------
    >>> mv = movements_process(sig, ev, protocol="sunnybrook")  # doctest: +SKIP
    >>> mv.table[["kind", "start_s", "end_s", "step"]]  # doctest: +SKIP
    """
    found = _candidates(signals, events)
    avoid = blink_frames(signals.t, events.table)
    spans = [(kind, s0, s1) for kind, s0, s1 in parse_segments(segments) if kind != "blink"] if segments else []
    if spans:
        free = [not any(min(r.end_s, s1) > max(r.start_s, s0) for _, s0, s1 in spans) for r in found.itertuples()]
        found = found[free]
    rows = [_row(signals, r.kind, r.start_s, r.end_s, "auto", avoid) for r in exclusive(found).itertuples()]
    for kind, s0, s1 in spans:
        kind = "gentle_eye_closure" if kind == "eye_closure" else kind
        rows.append(_row(signals, kind, s0, min(s1, float(signals.t[-1])), "user", avoid))
    table = pd.DataFrame(rows, columns=COLUMNS).sort_values("start_s", kind="stable").reset_index(drop=True)
    info = {"brow_raise_min_iod": BROW_RAISE_MIN_IOD, "snarl_min_iod": SNARL_MIN_IOD, "tight_squeeze_iod": TIGHT_SQUEEZE_IOD,
            "open_mouth_gap_iod": OPEN_MOUTH_GAP_IOD}
    if protocol:
        from .protocols import label

        table, matching = label(table, protocol)
        table = pd.DataFrame([_row(signals, r.kind, r.start_s, r.end_s, r.source, avoid) | {"step": r.step}
                              for r in table.itertuples()], columns=COLUMNS)
        info.update(matching)
    return Movements(table, info)
