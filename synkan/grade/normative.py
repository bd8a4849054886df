"""The healthy reference: how much the two sides differ, per movement, in people without synkinesis.

Built from healthy people's recordings (:func:`build_normative`), shipped as
``synkan/data/normative.json`` with its provenance, and read back by
:func:`load_normative`. For each direction and driver movement it holds:

* ``limit``: the healthy limit of a person's true side difference, the
  :data:`~synkan.config.NORMATIVE_PERCENTILE` th percentile of its absolute
  value, after removing each recording's own noise from the people's
  per-recording medians (:func:`build_normative`); never below the
  direction's :data:`~synkan.config.LIMIT_FLOOR`;
* ``event_sd``: a typical healthy person's between-event SD within one
  recording, the median over people of their own (the prior of
  :func:`synkan.grade.detection.pooled_sd`);
* ``people`` and ``events`` behind them, and the per-person medians themselves.

A movement made by fewer than :data:`~synkan.config.NORMATIVE_MIN_PEOPLE`
people takes its direction's values, pooled over all its movements. For a
leave-one-person-out check, build a reference without the person tested and
pass its path as ``Settings(normative=...)``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .._util.files import read_regular_text
from ..config import LIMIT_FLOOR, NORMATIVE_MIN_PEOPLE, NORMATIVE_PERCENTILE
from ..errors import InputError

NORMATIVE_SCHEMA = "synkan.normative/1"
SHIPPED = Path(__file__).resolve().parents[1] / "data" / "normative.json"
MAX_NORMATIVE_BYTES = 5_000_000
CHI2_1_MEDIAN = 0.4549  # median of a chi-square variable with one degree of freedom


@dataclass(frozen=True)
class Reference:
    """One movement's healthy reference (in its direction's unit)."""

    limit: float
    event_sd: float
    people: int
    source: str  # "movement", or "direction" when pooled over the direction's movements


def build_normative(differences: dict[str, dict[str, dict[str, list[float]]]], provenance: dict,
                    percentile: float = NORMATIVE_PERCENTILE) -> dict:
    """The normative record from healthy people's per-event side differences.

    Parameters
    ----------
    differences : dict
        ``{direction: {movement: {person: [per-event side differences]}}}``,
        left minus right, in the direction's unit.
    provenance : dict
        Where the recordings come from (names, checksums, licences, how made).

    Examples
    --------
    >>> people = {f"p{i}": [float(i - 5), float(i - 4)] for i in range(10)}
    >>> ref = build_normative({"oral_ocular": {"smile": people}}, {"videos": []})
    >>> m = ref["movements"]["oral_ocular"]["smile"]
    >>> m["people"], round(m["limit"], 2), round(m["event_sd"], 3)
    (10, 7.2, 0.707)
    """
    out = {"schema": NORMATIVE_SCHEMA, "percentile": percentile, "provenance": provenance, "movements": {}}
    for direction, movements in differences.items():
        out["movements"][direction] = {kind: _summary(people, percentile) for kind, people in movements.items()
                                       if people}
        pooled: dict[str, list[float]] = {}
        for kind, people in movements.items():
            for person, values in people.items():
                pooled.setdefault(f"{person}/{kind}", []).extend(values)
        out["movements"][direction]["all"] = _summary(pooled, percentile)
    return out


def _summary(people: dict[str, list[float]], percentile: float) -> dict:
    """One movement's healthy reference from each person's per-event side differences.

    A person's median mixes their true side difference with their
    recording's own noise (about ``event_sd / sqrt(n)``), which each
    recording's interval already covers (:mod:`synkan.grade.detection`); the
    limit describes the true differences only. Their spread ``tau`` follows
    by robust moments, ``tau^2 = median(median^2) / 0.455 - median(event_sd^2 / n)``,
    and the limit is the ``percentile`` th percentile of ``|difference|`` in a
    normal population of that spread.
    """
    from scipy.stats import norm

    medians = {p: float(np.median(v)) for p, v in people.items() if len(v)}
    counts = {p: len(v) for p, v in people.items() if len(v)}
    # Each person counts once: a typical person's between-event SD (the median
    # over people of their own variance), so one person repeating many
    # unusual events (grimaces during blinks) does not set everyone's prior.
    variances = [float(np.var(v, ddof=1)) for v in people.values() if len(v) >= 2]
    df = sum(len(v) - 1 for v in people.values() if len(v) >= 2)
    sd = math.sqrt(float(np.median(variances))) if variances else float("nan")
    # Robustly, so that one person's unusual recording does not set the limit:
    # median(m^2) of N(0, v) is 0.455 v (chi-square, 1 dof).
    tau2 = (float(np.median([m ** 2 for m in medians.values()])) / CHI2_1_MEDIAN
            - float(np.median([sd ** 2 / counts[p] for p in medians]))) if medians and df else float("nan")
    limit = float(norm.ppf(0.5 + percentile / 200.0)) * math.sqrt(max(tau2, 0.0)) if math.isfinite(tau2) else tau2
    return {"limit": limit, "true_sd": math.sqrt(max(tau2, 0.0)) if math.isfinite(tau2) else None,
            "event_sd": sd, "event_sd_df": df, "people": len(medians), "events": int(sum(counts.values())),
            "person_medians": medians, "person_events": counts}


@lru_cache(maxsize=8)
def _read(path: str) -> dict:
    text = read_regular_text(path, MAX_NORMATIVE_BYTES, what="normative reference")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise InputError(f"{path}: the normative reference is not JSON") from None
    if not isinstance(data, dict) or data.get("schema") != NORMATIVE_SCHEMA or not isinstance(data.get("movements"),
                                                                                               dict):
        raise InputError(f"{path}: not a synkan normative reference ({NORMATIVE_SCHEMA})")
    return data


def load_normative(path: str | Path | None = None) -> dict:
    """The normative record at ``path`` (default: the one shipped with synkan)."""
    return _read(str(Path(path) if path is not None else SHIPPED))


def reference(normative: dict, direction: str, movement: str) -> Reference:
    """The healthy reference of one movement, or its direction's pooled one when too few people made it.

    Raises
    ------
    InputError
        The record has neither (a damaged or foreign file).
    """
    entries = normative["movements"].get(direction, {})
    own, pooled = entries.get(movement), entries.get("all")
    for entry, source in ((own, "movement"), (pooled, "direction")):
        if (isinstance(entry, dict) and entry.get("people", 0) >= (NORMATIVE_MIN_PEOPLE if source == "movement" else 1)
                and _finite(entry.get("limit")) and _finite(entry.get("event_sd"))):
            limit = max(float(entry["limit"]), LIMIT_FLOOR[direction])
            return Reference(limit, float(entry["event_sd"]), int(entry["people"]), source)
    raise InputError(f"the normative reference has no usable entry for {direction} / {movement}")


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
