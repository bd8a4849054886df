"""The self-contained, print-friendly HTML report.

Everything is in one file: figures are embedded as base64 ``data:`` URIs, the
CSS is inline and uses the system's fonts, and nothing is fetched from the
network. Every number printed comes from the report.json dict (rounded for
reading), so the page and report.json never disagree; a value that is null
is printed as "not measurable" with the reason from the warnings.
"""
from __future__ import annotations

from pathlib import Path

from ..text import (
    DIRECTION_TEXT,
    OTHER,
    direction_line,
    error_text,
    is_finding,
    lag_phrase,
    report_side,
    shown_values,
    sunnybrook_line,
)
from .html_parts import CSS, data_uri, esc, na
from .scales_html import scales_section
from .style import SCALE_FIGURE_NAMES, format_gain

FIGURES = (  # name, title, caption
    ("summary_matrix", "At a glance",
     "Involuntary movement of each region and side during each voluntary movement; grey cells are the voluntary "
     "movement itself. The bold rows are the values scored above."),
    ("timeseries", "Signals over time",
     "Eye closure and mouth-corner lift of each side, with the events found shaded by kind."),
    ("keyframes", "Key frames",
     "Rest, peak smile and peak eye closure, with the eye and mouth landmarks. The subject's right (R) is on "
     "the image's left."),
    ("xcorr", "Time-locking",
     "Correlation of each side's involuntary responder with the voluntary driver at each lag. Synkinesis is "
     "time-locked: a high peak near zero lag."),
    ("scatter", "Driver and responder",
     "Involuntary responder against voluntary driver inside the event windows; the line's slope is the gain."),
)



def _fmt(x, spec: str, scale: float = 1.0, unit: str = "", reason: str | None = None) -> str:
    if x is None:
        return na(reason)
    return esc(format(scale * x, spec) + unit)


def _side(side: str) -> str:
    return f'<span class="{side}">{side.upper()}</span>'


def _direction_reason(report: dict, direction: str) -> str:
    label = DIRECTION_TEXT[direction][0]
    for w in report.get("warnings", []):
        if w.lower().startswith(label.lower() + ":"):
            return w[len(label) + 1:].strip().removesuffix("; scores are null")
    return "too little data"


def _eface_reason(report: dict) -> str:
    for w in report.get("warnings", []):
        if "eface" in w.lower():
            return w
    return _direction_reason(report, "oral_ocular")


def _when(stamp) -> str:
    return str(stamp or "").replace("T", " ").replace("+00:00", " UTC")


def _header(report: dict, deidentify: bool) -> str:
    """Title, the visit (with blanks to fill in by hand when not given) and the video."""
    video, visit = report.get("video", {}), report.get("visit") or {}
    if deidentify or video.get("deidentified"):
        name = f'{esc(video.get("id", ""))} <span class="note">(de-identified: no file name kept)</span>'
    else:
        name = esc(Path(str(video.get("path", ""))).name)
    blank = '<span class="blank"></span>'
    who = [(label, esc(visit[key]) if visit.get(key) else blank)
           for label, key in (("Patient ID", "patient_id"), ("Visit date", "visit_date"), ("Clinician", "clinician"))]
    if visit.get("note"):
        who.append(("Note", esc(visit["note"])))
    what = [
        ("Video", name),
        ("Analysed", esc(_when(report.get("created"))) if report.get("created") else na()),
        *([("Rebuilt", esc(_when(report["rebuilt"])))] if report.get("rebuilt") else []),
        ("Duration", _fmt(video.get("duration_s"), ".1f", unit=" s")
         + (f' &middot; {esc(video["frames"])} frames' if video.get("frames") is not None else "")
         + (f' &middot; {_fmt(video.get("fps"), "g")} frames/s' if video.get("fps") else "")
         + (f' &middot; {esc(video.get("width"))} &times; {esc(video.get("height"))} px' if video.get("width") else "")),
        ('<span title="SHA-256 of the video file">Checksum</span>', f'<span class="hash">{esc(video.get("sha256", ""))}</span>'),
        ("synkan", esc(report.get("synkan_version", "")) + " &middot; eye laterality: "
         + esc(report.get("qc", {}).get("laterality") or report.get("settings", {}).get("laterality", ""))),
    ]
    table = lambda rows: "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)  # noqa: E731
    return (f'<h1>Facial synkinesis report</h1>\n<div class="head"><table class="visit">{table(who)}</table>'
            f'<table class="meta">{table(what)}</table></div>')


def _results(report: dict) -> str:
    """Page 1's findings, in a clinician's words: the one affected side, one line per direction, the
    scales."""
    scores = report.get("scores", {})
    side, why = report_side(report)
    shown_side = _side(side) if side else "<b>not determined</b>"
    out = ["<h2>Result</h2>", f'<p class="affected">Affected side: {shown_side} <span class="note">({esc(why)})</span></p>']
    fps = report.get("video", {}).get("fps")
    for direction in DIRECTION_TEXT:
        entry = scores.get(direction)
        if entry is None:
            continue
        if entry.get("affected_side") is None or (entry.get("grade") is None and "verdict" not in entry):
            label = DIRECTION_TEXT[direction][0]
            out.append(f'<div class="result null">{esc(label)} synkinesis: not measurable '
                       f'({esc(_direction_reason(report, direction))})</div>')
            continue
        line = esc(direction_line(direction, entry, fps, report))
        if side:
            line = line.replace(side.upper(), _side(side), 1)
        grade = int(entry["grade"] or 0) if is_finding(entry) else 0
        out.append(f'<div class="result g{grade}">{line}</div>')
    eface = scores.get("eface_ocular_synkinesis")
    value = na() + f" ({esc(_eface_reason(report))})" if eface is None else f"<b>{eface:.0f}</b>"
    out.append(f'<p>eFACE-style ocular synkinesis: {value} <span class="note">(100 = no synkinesis; '
               "lower is worse)</span></p>")
    sunnybrook = sunnybrook_line(report)
    if sunnybrook:
        out.append(f'<p class="sunnybrook">{esc(sunnybrook)} <span class="note">(details: '
                   '<a href="#scales">Sunnybrook and eFACE</a>)</span></p>')
    return "\n".join(out)


def _side_rows(report: dict, direction: str, entry: dict) -> list[str]:
    """The two per-side rows of the measurements table."""
    label, unit = DIRECTION_TEXT[direction][0], DIRECTION_TEXT[direction][3]
    reason = _direction_reason(report, direction)
    shown = shown_values(entry)
    fps = report.get("video", {}).get("fps")
    rows = []
    for k, side in enumerate(("right", "left")):
        s = entry.get(side, {})
        first = f'<td rowspan="2">{esc(label)}</td>' if k == 0 else ""
        timing = na(reason) if s.get("r") is None else esc(lag_phrase(s.get("r"), s.get("lag_s"), fps))
        rows.append(
            f"<tr>{first}<td class='{side}'>subject's {side}</td>"
            f"<td class='num'>{na(reason) if shown[side] is None else esc(shown[side] + unit)}</td>"
            f"<td class='num'>{timing}</td>"
            f"<td class='num'>{na(reason) if s.get('gain') is None else esc(format_gain(s['gain']))}</td>"
            f"<td class='num'>{esc(s.get('n_events', 0))}</td></tr>")
    return rows


def _difference_row(report: dict, direction: str, entry: dict) -> str:
    """The graded statistic, named for what it is, with its error only from enough events."""
    reason = _direction_reason(report, direction)
    shown = shown_values(entry)
    asym, healthy = shown["asymmetry"], entry.get("healthy_max_pp")
    fps = report.get("video", {}).get("fps")
    n = max(entry.get(s, {}).get("n_events") or 0 for s in ("right", "left"))
    side = entry.get("affected_side")
    text = (na(reason) if asym is None else
            f"{esc(side)} minus {esc(OTHER.get(side, 'other'))} side, median of the per-event differences: {esc(asym)} percentage points "
            f"({esc(error_text(shown['asymmetry_se'], n, unit=' percentage points'))})")
    reference = f" (healthy faces: up to {_fmt(healthy, '.1f')})" if healthy is not None else ""
    timing = ""
    if entry.get("asymmetry_r") is not None:
        timing = f"; the difference against the driver: {esc(lag_phrase(entry['asymmetry_r'], entry.get('asymmetry_lag_s'), fps))}"
    grade = f"; grade {esc(entry['grade'])} ({esc(entry.get('grade_name'))})" if entry.get("grade") is not None else ""
    return f"<tr><td></td><td colspan='5' class='note'>{text}{reference}{timing}{grade}</td></tr>"


def _details(report: dict) -> str:
    """The researchers' measurements table: correlation, lag and gain per side (terms explained in
    Methods)."""
    scores = report.get("scores", {})
    head = ("<tr><th>Direction</th><th>Side</th><th>Involuntary movement</th><th>Correlation with the driver"
            "</th><th>Gain</th><th>Events used</th></tr>")
    rows = []
    for direction in DIRECTION_TEXT:
        entry = scores.get(direction)
        if entry is not None:
            rows += _side_rows(report, direction, entry) + [_difference_row(report, direction, entry)]
    return ("<h2>Measurements (for researchers)</h2>\n<p class='note'>The driver is the voluntary movement (smile and "
            "pucker; eye closure and blink); the gain is the responder's slope against it; the side difference is "
            "the median over events of each event's own side difference (see Methods).</p><table>"
            + head + "".join(rows) + "</table>")


def _qc(report: dict) -> str:
    qc = report.get("qc", {})
    events = qc.get("events", {})
    face = qc.get("face_fraction")
    rotation = ", ".join(f"{name} {_fmt(qc.get(f'max_abs_{name}_deg'), '.1f', unit='°')}" for name in ("yaw", "pitch", "roll"))
    items = [
        ("Face found", _fmt(face, ".0f", 100, "% of frames") if face is not None else na()),
        ("Head rotation (largest, from rest)", rotation),
        ("Frames with too much rotation (left out)", esc(qc.get("frames_large_rotation", 0))),
        ("Eye width (sets the lid measurement's resolution)", _fmt(qc.get("eye_width_px"), ".0f", unit=" px")),
        ("Events found", ", ".join(f"{esc(v)} {esc(k.replace('_', ' '))}" for k, v in events.items()) or "none"),
    ]
    if qc.get("frames_without_face"):
        items.insert(1, ("Frames without a face", esc(qc["frames_without_face"])))
    table = "<table>" + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in items) + "</table>"
    warnings = report.get("warnings", [])
    warn = ('<div class="warn"><b>Warnings</b><ul>' + "".join(f"<li>{esc(w)}</li>" for w in warnings) + "</ul></div>"
            if warnings else '<p class="note">No warnings.</p>')
    return f"<h2>Quality control</h2>\n{table}\n{warn}"


def _keyframes(pngs: dict[str, Path], notes: dict[str, str]) -> str:
    name, title, caption = next(f for f in FIGURES if f[0] == "keyframes")
    if name in pngs:
        return (f'<figure id="fig-{name}" class="keyframes"><h2>{esc(title)}</h2>'
                f'<img src="{data_uri(pngs[name])}" alt="{esc(title)}"><figcaption>{esc(caption)}</figcaption></figure>')
    return f'<h2>{esc(title)}</h2><p class="note">{esc(notes.get(name, "not drawn"))}</p>'


def _previous(report: dict) -> str:
    comparison = report.get("comparison")
    if not comparison:
        return ""
    from .compare_html import changes_table

    return f'<div class="previous"><h2>Since the previous visit</h2>{changes_table(comparison, only_last=True)}</div>'


def _comparison_method(report: dict) -> str:
    method = (report.get("comparison") or {}).get("method")
    return f'<h2>Change since the previous visit: method</h2><p class="note">{esc(method)}</p>' if method else ""


def _privacy(report: dict) -> str:
    video = report.get("video", {})
    if not video.get("deidentified"):
        return ""
    return (f'<h2>De-identification</h2><p class="note">Kept: {esc(video.get("kept", ""))}. '
            f'Removed: {esc(video.get("removed", ""))}.</p>')


DISCLAIMER = ('<p class="disclaimer"><b>The grades are heuristic and not clinically validated; this report is not a '
              "diagnosis.</b> Interpret together with a clinical examination. Sides are the subject's own. "
              "Details, figures and methods follow.</p>")


def _figures(pngs: dict[str, Path], notes: dict[str, str]) -> str:
    out = ["<h2>Figures</h2>",
           '<p class="note">Colours: <span class="right">subject\'s right</span>, <span class="left">subject\'s left</span>, '
           "in every figure. Sides are the subject's own, never the image's.</p>"]
    for name, title, caption in FIGURES:
        if name == "keyframes":  # on the summary page
            continue
        if name in pngs:
            out.append(f'<figure id="fig-{name}"><h3>{esc(title)}</h3>'
                       f'<img src="{data_uri(pngs[name])}" alt="{esc(title)}">'
                       f"<figcaption>{esc(caption)}</figcaption></figure>")
        elif name in notes:
            out.append(f'<figure id="fig-{name}"><h3>{esc(title)}</h3><p class="note">{esc(notes[name])}</p></figure>')
    for name, path in pngs.items():  # figures added later by others still show
        if name not in {n for n, _, _ in FIGURES} | set(SCALE_FIGURE_NAMES):
            out.append(f'<figure id="fig-{esc(name)}"><img src="{data_uri(path)}" alt="{esc(name)}"></figure>')
    return "\n".join(out)


def _events(report: dict) -> str:
    events = report.get("events", [])
    if not events:
        return ""
    rows = "".join(
        f"<tr><td>{esc(str(e.get('kind', '')).replace('_', ' '))}</td><td class='num'>{_fmt(e.get('start_s'), '.2f')}</td>"
        f"<td class='num'>{_fmt(e.get('end_s'), '.2f')}</td><td>{esc(e.get('source', ''))}</td></tr>" for e in events)
    # A plain section, not a closed <details>: Chromium's print would leave it shut and the PDF without it.
    return ('<h2 id="events">Events (start and end, seconds)</h2><table class="events"><tr><th>Kind</th>'
            f"<th>Start (s)</th><th>End (s)</th><th>Found by</th></tr>{rows}</table>")


METHODS = (
    "<h2>Methods and limits</h2><div class='methods'><p>Face landmarks were tracked in every frame with MediaPipe "
    "FaceLandmarker. Head pose was removed by aligning stable landmarks (forehead, nose bridge, temples) to the "
    "video's rest shape. With the default (pixel) eye measurement MediaPipe only locates each eye: the lid margins are found in the image, by matching "
    "bands across each lid against the same person's rest eye, and eye closure is the lids' movement as a share "
    "of the rest opening. Mouth-corner lift is the corner's upward movement from rest in units of the distance "
    "between the eyes. Voluntary movements (smiles, "
    "puckers, blinks and eye closures) were found automatically or taken from the user's protocol. For each "
    "direction the involuntary region's movement on each side is measured at the voluntary movement's peaks and "
    "cross-correlated with it; the side difference and the correlation give the grade.</p>"
    "<p><b>The grades are heuristic and not clinically validated; this report is not a diagnosis.</b> Healthy "
    "people narrow both eyes in a genuine smile, so only the difference between the sides is graded. Landmark "
    "trackers smooth one-sided eye movement towards symmetry; measuring the lids from the image avoids most of "
    "this, but less well in small, low-light or heavily made-up eyes. Sides are the "
    "subject's anatomical sides. Interpret together with a clinical examination.</p></div>"
)


def render_html(report: dict, pngs: dict[str, Path], notes: dict[str, str] | None = None, deidentify: bool = False) -> str:
    """Render the report as one self-contained HTML page.

    Parameters
    ----------
    report : dict
        The report.json contract (``Analysis.report``).
    pngs : dict of Path
        Figures by name (from :func:`synkan.report.figures.save_figures`), embedded as data URIs.
    notes : dict of str, optional
        Why a figure is missing, by name.
    deidentify : bool
        Leave the video's file name out of the page (a de-identified
        report.json has none anyway; its generated ID is shown).

    Returns
    -------
    str
    """
    video = report.get("video", {})
    name = "" if deidentify or video.get("deidentified") else Path(str(video.get("path", ""))).name
    title = f"synkan report{' - ' + name if name else ''}"
    notes = notes or {}
    # The summary is one printed page (A4 or Letter); the details follow on the next.
    summary = [_header(report, deidentify), _results(report), _keyframes(pngs, notes), _previous(report), DISCLAIMER]
    parts = [f'<section class="summary-page">{"".join(summary)}</section>', _details(report),
             scales_section(report, pngs, notes), _qc(report),
             _comparison_method(report),
             _privacy(report),
             _figures(pngs, notes), _events(report), METHODS]
    body = "\n".join(parts)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


__all__ = ["render_html"]
