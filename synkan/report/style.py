"""Colours, labels and layout shared by the report's figures, the overlay and the HTML.

Sides are always the subject's: :data:`SIDE_COLORS` gives one colour for the
subject's right and one for the left, used everywhere. Nothing here imports
matplotlib, so the HTML writer can use these without it.
"""
from __future__ import annotations

# Okabe-Ito colour-blind-safe pair: blue for the subject's right, vermillion for the left.
SIDE_COLORS = {"right": "#0072B2", "left": "#D55E00"}
SIDE_LABELS = {"right": "subject's right", "left": "subject's left"}
EVENT_COLORS = {"blink": "#9E9E9E", "eye_closure": "#8E6BBF", "smile": "#3A9D5D", "pucker": "#E0B000"}
EVENT_LABELS = {"blink": "blink", "eye_closure": "eye closure", "smile": "smile", "pucker": "pucker"}
DIRECTION_TITLES = {"oral_ocular": "Oral-ocular: eye responds to smile / pucker",
                    "ocular_oral": "Ocular-oral: mouth responds to eye closure / blink"}
DRIVER_LABELS = {"oral_ocular": "mouth movement, both sides (% of eye distance)",
                 "ocular_oral": "eye closure, both eyes (%)"}
RESPONDER_LABELS = {"oral_ocular": "eye closure (%)", "ocular_oral": "mouth corner (% of eye distance)"}
DPI = 110
# Fixed margins, as tight_layout found them on sample and real videos plus a
# little slack: tight_layout lays every figure out twice (0.8 s per report).
MARGINS = {
    "timeseries": dict(left=0.125, right=0.985, bottom=0.095, top=0.915, hspace=0.11),
    "xcorr": dict(left=0.09, right=0.975, bottom=0.155, top=0.91, wspace=0.07),
    "scatter": dict(left=0.085, right=0.975, bottom=0.14, top=0.915, wspace=0.18),
    "keyframes": dict(left=0.015, right=0.985, bottom=0.108, top=0.962, wspace=0.048),
    "summary_matrix": dict(left=0.235, right=0.985, bottom=0.116, top=0.827),
}



def format_gain(gain: float) -> str:
    """A gain with two decimals, or two significant digits when small (0.0094, not 0.01)."""
    return f"{gain:.2f}" if abs(gain) >= 0.1 or gain == 0 else f"{gain:.2g}"

# The scales section's figures (synkan.report.scales_figure), shown there and not among the generic figures.
SCALE_FIGURE_NAMES = ("movement_matrix", "movement_keyframes")
