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
from dataclasses import asdict, dataclass, fields

from .errors import InputError

MAX_FIELD_CHARS = 2000  # a note is a few lines; more is a pasted file, not a note


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
        if self.visit_date:
            try:
                _dt.date.fromisoformat(self.visit_date)
            except ValueError:
                raise InputError(f"--visit-date {self.visit_date!r}: not an ISO date (YYYY-MM-DD)") from None
            if len(self.visit_date) != 10:  # Python 3.11 also reads 20261130 and 2026-W48-1
                raise InputError(f"--visit-date {self.visit_date!r}: not an ISO date (YYYY-MM-DD)")

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
