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

Movements that overlap in time form one bout, named after the movement that
exceeds its own detection threshold the most. ``--segments`` spans
(``brow:1-3,gentle_close:4-6,snarl:9-11``) replace detection where they lie,
and a protocol (:mod:`synkan.grade.protocols`) renames bouts to the steps the video
is known to follow.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import (
    BROW_RAISE_MIN_IOD, EVENT_MIN_GAP_S, OPEN_MOUTH_GAP_IOD, SNARL_LATERAL_WEIGHT, SNARL_MIN_IOD, TIGHT_SQUEEZE_IOD,
)
from .series import peak_masks
from .events import Events, parse_segments
from .series import merge_runs, finite_mean, hysteresis_runs, thresholds
from ..measure.signals import Signals

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
        # The lip rises in a smile too, but there the corners move outward as much.
        outward = np.clip(_mean(signals, "mouth_lateral"), 0.0, None)
        return _mean(signals, "upper_lip_raise") - SNARL_LATERAL_WEIGHT * outward
    column = {"brow": "brow_raise", "eye": "eye_closure", "midface": "cheek_raise", "upper_lip": "upper_lip_raise",
              "chin": "chin_raise"}[VOLUNTARY_REGION[kind]]
    return _mean(signals, column)


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


def _candidates(signals: Signals, events: Events) -> pd.DataFrame:
    """Every movement found, with its strength relative to its own detection threshold."""
    t = signals.t
    ok = signals.data["pose_ok"].to_numpy()
    rows = []
    for kind, floor in (("brow_raise", BROW_RAISE_MIN_IOD), ("snarl", SNARL_MIN_IOD)):
        x = np.where(ok, driver(signals, kind), np.nan)
        hi, lo = thresholds(x, floor)
        for a, b in merge_runs(hysteresis_runs(x, hi, lo), t, EVENT_MIN_GAP_S):
            if t[b - 1] - t[a] >= MOVEMENT_MIN_S:
                rows.append(dict(kind=kind, start_s=float(t[a]), end_s=float(t[b - 1]), strength=float(np.nanmax(x[a:b])) / hi))
    for ev in events.of("eye_closure", "smile", "pucker").itertuples():
        high = events.info.get({"eye_closure": "eye", "smile": "smile", "pucker": "pucker"}[ev.kind], {}).get("high")
        strength = ev.peak / high if high else 1.0
        kind = ev.kind
        if kind == "eye_closure":
            kind = f"{_variant(signals, 'eye_closure', ev.start_s, ev.end_s)}_eye_closure"
        rows.append(dict(kind=kind, start_s=float(ev.start_s), end_s=float(ev.end_s), strength=float(strength)))
    return pd.DataFrame(rows, columns=["kind", "start_s", "end_s", "strength"]).sort_values("start_s", kind="stable")


def bouts(table: pd.DataFrame) -> list[pd.DataFrame]:
    """Groups of movements that overlap in time (each a DataFrame of rows), in time order.

    Examples
    --------
    >>> rows = pd.DataFrame({"start_s": [1.0, 1.5, 4.0], "end_s": [2.0, 2.5, 5.0]})
    >>> [len(b) for b in bouts(rows)]
    [2, 1]
    """
    groups: list[list[int]] = []
    end = -np.inf
    for i, row in enumerate(table.itertuples()):
        if groups and row.start_s <= end:
            groups[-1].append(i)
            end = max(end, row.end_s)
        else:
            groups.append([i])
            end = row.end_s
    return [table.iloc[g] for g in groups]


def _row(signals: Signals, kind: str, start_s: float, end_s: float, source: str) -> dict:
    t = signals.t
    x = driver(signals, kind)
    inside = (t >= start_s) & (t <= end_s) & np.isfinite(x)
    peak_s = float(t[inside][np.argmax(x[inside])]) if inside.any() else start_s
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
        The sequence the video follows; bouts are renamed to its steps
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
    spans = [(kind, s0, s1) for kind, s0, s1 in parse_segments(segments) if kind != "blink"] if segments else []
    if spans:
        free = [not any(min(r.end_s, s1) > max(r.start_s, s0) for _, s0, s1 in spans) for r in found.itertuples()]
        found = found[free]
    rows = []
    for bout in bouts(found):
        best = bout.iloc[int(np.argmax(bout["strength"].to_numpy()))]
        rows.append(_row(signals, best["kind"], float(bout["start_s"].min()), float(bout["end_s"].max()), "auto"))
    for kind, s0, s1 in spans:
        kind = "gentle_eye_closure" if kind == "eye_closure" else kind
        rows.append(_row(signals, kind, s0, min(s1, float(signals.t[-1])), "user"))
    table = pd.DataFrame(rows, columns=COLUMNS).sort_values("start_s", kind="stable").reset_index(drop=True)
    info = {"brow_raise_min_iod": BROW_RAISE_MIN_IOD, "snarl_min_iod": SNARL_MIN_IOD, "tight_squeeze_iod": TIGHT_SQUEEZE_IOD,
            "open_mouth_gap_iod": OPEN_MOUTH_GAP_IOD}
    if protocol:
        from .protocols import label

        table, matching = label(table, protocol)
        table = pd.DataFrame([_row(signals, r.kind, r.start_s, r.end_s, r.source) | {"step": r.step}
                              for r in table.itertuples()], columns=COLUMNS)
        info.update(matching)
    return Movements(table, info)
