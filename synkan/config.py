"""Analysis settings and every threshold, in one place.

All thresholds below are heuristics chosen from physiology (blink durations,
smile dynamics) or from sweeps on synthetic ground-truth videos; none is
clinically validated. Change them here, or per run through :class:`Settings`.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._util.files import read_regular_text
from .errors import InputError

# --- Anatomy ---------------------------------------------------------------
# The visible iris diameter is nearly constant between adults, about 11.77 mm
# (the value Emotrics uses to calibrate facial photographs): landmark
# distances divided by it and multiplied by 11.77 are millimetres.
IRIS_DIAMETER_MM = 11.77

# --- Cleaning -----------------------------------------------------------------
LOWPASS_CUTOFF_HZ = 6.0  # facial movements of interest are < 5 Hz; blinks ~ 3 Hz content
# The shortest movement the signals must keep: a blink, and the mouth-corner
# twitch locked to it, last 100-400 ms. A 100-ms twitch needs the band up to
# 1 / TWITCH_MIN_S = 10 Hz (a zero-phase 2nd-order Butterworth there keeps 0.8
# of its peak; at 6 Hz, 0.6). When the frame rate's Nyquist frequency lies
# inside that band (below 20 frames/s) the samples hold movement, not jitter
# above it, so they are not low-passed: at 15 frames/s a twitch is 1-2 frames.
TWITCH_MIN_S = 0.1
MAX_GAP_S = 0.25  # interpolate missing frames up to this gap; longer stays NaN
REST_QUANTILE = 0.2  # rest = median of the quietest 20% of frames (by motion energy)

# --- Events -------------------------------------------------------------------
BLINK_MAX_S = 0.5  # normal blinks last 100-400 ms; >= 0.5 s is a voluntary closure
SMILE_MIN_S = 0.3
PUCKER_MIN_S = 0.3
EVENT_MIN_GAP_S = 0.15  # merge events of one kind closer than this
# Hysteresis thresholds as fractions of the signal's own robust range,
# floored by absolute minima so a still face yields no events at all.
HYSTERESIS_HIGH = 0.5
HYSTERESIS_LOW = 0.25
LOW_FLOOR_FRACTION = 2 / 3  # the low threshold's floor, as a fraction of the high one's
# Bilateral closure (1 - EAR/EAR_rest) that counts as an eye event. A healthy
# Duchenne smile narrows both eyes by about 22% +/- 13%; the low floor (0.3)
# sits above most of that, so smiles do not merge with blinks.
EYE_CLOSURE_MIN = 0.45
SMILE_MIN_EXCURSION = 0.04  # mouth-corner excursion, in inter-canthal distances
PUCKER_MIN_NARROWING = 0.08  # 1 - width/width_rest
# --- Clinical movements (synkan.grade.movements) ------------------------------------
# A voluntary brow raise lifts the brows 8-12 mm (about 0.15 IOD); an eye
# closure moves the mesh's eye centre and with it the brow-to-eye distance
# by up to ~0.025 IOD. 0.04 IOD (~2.5 mm) lies between the two.
BROW_RAISE_MIN_IOD = 0.04
# A tight closure squeezes with the orbital part of orbicularis oculi: the
# brows come down and the cheeks up. Cheek rise minus brow rise at the
# closure's peak of at least this (~2 mm) makes it tight; a gentle closure
# reads about -0.025 (the eye-centre artefact above).
TIGHT_SQUEEZE_IOD = 0.03
# Lips parted by this much more than at rest (~3 mm, the teeth show) make a
# smile open-mouthed.
OPEN_MOUTH_GAP_IOD = 0.05
# Snarl driver: upper-lip rise minus this times the corners' outward
# movement. A snarl (levator labii superioris alaeque nasi) lifts the lip
# while the corners stay nearly still; a smile moves them out. Checked on the
# 15 real healthy videos: at their smiles' peaks the lip rises 0.5-1.1 times
# as much as the corners move, and a child's and some closed smiles lift the
# corners up more than out, so this driver reaches 0.02-0.18 IOD in real
# smiles (0.06 in the synthetic snarl): no weight separates the two. So a
# snarl never claims a smile's or a pucker's frames (movements._own_runs):
# the geometry only has to tell a lip lift from rest. Unchanged from 2.0,
# which keeps the synthetic snarl (the corners move slightly in) well above
# SNARL_MIN_IOD.
SNARL_LATERAL_WEIGHT = 2.0
SNARL_MIN_IOD = 0.03
# A voluntary brow raise (frontalis) rises from rest, is held for the
# protocol's few seconds and returns: the instruction sheet asks for a 3 s
# hold, and twice that allows for slow patients. A longer raised stretch is
# a resting posture (a face that rests with its brows up) or slow drift of
# the brow-to-eye distance, not the movement; so is a snarl held that long
# (a grimace carried through speech). Physiology, not tuned on any video.
VOLUNTARY_MAX_S = 6.0
# The brows are measured against a baseline that follows slow drift: their
# running median over this window. Three maximal raises long, so a raise
# never fills more than a third of the window and the median stays at rest.
BROW_BASELINE_S = 3 * VOLUNTARY_MAX_S
# A voluntary eye closure happens without the mouth movement. A detected
# closure that overlaps smiles or puckers for more than this fraction of its
# own duration is their oral-ocular response (synkinesis, or a laughing
# squint), however large, and is never masked as voluntary; a closure that
# merely brushes a smile's edge (a closure released as a smile starts) stays
# voluntary. See events.responses for the mirror rule (ocular-oral).
RESPONSE_MIN_OVERLAP = 0.2

# --- Coupling -----------------------------------------------------------------
LAG_WINDOW_S = 0.5
PEAK_FRACTION = 0.8  # an event's "peak" is where the driver is within 80% of its maximum
EVENT_PAD_S = 0.5  # context kept around driver events for cross-correlation
BLINK_MASK_PAD_S = 0.1
MIN_EVENTS = 1  # fewer driver events than this -> null scores
# A lag's r is the Pearson r of its own in-window pairs: with fewer pairs than
# this (1/3 s at 30 fps) it is noise, so that lag gets NaN. Pairs whose spread
# is below this fraction of the window's variance (a flat stretch) likewise.
MIN_LAG_PAIRS = 10
MIN_LAG_VARIANCE = 1e-6

# --- Quality control -----------------------------------------------------------
MAX_ABS_YAW_DEG = 30.0  # frames beyond this are left out of coupling
MAX_ABS_PITCH_DEG = 30.0
MAX_ABS_ROLL_DEG = 25.0
MIN_FACE_FRACTION = 0.5  # below this share of frames with a face, scores are null
# A face turned more than this in the image (absolute roll, not relative to
# rest) means wrong rotation metadata: sides and smiles cannot be trusted.
MAX_UPRIGHT_ROLL_DEG = 45.0
# An open fissure is about a third of the eye's width: at 25 px wide it is ~8 px
# tall, and one pixel is over a tenth of it. Narrower eyes get a warning.
MIN_EYE_WIDTH_PX = 25.0
MIRROR_MAX_ABS_YAW_DEG = 15.0  # mirrored composites of a turned head are implausible
# A mirrored eye gazes the opposite way: when both eyes turn sideways by c
# (conjugate gaze, relative to rest), each composite's vergence is off by c
# (cross- or wall-eyed), and the landmarker misreads its lids. Frames whose
# conjugate gaze (mean iris-centre shift along the eyes' corner axes, in eye
# widths) exceeds this use the plain pass. 0.04 eye widths is ~1.2 mm of iris
# travel, ~6 deg of eye rotation (eyeball radius ~12 mm, palpebral fissure
# ~30 mm). The synthetic gaze sweep (synkan.validation.synthetic.gaze_sweep: irises moved
# on the synth still) gives a false mirror |R-L| of mostly <= 0.04 below this
# and 0.04-0.2 beyond, against a control tolerance of 0.05; plain <= 0.06.
MIRROR_MAX_GAZE_EW = 0.04
# Beyond about 15 deg of horizontal gaze (0.1 eye widths of iris travel) the
# lid fissures change shape with the gaze itself, and unequally on the two
# sides (abducting vs adducting eye): those frames are left out of the
# oral-ocular responder in either laterality mode.
EYE_MAX_GAZE_EW = 0.1
SIDEWAYS_GAZE_WARN_FRACTION = 0.1  # warn when more frames than this look sideways
# A midline error of 0.2 eye widths moves readings by up to 0.06; frames whose
# midline landmarks scatter more than this (RMS, eye widths) use the plain pass.
MIRROR_MAX_RESIDUAL_EW = 0.1

# --- Grading (heuristic, not clinically validated) ------------------------------
# Grade from the side difference in involuntary amplitude (percentage points),
# given the affected side's responder is time-locked to the driver (r >= GRADE_MIN_R).
GRADE_MIN_R = 0.3
GRADE_MAX_ABS_LAG_S = 0.3  # synkinesis is time-locked: a responder lagging more is not graded
# ...unless its r within that window is this close to its overall peak: slow,
# held movements give a broad correlation plateau whose maximum may sit anywhere.
LOCKED_R_FRACTION = 0.9
# --- What a recording can conclude (synkan.grade.detection, synkan.grade.normative) ---
# A side difference is judged against its recording's own 95% interval
# (CONFIDENCE), Bonferroni-corrected over the movements tested; the interval
# pools the recording's between-event SD with the healthy one of that
# movement, which counts as PRIOR_DF degrees of freedom (a prior worth about
# five repetitions: one or two events still give an interval, a wide one).
CONFIDENCE = 0.95
PRIOR_DF = 4
# A recording that is not conclusive asks for at most this many repetitions in all.
MAX_REPETITIONS_ASKED = 10
# The healthy limit of each movement's side difference is this percentile of
# the per-person side differences of healthy people (synkan/data/normative.json),
# the movement's own when at least NORMATIVE_MIN_PEOPLE people made it,
# else its direction's, pooled over movements.
NORMATIVE_PERCENTILE = 95.0
NORMATIVE_MIN_PEOPLE = 5
# No healthy limit is below these, however alike the reference's people:
# oral-ocular 5 pp (half a millimetre of a ~10 mm fissure, below what a
# clinician sees); ocular-oral 1 IOD-% (about 0.6 mm of corner movement, two
# pixels of a webcam face: tracking jitter).
LIMIT_FLOOR = {"oral_ocular": 5.0, "ocular_oral": 1.0}
# Grades 1-3 (mild, moderate, severe) start at these multiples of the healthy
# limit. Oral-ocular: from a 10 pp limit each further grade adds about one
# Sunnybrook synkinesis point, 0.77 mm of fissure change in a smile
# (PRS 2013) of a ~10 mm fissure, i.e. 8 pp (10, 18, 26 pp). Ocular-oral
# (points of inter-ocular distance): a full voluntary smile moves the corner
# about 20-25 IOD-%, and grades double (1.5, 3, 6 IOD-% from a 1.5 limit).
GRADE_STEPS = {"oral_ocular": (1.0, 1.8, 2.6), "ocular_oral": (1.0, 2.0, 4.0)}
GRADE_NAMES = ("none", "mild", "moderate", "severe")
# Fewer events than this give no standard error in the report: two differences say little about their spread.
MIN_EVENTS_FOR_SE = 3

# --- Clinical scales (synkan.grade.matrix, synkan.grade.scales; measured estimates) ---------
# Largest side difference of each region's involuntary movement (mm) expected
# in healthy faces. Eye: 10 pp of a ~10 mm fissure, the oral-ocular grade's
# healthy limit above (healthy real faces differ by 6-11 pp). The others: on
# the six real healthy videos (every movement they hold, every region) the
# largest side difference less one SE was 0.92 mm (eye, during a brow raise),
# 0.85 brow, 0.74 mouth corner, 0.57 upper lip, 0.55 chin, 0.30 cheek; 1 mm
# (about three pixels of a webcam face) covers them all.
HEALTHY_SIDE_DIFFERENCE_MM = {"brow": 1.0, "eye": 1.0, "midface": 1.0, "mouth": 1.0, "upper_lip": 1.0, "chin": 1.0}
# One Sunnybrook synkinesis point (0-3 per movement) per this many mm of
# side difference beyond the healthy range: 0.77 mm of fissure change in a
# smile and 1.0 mm in a pucker (PRS 2013); the other movements and regions
# take the pucker's (larger, more cautious) 1.0 mm.
SUNNYBROOK_MM_PER_POINT = {"smile": 0.77, "pucker": 1.0}
SUNNYBROOK_DEFAULT_MM_PER_POINT = 1.0
# The regions whose involuntary movement is each Sunnybrook movement's
# synkinesis: those the movement itself does not use (a smile lifts the cheek
# and upper lip by itself; a closure moves the brow-eye distance).
SYNKINESIS_REGIONS = {"brow_raise": ("eye", "midface", "mouth", "upper_lip", "chin"),
                      "gentle_eye_closure": ("midface", "mouth", "upper_lip", "chin"),
                      "smile": ("brow", "eye", "chin"), "snarl": ("brow", "eye", "chin"),
                      "pucker": ("brow", "eye", "midface", "chin")}
# Sunnybrook voluntary movement 1-5 (unable to initiate, slight, mild
# excursion, almost complete, complete) from the affected side's movement as
# a share of the healthy side's: >= each bound gives the next grade.
# Heuristic: the scale is defined by eye, not by a ratio.
SUNNYBROOK_VOLUNTARY_RATIO = (0.1, 0.3, 0.6, 0.85)
# eFACE synkinesis items (0-100, 100 = none) fall linearly from 100 at the
# healthy range to 0 at this many Sunnybrook points beyond it (severe).
EFACE_ZERO_POINTS = 3.0

# --- Cheek and chin skin texture (synkan.measure.texture) -------------------------
# Rows of the rest template (synkan.measure.texture.TEMPLATE_FRACTION) used per
# region, as fractions of its height from the top. The chin patch is centred on the chin pad, and its upper
# half holds
# the lower lip, which an open-mouth smile moves down with the jaw: on real
# faces the whole template followed the lip (a known 3 mm chin lift read as
# -1.2 to +0.7 of itself, median about zero, over four videos; out/validate
# scales_real) instead of the skin. Below the centre lies the chin boss that
# mentalis lifts; with only that half, the same lifts read 0.34-0.77 of
# themselves and the synthetic chin lifts more than before.
TEMPLATE_ROWS = {"cheek": (0.0, 1.0), "chin": (0.5, 1.0)}
# The rest template's fine texture (grey-level SD after removing shading
# smoother than SHADING_SIGMA_PX) must exceed this: below it the correlation
# peak follows lighting and noise, not skin. The synthetic face's cheeks and
# chin have 2.8-4.0; real faces 0.7-4.8 (beauty-filtered and low-light
# cheeks lowest). Sweep on four real healthy videos, untouched and with a
# known one-sided chin lift on each side (synth --from-video --k-chin 1;
# validate --scales --real): at 2.0 two of the eight lifted chins fell back
# to the mesh (7% and 10% of the lift seen); at 1.5 a patch near the floor
# was on in the untouched video and off in the lifted one (the lift read as
# 87% on the wrong side); at 1.0 all eight measured 34-77% of the lift; the
# untouched videos stayed at a Sunnybrook total of 0 down to 1.0, and one
# reached 2 at 0.5.
MIN_TEXTURE_GREY = 1.0

#: A settings file is a few hundred bytes; a larger one is not a settings file.
MAX_SETTINGS_BYTES = 1_000_000
LATERALITY_MODES = ("pixel", "mirror", "plain")
PROTOCOL_NAMES = ("sunnybrook", "bell")  # synkan.grade.protocols.PROTOCOLS


def check_fields(data: Any, cls: type, source: str, required: tuple[str, ...] = ()) -> None:
    """Raise a one-line :class:`InputError` unless ``data`` is a dict of ``cls``'s fields with ``required``
    present."""
    if not isinstance(data, dict):
        raise InputError(f"{source} must hold a JSON object, not {type(data).__name__}")
    unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise InputError(f"{source}: unknown keys {sorted(unknown)}")
    missing = set(required) - set(data)
    if missing:
        raise InputError(f"{source}: missing keys {sorted(missing)}")


def _whole(x: Any) -> bool:
    """A whole number (not a bool, which JSON ``true`` would give)."""
    return isinstance(x, int) and not isinstance(x, bool)


def _number_in(x: Any, lo: float, hi: float) -> bool:
    """A real number (not a string or bool) within [lo, hi]."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and lo <= float(x) <= hi


@dataclass(frozen=True)
class Settings:
    """Analysis settings; the defaults suit a frontal clinic video.

    Parameters
    ----------
    laterality : {"pixel", "mirror", "plain"}
        How the lids are measured. ``pixel`` (default) finds the lid margins
        in the image (:mod:`synkan.measure.eyelids`), so a one-sided narrowing is
        neither under-read nor smeared onto the other eye by the mesh's
        symmetric prior; ``plain`` uses the mesh's lid points; ``mirror``
        adds two hemiface-mirrored landmark passes (about 3x slower). The
        mesh estimate is always kept as ``eye_closure_plain_*``.
    stride : int
        Analyse every ``stride``-th frame.
    max_size : int
        Frames whose longer side exceeds this many pixels are downscaled
        before landmarking; landmarks are returned in original pixels.
    rotate : int or None
        Force a clockwise rotation (90, 180, 270) instead of the file's
        rotation metadata.
    cutoff_hz : float
        Zero-phase low-pass cutoff for the signals.
    lag_window_s : float
        Cross-correlation lags searched, +/- seconds.
    affected : {"right", "left"} or None
        Known affected side; otherwise the side with more involuntary movement.
    segments : str or None
        A user protocol, e.g. ``"smile:2-5,close:7-9"``; overrides detection.
    protocol : {"sunnybrook", "bell"} or None
        The movement sequence the video follows (:mod:`synkan.grade.protocols`):
        each movement is named by its place in it.
    normative : str or None
        A healthy reference file (:mod:`synkan.grade.normative`) instead of
        the shipped one, e.g. one built without the person tested.
    rest : str or None
        A rest segment ``"START-END"`` in seconds (the face relaxed), e.g.
        a live session's calibration; otherwise rest is found in the video.
    """

    laterality: str = "pixel"
    stride: int = 1
    max_size: int = 1280
    rotate: int | None = None
    cutoff_hz: float = LOWPASS_CUTOFF_HZ
    lag_window_s: float = LAG_WINDOW_S
    affected: str | None = None
    segments: str | None = None
    protocol: str | None = None
    normative: str | None = None
    rest: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.laterality, str) or self.laterality not in LATERALITY_MODES:
            raise InputError(f"laterality must be one of {LATERALITY_MODES}, not {self.laterality!r}")
        if not _whole(self.stride) or self.stride < 1:
            raise InputError(f"stride must be a whole number >= 1, not {self.stride!r}")
        if not _whole(self.max_size) or self.max_size < 64:
            raise InputError(f"max_size must be a whole number of pixels >= 64, not {self.max_size!r}")
        if self.rotate is not None and (not _whole(self.rotate) or self.rotate not in (0, 90, 180, 270)):
            raise InputError(f"rotate must be 0, 90, 180 or 270, not {self.rotate!r}")
        if not _number_in(self.cutoff_hz, 0.5, 15.0):
            raise InputError(f"cutoff_hz must be between 0.5 and 15, not {self.cutoff_hz!r}")
        if not _number_in(self.lag_window_s, 0.05, 2.0):
            raise InputError(f"lag_window_s must be between 0.05 and 2, not {self.lag_window_s!r}")
        if self.affected is not None and self.affected not in ("right", "left"):
            raise InputError(f"affected must be 'right' or 'left', not {self.affected!r}")
        if self.segments is not None and not isinstance(self.segments, str):
            raise InputError(f"segments must be a text like \"smile:2-5,close:7-9\" or a file path, not {self.segments!r}")
        if self.normative is not None and not isinstance(self.normative, str):
            raise InputError(f"normative must be the path of a reference file, not {self.normative!r}")
        if self.protocol is not None and self.protocol not in PROTOCOL_NAMES:
            raise InputError(f"protocol must be one of {PROTOCOL_NAMES}, not {self.protocol!r}")
        if self.rest is not None:
            self.rest_span_s()

    def rest_span_s(self) -> tuple[float, float] | None:
        """The rest segment as ``(start, end)`` seconds, or None.

        Examples
        --------
        >>> Settings(rest="0-3.5").rest_span_s()
        (0.0, 3.5)
        """
        if self.rest is None:
            return None
        try:
            start, end = (float(x) for x in str(self.rest).split("-"))
        except ValueError:
            start = end = float("nan")
        if not (0 <= start < end < float("inf")):
            raise InputError(f"rest must be a segment START-END in seconds, like 0-3, not {self.rest!r}")
        return start, end

    def to_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (for report.json and batch resume keys)."""
        return dataclasses.asdict(self)

    def tracking_key(self) -> dict[str, Any]:
        """The settings that change landmark tracking (a cached track is reusable if equal).

        Also which image patches the track stores: the eyes' (not for plain
        laterality) and the cheeks' and chin's (with them, for a protocol).
        """
        key = {k: getattr(self, k) for k in ("laterality", "stride", "max_size", "rotate")}
        key["eye_patches"] = self.laterality != "plain"
        key["skin_patches"] = key["eye_patches"] and self.protocol is not None
        return key

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> "Settings":
        """Read settings from a JSON file; keyword overrides win."""
        try:
            data = json.loads(read_regular_text(path, MAX_SETTINGS_BYTES, "settings file"))
        except InputError as exc:
            raise InputError(f"cannot read settings file: {exc}") from None
        except (ValueError, RecursionError) as exc:
            raise InputError(f"cannot read settings file {path}: not readable JSON "
                             f"({type(exc).__name__})") from None
        check_fields(data, cls, f"settings file {path}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**data)
        except InputError as exc:
            raise InputError(f"settings file {path}: {exc}") from None
