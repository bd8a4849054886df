"""De-identified analyses: no path, file name or face image of the source in any output.

:func:`deidentify` turns an :class:`~synkan.analysis.Analysis` into one whose
outputs (report.json, track.npz, signals.csv, events.csv) hold nothing that
names or shows the patient:

- the video's path (and so its file name and folder) is replaced by a
  generated ID; its SHA-256 stays, so a clinic can match its own files;
- ``track.npz`` keeps the landmarks but not the eye, cheek and chin patches
  (grey images of the face): the pixel lid and skin measurements made from
  them are stored instead, so re-scoring gives the same numbers; the track's
  own record of the path goes;
- a protocol given as a file is stored as its inline text.

The images (key frames, overlay) are masked by
:func:`synkan.report.privacy.deidentify_frame`. The user's visit metadata
(patient ID, date, clinician, note) is kept as given: use a pseudonym.

Examples
--------
>>> video_id("0123456789abcdef" * 4)
'video-0123456789ab'
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from ..grade.events import parse_segments
from ..measure.signals import SIDES, pixel_lids
from ..measure.texture import PIXEL_RAISE_COLUMNS

if TYPE_CHECKING:
    from ..analysis import Analysis
    from ..measure.tracking import Track

# What a de-identified report.json says it kept and removed (shown in the report too).
KEPT = ("the video's SHA-256, frame rate, frame count, duration and frame size; face landmarks; the pixel lid "
        "and skin measurements; the visit metadata as entered")
REMOVED = ("the video's path and file name (replaced by a generated ID); the eye, cheek and chin images in track.npz; every face "
           "pixel outside the eye and mouth regions in the key frames and overlay; a protocol file's name")


def video_id(sha256: str | None) -> str:
    """The generated ID of a de-identified video: the start of its SHA-256 (same file, same ID)."""
    return f"video-{(sha256 or 'unknown')[:12]}"


def is_deidentified(video: dict) -> bool:
    """``video`` (report.json's section) is that of a de-identified analysis."""
    return bool(video.get("deidentified"))


def deidentified_track(track: "Track", rest: np.ndarray, gaze_dev: np.ndarray, gaze_frontal: np.ndarray,
                       region_raise: np.ndarray | None = None) -> "Track":
    """``track`` without face patches or source path, the pixel measurements made from them stored instead.

    ``rest``, ``gaze_dev`` and ``gaze_frontal`` are the signals' own (columns
    ``rest_lids``, ``gaze_dev_r/l``, ``gaze_ok``), so the stored measurement is the
    one the analysis used; so is ``region_raise``, the cheek and chin lift
    measured in the skin patches (the ``*_raise_pixel_*`` signal columns).
    """
    meta = {k: v for k, v in track.meta.items() if k != "video"}
    track = dataclasses.replace(track, region_patches=None, region_raise=region_raise)
    lids = pixel_lids(track, rest, gaze_dev, gaze_frontal)
    if lids is None:
        return dataclasses.replace(track, meta=meta)
    closure, match, info = lids
    # float64, as measured: re-scoring gives the same numbers to the last digit.
    return dataclasses.replace(track, eye_patches=None, lid_closure=np.asarray(closure, np.float64),
                               lid_match=np.asarray(match, np.float64), meta={**meta, "eyelids": info})


def inline_segments(segments: str | None) -> str | None:
    """A protocol as inline text (``"smile:2-5,eye_closure:7-9"``), so no file name is stored.

    Examples
    --------
    >>> inline_segments("smile:2-5.5,close:7-9")
    'smile:2-5.5,eye_closure:7-9'
    """
    if not segments:
        return segments
    return ",".join(f"{kind}:{start:g}-{end:g}" for kind, start, end in parse_segments(segments))


def deidentify(analysis: "Analysis") -> "Analysis":
    """The same analysis with no path, file name or eye image of the source (see the module docstring).

    The scores are unchanged, and ``synkan.load`` of the written folder
    re-scores to the same numbers.
    """
    if is_deidentified(analysis.video):
        return analysis
    data = analysis.signals.data
    gaze_dev = np.column_stack([data[f"gaze_dev_{side}"].to_numpy(float) for side in SIDES])
    pixel_columns = list(PIXEL_RAISE_COLUMNS)
    region_raise = data[pixel_columns].to_numpy(np.float64) if set(pixel_columns) <= set(data.columns) else None
    track = deidentified_track(analysis.track, data["rest_lids"].to_numpy(bool), gaze_dev,
                               data["gaze_ok"].to_numpy(bool), region_raise)
    video = {"id": video_id(analysis.video.get("sha256")), "deidentified": True,
             **{k: v for k, v in analysis.video.items() if k != "path"}, "kept": KEPT, "removed": REMOVED}
    settings = dataclasses.replace(analysis.settings, segments=inline_segments(analysis.settings.segments))
    return dataclasses.replace(analysis, video=video, track=track, settings=settings)
