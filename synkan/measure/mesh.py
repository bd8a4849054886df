"""Every MediaPipe face-mesh landmark index synkan uses, in one place.

Indices are into MediaPipe's 478-point mesh (468 face points + 10 iris
points). Names are by the **subject's** anatomical side: the subject's right
(``_R``, ``"r"``, ``"right"``) is image-left in an unmirrored video; its eye
corners are 33 (outer) / 133 (inner) and its mouth corner is 61.
"""
from __future__ import annotations

import numpy as np

EYE_R = (33, 160, 158, 133, 153, 144)  # p0 outer, p1, p2 upper lid, p3 inner, p4, p5 lower lid
EYE_L = (362, 385, 387, 263, 373, 380)  # p0 inner, p1, p2 upper lid, p3 outer, p4, p5 lower lid
MOUTH_CORNER_R = 61
MOUTH_CORNER_L = 291
BROW_R = (70, 63, 105, 66, 107)
BROW_L = (300, 293, 334, 296, 336)
IRIS_R = 468  # iris centres (subject's right / left)
IRIS_L = 473
# Horizontal iris edges (subject's right / left iris), for millimetres.
IRIS_EDGES_R = (469, 471)
IRIS_EDGES_L = (474, 476)
# Facial regions, (subject's right, subject's left) points; each region's
# signal is the upward displacement of its points' centroid from rest.
CHEEK_R, CHEEK_L = (50, 101, 205), (280, 330, 425)  # malar eminence / nasolabial region (midface)
UPPER_LIP_R, UPPER_LIP_L = (39, 40), (269, 270)  # upper lip lateral to the philtrum (levator labii: snarl)
CHIN_R, CHIN_L = (201, 208), (421, 428)  # chin pad beside the midline (mentalis)
NOSE_ALA_R, NOSE_ALA_L = (64, 129), (294, 358)  # nasal ala (levator labii alaeque nasi: nose wrinkle)
LIP_INNER = (13, 14)  # inner upper / lower lip on the midline (mouth opening)
# Landmarks that move little with expression: forehead, nose bridge, temples.
# Head pose is removed by a similarity fit of these to the rest shape.
STABLE_POINTS = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 127, 356, 234, 454, 21, 251, 54, 284, 103, 332)
# Facial midline (no lip points), for hemiface mirroring.
EYE_POINTS = EYE_R + EYE_L  # the 12 eye-aperture points stored from mirrored passes
MIDLINE_POINTS = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 164, 152, 175, 199, 200)
# Contours. Lids run corner to corner: the right eye outer (33) to inner
# (133), the left eye inner (362) to outer (263), i.e. image-left to
# image-right for both.
UPPER_LID = {"r": (33, 246, 161, 160, 159, 158, 157, 173, 133), "l": (362, 398, 384, 385, 386, 387, 388, 466, 263)}
LOWER_LID = {"r": (33, 7, 163, 144, 145, 153, 154, 155, 133), "l": (362, 382, 381, 380, 374, 373, 390, 249, 263)}
# Closed eye outlines, for drawing.
EYE_CONTOUR = {
    "right": (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
    "left": (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466),
}
BROW_LOWER = {"right": (46, 53, 52, 65, 55), "left": (276, 283, 282, 295, 285)}
# Lips, closed outlines for drawing and upper/lower halves image-left to image-right.
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LIPS_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
LIP_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIP_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
LIP_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIP_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
MOUTH_CORNER = {"right": MOUTH_CORNER_R, "left": MOUTH_CORNER_L}


def eye_aspect_ratio(eye: np.ndarray) -> np.ndarray:
    """EAR = (|p1-p5| + |p2-p4|) / (2 |p0-p3|) over the last-but-one axis.

    Parameters
    ----------
    eye : (..., 6, D) array
        Points p0..p5 in the order of :data:`synkan.measure.mesh.EYE_R`.

    Examples
    --------
    >>> eye = np.array([[0, 0], [1, -1], [2, -1], [3, 0], [2, 1], [1, 1]], float)
    >>> float(eye_aspect_ratio(eye))
    0.6666666666666666
    """
    dist = lambda a, b: np.linalg.norm(eye[..., a, :] - eye[..., b, :], axis=-1)  # noqa: E731
    return (dist(1, 5) + dist(2, 4)) / (2.0 * dist(0, 3))


class MeshIndex:
    """The mesh indices the signals use, renumbered into a subset ``points`` of the landmarks.

    The signals need about 50 of the 478 landmarks; aligning only those keeps
    the stage fast and its memory a small multiple of the track's.
    """

    def __init__(self, points) -> None:
        self.points = tuple(points)
        self.pos = pos = {g: k for k, g in enumerate(points)}
        self.stable = tuple(pos[i] for i in STABLE_POINTS)
        self.eye_r, self.eye_l = tuple(pos[i] for i in EYE_R), tuple(pos[i] for i in EYE_L)
        self.brow_r, self.brow_l = tuple(pos[i] for i in BROW_R), tuple(pos[i] for i in BROW_L)
        self.mouth_r, self.mouth_l = pos[MOUTH_CORNER_R], pos[MOUTH_CORNER_L]
