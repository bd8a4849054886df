"""Per-frame columns in preallocated numpy arrays (a video's track, built frame by frame)."""
from __future__ import annotations

from typing import Any

import numpy as np


class FrameColumns:
    """Per-frame columns in preallocated numpy arrays, grown geometrically when needed.

    No per-frame Python objects are kept, and the final arrays are the
    buffers themselves (trimmed in place), so memory is one copy of the
    data, not a list of small arrays plus their stacked copy.
    """

    def __init__(self, capacity: int, columns: dict[str, tuple[tuple[int, ...], Any]]) -> None:
        self.n = 0
        self.capacity = max(int(capacity), 16)
        self.columns = {k: np.empty((self.capacity, *shape), dtype) for k, (shape, dtype) in columns.items()}

    def add(self, **values: Any) -> None:
        if self.n == self.capacity:
            self.capacity = int(self.capacity * 1.5) + 16
            for k, a in self.columns.items():
                grown = np.empty((self.capacity, *a.shape[1:]), a.dtype)
                grown[: self.n] = a[: self.n]
                self.columns[k] = grown
        for key, value in values.items():
            self.columns[key][self.n] = value
        self.n += 1

    def stack(self, key: str) -> np.ndarray:
        """Column ``key`` trimmed to the rows added."""
        a = self.columns[key]
        if len(a) != self.n:
            a.resize((self.n, *a.shape[1:]), refcheck=False)  # shrinks in place
        return a
