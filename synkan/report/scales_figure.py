"""Figures of the clinical movements: the movement x region x side matrix and each movement's peak frame.

The matrix is coloured by how far each side difference lies outside the
healthy range (``excess`` of :class:`synkan.matrix.Matrix`), not by raw size:
a healthy smile narrows both eyes by several millimetres, and that must not
look alarming. Only the side that moves more is coloured.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..movements import MOVEMENT_LABELS
from ..regions import REGIONS
from .figures import DPI, SIDE_COLORS, FigureUnavailable, _draw_landmarks, _note, blur_outside_face, face_box, read_frames

if TYPE_CHECKING:
    from ..analysis import Analysis

SCALE_FIGURE_NAMES = ("movement_matrix", "movement_keyframes")
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
        _note(ax, "no brow raise, eye closure, smile, snarl or pucker found")
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


def plot_movement_keyframes(analysis: "Analysis", deidentify: bool = False) -> Figure:
    """Each movement kind's peak frame, cropped to the face.

    Raises
    ------
    FigureUnavailable
        If the video is gone or changed.
    """
    table = analysis.movements.table
    track = analysis.track
    wanted = []
    for kind in dict.fromkeys(table["kind"]):
        peak = float(table[table["kind"] == kind]["peak_s"].iloc[0])
        row = int(np.argmin(np.abs(track.t_s - peak)))
        if track.valid[row]:
            wanted.append((kind, row))
    fig = Figure(figsize=(10, 2.6), dpi=DPI)
    axes = fig.subplots(1, max(len(wanted), 1), squeeze=False)[0]
    if not wanted:
        _note(axes[0], "no movement found")
        return fig
    frames = read_frames(analysis, [int(track.frame_index[row]) for _, row in wanted])
    if isinstance(frames, str):
        raise FigureUnavailable(f"movement frames not shown: {frames}")
    for ax, (kind, row) in zip(axes, wanted):
        ax.set_title(f"{MOVEMENT_LABELS.get(kind, kind)}\n{track.t_s[row]:.1f} s", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        image = frames.get(int(track.frame_index[row]))
        if image is None:
            _note(ax, "not decoded")
            continue
        xy = track.landmarks[row, :, :2].astype(float)
        if deidentify:
            image = blur_outside_face(image, xy)
        x0, y0, x1, y1 = face_box(xy, image.shape[1], image.shape[0])
        ax.imshow(image[y0:y1, x0:x1])
        _draw_landmarks(ax, xy, x0, y0)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.8, wspace=0.05)
    return fig


def save_scale_figures(analysis: "Analysis", folder: str | Path, deidentify: bool = False,
                       notes: dict[str, str] | None = None) -> dict[str, Path]:
    """Write :data:`SCALE_FIGURE_NAMES` as PNGs into ``folder``; a figure that cannot be drawn gets a note."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, make in (("movement_matrix", plot_movement_matrix),
                       ("movement_keyframes", lambda a: plot_movement_keyframes(a, deidentify))):
        try:
            fig = make(analysis)
        except FigureUnavailable as exc:
            if notes is not None:
                notes[name] = str(exc)
            continue
        paths[name] = folder / f"{name}.png"
        fig.savefig(paths[name], dpi=DPI, facecolor="white", pil_kwargs={"compress_level": 1})
    return paths
