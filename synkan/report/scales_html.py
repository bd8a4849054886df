"""The "Sunnybrook and eFACE" section of report.html.

The five Sunnybrook movements are the rows: synkinesis points on each side,
the measured millimetres behind each point (the region, its side difference
and standard error), the healthy range and the millimetres per point; then
the eFACE synkinesis items, the movement x region x side matrix and each
movement's peak frame. Everything printed comes from report.json; values that
cannot be measured say why.
"""
from __future__ import annotations

from pathlib import Path

from ..grade.movements import MOVEMENT_LABELS
from ..grade.scales import SUNNYBROOK_MOVEMENTS
from ..measure.regions import REGION_LABELS
from ..text import error_text, report_side
from .html_parts import data_uri, esc, na
from .style import SCALE_FIGURE_NAMES

CAPTIONS = {
    "movement_matrix": ("Movements by region and side",
                        "Millimetres each region moves at each movement's peaks (grey: the movement's own region). "
                        "Coloured by how far the side difference lies beyond the healthy range, not by size: healthy "
                        "faces move both sides together."),
    "movement_keyframes": ("Each movement at its peak", "The frame where each movement peaks. The subject's right is "
                           "on the image's left."),
}


def _n_events(report: dict, movement: str, region: str | None) -> int:
    """How many repetitions of ``movement`` the matrix measured ``region`` on."""
    for row in report.get("matrix") or []:
        if row.get("movement") == movement and row.get("region") == region:
            return int(max(row.get(s, {}).get("n_events") or 0 for s in ("right", "left")))
    return 0


def _difference(report: dict, d: dict) -> str:
    """The side difference in mm, with an error only from enough repetitions."""
    if d.get("difference_mm") is None:
        return "-"
    n = _n_events(report, d.get("measured_on"), d.get("region"))
    spread = error_text(None if d.get("difference_se_mm") is None else f"{d['difference_se_mm']:.1f}", n,
                        d.get("measured_on") or "event", " mm")
    return f"{d['difference_mm']:.1f} mm ({esc(spread)})"


def _sunnybrook(sb: dict, report: dict) -> str:
    side, why = report_side(report)
    head = ("<tr><th>Movement</th><th>Synkinesis points, affected side</th><th>Points R / L</th><th>Measured on</th>"
            "<th>Side difference</th><th>Healthy up to</th><th>mm per point</th><th>Voluntary movement grade</th></tr>")
    rows = []
    for item in SUNNYBROOK_MOVEMENTS:
        label = esc(MOVEMENT_LABELS[item])
        d = sb.get("details", {}).get(item)
        if d is None:
            rows.append(f"<tr><td>{label}</td><td colspan='7'>{na(sb.get('missing', {}).get(item, 'not in the video'), inline=True)}</td></tr>")
            continue
        region = REGION_LABELS.get(d.get("region"), "-")
        diff = _difference(report, d)
        on = esc(region) + ("" if d.get("measured_on") == item else f" (during {esc(MOVEMENT_LABELS[d['measured_on']])})")
        points = d[f"points_{side}"] if side else "-"
        rows.append(f"<tr><td>{label}</td><td class='num'><b>{esc(points)}</b></td>"
                    f"<td class='num'>{esc(d['points_right'])} / {esc(d['points_left'])}</td><td>{on}</td>"
                    f"<td class='num'>{diff}</td><td class='num'>{esc(d.get('healthy_mm') or '-')} mm</td>"
                    f"<td class='num'>{esc(d['mm_per_point'])}</td><td class='num'>{esc(sb['voluntary'].get(item) or '-')}</td></tr>")
    present = sb.get("synkinesis_movements", [])
    points = {s: sum((sb.get("details", {}).get(m) or {}).get(f"points_{s}") or 0 for m in present)
              for s in ("right", "left")}
    if not present:
        total_text = na("none of the five movements in the video", inline=True)
    elif side is None:
        total_text = f"right <b>{points['right']}</b>, left <b>{points['left']}</b>"
    else:
        total_text = f"<b>{points[side]}</b> on the {esc(side)}"
    total_text += (f" on the scale of 0 to 15, from {len(present)} of its 5 movements"
                   if present else "")
    side_text = (f'<b>{esc(side.upper())}</b> ({esc(why)})' if side else f"<b>not determined</b> ({esc(why)})")
    resting = sb.get("resting", {})
    return (f"<p>Affected side: {side_text}. Synkinesis total: {total_text}.</p>"
            f"<table>{head}{''.join(rows)}</table>"
            f"<p class='note'>Resting symmetry: {na(resting.get('reason', ''), inline=True)}. Composite: "
            f"{na('needs the resting symmetry score', inline=True)}. Millimetres from the iris diameter (1 IOD = "
            f"{_mm_per_iod(sb)}).</p>")


def _mm_per_iod(sb: dict) -> str:
    """The calibration at the precision an iris measurement has (0.1 mm), not 59.767."""
    value = sb.get("mm_per_iod")
    return "not calibrated" if value is None else f"{value:.1f} mm"


def _eface(ef: dict) -> str:
    items = []
    for key, label in (("ocular", "ocular (eye narrowing with mouth movement)"),
                       ("midfacial", "midfacial (cheek and mouth corner with eye closure)"),
                       ("mentalis", "mentalis (chin with smile and other movements)"), ("platysmal", "platysmal (neck bands)")):
        value = ef.get(key)
        shown = na(ef.get("reasons", {}).get(key, ""), inline=True) if value is None else f"<b>{value:.0f}</b>"
        items.append(f"<tr><td>{esc(label)}</td><td class='num'>{shown}</td></tr>")
    return ("<h3>eFACE synkinesis items (100 = none)</h3><table><tr><th>Item</th><th>Score</th></tr>"
            + "".join(items) + "</table>")


def scales_section(report: dict, pngs: dict[str, Path], notes: dict[str, str] | None = None) -> str:
    """The section's HTML, from report.json (``scores.sunnybrook``, ``scores.eface_synkinesis``) and its
    figures."""

    scores = report.get("scores", {})
    sb, ef = scores.get("sunnybrook"), scores.get("eface_synkinesis")
    if sb is None or ef is None:
        return ""
    figures = []
    for name in SCALE_FIGURE_NAMES:
        title, caption = CAPTIONS[name]
        if name in pngs:
            figures.append(f'<figure id="fig-{name}"><h3>{esc(title)}</h3><img src="{data_uri(pngs[name])}" alt="{esc(title)}">'
                           f"<figcaption>{esc(caption)}</figcaption></figure>")
        elif notes and name in notes:
            figures.append(f'<figure id="fig-{name}"><h3>{esc(title)}</h3><p class="note">{esc(notes[name])}</p></figure>')
    return ('<h2 id="scales">Sunnybrook and eFACE</h2>'
            f"<p class='note'><b>{esc(sb.get('note', ''))}</b></p>"
            + _sunnybrook(sb, report) + _eface(ef) + "".join(figures))
