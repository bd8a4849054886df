"""``overlay.mp4``: the original video with landmarks, per-side bars and the current event.

Every frame of the source video is written (same count and size, upright).
The subject's right eye and mouth corner are drawn in the right-side colour
on the image's left, the left side's on the image's right, each with live
bars for eye closure and mouth-corner excursion; the event under way is
printed at the top. The file is written to a temporary name and renamed
into place, so a failed run never leaves a partial overlay.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..errors import InputError
from ..measure.mesh import EYE_CONTOUR, LIPS_INNER, LIPS_OUTER, MOUTH_CORNER
from ..measure.video import iter_frames
from .privacy import deidentify_frame
from .style import EVENT_LABELS, SIDE_COLORS

if TYPE_CHECKING:
    from ..analysis import Analysis

FOURCC = "mp4v"  # available in every OpenCV build with FFmpeg


def _bgr(hex_color: str) -> tuple[int, int, int]:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return b, g, r


COLORS = {side: _bgr(c) for side, c in SIDE_COLORS.items()}


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, color, thickness: int = 1) -> int:
    """Text on a dark box (readable on any background); returns its width."""
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x, y = org
    pad = max(2, int(round(3 * scale)))
    cv2.rectangle(img, (x - pad, y - th - pad), (x + tw + pad, y + base), (25, 25, 25), -1)
    cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thickness, cv2.LINE_AA)
    return tw


def _bar(img: np.ndarray, x: int, y_top: int, y_bottom: int, width: int, fraction: float, color, label: str,
         value: str, fs: float) -> None:
    cv2.rectangle(img, (x, y_top), (x + width, y_bottom), (40, 40, 40), -1)
    if np.isfinite(fraction):
        top = int(round(y_bottom - np.clip(fraction, 0, 1) * (y_bottom - y_top)))
        cv2.rectangle(img, (x, top), (x + width, y_bottom), color, -1)
    cv2.rectangle(img, (x, y_top), (x + width, y_bottom), (220, 220, 220), 1)
    for text, y in ((label, y_bottom + int(22 * fs)), (value, y_top - int(8 * fs))):
        (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, fs, 1)
        _text(img, text, (x + width // 2 - tw // 2, y), fs, (255, 255, 255))


def _draw(img: np.ndarray, xy: np.ndarray | None, values: dict[str, float], scales: dict[str, float], label: str) -> None:
    h, w = img.shape[:2]
    s = max(h, w) / 640
    fs = max(0.45, 0.5 * s)  # font scale: never below readable
    thick = max(1, int(round(1.5 * s)))
    if xy is not None:
        for side in ("right", "left"):
            pts = np.round(xy[list(EYE_CONTOUR[side])]).astype(np.int32)
            cv2.polylines(img, [pts], True, COLORS[side], thick, cv2.LINE_AA)
        for contour in (LIPS_OUTER, LIPS_INNER):
            cv2.polylines(img, [np.round(xy[list(contour)]).astype(np.int32)], True, (255, 255, 255), max(1, thick - 1),
                          cv2.LINE_AA)
        for side in ("right", "left"):
            c = tuple(int(v) for v in np.round(xy[MOUTH_CORNER[side]]))
            cv2.circle(img, c, max(3, int(4 * s)), COLORS[side], -1, cv2.LINE_AA)
    bw, gap, margin = int(16 * fs / 0.5), int(44 * fs / 0.5), int(26 * fs / 0.5)
    y_top, y_bottom = int(0.28 * h), int(0.28 * h + min(0.45 * h, 220 * s))
    # The subject's right is image-left: its bars go on the left edge.
    for side, x0 in (("right", margin), ("left", w - margin - gap - bw)):
        tag = "R" if side == "right" else "L"
        eye, mouth = values[f"eye_{side}"], values[f"mouth_{side}"]
        _bar(img, x0, y_top, y_bottom, bw, eye / scales["eye"], COLORS[side], f"{tag} eye",
             f"{100 * eye:.0f}%" if np.isfinite(eye) else "-", fs)
        _bar(img, x0 + gap, y_top, y_bottom, bw, mouth / scales["mouth"], COLORS[side], f"{tag} mth",
             f"{100 * mouth:.0f}" if np.isfinite(mouth) else "-", fs)
    top = int(24 * fs / 0.5)
    _text(img, "R: subject's right", (8, top), fs, COLORS["right"])
    (tw, _), _ = cv2.getTextSize("L: subject's left", cv2.FONT_HERSHEY_SIMPLEX, fs, 1)
    _text(img, "L: subject's left", (w - 8 - tw, top), fs, COLORS["left"])
    if label:
        (tw, _), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 1.6 * fs, 2)
        _text(img, label, ((w - tw) // 2, int(2.6 * top)), 1.6 * fs, (255, 255, 255), 2)
    _text(img, "eye: closure %   mth: mouth corner, % of eye distance", (8, h - 8), 0.9 * fs, (230, 230, 230))


def write_overlay(analysis: "Analysis", out_path: str | Path, deidentify: bool = False) -> Path:
    """Write the annotated video to ``out_path`` (atomically).

    Parameters
    ----------
    analysis : Analysis
    out_path : str or Path
    deidentify : bool
        Show only the eye and mouth regions (:func:`synkan.report.privacy.deidentify_frame`).

    Raises
    ------
    InputError
        If the analysed video is no longer at its recorded path.
    """
    out_path = Path(out_path)
    if not analysis.video.get("path"):
        raise InputError("overlay: a de-identified analysis keeps no video path; make the overlay with the analysis")
    src = Path(str(analysis.video["path"]))
    if not src.is_file():
        raise InputError(f"overlay: the video is not at its recorded path ({src})")
    track, sig = analysis.track, analysis.signals
    series = {f"eye_{side}": sig[f"eye_closure_{side[0]}"] for side in ("right", "left")}
    series.update({f"mouth_{side}": sig[f"mouth_excursion_{side[0]}"] for side in ("right", "left")})
    mouth = np.concatenate([series["mouth_right"], series["mouth_left"]])
    mouth = mouth[np.isfinite(mouth)]
    scales = {"eye": 1.0, "mouth": max(0.2, 1.1 * float(np.percentile(mouth, 99))) if mouth.size else 0.2}
    events = list(analysis.events.table.itertuples())
    fps = analysis.video.get("fps") or track.meta.get("fps_nominal") or 30.0
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=".overlay-", suffix=".mp4")
    os.close(fd)
    writer = None
    try:
        for frame in iter_frames(src, rotate=analysis.settings.rotate):
            img = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR)
            if writer is None:
                writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*FOURCC), float(fps), (img.shape[1], img.shape[0]))
                if not writer.isOpened():
                    raise InputError(f"overlay: cannot write {FOURCC} video")
            # The track row for this frame: the latest tracked frame at or before it (strides).
            row = int(np.searchsorted(track.frame_index, frame.index, side="right")) - 1
            row = min(max(row, 0), len(track) - 1)
            xy = track.landmarks[row, :, :2].astype(float) if track.valid[row] else None
            if deidentify:  # a frame without a face is masked whole: a face may be in it, unfound
                shown = xy if xy is not None else np.full((1, 2), np.nan)
                img = cv2.cvtColor(deidentify_frame(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), shown), cv2.COLOR_RGB2BGR)
            t = track.t_s[row]
            label = " + ".join(dict.fromkeys(EVENT_LABELS.get(e.kind, e.kind).upper() for e in events
                                             if e.start_s <= t <= e.end_s))
            if xy is None:
                label = (label + "  " if label else "") + "(no face)"
            _draw(img, xy, {k: float(v[row]) for k, v in series.items()}, scales, label)
            writer.write(img)
        if writer is None:
            raise InputError(f"overlay: {src}: no decodable frame")
        writer.release()
        writer = None
        os.replace(tmp, out_path)
    finally:
        if writer is not None:
            writer.release()
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out_path
