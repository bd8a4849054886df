"""The "Sunnybrook and eFACE" section of report.html.

The five Sunnybrook movements are the rows: synkinesis points on each side,
the measured millimetres behind each point (the region, its side difference
and standard error), the healthy range and the millimetres per point; then
the eFACE synkinesis items, the movement x region x side matrix and each
movement's peak frame. Everything printed comes from report.json; values that
cannot be measured say why.
"""
from __future__ import annotations

from html import escape
from pathlib import Path

from ..grade.movements import MOVEMENT_LABELS
from ..measure.regions import REGION_LABELS
from ..grade.scales import SUNNYBROOK_MOVEMENTS
from .style import SCALE_FIGURE_NAMES

CAPTIONS = {
    "movement_matrix": ("Movements by region and side",
                        "Millimetres each region moves at each movement's peaks (grey: the movement's own region). "
                        "Coloured by how far the side difference lies beyond the healthy range, not by size: healthy "
                        "faces move both sides together."),
    "movement_keyframes": ("Each movement at its peak", "The frame where each movement peaks. The subject's right is "
                           "on the image's left."),
}


def _e(x) -> str:
    return escape(str(x), quote=True)


def _na(reason: str) -> str:
    return f'<span class="na" title="{_e(reason)}">not measured</span> <span class="note">({_e(reason)})</span>'


def _sunnybrook(sb: dict) -> str:
    side = sb.get("affected_side")
    head = ("<tr><th>Movement</th><th>Synkinesis points, affected side</th><th>Points R / L</th><th>Measured on</th>"
            "<th>Side difference</th><th>Healthy up to</th><th>mm per point</th><th>Voluntary movement grade</th></tr>")
    rows = []
    for item in SUNNYBROOK_MOVEMENTS:
        label = _e(MOVEMENT_LABELS[item])
        d = sb.get("details", {}).get(item)
        if d is None:
            rows.append(f"<tr><td>{label}</td><td colspan='7'>{_na(sb.get('missing', {}).get(item, 'not in the video'))}</td></tr>")
            continue
        region = REGION_LABELS.get(d.get("region"), "-")
        diff = "-" if d.get("difference_mm") is None else f"{d['difference_mm']:.1f} &plusmn; {d['difference_se_mm']:.1f} mm"
        on = _e(region) + ("" if d.get("measured_on") == item else f" (during {_e(MOVEMENT_LABELS[d['measured_on']])})")
        points = sb["synkinesis"].get(item)
        rows.append(f"<tr><td>{label}</td><td class='num'><b>{_e(points)}</b></td>"
                    f"<td class='num'>{_e(d['points_right'])} / {_e(d['points_left'])}</td><td>{on}</td>"
                    f"<td class='num'>{diff}</td><td class='num'>{_e(d.get('healthy_mm') or '-')} mm</td>"
                    f"<td class='num'>{_e(d['mm_per_point'])}</td><td class='num'>{_e(sb['voluntary'].get(item) or '-')}</td></tr>")
    total = sb["synkinesis"].get("total")
    present = sb.get("synkinesis_movements", [])
    total_text = (_na("none of the five movements in the video") if total is None else
                  f"<b>{_e(total)}</b> of {3 * len(present)} (sum of the {len(present)} "
                  f"movement{'s' if len(present) != 1 else ''} present)")
    side_text = _e(side.upper()) if side else _na(sb.get("affected_side_reason") or "unknown")
    if side and not any(d["points_right"] or d["points_left"] for d in sb.get("details", {}).values()):
        side_text += " (no synkinesis point on either side: the side with the larger side differences)"
    resting = sb.get("resting", {})
    return (f"<p>Affected side: {side_text}. Synkinesis total: {total_text}.</p>"
            f"<table>{head}{''.join(rows)}</table>"
            f"<p class='note'>Resting symmetry: {_na(resting.get('reason', ''))}. Composite: "
            f"{_na('needs the resting symmetry score')}. Millimetres from the iris diameter (1 IOD = "
            f"{_e(sb.get('mm_per_iod') or '?')} mm).</p>")


def _eface(ef: dict) -> str:
    items = []
    for key, label in (("ocular", "ocular (eye narrowing with mouth movement)"),
                       ("midfacial", "midfacial (midface and mouth corner with eye closure)"),
                       ("mentalis", "mentalis (chin with smile and other movements)"), ("platysmal", "platysmal (neck bands)")):
        value = ef.get(key)
        shown = _na(ef.get("reasons", {}).get(key, "")) if value is None else f"<b>{value:.0f}</b>"
        items.append(f"<tr><td>{_e(label)}</td><td class='num'>{shown}</td></tr>")
    return ("<h3>eFACE synkinesis items (100 = none)</h3><table><tr><th>Item</th><th>Score</th></tr>"
            + "".join(items) + "</table>")


def scales_section(report: dict, pngs: dict[str, Path], notes: dict[str, str] | None = None) -> str:
    """The section's HTML, from report.json (``scores.sunnybrook``, ``scores.eface_synkinesis``) and its figures."""
    from .html import data_uri  # html imports this module

    scores = report.get("scores", {})
    sb, ef = scores.get("sunnybrook"), scores.get("eface_synkinesis")
    if sb is None or ef is None:
        return ""
    figures = []
    for name in SCALE_FIGURE_NAMES:
        title, caption = CAPTIONS[name]
        if name in pngs:
            figures.append(f'<figure id="fig-{name}"><h3>{_e(title)}</h3><img src="{data_uri(pngs[name])}" alt="{_e(title)}">'
                           f"<figcaption>{_e(caption)}</figcaption></figure>")
        elif notes and name in notes:
            figures.append(f'<figure id="fig-{name}"><h3>{_e(title)}</h3><p class="note">{_e(notes[name])}</p></figure>')
    return ('<h2 id="scales">Sunnybrook and eFACE</h2>'
            f"<p class='note'><b>{_e(sb.get('note', ''))}</b></p>"
            + _sunnybrook(sb) + _eface(ef) + "".join(figures))
