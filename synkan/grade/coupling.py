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

from ..config import BLINK_MASK_PAD_S, EVENT_PAD_S, LAG_WINDOW_S, MIN_EVENTS, MIN_LAG_PAIRS, MIN_LAG_VARIANCE
from .events import Events, eye_driver, mouth_driver
from ..measure.signals import SIDES, Signals

DIRECTIONS = ("oral_ocular", "ocular_oral")
PEAK_FRACTION = 0.8  # an event's "peak" is where the driver is within 80% of its maximum
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


def _mask(t: np.ndarray, table, pad_s: float) -> np.ndarray:
    mask = np.zeros(len(t), bool)
    # Plain columns: itertuples() builds a namedtuple class on every call.
    for start_s, end_s in zip(table["start_s"], table["end_s"]):
        mask |= (t >= start_s - pad_s) & (t <= end_s + pad_s)
    return mask


def remove_blinks(t: np.ndarray, x: np.ndarray, blinks, pad_s: float = BLINK_MASK_PAD_S) -> np.ndarray:
    """Replace blink spans (plus padding) by linear interpolation across them."""
    out = np.asarray(x, float).copy()
    masked = _mask(t, blinks, pad_s)
    keep = ~masked & np.isfinite(out)
    if masked.any() and keep.sum() >= 2:
        out[masked] = np.interp(t[masked], t[keep], out[keep])
    return out


def _standardised(s: np.ndarray, usable: np.ndarray) -> np.ndarray:
    """``s`` centred and scaled over its usable samples, zero elsewhere.

    Pearson's r does not change under this; it keeps the per-lag sums of
    squares O(n), so their differences do not lose precision.
    """
    values = s[usable]
    sd = values.std() if values.size else 0.0
    return np.where(usable, (s - values.mean()) / sd, 0.0) if sd > 0 else np.zeros(len(s))


def _lagged_sum(a: np.ndarray, b: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``sum_t a[t] * b[t + k]`` for every lag ``k`` of the full correlation, then the ``keep`` ones."""
    from scipy import signal as sps  # on first use, after tracking: see synkan._util.memory

    return sps.correlate(b, a, mode="full")[keep]


def normalized_xcorr(x: np.ndarray, y: np.ndarray, window: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised cross-correlation of ``y`` against ``x`` within ``window``.

    ``r[k]`` is the Pearson correlation of the pairs ``(x[t], y[t + k])``
    where both samples are in the window and finite, with the means and
    standard deviations taken over exactly those pairs, so it always lies in
    [-1, 1]. A positive lag means ``y`` follows ``x``. The per-lag counts,
    sums and sums of squares come from cross-correlating the masked series,
    their squares and the masks.

    Returns
    -------
    lags : (2 * max_lag + 1,) int array
    r : array of the same shape (NaN at lags with fewer than
        :data:`~synkan.config.MIN_LAG_PAIRS` pairs or a constant series)

    Examples
    --------
    >>> t = np.arange(300)
    >>> x = np.sin(t / 10.0)
    >>> lags, r = normalized_xcorr(x, np.roll(x, 3), np.ones(300, bool), 10)
    >>> int(lags[np.nanargmax(r)])
    3
    """
    in_x = window & np.isfinite(x)
    in_y = window & np.isfinite(y)
    zx, zy = _standardised(x, in_x), _standardised(y, in_y)
    mx, my = in_x.astype(float), in_y.astype(float)
    from scipy import signal as sps  # on first use, after tracking: see synkan._util.memory

    lags = sps.correlation_lags(len(y), len(x), mode="full")
    keep = np.abs(lags) <= max_lag
    n = np.round(_lagged_sum(mx, my, keep))  # FFT sums of 0/1 masks are integers up to rounding
    sx, sy = _lagged_sum(zx, my, keep), _lagged_sum(mx, zy, keep)
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = _lagged_sum(zx, zy, keep) - sx * sy / n
        var_x = _lagged_sum(zx ** 2, my, keep) - sx ** 2 / n
        var_y = _lagged_sum(mx, zy ** 2, keep) - sy ** 2 / n
        # A lag whose pairs hardly vary (relative to the whole window's spread,
        # which is 1 after standardising) has no meaningful correlation.
        usable = (n >= MIN_LAG_PAIRS) & (var_x > MIN_LAG_VARIANCE * n) & (var_y > MIN_LAG_VARIANCE * n)
        r = np.where(usable, cov / np.sqrt(var_x * var_y), np.nan)
    # Clipping only absorbs floating-point rounding (FFT sums), never a real excess.
    return lags[keep], np.clip(r, -1.0, 1.0)


def subsample_offset(r: np.ndarray, k: int) -> float:
    """Offset (-0.5..0.5 samples) of the true peak from sample ``k``, by a parabola through ``k-1..k+1``.

    A lag of 100 ms at 30 fps falls between frames; the parabola recovers it.

    Examples
    --------
    >>> r = 1 - (np.arange(7) - 3.3) ** 2 / 10
    >>> round(subsample_offset(r, 3), 2)
    0.3
    """
    if k <= 0 or k >= len(r) - 1 or not np.isfinite(r[k - 1:k + 2]).all():
        return 0.0
    a, b, c = r[k - 1], r[k], r[k + 1]
    denominator = a - 2 * b + c
    return float(np.clip(0.5 * (a - c) / denominator, -0.5, 0.5)) if denominator < 0 else 0.0


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


def lagged_gain(x: np.ndarray, y: np.ndarray, window: np.ndarray, lag: int) -> float:
    """Least-squares slope of ``y[t + lag]`` on ``x[t]`` over the pairs behind :func:`normalized_xcorr`'s r at ``lag``."""
    n = len(x)
    idx = np.arange(max(0, -lag), min(n, n - lag))
    ok = window[idx] & window[idx + lag] & np.isfinite(x[idx]) & np.isfinite(y[idx + lag])
    xs, ys = x[idx][ok], y[idx + lag][ok]
    if len(xs) < MIN_LAG_PAIRS or np.var(xs) == 0:
        return float("nan")
    return float(np.cov(xs, ys, bias=True)[0, 1] / np.var(xs))


def peak_masks(t: np.ndarray, driver: np.ndarray, events, *responders: np.ndarray) -> list[np.ndarray]:
    """Per event with data, the samples where its driver is within :data:`PEAK_FRACTION` of its maximum.

    Only samples where the driver and every responder are finite count, so
    two sides compared through these masks are compared on the same frames.
    """
    finite = np.isfinite(driver)
    for responder in responders:
        finite &= np.isfinite(responder)
    masks = []
    for start_s, end_s in zip(events["start_s"], events["end_s"]):
        inside = (t >= start_s) & (t <= end_s) & finite
        if inside.any():
            masks.append(inside & (driver >= PEAK_FRACTION * np.max(driver[inside])))
    return masks


def value_at_peaks(t: np.ndarray, driver: np.ndarray, responder: np.ndarray, events) -> tuple[float, int]:
    """Median responder value where each event's driver is near its peak; and events used."""
    per_event = [float(np.median(responder[m])) for m in peak_masks(t, driver, events, responder)]
    return (float(np.median(per_event)) if per_event else float("nan")), len(per_event)


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


def coupling_process(signals: Signals, events: Events, direction: str, lag_window_s: float = LAG_WINDOW_S) -> Coupling:
    """Measure one direction's coupling on both sides.

    Parameters
    ----------
    signals : Signals
    events : Events
    direction : {"oral_ocular", "ocular_oral"}
    lag_window_s : float
        Lags searched, +/- seconds.

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
    if direction == "oral_ocular":
        driver_events = events.of("smile", "pucker")
        confounds = events.of("eye_closure")  # voluntary by construction: not the smile's response
        columns = {"driver": mouth_driver(signals)}
        gaze_ok = signals.data["gaze_ok"].to_numpy(bool) if "gaze_ok" in signals.data else np.ones(len(t_frames), bool)
        for side in SIDES:
            closure = remove_blinks(t_frames, signals[f"eye_closure_{side}"], events.of("blink"))
            columns[side] = np.where(gaze_ok, closure, np.nan)
        missing = "no smile or pucker found"
    else:
        driver_events = events.of("blink", "eye_closure")
        confounds = events.of("smile", "pucker")  # voluntary by construction: not the closure's response
        columns = {"driver": eye_driver(signals), **{side: signals[f"mouth_vertical_{side}"] for side in SIDES}}
        missing = "no blink or eye closure found"
    t, series, pose_ok = _uniform(signals, columns)
    driver = series["driver"]
    window = _mask(t, driver_events, EVENT_PAD_S) & ~_mask(t, confounds, 0.0) & pose_ok
    dt = float(np.median(np.diff(t)))
    max_lag = max(1, int(round(lag_window_s / dt)))
    reason = None
    if len(driver_events) < MIN_EVENTS:
        reason = missing
    elif window.sum() * dt < MIN_WINDOW_S:
        reason = f"too little usable time around the driver's events ({window.sum() * dt:.1f} s)"
    if not reason and not any(np.isfinite(series[s][window]).any() for s in SIDES):
        reason = ("the eyes looked sideways during the movements; eye aperture is not measurable"
                  if direction == "oral_ocular" else "the responder was never measurable in the driver's windows")
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
