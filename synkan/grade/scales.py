"""Measured estimates of the clinical scales: Sunnybrook (Ross 1996) and the eFACE synkinesis items (Banks
2015).

These are measurements mapped onto the scales' points, not a rater's grade.
The mapping lives in :mod:`synkan.config`:

* **Sunnybrook synkinesis**, 0-3 for each of brow raise, gentle eye closure,
  open-mouth smile, snarl and lip pucker, total 0-15: per movement, the
  largest side difference (mm, less one standard error) among the regions
  the movement itself does not use (``SYNKINESIS_REGIONS``), counted only
  when the moving side's region is time-locked to the movement (r >= 0.3
  within +/- 0.3 s). Within the healthy range (``HEALTHY_SIDE_DIFFERENCE_MM``)
  it is 0, then one point per ``SUNNYBROOK_MM_PER_POINT`` mm (0.77 mm of
  fissure change in a smile, 1.0 mm in a pucker; PRS 2013). A movement not
  in the video is ``null`` with a reason; the total sums those present.
* **Sunnybrook voluntary movement**, 1-5 per movement: the affected side's
  own movement as a share of the healthy side's
  (``SUNNYBROOK_VOLUNTARY_RATIO``).
* **Sunnybrook resting symmetry** needs a clinician (a level head and a
  judgement of the palpebral fissure, nasolabial fold depth and mouth corner
  against the healthy side): ``null`` with the reason, and so the composite.
* **eFACE synkinesis** (0-100, 100 = none): ocular is the auto-eFACE ratio
  (:func:`synkan.grade.grades.eface_ocular_synkinesis`); midfacial (midface and
  mouth corner during eye closure) and mentalis (chin during the other
  movements) fall linearly from 100 at the healthy range to 0 at
  ``EFACE_ZERO_POINTS`` Sunnybrook points beyond it; platysmal (neck bands)
  is not visible to a face mesh.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import (
    EFACE_ZERO_POINTS,
    SUNNYBROOK_DEFAULT_MM_PER_POINT,
    SUNNYBROOK_MM_PER_POINT,
    SUNNYBROOK_VOLUNTARY_RATIO,
    SYNKINESIS_REGIONS,
)
from .grades import is_locked
from .matrix import Matrix
from .movements import MOVEMENT_LABELS, Movements

SUNNYBROOK_MOVEMENTS = tuple(SYNKINESIS_REGIONS)
EFACE_ITEMS = ("ocular", "midfacial", "mentalis")  # the eFACE synkinesis items a face mesh can see (not platysmal)
# A video with only a tight closure has its closure graded on that.
_STAND_INS = {"gentle_eye_closure": ("gentle_eye_closure", "tight_eye_closure")}
NOTE = ("Measured estimates of the Sunnybrook and eFACE synkinesis scales from landmark movement in mm "
        "(iris-calibrated), not a rater's grade; the mapping is heuristic and not clinically validated.")
RESTING_REASON = ("resting symmetry needs a clinician: it judges the eye, the nasolabial fold's depth and the mouth "
                  "corner against the healthy side on a level head, which a face mesh cannot do reliably")


def mm_per_point(movement: str) -> float:
    """Millimetres of side difference per Sunnybrook synkinesis point for a movement."""
    return SUNNYBROOK_MM_PER_POINT.get(movement, SUNNYBROOK_DEFAULT_MM_PER_POINT)


def points(difference_mm: float, se_mm: float, healthy_mm: float, per_point_mm: float) -> int:
    """Synkinesis points 0-3 from a side difference: 0 inside the healthy range, then one per
    ``per_point_mm``.

    Examples
    --------
    >>> points(0.8, 0.1, 1.0, 0.77), points(1.2, 0.1, 1.0, 0.77), points(2.0, 0.1, 1.0, 0.77), points(9.0, 0.0, 1.0, 0.77)
    (0, 1, 2, 3)
    """
    bounds = healthy_mm + per_point_mm * np.arange(3)
    return int(np.searchsorted(bounds, difference_mm - se_mm, side="right"))


def _locked(matrix: Matrix, movement: str, region: str, side: str) -> bool:
    """The side's own responder is time-locked to the movement.

    Unlike the oral-ocular grade, a time-locked side difference does not
    count here: the cheek and chin skin patches are disturbed by the mouth's
    own movement (the lower lip and jaw in an open smile), an artefact locked
    to the movement by construction (a healthy real chin showed a 3 mm side
    difference, time-locked, in its smile).
    """
    cell = matrix.cell(movement, region, side)
    return cell is not None and is_locked(cell["r"], cell["lag_s"])


def movement_points(matrix: Matrix, movement: str, regions: tuple[str, ...], per_point_mm: float) -> dict:
    """Points per side for one movement, and the region and mm behind the larger."""
    best = {"right": (0, None), "left": (0, None)}
    for region in regions:
        d = matrix.difference(movement, region)
        if d is None or d["more_side"] is None or not np.isfinite(d["difference_mm"]):
            continue
        side = d["more_side"]
        p = points(d["difference_mm"], d["difference_se_mm"], d["healthy_mm"], per_point_mm) if _locked(matrix, movement, region, side) else 0
        if best[side][1] is None or p > best[side][0] or (p == best[side][0] and d["excess"] > best[side][1]["excess"]):
            best[side] = (p, d)
    return best


def _present(movements: Movements, item: str) -> str | None:
    return next((kind for kind in _STAND_INS.get(item, (item,)) if (movements.table["kind"] == kind).any()), None)


def sunnybrook(matrix: Matrix, movements: Movements, affected: str | None) -> dict:
    """report.json's ``scores.sunnybrook``."""
    per_movement = {}
    for item in SUNNYBROOK_MOVEMENTS:
        kind = _present(movements, item)
        if kind is not None:
            per_movement[item] = (kind, movement_points(matrix, kind, SYNKINESIS_REGIONS[item], mm_per_point(item)))
    totals = {side: sum(best[side][0] for _, best in per_movement.values()) for side in ("right", "left")}
    side, reason = affected, None
    if side is None:
        if per_movement and totals["right"] != totals["left"]:
            side = max(totals, key=totals.get)
        elif per_movement:
            excess = {s: sum(best[s][1]["excess"] for _, best in per_movement.values() if best[s][1] is not None) for s in totals}
            side = max(excess, key=excess.get)
        else:
            reason = "none of the five Sunnybrook movements was found"
    synkinesis, voluntary, details, missing = {}, {}, {}, {}
    for item in SUNNYBROOK_MOVEMENTS:
        if item not in per_movement:
            synkinesis[item] = voluntary[item] = None
            missing[item] = f"no {MOVEMENT_LABELS[item]} in the video"
            continue
        kind, best = per_movement[item]
        synkinesis[item] = best[side][0] if side else None
        voluntary[item] = voluntary_grade(matrix, kind, side) if side else None
        other = "left" if side == "right" else "right"
        d = (best[side][1] or best[other][1]) if side else None  # the mm behind 0 points too
        details[item] = {"measured_on": kind, "points_right": best["right"][0], "points_left": best["left"][0],
                         "region": None if d is None else d["region"],
                         "difference_mm": None if d is None else round(float(d["difference_mm"]), 2),
                         "difference_se_mm": None if d is None else round(float(d["difference_se_mm"]), 2),
                         "healthy_mm": None if d is None else d["healthy_mm"], "mm_per_point": mm_per_point(item)}
    present = [m for m in SUNNYBROOK_MOVEMENTS if synkinesis[m] is not None]
    synkinesis["total"] = sum(synkinesis[m] for m in present) if present else None
    return {"affected_side": side, "affected_side_reason": reason, "synkinesis": synkinesis,
            "synkinesis_movements": present, "missing": missing, "voluntary": voluntary,
            "resting": {"eye": None, "cheek": None, "mouth": None, "reason": RESTING_REASON},
            "composite": None, "composite_reason": "the composite needs the resting symmetry score (" + RESTING_REASON + ")",
            "details": details, "mm_per_iod": _round(matrix.info.get("mm_per_iod")), "note": NOTE}


def voluntary_grade(matrix: Matrix, movement: str, affected: str) -> int | None:
    """Sunnybrook voluntary movement 1-5 from the affected side's own movement over the healthy side's.

    Examples
    --------
    >>> import pandas as pd
    >>> m = Matrix(pd.DataFrame(), pd.DataFrame({"movement": "smile", "side": ["right", "left"], "moves_mm": [4.0, 8.0]}),
    ...            pd.DataFrame())
    >>> voluntary_grade(m, "smile", "right"), voluntary_grade(m, "smile", "left")
    (3, 5)
    """
    v = matrix.voluntary[matrix.voluntary.movement == movement].set_index("side")["moves_mm"]
    other = "left" if affected == "right" else "right"
    if not (np.isfinite(v.get(affected, np.nan)) and np.isfinite(v.get(other, np.nan))) or v[other] <= 0:
        return None
    return 1 + int(np.searchsorted(SUNNYBROOK_VOLUNTARY_RATIO, max(v[affected], 0.0) / v[other], side="right"))


def _eface_item(matrix: Matrix, movements: Movements, kinds: tuple[str, ...], regions: tuple[str, ...],
                side: str | None) -> tuple[float | None, dict | None]:
    worst, behind = None, None
    for kind in kinds:
        if not (movements.table["kind"] == kind).any():
            continue
        best = movement_points(matrix, kind, regions, mm_per_point(kind))
        for s in (side,) if side else ("right", "left"):
            d = best[s][1]
            if d is None:
                worst = 100.0 if worst is None else worst
                continue
            locked = _locked(matrix, kind, d["region"], s)
            beyond = max(0.0, d["difference_mm"] - d["difference_se_mm"] - d["healthy_mm"]) if locked else 0.0
            value = 100.0 * float(np.clip(1.0 - beyond / (EFACE_ZERO_POINTS * mm_per_point(kind)), 0.0, 1.0))
            if worst is None or value < worst:
                worst, behind = value, {"movement": kind, "region": d["region"], "difference_mm": round(float(d["difference_mm"]), 2)}
    return (None if worst is None else round(worst, 1)), behind


def eface_synkinesis(matrix: Matrix, movements: Movements, ocular: float | None, side: str | None) -> dict:
    """report.json's ``scores.eface_synkinesis`` (100 = none)."""
    closures = ("gentle_eye_closure", "tight_eye_closure")
    midfacial, mid_behind = _eface_item(matrix, movements, closures, ("midface", "mouth"), side)
    others = ("brow_raise", "smile", "snarl", "pucker", *closures)
    mentalis, chin_behind = _eface_item(matrix, movements, others, ("chin",), side)
    reasons = {}
    if ocular is None:
        reasons["ocular"] = "no smile or pucker in the video"
    if midfacial is None:
        reasons["midfacial"] = "no voluntary eye closure in the video"
    if mentalis is None:
        reasons["mentalis"] = "no movement in the video"
    reasons["platysmal"] = "neck bands are not visible to a face mesh: not measured"
    return {"ocular": ocular, "midfacial": midfacial, "mentalis": mentalis, "platysmal": None, "reasons": reasons,
            "measured_on": {"midfacial": mid_behind, "mentalis": chin_behind}, "note": NOTE}


@dataclass(frozen=True)
class Scales:
    """Measured estimates of the clinical synkinesis scales: report.json's ``scores.sunnybrook`` and
    ``scores.eface_synkinesis``, and their warnings."""

    sunnybrook: dict
    eface_synkinesis: dict
    warnings: tuple[str, ...] = ()

    def to_scores(self) -> dict:
        """The two entries as they appear in report.json's ``scores``."""
        return {"sunnybrook": self.sunnybrook, "eface_synkinesis": self.eface_synkinesis}


def scales_process(matrix: Matrix, movements: Movements, scores: dict, affected: str | None = None) -> Scales:
    """Sunnybrook synkinesis and eFACE synkinesis estimates from the movement x region matrix.

    Parameters
    ----------
    matrix : Matrix
    movements : Movements
    scores : dict
        The other scores (``eface_ocular_synkinesis`` is reused).
    affected : {"right", "left"}, optional
        The known affected side; otherwise the side with more synkinesis points.
    """
    sb = sunnybrook(matrix, movements, affected)
    warnings = []
    if sb["missing"] and len(sb["missing"]) < len(SUNNYBROOK_MOVEMENTS):
        warnings.append(f"Sunnybrook synkinesis total sums {len(sb['synkinesis_movements'])} of 5 movements; missing: "
                        + ", ".join(MOVEMENT_LABELS[m] for m in sb["missing"]))
    elif sb["affected_side_reason"]:
        warnings.append(f"Sunnybrook: {sb['affected_side_reason']}; its scores are null")
    info = movements.info
    if info.get("missing") or info.get("extra"):
        warnings.append(f"protocol {info['protocol']}: " + "; ".join(
            ([f"no movement found for {', '.join(info['missing'])}"] if info["missing"] else [])
            + ([f"movements beyond the protocol: {', '.join(info['extra'])}"] if info["extra"] else [])))
    ef = eface_synkinesis(matrix, movements, scores.get("eface_ocular_synkinesis"), sb["affected_side"])
    return Scales(sb, ef, tuple(warnings))


def _round(x):
    return None if x is None else round(float(x), 3)
