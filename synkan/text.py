"""Plain-language result lines, shared by the CLI summary and the HTML report.

Every number a sentence and the measurements table both show is formatted
once, here (:func:`shown_values`), so the two can never disagree. Three rules
hold on every page:

* **One affected side** (:func:`report_side`): the clinician's ``--affected``,
  else the side of a conclusive synkinesis finding, else "not determined".
  A side is never named by default.
* **No error estimate from fewer than** :data:`MIN_EVENTS_FOR_SE` events
  (:func:`error_text`).
* **No lag without a time-locked peak** (:func:`lag_phrase`): a peak outside
  the physiological lag window (at the search window's edge) or a weak r reads
  "no time-locked peak", not a lag.
"""
from __future__ import annotations

from .config import GRADE_MAX_ABS_LAG_S, GRADE_MIN_R
from .measure.regions import REGION_LABELS

# direction -> (label, what the sentence measures, the driver movements, unit)
DIRECTION_TEXT = {
    "oral_ocular": ("Oral-ocular", "eye narrowing", ("smile", "pucker"), "%"),
    "ocular_oral": ("Ocular-oral", "mouth-corner movement", ("eye_closure", "blink"), "% of eye distance"),
}
MOVEMENT_NOUNS = {"smile": ("smile", "smiles"), "pucker": ("pucker", "puckers"), "blink": ("blink", "blinks"),
                  "eye_closure": ("eye closure", "eye closures"), "snarl": ("snarl", "snarls"),
                  "brow_raise": ("brow raise", "brow raises")}
# Below this many percent a whole-number rounding hides the side difference
# (1.54 vs 1.15 read "2 vs 1" beside a 0.4-point difference): one decimal then.
ONE_DECIMAL_BELOW_PCT = 10.0
# A standard error from 1 or 2 events is not an estimate of anything (the SD of two numbers).
MIN_EVENTS_FOR_SE = 3
OTHER = {"right": "left", "left": "right"}


def _decimals(*values: float | None) -> int:
    finite = [abs(v) for v in values if v is not None]
    return 1 if finite and min(finite) < ONE_DECIMAL_BELOW_PCT else 0


def _number(x: float, d: int, signed: bool = False) -> str:
    """``x`` at ``d`` decimals, without a negative zero ("-0.0" reads as a finding)."""
    text = f"{x:+.{d}f}" if signed else f"{x:.{d}f}"
    return text.replace("-", "", 1).replace("+", "", 1) if float(text) == 0 else text


def shown_values(entry: dict, scale: float = 1.0) -> dict[str, str | None]:
    """The per-side amounts and the side difference of one direction, as printed everywhere.

    One precision for all (one decimal when any is below
    :data:`ONE_DECIMAL_BELOW_PCT`), so the sentence and the table cells are
    the same strings. ``scale`` converts the stored unit (% of eye distance)
    to another (mm) first.

    Examples
    --------
    >>> entry = {"affected_side": "right", "asymmetry_pp": 0.39, "asymmetry_se_pp": 0.2,
    ...          "right": {"involuntary_pct": 1.54}, "left": {"involuntary_pct": 1.15}}
    >>> shown_values(entry)
    {'right': '1.5', 'left': '1.1', 'asymmetry': '0.4', 'asymmetry_se': '0.2'}
    """
    pct = {side: entry.get(side, {}).get("involuntary_pct") for side in ("right", "left")}
    pct = {side: None if v is None else scale * v for side, v in pct.items()}
    asym, se = entry.get("asymmetry_pp"), entry.get("asymmetry_se_pp")
    asym, se = (None if asym is None else scale * asym), (None if se is None else scale * se)
    d = _decimals(pct["right"], pct["left"], asym)
    fmt = lambda x: None if x is None else _number(x, d)  # noqa: E731
    return {"right": fmt(pct["right"]), "left": fmt(pct["left"]), "asymmetry": fmt(asym),
            "asymmetry_se": None if se is None else _number(se, max(d, 1))}


def lag_text(lag_s: float | None, fps: float | None) -> str:
    """A lag at the precision the frame rate allows: the nearest frame, +/- half a frame.

    Examples
    --------
    >>> lag_text(0.002, 30.0), lag_text(0.03, 30.0), lag_text(-0.12, 25.0), lag_text(0.03, None)
    ('0 ms (±17 ms)', '33 ms (±17 ms)', '-120 ms (±20 ms)', '30 ms')
    """
    if lag_s is None:
        return "n/a"
    if not fps:
        return f"{1000 * lag_s:.0f} ms"
    ms = 1000 * round(lag_s * fps) / fps
    return f"{_number(ms, 0)} ms (±{500 / fps:.0f} ms)"


def is_time_locked(r: float | None, lag_s: float | None) -> bool:
    """A correlation peak that is a result: r >= GRADE_MIN_R within +/- GRADE_MAX_ABS_LAG_S.

    A peak beyond the physiological window lies at, or near, the edge of the
    lag search and only says the correlation kept rising there.

    Examples
    --------
    >>> [is_time_locked(*rl) for rl in ((0.9, 0.03), (0.15, 0.0), (0.5, 0.5), (None, 0))]
    [True, False, False, False]
    """
    if r is None or lag_s is None:
        return False
    return r >= GRADE_MIN_R and abs(lag_s) <= GRADE_MAX_ABS_LAG_S + 1e-9


def lag_phrase(r: float | None, lag_s: float | None, fps: float | None) -> str:
    """``"r = 0.91, lag 33 ms (±17 ms)"``, or "no time-locked peak" when the peak is not a result.

    Examples
    --------
    >>> lag_phrase(0.91, 0.03, 30.0), lag_phrase(0.15, 0.5, 30.0), lag_phrase(None, None, 30.0)
    ('r = 0.91, lag 33 ms (±17 ms)', 'no time-locked peak (best r = 0.15, at the lag window edge)', 'n/a')
    """
    if r is None or lag_s is None:
        return "n/a"
    if is_time_locked(r, lag_s):
        return f"r = {r:.2f}, lag {lag_text(lag_s, fps)}"
    why = "at the lag window edge" if abs(lag_s) > GRADE_MAX_ABS_LAG_S else "too weak to be a peak"
    return f"no time-locked peak (best r = {r:.2f}, {why})"


def error_text(se: str | float | None, n: int, noun: str = "event", unit: str = "") -> str:
    """``"± 1.2 pp"`` from 3 or more events; otherwise say there is no error estimate.

    Examples
    --------
    >>> error_text("1.2", 5, unit=" pp"), error_text("0.0", 2, "smile"), error_text(None, 4)
    ('± 1.2 pp', '2 smiles: no error estimate', 'no error estimate')
    """
    if n < MIN_EVENTS_FOR_SE:
        return f"{count_text(n, noun)}: no error estimate"
    return "no error estimate" if se is None else f"± {se}{unit}"


def count_text(n: int, noun: str) -> str:
    """``"1 smile"``, ``"2 smiles"``, ``"2 eye closures"``."""
    one, many = MOVEMENT_NOUNS.get(noun, (noun.replace("_", " "), noun.replace("_", " ") + "s"))
    return f"{n} {one if n == 1 else many}"


def is_finding(entry: dict | None) -> bool:
    """Whether a direction's entry is a conclusive synkinesis finding (issue 22's verdict, else grade >=
    1)."""
    if not entry or entry.get("affected_side") is None:
        return False
    if "verdict" in entry:
        return entry["verdict"] == "synkinesis"
    return bool(entry.get("grade"))


def report_side(report: dict) -> tuple[str | None, str]:
    """The one affected side of a report, and why: the clinician's, else a conclusive finding, else None.

    Examples
    --------
    >>> report_side({"settings": {"affected": "right"}})
    ('right', 'given by the clinician (--affected)')
    >>> report_side({"scores": {"oral_ocular": {"affected_side": "left", "grade": 0}}})
    (None, 'no conclusive synkinesis finding and no --affected')
    >>> report_side({"scores": {"oral_ocular": {"affected_side": "left", "grade": 2}}})[0]
    'left'
    """
    given = (report.get("settings") or {}).get("affected")
    if given:
        return given, "given by the clinician (--affected)"
    scores = report.get("scores") or {}
    sides = {scores[d]["affected_side"] for d in DIRECTION_TEXT if is_finding(scores.get(d))}
    if len(sides) == 1:
        return sides.pop(), "the side of the synkinesis found"
    if len(sides) > 1:
        return None, "the two directions point to different sides"
    return None, "no conclusive synkinesis finding and no --affected"


def driver_kinds(direction: str, entry: dict, report: dict) -> list[str]:
    """The voluntary movements a direction was measured on: the deciding one, else those present."""
    if entry.get("movement"):
        return [entry["movement"]]
    counts = (report.get("qc") or {}).get("events")
    kinds = DIRECTION_TEXT[direction][2]
    present = [k for k in kinds if counts is None or counts.get(k)]
    return present or list(kinds[:1])


def during_text(kinds: list[str]) -> str:
    """``"during smiles"``, ``"during smiles and puckers"``."""
    return "during " + " and ".join(MOVEMENT_NOUNS.get(k, (k, k + "s"))[1] for k in kinds)


def _unit(direction: str, report: dict) -> tuple[float, str, str]:
    """(scale, unit of the amounts, unit of the difference): mouth movement in mm when calibrated."""
    if direction == "oral_ocular":
        return 1.0, "%", " percentage points"
    mm_per_iod = ((report.get("scores") or {}).get("sunnybrook") or {}).get("mm_per_iod")
    if mm_per_iod:
        return mm_per_iod / 100.0, " mm", " mm"
    return 1.0, "% of eye distance", "% of eye distance"


def amounts_text(direction: str, entry: dict, report: dict) -> str:
    """Both sides' amounts, e.g. ``"eye narrowing: right 22.9%, left 23.0%"``; mouth ones say up or down."""
    scale, unit, _ = _unit(direction, report)
    shown = shown_values(entry, scale)
    parts = []
    for side in ("right", "left"):
        value = shown[side]
        if value is None:
            parts.append(f"{side} n/a")
        elif direction == "ocular_oral":
            parts.append(f"{side} {value.lstrip('-')}{unit} {'down' if value.startswith('-') else 'up'}")
        else:
            parts.append(f"{side} {value}{unit}")
    return f"{DIRECTION_TEXT[direction][1]}: " + ", ".join(parts)


def difference_text(direction: str, entry: dict, report: dict) -> str | None:
    """The graded side difference with its own wording: the median of the per-event differences.

    It is oriented as the affected side minus the other when the report has
    one (:func:`report_side`), else left minus right; it is not the
    subtraction of the two amounts shown beside it (those are each side's
    own median), so it says what it is.
    """
    asym = entry.get("asymmetry_pp")
    if asym is None or entry.get("affected_side") is None:
        return None
    scale, _, unit = _unit(direction, report)
    side = report_side(report)[0] or "left"
    signed = asym if entry["affected_side"] == side else -asym
    shown = shown_values({**entry, "asymmetry_pp": signed}, scale)
    n = max(entry.get(s, {}).get("n_events") or 0 for s in ("right", "left"))
    noun = driver_kinds(direction, entry, report)[0]
    d = len(shown["asymmetry"].partition(".")[2])
    value = _number(float(shown["asymmetry"]), d, signed=True)
    return (f"{side} minus {OTHER[side]} {value}{unit} (median of the per-event differences; "
            f"{error_text(shown['asymmetry_se'], n, noun, unit)})")


def _head(direction: str, entry: dict, report: dict) -> str:
    """The sentence's verdict, using issue 22's fields when present."""
    label = DIRECTION_TEXT[direction][0]
    kinds = driver_kinds(direction, entry, report)
    during = during_text(kinds)
    verdict = entry.get("verdict")
    limit = entry.get("rules_out_above_pp")
    n = max(entry.get(s, {}).get("n_events") or 0 for s in ("right", "left"))
    if is_finding(entry):
        side = report_side(report)[0] or entry["affected_side"]
        return f"{label} synkinesis, {side.upper()}, {entry['grade_name']} (grade {entry['grade']}), {during}"
    if verdict == "not conclusive":
        needed = entry.get("repetitions_needed")
        more = max(1, needed - (entry.get("n_events") or n)) if needed else None  # needed counts all events
        rules = f" — rules out side differences above {limit:.0f} pp" if limit is not None else ""
        record = f"; record {count_text(more, kinds[0])} more to decide" if more else ""
        return f"{label}: not conclusive from {count_text(n, kinds[0])}{rules}{record}"
    if verdict == "ruled out":
        rules = f"; rules out more than {limit:.0f} pp" if limit is not None else ""
        return f"No {label.lower()} synkinesis {during} ({count_text(n, kinds[0])}{rules})"
    return f"No {label.lower()} synkinesis found {during} (grade 0)"


def direction_line(direction: str, entry: dict, fps: float | None = None, report: dict | None = None) -> str:
    """One sentence for one direction, for a clinician, using only numbers present in ``entry``.

    ``report`` (the whole report.json dict) supplies the affected side, the
    movements present and the mm calibration; without it the entry alone is used.

    Examples
    --------
    >>> entry = {"affected_side": "left", "grade": 2, "grade_name": "moderate", "asymmetry_pp": 25.0,
    ...          "asymmetry_se_pp": 3.0,
    ...          "left": {"involuntary_pct": 34.0, "r": 0.91, "lag_s": 0.03, "n_events": 5},
    ...          "right": {"involuntary_pct": 9.0, "n_events": 5}}
    >>> for part in direction_line("oral_ocular", entry, fps=30.0).split("; "):
    ...     print(part)
    Oral-ocular synkinesis, LEFT, moderate (grade 2), during smiles and puckers: eye narrowing: right 9.0%, left 34.0%
    left minus right +25.0 percentage points (median of the per-event differences
    ± 3.0 percentage points)
    the left eye follows in time: r = 0.91, lag 33 ms (±17 ms)
    """
    report = report if report is not None else {"scores": {direction: entry}}
    label = DIRECTION_TEXT[direction][0]
    if entry.get("affected_side") is None or (entry.get("grade") is None and "verdict" not in entry):
        return f"{label} synkinesis: not measurable (see warnings)"
    parts = [amounts_text(direction, entry, report)]
    difference = difference_text(direction, entry, report)
    if difference:
        parts.append(difference)
    parts.append(timing_text(direction, entry, report, fps))
    return f"{_head(direction, entry, report)}: " + "; ".join(parts)


def timing_text(direction: str, entry: dict, report: dict, fps: float | None) -> str:
    """Whether the affected side (or, with none determined, each side) follows the driver in time."""
    region = REGION_LABELS["eye" if direction == "oral_ocular" else "mouth"]
    side = report_side(report)[0]
    phrase = lambda s: lag_phrase(entry.get(s, {}).get("r"), entry.get(s, {}).get("lag_s"), fps)  # noqa: E731
    if side is None:
        return f"timing: right {region} {phrase('right')}; left {region} {phrase('left')}"
    timing = phrase(side)
    if entry.get("time_locked") is False and timing.startswith("r ="):
        timing = "no time-locked peak"
    if timing.startswith("r ="):
        return f"the {side} {region} follows in time: {timing}"
    return f"{side} {region}: {timing}"


def sunnybrook_line(report: dict) -> str | None:
    """The Sunnybrook synkinesis total on the report's one affected side, on the scale of 0 to 15."""
    sb = (report.get("scores") or {}).get("sunnybrook")
    if not sb or sb.get("synkinesis", {}).get("total") is None:
        return None
    present = sb.get("synkinesis_movements", [])
    side = report_side(report)[0]
    points = {s: sum((sb.get("details", {}).get(m) or {}).get(f"points_{s}") or 0 for m in present)
              for s in ("right", "left")}
    measured = f"{len(present)} of 5 movements measured: " + ", ".join(m.replace("_", " ") for m in present)
    if side is None:
        value = f"right {points['right']}, left {points['left']} (affected side not determined)"
    else:
        value = f"{points[side]} on the {side} ({side.upper()})"
    return f"Sunnybrook synkinesis (measured estimate, scale 0 to 15): {value}; {measured}"


def summary_lines(report: dict) -> list[str]:
    """The human summary of a report.json dict."""
    scores = report.get("scores", {})
    fps = report.get("video", {}).get("fps")
    side, why = report_side(report)
    lines = [f"Affected side: {side.upper() if side else 'not determined'} ({why})"]
    lines += [direction_line(d, scores[d], fps, report) for d in DIRECTION_TEXT if d in scores]
    eface = scores.get("eface_ocular_synkinesis")
    shown = "n/a" if eface is None else f"{eface:.0f}"
    lines.append(f"eFACE-style ocular synkinesis: {shown} (100 = no synkinesis)")
    sunnybrook = sunnybrook_line(report)
    if sunnybrook:
        lines.append(sunnybrook)
    qc = report.get("qc", {})
    if qc:
        ev = qc.get("events", {})
        lines.append(f"Face found in {100 * qc.get('face_fraction', 0):.0f}% of frames; events: "
                     + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in ev.items()))
    lines += [f"warning: {w}" for w in report.get("warnings", [])]
    return lines


def change_values(before: float | None, after: float | None) -> tuple[str, str, str] | None:
    """Before, after and change as printed: the change is the difference of the two shown numbers.

    One rounding: "+0.1 -> +5.1, change +5.0", never "change +4.9" beside them.

    Examples
    --------
    >>> change_values(0.14, 5.06), change_values(None, 1.0), change_values(-0.04, 0.04)
    (('+0.1', '+5.1', '+5.0'), None, ('0.0', '0.0', '0.0'))
    """
    if before is None or after is None:
        return None
    b, a = round(before, 1), round(after, 1)
    return _number(b, 1, signed=True), _number(a, 1, signed=True), _number(round(a - b, 1), 1, signed=True)
