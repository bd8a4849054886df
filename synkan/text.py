"""Plain-language result lines, shared by the CLI summary and the HTML report.

Every number a sentence and the measurements table both show is formatted
once, here (:func:`shown_values`), so the two can never disagree.
"""
from __future__ import annotations

DIRECTION_TEXT = {
    "oral_ocular": ("Oral-ocular", "eye narrows", "during smiles and puckers", "%"),
    "ocular_oral": ("Ocular-oral", "mouth corner lifts", "during eye closures", "% of eye distance"),
}
# Below this many percent a whole-number rounding hides the side difference
# (1.54 vs 1.15 read "2 vs 1" beside a 0.4-point difference): one decimal then.
ONE_DECIMAL_BELOW_PCT = 10.0


def _decimals(*values: float | None) -> int:
    finite = [abs(v) for v in values if v is not None]
    return 1 if finite and min(finite) < ONE_DECIMAL_BELOW_PCT else 0


def shown_values(entry: dict) -> dict[str, str | None]:
    """The per-side amounts and the side difference of one direction, as printed everywhere.

    One precision for all three (one decimal when any is below
    :data:`ONE_DECIMAL_BELOW_PCT`), so the sentence and the table cells are
    the same strings.

    Examples
    --------
    >>> entry = {"affected_side": "right", "asymmetry_pp": 0.39, "asymmetry_se_pp": 0.2,
    ...          "right": {"involuntary_pct": 1.54}, "left": {"involuntary_pct": 1.15}}
    >>> shown_values(entry)
    {'right': '1.5', 'left': '1.1', 'asymmetry': '0.4', 'asymmetry_se': '0.2'}
    """
    pct = {side: entry.get(side, {}).get("involuntary_pct") for side in ("right", "left")}
    asym, se = entry.get("asymmetry_pp"), entry.get("asymmetry_se_pp")
    d = _decimals(pct["right"], pct["left"], asym)
    fmt = lambda x: None if x is None else f"{x:.{d}f}"  # noqa: E731
    return {"right": fmt(pct["right"]), "left": fmt(pct["left"]), "asymmetry": fmt(asym),
            "asymmetry_se": None if se is None else f"{se:.{max(d, 1)}f}"}


def lag_text(lag_s: float | None, fps: float | None) -> str:
    """A lag at the precision the frame rate allows: the nearest frame, +/- half a frame.

    The cross-correlation peak is interpolated between frames, but one frame
    (33 ms at 30 fps) is what the video resolves.

    Examples
    --------
    >>> lag_text(0.002, 30.0), lag_text(0.03, 30.0), lag_text(-0.12, 25.0), lag_text(0.03, None)
    ('0 ms (±17 ms)', '33 ms (±17 ms)', '-120 ms (±20 ms)', '30 ms')
    """
    if lag_s is None:
        return "n/a"
    if not fps:
        return f"{1000 * lag_s:.0f} ms"
    frames = round(lag_s * fps)
    ms = 1000 * frames / fps
    return f"{ms:.0f} ms (±{500 / fps:.0f} ms)"


def direction_line(direction: str, entry: dict, fps: float | None = None) -> str:
    """One sentence for one direction, using only numbers present in ``entry``.

    Examples
    --------
    >>> entry = {"affected_side": "left", "grade": 2, "grade_name": "moderate", "asymmetry_pp": 25.0,
    ...          "left": {"involuntary_pct": 34.0, "r": 0.91, "lag_s": 0.03}, "right": {"involuntary_pct": 9.0},
    ...          "asymmetry_r": 0.95, "asymmetry_lag_s": 0.0}
    >>> direction_line("oral_ocular", entry, fps=30.0)
    'Oral-ocular synkinesis, LEFT, moderate (grade 2): the left eye narrows 34.0% during smiles and puckers vs 9.0% on the right (side difference 25.0 percentage points); r = 0.91, lag 33 ms (±17 ms); side difference r = 0.95, lag 0 ms (±17 ms)'
    """
    label, verb, during, unit = DIRECTION_TEXT[direction]
    side = entry.get("affected_side")
    if side is None or entry.get("grade") is None:
        return f"{label} synkinesis: not measurable (see warnings)"
    other = "right" if side == "left" else "left"
    a = entry[side]
    shown = shown_values(entry)
    region = verb.split()[0] if verb.startswith("eye") else "mouth corner"
    moves = verb.split(" ", 1)[1] if verb.startswith("eye") else verb.rsplit(" ", 1)[1]
    r = a.get("r")
    lag = a.get("lag_s")
    coupling = f"r = {r:.2f}, lag {lag_text(lag, fps)}" if r is not None and lag is not None else "r n/a"
    r_difference, lag_difference = entry.get("asymmetry_r"), entry.get("asymmetry_lag_s")
    if r_difference is not None and lag_difference is not None:  # what the grade may rest on (scoring.score_direction)
        coupling += f"; side difference r = {r_difference:.2f}, lag {lag_text(lag_difference, fps)}"
    # Name the side in capitals only when something was found there.
    head = (f"{label} synkinesis, {side.upper()}, {entry['grade_name']} (grade {entry['grade']})" if entry["grade"]
            else f"{label} synkinesis: {entry['grade_name']} (grade 0)")
    difference = f" (side difference {shown['asymmetry']} percentage points)" if shown["asymmetry"] is not None else ""
    return (f"{head}: the {side} {region} {moves} {shown[side] or 'n/a'}{unit} {during} "
            f"vs {shown[other] or 'n/a'}{unit} on the {other}{difference}; {coupling}")


def summary_lines(report: dict) -> list[str]:
    """The human summary of a report.json dict."""
    scores = report.get("scores", {})
    fps = report.get("video", {}).get("fps")
    lines = [direction_line(d, scores[d], fps) for d in DIRECTION_TEXT if d in scores]
    eface = scores.get("eface_ocular_synkinesis")
    lines.append(f"eFACE-style ocular synkinesis: {'n/a' if eface is None else f'{eface:.0f}'} (100 = no synkinesis)")
    sb = scores.get("sunnybrook")
    if sb and sb["synkinesis"].get("total") is not None:
        items = ", ".join(f"{m.replace('_', ' ')} {sb['synkinesis'][m]}" for m in sb["synkinesis_movements"])
        lines.append(f"Sunnybrook synkinesis (measured estimate), {sb['affected_side'].upper()}: {sb['synkinesis']['total']} of "
                     f"{3 * len(sb['synkinesis_movements'])} ({items})")
    qc = report.get("qc", {})
    if qc:
        ev = qc.get("events", {})
        lines.append(f"Face found in {100 * qc.get('face_fraction', 0):.0f}% of frames; events: "
                     + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in ev.items()))
    lines += [f"warning: {w}" for w in report.get("warnings", [])]
    return lines
