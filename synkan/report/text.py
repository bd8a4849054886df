"""Plain-language result lines, shared by the CLI summary and the HTML report."""
from __future__ import annotations

DIRECTION_TEXT = {
    "oral_ocular": ("Oral-ocular", "eye narrows", "during smiles and puckers", "%"),
    "ocular_oral": ("Ocular-oral", "mouth corner lifts", "during eye closures", "% of eye distance"),
}


def _pct(x) -> str:
    return "n/a" if x is None else f"{x:.0f}"


def direction_line(direction: str, entry: dict) -> str:
    """One sentence for one direction, using only numbers present in ``entry``.

    Examples
    --------
    >>> entry = {"affected_side": "left", "grade": 2, "grade_name": "moderate", "asymmetry_pp": 25.0,
    ...          "left": {"involuntary_pct": 34.0, "r": 0.91, "lag_s": 0.03}, "right": {"involuntary_pct": 9.0}}
    >>> direction_line("oral_ocular", entry)
    'Oral-ocular synkinesis, LEFT, moderate (grade 2): the left eye narrows 34% during smiles and puckers vs 9% on the right; r = 0.91, lag 30 ms'
    """
    label, verb, during, unit = DIRECTION_TEXT[direction]
    side = entry.get("affected_side")
    if side is None or entry.get("grade") is None:
        return f"{label} synkinesis: not measurable (see warnings)"
    other = "right" if side == "left" else "left"
    a, b = entry[side], entry[other]
    region = verb.split()[0] if verb.startswith("eye") else "mouth corner"
    moves = verb.split(" ", 1)[1] if verb.startswith("eye") else verb.rsplit(" ", 1)[1]
    r = a.get("r")
    lag = a.get("lag_s")
    coupling = f"r = {r:.2f}, lag {1000 * lag:.0f} ms" if r is not None and lag is not None else "r n/a"
    # Name the side in capitals only when something was found there.
    head = (f"{label} synkinesis, {side.upper()}, {entry['grade_name']} (grade {entry['grade']})" if entry["grade"]
            else f"{label} synkinesis: {entry['grade_name']} (grade 0)")
    return (f"{head}: the {side} {region} {moves} {_pct(a.get('involuntary_pct'))}{unit} {during} "
            f"vs {_pct(b.get('involuntary_pct'))}{unit} on the {other}; {coupling}")


def summary_lines(report: dict) -> list[str]:
    """The human summary of a report.json dict."""
    scores = report.get("scores", {})
    lines = [direction_line(d, scores[d]) for d in DIRECTION_TEXT if d in scores]
    eface = scores.get("eface_ocular_synkinesis")
    lines.append(f"eFACE-style ocular synkinesis: {'n/a' if eface is None else f'{eface:.0f}'} (100 = none)")
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
