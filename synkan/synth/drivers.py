"""The generator's own drivers: smile, pucker, blink and eye closure from plain landmark geometry.

:func:`synkan.synth.synth_from_video` adds a movement that follows one of a
healthy person's voluntary movements. That driver must not be the analysis's
own signal, or the ground truth only shows that the analysis agrees with
itself. This module therefore uses none of :mod:`synkan.measure.signals`,
:mod:`synkan.grade.events` or :mod:`synkan.grade.coupling`; it reads the raw tracked
landmarks (image pixels) and measures, with deliberately simple geometry:

* **face frame**: each frame's landmarks by a two-point similarity on the eye
  corners (origin midway between the eyes, x towards the subject's left, y
  down, unit = the distance between the eye centres). The analysis instead
  aligns stable forehead and nose points to a rest shape and low-passes.
* **smile**: both mouth corners' movement outward plus upward in that frame,
  from the video's own rest (the median mouth over the frames with the lips
  most nearly closed),
  normalised to 1 at the person's broadest smile (99th percentile, at least
  :data:`SMILE_SPAN_MIN_IOD`), and suppressed where the mouth narrows (a
  pucker pulls the corners in; the analysis's ``mouth_driver`` is any corner
  excursion, puckers included);
* **pucker**: mouth-width narrowing from that rest width with the lips
  nearly closed (an open "aah" also narrows the mouth), normalised the same way;
* **eye closure**: the mean of both eyes' opening (three lid pairs over eye
  width) relative to each eye's median, and closure events split by duration
  into blinks (< :data:`BLINK_MAX_S`) and sustained closures. The analysis's
  ``eye_driver`` is its (by default pixel-measured) closure, not split.

Every driver is 0 at rest, 1 at the person's full movement, and 0 where no
face was found.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MOUTH_R, MOUTH_L = 61, 291
LIP_UPPER, LIP_LOWER = 13, 14
CANTHI = {"r": (33, 133), "l": (263, 362)}  # outer, inner
LID_PAIRS = {"r": ((160, 144), (159, 145), (158, 153)), "l": ((385, 380), (386, 374), (387, 373))}

#: A smile's broadest excursion counts as at least this (IOD), so a video
#: without a smile gets almost nothing added (about a modest real smile).
SMILE_SPAN_MIN_IOD = 0.08
#: Corner movement up and out below this (IOD) is landmark jitter, not a smile.
SMILE_DEAD_IOD = 0.01
#: The mouth's rest: the median over the frames whose lip gap is below this quantile (lips closed).
REST_QUANTILE = 0.25
#: Mouth narrowing (share of rest width) over which the smile is faded out: a pucker.
PUCKER_GATE = (0.04, 0.10)
#: Narrowing below this is jitter, not a pucker; a full pucker narrows by at least the span.
PUCKER_DEAD = 0.03
PUCKER_SPAN_MIN = 0.10
#: Lip opening beyond rest (IOD) over which a narrowing stops counting as a pucker (an open "aah").
OPEN_GATE_IOD = (0.10, 0.20)
#: Running-mean window over the mouth signals (landmark jitter), seconds.
SMOOTH_S = 0.1
#: A closure event: both eyes' mean closure rises above the first, and stays above the second.
CLOSURE_HYSTERESIS = (0.45, 0.2)
#: Blinks are shorter than this (normal blinks 100-400 ms); longer ones are voluntary closures.
BLINK_MAX_S = 0.5
#: A driver event's window reaches this far beyond its hysteresis run, so the closure has decayed there.
EVENT_PAD_S = 0.1
#: A smile or pucker event: its normalised driver above 0.5 (extended while above 0.25) for this long.
MOUTH_EVENT_MIN_S = 0.3

OO_DRIVERS = ("smile", "pucker", "any")
OCUL_DRIVERS = ("blink", "closure", "any")


@dataclass(frozen=True)
class Drivers:
    """One video's voluntary movements as the generator measures them (all (N,) arrays, 0 at rest).

    Attributes
    ----------
    t : seconds
    valid : bool, face found
    smile, pucker : 0..1, the person's own smile and pucker
    closure : 0..1, both eyes' mean closure (1 = shut)
    opening_r, opening_l : each eye's lid opening as a share of its rest opening (NaN without a face)
    events : list of (kind, start_s, end_s), kind in {"smile", "pucker", "blink", "closure"}
    info : rest levels and spans, for the case file
    """

    t: np.ndarray
    valid: np.ndarray
    smile: np.ndarray
    pucker: np.ndarray
    closure: np.ndarray
    opening_r: np.ndarray
    opening_l: np.ndarray
    events: list[tuple[str, float, float]] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    def count(self, kind: str) -> int:
        """Number of events of ``kind``."""
        return sum(1 for k, _, _ in self.events if k == kind)

    def oral_ocular(self, name: str) -> np.ndarray:
        """The oral-ocular driver ``name`` (smile, pucker or any: the larger of the two), 0..1."""
        if name not in OO_DRIVERS:
            raise ValueError(f"oral-ocular driver must be one of {OO_DRIVERS}, not {name!r}")
        return {"smile": self.smile, "pucker": self.pucker, "any": np.maximum(self.smile, self.pucker)}[name]

    def ocular_oral(self, name: str) -> np.ndarray:
        """The ocular-oral driver ``name``: the closure inside its events (blink, closure, any); else 0."""
        if name not in OCUL_DRIVERS:
            raise ValueError(f"ocular-oral driver must be one of {OCUL_DRIVERS}, not {name!r}")
        kinds = ("blink", "closure") if name == "any" else (name,)
        inside = np.zeros(len(self.t), bool)
        for kind, start, end in self.events:
            if kind in kinds:
                inside |= (self.t >= start - EVENT_PAD_S) & (self.t <= end + EVENT_PAD_S)
        return np.where(inside, self.closure, 0.0)


def face_frame(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks in each frame's eye-corner frame: origin between the eyes, x to the subject's left, y down.

    The unit is the distance between the eye centres (IOD).

    Parameters
    ----------
    landmarks : (N, 478, >=2) array
        Image pixels (NaN where no face).

    Returns
    -------
    (N, 478, 2) array

    Examples
    --------
    >>> lm = np.zeros((1, 478, 2)); lm[0, [33, 133]] = [[0, 0], [2, 0]]; lm[0, [263, 362]] = [[6, 0], [4, 0]]
    >>> lm[0, 61] = [3, 4]
    >>> face_frame(lm)[0, 61].tolist()
    [0.0, 1.0]
    """
    xy = landmarks[..., :2].astype(np.float64)
    c_r, c_l = xy[:, list(CANTHI["r"])].mean(axis=1), xy[:, list(CANTHI["l"])].mean(axis=1)
    axis = c_l - c_r
    iod = np.linalg.norm(axis, axis=1, keepdims=True)
    e_x = axis / iod
    e_y = np.stack([-e_x[:, 1], e_x[:, 0]], axis=1)  # x turned +90 deg in image coordinates: down the face
    d = xy - ((c_r + c_l) / 2)[:, None]
    along = [np.einsum("npk,nk->np", d, e) for e in (e_x, e_y)]
    return np.stack(along, axis=-1) / iod[:, None]


def running_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Centred running mean over ``n`` samples, ignoring NaN (NaN where the window holds none).

    Examples
    --------
    >>> running_mean(np.array([0.0, 3.0, np.nan, 3.0]), 3).tolist()
    [1.5, 1.5, 3.0, 3.0]
    """
    if n <= 1:
        return x.astype(float)
    ok = np.isfinite(x)
    kernel = np.ones(n)
    total = np.convolve(np.where(ok, x, 0.0), kernel, mode="same")
    count = np.convolve(ok.astype(float), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def normalised(x: np.ndarray, zero: float, span_min: float) -> tuple[np.ndarray, float]:
    """``clip((x - zero) / span, 0, 1)`` with ``span = max(P99(x) - zero, span_min)``; NaN -> 0.

    Examples
    --------
    >>> norm, span = normalised(np.array([0.0, 0.02, np.nan]), 0.0, 0.08)
    >>> norm.tolist(), span
    ([0.0, 0.25, 0.0], 0.08)
    """
    finite = x[np.isfinite(x)]
    span = max(float(np.percentile(finite, 99)) - zero if finite.size else 0.0, span_min)
    return np.nan_to_num(np.clip((x - zero) / span, 0.0, 1.0), nan=0.0), span


def fade(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """1 below ``lo``, 0 above ``hi``, linear between (NaN -> 1: nothing to fade by)."""
    return np.nan_to_num(np.clip((hi - x) / (hi - lo), 0.0, 1.0), nan=1.0)


def mouth_drivers(face: np.ndarray, valid: np.ndarray, n_smooth: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """The smile and the pucker (0..1) from face-frame landmarks (:func:`face_frame`).

    The rest is found without knowing which movements the video holds (some
    people smile most of the time, some pucker, some talk): it is the median
    mouth over the frames with the lips most nearly closed (a lower quantile
    of the lip gap), which excludes speech, a dropped jaw, puckers (the lips
    part a little) and open smiles.

    Returns
    -------
    smile, pucker : (N,) arrays
    info : dict
        ``corner_rest_up_iod``, ``mouth_width_rest_iod``, ``smile_span_iod``, ``pucker_span``.
    """
    face = np.where(valid[:, None, None], face, np.nan)
    right, left = face[:, MOUTH_R], face[:, MOUTH_L]
    up = running_mean(-(right[:, 1] + left[:, 1]) / 2.0, n_smooth)  # y points down the face
    width = running_mean(left[:, 0] - right[:, 0], n_smooth)  # x points to the subject's left
    gap = running_mean(np.linalg.norm(face[:, LIP_LOWER] - face[:, LIP_UPPER], axis=1), n_smooth)
    finite = np.isfinite(up) & np.isfinite(width) & np.isfinite(gap)
    if not finite.any():
        return np.zeros(len(up)), np.zeros(len(up)), {}
    rest = finite & (gap <= np.quantile(gap[finite], REST_QUANTILE))
    up_rest, width_rest, gap_rest = (float(np.median(x[rest])) for x in (up, width, gap))
    narrowing = 1.0 - width / width_rest
    # A smile pulls each corner up and out: half the widening is each corner's outward movement.
    smile, span = normalised((up - up_rest) + (width - width_rest) / 2.0, SMILE_DEAD_IOD, SMILE_SPAN_MIN_IOD)
    smile = smile * fade(narrowing, *PUCKER_GATE)
    closed_narrowing = narrowing * fade(gap - gap_rest, *OPEN_GATE_IOD)
    pucker, pucker_span = normalised(closed_narrowing, PUCKER_DEAD, PUCKER_SPAN_MIN)
    info = {"corner_rest_up_iod": up_rest, "mouth_width_rest_iod": width_rest, "lip_gap_rest_iod": gap_rest,
            "smile_span_iod": span, "pucker_span": pucker_span}
    return smile, pucker, info


def eye_openings(face: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """Each eye's lid opening relative to its own median (1 at rest, 0 shut); NaN without a face.

    The opening is the mean of three upper-to-lower lid distances over the
    eye's corner-to-corner width.
    """
    out, info = [], {}
    for side in "rl":
        width = np.linalg.norm(face[:, CANTHI[side][0]] - face[:, CANTHI[side][1]], axis=1)
        lids = np.mean([np.linalg.norm(face[:, a] - face[:, b], axis=1) for a, b in LID_PAIRS[side]], axis=0)
        ratio = np.where(valid, lids / width, np.nan)
        rest = float(np.nanmedian(ratio)) if np.isfinite(ratio).any() else np.nan
        info[f"ear_rest_{side}"] = rest
        out.append(ratio / rest)
    return out[0], out[1], info


def runs_above(x: np.ndarray, high: float, low: float) -> list[tuple[int, int]]:
    """Index runs ``[a, b)`` where ``x > low`` that reach above ``high`` somewhere.

    Examples
    --------
    >>> runs_above(np.array([0, .3, .6, .4, .1, .7, 0]), 0.5, 0.25)
    [(1, 4), (5, 6)]
    """
    above = np.nan_to_num(x, nan=-np.inf) > low
    edges = np.flatnonzero(np.diff(np.r_[0, above.astype(int), 0]))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if np.nanmax(x[a:b]) > high]


def closure_events(t: np.ndarray, opening_r: np.ndarray, opening_l: np.ndarray
                   ) -> list[tuple[str, float, float]]:
    """Bilateral eye-closure events, named blink (< :data:`BLINK_MAX_S`) or closure, with start and end (s).

    Both eyes must close past the lower threshold at the event's peak, so a wink is no blink.
    """
    closed_r, closed_l = 1.0 - opening_r, 1.0 - opening_l
    mean = (closed_r + closed_l) / 2.0
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    events = []
    for a, b in runs_above(mean, *CLOSURE_HYSTERESIS):
        peak = a + int(np.nanargmax(mean[a:b]))
        if min(closed_r[peak], closed_l[peak]) > CLOSURE_HYSTERESIS[1]:
            duration = float(t[b - 1] - t[a]) + dt
            events.append(("blink" if duration < BLINK_MAX_S else "closure", float(t[a]), float(t[b - 1])))
    return events


def mouth_events(t: np.ndarray, x: np.ndarray, kind: str) -> list[tuple[str, float, float]]:
    """Runs of a normalised mouth driver above 0.5 (extended while above 0.25), at least
    :data:`MOUTH_EVENT_MIN_S` long."""
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    return [(kind, float(t[a]), float(t[b - 1])) for a, b in runs_above(x, 0.5, 0.25)
            if t[b - 1] - t[a] + dt >= MOUTH_EVENT_MIN_S]


def drivers_from_landmarks(t: np.ndarray, landmarks: np.ndarray, valid: np.ndarray) -> Drivers:
    """Every driver of one video from its raw landmarks.

    Parameters
    ----------
    t : (N,) array
        Frame times, seconds.
    landmarks : (N, 478, >=2) array
        MediaPipe landmarks in image pixels (a :class:`~synkan.measure.tracking.Track`'s).
    valid : (N,) bool
        Face found.
    """
    valid = np.asarray(valid, bool) & np.isfinite(landmarks[:, :, :2]).all(axis=(1, 2))
    face = face_frame(landmarks)
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    smile, pucker, info = mouth_drivers(face, valid, max(1, int(round(SMOOTH_S / dt))))
    opening_r, opening_l, eye_info = eye_openings(face, valid)
    closure = np.nan_to_num(np.clip(1.0 - (opening_r + opening_l) / 2.0, 0.0, 1.0), nan=0.0)
    events = (mouth_events(t, smile, "smile") + mouth_events(t, pucker, "pucker")
              + closure_events(t, opening_r, opening_l))
    events.sort(key=lambda e: e[1])
    return Drivers(t, valid, np.where(valid, smile, 0.0), np.where(valid, pucker, 0.0), closure, opening_r,
                   opening_l, events, {**info, **eye_info})
