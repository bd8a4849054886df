"""Cleaning of per-frame signals: short gaps filled, zero-phase low-pass that follows the frame rate.

Applied by :func:`synkan.measure.signals.signals_process` to every signal
column before the grading stages see it.
"""
from __future__ import annotations

import numpy as np

from ..config import MAX_GAP_S, TWITCH_MIN_S


def fill_gaps(t: np.ndarray, x: np.ndarray, max_gap_s: float = MAX_GAP_S) -> np.ndarray:
    """Linearly interpolate NaN runs no longer than ``max_gap_s``; longer runs stay NaN."""
    x = np.asarray(x, float).copy()
    finite = np.isfinite(x)
    if finite.sum() < 2 or finite.all():
        return x
    idx = np.flatnonzero(finite)
    filled = np.interp(t, t[idx], x[idx])
    # Gap length = time between the finite neighbours of each missing sample.
    nxt = np.searchsorted(idx, np.arange(len(x)))
    prev_t = t[idx[np.clip(nxt - 1, 0, len(idx) - 1)]]
    next_t = t[idx[np.clip(nxt, 0, len(idx) - 1)]]
    inside = (nxt > 0) & (nxt < len(idx))
    fill = ~finite & inside & ((next_t - prev_t) <= max_gap_s + 1e-9)
    x[fill] = filled[fill]
    return x


def lowpass(t: np.ndarray, x: np.ndarray, cutoff_hz: float) -> np.ndarray:
    """Zero-phase Butterworth low-pass of each finite run, on a uniform time grid.

    Variable-frame-rate samples are interpolated onto a uniform grid at the
    median frame interval, filtered with ``sosfiltfilt``, and read back at
    their own timestamps. The filter follows the frame rate: when the
    Nyquist frequency is within the band of a blink's twitch
    (:data:`~synkan.config.TWITCH_MIN_S`), or too close to the cut-off to
    shape anything, the samples are returned unfiltered.

    Examples
    --------
    >>> t = np.arange(30) / 15.01  # a 15 frames/s camera: a one-frame twitch survives
    >>> x = np.zeros(30); x[15] = 1.0
    >>> float(lowpass(t, x, 6.0)[15])
    1.0
    """
    x = np.asarray(x, float)
    out = x.copy()
    if len(t) < 4:
        return out
    dt = float(np.median(np.diff(t)))
    fs = 1.0 / dt if dt > 0 else 0.0
    if fs / 2 <= max(1.25 * cutoff_hz, 1.0 / TWITCH_MIN_S):
        return out  # no band above the movements' own to remove
    from scipy import signal as sps  # on first use, after tracking: see synkan._util.memory

    sos = sps.butter(2, cutoff_hz / (fs / 2), output="sos")
    finite = np.isfinite(x)
    edges = np.flatnonzero(np.diff(np.r_[0, finite.astype(int), 0]))
    for start, stop in zip(edges[::2], edges[1::2]):
        seg_t, seg_x = t[start:stop], x[start:stop]
        grid = np.arange(seg_t[0], seg_t[-1] + dt / 2, dt)
        if len(grid) <= 15:  # too short for filtfilt's padding
            continue
        smooth = sps.sosfiltfilt(sos, np.interp(grid, seg_t, seg_x))
        out[start:stop] = np.interp(seg_t, grid, smooth)
    return out
