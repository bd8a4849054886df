"""report.json: its schema name, and the one reader every command uses.

``synkan report``, ``synkan compare``, ``analyze --previous``, ``synkan.load``
and a batch's resume all read an analysis folder's report.json through
:func:`read_report`, so each refuses the same things with the same one-line
error: a missing or non-regular file, one larger than :data:`MAX_REPORT_BYTES`,
text that is not JSON (or nests too deeply), and JSON that is not a synkan
report of this schema.
"""
from __future__ import annotations

import json
from pathlib import Path

from ._util.files import read_regular_text
from .errors import InputError

REPORT_SCHEMA = "synkan.report/1"
REPORT_NAME = "report.json"
#: A report of a one-hour video is about 100 KB; anything far larger is not one.
MAX_REPORT_BYTES = 20_000_000


def read_report(folder: str | Path) -> dict:
    """``folder/report.json``, checked to be a synkan report of :data:`REPORT_SCHEMA`.

    Raises
    ------
    InputError
        In one line, naming the folder and what is wrong.
    """
    path = Path(folder) / REPORT_NAME
    try:
        text = read_regular_text(path, MAX_REPORT_BYTES, what="report")
    except InputError as exc:
        raise InputError(f"{folder}: no readable report.json ({str(exc).removeprefix(f'{path}: ')})") from None
    try:
        report = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path}: not readable JSON ({type(exc).__name__})") from None
    if not isinstance(report, dict) or report.get("schema") != REPORT_SCHEMA:
        found = report.get("schema") if isinstance(report, dict) else type(report).__name__
        raise InputError(f"{path}: not a synkan report (schema {found!r}, expected {REPORT_SCHEMA!r})")
    return report


def is_report_folder(folder: str | Path) -> bool:
    """``folder`` holds a readable report.json of :data:`REPORT_SCHEMA`."""
    try:
        read_report(folder)
    except InputError:
        return False
    return True
