"""Voluntary driver vs involuntary responder, per side.

Two directions:

``oral_ocular``
    Driver: bilateral mouth movement (smiles and puckers). Responder: that
    side's ``eye_closure`` with blinks removed.
``ocular_oral``
    Driver: bilateral eye closure (blinks and closures). Responder: that
    side's mouth-corner lift, ``mouth_vertical``. The lift is signed, so
    tracking noise averages out; the unsigned excursion grows with any
    jitter, and lateral corner drift during eye closure (seen on both sides,
    synkinesis or not) would dilute the side difference.

Within windows around the driver's events, each side gets the peak
normalised cross-correlation ``r`` over lags of +/- ``lag_window_s`` and its
``lag_s`` (positive: the responder follows the driver), the least-squares
``gain`` at that lag, and the ``involuntary_pct``: the responder's median
value at the driver's event peaks, in percent (eye closure, or corner
lift in % of the inter-ocular distance). True synkinesis is
time-locked, so a large lag argues against it.

The other direction's driver events are masked out of each window as
confounds. Events only ever hold voluntary movements (see
:func:`synkan.grade.events.responses`): an eye shutting during a smile is not an
``eye_closure`` event, so it stays in the oral-ocular analysis as the
responder, however large; only closures without the mouth movement, or given
by the user's protocol, are masked. Likewise a mouth movement made while the
eyes are shut stays in the ocular-oral analysis.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ..config import BLINK_MASK_PAD_S, EVENT_PAD_S, LAG_WINDOW_S, MIN_EVENTS
from ..measure.signals import SIDES, Signals
from .events import Events, eye_driver, mouth_driver
from .series import lagged_gain, normalized_xcorr, span_mask, subsample_offset, value_at_peaks

DIRECTIONS = ("oral_ocular", "ocular_oral")
# The voluntary movements that drive each direction, scored one by one
# (synkan.grade.grades): real synkinesis follows some movements more than others.
DRIVER_MOVEMENTS = {"oral_ocular": ("smile", "pucker", "snarl"), "ocular_oral": ("blink", "eye_closure")}
MIN_WINDOW_S = 1.0  # less in-window time than this gives no correlation


@dataclass(frozen=True)
class SideCoupling:
    """Coupling of one side's responder to the driver (None: too little data)."""

    r: float | None
    lag_s: float | None
    gain: float | None
    involuntary_pct: float | None
    n_events: int
    lags_s: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    xcorr: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))

    def to_dict(self) -> dict:
        """The report.json fields."""
        return {"r": self.r, "lag_s": self.lag_s, "gain": self.gain, "involuntary_pct": self.involuntary_pct,
                "n_events": self.n_events}


@dataclass(frozen=True)
class Coupling:
    """Both sides' coupling in one direction, plus the series behind it (uniform time grid)."""

    direction: str
    sides: dict[str, SideCoupling]
    t: np.ndarray = field(repr=False)
    driver: np.ndarray = field(repr=False)
    responders: dict[str, np.ndarray] = field(repr=False)
    window: np.ndarray = field(repr=False)
    reason: str | None = None  # why the values are None, when they are
    driver_events: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)



def remove_blinks(t: np.ndarray, x: np.ndarray, blinks, pad_s: float = BLINK_MASK_PAD_S) -> np.ndarray:
    """Replace blink spans (plus padding) by linear interpolation across them."""
    out = np.asarray(x, float).copy()
    masked = span_mask(t, blinks, pad_s)
    keep = ~masked & np.isfinite(out)
    if masked.any() and keep.sum() >= 2:
        out[masked] = np.interp(t[masked], t[keep], out[keep])
    return out



def xcorr_peak(lags: np.ndarray, r: np.ndarray, dt: float, n_events: int = 0) -> SideCoupling:
    """The peak of a lag correlation (:func:`normalized_xcorr`) as a :class:`SideCoupling`.

    ``r`` and ``lag_s`` (refined between samples, :func:`subsample_offset`)
    at the best lag; both None when no lag has data. ``gain`` and
    ``involuntary_pct`` are left None for the caller.

    Examples
    --------
    >>> peak = xcorr_peak(np.arange(-3, 4), 1 - (np.arange(7) - 3.3) ** 2 / 10, 0.1)
    >>> round(peak.r, 3), round(peak.lag_s, 3)
    (0.991, 0.03)
    """
    if not np.isfinite(r).any():
        return SideCoupling(None, None, None, None, n_events, lags * dt, r)
    best = int(np.nanargmax(r))
    return SideCoupling(float(r[best]), float((lags[best] + subsample_offset(r, best)) * dt), None, None, n_events,
                        lags * dt, r)



def _uniform(signals: Signals, columns: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Resample onto a uniform grid at the median frame interval (identity for constant frame rates)."""
    t = signals.t
    dt = float(np.median(np.diff(t)))
    grid = np.arange(t[0], t[-1] + dt / 2, dt)
    # The frame nearest each grid sample: samples nearest a missing frame stay missing.
    after = np.clip(np.searchsorted(t, grid), 0, len(t) - 1)
    before = np.clip(after - 1, 0, len(t) - 1)
    nearest = np.where(np.abs(t[before] - grid) < np.abs(t[after] - grid), before, after)
    out = {}
    for name, x in columns.items():
        finite = np.isfinite(x)
        y = np.interp(grid, t[finite], x[finite]) if finite.sum() >= 2 else np.full(len(grid), np.nan)
        y[~finite[nearest]] = np.nan
        out[name] = y
    return grid, out, signals.data["pose_ok"].to_numpy()[nearest]


def coupling_process(signals: Signals, events: Events, direction: str, lag_window_s: float = LAG_WINDOW_S,
                     driver_events: pd.DataFrame | None = None) -> Coupling:
    """Measure one direction's coupling on both sides.

    Parameters
    ----------
    signals : Signals
    events : Events
    direction : {"oral_ocular", "ocular_oral"}
    lag_window_s : float
        Lags searched, +/- seconds.
    driver_events : pandas.DataFrame, optional
        Only these events drive (one movement kind, e.g. the smiles); the
        direction's other voluntary movements are then masked out of the
        windows like confounds. Default: all of the direction's events.

    Returns
    -------
    Coupling
        ``sides["right"]`` and ``sides["left"]``; values are None, with a
        ``reason``, when the driver has no event to measure.

    Examples
    --------
    >>> oo = coupling_process(sig, ev, "oral_ocular")  # doctest: +SKIP
    >>> oo.sides["left"].involuntary_pct  # doctest: +SKIP
    34.0
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}")
    t_frames = signals.t
    own = driver_events
    if direction == "oral_ocular":
        driver_events = events.of("smile", "pucker") if own is None else own
        confounds = events.of("eye_closure")  # voluntary by construction: not the smile's response
        columns = {"driver": mouth_driver(signals)}
        gaze_ok = signals.data["gaze_ok"].to_numpy(bool) if "gaze_ok" in signals.data else np.ones(len(t_frames), bool)
        for side in SIDES:
            closure = remove_blinks(t_frames, signals[f"eye_closure_{side}"], events.of("blink"))
            columns[side] = np.where(gaze_ok, closure, np.nan)
        missing = "no smile or pucker found"
    else:
        driver_events = events.of("blink", "eye_closure") if own is None else own
        confounds = events.of("smile", "pucker")  # voluntary by construction: not the closure's response
        columns = {"driver": eye_driver(signals), **{side: signals[f"mouth_vertical_{side}"] for side in SIDES}}
        missing = "no blink or eye closure found"
    if own is not None:  # the direction's other movements are confounds of this one
        others = [k for k in DRIVER_MOVEMENTS[direction] if k not in set(own["kind"])]
        confounds = pd.concat([confounds, events.of(*others)])
    t, series, pose_ok = _uniform(signals, columns)
    driver = series["driver"]
    window = span_mask(t, driver_events, EVENT_PAD_S) & ~span_mask(t, confounds, 0.0) & pose_ok
    dt = float(np.median(np.diff(t)))
    max_lag = max(1, int(round(lag_window_s / dt)))
    reason = None
    # Too little time in the windows for a correlation still leaves each
    # event's peak values (a single blink is about a second of window).
    correlate = window.sum() * dt >= MIN_WINDOW_S
    if len(driver_events) < MIN_EVENTS:
        reason = missing
    if not reason and not any(np.isfinite(series[s][window]).any() for s in SIDES):
        reason = ("the eyes looked sideways during the movements; eye aperture is not measurable"
                  if direction == "oral_ocular" else "the responder was never measurable in the driver's windows")
    if not correlate:
        window = np.zeros(len(t), bool)
    sides = {}
    for side, name in zip(SIDES, ("right", "left")):
        y = series[side]
        if reason:
            sides[name] = SideCoupling(None, None, None, None, 0)
            continue
        lags, r = normalized_xcorr(driver, y, window, max_lag)
        amplitude, n_events = value_at_peaks(t, driver, y, driver_events)
        peak = replace(xcorr_peak(lags, r, dt, n_events), involuntary_pct=_finite(100 * amplitude))
        if peak.r is not None:
            peak = replace(peak, gain=_finite(lagged_gain(driver, y, window, int(lags[np.nanargmax(r)]))))
        sides[name] = peak
    return Coupling(direction, sides, t, driver, {name: series[s] for s, name in zip(SIDES, ("right", "left"))}, window, reason,
                    driver_events)


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def movement_couplings(signals: Signals, events: Events, movements: pd.DataFrame, direction: str,
                       lag_window_s: float = LAG_WINDOW_S) -> dict[str, Coupling]:
    """One :class:`Coupling` per driver movement kind of ``direction`` that the video holds.

    Smiles and puckers, blinks and voluntary closures come from ``events``;
    snarls from the movements table (:mod:`synkan.grade.movements`). Each is
    driven by its own events only, the direction's other movements masked.
    """
    out = {}
    for kind in DRIVER_MOVEMENTS[direction]:
        own = movements[movements["kind"] == kind] if kind == "snarl" else events.of(kind)
        if len(own):
            out[kind] = coupling_process(signals, events, direction, lag_window_s, driver_events=own)
    return out
