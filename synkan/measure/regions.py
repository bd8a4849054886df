"""Facial regions per side, and their conversion to millimetres through the iris.

Six regions are measured on each side, each as a signal of
:class:`~synkan.measure.signals.Signals` that is 0 at rest and positive in its own
muscle's direction of pull:

========== ======================== =============================================
region     column                   what moves
========== ======================== =============================================
brow       ``brow_raise_r/l``       brow height above the eye (frontalis), IOD
eye        ``eye_closure_r/l``      lid movement, share of the rest opening
midface    ``cheek_raise_r/l``      malar / nasolabial skin upward (zygomatici), IOD
mouth      ``mouth_vertical_r/l``   mouth-corner lift, IOD
upper_lip  ``upper_lip_raise_r/l``  upper lip beside the philtrum upward, IOD
chin       ``chin_raise_r/l``       chin pad upward (mentalis), IOD
========== ======================== =============================================

Tables, figures and the report name them by :data:`REGION_LABELS` (``midface``
is the cheek, ``mouth`` the mouth corner); report.json keeps the keys above.

``nose_raise_r/l`` (nasal ala, the snarl's nose wrinkle) and ``lip_gap``
(mouth opening, an open-mouth smile) help tell movements apart.

The cheek and chin are also followed in the image (:mod:`synkan.measure.texture`):
the mesh alone sees a fraction of their movement. Like every signal these are pose-free (measured after the
similarity
alignment of stable landmarks) and scale-free (inter-ocular distances, IOD).
MediaPipe also locates the irises, whose visible diameter varies little
between adults (:data:`~synkan.config.IRIS_DIAMETER_MM`): the ratio of IOD to
iris diameter at rest turns any IOD value into millimetres, and an eye
closure into millimetres of fissure change through the rest opening.
"""
from __future__ import annotations

import numpy as np

from ..config import IRIS_DIAMETER_MM
from . import texture
from .mesh import (
    CHEEK_L,
    CHEEK_R,
    CHIN_L,
    CHIN_R,
    EYE_L,
    EYE_R,
    IRIS_EDGES_L,
    IRIS_EDGES_R,
    LIP_INNER,
    NOSE_ALA_L,
    NOSE_ALA_R,
    UPPER_LIP_L,
    UPPER_LIP_R,
)

REGIONS = ("brow", "eye", "midface", "mouth", "upper_lip", "chin")
REGION_COLUMN = {"brow": "brow_raise", "eye": "eye_closure", "midface": "cheek_raise", "mouth": "mouth_vertical",
                 "upper_lip": "upper_lip_raise", "chin": "chin_raise"}
# What tables, figures and the report call each region: the one place for their display names
# (report.json and Matrix keep the stable keys of REGIONS; Matrix's tables carry these in ``region_label``).
REGION_LABELS = {"brow": "brow", "eye": "eye", "midface": "cheek", "mouth": "mouth corner",
                 "upper_lip": "upper lip", "chin": "chin"}
# The new displacement signals: name -> (right points, left points).
RAISE_POINTS = {"cheek_raise": (CHEEK_R, CHEEK_L), "upper_lip_raise": (UPPER_LIP_R, UPPER_LIP_L),
                "chin_raise": (CHIN_R, CHIN_L), "nose_raise": (NOSE_ALA_R, NOSE_ALA_L)}
# Lid pairs (upper, lower) of the mesh's eye points: the fissure height.
_LID_PAIRS = {"r": ((EYE_R[1], EYE_R[5]), (EYE_R[2], EYE_R[4])), "l": ((EYE_L[1], EYE_L[5]), (EYE_L[2], EYE_L[4]))}
_IRIS = {"r": IRIS_EDGES_R, "l": IRIS_EDGES_L}
POINTS = tuple(sorted({p for pair in RAISE_POINTS.values() for side in pair for p in side}
                      | set(LIP_INNER) | set(IRIS_EDGES_R) | set(IRIS_EDGES_L)))


def region_signals(xy: np.ndarray, rest_xy: np.ndarray, rest: np.ndarray, iod: float, down: np.ndarray,
                   pos: dict[int, int], pixel_raise: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """The region signals (IOD, upward +) and the millimetre calibration of one video.

    Parameters
    ----------
    xy : (N, P, 2) array
        Aligned landmarks (a subset; ``pos`` maps a mesh index to its column).
    rest_xy : (P, 2) array
        The rest shape in the same coordinates.
    rest : (N,) bool
        Rest frames.
    iod : float
        Inter-ocular distance of the rest shape, same units as ``xy``.
    down : (2,) array
        Unit vector pointing down the face.
    pos : dict
        Mesh index -> column of ``xy``.
    pixel_raise : (N, 4) array, optional
        The texture's upward shift in the cheek and chin patches, in IOD
        (:func:`synkan.measure.texture.pixel_raise_iod`, NaN where the match
        failed): the skin movement the mesh misses, added to its cheek and
        chin raise.

    Returns
    -------
    columns : dict of (N,) arrays
        ``cheek_raise_r/l``, ``upper_lip_raise_r/l``, ``chin_raise_r/l``,
        ``nose_raise_r/l`` and ``lip_gap`` (mouth opening beyond rest).
    info : dict
        ``iris_diameter_iod`` and ``mm_per_iod`` (None without irises), and
        ``eye_fissure_rest_iod_r/l`` (the rest lid opening).
    """
    cols: dict[str, np.ndarray] = {}
    centroid = lambda pts, idx: pts[..., [pos[i] for i in idx], :].mean(axis=-2)  # noqa: E731
    for name, pair in RAISE_POINTS.items():
        for side, points in zip("rl", pair):
            cols[f"{name}_{side}"] = -((centroid(xy, points) - centroid(rest_xy, points)) @ down) / iod
    if pixel_raise is not None:
        for name, up in zip(texture.RAISE_COLUMNS, pixel_raise.T):
            cols[name] = cols[name] + np.where(np.isfinite(up), up, 0.0)  # a failed match keeps the mesh's value
    upper, lower = (xy[:, pos[i]] for i in LIP_INNER)
    gap = np.linalg.norm(lower - upper, axis=1) / iod
    cols["lip_gap"] = gap - float(np.nanmedian(gap[rest]))
    info: dict = {}
    for side in "rl":
        opening = np.mean([np.linalg.norm(xy[:, pos[a]] - xy[:, pos[b]], axis=1) for a, b in _LID_PAIRS[side]], axis=0)
        info[f"eye_fissure_rest_iod_{side}"] = float(np.nanmedian(opening[rest])) / iod
    diameters = [np.linalg.norm(xy[rest][:, pos[a]] - xy[rest][:, pos[b]], axis=1) for a, b in _IRIS.values()]
    iris = float(np.nanmedian(np.concatenate(diameters))) / iod
    ok = np.isfinite(iris) and iris > 0
    info["iris_diameter_iod"] = iris if ok else None
    info["mm_per_iod"] = IRIS_DIAMETER_MM / iris if ok else None
    return cols, info


def to_mm(region: str, value: float | np.ndarray | None, side: str, info: dict) -> float | np.ndarray | None:
    """A region's value in millimetres on ``side`` (``"r"``/``"l"`` or ``"right"``/``"left"``).

    IOD values are scaled by ``mm_per_iod``; an eye closure (a share of the
    rest opening) by that side's rest fissure in millimetres.

    Examples
    --------
    >>> info = {"mm_per_iod": 60.0, "eye_fissure_rest_iod_r": 0.15}
    >>> to_mm("midface", 0.05, "r", info), round(to_mm("eye", 0.1, "right", info), 2)
    (3.0, 0.9)
    """
    mm_per_iod = info.get("mm_per_iod")
    if value is None or mm_per_iod is None:
        return None
    if region == "eye":
        return value * info[f"eye_fissure_rest_iod_{side[0]}"] * mm_per_iod
    return value * mm_per_iod
