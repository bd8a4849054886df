"""Voluntary movement events: blinks, eye closures, smiles and puckers.

Events are found with hysteresis thresholds relative to each video's own
range (floored by absolute minima, so a still face yields none), which keeps
noise from splitting one event into many. A blink is a bilateral closure
shorter than :data:`~synkan.config.BLINK_MAX_S`; a longer one is a voluntary
eye closure only when it happens without the mouth movement. A user protocol
(``"smile:2-5,close:7-9"`` or a CSV/JSON file) overrides detection within the
spans it lists.

Every event returned is a voluntary movement, the driver of one coupling
direction and a confound of the other. Detected movements that are another
movement's involuntary response are dropped (see :func:`responses`): an eye
that shuts during a smile is the oral-ocular responder, however large, and
masking it as a voluntary closure would hide severe synkinesis.
"""
from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._util.files import read_regular_text
from ..config import (
    BLINK_MASK_PAD_S,
    BLINK_MAX_S,
    EVENT_MIN_GAP_S,
    EYE_CLOSURE_MIN,
    PUCKER_MIN_NARROWING,
    PUCKER_MIN_S,
    RESPONSE_MIN_OVERLAP,
    SMILE_MIN_EXCURSION,
    SMILE_MIN_S,
)
from ..errors import InputError
from ..measure.signals import EYE_UNIT, IOD_UNIT, MOUTH_WIDTH_UNIT, Signals
from .series import finite_mean, hysteresis_runs, merge_runs, peak_index, span_mask, thresholds

EVENT_KINDS = ("blink", "eye_closure", "smile", "pucker")
_ALIASES = {"close": "eye_closure", "closure": "eye_closure", "eye_closure": "eye_closure", "blink": "blink",
            "smile": "smile", "pucker": "pucker", "brow": "brow_raise", "brow_raise": "brow_raise",
            "gentle_eye_closure": "gentle_eye_closure", "gentle_close": "gentle_eye_closure",
            "tight_eye_closure": "tight_eye_closure", "tight_close": "tight_eye_closure", "snarl": "snarl"}
# What a segment of a clinical movement (synkan.grade.movements) is to the two
# coupling directions: a closure of either kind is an eye closure; a brow
# raise and a snarl drive neither (the movements stage measures them).
_EVENT_OF = {"gentle_eye_closure": "eye_closure", "tight_eye_closure": "eye_closure", "brow_raise": None, "snarl": None}
COLUMNS = ["kind", "start_s", "end_s", "duration_s", "peak_s", "peak", "peak_unit", "source"]
# ``peak`` is the driver's value, in that driver's unit: eye closure for the eyes, corner excursion for a
# smile, mouth narrowing for a pucker.
PEAK_UNIT = {"blink": EYE_UNIT, "eye_closure": EYE_UNIT, "smile": IOD_UNIT, "pucker": MOUTH_WIDTH_UNIT}
UNITS = {"start_s": "s", "end_s": "s", "duration_s": "s", "peak_s": "s", "peak": "see peak_unit"}
# A user protocol names a few dozen movements; the bounds keep a pasted file's worth of text from
# becoming a 200 KB error line or a quadratic overlap check.
SEGMENT_FILE_SUFFIXES = (".csv", ".json")
MAX_SEGMENTS, MAX_SEGMENTS_TEXT, MAX_SEGMENTS_FILE_BYTES = 1000, 50_000, 1_000_000
MIN_BLINK_S = 0.05  # shorter eye "events" are tracking glitches


@dataclass(frozen=True)
class Events:
    """Detected or user-given events.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per event: ``kind``, ``start_s``, ``end_s``, ``duration_s``,
        ``peak_s``, ``peak`` (driver value at its peak), ``peak_unit``
        (:data:`PEAK_UNIT`: the eye closure's unit for blinks and closures,
        IOD for smiles, mouth width for puckers) and ``source`` (``auto`` or
        ``user``); ``attrs["units"]`` names the numeric columns' units.
    info : dict
        Thresholds used per driver signal.
    """

    table: pd.DataFrame
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.table.attrs["units"] = dict(UNITS)

    def of(self, *kinds: str) -> pd.DataFrame:
        """Rows of the given kinds."""
        return self.table[self.table["kind"].isin(kinds)]

    def counts(self) -> dict[str, int]:
        """Number of events per kind (all kinds present, zero if none)."""
        return {k: int((self.table["kind"] == k).sum()) for k in EVENT_KINDS}



def eye_driver(signals: Signals) -> np.ndarray:
    """Bilateral eye closure: the mean of both sides' ``eye_closure``."""
    return finite_mean(np.vstack([signals["eye_closure_r"], signals["eye_closure_l"]]), axis=0)


def mouth_driver(signals: Signals) -> np.ndarray:
    """Bilateral mouth movement: the mean of both corners' excursion (smile or pucker)."""
    return finite_mean(np.vstack([signals["mouth_excursion_r"], signals["mouth_excursion_l"]]), axis=0)



def _rows(kind: str, runs: list[tuple[int, int]], t: np.ndarray, x: np.ndarray, source: str = "auto",
          avoid: np.ndarray | None = None) -> list[dict]:
    """Event rows of index runs; each peak is the largest ``x`` in its run off the ``avoid`` frames."""
    rows = []
    for a, b in runs:
        peak = peak_index(x, a, b, avoid)
        rows.append(dict(kind=kind, start_s=float(t[a]), end_s=float(t[b - 1]), duration_s=float(t[b - 1] - t[a]),
                         peak_s=float(t[peak]), peak=float(x[peak]), peak_unit=PEAK_UNIT[kind],
                         source=source))
    return rows


def blink_frames(t: np.ndarray, table: pd.DataFrame) -> np.ndarray:
    """Frames of ``table``'s blinks, padded by :data:`~synkan.config.BLINK_MASK_PAD_S` (the lids' run-up).

    No movement's peak frame is chosen among them (see :func:`~synkan.grade.series.peak_index`).
    """
    return span_mask(t, table[table["kind"] == "blink"], BLINK_MASK_PAD_S)


def _overlap_s(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def responses(table: pd.DataFrame) -> np.ndarray:
    """Which detected events are another event's involuntary response, not voluntary movements.

    Without a protocol, the movements alone must say which one the patient
    made on purpose. The rules, in this order:

    1. A detected smile or pucker lying entirely within an eye closure (it
       starts after the closure starts and ends before it ends) is that
       closure's ocular-oral response: the mouth pulled while the eyes were
       shut. The closure stays voluntary, and the mouth movement is neither
       an oral-ocular driver nor an ocular-oral confound.
    2. A detected eye closure that overlaps the remaining (voluntary) smiles
       and puckers for more than :data:`~synkan.config.RESPONSE_MIN_OVERLAP`
       of its duration is their oral-ocular response (a synkinetic eye
       shutting, or a healthy laughing squint): it is neither an ocular-oral
       driver nor an oral-ocular confound.

    When a closure and a mouth movement span the same frames, rule 2 wins:
    the oral-ocular pattern is by far the commoner, and a protocol segment
    settles the rare opposite case. User-given events (``source == "user"``)
    are voluntary by definition and never dropped; blinks are never
    responses (they are removed from the responder separately).

    Parameters
    ----------
    table : pandas.DataFrame
        Events, with the columns of :attr:`Events.table`.

    Returns
    -------
    (len(table),) bool array
        True for rows to drop.

    Examples
    --------
    >>> rows = pd.DataFrame({"kind": ["smile", "eye_closure", "eye_closure", "smile"],
    ...                      "start_s": [2.0, 2.1, 7.0, 7.2], "end_s": [3.5, 3.4, 9.0, 8.0],
    ...                      "source": "auto"})
    >>> responses(rows).tolist()
    [False, True, False, True]
    """
    kind, auto = table["kind"].to_numpy(), table["source"].to_numpy() == "auto"
    start, end = table["start_s"].to_numpy(float), table["end_s"].to_numpy(float)
    closure, mouth = kind == "eye_closure", np.isin(kind, ("smile", "pucker"))
    # [i, j]: row i lies strictly within row j; and the time rows i and j share.
    within = (start[:, None] > start[None, :]) & (end[:, None] < end[None, :])
    overlap = np.clip(np.minimum(end[:, None], end[None, :]) - np.maximum(start[:, None], start[None, :]), 0.0, None)
    mouth_response = auto & mouth & (within & closure[None, :]).any(axis=1)
    voluntary_mouth = mouth & ~mouth_response
    closure_response = auto & closure & (overlap[:, voluntary_mouth].sum(axis=1) > RESPONSE_MIN_OVERLAP * (end - start))
    return mouth_response | closure_response


def _voluntary(table: pd.DataFrame, info: dict) -> Events:
    """Events from a table: sorted by start, involuntary responses dropped."""
    table = table.sort_values("start_s", kind="stable").reset_index(drop=True)
    return Events(table[~responses(table)].reset_index(drop=True), info)


def events_find(signals: Signals) -> Events:
    """Detect blinks, voluntary eye closures, smiles and puckers in a video's signals.

    Parameters
    ----------
    signals : Signals

    Returns
    -------
    Events
        Voluntary movements only: an eye closure during a smile is the
        smile's response, not an event (see :func:`responses`).

    Examples
    --------
    >>> ev = events_find(sig)  # doctest: +SKIP
    >>> ev.counts()  # doctest: +SKIP
    {'blink': 3, 'eye_closure': 2, 'smile': 3, 'pucker': 0}
    """
    return _voluntary(*_detect(signals))


def _detect(signals: Signals) -> tuple[pd.DataFrame, dict]:
    """Every movement found, voluntary or not, and the thresholds used."""
    t = signals.t
    ok = signals.data["pose_ok"].to_numpy()
    eye = np.where(ok, eye_driver(signals), np.nan)
    mouth = np.where(ok, mouth_driver(signals), np.nan)
    narrowing = np.where(ok, signals["mouth_narrowing"], np.nan)
    info = {}
    rows: list[dict] = []

    hi, lo = thresholds(eye, EYE_CLOSURE_MIN)
    info["eye"] = {"high": hi, "low": lo}
    for a, b in merge_runs(hysteresis_runs(eye, hi, lo), t, EVENT_MIN_GAP_S):
        duration = t[b - 1] - t[a]
        if duration >= MIN_BLINK_S or b - a >= 2:
            rows += _rows("blink" if duration < BLINK_MAX_S else "eye_closure", [(a, b)], t, eye)
    blinking = blink_frames(t, pd.DataFrame(rows, columns=COLUMNS))

    hi, lo = thresholds(narrowing, PUCKER_MIN_NARROWING)
    info["pucker"] = {"high": hi, "low": lo}
    puckers = [(a, b) for a, b in merge_runs(hysteresis_runs(narrowing, hi, lo), t, EVENT_MIN_GAP_S) if t[b - 1] - t[a] >= PUCKER_MIN_S]
    rows += _rows("pucker", puckers, t, narrowing, avoid=blinking)

    # One definition of a pucker for every stage: a pucker's frames are never
    # a smile's (the corners move in both; a pucker narrows the mouth, a smile widens it).
    for a, b in puckers:
        mouth[a:b] = np.nan
    hi, lo = thresholds(mouth, SMILE_MIN_EXCURSION)
    info["smile"] = {"high": hi, "low": lo}
    for a, b in merge_runs(hysteresis_runs(mouth, hi, lo), t, EVENT_MIN_GAP_S):
        if t[b - 1] - t[a] >= SMILE_MIN_S and not finite_mean(narrowing[a:b]) > 0:
            rows += _rows("smile", [(a, b)], t, mouth, avoid=blinking)
    return pd.DataFrame(rows, columns=COLUMNS), info


def _inline_record(part: str) -> tuple[str, ...]:
    """``"smile:2-5"`` as ``("smile", "2", "5")``; a part without ``:`` as itself alone."""
    kind, colon, span = part.partition(":")
    return (kind, *span.split("-", 1)) if colon else (kind,)


def _segment_records(spec: str) -> list:
    """The raw ``(kind, start, end)`` of a segments file (``*.csv``, ``*.json``) or of inline text."""
    if Path(spec).suffix.lower() not in SEGMENT_FILE_SUFFIXES:
        if len(spec) > MAX_SEGMENTS_TEXT:
            raise InputError(f"segments: {len(spec)} characters of text (at most {MAX_SEGMENTS_TEXT})")
        return [_inline_record(part) for part in filter(None, (p.strip() for p in spec.split(",")))]
    text = read_regular_text(spec, MAX_SEGMENTS_FILE_BYTES, "segments file")
    if spec.lower().endswith(".json"):
        records = json.loads(text)
        return [(r["kind"], r["start_s"], r["end_s"]) for r in records]
    frame = pd.read_csv(io.StringIO(text))
    return list(frame[["kind", "start_s", "end_s"]].itertuples(index=False, name=None))


def _check_segments(items: list[tuple[str, float, float]]) -> None:
    """Refuse too many segments, and overlapping segments of different kinds (which would one be?)."""
    if len(items) > MAX_SEGMENTS:
        raise ValueError(f"{len(items)} segments (at most {MAX_SEGMENTS})")
    ordered = sorted(items, key=lambda s: s[1])
    for (k0, s0, e0), (k1, s1, e1) in zip(ordered, ordered[1:]):
        if s1 < e0 and k0 != k1:
            raise ValueError(f"{k0}:{s0:g}-{e0:g} and {k1}:{s1:g}-{e1:g} overlap")


def parse_segments(spec: str | Path) -> list[tuple[str, float, float]]:
    """Parse a user protocol into ``(kind, start_s, end_s)`` triples.

    Parameters
    ----------
    spec : str or Path
        ``"smile:2.0-5.5,close:7-10"``, or (when it ends in ``.csv`` or
        ``.json``, and only then) the path of a CSV file with columns
        ``kind,start_s,end_s`` or a JSON list of such objects. Times are
        finite seconds; segments of different kinds may not overlap.

    Examples
    --------
    >>> parse_segments("smile:2-5.5,close:7-9")
    [('smile', 2.0, 5.5), ('eye_closure', 7.0, 9.0)]
    """
    text = str(spec)
    items: list[tuple[str, float, float]] = []
    try:
        for record in _segment_records(text):
            if len(record) != 3:
                raise ValueError(f"{str(record[0])[:40]!r} is not KIND:START-END")
            kind = _ALIASES.get(str(record[0]).strip().lower())
            start, end = float(record[1]), float(record[2])
            if kind is None:
                raise ValueError(f"unknown kind {str(record[0])[:40]!r} (use {', '.join(sorted(_ALIASES))})")
            if not (math.isfinite(start) and math.isfinite(end) and 0 <= start < end):
                raise ValueError(f"start must be >= 0 and before a finite end: {start}-{end}")
            items.append((kind, start, end))
        _check_segments(items)
    except InputError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, RecursionError, pd.errors.ParserError) as exc:
        raise InputError(f"bad segments {text[:60]!r}{'...' if len(text) > 60 else ''}: {str(exc)[:200]}; "
                         "expected e.g. \"smile:2-5,close:7-9\"") from None
    return items


def events_process(signals: Signals, segments: str | Path | None = None) -> Events:
    """Detect events, let a user protocol override detection within its spans, keep the voluntary ones.

    Detected events overlapping a user span are replaced by the user's; which
    detected events are responses is decided after that, so a user segment
    such as ``close:7-9`` is voluntary even where the mouth also moves.

    Parameters
    ----------
    signals : Signals
    segments : str or Path, optional
        See :func:`parse_segments`.

    Returns
    -------
    Events
    """
    found, info = _detect(signals)
    if not segments:
        return _voluntary(found, info)
    spans = parse_segments(segments)
    t = signals.t
    drivers = {"blink": eye_driver(signals), "eye_closure": eye_driver(signals), "smile": mouth_driver(signals),
               "pucker": signals["mouth_narrowing"]}
    keep = [not any(_overlap_s(r.start_s, r.end_s, s0, s1) > 0 for _, s0, s1 in spans) for r in found.itertuples()]
    rows = found[keep].to_dict("records")
    for kind, s0, s1 in spans:
        inside = np.flatnonzero((t >= s0) & (t <= s1))
        if inside.size == 0:
            raise InputError(f"segment {kind}:{s0}-{s1} lies outside the video (0-{t[-1]:.2f} s)")
        kind = _EVENT_OF.get(kind, kind)
        if kind is not None:
            avoid = None if kind in ("blink", "eye_closure") else blink_frames(t, found)
            rows += _rows(kind, [(int(inside[0]), int(inside[-1]) + 1)], t, drivers[kind], "user", avoid)
    return _voluntary(pd.DataFrame(rows, columns=COLUMNS), {**info, "segments": str(segments)})
