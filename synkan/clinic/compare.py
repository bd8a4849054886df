"""Change between visits, and whether it is larger than the measurement's own uncertainty.

Synkinesis is treated over months, so the question at every visit is "is it
better than last time, and is the change real?". For each direction the
measure is the side difference (``asymmetry_pp``) oriented to one side for
all visits (the known affected side, else the first visit's), and its
uncertainty is each visit's between-event standard error
(``asymmetry_se_pp``, :func:`synkan.grade.grades.side_difference`).

A change counts as real when it exceeds the minimal detectable change at 95%
confidence: ``MDC95 = 1.96 * sqrt(SE_before**2 + SE_after**2)``, the
smallest difference between two independent measurements with those standard
errors that measurement error alone produces in fewer than 5% of repeats.
With equal errors it is the familiar ``1.96 * sqrt(2) * SEM`` (Weir JP 2005,
J Strength Cond Res 19:231-240; Haley SM, Fragala-Pinkham MA 2006, Phys Ther
86:735-743); here each visit brings its own SE, from its own events, instead
of one SEM from a reliability study.

Pure functions over report.json dicts; reading the folders is
:func:`load_reports`.

Examples
--------
>>> before = {"visit": {"visit_date": "2026-01-10"}, "scores": {"oral_ocular": {
...     "affected_side": "left", "asymmetry_pp": 40.0, "asymmetry_se_pp": 3.0, "grade": 3}}}
>>> after = {"visit": {"visit_date": "2026-04-10"}, "scores": {"oral_ocular": {
...     "affected_side": "left", "asymmetry_pp": 22.0, "asymmetry_se_pp": 4.0, "grade": 2}}}
>>> change = compare_reports([before, after])["changes"][0]
>>> change["change"], change["mdc"], change["real"], change["verdict"]
(-18.0, 9.8, True, 'better')
"""
from __future__ import annotations

import math
from pathlib import Path

from ..errors import InputError
from ..report_json import read_report

COMPARE_SCHEMA = "synkan.clinic.compare/1"
MDC_Z = 1.96  # two-sided 95% normal quantile (Weir 2005; Haley & Fragala-Pinkham 2006)
DIRECTIONS = ("oral_ocular", "ocular_oral")
MEASURE_UNIT = "percentage points"
METHOD = ("A change is real when it is larger than the minimal detectable change at 95% confidence, "
          "MDC95 = 1.96 x sqrt(SE_before^2 + SE_after^2), where each SE is that visit's between-event standard "
          "error of the side difference (asymmetry_se_pp); with equal errors this is 1.96 x sqrt(2) x SEM "
          "(Weir 2005, J Strength Cond Res 19:231-240; Haley & Fragala-Pinkham 2006, Phys Ther 86:735-743). "
          "The side difference of every visit is taken on the same side: the known affected side, else the "
          "first visit's.")


def minimal_detectable_change(se_before: float | None, se_after: float | None) -> float | None:
    """MDC95 of a difference of two measurements with standard errors ``se_before`` and ``se_after``.

    Examples
    --------
    >>> round(minimal_detectable_change(3.0, 4.0), 2), minimal_detectable_change(None, 4.0)
    (9.8, None)
    """
    if se_before is None or se_after is None:
        return None
    return MDC_Z * math.hypot(se_before, se_after)


def oriented_asymmetry(entry: dict, side: str) -> float | None:
    """A direction's side difference as ``side`` minus the other side (pp), or None.

    Examples
    --------
    >>> oriented_asymmetry({"affected_side": "right", "asymmetry_pp": 5.0}, "left")
    -5.0
    """
    asym, affected = entry.get("asymmetry_pp"), entry.get("affected_side")
    if asym is None or affected is None:
        return None
    return float(asym) if affected == side else -float(asym)


def reference_side(reports: list[dict], direction: str) -> str | None:
    """The side every visit's side difference is taken on: the known affected side, else the first visit's."""
    known = {r.get("settings", {}).get("affected") for r in reports} - {None}
    if len(known) == 1:
        return known.pop()
    for report in reports:
        side = report.get("scores", {}).get(direction, {}).get("affected_side")
        if side is not None:
            return side
    return None


def visit_summary(report: dict, index: int) -> dict:
    """Who, when and which file one visit is, plus its eFACE value (no path)."""
    visit = report.get("visit") or {}
    video = report.get("video") or {}
    label = visit.get("visit_date") or f"visit {index + 1}"
    return {"index": index, "label": label, "patient_id": visit.get("patient_id", ""),
            "visit_date": visit.get("visit_date", ""), "clinician": visit.get("clinician", ""),
            "note": visit.get("note", ""), "created": report.get("created"), "sha256": video.get("sha256"),
            "eface_ocular_synkinesis": report.get("scores", {}).get("eface_ocular_synkinesis")}


def _verdict(change: float | None, real: bool | None) -> str:
    if real is None:
        return "not measurable"
    if not real:
        return "no real change"
    return "better" if change < 0 else "worse"


def change_entry(direction: str, side: str | None, before: dict, after: dict, pair: tuple[int, int]) -> dict:
    """One ``changes`` entry: one direction between two visits (report.json dicts)."""
    b, a = before.get("scores", {}).get(direction, {}), after.get("scores", {}).get(direction, {})
    x0 = oriented_asymmetry(b, side) if side else None
    x1 = oriented_asymmetry(a, side) if side else None
    mdc = minimal_detectable_change(b.get("asymmetry_se_pp"), a.get("asymmetry_se_pp"))
    change = None if x0 is None or x1 is None else x1 - x0
    real = None if change is None or mdc is None else abs(change) > mdc
    reason = None
    if change is None:
        reason = "side difference not measurable at " + ("both visits" if x0 is None and x1 is None
                                                        else "the first visit" if x0 is None else "the second visit")
    elif mdc is None:
        reason = "no between-event standard error"
    rnd = lambda x: None if x is None else round(x, 2)  # noqa: E731
    rnd1 = lambda x: None if x is None else round(x, 1)  # noqa: E731
    return {"measure": f"{direction}.asymmetry_pp", "direction": direction, "side": side, "unit": MEASURE_UNIT,
            # Before, after and change at the precision shown (one decimal), so that the change a reader
            # checks by subtraction is the number stored.
            "before_visit": pair[0], "after_visit": pair[1], "before": rnd1(x0), "after": rnd1(x1),
            "change": None if change is None else round(rnd1(x1) - rnd1(x0), 1), "mdc": rnd(mdc), "real": real,
            "verdict": _verdict(change, real),
            "grade_before": b.get("grade"), "grade_after": a.get("grade"), "reason": reason}


def visit_pairs(n: int) -> list[tuple[int, int]]:
    """Consecutive visits, and the first against the last when there are more than two.

    Examples
    --------
    >>> visit_pairs(2), visit_pairs(3)
    ([(0, 1)], [(0, 1), (1, 2), (0, 2)])
    """
    pairs = [(k, k + 1) for k in range(n - 1)]
    return pairs + [(0, n - 1)] if n > 2 else pairs


def check_visits(reports: list[dict]) -> list[str]:
    """Refuse visits of different patients or out of date order; return warnings (the same file twice).

    Raises
    ------
    InputError
    """
    if len(reports) < 2:
        raise InputError("compare needs two or more analysis folders (in date order)")
    ids = {(r.get("visit") or {}).get("patient_id") for r in reports} - {None, ""}
    if len(ids) > 1:
        raise InputError(f"the folders are of different patients ({', '.join(sorted(ids))})")
    dates = [(r.get("visit") or {}).get("visit_date") or None for r in reports]
    known = [(k, d) for k, d in enumerate(dates) if d]
    for (i, d0), (j, d1) in zip(known, known[1:]):
        if d1 < d0:
            raise InputError(f"visits not in date order: visit {j + 1} ({d1}) is before visit {i + 1} ({d0}); "
                             "give the folders oldest first")
    warnings = []
    for i, j in visit_pairs(len(reports)):
        sha = (reports[i].get("video") or {}).get("sha256")
        if sha and sha == (reports[j].get("video") or {}).get("sha256"):
            warnings.append(f"visits {i + 1} and {j + 1} are the same video file (SHA-256 {sha[:12]}…)")
    return warnings


def compare_reports(reports: list[dict]) -> dict:
    """compare.json: the visits, and one ``changes`` entry per direction and pair of visits.

    Parameters
    ----------
    reports : list of dict
        report.json of each visit, oldest first.

    Returns
    -------
    dict
        ``schema``, ``method``, ``visits``, ``changes`` (each ``measure``,
        ``before``, ``after``, ``change``, ``mdc``, ``real``, ``verdict`` ...;
        ``real`` is None with a ``reason`` when not measurable) and ``warnings``.

    Raises
    ------
    InputError
        Fewer than two visits, different patients, or out of date order.
    """
    warnings = check_visits(reports)
    directions = [d for d in DIRECTIONS if any(d in r.get("scores", {}) for r in reports)]
    sides = {d: reference_side(reports, d) for d in directions}
    changes = [change_entry(d, sides[d], reports[i], reports[j], (i, j))
               for i, j in visit_pairs(len(reports)) for d in directions]
    visits = []
    for k, report in enumerate(reports):
        summary = visit_summary(report, k)
        summary["measures"] = {d: visit_measure(report.get("scores", {}).get(d, {}), sides[d]) for d in directions}
        visits.append(summary)
    return {"schema": COMPARE_SCHEMA, "method": METHOD, "mdc_z": MDC_Z, "visits": visits, "changes": changes,
            "warnings": warnings}


def visit_measure(entry: dict, side: str | None) -> dict:
    """One visit's oriented side difference, its standard error and grade, for one direction."""
    value = oriented_asymmetry(entry, side) if side else None
    return {"side": side, "value": None if value is None else round(value, 2), "se": entry.get("asymmetry_se_pp"),
            "grade": entry.get("grade")}


def load_reports(folders: list[str | Path]) -> list[dict]:
    """report.json of each analysis folder.

    Raises
    ------
    InputError
        A folder without a readable synkan report.json.
    """
    return [read_report(folder) for folder in folders]
