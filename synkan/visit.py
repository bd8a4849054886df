"""Who and when: the visit a video was recorded at (report.json's ``visit``).

Synkinesis is followed over months of treatment, so every analysis can carry
its patient ID, visit date, clinician and a free note. They are the user's
words, stored as given (stripped) and HTML-escaped wherever they are shown.

Examples
--------
>>> v = Visit(patient_id="P-017", visit_date="2026-11-30", clinician="Dr Rao")
>>> v.to_dict()["visit_date"]
'2026-11-30'
>>> Visit.from_dict(v.to_dict()) == v
True
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import asdict, dataclass, fields

from .errors import InputError

MAX_FIELD_CHARS = 2000  # a note is a few lines; more is a pasted file, not a note
# Only the calendar form: Python 3.11's fromisoformat also reads 20261130 and 2026-W48-1.
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def check_date(text: str, what: str = "--visit-date") -> str:
    """``text`` if it is a calendar date ``YYYY-MM-DD`` (or empty): the one date check of every input.

    Raises
    ------
    InputError
        Any other form (``20261130``, ``2026-W48-1``, ``2026-02-30``), in one line.

    Examples
    --------
    >>> check_date("2026-11-30")
    '2026-11-30'
    """
    if not text:
        return text
    try:
        if not (isinstance(text, str) and _ISO_DATE.fullmatch(text)):
            raise ValueError
        _dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{what} must be YYYY-MM-DD (e.g. 2024-01-10), not {str(text)[:40]!r}") from None
    return text


@dataclass(frozen=True)
class Visit:
    """The visit metadata of one analysis; every field is optional (empty).

    Attributes
    ----------
    patient_id : str
        The clinic's identifier (use a pseudonym for de-identified outputs).
    visit_date : str
        ISO date, ``YYYY-MM-DD``.
    clinician : str
    note : str
    """

    patient_id: str = ""
    visit_date: str = ""
    clinician: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, str):
                raise InputError(f"visit {f.name.replace('_', '-')}: expected text, got {type(value).__name__}")
            if len(value) > MAX_FIELD_CHARS:
                raise InputError(f"visit {f.name.replace('_', '-')}: longer than {MAX_FIELD_CHARS} characters")
            object.__setattr__(self, f.name, value.strip())
        check_date(self.visit_date)

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def to_dict(self) -> dict[str, str]:
        """report.json's ``visit`` section."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> "Visit":
        """The visit of a report.json (``{}`` or a missing section: no metadata).

        Raises
        ------
        InputError
            On unknown keys, non-text values or a bad date.
        """
        data = data or {}
        if not isinstance(data, dict):
            raise InputError("report.json: 'visit' is not an object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"report.json: unknown visit fields {unknown}")
        return cls(**data)
