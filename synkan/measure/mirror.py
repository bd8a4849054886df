"""Hemiface eye-band mirroring, so a one-sided eye narrowing stays one-sided.

MediaPipe's mesh has a symmetric prior: when one eye narrows it under-reads
it and leaks part of it onto the other eye. Here each side's eye region is
mirrored across the fitted facial midline, making a face whose two eyes are
both that side's eye; the landmarker then has no healthy eye to pull toward.
Only a horizontal band around the eyes is replaced (full-face mirroring
creates false asymmetry elsewhere), with soft edges.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..config import MIRROR_MAX_ABS_YAW_DEG, MIRROR_MAX_GAZE_EW, MIRROR_MAX_RESIDUAL_EW
from .landmarker import select_face
from .mesh import BROW_L, BROW_R, EYE_L, EYE_POINTS, EYE_R, IRIS_L, IRIS_R, MIDLINE_POINTS, eye_aspect_ratio

BAND_ABOVE_BROW_EW = 0.4  # band top, eye widths above the brows
BAND_BELOW_LID_EW = 0.9  # band bottom, eye widths below the lower lids...
BAND_FLOOR_POINT = 195  # ...but never below this nose point
BAND_FADE_EW = 0.25  # soft transition at the band's top and bottom
MIDLINE_FADE_EW = 0.1  # soft transition across the midline


@dataclass(frozen=True)
class Midline:
    """The facial midline in image pixels: ``point`` + s * ``direction`` (pointing down the face)."""

    point: np.ndarray
    direction: np.ndarray
    eye_width_px: float
    residual: float  # RMS distance of midline landmarks from the line, in eye widths


def eye_width_px(xy: np.ndarray) -> float:
    """Mean of both eyes' corner-to-corner widths, in pixels."""
    return float((np.linalg.norm(xy[EYE_R[0]] - xy[EYE_R[3]]) + np.linalg.norm(xy[EYE_L[0]] - xy[EYE_L[3]])) / 2)


def fit_midline(xy: np.ndarray) -> Midline:
    """Total-least-squares line through the midline landmarks of one face.

    Parameters
    ----------
    xy : (478, 2) array
        Landmark pixel coordinates of one frame.
    """
    points = xy[list(MIDLINE_POINTS)].astype(np.float64)
    center = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - center, full_matrices=False)
    direction = vt[0] if vt[0][1] >= 0 else -vt[0]
    normal = np.array([-direction[1], direction[0]])
    width = eye_width_px(xy)
    residual = float(np.sqrt(np.mean(((points - center) @ normal) ** 2)) / max(width, 1e-6))
    return Midline(center, direction, width, residual)


def reflection_matrix(midline: Midline) -> np.ndarray:
    """2x3 affine matrix reflecting image points across the midline."""
    d = midline.direction
    rotation = 2.0 * np.outer(d, d) - np.eye(2)
    return np.hstack([rotation, (midline.point - rotation @ midline.point)[:, None]])


def eye_band_composite(rgb: np.ndarray, xy: np.ndarray, midline: Midline, side: str) -> np.ndarray:
    """A frame whose eye band shows ``side``'s half of the face on both halves.

    Parameters
    ----------
    rgb : (H, W, 3) uint8
        The frame.
    xy : (478, 2) array
        The face's landmarks in this frame's pixels.
    midline : Midline
        From :func:`fit_midline`.
    side : {"right", "left"}
        The subject's side to keep; it is mirrored onto the other side.

    Returns
    -------
    (H, W, 3) uint8
        A copy of ``rgb`` with the eye band replaced.
    """
    ew = midline.eye_width_px
    d = midline.direction.astype(np.float64)
    n = np.array([d[1], -d[0]])  # points to image-right (the subject's left) when d points down
    rel = xy[:, :2].astype(np.float64) - midline.point
    along, across = rel @ d, rel @ n  # landmark positions down the face / towards image-right
    top = float(along[list(BROW_R + BROW_L)].min()) - BAND_ABOVE_BROW_EW * ew
    lower_lids = float(along[[EYE_R[4], EYE_R[5], EYE_L[4], EYE_L[5]]].max())
    bottom = min(lower_lids + BAND_BELOW_LID_EW * ew, float(along[BAND_FLOOR_POINT]))
    fade, mid_fade = BAND_FADE_EW * ew, MIDLINE_FADE_EW * ew
    # Replace the half opposite to the kept side: subject's left (across > 0) when keeping the right.
    sign = 1.0 if side == "right" else -1.0
    reach = float(np.max(sign * across)) + ew  # past the face's edge on the replaced side
    # Work only on the tight box where the weight is non-zero.
    h, w = rgb.shape[:2]
    corners = np.array([midline.point + s_ * d + sign * t_ * n
                        for s_ in (top - fade / 2, bottom + fade / 2) for t_ in (-mid_fade / 2, reach)])
    x0, y0 = np.clip(np.floor(corners.min(axis=0)).astype(int), 0, [w, h])
    x1, y1 = np.clip(np.ceil(corners.max(axis=0)).astype(int) + 1, 0, [w, h])
    out = rgb.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    # Box pixel -> frame pixel -> its reflection (a reflection is its own inverse);
    # source pixels may lie anywhere in the frame.
    box_to_frame = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
    sample_at = reflection_matrix(midline) @ box_to_frame
    reflected = cv2.warpAffine(rgb, sample_at, (int(x1 - x0), int(y1 - y0)), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)
    # s and t are affine in pixel position, so each is a row plus a column vector.
    cols = np.arange(x0, x1, dtype=np.float64) - midline.point[0]
    rows = np.arange(y0, y1, dtype=np.float64) - midline.point[1]
    s = (rows[:, None] * d[1] + cols[None, :] * d[0]).astype(np.float32)
    t = (rows[:, None] * n[1] + cols[None, :] * n[0]).astype(np.float32)
    band = np.minimum(np.clip((s - np.float32(top)) / np.float32(fade) + 0.5, 0, 1),
                      np.clip((np.float32(bottom) - s) / np.float32(fade) + 0.5, 0, 1))
    half = np.clip(t * np.float32(sign / mid_fade) + 0.5, 0, 1)
    weight = band * half
    roi = out[y0:y1, x0:x1]
    out[y0:y1, x0:x1] = cv2.blendLinear(reflected, np.ascontiguousarray(roi), weight, 1.0 - weight)
    return out


def gaze_offset(xy: np.ndarray) -> np.ndarray:
    """Horizontal iris position within each eye, in eye widths (0: centred between the corners).

    A mirrored eye looks the opposite way, so a composite of an eye that
    gazes sideways is cross- or wall-eyed: an implausible face that the
    landmarker reads with distorted lids. This measure gates mirroring.

    Parameters
    ----------
    xy : (..., 478, 2 or 3) array
        Landmark pixel coordinates (the iris centres 468 and 473 included).

    Returns
    -------
    (..., 2) array
        Subject's right and left eye; positive towards image-right.
    """
    out = []
    for eye, iris in ((EYE_R, IRIS_R), (EYE_L, IRIS_L)):
        a, b = xy[..., eye[0], :2].astype(np.float64), xy[..., eye[3], :2].astype(np.float64)  # image-left -> right
        axis = b - a
        width2 = np.maximum((axis ** 2).sum(axis=-1), 1e-12)
        out.append(((xy[..., iris, :2].astype(np.float64) - a) * axis).sum(axis=-1) / width2 - 0.5)
    return np.stack(out, axis=-1)


def mediapipe_yaw_deg(matrix: np.ndarray) -> np.ndarray:
    """Yaw of MediaPipe's facial transformation matrices (N, 4, 4), degrees (the tracker's mirror gate)."""
    return np.degrees(np.arcsin(np.clip(-matrix[:, 2, 0].astype(float), -1.0, 1.0)))


def mirror_closure(mirror_eyes: np.ndarray, mirror_valid: np.ndarray, mirror_residual: np.ndarray,
                   pose_matrix: np.ndarray, rest: np.ndarray, valid: np.ndarray, conjugate_gaze: np.ndarray
                   ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, dict[str, int]]:
    """Each eye's closure from its mirrored composite, and where the composites can be trusted.

    Parameters
    ----------
    mirror_eyes : (N, 2, 12, 3) array
        Per side, both eyes' six EAR points in that side's composite (a Track's ``mirror_eyes``).
    mirror_valid, mirror_residual : (N, 2) arrays
        Whether each composite had a face, and the fitted midline's residual (eye widths).
    pose_matrix : (N, 4, 4) array
        MediaPipe's transformation matrices (the tracker's yaw gate).
    rest, valid : (N,) bool
    conjugate_gaze : (N,) array
        Both eyes' mean horizontal gaze from rest, eye widths.

    Returns
    -------
    columns : ``eye_closure_mirror_r/l``
    extra : ``mirror_residual`` (per-frame QC)
    usable : (N,) bool, frames where both composites pass every gate
    gate : frames lost to each gate (yaw, no face in a composite, gaze, midline residual)
    """
    composites_ok = mirror_valid.all(axis=1)
    # Gaze gate: a mirrored eye looks the other way, so when the eyes turn
    # sideways together from their rest position (conjugate gaze c) both
    # composites are cross- or wall-eyed (their vergence is off by +/- c)
    # and their lids are misread; those frames use the plain pass. The
    # vergence part of the gaze survives mirroring and needs no gate.
    with np.errstate(invalid="ignore"):
        gaze_ok = conjugate_gaze <= MIRROR_MAX_GAZE_EW
        residual_ok = mirror_residual <= MIRROR_MAX_RESIDUAL_EW
    usable = composites_ok & gaze_ok & residual_ok
    n = len(EYE_R)
    columns = {}
    for k, side in enumerate(("r", "l")):
        eyes = mirror_eyes[:, k, :, :2].astype(float)
        # In a side's composite both eyes are that side's eye: average them.
        ear = (eye_aspect_ratio(eyes[:, :n]) + eye_aspect_ratio(eyes[:, n:])) / 2
        ok = mirror_valid[:, k]
        base = rest & ok & usable
        ear_rest = float(np.nanmedian(ear[base])) if base.any() else np.nan
        columns[f"eye_closure_mirror_{side}"] = np.where(ok, 1.0 - ear / ear_rest, np.nan)
    yaw_gated = valid & (np.abs(mediapipe_yaw_deg(pose_matrix)) > MIRROR_MAX_ABS_YAW_DEG)
    gate = {"yaw": int(yaw_gated.sum()),
            "no_face_in_composite": int((valid & ~yaw_gated & ~composites_ok).sum()),
            "gaze": int((valid & composites_ok & ~gaze_ok).sum()),
            "midline_residual": int((valid & composites_ok & gaze_ok & ~residual_ok).sum())}
    return columns, {"mirror_residual": mirror_residual.astype(float)}, usable, gate


def landmark_composites(frame, face: np.ndarray, matrix: np.ndarray, landmarkers: list, center: np.ndarray):
    """Landmark the two eye-band composites of ``frame``: ``(eye points in original pixels, found, midline
    residual)``.

    ``face`` are the plain pass's normalised landmarks, ``matrix`` its pose
    (a turned head is not mirrored), ``landmarkers`` one per side.
    """
    h, w = frame.rgb.shape[:2]
    xy = face[:, :2] * np.array([w, h], np.float32)
    eyes = np.full((2, len(EYE_POINTS), 3), np.nan, np.float32)
    ok = [False, False]
    midline = fit_midline(xy)
    if abs(float(mediapipe_yaw_deg(matrix[None])[0])) > MIRROR_MAX_ABS_YAW_DEG:
        # Every composite also keeps the landmarker fed, so its tracking and
        # timestamps stay in step with the plain pass.
        for landmarker in landmarkers:
            landmarker.detect(frame.rgb, frame.t_s)
        return eyes, tuple(ok), midline.residual
    for side, landmarker in enumerate(landmarkers):
        composite = eye_band_composite(frame.rgb, xy, midline, side="right" if side == 0 else "left")
        faces = landmarker.detect_arrays(composite, frame.t_s).faces
        chosen = select_face(faces, center)
        if chosen is not None:
            eyes[side] = faces[chosen][list(EYE_POINTS)] * np.array([w / frame.scale, h / frame.scale, w / frame.scale], np.float32)
            ok[side] = True
    return eyes, tuple(ok), midline.residual
