"""The comparison of visits as HTML: a table fragment for report.html, and the self-contained compare.html.

Every number comes from compare.json (:func:`synkan.clinic.compare.compare_reports`),
rounded once here; text from the user (patient ID, notes) is HTML-escaped.
"""
from __future__ import annotations

from pathlib import Path

from ..clinic.compare import MEASURE_UNIT
from ..text import DIRECTION_TEXT, change_values
from .html_parts import CSS, data_uri, esc

COMPARE_CSS = """
.visits { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 12px; }
.visits figure { margin: 6px 0; }
.real { font-weight: 600; } .real.better { color: #188038; } .real.worse { color: #c5221f; }
"""
VERDICT_TEXT = {"better": "real change: better", "worse": "real change: worse", "no real change": "no real change",
                "not measurable": "not measurable"}


def na_or(shown: str | None) -> str:
    """A value as printed by :func:`synkan.text.change_values`, or the "not measurable" mark."""
    return '<span class="na">not measurable</span>' if shown is None else esc(shown)


SHORT_METHOD = ("MDC95: the minimal detectable change at 95% confidence, from each visit's between-event "
                "standard error; a change larger than it is real.")


def changes_table(comparison: dict, only_last: bool = False) -> str:
    """The ``changes`` as a table: before, after, change, MDC95 and the verdict, one row per direction and
    pair.

    ``only_last`` keeps the pairs ending at the last visit and explains the
    method in one sentence (report.html's summary page, "since the previous visit").
    """
    visits = comparison.get("visits", [])
    last = len(visits) - 1
    rows = []
    for c in comparison.get("changes", []):
        if only_last and c["after_visit"] != last:
            continue
        label = DIRECTION_TEXT.get(c["direction"], (c["direction"],))[0]
        pair = f'{esc(visits[c["before_visit"]]["label"])} &rarr; {esc(visits[c["after_visit"]]["label"])}'
        verdict = esc(VERDICT_TEXT.get(c["verdict"], c["verdict"]))
        cls = f' class="real {esc(c["verdict"])}"' if c.get("real") else ""
        reason = f' <span class="note">({esc(c["reason"])})</span>' if c.get("reason") else ""
        side = f"{esc(c['side'])} minus other" if c.get("side") else "affected side not determined"
        shown = change_values(c["before"], c["after"]) or (None, None, None)
        before, after, change = (na_or(x) for x in shown)
        mdc = "" if c["mdc"] is None else esc(f"{c['mdc']:.1f}")
        rows.append(f"<tr><td>{esc(label)}</td><td>{pair}</td><td>{side}</td><td class='num'>{before}</td>"
                    f"<td class='num'>{after}</td><td class='num'>{change}</td>"
                    f"<td class='num'>{mdc}</td>"
                    f"<td{cls}>{verdict}{reason}</td></tr>")
    head = ("<tr><th>Direction</th><th>Visits</th><th>Side difference</th><th>Before</th><th>After</th><th>Change</th>"
            "<th>MDC95</th><th>Verdict</th></tr>")
    return (f'<table class="changes">{head}{"".join(rows)}</table>'
            f'<p class="note">Side differences in {esc(MEASURE_UNIT)}. '
            f'{esc(SHORT_METHOD if only_last else comparison.get("method", ""))}</p>')


def _visits_table(comparison: dict) -> str:
    rows = []
    for v in comparison.get("visits", []):
        eface = v.get("eface_ocular_synkinesis")
        rows.append(f"<tr><td>{esc(v['label'])}</td><td>{esc(v.get('patient_id') or '')}</td>"
                    f"<td>{esc(v.get('clinician') or '')}</td><td>{esc(v.get('note') or '')}</td>"
                    f"<td class='num'>{'' if eface is None else esc(f'{eface:.0f}')}</td>"
                    f"<td><span class='hash'>{esc((v.get('sha256') or '')[:16])}</span></td></tr>")
    return ("<table><tr><th>Visit</th><th>Patient ID</th><th>Clinician</th><th>Note</th><th>eFACE-style ocular (100 = no "
            f"synkinesis)</th><th>Video SHA-256 (start)</th></tr>{''.join(rows)}</table>")


def render_compare_html(comparison: dict, pngs: dict[str, Path],
                        keyframes: list[tuple[str, Path | bytes | None]]) -> str:
    """compare.html: visits, changes with their verdicts, figures and each visit's key frames side by side.

    Parameters
    ----------
    comparison : dict
        compare.json.
    pngs : dict of Path
        ``side_difference`` and ``timeseries`` figures of the comparison.
    keyframes : list of (label, Path or bytes or None)
        Each visit's key-frame figure (``figures/keyframes.png`` of its folder, or its checked bytes),
        None when it has none.
    """
    patient = next((v["patient_id"] for v in comparison.get("visits", []) if v.get("patient_id")), "")
    warnings = comparison.get("warnings", [])
    parts = ["<h1>Facial synkinesis: change between visits</h1>",
             f'<p class="meta">Patient ID: {esc(patient) if patient else "(not given)"} &middot; '
             f'{len(comparison.get("visits", []))} visits</p>', "<h2>Visits</h2>", _visits_table(comparison),
             "<h2>Changes</h2>", changes_table(comparison)]
    if warnings:
        parts.append('<div class="warn"><b>Warnings</b><ul>' + "".join(f"<li>{esc(w)}</li>" for w in warnings)
                     + "</ul></div>")
    for name, title in (("side_difference", "Side difference per visit"), ("timeseries", "Signals, visit by visit")):
        if name in pngs:
            parts.append(f'<figure><h3>{esc(title)}</h3><img src="{data_uri(pngs[name])}" alt="{esc(title)}"></figure>')
    cells = []
    for label, path in keyframes:
        body = (f'<img src="{data_uri(path)}" alt="key frames, {esc(label)}">' if path is not None
                else '<p class="note">no key frames in this analysis folder</p>')
        cells.append(f"<figure><h3>{esc(label)}</h3>{body}</figure>")
    parts += ["<h2>Key frames</h2>", f'<div class="visits">{"".join(cells)}</div>',
              '<p class="note"><b>The grades and the minimal detectable change are heuristic and not clinically '
              "validated; this comparison is not a diagnosis.</b></p>"]
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>synkan comparison</title>\n<style>{CSS}{COMPARE_CSS}</style>\n</head>\n<body>\n"
            + "\n".join(parts) + "\n</body>\n</html>\n")
