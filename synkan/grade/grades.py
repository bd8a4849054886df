"""Per-direction, per-side scores, the side difference, grades and QC.

Healthy people narrow both eyes in a genuine smile (about 22% +/- 13%), so a
one-sided amount means little on its own: the scores compare sides. The
grade thresholds live in :mod:`synkan.config`; they are heuristic, not
clinically validated. Too little data gives ``None`` plus a warning, never 0.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..config import (
    ASYMMETRY_Z, GRADE_ASYMMETRY_PP, GRADE_MAX_ABS_LAG_S, GRADE_MIN_R, GRADE_NAMES, HEALTHY_ASYMMETRY_PP, LOCKED_R_FRACTION, MAX_ABS_ROLL_DEG, MAX_ABS_YAW_DEG, MAX_UPRIGHT_ROLL_DEG, MIN_EYE_WIDTH_PX, MIN_FACE_FRACTION, SIDEWAYS_GAZE_WARN_FRACTION,
)
from ..measure.mesh import EYE_L, EYE_R
from .coupling import Coupling, SideCoupling, xcorr_peak
from .series import normalized_xcorr, peak_masks, value_at_peaks
from .events import Events, mouth_driver
from ..measure.signals import Signals
from ..measure.tracking import Track

OTHER = {"right": "left", "left": "right"}
DIRECTION_LABELS = {"oral_ocular": "Oral-ocular", "ocular_oral": "Ocular-oral"}


@dataclass(frozen=True)
class Scores:
    """The ``scores``, ``qc`` and ``warnings`` sections of report.json."""

    scores: dict
    qc: dict
    warnings: list[str] = field(default_factory=list)


def is_locked(r: float | None, lag_s: float | None) -> bool:
    """Whether a correlation peak counts as time-locked: r >= GRADE_MIN_R within +/- GRADE_MAX_ABS_LAG_S.

    Examples
    --------
    >>> is_locked(0.5, 0.1), is_locked(0.2, 0.0), is_locked(0.9, 0.45), is_locked(None, None)
    (True, False, False, False)
    """
    return (r is not None and lag_s is not None and np.isfinite(r) and r >= GRADE_MIN_R
            and abs(lag_s) <= GRADE_MAX_ABS_LAG_S + 1e-9)


def grade(asymmetry_pp: float | None, r: float | None, lag_s: float | None = 0.0, direction: str = "oral_ocular") -> int | None:
    """Heuristic grade 0-3 from the side difference and the affected side's coupling.

    A responder that is not time-locked to the driver (weak ``r`` or a long
    ``lag_s``) is graded 0 whatever its amplitude.

    Examples
    --------
    >>> grade(30.0, 0.9), grade(10.0, 0.9), grade(30.0, 0.1), grade(30.0, 0.9, 0.45), grade(None, 0.5)
    (3, 1, 0, 0, None)
    >>> grade(4.0, 0.9, direction="ocular_oral")
    2
    """
    if asymmetry_pp is None or r is None:
        return None
    if not is_locked(r, lag_s):
        return 0
    return int(np.searchsorted(GRADE_ASYMMETRY_PP[direction], asymmetry_pp, side="right"))


def time_locked(side: SideCoupling) -> tuple[float | None, float | None]:
    """``(r, lag_s)`` to grade by: the best r within +/- ``GRADE_MAX_ABS_LAG_S``, unless the overall peak is clearly higher.

    Slow movements (a smile held for seconds) give a broad correlation
    plateau whose maximum can sit anywhere on it, even at the edge of the lag
    window. A responder whose r within the physiological lag window is within
    :data:`~synkan.config.LOCKED_R_FRACTION` of its overall peak is time-locked;
    otherwise the overall peak (and its long lag) is returned.

    Examples
    --------
    >>> lags = np.linspace(-0.5, 0.5, 11)
    >>> plateau = SideCoupling(0.74, -0.5, 1.0, 30.0, 3, lags, np.linspace(0.74, 0.54, 11))
    >>> [round(x, 3) for x in time_locked(plateau)]
    [0.7, -0.3]
    >>> late = SideCoupling(0.9, 0.5, 1.0, 30.0, 3, lags, np.r_[np.full(10, 0.1), 0.9])
    >>> time_locked(late)
    (0.9, 0.5)
    """
    if side.r is None or not len(side.xcorr):
        return side.r, side.lag_s
    inside = (np.abs(side.lags_s) <= GRADE_MAX_ABS_LAG_S + 1e-9) & np.isfinite(side.xcorr)
    if not inside.any():
        return side.r, side.lag_s
    k = int(np.flatnonzero(inside)[np.argmax(side.xcorr[inside])])
    if side.xcorr[k] >= LOCKED_R_FRACTION * side.r and abs(side.lag_s) > GRADE_MAX_ABS_LAG_S:
        return float(side.xcorr[k]), float(side.lags_s[k])
    return side.r, side.lag_s


def difference_time_locked(coupling: Coupling, side: str) -> tuple[float | None, float | None]:
    """``(r, lag_s)`` of the side difference (``side`` minus the other side) with the driver, as :func:`time_locked`.

    What is graded is the side difference, so its own time-locking is
    evidence of synkinesis too. It matters when the healthy pattern moves the
    other way: a person whose eyes widen as they smile, with one eye also
    pulled shut, has an affected eye that barely correlates with the smile
    while its difference from the other eye follows the smile closely.
    Lags are searched over the same window as the side's own correlation.

    Examples
    --------
    >>> import pandas as pd
    >>> t = np.arange(0, 6, 0.05); smile = np.exp(-((t - 3) / 0.5) ** 2)
    >>> widen = -0.3 * smile  # both eyes widen with the smile; the left one is also pulled shut
    >>> c = Coupling("oral_ocular", {"left": SideCoupling(0.1, 0.0, None, None, 1, np.linspace(-0.5, 0.5, 21), np.zeros(21))},
    ...              t, smile, {"left": widen + 0.28 * smile, "right": widen}, np.ones(len(t), bool), None,
    ...              pd.DataFrame({"start_s": [2.0], "end_s": [4.0]}))
    >>> [round(x, 2) for x in difference_time_locked(c, "left")]
    [1.0, 0.0]
    """
    own = coupling.sides[side]
    if not len(own.lags_s):
        return None, None
    dt = float(np.median(np.diff(coupling.t)))
    difference = coupling.responders[side] - coupling.responders[OTHER[side]]
    return time_locked(xcorr_peak(*normalized_xcorr(coupling.driver, difference, coupling.window, len(own.lags_s) // 2), dt))


def side_difference(coupling: Coupling, affected: str | None = None) -> tuple[str, float, float | None] | None:
    """``(affected side, asymmetry_pp, asymmetry_se_pp)`` from the events' paired side differences, or None.

    Each driver event gives one left-minus-right difference at its peak
    frames, both sides on the same frames, so what varies from event to event
    on both sides alike (a bigger laugh) cancels. The asymmetry is the median
    over events of the affected minus the other side (the affected side,
    unless given, is the one this median favours).
    Its standard error comes from the variation between events, SD / sqrt(n)
    (part of that spread is real: synkinesis grows with the strength of each
    smile, so this errs on the cautious side). A single event has no between-event spread; its
    frame-to-frame SD over the peak frames stands in (not divided by
    sqrt(frames): neighbouring frames are not independent).

    Examples
    --------
    >>> import pandas as pd
    >>> t = np.arange(0, 6, 0.1); bump = lambda c: np.exp(-((t - c) / 0.3) ** 2)
    >>> c = Coupling("oral_ocular", {}, t, bump(1) + bump(4), {"left": np.where(t < 2.5, 0.3, 0.1), "right": 0 * t},
    ...              np.ones(len(t), bool), None, pd.DataFrame({"start_s": [0.5, 3.5], "end_s": [1.5, 4.5]}))
    >>> side, asymmetry, se = side_difference(c)  # events of 30 and 10 pp: median 20, SD 14.1
    >>> side, round(asymmetry, 1), round(se, 1)
    ('left', 20.0, 10.0)
    """
    left, right = coupling.responders["left"], coupling.responders["right"]
    masks = peak_masks(coupling.t, coupling.driver, coupling.driver_events, left, right)
    differences = np.array([100 * (np.median(left[m]) - np.median(right[m])) for m in masks])
    if not len(differences):
        return None
    median = float(np.median(differences))
    side = affected or ("left" if median > 0 else "right")
    sign = 1.0 if side == "left" else -1.0
    if len(differences) >= 2:
        se = float(np.std(differences, ddof=1)) / float(np.sqrt(len(differences)))
    else:
        frames = masks[0]
        se = float(np.std(100 * (left[frames] - right[frames]), ddof=1)) if frames.sum() >= 2 else None
    return side, sign * median, se


def score_direction(coupling: Coupling, affected: str | None = None) -> dict:
    """report.json's entry for one direction: both sides, affected side, asymmetry and grade.

    Parameters
    ----------
    coupling : Coupling
    affected : {"right", "left"}, optional
        The known affected side; otherwise the side with more involuntary
        movement (see :func:`side_difference`).
    """
    right, left = coupling.sides["right"], coupling.sides["left"]
    entry = {"right": right.to_dict(), "left": left.to_dict(), "affected_side": None, "asymmetry_pp": None,
             "asymmetry_se_pp": None, "asymmetry_r": None, "asymmetry_lag_s": None,
             "healthy_max_pp": HEALTHY_ASYMMETRY_PP[coupling.direction],
             "grade": None, "grade_name": None}
    found = side_difference(coupling, affected) if right.involuntary_pct is not None and left.involuntary_pct is not None else None
    if found is None:
        return entry
    side, asymmetry, se = found
    # Time-locked means the affected side's responder, or its difference from
    # the other side, follows the driver: whichever shows it more clearly.
    r_difference, lag_difference = difference_time_locked(coupling, side)
    locked = max([time_locked(coupling.sides[side]), (r_difference, lag_difference)],
                 key=lambda rl: rl[0] if is_locked(*rl) else -np.inf)
    # Grade the asymmetry one standard error below its estimate, so that one
    # noisy event does not make a grade.
    g = grade(asymmetry - ASYMMETRY_Z * (se or 0.0), *locked, coupling.direction)
    entry.update(affected_side=side, asymmetry_pp=round(float(asymmetry), 2),
                 asymmetry_se_pp=None if se is None else round(se, 2),
                 asymmetry_r=None if r_difference is None else round(r_difference, 3),
                 asymmetry_lag_s=None if lag_difference is None else round(lag_difference, 4), grade=g,
                 grade_name=GRADE_NAMES[g] if g is not None else None)
    return entry


def eface_ocular_synkinesis(signals: Signals, events: Events, affected: str | None) -> tuple[float | None, str | None]:
    """eFACE-style ocular synkinesis, 0-100 (100: none), or None with a reason.

    ``100 * min(affected / healthy eye aperture during smile, the same during
    pucker)``, clipped to [0, 100]. Apertures are relative to each eye's own
    rest (``1 - eye_closure``), so a static lid asymmetry does not count as
    synkinesis. Without a known affected side, the side whose eye narrows
    more is taken.
    """
    t = signals.t
    ratios = []
    for kind in ("smile", "pucker"):
        rows = events.of(kind)
        if rows.empty:
            continue
        driver = mouth_driver(signals)
        aperture = {side: value_at_peaks(t, driver, 1.0 - signals[f"eye_closure_{side[0]}"], rows)[0] for side in ("right", "left")}
        if not all(np.isfinite(v) and v > 0 for v in aperture.values()):
            continue
        side = affected or min(aperture, key=aperture.get)
        ratios.append(aperture[side] / aperture[OTHER[side]])
    if not ratios:
        return None, "eFACE ocular synkinesis: no smile or pucker found"
    return round(float(np.clip(100.0 * min(ratios), 0.0, 100.0)), 1), None


def qc_summary(track: Track, signals: Signals, events: Events) -> dict:
    """Quality control: face found, head rotation, frames left out, events per kind."""
    data = signals.data
    valid = data["valid"].to_numpy()
    absmax = lambda c: round(float(np.nanmax(np.abs(data[c][valid]))), 1) if valid.any() else None  # noqa: E731
    return {
        "face_fraction": round(track.face_fraction, 4),
        "frames": int(len(track)),
        "frames_without_face": int((~track.valid).sum()),
        "frames_multiple_faces": int((track.n_faces > 1).sum()),
        "max_abs_yaw_deg": absmax("yaw_deg"),
        "max_abs_pitch_deg": absmax("pitch_deg"),
        "max_abs_roll_deg": absmax("roll_deg"),
        "frames_large_rotation": int((valid & ~data["pose_ok"].to_numpy()).sum()),
        "frames_gaze_sideways": int((valid & ~data["gaze_ok"].to_numpy(bool)).sum()) if "gaze_ok" in data else 0,
        "rest_frames": signals.info.get("rest_frames"),
        "laterality": signals.info.get("laterality"),
        "mirror_fraction": round(float(signals.info.get("mirror_fraction", 0.0)), 4),
        # Frames that fell back to the plain pass, by reason (yaw, gaze, no face in a composite, midline fit).
        "mirror_gate": signals.info.get("mirror_gate", {}),
        "mirror_midline_residual_median": (None if signals.info.get("mirror_residual_median") is None
                                           else round(float(signals.info["mirror_residual_median"]), 4)),
        "eye_width_px": _eye_width_px(track),
        "camera_roll_deg": None if (roll := camera_roll_deg(track)) is None else round(roll, 1),
        "events": events.counts(),
    }


def _eye_width_px(track: Track) -> float | None:
    """Median corner-to-corner eye width in video pixels (the lids' resolution)."""
    corners = track.landmarks[:, [EYE_R[0], EYE_R[3], EYE_L[0], EYE_L[3]], :2][track.valid].astype(float)
    if not len(corners):
        return None
    widths = (np.linalg.norm(corners[:, 0] - corners[:, 1], axis=1) + np.linalg.norm(corners[:, 2] - corners[:, 3], axis=1)) / 2
    return round(float(np.median(widths)), 1)


def scores_process(track: Track, signals: Signals, events: Events, couplings: dict[str, Coupling], affected: str | None = None) -> Scores:
    """Scores, QC and warnings for report.json.

    Parameters
    ----------
    track, signals, events
        The earlier stages' outputs.
    couplings : dict
        ``{"oral_ocular": Coupling, "ocular_oral": Coupling}``.
    affected : {"right", "left"}, optional
        The known affected side.
    """
    qc = qc_summary(track, signals, events)
    warnings: list[str] = []
    scores: dict = {}
    refusal = not_scorable(track, qc)
    enough_face = refusal is None
    if refusal:
        warnings.append(refusal)
    for direction, coupling in couplings.items():
        entry = score_direction(coupling, affected)
        if not enough_face:
            entry = score_direction(_empty(coupling, refusal))
        elif coupling.reason:
            warnings.append(f"{DIRECTION_LABELS[direction]}: {coupling.reason}; scores are null")
        scores[direction] = entry
    eface_side = affected or scores.get("oral_ocular", {}).get("affected_side")
    eface, reason = eface_ocular_synkinesis(signals, events, eface_side) if enough_face else (None, None)
    if reason:
        warnings.append(reason)
    scores["eface_ocular_synkinesis"] = eface
    if qc["frames_large_rotation"]:
        warnings.append(f"{qc['frames_large_rotation']} frames with head rotation beyond yaw {MAX_ABS_YAW_DEG:.0f} deg or "
                        f"roll {MAX_ABS_ROLL_DEG:.0f} deg were left out of coupling")
    if qc["frames_gaze_sideways"] > SIDEWAYS_GAZE_WARN_FRACTION * max(qc["frames"], 1):
        warnings.append(f"the eyes looked sideways (beyond about 15 deg) in {qc['frames_gaze_sideways']} frames; "
                        "those frames were left out of the eye measurements")
    if qc["eye_width_px"] is not None and qc["eye_width_px"] < MIN_EYE_WIDTH_PX:
        warnings.append(f"the eyes are only {qc['eye_width_px']:.0f} px wide (record closer: below {MIN_EYE_WIDTH_PX:.0f} px "
                        "one pixel is over a tenth of the lid opening); eye measurements are imprecise")
    if qc["frames_multiple_faces"]:
        warnings.append(f"more than one face in {qc['frames_multiple_faces']} frames; the patient was followed by position")
    return Scores(scores, qc, warnings)


def camera_roll_deg(track: Track) -> float | None:
    """Median roll of the face in the image, degrees (0: upright), from MediaPipe's face transformation.

    Unlike the signals' roll, which is relative to the video's own rest pose,
    this one is absolute: a face lying sideways reads about +/-90.
    """
    m = track.pose_matrix[track.valid].astype(float)
    roll = np.degrees(np.arctan2(m[:, 1, 0], m[:, 0, 0]))
    roll = roll[np.isfinite(roll)]
    return float(np.median(roll)) if len(roll) else None


def not_scorable(track: Track, qc: dict) -> str | None:
    """Why a video must not be scored at all (too little face, a face that is not upright), or None."""
    if track.face_fraction < MIN_FACE_FRACTION:
        return f"face found in only {100 * track.face_fraction:.0f}% of frames (minimum {100 * MIN_FACE_FRACTION:.0f}%): no scores"
    roll = qc.get("camera_roll_deg")
    if roll is not None and abs(roll) > MAX_UPRIGHT_ROLL_DEG:
        turn = int(round(roll / 90.0)) * 90 % 360
        return (f"the face is not upright (turned {abs(roll):.0f} deg in the image): the video's rotation metadata is "
                f"probably wrong; no scores (re-run with --rotate {turn or 180})")
    return None


def _empty(coupling: Coupling, reason: str) -> Coupling:
    blank = {side: SideCoupling(None, None, None, None, 0) for side in coupling.sides}
    return Coupling(coupling.direction, blank, coupling.t, coupling.driver, coupling.responders, coupling.window, reason,
                    coupling.driver_events)
