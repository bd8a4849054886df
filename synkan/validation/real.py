"""Accuracy on real faces: healthy videos with a known one-sided narrowing added.

Each real video of a healthy person is analysed untouched (a control, which
must get grade 0), and again after :func:`synkan.synth.synth_from_video` has
moved one upper lid down by ``k`` x that person's own smile (``k`` =
:data:`REAL_K` on each side). Per case the table gives what a clinician
sees (the side named, the grade, ``asymmetry_pp`` and its uncertainty) and
what the measurement itself recovers, per eye-aperture method
(``pixel``, the default, and the mesh's ``plain``):

* **recovered**: least-squares slope of the narrowed eye's measured change
  (modified minus untouched video, frame by frame) on the true added
  closure; 1 means the whole narrowing is seen. The fit has an intercept:
  each video is measured against its own rest, and when the person is
  never fully at rest the rest frames of the modified video already hold
  some added narrowing, a constant offset that is not a failure to see it;
* **leak**: the same slope for the untouched eye; 0 means none of it leaks.

Only frames the oral-ocular analysis itself uses (face found, frontal gaze)
count. Videos without a smile or pucker get no injected cases: there is no
movement to couple to.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..config import Settings

REAL_K = (0.35, 0.6)
METHODS = ("pixel", "plain")


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ``y`` on ``x`` (with an intercept), over finite pairs.

    Examples
    --------
    >>> round(_slope(np.array([0.0, 0.1, 0.2, np.nan]), np.array([0.05, 0.13, 0.21, 1.0])), 6)
    0.8
    >>> _slope(np.array([np.nan, 0.1]), np.array([0.05, np.nan]))
    nan
    """
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2:  # nothing to fit (a region never measured)
        return float("nan")
    xs, ys = x[ok] - x[ok].mean(), y[ok] - y[ok].mean()
    denominator = float((xs ** 2).sum())
    return float((xs * ys).sum() / denominator) if denominator > 0 else float("nan")


def recovery(untouched, modified, truth: pd.DataFrame, side: str) -> dict[str, float]:
    """Recovered share and leak of a known narrowing, per method.

    Parameters
    ----------
    untouched, modified : Analysis
        The video before and after the narrowing was added.
    truth : DataFrame
        The ``<name>_gt.csv`` of the modified video (``added_closure_r/l``).
    side : {"right", "left"}
        The narrowed side.
    """
    s, o = side[0], "l" if side == "right" else "r"
    n = min(len(untouched.signals.data), len(modified.signals.data), len(truth))
    use = (untouched.signals.data["gaze_ok"].to_numpy(bool)[:n] & modified.signals.data["gaze_ok"].to_numpy(bool)[:n]
           & untouched.signals.data["valid"].to_numpy(bool)[:n] & modified.signals.data["valid"].to_numpy(bool)[:n])
    added = np.where(use, truth[f"added_closure_{s}"].to_numpy(float)[:n], np.nan)
    out = {}
    for method in METHODS:
        column = f"eye_closure_{method}_{{}}"
        change = {x: modified.signals[column.format(x)][:n] - untouched.signals[column.format(x)][:n] for x in (s, o)}
        out[f"recovered_{method}"] = _slope(added, change[s])
        out[f"leak_{method}"] = _slope(added, change[o])
    return out


def _row(video: Path, side: str | None, k: float, result) -> dict:
    oo = result.scores.scores["oral_ocular"]
    named = oo["affected_side"]
    return {"video": video.stem, "true_side": side, "k_oo": k, "named_side": named, "grade": oo["grade"],
            "asymmetry_pp": oo["asymmetry_pp"], "asymmetry_se_pp": oo["asymmetry_se_pp"],
            "lag_s": oo[named]["lag_s"] if named else None,
            "r": oo[named]["r"] if named else None, "n_events": oo[named]["n_events"] if named else 0,
            "ocular_oral_grade": result.scores.scores["ocular_oral"]["grade"]}


def real_face_table(videos: list[str | Path], outdir: str | Path, ks: tuple[float, ...] = REAL_K,
                    settings: Settings | None = None) -> pd.DataFrame:
    """Analyse each video untouched and with each one-sided narrowing; one row per case.

    Parameters
    ----------
    videos : list of path
        Real videos of healthy people.
    outdir : path
        Where the modified videos and their truth files are written.
    ks : tuple of float
        Narrowing per unit of the person's own smile.
    settings : Settings, optional
        Analysis settings (default: synkan's defaults).
    """
    from ..analysis import analyze
    from ..synth import synth_from_video

    settings = settings or Settings()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rows = []
    for video in map(Path, videos):
        untouched = analyze(video, settings)
        rows.append(_row(video, None, 0.0, untouched))
        if not len(untouched.events.of("smile", "pucker")):
            continue
        for k in ks:
            for side in ("right", "left"):
                paths = synth_from_video(video, outdir, side, k_oo=k, track=untouched.track)  # tracked once
                modified = analyze(paths["video"], settings)
                truth = pd.read_csv(paths["gt_csv"])
                rows.append({**_row(video, side, k, modified), **recovery(untouched, modified, truth, side)})
    return pd.DataFrame(rows)


def real_face_summary(table: pd.DataFrame) -> dict:
    """The issue's acceptance numbers: side hits, false flags, recovered share and leak, rank correlation."""
    from scipy.stats import spearmanr

    cases = table[table["true_side"].notna()]
    controls = table[table["true_side"].isna()]
    hits = (cases["named_side"] == cases["true_side"]) & (cases["grade"].fillna(0) >= 1)
    signed_k = np.where(cases["true_side"] == "left", 1.0, -1.0) * cases["k_oo"]
    signed_k = np.r_[signed_k, np.zeros(len(controls))]
    both = pd.concat([cases, controls])
    signed_asym = np.where(both["named_side"] == "left", 1.0, -1.0) * both["asymmetry_pp"].astype(float)
    out = {"cases": int(len(cases)), "side_hits": int(hits.sum()), "controls": int(len(controls)),
           "controls_flagged": int((controls["grade"].fillna(0) >= 1).sum()),
           "spearman_signed_k_vs_asymmetry": float(spearmanr(signed_k, signed_asym, nan_policy="omit").statistic)
           if len(both) > 2 else float("nan")}
    for method in METHODS:
        if f"recovered_{method}" in cases:
            out[f"recovered_{method}_median"] = float(cases[f"recovered_{method}"].median())
            out[f"leak_{method}_median"] = float(cases[f"leak_{method}"].median())
    return out


def real_face_markdown(table: pd.DataFrame) -> str:
    """The real-face table as markdown, followed by its summary numbers."""
    def f(x, spec=".2f"):
        return "-" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)

    lines = ["| video | narrowed side, k | side named | grade | asymmetry pp (± SE) | r | recovered pixel / mesh "
             "| leak pixel / mesh |", "|---|---|---|---|---|---|---|---|"]
    for row in table.itertuples():
        truth = "untouched" if not isinstance(row.true_side, str) else f"{row.true_side}, {row.k_oo:g}"
        rec = f"{f(getattr(row, 'recovered_pixel', None))} / {f(getattr(row, 'recovered_plain', None))}"
        leak = f"{f(getattr(row, 'leak_pixel', None))} / {f(getattr(row, 'leak_plain', None))}"
        grade = "-" if row.grade is None or not np.isfinite(row.grade) else str(int(row.grade))
        lines.append(f"| {row.video} | {truth} | {row.named_side if isinstance(row.named_side, str) else '-'} | {grade} "
                     f"| {f(row.asymmetry_pp, '.1f')} (± {f(row.asymmetry_se_pp, '.1f')}) | {f(row.r)} | {rec} | {leak} |")
    s = real_face_summary(table)
    lines += ["", f"Side named with grade >= 1: {s['side_hits']} of {s['cases']} narrowed cases; untouched videos flagged: "
              f"{s['controls_flagged']} of {s['controls']}; Spearman signed k vs signed asymmetry: "
              f"{s['spearman_signed_k_vs_asymmetry']:.2f}; median recovered share pixel {s.get('recovered_pixel_median', float('nan')):.2f} "
              f"(mesh {s.get('recovered_plain_median', float('nan')):.2f}), median leak pixel {s.get('leak_pixel_median', float('nan')):.2f} "
              f"(mesh {s.get('leak_plain_median', float('nan')):.2f})."]
    return "\n".join(lines)


def run_real_validation(videos: list[str | Path], output: str | Path) -> str:
    """Write ``real_faces.csv`` and ``real_faces.md`` into ``output``; return the markdown."""
    out = Path(output)
    table = real_face_table(videos, out / "real_faces")
    table.to_csv(out / "real_faces.csv", index=False, float_format="%.4f")
    text = "## Real faces with a known one-sided narrowing (default settings)\n\n" + real_face_markdown(table)
    (out / "real_faces.md").write_text(text + "\n")
    return text
