"""Pieces shared by every synkan HTML page (report, scales section, compare): style, escaping, images.

Every page is one self-contained file: the style is inline and images are
``data:`` URIs, so it opens offline and can be mailed or archived as it is.
"""
from __future__ import annotations

import base64
import html
from pathlib import Path

from .style import SIDE_COLORS

CSS = """
:root { --right: %(right)s; --left: %(left)s; --ink: #1b1b1b; --muted: #5f6368; --line: #dadce0; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); max-width: 1040px; margin: 0 auto; padding: 24px 28px 48px; line-height: 1.45;
       background: #ffffff; font-size: 15px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
.meta { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; font-size: 14px; margin: 6px 0; }
th, td { text-align: left; padding: 4px 12px 4px 0; vertical-align: top; border-bottom: 1px solid #f0f0f0; }
th { font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.meta td, .meta th { border: none; padding: 1px 14px 1px 0; }
code, .hash { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px;
word-break: break-all; }
.result { font-size: 17px; padding: 10px 14px; margin: 8px 0; border-left: 6px solid #9aa0a6; background:
#f8f9fa; }
.result.g0 { border-left-color: #34a853; } .result.g1 { border-left-color: #fbbc04; }
.result.g2 { border-left-color: #f29900; } .result.g3 { border-left-color: #d93025; }
.result.null { border-left-color: #9aa0a6; color: var(--muted); }
.right { color: var(--right); font-weight: 600; } .left { color: var(--left); font-weight: 600; }
.na { color: var(--muted); font-style: italic; }
.warn { background: #fef7e0; border: 1px solid #f9e3a3; padding: 8px 12px; border-radius: 4px; }
.warn ul { margin: 4px 0; padding-left: 20px; }
.qc { display: flex; flex-wrap: wrap; gap: 8px 36px; }
figure { margin: 18px 0; page-break-inside: avoid; break-inside: avoid; }
figure img { max-width: 100%%; height: auto; border: 1px solid #eeeeee; }
figcaption { color: var(--muted); font-size: 13px; }
.note { color: var(--muted); font-size: 13px; }
.methods { font-size: 13px; color: #3c4043; }
.head { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1.3fr); gap: 0 24px; align-items:
start; }
.blank { display: inline-block; min-width: 160px; border-bottom: 1px solid #9aa0a6; height: 1em; }
.disclaimer { font-size: 13px; border-top: 1px solid var(--line); margin-top: 10px; padding-top: 6px; }
.keyframes img { max-width: 100%%; height: auto; }
table, .disclaimer, .previous { break-inside: avoid; page-break-inside: avoid; }
@media print {
  body { max-width: none; padding: 0; font-size: 9.5pt; line-height: 1.3; }
  h1 { font-size: 15pt; } h2 { font-size: 11pt; margin: 8px 0 4px; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  table { font-size: 8.5pt; } th, td { padding: 1px 8px 1px 0; }
  .result { background: none; font-size: 9.5pt; padding: 3px 8px; margin: 4px 0; }
  .summary-page { break-after: page; page-break-after: always; }
  .summary-page .keyframes img { max-height: 52mm; width: auto; }
  .summary-page figure { margin: 4px 0; }
  .summary-page .note, .summary-page figcaption, .disclaimer { font-size: 8pt; }
  .head th, .head td { padding: 0 8px 0 0; border: none; }
  .methods { break-inside: avoid; page-break-inside: avoid; }
  details { display: block; } details > summary { display: none; }
  a { color: inherit; text-decoration: none; }
  @page { margin: 12mm; }
}
""" % {"right": SIDE_COLORS["right"], "left": SIDE_COLORS["left"]}


def esc(x) -> str:
    """``x`` as text safe inside HTML elements and attribute values."""
    return html.escape(str(x), quote=True)


def na(reason: str | None = None, inline: bool = False) -> str:
    """The "not measurable" mark, with the reason on hover, and also in the text when ``inline``."""
    title = f' title="{esc(reason)}"' if reason else ""
    note = f' <span class="note">({esc(reason)})</span>' if inline and reason else ""
    return f'<span class="na"{title}>not measurable</span>{note}'


def data_uri(png: Path | bytes) -> str:
    """A PNG (a file, or its bytes) as a ``data:`` URI, so the page needs no other file."""
    data = png if isinstance(png, bytes) else Path(png).read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")
