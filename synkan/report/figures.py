"""The report's figures, as PNG files and as matplotlib Figures for notebooks.

One public function per figure takes an :class:`~synkan.analysis.Analysis`
and returns a :class:`matplotlib.figure.Figure`:

- :func:`plot_timeseries`: eye closure and mouth-corner lift per side, events shaded;
- :func:`plot_xcorr`: cross-correlation against lag, per direction and side;
- :func:`plot_scatter`: involuntary responder against voluntary driver, per side;
- :func:`plot_keyframes`: rest, peak smile and peak eye closure, landmarks drawn;
- :func:`plot_summary_matrix`: provoking movement x responding region, per side.

Sides are always the subject's (colours in :mod:`synkan.report.style`); the
subject's right is image-left in an unmirrored video. The summary matrix
lives in :mod:`synkan.report.summary_matrix`.

Examples
--------
>>> from synkan.report.figures import plot_timeseries
>>> fig = plot_timeseries(result)  # doctest: +SKIP
>>> fig.savefig("timeseries.pdf")  # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

# Figures are built without pyplot: no GUI backend is touched, nothing is
# registered globally, and notebooks keep their own (inline) backend.
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..text import lag_text
from .frames import FigureUnavailable, note, plot_face_frames, read_frames
from .style import (
    DIRECTION_TITLES,
    DPI,
    DRIVER_LABELS,
    EVENT_COLORS,
    EVENT_LABELS,
    MARGINS,
    RESPONDER_LABELS,
    SIDE_COLORS,
    SIDE_LABELS,
    format_gain,
)
from .summary_matrix import plot_summary_matrix

if TYPE_CHECKING:
    from ..analysis import Analysis

def _style(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, color="#e6e6e6", linewidth=0.7)
    ax.set_axisbelow(True)



def _reason(analysis: "Analysis", direction: str) -> str:
    coupling = analysis.couplings.get(direction)
    return coupling.reason if coupling is not None and coupling.reason else "too little data"



# --- 1. time series ----------------------------------------------------------------

def plot_timeseries(analysis: "Analysis") -> Figure:
    """Eye closure and mouth-corner lift per side over time, events shaded and labelled.

    Three panels share the time axis: an event lane (one row per kind), eye
    closure (% of the eye's rest aperture) and mouth-corner lift (% of
    the inter-ocular distance), each side in its :data:`SIDE_COLORS` colour.
    """
    sig = analysis.signals
    t = sig.t
    table = analysis.events.table
    fig = Figure(figsize=(10, 6.4), dpi=DPI)
    (lane, ax_eye, ax_mouth) = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [0.9, 2.2, 2.2]})
    kinds = list(EVENT_COLORS)
    for row in table.itertuples():
        y = kinds.index(row.kind) if row.kind in kinds else None
        if y is None:
            continue
        color = EVENT_COLORS[row.kind]
        width = max(row.end_s - row.start_s, 0.03)
        lane.barh(y, width, left=row.start_s, height=0.7, color=color, edgecolor="none")
        for ax in (ax_eye, ax_mouth):
            ax.axvspan(row.start_s, row.start_s + width, color=color, alpha=0.18, linewidth=0)
    lane.set_yticks(range(len(kinds)), [EVENT_LABELS[k] for k in kinds], fontsize=8)
    lane.set_ylim(len(kinds) - 0.4, -0.6)
    lane.set_title("Events found" + ("" if len(table) else " (none)"), fontsize=10, loc="left")
    lane.tick_params(axis="x", length=0)
    lane.spines[["top", "right"]].set_visible(False)
    for ax, stem, ylabel in ((ax_eye, "eye_closure", "eye closure (%)\n0 = rest, 100 = closed"),
                             (ax_mouth, "mouth_vertical", "mouth-corner lift\n(% of eye distance)")):
        for side in ("right", "left"):
            ax.plot(t, 100 * sig[f"{stem}_{side[0]}"], color=SIDE_COLORS[side], linewidth=1.4, label=SIDE_LABELS[side])
        ax.set_ylabel(ylabel, fontsize=9)
        _style(ax)
    handles = [Line2D([], [], color=SIDE_COLORS[s], linewidth=2, label=SIDE_LABELS[s]) for s in ("right", "left")]
    fig.legend(handles=handles, loc="upper right", ncol=2, fontsize=9, frameon=False)
    ax_mouth.set_xlabel("time (s)")
    invalid = ~sig.data["valid"].to_numpy()
    if invalid.any():
        for ax in (ax_eye, ax_mouth):
            ax.fill_between(t, 0, 1, where=invalid, transform=ax.get_xaxis_transform(), color="black", alpha=0.08,
                            linewidth=0, label="no face")
    if len(t):
        ax_mouth.set_xlim(t[0], t[-1])
    fig.align_ylabels([lane, ax_eye, ax_mouth])
    fig.subplots_adjust(**MARGINS["timeseries"])
    return fig


# --- 2. cross-correlation ----------------------------------------------------------

def plot_xcorr(analysis: "Analysis") -> Figure:
    """Normalised cross-correlation against lag, per direction and side, peaks marked.

    A positive lag means the involuntary responder follows the voluntary driver.
    """
    fig = Figure(figsize=(10, 3.8), dpi=DPI)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, (direction, coupling) in zip(axes, analysis.couplings.items()):
        ax.set_title(DIRECTION_TITLES.get(direction, direction), fontsize=10)
        plotted = False
        for k, side in enumerate(("right", "left")):
            sc = coupling.sides[side]
            if sc.xcorr.size == 0 or not np.isfinite(sc.xcorr).any():
                continue
            plotted = True
            ax.plot(1000 * sc.lags_s, sc.xcorr, color=SIDE_COLORS[side], linewidth=1.6, label=SIDE_LABELS[side])
            if sc.r is not None and sc.lag_s is not None:
                ax.plot(1000 * sc.lag_s, sc.r, "o", color=SIDE_COLORS[side], markersize=7, markeredgecolor="white")
                ax.annotate(f"r = {sc.r:.2f}, lag {lag_text(sc.lag_s, analysis.video.get('fps'))}", (1000 * sc.lag_s, sc.r),
                            xytext=(0.03, 0.14 - 0.09 * k), textcoords="axes fraction", fontsize=8.5,
                            color=SIDE_COLORS[side])
        if not plotted:
            note(ax, f"not measurable:\n{_reason(analysis, direction)}")
            continue
        ax.axvline(0, color="#888888", linewidth=0.8, linestyle="--")
        ax.set_xlabel("lag (ms; > 0: responder follows driver)")
        ax.legend(loc="upper right", fontsize=8)
        ax.set_ylim(-1.05, 1.1)
        _style(ax)
    axes[0].set_ylabel("correlation r")
    fig.subplots_adjust(**MARGINS["xcorr"])
    return fig


# --- 3. scatter ----------------------------------------------------------------------

def _lagged_pairs(x: np.ndarray, y: np.ndarray, window: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    n = len(x)
    idx = np.arange(max(0, -lag), min(n, n - lag))
    ok = window[idx] & window[idx + lag] & np.isfinite(x[idx]) & np.isfinite(y[idx + lag])
    return x[idx][ok], y[idx + lag][ok]


def plot_scatter(analysis: "Analysis") -> Figure:
    """Involuntary responder against the voluntary driver, per side, with the gain line.

    Points are the samples inside the driver's event windows, paired at each
    side's peak lag; the line has the reported gain as its slope.
    """
    fig = Figure(figsize=(10, 4.2), dpi=DPI)
    axes = fig.subplots(1, 2)
    for ax, (direction, coupling) in zip(axes, analysis.couplings.items()):
        ax.set_title(DIRECTION_TITLES.get(direction, direction), fontsize=10)
        t = coupling.t
        dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
        plotted = False
        for k, side in enumerate(("right", "left")):
            sc = coupling.sides[side]
            if sc.lag_s is None or not coupling.window.any():
                continue
            lag = int(round(sc.lag_s / dt))
            x, y = _lagged_pairs(coupling.driver, coupling.responders[side], coupling.window, lag)
            if not len(x):
                continue
            plotted = True
            ax.scatter(100 * x, 100 * y, s=9, alpha=0.45, color=SIDE_COLORS[side], edgecolor="none", label=SIDE_LABELS[side])
            if sc.gain is not None:
                xs = np.linspace(x.min(), x.max(), 2)
                ys = y.mean() + sc.gain * (xs - x.mean())
                ax.plot(100 * xs, 100 * ys, color=SIDE_COLORS[side], linewidth=2)
                ax.text(0.03, 0.95 - 0.08 * k, f"{SIDE_LABELS[side]}: gain {format_gain(sc.gain)}", transform=ax.transAxes,
                        fontsize=8.5, color=SIDE_COLORS[side], va="top")
        if not plotted:
            note(ax, f"not measurable:\n{_reason(analysis, direction)}")
            continue
        ax.set_xlabel("voluntary: " + DRIVER_LABELS.get(direction, "driver"), fontsize=9)
        ax.set_ylabel("involuntary: " + RESPONDER_LABELS.get(direction, "responder"), fontsize=9)
        ax.legend(loc="lower right", fontsize=8, markerscale=2)
        _style(ax)
    fig.subplots_adjust(**MARGINS["scatter"])
    return fig


# --- 4. key frames -------------------------------------------------------------------

def _frame_rows(analysis: "Analysis") -> list[tuple[str, int]]:
    """(title, track row) for rest, peak smile (or pucker) and peak eye closure (or blink)."""
    sig = analysis.signals
    valid = analysis.track.valid
    rows: list[tuple[str, int]] = []
    if valid.any():
        quiet = np.abs(sig["eye_closure_r"]) + np.abs(sig["eye_closure_l"]) + sig["mouth_excursion_r"] + sig["mouth_excursion_l"]
        quiet = np.where(valid & np.isfinite(quiet), quiet, np.inf)
        rows.append(("rest", int(np.argmin(quiet))))
    t = sig.t
    for kinds in (("smile", "pucker"), ("eye_closure", "blink")):
        for kind in kinds:
            ev = analysis.events.of(kind)
            if ev.empty:
                continue
            best = ev.loc[ev["peak"].idxmax()]
            row = int(np.argmin(np.abs(t - best["peak_s"])))
            if valid[row]:
                rows.append((f"peak {EVENT_LABELS[kind]}", row))
                break
    return rows



def plot_keyframes(analysis: "Analysis", deidentify: bool = False, frames: dict[int, np.ndarray] | str | None = None) -> Figure:
    """Rest, peak smile and peak eye closure; see :func:`plot_face_frames`.

    ``frames`` are the video frames if already read (:func:`read_frames`).
    """
    track = analysis.track
    wanted = [(f"{title} (t = {track.t_s[row]:.2f} s)", row) for title, row in _frame_rows(analysis)]
    return plot_face_frames(analysis, wanted, deidentify, (10, 4.0), "key frames", MARGINS["keyframes"], frames)



# --- all ---------------------------------------------------------------------------

def _write_png(rgba: np.ndarray, path: Path) -> None:
    from PIL import Image

    # Fast PNG compression: the figures are re-encoded into the HTML anyway.
    Image.fromarray(rgba[..., :3]).save(path, compress_level=1)


def save_figures(analysis: "Analysis", folder: str | Path, deidentify: bool = False,
                 notes: dict[str, str] | None = None) -> dict[str, Path]:
    """Write every figure (the scales section's too) as a PNG into ``folder``; returns ``{name: path}``.

    A figure that cannot be drawn (the key frames when the video is gone)
    is skipped; its reason goes into ``notes[name]`` for the HTML report.
    """
    from concurrent.futures import ThreadPoolExecutor

    from .scales_figure import movement_frame_rows, plot_movement_keyframes, plot_movement_matrix

    track = analysis.track
    rows = _frame_rows(analysis) + (movement_frame_rows(analysis) if analysis.movements is not None else [])
    # OpenCV's decoding releases the GIL: every frame shown is read from the
    # video in one pass while the other figures are drawn.
    with ThreadPoolExecutor(max_workers=1) as reader:
        frames = reader.submit(read_frames, analysis, [int(track.frame_index[row]) for _, row in rows])
        makers = {"timeseries": plot_timeseries, "xcorr": plot_xcorr, "scatter": plot_scatter,
                  "keyframes": lambda a: plot_keyframes(a, deidentify=deidentify, frames=frames.result()),
                  "summary_matrix": plot_summary_matrix}
        if analysis.movements is not None:
            makers.update(movement_matrix=plot_movement_matrix,
                          movement_keyframes=lambda a: plot_movement_keyframes(a, deidentify, frames.result()))
        return save_pngs(analysis, makers, folder, notes)


def save_pngs(analysis: "Analysis", makers: dict, folder: str | Path, notes: dict[str, str] | None) -> dict[str, Path]:
    """Draw each ``{name: make(analysis) -> Figure}`` into ``folder/name.png``; unavailable ones go into
    ``notes``."""
    from concurrent.futures import ThreadPoolExecutor

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    # PNG compression releases the GIL: each PNG is compressed while the next figure is drawn.
    with ThreadPoolExecutor(max_workers=1) as writer:
        written = []
        for name, make in makers.items():
            try:
                fig = make(analysis)
            except FigureUnavailable as exc:
                if notes is not None:
                    notes[name] = str(exc)
                continue
            fig.patch.set_facecolor("white")
            canvas = FigureCanvasAgg(fig)
            canvas.draw()
            paths[name] = folder / f"{name}.png"
            written.append(writer.submit(_write_png, np.asarray(canvas.buffer_rgba()), paths[name]))
        for job in written:
            job.result()  # re-raise a failed write here
    return paths
