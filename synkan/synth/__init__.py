"""Ground-truth videos: a real face photo animated with known synkinetic coupling.

Quick use::

    from synkan.synth import standard_case, render_case
    paths = render_case(standard_case("demo", "oral_ocular", side="left", k_oo=0.5), "out")

See :mod:`synkan.synth.case` for the case file format and
:mod:`synkan.synth.render` for what is rendered and written;
:func:`synth_from_video` adds a known one-sided movement to a real video
of a healthy person instead.
"""
from .case import (
           PATTERNS,
           Action,
           Case,
           Synkinesis,
           narrow_case,
           standard_case,
           standard_timeline,
           sunnybrook_case,
)
from .from_video import synth_from_video
from .render import Truth, render_case, synth_main, truth_signals

__all__ = ["PATTERNS", "Action", "Case", "Synkinesis", "Truth", "sunnybrook_case", "narrow_case", "render_case", "standard_case", "standard_timeline",
           "synth_from_video", "synth_main", "truth_signals"]
