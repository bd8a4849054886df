"""Robust summaries of small sets of estimates."""
from __future__ import annotations

import numpy as np


def agreeing_mean(x: np.ndarray, tolerance: float) -> np.ndarray:
    """Mean over the last axis of the values within ``tolerance`` of their median (NaN stays NaN).

    Examples
    --------
    >>> agreeing_mean(np.array([[4.0, 5.0, 6.0, 5.5, 13.0], [np.nan] * 5]), 2.0)
    array([5.125,   nan])
    """
    median = np.median(x, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        near = np.abs(x - median) <= tolerance
        return np.where(near, x, 0.0).sum(axis=-1) / near.sum(axis=-1)
