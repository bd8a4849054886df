"""Accuracy validation on generated ground-truth videos (the ``synkan validate`` command).

Laterality part: one-sided eye narrowings of known size on each side,
controls and symmetric narrowings are rendered with :mod:`synkan.synth`,
tracked once in mirror mode (which also runs the plain pass), and read with
both estimators (``eye_closure_plain_*`` and ``eye_closure_mirror_*``):

* **leakage**: reading on the untouched eye / reading on the affected eye;
* **recovered**: reading on the affected eye / true narrowing;
* **|R-L|**: the side difference, which must be small for controls and
  symmetric narrowings and large for one-sided ones.

Readings are medians over the narrowing's plateau, against the case's
known rest segment.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import LATERALITY_MODES, Settings
from ..synth import Action, Case, narrow_case, render_case

AMPLITUDES = (0.2, 0.35, 0.5, 0.7)
SYMMETRIC_AMPLITUDES = (0.35, 0.7)
CONTROL_SEEDS = (0, 1)
REST_END_S = 0.45  # every laterality case rests for its first 0.5 s
ONSET_S, RAMP_S = 0.5, 0.15  # narrowing starts at 0.5 s and ramps over 0.15 s (synth RAMP_S)


def laterality_cases(sizes: tuple[float, ...] = AMPLITUDES, symmetric: tuple[float, ...] = SYMMETRIC_AMPLITUDES,
                     controls: tuple[int, ...] = CONTROL_SEEDS, duration_s: float = 3.0, size: int = 512) -> list[Case]:
    """The cases: one-sided narrowing of each size on each side, symmetric narrowings, controls."""
    cases = [narrow_case(f"narrow_{side}_{a:.2f}", side, a, duration_s=duration_s, seed=i, size=size)
             for i, a in enumerate(sizes) for side in ("right", "left")]
    cases += [Case(name=f"narrow_both_{a:.2f}", duration_s=duration_s, seed=10 + i, size=size,
                   timeline=(Action("narrow", ONSET_S, duration_s - 0.5, a, "both"),)) for i, a in enumerate(symmetric)]
    cases += [Case(name=f"control_{s}", duration_s=duration_s, seed=20 + s, size=size) for s in controls]
    return cases


def render_cached(case: Case, outdir: Path) -> Path:
    """Render ``case`` unless an identical rendering is already there."""
    video, meta = outdir / f"{case.name}.mp4", outdir / f"{case.name}.json"
    if video.exists() and meta.exists():
        try:
            if json.loads(meta.read_text())["case"] == case.to_dict():
                return video
        except (ValueError, KeyError):
            pass
    return render_case(case, outdir)["video"]


def measure_case(case: Case, video: str | Path, landmarkers=None) -> list[dict]:
    """Pixel, plain and mirror readings of one laterality case (one row per mode)."""
    from ..measure.signals import signals_process
    from ..measure.tracking import Track, track_video

    cached = Path(video).with_suffix(".track.npz")
    if cached.exists() and cached.stat().st_mtime >= Path(video).stat().st_mtime:
        tr = Track.load(cached)
    else:
        tr = track_video(video, Settings(laterality="mirror"), landmarkers=landmarkers)
        tr.save(cached)
    sig = signals_process(tr, Settings(laterality="mirror"), rest_s=(0.0, REST_END_S))
    t = sig.t
    plateau = (t >= ONSET_S + RAMP_S) & (t <= case.duration_s - 0.5 - RAMP_S)
    truth = {"right": 0.0, "left": 0.0}
    for a in case.timeline:
        for side in (("right", "left") if a.side == "both" else (a.side,)):
            truth[side] = max(truth[side], a.amplitude)
    one_sided = [s for s, v in truth.items() if v > 0]
    kind = "control" if not one_sided else ("symmetric" if len(one_sided) == 2 else "one-sided")
    rows = []
    for mode in LATERALITY_MODES:
        r = float(np.nanmedian(sig[f"eye_closure_{mode}_r"][plateau]))
        l_ = float(np.nanmedian(sig[f"eye_closure_{mode}_l"][plateau]))
        diff = sig[f"eye_closure_{mode}_r"][plateau] - sig[f"eye_closure_{mode}_l"][plateau]
        row = {"case": case.name, "kind": kind, "mode": mode, "true_r": truth["right"], "true_l": truth["left"],
               "read_r": r, "read_l": l_, "abs_r_minus_l": abs(float(np.nanmedian(diff))),
               "abs_r_minus_l_p95": float(np.nanpercentile(np.abs(diff), 95)),
               "leakage": np.nan, "recovered": np.nan,
               "mirror_fraction": float(sig.data["mirror_used"][plateau].mean()) if mode == "mirror" else 0.0}
        if kind == "one-sided":
            hit = one_sided[0]
            aff, other = (r, l_) if hit == "right" else (l_, r)
            row.update(leakage=other / aff if aff > 0 else np.nan, recovered=aff / truth[hit])
        elif kind == "symmetric":
            row.update(recovered=(r + l_) / 2 / truth["right"])
        rows.append(row)
    return rows


def laterality_table(outdir: str | Path, sizes: tuple[float, ...] = AMPLITUDES,
                     symmetric: tuple[float, ...] = SYMMETRIC_AMPLITUDES, controls: tuple[int, ...] = CONTROL_SEEDS,
                     duration_s: float = 3.0) -> pd.DataFrame:
    """Render (or reuse) the laterality cases in ``outdir`` and measure them, plain vs mirror.

    Returns
    -------
    pandas.DataFrame
        One row per case and mode: true and read closure per side, |R-L|
        (median and 95th percentile over the plateau), leakage, recovered.
    """
    from ..measure.models import resolve_model
    from ..measure.tracking import Landmarker

    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    model = resolve_model()
    landmarkers = [Landmarker(model) for _ in range(3)]
    rows = []
    try:
        for case in laterality_cases(sizes, symmetric, controls, duration_s):
            rows += measure_case(case, render_cached(case, out), landmarkers)
    finally:
        for lm in landmarkers:
            lm.close()
    return pd.DataFrame(rows)


def laterality_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per mode: mean leakage and recovery of one-sided cases, worst control |R-L|, separation."""
    out = []
    for mode, g in table.groupby("mode", sort=False):
        one = g[g.kind == "one-sided"]
        big = one[np.maximum(one.true_r, one.true_l) >= 0.35]
        ctrl = g[g.kind.isin(["control", "symmetric"])]
        out.append({"mode": mode, "leakage_mean": one.leakage.mean(), "recovered_mean": one.recovered.mean(),
                    "control_max_abs_r_minus_l": ctrl.abs_r_minus_l.max(),
                    "one_sided_min_abs_r_minus_l (>=0.35)": big.abs_r_minus_l.min(),
                    "separated": bool(big.abs_r_minus_l.min() > ctrl.abs_r_minus_l.max())})
    return pd.DataFrame(out)


def laterality_markdown(table: pd.DataFrame) -> str:
    """The README table: one row per case, the eye-aperture methods side by side."""
    wide = table.pivot(index="case", columns="mode")
    modes = list(dict.fromkeys(table["mode"]))
    order = list(dict.fromkeys(table.case))
    head = ["case", "truth R / L"] + [f"{m} R / L" for m in modes] + [f"{m} leakage" for m in modes] \
        + [f"{m} recovered" for m in modes] + [f"{m} abs(R-L)" for m in modes]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    f = lambda v, spec=".2f": "" if not np.isfinite(v) else format(v, spec)  # noqa: E731
    for case in order:
        w = wide.loc[case]
        cells = [case, f"{w[('true_r', modes[0])]:.2f} / {w[('true_l', modes[0])]:.2f}"]
        cells += [f"{w[('read_r', m)]:.2f} / {w[('read_l', m)]:.2f}" for m in modes]
        cells += [f(w[("leakage", m)]) for m in modes] + [f(w[("recovered", m)]) for m in modes]
        cells += [f(w[("abs_r_minus_l", m)], ".3f") for m in modes]
        lines.append("| " + " | ".join(cells) + " |")
    summary = laterality_summary(table)
    lines += ["", "| mode | mean leakage | mean recovered | worst control / symmetric abs(R-L) | "
              "smallest one-sided (>=0.35) abs(R-L) | separated |", "|---|---|---|---|---|---|"]
    for _, s in summary.iterrows():
        lines.append(f"| {s['mode']} | {s.leakage_mean:.2f} | {s.recovered_mean:.2f} | {s.control_max_abs_r_minus_l:.3f} "
                     f"| {s['one_sided_min_abs_r_minus_l (>=0.35)']:.3f} | {'yes' if s.separated else 'no'} |")
    return "\n".join(lines)


def run_validation(output: str | Path, laterality: str = Settings().laterality, quick: bool = False) -> str:
    """The ``synkan validate`` command: write the validation tables into ``output``; return them as markdown.

    ``quick`` measures fewer, shorter cases. The laterality table always
    reports both estimators (one mirror-mode track gives both), whatever
    ``laterality``.
    """
    out = Path(output)
    kwargs = dict(sizes=(0.35, 0.7), symmetric=(0.5,), controls=(0,), duration_s=2.0) if quick else {}
    table = laterality_table(out / "laterality", **kwargs)
    table.to_csv(out / "laterality.csv", index=False, float_format="%.4f")
    text = "## Laterality (one-sided eye narrowing): pixel lids, mesh (plain) and mirror\n\n" + laterality_markdown(table)
    (out / "laterality.md").write_text(text + "\n")
    sweep = coupling_table(out / "coupling", laterality=laterality, quick=quick)
    sweep.to_csv(out / "coupling.csv", index=False, float_format="%.4f")
    coupling_text = f"## Coupling sweep, truth vs measured ({laterality})\n\n" + coupling_markdown(sweep)
    (out / "coupling.md").write_text(coupling_text + "\n")
    return text + "\n\n" + coupling_text


# --- Coupling sweep: truth vs measured scores on standard-protocol cases -----------

K_OO_SWEEP = (0.0, 0.2, 0.4, 0.6)
EVENT_TOLERANCE_S = 0.15  # a detected event matches a true one if start and end are this close


def coupling_cases(quick: bool = False, size: int = 320) -> list[Case]:
    """Controls, a bilateral Duchenne smile, a k_oo sweep on both sides, ocular-oral cases and a delayed
    case."""
    from ..synth import standard_case

    duration = 8.0 if quick else 10.0
    kw = dict(duration_s=duration, size=size, pucker=False)
    cases = [standard_case("control", "control", seed=1, **kw), standard_case("duchenne", "duchenne", seed=2, **kw)]
    for side in ("left", "right"):
        ks = [k for k in K_OO_SWEEP if k > 0 and (side == "left" or not quick or k == max(K_OO_SWEEP))]
        cases += [standard_case(f"oo_{side}_{k:.1f}", "oral_ocular", side=side, k_oo=k, seed=3 + i, **kw) for i, k in enumerate(ks)]
    cases += [standard_case("ocul_right_0.5", "ocular_oral", side="right", k_ocul=0.5, seed=9, **kw),
              standard_case("oo_left_0.6_lag100ms", "oral_ocular", side="left", k_oo=0.6, lag_s=0.1, seed=11, **kw)]
    if not quick:
        cases += [standard_case("ocul_left_0.5", "ocular_oral", side="left", k_ocul=0.5, seed=10, **kw)]
    return cases


def match_events(true_events: list[dict], found: pd.DataFrame, tolerance_s: float = EVENT_TOLERANCE_S) -> tuple[int, int]:
    """How many true voluntary events were found (same kind, start and end within tolerance), of how many."""
    kinds = ("blink", "eye_closure", "smile", "pucker")
    truth = [e for e in true_events if e["kind"] in kinds]
    hits = 0
    for e in truth:
        same = found[found["kind"] == e["kind"]]
        if ((same["start_s"] - e["start_s"]).abs().le(tolerance_s) & (same["end_s"] - e["end_s"]).abs().le(tolerance_s)).any():
            hits += 1
    return hits, len(truth)


def evaluate_case(case: Case, outdir: str | Path, laterality: str = Settings().laterality, landmarkers=None) -> dict:
    """Render (or reuse) a case, analyse it, and compare with its truth: one table row."""
    from ..analysis import analyze

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    video = render_cached(case, outdir)
    truth = json.loads(video.with_suffix(".json").read_text())
    result = analyze(video, Settings(laterality=laterality), landmarkers=landmarkers)
    scores = result.scores.scores
    hits, n_true = match_events(truth["events"], result.events.table)
    row = {"case": case.name, "true_side": case.affected_side, "k_oo": case.k_oo, "k_ocul": case.k_ocul,
           "lag_true_s": case.lag_s, "events_found": hits, "events_true": n_true}
    for direction, short in (("oral_ocular", "oo"), ("ocular_oral", "ocul")):
        entry = scores[direction]
        side = entry["affected_side"]
        row.update({f"{short}_side": side, f"{short}_asym_pp": entry["asymmetry_pp"], f"{short}_grade": entry["grade"],
                    f"{short}_r": entry[side]["r"] if side else None,
                    # The lag of the coupling of all the direction's movements: the most samples, the finest lag.
                    f"{short}_lag_s": result.couplings[direction].sides[side].lag_s if side else None})
    return row


def coupling_table(outdir: str | Path, laterality: str = Settings().laterality, quick: bool = False) -> pd.DataFrame:
    """Evaluate every coupling case; one row per case."""
    return pd.DataFrame([evaluate_case(c, outdir, laterality) for c in coupling_cases(quick)])


def _max_grade(healthy: pd.DataFrame) -> int | None:
    """The highest grade given to a healthy case (None: none was graded either way)."""
    grades = healthy[["oo_grade", "ocul_grade"]].to_numpy(dtype=float)
    grades = grades[np.isfinite(grades)]
    return int(grades.max()) if grades.size else None


def coupling_summary(table: pd.DataFrame) -> dict:
    """Side accuracy (cases with coupling >= 0.4), k_oo vs asymmetry rank correlation, event recall, control
    grades."""
    from scipy.stats import spearmanr

    strong = table[(table["k_oo"] >= 0.4) | (table["k_ocul"] >= 0.4)]
    correct = [(r.oo_side if r.k_oo >= 0.4 else r.ocul_side) == r.true_side for r in strong.itertuples()]
    sweep = table[table["case"].str.startswith("oo_left") & ~table["case"].str.contains("lag")]
    sweep = pd.concat([table[table["case"] == "control"].assign(k_oo=0.0), sweep])
    asym = [a if s == "left" else -a for a, s in zip(sweep["oo_asym_pp"], sweep["oo_side"])]
    healthy = table[table["true_side"].isna()]
    return {
        "side_accuracy": float(np.mean(correct)) if correct else float("nan"),
        "spearman_k_oo_vs_asymmetry": float(spearmanr(sweep["k_oo"], asym).statistic) if len(sweep) > 2 else float("nan"),
        "event_recall": float(table["events_found"].sum() / max(table["events_true"].sum(), 1)),
        "healthy_max_grade": _max_grade(healthy),
    }


def gaze_sweep(shifts: tuple[float, ...] = (-0.25, -0.2, -0.15, -0.1, -0.075, -0.05, -0.025, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25),
               size: int = 512) -> pd.DataFrame:
    """False side difference from sideways gaze: the evidence behind ``MIRROR_MAX_GAZE_EW``.

    Both irises of the synth still are moved sideways by ``shift`` eye
    widths (inside the lid opening, tapered at the corners), under three
    framings (as is; 3 deg roll at 0.85x; -3 deg roll at 1.1x). Per image:
    the measured conjugate gaze change and |R-L| of the plain and mirror
    closure against the unshifted image.
    """
    import cv2
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from ..measure import mirror
    from ..measure.mesh import EYE_L, EYE_R, eye_aspect_ratio
    from ..measure.models import resolve_model
    from ..synth.face import face_rig

    rig = face_rig(size)
    still = np.ascontiguousarray(rig.image[:, :, ::-1])
    options = vision.FaceLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(resolve_model())),
                                           running_mode=vision.RunningMode.IMAGE, num_faces=1)
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)

    def shifted(g: float) -> np.ndarray:
        mx = xs.copy()
        for side in ("right", "left"):
            e = rig.eyes[side]
            cols = np.arange(len(e.upper)) + e.x0
            open_ = e.lower - e.upper > 0.5
            lo, hi = cols[np.argmax(open_)], cols[len(cols) - 1 - np.argmax(open_[::-1])]
            inside = (ys >= np.interp(xs, cols, e.upper) - 1) & (ys <= np.interp(xs, cols, e.lower) + 1) & (xs >= lo) & (xs <= hi)
            taper = np.clip(np.minimum(xs - lo, hi - xs) / (0.3 * (hi - lo)), 0, 1)
            mx = np.where(inside, mx - g * (hi - lo) * taper, mx)
        return cv2.remap(still, mx.astype(np.float32), ys, cv2.INTER_LINEAR)

    rows = []
    with vision.FaceLandmarker.create_from_options(options) as landmarker:
        def points(rgb: np.ndarray) -> np.ndarray:
            faces = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))).face_landmarks
            return np.array([(p.x * size, p.y * size) for p in faces[0]])

        for framing, (angle, scale) in {"still": (0.0, 1.0), "roll3_0.85x": (3.0, 0.85), "roll-3_1.1x": (-3.0, 1.1)}.items():
            warp = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
            base = None
            for g in (0.0,) + tuple(shifts):
                img = cv2.warpAffine(shifted(g), warp, (size, size), borderMode=cv2.BORDER_REFLECT101)
                xy = points(img)
                m = mirror.fit_midline(xy)
                ears = [eye_aspect_ratio(xy[list(EYE_R)]), eye_aspect_ratio(xy[list(EYE_L)])]
                for side in ("right", "left"):
                    c = points(mirror.eye_band_composite(img, xy, m, side))
                    ears.append((eye_aspect_ratio(c[list(EYE_R)]) + eye_aspect_ratio(c[list(EYE_L)])) / 2)
                gaze = mirror.gaze_offset(xy)
                if base is None:
                    base = (np.array(ears), gaze)
                closure = 1.0 - np.array(ears) / base[0]
                rows.append({"framing": framing, "shift_ew": g, "conjugate_gaze_ew": float(np.mean(gaze - base[1])),
                             "plain_abs_r_minus_l": abs(closure[0] - closure[1]),
                             "mirror_abs_r_minus_l": abs(closure[2] - closure[3])})
    return pd.DataFrame(rows)


def coupling_markdown(table: pd.DataFrame) -> str:
    """The sweep as a markdown table, followed by its summary numbers."""
    cols = {"case": "case", "true_side": "true side", "k_oo": "k_oo", "k_ocul": "k_ocul", "lag_true_s": "true lag s",
            "oo_side": "oral-ocular side", "oo_asym_pp": "asymmetry pp", "oo_grade": "grade", "oo_r": "r",
            "oo_lag_s": "lag s", "ocul_side": "ocular-oral side", "ocul_asym_pp": "asymmetry pp ", "ocul_grade": "grade ",
            "events_found": "events found", "events_true": "events true"}
    shown = table[list(cols)].rename(columns=cols).fillna("-")
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    for row in shown.itertuples(index=False):
        lines.append("| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row) + " |")
    summary = coupling_summary(table)
    lines += ["", f"Side accuracy (coupling >= 0.4): {summary['side_accuracy']:.0%}; "
              f"Spearman rank correlation k_oo vs asymmetry_pp: {summary['spearman_k_oo_vs_asymmetry']:.2f}; "
              f"event recall: {summary['event_recall']:.0%}; highest grade on healthy cases: {summary['healthy_max_grade']}."]
    return "\n".join(lines)
