"""Peak memory of a long video: what is resident at the same time.

The track grows with the video (about 13 KB per frame with the eye
patches); everything else must stay flat with length. What keeps the peak
down (``benchmarks/memory.py`` measures it):

- The stages after tracking work in blocks of frames (:mod:`synkan.measure.align`,
  :func:`synkan.measure.eyepatch.lid_margins`), never on float64 copies of the whole
  track; the report writer copies no array (:mod:`synkan._util.npz`) and formats
  signals.csv a few hundred rows at a time.
- scipy (about 60 MB resident) is imported where it is first used, in the
  signal stage, not while tracking holds MediaPipe, the decoder and the
  growing track.
- :func:`release_free_memory` after tracking and after the stages: the
  decoder's frames, MediaPipe's buffers and the stages' per-block
  temporaries are freed in pieces that glibc keeps in its heap (below its
  adaptive mmap threshold); without it they stay resident for the rest of
  the analysis, and the next stage's memory comes on top.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    """glibc's ``malloc_trim``, or None (other C libraries, other systems)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        return None


def release_free_memory() -> None:
    """Give the C heap's free pages back to the operating system (glibc); a no-op elsewhere.

    It takes a few milliseconds and changes no result.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
