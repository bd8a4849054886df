"""The synthetic face's full responder movements in millimetres, so a coupling can be asked for in mm.

A pattern's gain ``k`` is in units of its responder's full movement, and the
full movements differ by region: a full lid closure is the whole fissure
(~9 mm), a full chin lift about 3 mm. The same ``k`` is therefore a severe
narrowing on the eye and a sub-visible lift on the chin. The scales grade
millimetres of side difference (:mod:`synkan.grade.scales`), so the accuracy suite
asks for each pattern's coupling in mm and converts it here, measuring the
rig exactly as synkan defines each region: the lid opening of the mesh's
lid pairs (:func:`synkan.measure.regions.to_mm`), and the upward displacement of the
region's points (their field on the affected side less its cross-talk onto
the other side, i.e. the side difference), all through the iris
(:data:`synkan.config.IRIS_DIAMETER_MM`).
"""
from __future__ import annotations

import numpy as np

from ..config import IRIS_DIAMETER_MM
from ..measure.mesh import CHEEK_L, CHEEK_R, CHIN_L, CHIN_R, EYE_R, IRIS_EDGES_L, IRIS_EDGES_R, MOUTH_CORNER
from .face import face_rig

_POINTS = {"cheek": (CHEEK_R, CHEEK_L), "chin": (CHIN_R, CHIN_L),
           "mouth": ((MOUTH_CORNER["right"],), (MOUTH_CORNER["left"],))}
_FIELD = {"cheek": "cheek", "chin": "chin", "mouth": "smile"}
# The mesh's lid pairs (upper, lower), as synkan.measure.regions measures the fissure.
_LIDS = ((EYE_R[1], EYE_R[5]), (EYE_R[2], EYE_R[4]))


def full_movement_mm(responder: str, size: int = 320) -> float:
    """One side's full movement of ``responder`` minus what it moves the other side, in iris millimetres.

    Parameters
    ----------
    responder : {"eye", "mouth", "cheek", "chin"}
        A :class:`~synkan.synth.case.Synkinesis` responder (``mouth``: the
        corner's lift by a full one-sided smile).
    size : int
        Frame size of the rig.

    Returns
    -------
    float
        Millimetres of side difference at gain 1 (the subject's right side;
        the rig is nearly symmetric).
    """
    rig = face_rig(size)
    lm = rig.landmarks
    iris_px = np.mean([np.linalg.norm(lm[a] - lm[b]) for a, b in (IRIS_EDGES_R, IRIS_EDGES_L)])
    mm_per_px = IRIS_DIAMETER_MM / float(iris_px)
    if responder == "eye":
        return float(np.mean([np.linalg.norm(lm[a] - lm[b]) for a, b in _LIDS])) * mm_per_px
    if responder not in _POINTS:
        raise ValueError(f"no full movement for responder {responder!r}")
    across = (lm[MOUTH_CORNER["left"]] - lm[MOUTH_CORNER["right"]])
    across = across / np.linalg.norm(across)
    up = np.array([across[1], -across[0]])
    field = rig.fields[f"{_FIELD[responder]}_r"]

    def lift_px(points: tuple[int, ...]) -> float:
        at = [field[int(round(lm[p][1])), int(round(lm[p][0]))] for p in points]
        return float(np.mean(at, axis=0) @ up)

    own, other = _POINTS[responder]
    return (lift_px(own) - lift_px(other)) * mm_per_px
