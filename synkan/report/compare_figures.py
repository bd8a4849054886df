"""Figures of a comparison between visits: each visit's signals side by side, and the side difference over
visits.

They are drawn from what each analysis folder saved (``signals.csv``,
``events.csv``) and from compare.json, so a comparison needs neither the
videos nor re-scoring. Colours and labels are those of
:mod:`synkan.report.figures`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .figures import DPI, EVENT_COLORS, SIDE_COLORS, SIDE_LABELS

ROWS = (("eye_closure", "eye closure (%)"), ("mouth_vertical", "mouth-corner lift\n(% of eye distance)"))
DIRECTION_COLORS = {"oral_ocular": "#6A3D9A", "ocular_oral": "#1B9E77"}
DIRECTION_NAMES = {"oral_ocular": "oral-ocular (eye, during smiles)", "ocular_oral": "ocular-oral (mouth, during eye closures)"}


def plot_visits_timeseries(signals: list[pd.DataFrame], events: list[pd.DataFrame], labels: list[str]) -> Figure:
    """Eye closure and mouth-corner lift per side over time, one column per visit, shared y axes.

    Parameters
    ----------
    signals, events : list of DataFrame
        Each visit's ``signals.csv`` and ``events.csv``, oldest first.
    labels : list of str
        Column titles (visit dates or "visit N").
    """
    n = len(signals)
    fig = Figure(figsize=(min(5.0 * n, 15.0), 5.2), dpi=DPI)
    axes = fig.subplots(len(ROWS), n, squeeze=False, sharey="row")
    for col, (sig, ev, label) in enumerate(zip(signals, events, labels)):
        t = sig["t"].to_numpy(float)
        for row, (stem, ylabel) in enumerate(ROWS):
            ax = axes[row, col]
            for kind_row in ev.itertuples():
                ax.axvspan(kind_row.start_s, max(kind_row.end_s, kind_row.start_s + 0.03),
                           color=EVENT_COLORS.get(kind_row.kind, "#cccccc"), alpha=0.18, linewidth=0)
            for side in ("right", "left"):
                ax.plot(t, 100 * sig[f"{stem}_{side[0]}"].to_numpy(float), color=SIDE_COLORS[side], linewidth=1.3)
            ax.spines[["top", "right"]].set_visible(False)
            ax.grid(True, color="#e6e6e6", linewidth=0.7)
            if col == 0:
                ax.set_ylabel(ylabel, fontsize=9)
            if len(t):
                ax.set_xlim(t[0], t[-1])
        axes[0, col].set_title(label, fontsize=10)
        axes[-1, col].set_xlabel("time (s)", fontsize=9)
    handles = [Line2D([], [], color=SIDE_COLORS[s], linewidth=2, label=SIDE_LABELS[s]) for s in ("right", "left")]
    handles += [Line2D([], [], color=EVENT_COLORS[k], linewidth=6, alpha=0.4, label=k.replace("_", " "))
                for k in ("smile", "pucker", "blink", "eye_closure")]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.09 if n > 1 else 0.14, right=0.985, top=0.93, bottom=0.17, hspace=0.12, wspace=0.06)
    return fig


def plot_side_difference(comparison: dict) -> Figure:
    """Each direction's side difference per visit, with its 95% interval (1.96 SE), oldest visit left.

    A change between two visits is real when it exceeds their MDC95
    (:mod:`synkan.clinic.compare`); the intervals show why one is or is not.
    """
    visits = comparison["visits"]
    labels = [v["label"] for v in visits]
    x = np.arange(len(visits))
    fig = Figure(figsize=(7.5, 3.8), dpi=DPI)
    ax = fig.subplots()
    z = comparison.get("mdc_z", 1.96)
    directions = list(visits[0].get("measures", {})) if visits else []
    for k, direction in enumerate(directions):
        values = [v["measures"][direction]["value"] for v in visits]
        ses = [v["measures"][direction]["se"] for v in visits]
        y = np.array([np.nan if v is None else v for v in values], float)
        err = np.array([np.nan if s is None else z * s for s in ses], float)
        side = visits[0]["measures"][direction]["side"]
        offset = (k - (len(directions) - 1) / 2) * 0.08
        ax.errorbar(x + offset, y, yerr=err, fmt="-o", color=DIRECTION_COLORS.get(direction, "#444444"), capsize=4,
                    linewidth=1.6, markersize=6,
                    label=f"{DIRECTION_NAMES.get(direction, direction)}, "
                    + (f"{side} minus other side" if side else "affected side not determined"))
    ax.axhline(0, color="#888888", linewidth=0.8)
    ax.set_xticks(x, labels, fontsize=9)
    ax.set_xlim(-0.4, len(visits) - 0.6)
    ax.set_ylabel("side difference\n(percentage points)", fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, axis="y", color="#e6e6e6", linewidth=0.7)
    ax.legend(fontsize=8, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=1)
    ax.set_title("Side difference per visit (bars: 95% interval, 1.96 x between-event SE)", fontsize=10, loc="left")
    fig.subplots_adjust(left=0.13, right=0.98, top=0.9, bottom=0.27)
    return fig
