"""Accuracy of the movements and the Sunnybrook / eFACE estimates on ground truth (``synkan validate
--scales``).

Synthetic: Sunnybrook-protocol videos (:func:`synkan.synth.sunnybrook_case`:
brow raise, gentle closure, open smile, snarl, pucker) with one known
one-sided pattern from :data:`synkan.synth.PATTERNS` on each side, plus
controls, a strong bilateral Duchenne smile and symmetric (both-sided)
couplings. Each one-sided pattern is injected at the side differences that
the scale's own mapping calls 1 and 2 points beyond the healthy range
(:data:`SCALE_POINTS`; the pattern's region's healthy range plus that many
mm per point, :mod:`synkan.config`), converted to the pattern's gain through
the rig's full movement of that region (:func:`synkan.synth.amplitude.full_movement_mm`):
the same gain would be a severe narrowing of a ~8 mm eye fissure and a
sub-visible lift of a ~3 mm chin. Per case: the movement labels (automatic, and with
``--protocol sunnybrook``) against the timeline, the Sunnybrook points per
item and side, and the eFACE items.

Real faces: each healthy video untouched (its total must be 0, or null with
reasons), and with a known one-sided narrowing, or chin lift, locked to the
person's own smile added on each side (:func:`synkan.synth.synth_from_video`):
the smile item must name that side. Tracked with the cheek and chin skin
patches (:func:`analyze_with_patches`); for a chin lift, the share of it the
measurement recovers on its side and on the other (:func:`chin_recovery`).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import HEALTHY_SIDE_DIFFERENCE_MM, Settings
from ..grade.movements import MOVEMENT_LABELS
from ..grade.scales import EFACE_ITEMS, SUNNYBROOK_MOVEMENTS, mm_per_point
from ..synth import PATTERNS, sunnybrook_case
from ..synth.amplitude import full_movement_mm
from .synthetic import render_cached

# Injected side differences, in Sunnybrook points beyond the healthy range by
# the mapping in config.py (a perfect measurement gives these plus one: the
# points start above the healthy range).
SCALE_POINTS = (1, 2)
# The synthetic responder's region in synkan.measure.regions.
_RESPONDER_REGION = {"eye": "eye", "mouth": "mouth", "cheek": "midface", "chin": "chin"}
REAL_SCALE_K = (0.35, 0.6)
REAL_CHIN_K = 1.0  # a full chin-pad lift (synkan.synth.from_video.CHIN_LIFT_IOD, ~3 mm) at the person's biggest smile
# Timeline kinds as synkan.grade.movements names them.
_TRUE_KIND = {"brow_raise": "brow_raise", "eye_closure": "gentle_eye_closure", "tight_eye_closure": "tight_eye_closure",
              "smile": "smile", "snarl": "snarl", "pucker": "pucker"}


def injected_mm(pattern: str, n_points: float) -> float:
    """The side difference (mm) the mapping puts ``n_points`` beyond the healthy range of ``pattern``'s
    responder.

    The points per mm are those of the first Sunnybrook movement the pattern raises.
    """
    (_, responder), items = PATTERNS[pattern]
    return HEALTHY_SIDE_DIFFERENCE_MM[_RESPONDER_REGION[responder]] + n_points * mm_per_point(items[0])


def pattern_gain(pattern: str, mm: float, size: int = 320) -> float:
    """The gain ``k`` that moves ``pattern``'s responder by ``mm`` more on the affected side."""
    (_, responder), _ = PATTERNS[pattern]
    return round(mm / full_movement_mm(responder, size), 3)


def scale_cases(levels: tuple[float, ...] = SCALE_POINTS, size: int = 320) -> list[tuple]:
    """``(case, pattern, side, k, injected_mm)``: controls, a Duchenne control, symmetric and one-sided
    patterns."""
    cases = [(sunnybrook_case("sb_control_0", None, seed=0, size=size), None, None, 0.0, 0.0),
             (sunnybrook_case("sb_control_1", None, seed=1, size=size), None, None, 0.0, 0.0),
             (sunnybrook_case("sb_duchenne", None, duchenne=0.3, seed=2, size=size), None, None, 0.0, 0.0)]
    cases += [(sunnybrook_case(f"sb_{p}_both_0.50", p, "both", 0.5, seed=3 + i, size=size), p, "both", 0.5, 0.0)
              for i, p in enumerate(("oral_ocular", "midfacial"))]
    seed = 10
    for pattern in PATTERNS:
        for side in ("right", "left"):
            for level in levels:
                mm = injected_mm(pattern, level)
                k = pattern_gain(pattern, mm, size)
                cases.append((sunnybrook_case(f"sb_{pattern}_{side}_{k:.2f}", pattern, side, k, seed=seed, size=size),
                              pattern, side, k, mm))
                seed += 1
    return cases


def label_agreement(true_events: list[dict], found: pd.DataFrame) -> tuple[int, int, int, int]:
    """``(true movements labelled right, true movements, found movements that are right, found movements)``.

    A true movement is labelled right when a found movement of the same kind
    covers more than half of it.
    """
    truth = [(_TRUE_KIND[e["kind"]], e["start_s"], e["end_s"]) for e in true_events if e["kind"] in _TRUE_KIND]

    def overlap(a0, a1, b0, b1):
        return max(0.0, min(a1, b1) - max(a0, b0))

    hits = sum(any(f.kind == k and overlap(f.start_s, f.end_s, s, e) > 0.5 * (e - s) for f in found.itertuples())
               for k, s, e in truth)
    right = sum(any(f.kind == k and overlap(f.start_s, f.end_s, s, e) > 0.5 * (e - s) for k, s, e in truth)
                for f in found.itertuples())
    return hits, len(truth), right, len(found)


def evaluate_scale_case(case, pattern: str | None, side: str | None, k: float, mm: float, outdir: str | Path,
                        landmarkers=None) -> dict:
    """Render (or reuse) a case, analyse it with and without the protocol: one table row."""
    from ..analysis import analyze, rescore

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    video = render_cached(case, outdir)
    truth = json.loads(video.with_suffix(".json").read_text())
    result = analyze(video, Settings(protocol="sunnybrook"), landmarkers=landmarkers)
    auto = rescore(result.track, result.video, result.settings, protocol=None)
    row = {"case": case.name, "pattern": pattern, "true_side": side, "k": k, "injected_mm": mm}
    for name, r in (("protocol", result), ("auto", auto)):
        hits, n_true, right, n_found = label_agreement(truth["events"], r.movements.table)
        row.update({f"{name}_labels_right": hits, f"{name}_labels_true": n_true, f"{name}_found_right": right,
                    f"{name}_found": n_found})
    sb = result.scales.sunnybrook
    row.update(sb_side=sb["affected_side"], sb_total=sb["synkinesis"]["total"])
    for item in SUNNYBROOK_MOVEMENTS:
        d = sb["details"].get(item, {})
        row[f"{item}_r"], row[f"{item}_l"] = d.get("points_right"), d.get("points_left")
    ef = result.scales.eface_synkinesis
    row.update({f"eface_{x}": ef[x] for x in EFACE_ITEMS})
    return row


def scale_table(outdir: str | Path, levels: tuple[float, ...] = SCALE_POINTS) -> pd.DataFrame:
    """Evaluate every scale case; one row per case."""
    return pd.DataFrame([evaluate_scale_case(*c, outdir) for c in scale_cases(levels)])


def expected_points_ok(row) -> bool | None:
    """Whether every item a one-sided pattern raises has >= 1 point on the affected side (None: not
    one-sided)."""
    if row.pattern is None or row.true_side not in ("right", "left"):
        return None
    s = row.true_side[0]
    return all((getattr(row, f"{item}_{s}") or 0) >= 1 for item in PATTERNS[row.pattern][1])


def scale_summary(table: pd.DataFrame) -> dict:
    """Label accuracy, items raised, side accuracy, healthy totals and the rank correlation of total with
    k."""
    from scipy.stats import spearmanr

    table = table.assign(pattern=table["pattern"].where(table["pattern"].notna(), None))
    one_sided = table[table["true_side"].isin(["right", "left"])]
    healthy = table[~table["true_side"].isin(["right", "left"])]
    controls = table[table["pattern"].isna()]  # the controls and the Duchenne case
    rho = {}
    for pattern in PATTERNS:
        sweep = pd.concat([controls.assign(k=0.0), one_sided[one_sided["pattern"] == pattern]])
        rho[pattern] = float(spearmanr(sweep["k"], sweep["sb_total"]).statistic)
    return {
        "labels_protocol": float(table["protocol_labels_right"].sum() / table["protocol_labels_true"].sum()),
        "labels_auto_recall": float(table["auto_labels_right"].sum() / table["auto_labels_true"].sum()),
        "labels_auto_precision": float(table["auto_found_right"].sum() / max(table["auto_found"].sum(), 1)),
        "items_raised": float(np.mean([expected_points_ok(r) for r in one_sided.itertuples()])),
        "side_accuracy": float((one_sided["sb_side"] == one_sided["true_side"]).mean()),
        "healthy_max_total": int(healthy["sb_total"].max()),
        "spearman_k_vs_total": rho,
    }


def scale_markdown(table: pd.DataFrame) -> str:
    """The synthetic table and its summary as markdown."""
    items = "".join(f" {m} R / L |" for m in SUNNYBROOK_MOVEMENTS)
    lines = ["| case | pattern | true side | k | injected mm | labels (protocol) | labels (auto) | side named | total |" + items
             + " eFACE ocular / midfacial / mentalis |", "|" + "---|" * (10 + len(SUNNYBROOK_MOVEMENTS))]
    for r in table.itertuples():
        cells = "".join(f" {getattr(r, m + '_r')} / {getattr(r, m + '_l')} |" for m in SUNNYBROOK_MOVEMENTS)
        pattern = r.pattern if isinstance(r.pattern, str) else "-"
        side = r.true_side if isinstance(r.true_side, str) else "-"
        mm = f"{r.injected_mm:.2f}" if r.injected_mm else "-"
        lines.append(f"| {r.case} | {pattern} | {side} | {r.k:.2f} | {mm} | {r.protocol_labels_right}/{r.protocol_labels_true} "
                     f"| {r.auto_labels_right}/{r.auto_labels_true} ({r.auto_found_right}/{r.auto_found} found right) | {r.sb_side} "
                     f"| {r.sb_total} |{cells} {r.eface_ocular} / {r.eface_midfacial} / {r.eface_mentalis} |")
    s = scale_summary(table)
    rho = ", ".join(f"{p} {v:.2f}" for p, v in s["spearman_k_vs_total"].items())
    lines += ["", f"Movement labels right with --protocol: {100 * s['labels_protocol']:.0f}%; automatic: recall "
              f"{100 * s['labels_auto_recall']:.0f}%, precision {100 * s['labels_auto_precision']:.0f}%. One-sided cases "
              f"with >= 1 point on every item their pattern raises: {100 * s['items_raised']:.0f}%; side named: "
              f"{100 * s['side_accuracy']:.0f}%; highest total on controls and symmetric cases: {s['healthy_max_total']}; "
              f"Spearman k vs total per pattern: {rho}."]
    return "\n".join(lines)


def analyze_with_patches(video: str | Path):
    """Analyse a video that follows no protocol as a clinic's protocol video would be measured.

    A protocol video's track holds the cheek and chin skin patches
    (:meth:`synkan.config.Settings.tracking_key`), without which the chin and
    cheek are the mesh's alone (a small share of the skin's movement); the
    real videos follow no protocol, so they are tracked as for one and then
    scored with the movements found automatically.
    """
    from ..analysis import rescore, video_summary
    from ..measure.tracking import track_video

    track = track_video(video, Settings(protocol="sunnybrook"))  # tracked only: the stages run once, below
    return rescore(track, video_summary(video, track), Settings())


def chin_recovery(truth_csv: str | Path, lifted, untouched, side: str) -> dict:
    """The measured chin raise added by a known lift, as a share of the lift: on its side, and leaked to the
    other.

    Over the frames where the injected lift is at least half its maximum: the
    median change of ``chin_raise`` (and of its mesh part alone, without the
    image measurement) between the lifted and the untouched video, over the
    median injected lift (both IOD).
    """
    gt = pd.read_csv(truth_csv)
    s, o = side[0], "l" if side == "right" else "r"
    injected = gt[f"chin_lift_{s}"].to_numpy()
    big = injected >= 0.5 * injected.max()
    out = {}
    for name, result in (("lifted", lifted), ("untouched", untouched)):
        d = result.signals.data
        for x in (s, o):
            pixel = d[f"chin_raise_pixel_{x}"].to_numpy() if f"chin_raise_pixel_{x}" in d else np.zeros(len(d))
            total = d[f"chin_raise_{x}"].to_numpy()
            for part, values in (("total", total), ("mesh", total - np.nan_to_num(pixel))):
                out[name, x, part] = np.interp(gt["t"], result.signals.t, values)
    lift = float(np.median(injected[big]))
    share = lambda x, part: float(np.nanmedian((out["lifted", x, part] - out["untouched", x, part])[big]) / lift)  # noqa: E731
    return {"chin_share": share(s, "total"), "chin_leak": share(o, "total"), "chin_share_mesh": share(s, "mesh")}


def real_scale_table(videos: list[str | Path], outdir: str | Path, ks: tuple[float, ...] = REAL_SCALE_K) -> pd.DataFrame:
    """Each real healthy video untouched, and with a one-sided narrowing (and a chin lift) locked to the
    person's smile on each side."""
    from ..synth import synth_from_video

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rows = []

    def row(video: Path, side: str | None, k: float, result) -> dict:
        sb = result.scales.sunnybrook
        smile = sb["details"].get("smile", {})
        return {"video": video.stem, "true_side": side, "k_oo": k, "total": sb["synkinesis"]["total"],
                "present": len(sb["synkinesis_movements"]), "null_items": ", ".join(MOVEMENT_LABELS[m] for m in sb["missing"]) or "-",
                "side_named": sb["affected_side"], "smile_r": smile.get("points_right"), "smile_l": smile.get("points_left"),
                "smile_mm": smile.get("difference_mm"), "smile_region": smile.get("region"),
                "eface_ocular": result.scales.eface_synkinesis["ocular"],
                "eface_mentalis": result.scales.eface_synkinesis["mentalis"], "k_chin": 0.0,
                "chin_share": np.nan, "chin_leak": np.nan, "chin_share_mesh": np.nan}

    for video in map(Path, videos):
        untouched = analyze_with_patches(video)
        rows.append(row(video, None, 0.0, untouched))
        if not len(untouched.movements.of("smile")):
            continue
        for k in ks:
            for side in ("right", "left"):
                paths = synth_from_video(video, outdir, side, k_oo=k, track=untouched.track)
                rows.append(row(video, side, k, analyze_with_patches(paths["video"])))
        for side in ("right", "left"):
            paths = synth_from_video(video, outdir, side, k_chin=REAL_CHIN_K, track=untouched.track)
            lifted = analyze_with_patches(paths["video"])
            rows.append(row(video, side, 0.0, lifted) | {"k_chin": REAL_CHIN_K}
                        | chin_recovery(paths["gt_csv"], lifted, untouched, side))
    return pd.DataFrame(rows)


def real_scale_markdown(table: pd.DataFrame) -> str:
    """The real-face table and its summary as markdown."""
    lines = ["| video | added | total | movements graded | null (not in the video) | smile points R / L | smile: region, "
             "side difference mm | eFACE ocular / mentalis | chin lift measured: own side (mesh alone) / other side |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        if not isinstance(r.true_side, str):
            case = "untouched"
        else:
            case = f"chin lift {r.true_side}, {r.k_chin:.1f}" if r.k_chin else f"narrowing {r.true_side}, {r.k_oo:.2f}"
        points = "-" if not np.isfinite(r.smile_r) else f"{r.smile_r:.0f} / {r.smile_l:.0f}"
        smile = "-" if not np.isfinite(r.smile_mm) else f"{r.smile_region}, {r.smile_mm:.2f}"
        chin = "-" if not np.isfinite(r.chin_share) else (f"{100 * r.chin_share:.0f}% ({100 * r.chin_share_mesh:.0f}%) "
                                                         f"/ {100 * r.chin_leak:.0f}%")
        lines.append(f"| {r.video} | {case} | {r.total} | {r.present} | {r.null_items} | {points} | {smile} "
                     f"| {r.eface_ocular} / {r.eface_mentalis} | {chin} |")
    untouched = table[table["true_side"].isna()]
    added = table[table["true_side"].notna()]  # None becomes NaN in the table
    hits = {kind: [(getattr(r, f"smile_{r.true_side[0]}") or 0) >= 1 for r in rows.itertuples()]
            for kind, rows in (("narrowing", added[added["k_chin"] == 0]), ("chin lift", added[added["k_chin"] > 0]))}
    lines += ["", f"Untouched videos with a total above 0: {int((untouched['total'].fillna(0) > 0).sum())} of {len(untouched)}; "
              + "; ".join(f"{kind} cases with >= 1 smile point on that side: {sum(h)} of {len(h)}" for kind, h in hits.items()) + "."]
    chin = added[added["k_chin"] > 0]
    if len(chin):
        lines[-1] += (f" The chin lift's measured share, median over its cases: {100 * chin['chin_share'].median():.0f}% on its side "
                      f"(the mesh alone {100 * chin['chin_share_mesh'].median():.0f}%), {100 * chin['chin_leak'].median():.0f}% "
                      "on the other side.")
    return "\n".join(lines)


def run_scale_validation(output: str | Path, real: list[str | Path] | None = None) -> str:
    """Write ``scales.csv`` / ``scales.md`` (and ``scales_real.*``) into ``output``; return the markdown."""
    out = Path(output)
    table = scale_table(out / "scales")
    table.to_csv(out / "scales.csv", index=False, float_format="%.4f")
    text = "## Sunnybrook-protocol videos with a known one-sided pattern\n\n" + scale_markdown(table)
    (out / "scales.md").write_text(text + "\n")
    if real:
        real_table = real_scale_table(real, out / "scales_real")
        real_table.to_csv(out / "scales_real.csv", index=False, float_format="%.4f")
        real_text = "## Real healthy faces: untouched, and with a known narrowing during their smile\n\n" + real_scale_markdown(real_table)
        (out / "scales_real.md").write_text(real_text + "\n")
        text += "\n\n" + real_text
    return text
