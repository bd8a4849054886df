"""The face rig: a still photo, its rest landmarks, a warp mesh and eyelid geometry.

The still is the public-domain NASA portrait ``skimage.data.astronaut()``,
cropped to the face and upscaled. MediaPipe FaceLandmarker (IMAGE mode) on
the still gives the rest shape. Everything here is computed once per frame
size and cached for the process (:func:`face_rig`); the renderer only does
cheap per-frame arithmetic on it.

Two deformation models are used, because they need different topology:

* **Mouth (smile, pucker).** A Delaunay mesh over the landmarks, dense hand
  grids around the eyes and mouth, and anchors outside the frame. Vertex
  displacements (a Gaussian weight around each mouth corner) are
  interpolated piecewise-affinely per triangle. The dense displacement of
  each control is linear in its amplitude, so one field per control is
  precomputed and a frame only mixes three fields.
* **Eyelids.** Closure is not a smooth warp: the lid slides *over* the
  eyeball. Each eye is two layers in image columns: a static eyeball base and
  a lid layer whose lash band moves rigidly down while the skin above
  stretches, its displacement fading to zero at the brow (the lower lid rises
  a little the same way). The layers are expressed directly as an inverse
  map, see :func:`layer_offset_field`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay

from ..errors import ModelError
from ..measure.mesh import (
    BROW_L,
    BROW_R,
    CHEEK_L,
    CHEEK_R,
    CHIN_L,
    CHIN_R,
    MOUTH_CORNER,
    NOSE_ALA_L,
    NOSE_ALA_R,
    UPPER_LIP_L,
    UPPER_LIP_R,
)
from .layers import EYE_LOWER, EYE_UPPER, eye_rig, lips_rig

#: Crop of the 512x512 astronaut photo (x0, y0, side) that frames the face.
CROP = (144, 34, 168)
#: Size at which landmarks are detected on the still (then scaled).
DETECT_SIZE = 512


# Mouth movement at full amplitude, in mouth widths (subject-level constants).
SMILE_OUT = 0.08  # corner outward
SMILE_UP = 0.09  # corner upward
#: The photo smiles; the neutral face is this much of a smile *less* (corners in and down).
NEUTRAL_SMILE = 0.5
PUCKER_IN = 0.15  # each corner inward -> mouth ~30% narrower
MOUTH_SIGMA = 0.30  # Gaussian radius of the corner weight
# The other regions at full amplitude, in mouth widths (a mouth is ~0.85 IOD).
BROW_UP = 0.14  # brow raise, ~0.12 IOD (~7 mm): a moderate voluntary raise
BROW_SIGMA_X = 0.35  # across the face; vertically it fades from the brow to the upper lid
CHEEK_UP = 0.07  # malar skin up (zygomaticus, orbicularis oculi's orbital part)
CHEEK_SIGMA = 0.25
CHIN_UP = 0.06  # chin pad up (mentalis), lifting the lower lip with it
CHIN_SIGMA = 0.15
SNARL_LIP_UP = 0.12  # upper lip lateral to the philtrum (levator labii superioris)
SNARL_ALA_UP = 0.06  # nasal ala (levator labii superioris alaeque nasi)
SNARL_SIGMA = 0.12
REGION_POINTS = {"brow": {"right": BROW_R, "left": BROW_L}, "cheek": {"right": CHEEK_R, "left": CHEEK_L},
                 "chin": {"right": CHIN_R, "left": CHIN_L}, "lip": {"right": UPPER_LIP_R, "left": UPPER_LIP_L},
                 "ala": {"right": NOSE_ALA_R, "left": NOSE_ALA_L}}



@dataclass(frozen=True)
class FaceRig:
    """Everything the renderer needs for one frame size.

    Attributes
    ----------
    size : int
        Frame side in pixels.
    image : ndarray
        The still, (size, size, 3) uint8 BGR.
    landmarks : ndarray
        Rest landmarks (478, 2) in pixels.
    fields : dict
        Dense displacement fields (size, size, 2) float32 at full amplitude,
        keys ``smile_r``, ``smile_l``, ``pucker``, ``brow_r/l``, ``cheek_r/l``,
        ``chin_r/l`` and ``snarl``.
    eyes : dict
        :class:`LayerRig` per eye (``right``, ``left``) and for the ``lips``.
    center : ndarray
        Head-motion pivot (nose bridge), pixels.
    n_vertices, n_triangles : int
        Mesh size (for reports).
    """

    size: int
    image: np.ndarray
    landmarks: np.ndarray
    fields: dict
    eyes: dict
    center: np.ndarray
    n_vertices: int
    n_triangles: int


def still_image(size: int) -> np.ndarray:
    """The astronaut face crop, upscaled to ``size`` x ``size``, uint8 RGB."""
    import skimage.data  # local: the import is slow and only synth needs it

    x0, y0, s = CROP
    crop = skimage.data.astronaut()[y0:y0 + s, x0:x0 + s]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_LANCZOS4)


@functools.lru_cache(maxsize=1)
def rest_landmarks() -> np.ndarray:
    """MediaPipe landmarks of the still at :data:`DETECT_SIZE`, (478, 2) float64 pixels.

    Raises
    ------
    ModelError
        If the model cannot be found or finds no face on the still.
    """
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from ..measure.landmarker import quiet_native_logs
    from ..measure.models import resolve_model

    opts = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(resolve_model())),
        running_mode=vision.RunningMode.IMAGE, num_faces=1)
    rgb = np.ascontiguousarray(still_image(DETECT_SIZE))
    with quiet_native_logs(), vision.FaceLandmarker.create_from_options(opts) as landmarker:
        result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
    if not result.face_landmarks:
        raise ModelError("the landmark model found no face on the synth still image")
    pts = np.array([[p.x, p.y] for p in result.face_landmarks[0]], dtype=np.float64)
    # Rounded so that tiny cross-platform float differences in the model do
    # not change the rendered bytes more than necessary.
    return np.round(pts * DETECT_SIZE, 2)


def _grid(lo: np.ndarray, hi: np.ndarray, step: float) -> np.ndarray:
    """Regular grid of points covering the box lo..hi."""
    xs = np.arange(lo[0], hi[0] + 1e-6, step)
    ys = np.arange(lo[1], hi[1] + 1e-6, step)
    return np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)


def mesh_vertices(lm: np.ndarray, size: int) -> np.ndarray:
    """Landmarks + denser grids around eyes and mouth + anchors outside the frame.

    The grids keep the piecewise-affine interpolation smooth where the
    Gaussian mouth weights vary fastest; the anchors (a ring a quarter frame
    outside) pin the background so the warp is defined for every pixel.
    """
    step = size / 48.0
    mouth = lm[[61, 291, 0, 17, 13, 14]]
    mw = np.linalg.norm(lm[291] - lm[61])
    parts = [lm]
    parts.append(_grid(mouth.min(0) - 0.6 * mw, mouth.max(0) + 0.6 * mw, step))
    for side in ("right", "left"):
        eye = lm[list(EYE_UPPER[side] + EYE_LOWER[side])]
        parts.append(_grid(eye.min(0) - 0.3 * mw, eye.max(0) + 0.3 * mw, step))
    a = np.linspace(-0.25 * size, 1.25 * size, 9)
    ring = [(x, -0.25 * size) for x in a] + [(x, 1.25 * size) for x in a]
    ring += [(-0.25 * size, y) for y in a[1:-1]] + [(1.25 * size, y) for y in a[1:-1]]
    parts.append(np.array(ring))
    pts = np.concatenate(parts)
    # Drop grid points that nearly coincide with an earlier point: they only
    # make sliver triangles.
    keep = np.ones(len(pts), bool)
    q = np.round(pts / (0.3 * step)).astype(np.int64)
    _, first = np.unique(q, axis=0, return_index=True)
    keep[:] = False
    keep[np.sort(first)] = True
    keep[: len(lm)] = True
    return pts[keep]


def mouth_displacements(vertices: np.ndarray, lm: np.ndarray) -> dict[str, np.ndarray]:
    """Vertex displacements (V, 2) of each mouth control at full amplitude.

    A smile moves one corner up and out; a pucker moves both corners towards
    the mouth centre. Each is weighted by a Gaussian around the corner, so the
    lips, cheek and skin nearby follow and the far side stays put.
    """
    c_r, c_l = lm[MOUTH_CORNER["right"]], lm[MOUTH_CORNER["left"]]
    mw = float(np.linalg.norm(c_l - c_r))
    across = (c_l - c_r) / mw  # image-left -> image-right along the mouth
    up = np.array([across[1], -across[0]])  # perpendicular, pointing up the face
    sigma = MOUTH_SIGMA * mw

    def weight(c: np.ndarray) -> np.ndarray:
        return np.exp(-np.sum((vertices - c) ** 2, 1) / (2 * sigma ** 2))[:, None]

    w_r, w_l = weight(c_r), weight(c_l)
    return {
        "smile_r": w_r * (mw * (-SMILE_OUT * across + SMILE_UP * up)),
        "smile_l": w_l * (mw * (SMILE_OUT * across + SMILE_UP * up)),
        "pucker": w_r * (mw * PUCKER_IN * across) + w_l * (mw * -PUCKER_IN * across),
    }


def region_displacements(vertices: np.ndarray, lm: np.ndarray) -> dict[str, np.ndarray]:
    """Vertex displacements (V, 2) of the brow, cheek, chin (per side) and snarl (both sides) at full
    amplitude.

    Each moves its region up the face with a Gaussian weight around the
    region's landmarks. The brow's weight also fades linearly from the brow
    down to the upper lid, so a brow raise opens the eye only a little, as
    frontalis does.
    """
    c_r, c_l = lm[MOUTH_CORNER["right"]], lm[MOUTH_CORNER["left"]]
    mw = float(np.linalg.norm(c_l - c_r))
    across = (c_l - c_r) / mw
    up = np.array([across[1], -across[0]])

    def gauss(name: str, side: str, sigma: float) -> np.ndarray:
        c = lm[list(REGION_POINTS[name][side])].mean(axis=0)
        return np.exp(-np.sum((vertices - c) ** 2, 1) / (2 * (sigma * mw) ** 2))[:, None]

    out = {}
    for side, s in (("right", "r"), ("left", "l")):
        brow = lm[list(REGION_POINTS["brow"][side])].mean(axis=0)
        lid = lm[list(EYE_UPPER[side])].mean(axis=0)
        height = (vertices - lid) @ up  # above the upper lid, pixels
        vertical = np.clip(height / max(float((brow - lid) @ up), 1.0), 0.0, 1.0)
        along = (vertices - brow) @ across
        across_w = np.exp(-along ** 2 / (2 * (BROW_SIGMA_X * mw) ** 2))
        above = np.exp(-np.clip((vertices - brow) @ up, 0.0, None) ** 2 / (2 * (0.6 * mw) ** 2))
        out[f"brow_{s}"] = (vertical * across_w * above)[:, None] * (mw * BROW_UP * up)
        out[f"cheek_{s}"] = gauss("cheek", side, CHEEK_SIGMA) * (mw * CHEEK_UP * up)
        out[f"chin_{s}"] = gauss("chin", side, CHIN_SIGMA) * (mw * CHIN_UP * up)
    out["snarl"] = sum(gauss("lip", side, SNARL_SIGMA) * (mw * SNARL_LIP_UP * up)
                       + gauss("ala", side, SNARL_SIGMA) * (mw * SNARL_ALA_UP * up) for side in ("right", "left"))
    return out


def barycentric_raster(vertices: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Triangle vertex indices and barycentric weights of every pixel.

    Returns
    -------
    idx : ndarray
        (size, size, 3) int32 vertex indices of the pixel's triangle.
    bary : ndarray
        (size, size, 3) float32 barycentric weights.
    n_triangles : int
    """
    tri = Delaunay(vertices)
    ys, xs = np.mgrid[0:size, 0:size]
    pix = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float64)
    simplex = tri.find_simplex(pix)
    if (simplex < 0).any():  # cannot happen: the anchors enclose the frame
        raise RuntimeError("synth mesh does not cover the frame")
    t = tri.transform[simplex]
    b2 = np.einsum("nij,nj->ni", t[:, :2], pix - t[:, 2])
    bary = np.concatenate([b2, 1 - b2.sum(1, keepdims=True)], 1)
    idx = tri.simplices[simplex]
    return (idx.reshape(size, size, 3).astype(np.int32),
            bary.reshape(size, size, 3).astype(np.float32), len(tri.simplices))


def dense_field(idx: np.ndarray, bary: np.ndarray, disp: np.ndarray) -> np.ndarray:
    """Piecewise-affine interpolation of vertex displacements to every pixel, (H, W, 2) float32."""
    return np.einsum("hwk,hwkc->hwc", bary, disp.astype(np.float32)[idx]).astype(np.float32)



@functools.lru_cache(maxsize=4)
def face_rig(size: int = 512) -> FaceRig:
    """Build (once per process and size) the rig for ``size`` x ``size`` frames."""
    lm = rest_landmarks() * (size / DETECT_SIZE)
    rgb = still_image(size)
    vertices = mesh_vertices(lm, size)
    idx, bary, n_tri = barycentric_raster(vertices, size)
    displacements = {**mouth_displacements(vertices, lm), **region_displacements(vertices, lm)}
    fields = {k: dense_field(idx, bary, d) for k, d in displacements.items()}
    eyes = {side: eye_rig(lm, side) for side in ("right", "left")}
    eyes["lips"] = lips_rig(lm)
    center = lm[168].copy()  # nose bridge between the eyes
    return FaceRig(size=size, image=np.ascontiguousarray(rgb[:, :, ::-1]), landmarks=lm, fields=fields,
                   eyes=eyes, center=center, n_vertices=len(vertices), n_triangles=n_tri)
