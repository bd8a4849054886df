"""Leave-one-person-out choice among pixel-lid variants, on the renders of ``bench_recovery.py``.

Each variant is a set of :mod:`synkan.measure.eyelids` constants. The signals that
do not depend on the lids (validity, gaze gate, rest frames, gaze offset)
are computed once per track and cached beside it (``*_sig3.npz``); a variant
re-measures only the eyes. For each held-out person the variant with the
best score on the *other* people is chosen, and that person's numbers are
reported under it. Score = mean over people of |1 - recovered| + 2 |leak|.

Usage::

    python benchmarks/sweep_lids.py --cache /tmp/synkan_recovery --variants shipped,strips8,strips12
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from bench_recovery import SIDES, case_slopes, per_person

from synkan.config import Settings
from synkan.measure import eyelids
from synkan.measure.clean import fill_gaps, lowpass
from synkan.measure.signals import signals_process
from synkan.measure.tracking import Track

# Constants of synkan.measure.eyelids per variant (shipped: as they are).
VARIANTS: dict[str, dict] = {
    "shipped": {},
    "strips8": {"STRIPS": 8},
    "strips12": {"STRIPS": 12},
    "agree02": {"STRIP_AGREE_EW": 0.02},
    "agree08": {"STRIP_AGREE_EW": 0.08},
    "band10": {"BAND_LID_EW": 0.10},
    "band18": {"BAND_LID_EW": 0.18},
}
KEEP = ("t", "valid", "gaze_ok", "rest_lids", "gaze_dev_r", "gaze_dev_l",
        "mouth_vertical_r", "mouth_vertical_l",
        "eye_closure_plain_r", "eye_closure_plain_l")


def base_signals(track_path: Path) -> dict[str, np.ndarray]:
    """The lid-independent signal columns of a track, cached beside it."""
    cache = track_path.with_name(track_path.stem + "_sig3.npz")
    if cache.exists():
        return dict(np.load(cache))
    data = signals_process(Track.load(track_path), Settings()).data
    out = {c: data[c].to_numpy() for c in KEEP}
    np.savez(cache, **out)
    return out


def eye_closure(track: Track, sig: dict, variant: dict) -> tuple[dict[str, np.ndarray], float]:
    """Both eyes' filtered pixel ``eye_closure`` under ``variant``, and the matching's frames per second."""
    saved = {k: getattr(eyelids, k) for k in variant}
    for k, v in variant.items():
        setattr(eyelids, k, v)
    try:
        rest, gaze_ok = sig["rest_lids"].astype(bool), sig["gaze_ok"].astype(bool)
        pixel_rest = rest & gaze_ok if (rest & gaze_ok).any() else rest  # as signals.pixel_lids
        gaze = np.column_stack([sig["gaze_dev_r"], sig["gaze_dev_l"]])
        start = time.perf_counter()
        closure, _, _ = eyelids.eyelids_process(track.landmarks[..., :2], track.eye_patches, pixel_rest, gaze)
        fps = len(closure) / (time.perf_counter() - start)
    finally:
        for k, v in saved.items():
            setattr(eyelids, k, v)
    t, valid = sig["t"], sig["valid"].astype(bool)
    cutoff = Settings().cutoff_hz
    return {f"eye_closure_{s}": lowpass(t, fill_gaps(t, np.where(valid, closure[:, k], np.nan)), cutoff)
            for k, s in enumerate("rl")}, fps


def score_variant(folders: list[Path], variant: dict) -> tuple[pd.DataFrame, float]:
    """Per-case slopes of every person under one variant, and the mean matching speed (frames/s)."""
    rows, speeds = [], []
    for folder in folders:
        measured = {}
        for name in ("k0",) + SIDES:
            path = folder / f"{name}_track.npz"
            sig = base_signals(path)
            eyes, fps = eye_closure(Track.load(path), sig, variant)
            measured[name] = {**sig, **eyes}
            speeds.append(fps)
        for side in SIDES:
            truth = pd.read_csv(folder / f"{side}_gt.csv")
            slopes = case_slopes(measured["k0"], measured[side], truth, side)
            rows.append({"person": folder.name, "side": side, **slopes})
    return pd.DataFrame(rows), float(np.mean(speeds))


def badness(people: pd.DataFrame) -> float:
    """Mean over people of |1 - recovered| + 2 |leak| (lower is better; a failure on one person counts)."""
    return float((np.abs(1 - people["recovered_eye"]) + 2 * np.abs(people["leak_eye"])).mean())


def leave_one_out(results: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Each person's numbers under the variant that scores best on everyone else."""
    people = {name: table.drop(columns="side").groupby("person").mean(numeric_only=True)
              for name, table in results.items()}
    names = next(iter(people.values())).index
    rows = []
    for person in names:
        chosen = min(people, key=lambda v: badness(people[v].drop(index=person)))
        rows.append({"person": person, "variant": chosen, **people[chosen].loc[person].to_dict()})
    out = pd.DataFrame(rows).set_index("person")
    out.loc["MEDIAN"] = out.median(numeric_only=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--only", help="comma-separated person folders")
    parser.add_argument("--lopo", action="store_true",
                        help="only the leave-one-out choice among saved variants")
    args = parser.parse_args(argv)
    folders = sorted(p for p in args.cache.iterdir() if (p / "left_track.npz").exists())
    if args.only:
        folders = [f for f in folders if f.name in args.only.split(",")]
    results = {}
    if args.lopo:
        results = {name: pd.read_csv(args.cache / f"sweep_{name}.csv") for name in args.variants.split(",")}
    for name in [] if args.lopo else args.variants.split(","):
        table, fps = score_variant(folders, VARIANTS[name])
        results[name] = table
        table.to_csv(args.cache / f"sweep_{name}.csv", index=False)
        score = badness(per_person(table).drop(index="MEDIAN"))
        print(f"== {name}: matching {fps:.0f} frames/s; score {score:.3f}", flush=True)
        print(per_person(table).round(2).T.to_string(), flush=True)
    if len(results) > 1:
        print("== leave one person out")
        print(leave_one_out(results)[["variant", "recovered_eye", "leak_eye"]].round(2).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
