"""The figures of a batch's trends: one patient's sessions over time, and the cohort by group.

Both take rows of summary.csv (with a parsed ``date`` column, and for the
cohort a ``group`` column: the patient's label) and return a matplotlib
Figure made without pyplot.
"""
from __future__ import annotations

import textwrap

from .._util.words import plural
from ..config import GRADE_NAMES
from ..tables import DIRECTIONS

_DIR_TITLE = {"oral_ocular": "oral-ocular (eye moves when mouth moves)",
              "ocular_oral": "ocular-oral (mouth moves when eyes close)"}
_DIR_SHORT = {"oral_ocular": "oral-ocular", "ocular_oral": "ocular-oral"}
_DIR_COLOR = {"oral_ocular": "#1f77b4", "ocular_oral": "#d62728"}
# A cohort group's tick label is wrapped to this many characters a line: the figure gives each group
# about 0.9 inch of each panel's width, which holds about 13 characters at the ticks' font size.
TICK_CHARS = 13

TYPICAL_MOVEMENT = {"oral_ocular": "smile", "ocular_oral": "blink"}


def typical_grade_thresholds(direction: str) -> tuple[float, ...]:
    """Grade thresholds of the direction's most common driver movement (the shipped healthy reference).

    Each recording is graded against its deciding movement's own limit, so
    these lines are a guide on a cohort plot, not every row's thresholds.
    """
    from ..grade.grades import grade_thresholds
    from ..grade.normative import load_normative, reference

    movement = TYPICAL_MOVEMENT[direction]
    return grade_thresholds(direction, reference(load_normative(), direction, movement).limit)


def _thresholds(ax, direction: str) -> None:
    """A direction's dashed grade thresholds on an asymmetry axis, named at the right edge."""
    from matplotlib.transforms import blended_transform_factory

    levels = typical_grade_thresholds(direction)
    lo, hi = ax.get_ylim()
    tr = blended_transform_factory(ax.transAxes, ax.transData)
    for level, name in zip(levels, GRADE_NAMES[1:]):
        if lo < level < hi:
            ax.axhline(level, color="0.75", lw=0.8, ls="--", zorder=0)
            ax.text(0.995, level, name, transform=tr, ha="right", va="bottom", fontsize=7.5, color="0.5")
    ax.axhline(0, color="0.4", lw=0.8, zorder=0)


def _top_threshold(direction: str) -> float:
    return float(max(typical_grade_thresholds(direction)))


def patient_figure(pid: str, rows):
    """One patient's asymmetry per direction and grade over their sessions (rows sorted by ``date``)."""
    import numpy as np
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.5, 7.6), layout="constrained")
    axes = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 2.2, 1.6]})
    dates = rows["date"].reset_index(drop=True)
    n = len(rows)
    grade_ax = axes[2]
    for i, (ax, d) in enumerate(zip(axes, DIRECTIONS)):
        y = rows[f"{d}_asymmetry_pp"].astype(float).reset_index(drop=True)
        g = rows[f"{d}_grade"].astype(float).reset_index(drop=True)
        sides = rows[f"{d}_affected_side"].reset_index(drop=True)
        ok = y.notna()
        # A session without a score (e.g. no smile filmed) is left out of the line and marked "n/a".
        ax.plot(dates[ok], y[ok], "-o", color=_DIR_COLOR[d], lw=2, ms=6, zorder=3)
        for x, v, sd in zip(dates[ok], y[ok], sides[ok]):
            if isinstance(sd, str) and sd:
                ax.annotate(sd[0].upper(), (x, v), textcoords="offset points", xytext=(0, 6), ha="center",
                            fontsize=8, color=_DIR_COLOR[d], fontweight="bold")
        for x in dates[~ok]:
            ax.annotate("n/a", (x, 0), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8,
                        color="0.45")
        top = _top_threshold(d) * 1.25
        hi = max(top, float(y.max()) * 1.15) if ok.any() else top
        lo = min(-0.08 * hi, float(y.min()) * 1.15) if ok.any() else -0.08 * hi
        ax.set_ylim(lo, hi)
        _thresholds(ax, d)
        ax.set_title(_DIR_TITLE[d], loc="left", fontsize=10, color=_DIR_COLOR[d])
        ax.set_ylabel("asymmetry (pp)")
        off = (i - 0.5) * 0.14
        gok = g.notna()
        grade_ax.plot(dates[gok], g[gok] + off, "-s", color=_DIR_COLOR[d], lw=2, ms=6, label=_DIR_SHORT[d])
    fig.suptitle(f"Patient {pid}: synkinesis over {plural(n, 'session')}", x=0.01, ha="left", fontsize=12)
    grade_ax.set_ylim(-0.4, 3.4)
    grade_ax.set_yticks(range(4), [f"{k} {name}" for k, name in enumerate(GRADE_NAMES)])
    grade_ax.set_ylabel("grade (heuristic)")
    grade_ax.set_title("grade", loc="left", fontsize=10)
    grade_ax.grid(axis="y", color="0.9")
    grade_ax.legend(loc="upper right", bbox_to_anchor=(1.0, 1.25), ncol=2, frameon=False, fontsize=8.5)
    span = (dates.max() - dates.min()) if n > 1 else np.timedelta64(30, "D")
    pad = max(span * 0.08, np.timedelta64(5, "D"))
    grade_ax.set_xlim(dates.min() - pad, dates.max() + pad)
    if n <= 10:  # label every session
        grade_ax.set_xticks(list(dates), [x.strftime("%Y-%m-%d") for x in dates], rotation=30, ha="right")
    grade_ax.set_xlabel("session date")
    fig.text(0.99, 0.995, "asymmetry: affected minus other side, percentage points; letters: affected side (R/L)",
             ha="right", va="top", fontsize=7.5, color="0.45")
    return fig


def cohort_tick(group: str, n_videos: int, rows) -> str:
    """A cohort group's tick label: its name wrapped to :data:`TICK_CHARS`, its videos and patients below.

    ``n_videos`` are those with a score in the panel; ``rows`` are the group's rows (their ``patient_id``).

    Examples
    --------
    >>> import pandas as pd
    >>> print(cohort_tick("synkinesis after Bell's palsy", 3, pd.DataFrame({"patient_id": ["P1", "P1", ""]})))
    synkinesis
    after Bell's
    palsy
    3 videos
    1 patient
    """
    n = rows.loc[rows["patient_id"] != "", "patient_id"].nunique()
    lines = textwrap.wrap(group, TICK_CHARS) + [plural(n_videos, "video")]
    lines += [plural(n, "patient")] if n else []
    return "\n".join(lines)


def cohort_figure(done):
    """Each score's distribution over the finished videos, one group per patient label (``done["group"]``)."""
    import numpy as np
    from matplotlib.figure import Figure

    labels = sorted(x for x in done["group"].unique() if x)
    groups = labels + (["(no label)"] if (done["group"] == "").any() and labels else [])
    if not labels:
        groups = ["all videos"]

    def members(g):
        if g == "all videos":
            return done
        return done[done["group"] == ("" if g == "(no label)" else g)]


    panels = [(f"{d}_asymmetry_pp", f"{_DIR_SHORT[d]} asymmetry (pp)\naffected minus other side") for d in DIRECTIONS]
    panels.append(("eface_ocular_synkinesis", "eFACE ocular synkinesis\n(100 = none)"))
    fig = Figure(figsize=(max(9.0, 3 * (1.6 + 0.9 * len(groups))), 4.4),
                 layout="constrained")
    axes = fig.subplots(1, len(panels))
    rng = np.random.default_rng(0)
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"]
    for ax, (col, title) in zip(axes, panels):
        data = [members(g)[col].astype(float).dropna().to_numpy() for g in groups]
        pos = np.arange(len(groups))
        nonempty = [i for i, v in enumerate(data) if len(v) >= 3]  # a box of fewer points says nothing
        if nonempty:
            ax.boxplot([data[i] for i in nonempty], positions=pos[nonempty], widths=0.5, showfliers=False,
                       medianprops={"color": "k"}, boxprops={"color": "0.6"}, whiskerprops={"color": "0.6"},
                       capprops={"color": "0.6"})
        for i, v in enumerate(data):
            ax.scatter(i + rng.uniform(-0.13, 0.13, len(v)), v, s=30, alpha=0.85, color=colors[i % len(colors)],
                       edgecolor="white", linewidth=0.5, zorder=3)
        ax.set_xticks(pos, [cohort_tick(g, len(v), members(g)) for g, v in zip(groups, data)], fontsize=8)
        ax.set_xlim(-0.6, len(groups) - (0.05 if col.endswith("asymmetry_pp") else 0.4))  # room for threshold names
        ax.set_title(title, fontsize=10)
        if not any(len(v) for v in data):
            ax.text(0.5, 0.5, "no scores\n(no driver movements found)", transform=ax.transAxes, ha="center",
                    va="center", fontsize=9, color="0.45")
        if col.endswith("asymmetry_pp"):
            lo, hi = ax.get_ylim()
            d = col[: -len("_asymmetry_pp")]
            ax.set_ylim(min(lo, -0.08 * hi), max(hi, _top_threshold(d) * 1.15))
            _thresholds(ax, d)
        else:
            ax.grid(axis="y", color="0.93")
            ax.set_ylim(min(-2.0, ax.get_ylim()[0]), 103)
    n = len(done)
    fig.suptitle(f"Cohort: {plural(n, 'analysed video')}" + (" by patient label" if labels else "")
                 + " (one dot per video; grade thresholds dashed)", fontsize=11, x=0.01, ha="left")
    return fig
