"""Time-series primitives shared by the grading stages.

Pure functions over numpy arrays (and event tables with ``start_s`` /
``end_s`` columns): robust means, hysteresis runs, a gap-aware normalised
cross-correlation and its peak, and the samples near an event's peak. The
stages (:mod:`~synkan.grade.events`, :mod:`~synkan.grade.movements`,
:mod:`~synkan.grade.coupling`, :mod:`~synkan.grade.matrix`) build on them,
as NeuroKit2's ``signal`` package serves its ``ecg`` and ``eog`` stages.
"""
from __future__ import annotations

import numpy as np

from ..config import (
    HYSTERESIS_HIGH,
    HYSTERESIS_LOW,
    LOW_FLOOR_FRACTION,
    MIN_LAG_PAIRS,
    MIN_LAG_VARIANCE,
    PEAK_FRACTION,
)


def finite_mean(x: np.ndarray, axis: int | None = None) -> np.ndarray | float:
    """Mean of the finite values along ``axis``; NaN where there are none.

    Like :func:`numpy.nanmean`, without its "Mean of empty slice" warning on
    all-NaN slices (frames with no face on either side are expected).

    Examples
    --------
    >>> finite_mean(np.array([[1.0, np.nan], [3.0, np.nan]]), axis=0)
    array([ 2., nan])
    """
    x = np.asarray(x, float)
    finite = np.isfinite(x)
    count = finite.sum(axis=axis)
    total = np.where(finite, x, 0.0).sum(axis=axis)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)[()]


def hysteresis_runs(x: np.ndarray, high: float, low: float) -> list[tuple[int, int]]:
    """Index runs ``[start, stop)`` where ``x`` rises above ``high``, extended while above ``low``.

    Examples
    --------
    >>> hysteresis_runs(np.array([0, .3, .6, .4, .1, .7, 0]), high=.5, low=.25)
    [(1, 4), (5, 6)]
    """
    x = np.nan_to_num(np.asarray(x, float), nan=-np.inf)
    above_low = x > low
    edges = np.flatnonzero(np.diff(np.r_[0, above_low.astype(int), 0]))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if (x[a:b] > high).any()]


def thresholds(x: np.ndarray, floor: float) -> tuple[float, float]:
    """Hysteresis (high, low) from the signal's robust range, floored at ``floor`` and a fraction of it."""
    finite = x[np.isfinite(x)]
    top = float(np.percentile(finite, 99)) if finite.size else 0.0
    high = max(floor, HYSTERESIS_HIGH * top)
    low = max(LOW_FLOOR_FRACTION * floor, HYSTERESIS_LOW * top)
    return high, min(low, high)


def merge_runs(runs: list[tuple[int, int]], t: np.ndarray, gap_s: float) -> list[tuple[int, int]]:
    """Join consecutive index runs whose gap in time ``t`` is shorter than ``gap_s`` seconds."""
    merged: list[tuple[int, int]] = []
    for a, b in runs:
        if merged and t[a] - t[merged[-1][1] - 1] < gap_s:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def span_mask(t: np.ndarray, table, pad_s: float) -> np.ndarray:
    """Samples of ``t`` within any ``[start_s - pad_s, end_s + pad_s]`` of ``table``'s rows."""
    mask = np.zeros(len(t), bool)
    # Plain columns: itertuples() builds a namedtuple class on every call.
    for start_s, end_s in zip(table["start_s"], table["end_s"]):
        mask |= (t >= start_s - pad_s) & (t <= end_s + pad_s)
    return mask


def peak_index(x: np.ndarray, a: int, b: int, avoid: np.ndarray | None = None) -> int:
    """Index of the largest finite ``x[a:b]``, among samples not in ``avoid`` when there are any.

    A movement's peak frame is its key image and the frame its size is read
    at: a blink inside a smile or a brow raise makes a poor one (the eyes
    are shut, and the brow-to-eye distance jumps with the lid). ``a`` when
    ``x[a:b]`` has no finite value.

    Examples
    --------
    >>> x = np.array([0.0, 0.5, 0.9, 0.6, 0.1])
    >>> peak_index(x, 0, 5), peak_index(x, 0, 5, avoid=np.array([0, 0, 1, 0, 0], bool))
    (2, 3)
    """
    usable = np.isfinite(x[a:b])
    if avoid is not None and (usable & ~avoid[a:b]).any():
        usable &= ~avoid[a:b]
    return a + int(np.argmax(np.where(usable, x[a:b], -np.inf))) if usable.any() else a


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


def lagged_gain(x: np.ndarray, y: np.ndarray, window: np.ndarray, lag: int) -> float:
    """Least-squares slope of ``y[t + lag]`` on ``x[t]`` over the pairs behind :func:`normalized_xcorr`'s r at
    ``lag``."""
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
            peak = inside & (driver >= PEAK_FRACTION * np.max(driver[inside]))
            if peak.any():  # a driver that never rises above zero has no peak (and no empty median)
                masks.append(peak)
    return masks


def value_at_peaks(t: np.ndarray, driver: np.ndarray, responder: np.ndarray, events) -> tuple[float, int]:
    """Median responder value where each event's driver is near its peak; and events used."""
    per_event = [float(np.median(responder[m])) for m in peak_masks(t, driver, events, responder)]
    return (float(np.median(per_event)) if per_event else float("nan")), len(per_event)
