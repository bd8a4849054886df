"""Accuracy on real faces: healthy videos with a known one-sided movement added, person by person.

For every real video of a healthy person (one person per video) the harness
renders, with :func:`synkan.synth.synth_from_video`:

* a **control**: the video re-encoded with nothing added (``k = 0``), which
  must get grade 0 in both directions;
* **oral-ocular** cases where the person smiles: one upper lid moves down by
  ``k`` x their own smile (``k`` in :data:`OO_SMILE_K`, each side), and where
  they pucker, by ``k`` x their own pucker (:data:`OO_PUCKER_K`);
* **ocular-oral** cases where they blink: one mouth corner lifts up and out
  by ``k`` x 5 mm x their own blink (:data:`OCUL_BLINK_K`, each side).

The drivers are the generator's own geometry (:mod:`synkan.synth.drivers`),
not the analysis's signals, so the truth is not circular. Per case the table
gives what a clinician sees (the side named, the grade, ``asymmetry_pp``) and
what the measurement recovers, against the control render (same codec trip):

* **recovered**: least-squares slope of the modified side's measured change
  (the responder the coupling uses: ``eye_closure`` or ``mouth_vertical``) on
  the true added change; 1 means all of it is seen. The fit has an intercept:
  each video is measured against its own rest, which may already hold some of
  the added movement, a constant offset that is not a failure to see it;
* **leak**: the same slope for the other side; 0 means none of it leaks.

Leave one person out: the analysis of a person's renders takes its settings
from ``settings_for(person)``, so thresholds built from the other persons
(:func:`leave_one_person_out`) are never tested on the person they came from.
Renders and tracks are cached under the output folder; a rerun only re-scores.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from ..config import Settings

OO_SMILE_K = (0.35, 0.6)
OO_PUCKER_K = (0.6,)
OCUL_BLINK_K = (0.6, 1.0)
# Per direction: the responder the coupling uses, and the truth column of what was added to it.
DIRECTIONS = {"oral_ocular": ("eye_closure", "added_closure"),
              "ocular_oral": ("mouth_vertical", "corner_lift")}
SIDES = ("right", "left")

SettingsFor = Callable[[str], Settings]


@dataclass(frozen=True)
class RealCase:
    """One render: a person's video with ``k`` x ``driver`` added on ``side`` (a control: k = 0, no side)."""

    person: str
    video: Path
    direction: str | None = None  # "oral_ocular" or "ocular_oral"; None for the control
    driver: str | None = None
    side: str | None = None
    k: float = 0.0

    @property
    def name(self) -> str:
        if self.direction is None:
            return f"{self.person}_control"
        short = "oo" if self.direction == "oral_ocular" else "ocul"
        return f"{self.person}_{short}_{self.driver}_{self.side}_k{self.k:g}"

    @property
    def amplitude(self) -> float:
        """Share of the lid opening at a full driver (oral-ocular), or mm of corner lift (ocular-oral)."""
        from ..synth.from_video import LIFT_FULL_MM

        return self.k * LIFT_FULL_MM if self.direction == "ocular_oral" else self.k

    def synth_kwargs(self) -> dict:
        if self.direction == "oral_ocular":
            return {"k_oo": self.k, "driver_oo": self.driver}
        if self.direction == "ocular_oral":
            return {"k_ocul": self.k, "driver_ocul": self.driver}
        return {}


def person_id(video: str | Path) -> str:
    """The person a video shows: one person per video (a video of several people counts as one source)."""
    return Path(video).stem


def plan_cases(video: Path, counts: dict[str, int]) -> list[RealCase]:
    """The control and every case the person's own movements allow (``counts``: events per driver kind)."""
    person = person_id(video)
    cases = [RealCase(person, video)]
    plan = (("oral_ocular", "smile", OO_SMILE_K), ("oral_ocular", "pucker", OO_PUCKER_K),
            ("ocular_oral", "blink", OCUL_BLINK_K))
    for direction, driver, ks in plan:
        if counts.get(driver, 0) >= 1:
            cases += [RealCase(person, video, direction, driver, side, k) for k in ks for side in SIDES]
    return cases


def leave_one_person_out(persons: Iterable[str], build: Callable[[list[str]], Settings]) -> SettingsFor:
    """``settings_for(person)``: settings built by ``build`` from every other person only (memoised).

    Examples
    --------
    >>> build = lambda others: Settings(lag_window_s=len(others) / 4)
    >>> settings_for = leave_one_person_out(["a", "b", "c"], build)
    >>> settings_for("a").lag_window_s
    0.5
    """
    everyone, built = list(persons), {}

    def settings_for(person: str) -> Settings:
        if person not in built:
            built[person] = build([p for p in everyone if p != person])
        return built[person]

    settings_for.__name__ = f"leave_one_person_out({getattr(build, '__name__', 'build')})"
    return settings_for


def _default_settings(person: str) -> Settings:
    return Settings()


def cached_track(video: Path, settings: Settings, cache: Path):
    """The video's track for ``settings``, from ``cache`` if tracked before with the same tracking key."""
    from ..measure.tracking import Track, track_video

    key = hashlib.sha256(json.dumps(settings.tracking_key(), sort_keys=True).encode()).hexdigest()[:10]
    path = cache / f"{video.stem}.track-{key}.npz"
    if path.is_file():
        return Track.load(path)
    track = track_video(video, settings)
    cache.mkdir(parents=True, exist_ok=True)
    track.save(path)
    return track


def analyse_cached(video: Path, settings: Settings, cache: Path):
    """:func:`synkan.analysis.analyze` with the track cached (a rerun only re-scores)."""
    from ..analysis import rescore, video_summary

    track = cached_track(video, settings, cache)
    return rescore(track, video_summary(video, track), settings)


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


def recovery(control, modified, truth: pd.DataFrame, side: str, direction: str) -> dict[str, float]:
    """Recovered share and leak of a known added movement.

    Parameters
    ----------
    control, modified : Analysis
        The control render (nothing added) and the modified render of the same video.
    truth : DataFrame
        The modified render's ``<name>_gt.csv``.
    side : {"right", "left"}
        The modified side.
    direction : {"oral_ocular", "ocular_oral"}
        Which responder: ``eye_closure`` (frames with frontal gaze, as the
        oral-ocular analysis uses) or ``mouth_vertical``.
    """
    measured, added = DIRECTIONS[direction]
    s, o = side[0], "l" if side == "right" else "r"
    a, b = control.signals.data, modified.signals.data
    n = min(len(a), len(b), len(truth))
    use = a["valid"].to_numpy(bool)[:n] & b["valid"].to_numpy(bool)[:n]
    if direction == "oral_ocular":
        use &= a["gaze_ok"].to_numpy(bool)[:n] & b["gaze_ok"].to_numpy(bool)[:n]
    x = np.where(use, truth[f"{added}_{s}"].to_numpy(float)[:n], np.nan)
    column = lambda data, c: data[f"{measured}_{c}"].to_numpy(float)[:n]  # noqa: E731
    change = {c: column(b, c) - column(a, c) for c in (s, o)}
    return {"recovered": _slope(x, change[s]), "leak": _slope(x, change[o])}


def _direction_result(result, direction: str) -> dict:
    d = result.scores.scores[direction]
    named = d["affected_side"]
    return {"named_side": named, "grade": d["grade"], "asymmetry_pp": d["asymmetry_pp"],
            "asymmetry_se_pp": d.get("asymmetry_se_pp"), "r": d[named]["r"] if named else None,
            "movement": d.get("movement"), "detectable_pp": d.get("detectable_pp"),
            "conclusive": d.get("conclusive")}


def case_row(case: RealCase, result, settings_label: str) -> dict:
    """One table row: the truth, and both directions' scores (``oo_*``, ``ocul_*``)."""
    row = {"person": case.person, "case": case.name, "direction": case.direction or "control",
           "driver": case.driver, "true_side": case.side, "k": case.k, "amplitude": case.amplitude,
           "settings": settings_label}
    for direction, short in (("oral_ocular", "oo"), ("ocular_oral", "ocul")):
        row.update({f"{short}_{key}": value for key, value in _direction_result(result, direction).items()})
    return row


def _render(case: RealCase, source_track, folder: Path) -> dict[str, Path]:
    """The case's render, made once (kept under ``folder``)."""
    from ..synth import synth_from_video

    paths = {"video": folder / f"{case.name}.mp4", "json": folder / f"{case.name}.json",
             "gt_csv": folder / f"{case.name}_gt.csv"}
    if all(p.is_file() for p in paths.values()):
        return paths
    return synth_from_video(case.video, folder, case.side or "right", name=case.name, track=source_track,
                            **case.synth_kwargs())


def person_rows(video: Path, outdir: Path, settings: Settings, settings_label: str) -> list[dict]:
    """Every case of one person's video, analysed with ``settings``: one row each."""
    from ..synth.drivers import drivers_from_landmarks

    folder = outdir / person_id(video)
    source = cached_track(video, Settings(laterality="plain"), folder / "tracks")
    drv = drivers_from_landmarks(source.t_s, source.landmarks, source.valid)
    counts = {kind: drv.count(kind) for kind in ("smile", "pucker", "blink", "closure")}
    rows, control = [], None
    for case in plan_cases(video, counts):
        paths = _render(case, source, folder / "renders")
        result = analyse_cached(paths["video"], settings, folder / "tracks")
        row = case_row(case, result, settings_label) | {f"events_{k}": v for k, v in counts.items()}
        if case.direction is None:
            control = result
        else:
            row.update(recovery(control, result, pd.read_csv(paths["gt_csv"]), case.side, case.direction))
        rows.append(row)
    return rows


def real_face_table(videos: list[str | Path], outdir: str | Path, settings_for: SettingsFor | None = None
                    ) -> pd.DataFrame:
    """Every person's control and cases, analysed; one row per render.

    Parameters
    ----------
    videos : list of path
        Real videos of healthy people, one person each.
    outdir : path
        Renders, truth files and tracks are written (and reused) here.
    settings_for : callable, optional
        ``settings_for(person_id) -> Settings`` for the analysis of that person's
        renders (:func:`leave_one_person_out`); default: ``Settings()`` for everyone.
        The ``settings`` column names it.
    """
    label = "default" if settings_for is None else getattr(settings_for, "__name__", "settings_for")
    settings_for = settings_for or _default_settings
    rows = []
    for video in map(Path, videos):
        rows += person_rows(video, Path(outdir), settings_for(person_id(video)), label)
    return pd.DataFrame(rows)


def _direction_view(table: pd.DataFrame, direction: str) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """The direction's cases, the controls, and the column prefix of its scores."""
    short = "oo" if direction == "oral_ocular" else "ocul"
    return table[table["direction"] == direction], table[table["direction"] == "control"], short


def _hits(cases: pd.DataFrame, short: str) -> tuple[pd.Series, pd.Series]:
    """Per case: the true side named with grade >= 1; another side named with grade >= 1."""
    graded = cases[f"{short}_grade"].astype(float).fillna(0) >= 1
    right = cases[f"{short}_named_side"] == cases["true_side"]
    return right & graded, ~right & graded & cases[f"{short}_named_side"].notna()


def _spearman(cases: pd.DataFrame, controls: pd.DataFrame, short: str) -> float:
    """Spearman of signed truth (+ left, - right; controls 0) and signed asymmetry (+ named left)."""
    from scipy.stats import spearmanr

    both = pd.concat([cases, controls])
    truth = np.where(both["true_side"] == "left", 1.0, -1.0) * both["amplitude"].astype(float)
    named_left = both[f"{short}_named_side"] == "left"
    asym = np.where(named_left, 1.0, -1.0) * both[f"{short}_asymmetry_pp"].astype(float)
    ok = np.isfinite(truth) & np.isfinite(asym)
    return float(spearmanr(truth[ok], asym[ok]).statistic) if ok.sum() > 2 else float("nan")


def real_face_summary(table: pd.DataFrame) -> pd.DataFrame:
    """A row per direction, driver and k, and an ``all`` row per direction with the controls and Spearman."""
    rows = []
    for direction in DIRECTIONS:
        cases, controls, short = _direction_view(table, direction)
        groups = [(d, k, g) for (d, k), g in cases.groupby(["driver", "k"])] + [("all", float("nan"), cases)]
        for driver, k, group in groups:
            hit, wrong = _hits(group, short)
            row = {"direction": direction, "driver": driver, "k": k, "cases": len(group),
                   "side_named": int(hit.sum()), "wrong_side": int(wrong.sum()),
                   "not_conclusive": int((group[f"{short}_conclusive"] != True).sum()),  # noqa: E712 (NaN too)
                   **_medians(group)}
            if driver == "all":
                flagged = controls[f"{short}_grade"].astype(float).fillna(0) >= 1
                row |= {"controls": len(controls), "controls_flagged": int(flagged.sum()),
                        "spearman": _spearman(cases, controls, short)}
            rows.append(row)
    return pd.DataFrame(rows)


def per_person_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per person and direction: cases, side named, wrong side, the control's grade, recovered share, leak."""
    rows = []
    for person, own in table.groupby("person", sort=False):
        for direction in DIRECTIONS:
            cases, controls, short = _direction_view(own, direction)
            hit, wrong = _hits(cases, short)
            rows.append({"person": person, "direction": direction, "cases": len(cases),
                         "side_named": int(hit.sum()), "wrong_side": int(wrong.sum()),
                         "control_grade": controls[f"{short}_grade"].iloc[0] if len(controls) else None,
                         **_medians(cases)})
    return pd.DataFrame(rows)


def _medians(cases: pd.DataFrame) -> dict[str, float]:
    """Median recovered share and leak of ``cases`` (NaN without any)."""
    return {f"{c}_median": float(cases[c].median()) if c in cases and len(cases) else float("nan")
            for c in ("recovered", "leak")}


def _f(x, spec: str = ".2f") -> str:
    """A number for the table, ``-`` when unknown."""
    return "-" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def real_face_markdown(table: pd.DataFrame) -> str:
    """The summary by direction, driver and k, and per person, as markdown (for the README)."""
    labels = sorted(set(table["settings"]))
    how = ("default `Settings()` for every person" if labels == ["default"] else
           f"per-person settings from {', '.join(labels)}, built without the person tested "
           "(leave one person out)")
    lines = [f"Settings: {how}.", "",
             "| direction | driver | k | cases | side named, grade >= 1 | wrong side, grade >= 1 | not conclusive "
             "| controls flagged | Spearman | median recovered | median leak |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in real_face_summary(table).itertuples():
        k = "all" if r.driver == "all" else _f(r.k, "g")
        controls = f"{int(r.controls_flagged)} of {int(r.controls)}" if r.driver == "all" else ""
        spearman = _f(r.spearman) if r.driver == "all" else ""
        lines.append(f"| {r.direction} | {r.driver} | {k} | {r.cases} | {r.side_named} | {r.wrong_side} "
                     f"| {r.not_conclusive} | {controls} | {spearman} | {_f(r.recovered_median)} "
                     f"| {_f(r.leak_median)} |")
    lines += ["", "| person | direction | cases | side named | wrong side | control grade | median recovered "
              "| median leak |", "|---|---|---|---|---|---|---|---|"]
    for r in per_person_summary(table).itertuples():
        grade = _f(r.control_grade, ".0f")
        lines.append(f"| {r.person} | {r.direction} | {r.cases} | {r.side_named} | {r.wrong_side} | {grade} "
                     f"| {_f(r.recovered_median)} | {_f(r.leak_median)} |")
    return "\n".join(lines)


def run_real_validation(videos: list[str | Path], output: str | Path,
                        settings_for: SettingsFor | None = None) -> str:
    """Write ``real_faces.csv`` and ``real_faces.md`` into ``output``; return the markdown."""
    out = Path(output)
    table = real_face_table(videos, out / "real_faces", settings_for)
    table.to_csv(out / "real_faces.csv", index=False, float_format="%.4f")
    text = "## Real faces with a known one-sided movement added\n\n" + real_face_markdown(table)
    (out / "real_faces.md").write_text(text + "\n")
    return text
