"""report.json: its schema name, and the one reader and validator every command uses.

``synkan report``, ``synkan compare``, ``analyze --previous``, ``synkan.load``
and a batch's resume all read an analysis folder's report.json through
:func:`read_report`, so each refuses the same things with the same one-line
error: a missing or non-regular file, one larger than :data:`MAX_REPORT_BYTES`,
text that is not JSON (or nests too deeply), and JSON that is not a synkan
report of this schema (:func:`check_report`).

Only the fields synkan reads back are checked, each for its type and range;
other keys, and keys added to a score entry as the schema grows, pass as they are.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Callable

from ._util.files import read_regular_text
from .config import Settings, check_fields
from .errors import InputError
from .visit import Visit

REPORT_SCHEMA = "synkan.report/1"
REPORT_NAME = "report.json"
#: A report of a one-hour video is about 100 KB; anything far larger is not one.
MAX_REPORT_BYTES = 20_000_000
#: The score entries compare reads (synkan.clinic.compare.DIRECTIONS).
SCORED_DIRECTIONS = ("oral_ocular", "ocular_oral")
SIDES = ("right", "left")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda x: x is None or check(x)


_TEXT = _optional(lambda x: isinstance(x, str))
_OBJECT = _optional(lambda x: isinstance(x, dict))
# field: (check, what it must be), for the sections synkan reads back.
_TOP = {"created": (_TEXT, "text"), "rebuilt": (_TEXT, "text"), "synkan_version": (_TEXT, "text"),
        "model": (_OBJECT, "an object"), "comparison": (_OBJECT, "an object"),
        "warnings": (_optional(lambda x: isinstance(x, list) and all(isinstance(w, str) for w in x)),
                     "a list of text")}
_VIDEO = {"sha256": (_optional(lambda x: isinstance(x, str) and bool(_SHA256.fullmatch(x))),
                     "a SHA-256 in hex"),
          "path": (_TEXT, "text"),
          "deidentified": (_optional(lambda x: isinstance(x, bool)), "true or false"),
          "fps": (_optional(lambda x: _number(x) and x > 0), "a positive number")}
_DIRECTION = {"affected_side": (_optional(lambda x: x in SIDES), "right, left or null"),
              "asymmetry_pp": (_optional(_number), "a finite number"),
              "asymmetry_se_pp": (_optional(lambda x: _number(x) and x >= 0), "a finite number >= 0"),
              "grade": (_optional(lambda x: isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 10),
                        "a whole number 0-10")}
_EFACE = "eface_ocular_synkinesis"


def _check_section(data: Any, fields: dict, where: str) -> None:
    if not isinstance(data, dict):
        raise InputError(f"{where} is not an object")
    for key, (check, what) in fields.items():
        if not check(data.get(key)):
            raise InputError(f"{where}.{key} must be {what}, not {str(data.get(key))[:40]!r}")


def check_report(report: Any, source: str = REPORT_NAME) -> dict:
    """``report`` if it is a synkan report.json whose read-back fields have the right types and ranges.

    Raises
    ------
    InputError
        In one line, naming the first wrong field.
    """
    if not isinstance(report, dict) or report.get("schema") != REPORT_SCHEMA:
        found = report.get("schema") if isinstance(report, dict) else type(report).__name__
        raise InputError(f"{source}: not a synkan report (schema {str(found)[:40]!r}, "
                         f"expected {REPORT_SCHEMA!r})")
    missing = [k for k in ("video", "settings", "scores") if k not in report]
    if missing:
        raise InputError(f"{source}: not a complete synkan report (no {', '.join(missing)})")
    _check_section(report, _TOP, source)
    _check_section(report["video"], _VIDEO, f"{source}: video")
    check_fields(report["settings"], Settings, f"{source}: settings")
    try:
        Settings(**report["settings"])
        Visit.from_dict(report.get("visit"))
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None
    scores = report["scores"]
    _check_section(scores, {_EFACE: (_optional(_number), "a finite number")}, f"{source}: scores")
    for direction in SCORED_DIRECTIONS:
        if direction in scores:
            _check_section(scores[direction], _DIRECTION, f"{source}: scores.{direction}")
    return report


def _parsed(folder: str | Path) -> tuple[Path, object]:
    path = Path(folder) / REPORT_NAME
    try:
        text = read_regular_text(path, MAX_REPORT_BYTES, what="report")
    except InputError as exc:
        raise InputError(f"{folder}: no readable report.json ({str(exc).removeprefix(f'{path}: ')})") from None
    try:
        return path, json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{path}: not readable JSON ({type(exc).__name__})") from None


def read_report(folder: str | Path) -> dict:
    """``folder/report.json``, checked to be a synkan report of :data:`REPORT_SCHEMA` (:func:`check_report`).

    Raises
    ------
    InputError
        In one line, naming the folder and what is wrong.
    """
    path, report = _parsed(folder)
    return check_report(report, str(path))


def is_report_folder(folder: str | Path) -> bool:
    """``folder`` holds a report.json of :data:`REPORT_SCHEMA`: synkan wrote it (its values may be damaged).

    Whose folder it is decides whether ``--force`` may replace it; a report
    with a damaged value is still synkan's, so only the schema is checked.
    """
    try:
        _, report = _parsed(folder)
    except InputError:
        return False
    return isinstance(report, dict) and report.get("schema") == REPORT_SCHEMA
