"""Video frames in figures: read the analysed video's key frames and draw them cropped to the face.

Shared by the analysis figures (:mod:`synkan.report.figures`) and the scales
figures (:mod:`synkan.report.scales_figure`), so neither imports the other.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ..errors import InputError
from ..measure.mesh import EYE_CONTOUR, LIPS_INNER, LIPS_OUTER, MOUTH_CORNER
from .style import DPI, SIDE_COLORS, SIDE_LABELS

if TYPE_CHECKING:
    from ..analysis import Analysis


def note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10, color="#555555", wrap=True)
    # Hide this axis' ticks only: removing them would also empty a shared axis next to it.
    ax.tick_params(left=False, bottom=False, labelleft=False, labelbottom=False)


class FigureUnavailable(Exception):
    """A figure cannot be drawn (for example the video for key frames is gone); the message says why."""


def read_frames(analysis: "Analysis", frame_indices: list[int]) -> dict[int, np.ndarray] | str:
    """Upright RGB frames of the analysed video by file frame index, or a reason why not.

    The video must still be at the recorded path with the recorded SHA-256.
    """
    from .._util.files import sha256_file
    from ..measure.video import read_frames_at

    if not analysis.video.get("path"):
        return "a de-identified analysis keeps no video path"
    path = Path(str(analysis.video["path"]))
    if not path.is_file():
        return f"the video is not at its recorded path ({path})"
    expected = analysis.video.get("sha256")
    if expected and sha256_file(path) != expected:
        return "the video file has changed since the analysis (SHA-256 differs)"
    try:
        frames = read_frames_at(path, frame_indices, analysis.settings.rotate)
    except InputError:
        return "the video could not be opened"
    return frames if frames else "no frame could be decoded"


def face_box(xy: np.ndarray, width: int, height: int, margin: float = 0.18) -> tuple[int, int, int, int]:
    """A square box (x0, y0, x1, y1) around the landmarks, with a margin, inside the frame."""
    lo, hi = np.nanmin(xy, axis=0), np.nanmax(xy, axis=0)
    center = (lo + hi) / 2
    half = (1 + 2 * margin) * float(np.max(hi - lo)) / 2
    x0, y0 = int(max(0, center[0] - half)), int(max(0, center[1] - half))
    x1, y1 = int(min(width, center[0] + half)), int(min(height, center[1] + half))
    return x0, y0, x1, y1


def _draw_landmarks(ax, xy: np.ndarray, x0: int, y0: int) -> None:
    for side in ("right", "left"):
        pts = xy[list(EYE_CONTOUR[side]) + [EYE_CONTOUR[side][0]]] - (x0, y0)
        ax.plot(pts[:, 0], pts[:, 1], color=SIDE_COLORS[side], linewidth=1.4)
    for contour in (LIPS_OUTER, LIPS_INNER):
        pts = xy[list(contour) + [contour[0]]] - (x0, y0)
        ax.plot(pts[:, 0], pts[:, 1], color="white", linewidth=1.0, alpha=0.85)
    for side in ("right", "left"):
        p = xy[MOUTH_CORNER[side]] - (x0, y0)
        ax.plot(p[0], p[1], "o", color=SIDE_COLORS[side], markersize=6, markeredgecolor="white", markeredgewidth=0.8)


def plot_face_frames(analysis: "Analysis", wanted: list[tuple[str, int]], deidentify: bool, size: tuple[float, float],
                     what: str, margins: dict, frames: dict[int, np.ndarray] | str | None = None) -> Figure:
    """Frames ``(title, track row)`` cropped to the face, eye and mouth landmarks drawn.

    The subject's right is image-left: "R" is printed on the image's left.
    With ``deidentify``, only the eye and mouth regions stay visible (:mod:`synkan.report.privacy`).
    ``frames`` are the video frames if already read (:func:`read_frames`).

    Raises
    ------
    FigureUnavailable
        If the video is gone or changed; its message says why.
    """
    import cv2

    track = analysis.track
    fig = Figure(figsize=size, dpi=DPI)
    axes = fig.subplots(1, max(len(wanted), 1), squeeze=False)[0]
    # A square panel's side in output pixels.
    panel_px = DPI * min(size[0] * (margins["right"] - margins["left"]) / max(len(wanted), 1),
                         size[1] * (margins["top"] - margins["bottom"]))
    if not wanted:
        note(axes[0], "no frame with a face")
        return fig
    if frames is None:
        frames = read_frames(analysis, [int(track.frame_index[row]) for _, row in wanted])
    if isinstance(frames, str):
        raise FigureUnavailable(f"{what} not shown: {frames}")
    for ax, (title, row) in zip(axes, wanted):
        ax.set_title(title, fontsize=10)
        image = frames.get(int(track.frame_index[row]))
        if image is None:
            note(ax, "this frame could not be decoded")
            continue
        xy = track.landmarks[row, :, :2].astype(float)
        if deidentify:
            from .privacy import deidentify_frame

            image = deidentify_frame(image, xy)
        x0, y0, x1, y1 = face_box(xy, image.shape[1], image.shape[0])
        # Shrunk to the panel's pixels first (OpenCV's area average is far
        # cheaper than matplotlib's resampling); the extent keeps frame pixels.
        crop = image[y0:y1, x0:x1]
        scale = min(1.0, panel_px / max(crop.shape[:2]))
        if scale < 1.0:
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        ax.imshow(crop, extent=(0, x1 - x0, y1 - y0, 0))
        _draw_landmarks(ax, xy, x0, y0)
        ax.set_xticks([])
        ax.set_yticks([])
        box = dict(boxstyle="round,pad=0.25", facecolor="white", alpha=0.85, edgecolor="none")
        ax.text(0.03, 0.04, "R", transform=ax.transAxes, fontsize=13, fontweight="bold", color=SIDE_COLORS["right"],
                va="bottom", ha="left", bbox=box)
        ax.text(0.97, 0.04, "L", transform=ax.transAxes, fontsize=13, fontweight="bold", color=SIDE_COLORS["left"],
                va="bottom", ha="right", bbox=box)
    handles = [Patch(color=SIDE_COLORS[s], label=SIDE_LABELS[s] + (" (image left)" if s == "right" else " (image right)"))
               for s in ("right", "left")]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=9, frameon=False)
    fig.subplots_adjust(**margins)
    return fig
