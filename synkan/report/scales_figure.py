"""Figures of the clinical movements: the movement x region x side matrix and each movement's peak frame.

The matrix is coloured by how far each side difference lies outside the
healthy range (``excess`` of :class:`synkan.grade.matrix.Matrix`), not by raw size:
a healthy smile narrows both eyes by several millimetres, and that must not
look alarming. Only the side that moves more is coloured.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..grade.movements import MOVEMENT_LABELS
from ..measure.regions import REGIONS
from .frames import note, plot_face_frames
from .style import DPI, SIDE_COLORS

if TYPE_CHECKING:
    from ..analysis import Analysis

SHORT_LABELS = {"brow": "brow", "eye": "eye", "midface": "cheek", "mouth": "corner", "upper_lip": "upper lip", "chin": "chin"}
EXCESS_FULL = 4.0  # excess at which the colour saturates (the healthy range plus about three points)


def _colour(excess: float):
    """White inside the healthy range (excess <= 1), then yellow to red."""
    if not np.isfinite(excess) or excess <= 1.0:
        return "#ffffff"
    return matplotlib.colormaps["YlOrRd"](0.25 + 0.75 * min((excess - 1.0) / (EXCESS_FULL - 1.0), 1.0))


def plot_movement_matrix(analysis: "Analysis") -> Figure:
    """Movements (rows) x region and side (columns): mm moved at the movement's peaks, coloured by excess."""
    matrix = analysis.matrix
    kinds = list(dict.fromkeys(matrix.differences["movement"])) if matrix is not None else []
    fig = Figure(figsize=(10, 1.4 + 0.42 * max(len(kinds), 1)), dpi=DPI)
    ax = fig.subplots()
    if not kinds:
        note(ax, "no brow raise, eye closure, smile, snarl or pucker found")
        return fig
    columns = [(region, side) for region in REGIONS for side in ("right", "left")]
    for i, kind in enumerate(kinds):
        for j, (region, side) in enumerate(columns):
            cell = matrix.cell(kind, region, side)
            diff = matrix.difference(kind, region)
            if cell["voluntary"]:
                face, text, colour = "#eeeeee", "vol.", "#999999"
            else:
                excess = diff["excess"] if diff and diff["more_side"] == side else np.nan
                face = _colour(excess)
                text = "-" if not np.isfinite(cell["moves_mm"]) else f"{cell['moves_mm']:.1f}"
                colour = "white" if np.isfinite(excess) and excess > 2.5 else "black"
            ax.add_patch(Rectangle((j, i), 1, 1, facecolor=face, edgecolor="#dddddd", linewidth=1))
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=8.5, color=colour)
    ax.set_xlim(0, len(columns))
    ax.set_ylim(len(kinds), 0)
    ax.set_xticks(np.arange(len(columns)) + 0.5, [f"{SHORT_LABELS[r]}\n{s[0].upper()}" for r, s in columns], fontsize=8)
    for label, (_, side) in zip(ax.get_xticklabels(), columns):
        label.set_color(SIDE_COLORS[side])
    counts = analysis.movements.table["kind"].value_counts()
    ax.set_yticks(np.arange(len(kinds)) + 0.5, [f"{MOVEMENT_LABELS.get(k, k)} (n={counts.get(k, 0)})" for k in kinds], fontsize=9)
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.subplots_adjust(left=0.2, right=0.99, top=1 - 0.6 / fig.get_figheight(), bottom=0.1 / fig.get_figheight())
    return fig


def movement_frame_rows(analysis: "Analysis") -> list[tuple[str, int]]:
    """(title, track row) of each movement kind's peak frame (its first occurrence)."""
    table = analysis.movements.table
    track = analysis.track
    wanted = []
    for kind in dict.fromkeys(table["kind"]):
        row = int(np.argmin(np.abs(track.t_s - float(table[table["kind"] == kind]["peak_s"].iloc[0]))))
        if track.valid[row]:
            wanted.append((f"{MOVEMENT_LABELS.get(kind, kind)}\n{track.t_s[row]:.1f} s", row))
    return wanted


def plot_movement_keyframes(analysis: "Analysis", deidentify: bool = False,
                            frames: dict[int, np.ndarray] | str | None = None) -> Figure:
    """Each movement kind's peak frame (its first occurrence), cropped to the face.

    ``frames`` are the video frames if already read (:func:`~synkan.report.figures.read_frames`).

    Raises
    ------
    FigureUnavailable
        If the video is gone or changed.
    """
    return plot_face_frames(analysis, movement_frame_rows(analysis), deidentify, (10, 3.2), "movement frames",
                            dict(left=0.01, right=0.99, bottom=0.1, top=0.84, wspace=0.05), frames)
