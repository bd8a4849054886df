"""The synkinesis matrix: every movement x region x side.

For each kind of movement in the video (:mod:`synkan.grade.movements`) the driver is
the movement's own region, both sides' mean (the brows in a brow raise, the
mouth corners in a smile...). Every region on each side is a responder
(:mod:`synkan.measure.regions`), in millimetres through the iris. Per cell:

* ``moves_mm``: the responder's median value at the movement's peaks (the
  driver within 80% of its maximum), median over the movement's events;
* ``r``, ``lag_s``: the peak normalised cross-correlation with the driver
  within the movement's windows (other movements masked), as in
  :mod:`synkan.grade.coupling`; graded cells must be time-locked;
* per movement and region, the side difference (``difference_mm``, the
  side moving more minus the other, paired per event, with its standard
  error) against the healthy range of that region (``healthy_mm``).

Healthy faces move both sides together (a smile narrows both eyes by about
22%), so only the side difference says anything about synkinesis, and
``excess`` (how many healthy ranges the difference lies beyond it) is what the
at-a-glance figure colours.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..config import EVENT_PAD_S, HEALTHY_SIDE_DIFFERENCE_MM, LAG_WINDOW_S
from ..measure.regions import REGION_COLUMN, REGION_LABELS, REGIONS, to_mm
from ..measure.signals import Signals
from .coupling import Coupling, remove_blinks, xcorr_peak
from .events import Events
from .grades import side_difference, time_locked
from .movements import MOVEMENT_KINDS, VOLUNTARY_REGION, Movements, driver
from .series import normalized_xcorr, value_at_peaks

SIDE_NAMES = {"r": "right", "l": "left"}


@dataclass(frozen=True)
class Matrix:
    """Movement x region x side measurements.

    Attributes
    ----------
    cells : pandas.DataFrame
        One row per movement, region and side: ``movement``, ``region``
        (report.json's key), ``region_label`` (its display name,
        :data:`~synkan.measure.regions.REGION_LABELS`: ``midface`` is the
        cheek, ``mouth`` the mouth corner), ``side``, ``voluntary`` (the movement's own region), ``moves_mm``,
        ``r``, ``lag_s`` (time-locked, see :func:`synkan.grade.grades.time_locked`),
        ``n_events``.
    voluntary : pandas.DataFrame
        One row per movement and side: ``moves_mm``, the movement's own
        pull on that side at its peaks (a pucker: the corner moving inward).
    differences : pandas.DataFrame
        One row per movement and region (with ``region_label``): ``more_side`` (the side moving
        more), ``difference_mm``, ``difference_se_mm``, ``healthy_mm``,
        ``excess`` ((difference - SE) / healthy range; above 1 is outside it).
    info : dict
        ``mm_per_iod`` and the rest fissures (the millimetre calibration).
    """

    cells: pd.DataFrame
    voluntary: pd.DataFrame
    differences: pd.DataFrame
    info: dict = field(default_factory=dict)

    def cell(self, movement: str, region: str, side: str) -> dict | None:
        """One cell as a dict (``side``: ``right``/``left``), or None."""
        rows = self.cells[(self.cells.movement == movement) & (self.cells.region == region) & (self.cells.side == side)]
        return rows.iloc[0].to_dict() if len(rows) else None

    def difference(self, movement: str, region: str) -> dict | None:
        """One side difference as a dict, or None."""
        rows = self.differences[(self.differences.movement == movement) & (self.differences.region == region)]
        return rows.iloc[0].to_dict() if len(rows) else None

    def to_records(self) -> list[dict]:
        """report.json's ``matrix``: per movement and region, both sides and the difference."""
        out = []
        for d in self.differences.itertuples():
            entry = {"movement": d.movement, "region": d.region, "voluntary": bool(VOLUNTARY_REGION[d.movement] == d.region)}
            for side in ("right", "left"):
                c = self.cell(d.movement, d.region, side)
                entry[side] = {k: _round(c[k]) for k in ("moves_mm", "r", "lag_s")} | {"n_events": int(c["n_events"])}
            # pandas turns a column of None into NaN: a side is a name or None.
            entry.update(more_side=d.more_side if isinstance(d.more_side, str) else None, difference_mm=_round(d.difference_mm),
                         difference_se_mm=_round(d.difference_se_mm), healthy_mm=d.healthy_mm, excess=_round(d.excess))
            out.append(entry)
        return out


def _round(x, digits: int = 3):
    return None if x is None or not np.isfinite(x) else round(float(x), digits)


def responder_mm(signals: Signals, events: Events, region: str, side: str) -> np.ndarray:
    """One region's signal on one side (``r``/``l``) in millimetres; eye closures without blinks or sideways
    gaze."""
    x = signals[f"{REGION_COLUMN[region]}_{side}"]
    if region == "eye":
        x = remove_blinks(signals.t, x, events.of("blink"))
        if "gaze_ok" in signals.data:
            x = np.where(signals.data["gaze_ok"].to_numpy(bool), x, np.nan)
    mm = to_mm(region, x, side, signals.info.get("regions") or {})
    return np.full(len(x), np.nan) if mm is None else mm


def _own_pull(signals: Signals, kind: str, side: str) -> np.ndarray:
    """The movement's own pull on one side, in its region's units."""
    if kind == "pucker":
        return -signals[f"mouth_lateral_{side}"]  # the corner moves in
    if kind == "smile":
        return signals[f"mouth_excursion_{side}"]
    return signals[f"{REGION_COLUMN[VOLUNTARY_REGION[kind]]}_{side}"]


def _spans(t: np.ndarray, rows: pd.DataFrame, pad_s: float) -> np.ndarray:
    """Frames within the rows' spans widened by ``pad_s``."""
    mask = np.zeros(len(t), bool)
    for r in rows.itertuples():
        mask |= (t >= r.start_s - pad_s) & (t <= r.end_s + pad_s)
    return mask


def matrix_process(signals: Signals, events: Events, movements: Movements, lag_window_s: float = LAG_WINDOW_S) -> Matrix:
    """Measure every movement x region x side of a video.

    Parameters
    ----------
    signals : Signals
    events : Events
        For the blinks removed from the eye responder.
    movements : Movements
    lag_window_s : float
        Cross-correlation lags searched, +/- seconds.

    Returns
    -------
    Matrix

    Examples
    --------
    >>> m = matrix_process(sig, ev, movements_process(sig, ev))  # doctest: +SKIP
    >>> m.difference("smile", "eye")["difference_mm"]  # doctest: +SKIP
    1.9
    """
    t = signals.t
    info = signals.info.get("regions") or {}
    dt = float(np.median(np.diff(t)))
    max_lag = max(1, int(round(lag_window_s / dt)))
    pose_ok = signals.data["pose_ok"].to_numpy(bool)
    responders = {(region, s): responder_mm(signals, events, region, s) for region in REGIONS for s in "rl"}
    cells, differences, voluntary = [], [], []
    table = movements.table
    for kind in dict.fromkeys(table["kind"]):
        if kind not in MOVEMENT_KINDS:
            continue  # a protocol step synkan cannot measure (bottom teeth, nasal base)
        own, others = table[table.kind == kind], table[table.kind != kind]
        x = driver(signals, kind)
        window = _spans(t, own, EVENT_PAD_S) & ~_spans(t, others, 0.0) & pose_ok
        # Within EVENT_PAD_S of another movement a region may still (or
        # already) carry that movement: those frames measure neither.
        clear = ~_spans(t, others, EVENT_PAD_S)
        for s in "rl":
            mm = to_mm(VOLUNTARY_REGION[kind], value_at_peaks(t, x, _own_pull(signals, kind, s), own)[0], s, info)
            voluntary.append(dict(movement=kind, side=SIDE_NAMES[s], moves_mm=np.nan if mm is None else mm))
        for region in REGIONS:
            sides = {}
            own_responders = {s: np.where(clear, responders[(region, s)], np.nan) for s in "rl"}
            for s in "rl":
                y = own_responders[s]
                moves, n = value_at_peaks(t, x, y, own)
                side = xcorr_peak(*normalized_xcorr(x, y, window, max_lag), dt, n)
                sides[SIDE_NAMES[s]] = side
                r_locked, lag_locked = time_locked(side)
                cells.append(dict(movement=kind, region=region, side=SIDE_NAMES[s], voluntary=VOLUNTARY_REGION[kind] == region,
                                  moves_mm=moves, r=np.nan if r_locked is None else r_locked,
                                  lag_s=np.nan if lag_locked is None else lag_locked, n_events=n))
            coupling = Coupling(kind, sides, t, x, {"right": own_responders["r"], "left": own_responders["l"]},
                                window, None, own)
            found = side_difference(coupling)
            healthy = HEALTHY_SIDE_DIFFERENCE_MM[region]
            if found is None:
                differences.append(dict(movement=kind, region=region, more_side=None, difference_mm=np.nan,
                                        difference_se_mm=np.nan, healthy_mm=healthy, excess=np.nan))
                continue
            more, difference, se = found  # in 100 x mm (side_difference reports percentage points)
            difference, se = difference / 100.0, (se or 0.0) / 100.0
            differences.append(dict(movement=kind, region=region, more_side=more, difference_mm=difference,
                                    difference_se_mm=se, healthy_mm=healthy, excess=(difference - se) / healthy))
    cells = pd.DataFrame(cells, columns=["movement", "region", "side", "voluntary", "moves_mm", "r", "lag_s",
                                         "n_events"])
    differences = pd.DataFrame(differences, columns=["movement", "region", "more_side", "difference_mm",
                                                     "difference_se_mm", "healthy_mm", "excess"])
    for frame in (cells, differences):
        frame.insert(2, "region_label", frame["region"].map(REGION_LABELS))
    voluntary = pd.DataFrame(voluntary, columns=["movement", "side", "moves_mm"])
    return Matrix(cells, voluntary, differences, dict(info))
