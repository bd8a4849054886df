"""Counts in words, for progress bars, summaries and figure labels."""
from __future__ import annotations


def plural(n: int, word: str) -> str:
    """``n`` and ``word``, with an ``s`` unless ``n`` is 1.

    Examples
    --------
    >>> plural(1, "frame"), plural(0, "frame"), plural(12, "video")
    ('1 frame', '0 frames', '12 videos')
    """
    return f"{n} {word}{'s' * (n != 1)}"
