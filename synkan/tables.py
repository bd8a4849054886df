"""Tidy tables of an analysis: scores in long format with their units, landmarks one row per frame.

Units of the scores (the ``unit`` column of :func:`scores_table`, and
``read_summary(...).attrs["units"]``):

``involuntary_pct``
    Oral-ocular: the eye's closure at the smiles' peaks, in % of its rest
    opening. Ocular-oral: the mouth corner's lift at the eye closures'
    peaks, in % of the inter-ocular distance (IOD).
``asymmetry_pp``, ``asymmetry_se_pp``, ``healthy_max_pp``
    The affected side minus the other side, in percentage points of those
    same units.
``r``, ``lag_s``, ``gain``
    Pearson's r at the peak lag (no unit), the lag in seconds (positive: the
    responder follows; ``asymmetry_r`` and ``asymmetry_lag_s``: the same for
    the affected side minus the other), and the least-squares slope of responder on driver
    (oral-ocular: eye closure per IOD of mouth excursion; ocular-oral: IOD
    of corner lift per unit of bilateral eye closure).

The signals behind them are fractions (eye closure: 0 at rest, 1 shut)
and inter-ocular distances; see :mod:`synkan.measure.signals`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # the tracking module imports MediaPipe; only its type is needed here
    from .measure.tracking import Track

DIRECTIONS = ("oral_ocular", "ocular_oral")
SIDES = ("right", "left")
SIDE_MEASURES = ("r", "lag_s", "gain", "involuntary_pct", "n_events")
DIRECTION_MEASURES = ("asymmetry_pp", "asymmetry_se_pp", "asymmetry_r", "asymmetry_lag_s", "healthy_max_pp", "grade")
SCORE_COLUMNS = ("direction", "side", "measure", "value", "unit")

_OF = {"oral_ocular": "rest eye opening", "ocular_oral": "inter-ocular distance"}
_GAIN = {"oral_ocular": "eye closure per IOD of mouth excursion",
         "ocular_oral": "IOD of corner lift per unit of eye closure"}
_FIXED_UNITS = {"r": "Pearson r", "lag_s": "s", "asymmetry_r": "Pearson r", "asymmetry_lag_s": "s", "n_events": "count",
                "grade": "grade 0-3 (heuristic)",
                "eface_ocular_synkinesis": "eFACE score (100 = none)"}


def unit(direction: str | None, measure: str) -> str:
    """The unit of one score of report.json (``direction`` None for ``eface_ocular_synkinesis``).

    Examples
    --------
    >>> unit("oral_ocular", "involuntary_pct")
    '% of rest eye opening'
    >>> unit("ocular_oral", "asymmetry_pp")
    'pp of inter-ocular distance'
    >>> unit("oral_ocular", "lag_s")
    's'
    """
    if measure in _FIXED_UNITS:
        return _FIXED_UNITS[measure]
    if measure == "gain":
        return _GAIN[direction]
    if measure == "involuntary_pct":
        return f"% of {_OF[direction]}"
    if measure.endswith("_pp"):
        return f"pp of {_OF[direction]}"
    raise KeyError(f"no unit for {direction} {measure}")


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else np.nan


def scores_table(scores: dict) -> pd.DataFrame:
    """report.json's ``scores`` in long format: one row per direction, side and measure.

    Parameters
    ----------
    scores : dict
        ``Analysis.scores.scores`` or ``report["scores"]``.

    Returns
    -------
    DataFrame
        Columns ``direction, side, measure, value, unit``. ``side`` is the
        subject's ``right`` or ``left``, or None for a measure of the
        direction as a whole (``asymmetry_pp`` is the affected side minus the
        other). A score that could not be computed is NaN (its reason is in
        report.json's ``warnings``). ``attrs["affected_side"]`` maps each
        direction to its affected side.

    Examples
    --------
    >>> table = scores_table({"oral_ocular": {"right": {"r": 0.9, "involuntary_pct": 30.0},
    ...                                        "left": {"r": 0.2}, "affected_side": "right", "asymmetry_pp": 21.0}})
    >>> oo = table[(table.direction == "oral_ocular") & (table.measure == "involuntary_pct")]
    >>> oo[["side", "value", "unit"]].values.tolist()
    [['right', 30.0, '% of rest eye opening'], ['left', nan, '% of rest eye opening']]
    """
    rows = []
    for d in DIRECTIONS:
        entry = scores.get(d) or {}
        for side in SIDES:
            values = entry.get(side) or {}
            rows += [(d, side, m, _number(values.get(m)), unit(d, m)) for m in SIDE_MEASURES]
        rows += [(d, None, m, _number(entry.get(m)), unit(d, m)) for m in DIRECTION_MEASURES]
    rows.append(("oral_ocular", None, "eface_ocular_synkinesis", _number(scores.get("eface_ocular_synkinesis")),
                 unit(None, "eface_ocular_synkinesis")))
    table = pd.DataFrame(rows, columns=list(SCORE_COLUMNS))
    table.attrs["affected_side"] = {d: (scores.get(d) or {}).get("affected_side") for d in DIRECTIONS}
    return table


def landmarks_table(track: Track) -> pd.DataFrame:
    """Every frame's 478 landmarks and 52 blendshapes, one row per frame (OpenFace's layout).

    Parameters
    ----------
    track : Track

    Returns
    -------
    DataFrame
        ``frame`` (index of the frame in the video file), ``face_id`` (0: the
        one patient synkan follows), ``timestamp`` (decoder time, s),
        ``success`` (1 when the patient's face was found; its landmarks are
        NaN otherwise), ``n_faces`` (faces in view at the latest count), then
        ``x_0 … x_477``, ``y_0 … y_477``, ``z_0 … z_477`` (pixels of the
        upright original frame; z on the x scale, negative towards the
        camera) and one column per blendshape under MediaPipe's name (0-1).
        MediaPipe's Face Landmarker reports no per-frame confidence, so
        there is no ``confidence`` column. ``attrs["units"]`` names each
        column's unit.

    Examples
    --------
    >>> table = synkan.load("demo_out").landmarks_table()  # doctest: +SKIP
    >>> table[["frame", "timestamp", "success", "x_33", "y_33", "eyeBlinkLeft"]].head()  # doctest: +SKIP
    """
    n_points = track.landmarks.shape[1]
    head = pd.DataFrame({"frame": track.frame_index.astype(np.int64), "face_id": np.zeros(len(track), np.int64),
                         "timestamp": track.t_s.astype(float), "success": track.valid.astype(np.int8),
                         "n_faces": track.n_faces.astype(np.int8)})
    coords = track.landmarks.transpose(0, 2, 1).reshape(len(track), -1)  # x_0.. x_n, y_0.., z_0..
    names = [f"{axis}_{i}" for axis in "xyz" for i in range(n_points)]
    table = pd.concat([head, pd.DataFrame(coords, columns=names),
                       pd.DataFrame(track.blendshapes, columns=list(track.blendshape_names))], axis=1)
    table.attrs["units"] = {"frame": "index", "face_id": "id", "timestamp": "s", "success": "0/1", "n_faces": "count",
                            **{c: "px" for c in names}, **{c: "score 0-1" for c in track.blendshape_names}}
    return table
