"""The report's one-glance table: provoking movement x responding region, per side.

:func:`summary_matrix` computes the involuntary amplitudes (its deciding
rows equal report.json's ``involuntary_pct``); :func:`plot_summary_matrix`
draws them as a matplotlib Figure.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..grade.normative import load_normative, reference
from ..grade.series import value_at_peaks
from .style import DPI, MARGINS, SIDE_COLORS, SIDE_LABELS

if TYPE_CHECKING:
    from ..analysis import Analysis

MATRIX_ROWS = (  # (label, direction, event kinds)
    ("smile", "oral_ocular", ("smile",)),
    ("pucker", "oral_ocular", ("pucker",)),
    ("smile + pucker (pooled)", "oral_ocular", ("smile", "pucker")),
    ("blink", "ocular_oral", ("blink",)),
    ("eye closure", "ocular_oral", ("eye_closure",)),
    ("closure + blink (pooled)", "ocular_oral", ("blink", "eye_closure")),
)
MATRIX_COLUMNS = (("eye", "right"), ("eye", "left"), ("mouth", "right"), ("mouth", "left"))
# A cell is full red when its side exceeds the other by this many healthy ranges.
FULL_RED_HEALTHY_RANGES = 3.0


def excess_shade(value: float, other: float, healthy_pp: float) -> float:
    """0-1: how far ``value`` exceeds the other side's, in units of the healthy side difference.

    Healthy faces narrow both eyes together in a smile (23% and 23%): that is
    white, not red. Only the side difference beyond the healthy range colours.

    Examples
    --------
    >>> excess_shade(23.0, 23.0, 10.0), excess_shade(35.0, 5.0, 10.0), excess_shade(5.0, 35.0, 10.0)
    (0.0, 1.0, 0.0)
    """
    if not np.isfinite(other):
        return 0.0
    return round(float(np.clip((value - other - healthy_pp) / ((FULL_RED_HEALTHY_RANGES - 1) * healthy_pp), 0, 1)), 4)


def summary_matrix(analysis: "Analysis") -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """The involuntary amplitude (%) per provoking movement and responding region, per side.

    Returns
    -------
    rows, columns : list of str
    values : (rows, columns) float array
        NaN where not measurable (no such event) or voluntary.
    voluntary : (rows, columns) bool array
        The region that makes the provoking movement (not an involuntary response).

    The row of each direction's deciding movement (report.json's ``movement``)
    equals that direction's ``involuntary_pct``; the pooled rows mix movements.
    """
    values = np.full((len(MATRIX_ROWS), len(MATRIX_COLUMNS)), np.nan)
    voluntary = np.zeros(values.shape, bool)
    for i, (_, direction, kinds) in enumerate(MATRIX_ROWS):
        coupling = analysis.couplings.get(direction)
        region = "eye" if direction == "oral_ocular" else "mouth"
        for j, (col_region, side) in enumerate(MATRIX_COLUMNS):
            if col_region != region:
                voluntary[i, j] = True
                continue
            if coupling is None or coupling.reason:
                continue
            if len(kinds) == 2:
                pct = coupling.sides[side].involuntary_pct
                values[i, j] = np.nan if pct is None else pct
                continue
            events = analysis.events.of(*kinds)
            if events.empty:
                continue
            amplitude, n = value_at_peaks(coupling.t, coupling.driver, coupling.responders[side], events)
            values[i, j] = 100 * amplitude if n else np.nan
    rows = [label for label, _, _ in MATRIX_ROWS]
    columns = [f"{region}\n{SIDE_LABELS[side]}" for region, side in MATRIX_COLUMNS]
    return rows, columns, values, voluntary


def plot_summary_matrix(analysis: "Analysis") -> Figure:
    """One-glance table: provoking movement (rows) x responding region and side (columns).

    Each cell is the involuntary amplitude in percent (eye: closure of the
    rest aperture; mouth: corner lift in % of the eye distance),
    measured at the provoking movement's peaks. Grey cells are the voluntary
    movement itself; "-" means no such movement in the video.
    """
    rows, columns, values, voluntary = summary_matrix(analysis)
    normative = load_normative(analysis.settings.normative)
    deciding = {d: analysis.scores.scores.get(d, {}).get("movement") for d in ("oral_ocular", "ocular_oral")}
    counts = analysis.events.counts()
    fig = Figure(figsize=(10, 4.2), dpi=DPI)
    ax = fig.subplots()
    cmap = matplotlib.colormaps["Reds"]
    for i, (_, direction, kinds) in enumerate(MATRIX_ROWS):
        # Each movement's own healthy limit; a pooled row takes its direction's.
        limit = reference(normative, direction, kinds[0] if len(kinds) == 1 else "all").limit
        for j, (_, side) in enumerate(MATRIX_COLUMNS):
            v = values[i, j]
            if voluntary[i, j]:
                face, text, color = "#eeeeee", "voluntary", "#999999"
            elif np.isfinite(v):
                shade = excess_shade(v, values[i, j + (1 if side == "right" else -1)], limit)
                face = cmap(0.04 + 0.8 * shade)
                text, color = f"{round(v) or 0:.0f}%", "white" if shade > 0.6 else "black"
            else:
                face, text, color = "white", "-", "#777777"
            ax.add_patch(Rectangle((j, i), 1, 1, facecolor=face, edgecolor="white", linewidth=2))
            scored = kinds == (deciding.get(direction),)
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=11 if scored else 10, color=color,
                    fontweight="bold" if scored else "normal", fontstyle="italic" if voluntary[i, j] else "normal")
    ax.set_xlim(0, len(columns))
    ax.set_ylim(len(rows), 0)
    ax.set_xticks(np.arange(len(columns)) + 0.5, columns, fontsize=9)
    for label, (_, side) in zip(ax.get_xticklabels(), MATRIX_COLUMNS):
        label.set_color(SIDE_COLORS[side])
    ylabels = []
    for label, _, kinds in MATRIX_ROWS:
        n = sum(counts.get(k, 0) for k in kinds)
        ylabels.append(f"{label}  (n={n})")
    ax.set_yticks(np.arange(len(rows)) + 0.5, ylabels, fontsize=9)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.axhline(3, color="#444444", linewidth=1.2)
    ax.set_ylabel("provoking (voluntary) movement", fontsize=9)
    ax.set_title("Involuntary movement (%) by responding region and side", fontsize=10, pad=34)
    fig.text(0.01, 0.01, "eye: closure in % of its rest aperture; mouth: corner lift in % of the eye distance; "
             "both at the provoking movement's peaks.\n"
             "Red: this side moves more than the other beyond the healthy side difference (both sides alike is white). "
             "-: not measurable.  Bold: the movement that decides the direction.",
             fontsize=8, color="#555555")
    fig.subplots_adjust(**MARGINS["summary_matrix"])
    return fig
