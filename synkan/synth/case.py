"""Case descriptions for ground-truth videos: one JSON file per case.

A :class:`Case` holds everything needed to render one synthetic video
bit for bit: the timeline of voluntary actions, the synkinetic coupling
(affected side, ``k_oo``, ``k_ocul``, lag), a healthy Duchenne narrowing,
fps, duration, frame size and the random seed.

Sides are the subject's anatomical sides: ``"left"`` is the subject's left,
which is image-right in the (unmirrored) rendered video.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._util.files import read_regular_text
from ..config import check_fields
from ..errors import InputError

MAX_CASE_BYTES = 1_000_000  # a case file is a few KB
ACTION_KINDS = ("smile", "pucker", "blink", "close", "narrow", "brow", "tight", "snarl", "cheek", "chin")
BILATERAL_KINDS = ("smile", "pucker", "snarl")
# Synkinesis: a responder region moving with a driver movement, on one side.
DRIVERS = ("mouth", "smile", "pucker", "snarl", "eye", "brow")
RESPONDERS = ("eye", "mouth", "brow", "cheek", "chin")
SIDES = ("both", "right", "left")
CASE_KINDS = ("control", "oral_ocular", "ocular_oral", "both", "duchenne")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def _num(value: Any, what: str) -> float:
    """A finite float from a JSON value, or an InputError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{what} must be a finite number, not {value!r}")
    return float(value)


@dataclass(frozen=True)
class Action:
    """One voluntary action on the timeline.

    Parameters
    ----------
    kind : {"smile", "pucker", "blink", "close", "narrow"}
        ``blink`` is a short (< 0.5 s) closure, ``close`` a sustained
        (gentle) voluntary closure (>= 0.5 s), ``narrow`` a partial closure,
        ``tight`` a closure squeezed shut (brows down, cheeks up); ``brow``
        raises the brows, ``snarl`` the upper lip and nasal alae, ``cheek``
        and ``chin`` those regions.
    start_s, end_s : float
        Span in seconds; the movement ramps up after ``start_s`` and is
        back to rest at ``end_s``.
    amplitude : float
        Peak value, 0..1 (1 = full smile / pucker / closed lid).
    side : {"both", "right", "left"}
        Subject's side, for eye, brow, cheek and chin actions; smile, pucker
        and snarl are always bilateral.
    """

    kind: str
    start_s: float
    end_s: float
    amplitude: float = 1.0
    side: str = "both"

    def __post_init__(self) -> None:
        if self.kind not in ACTION_KINDS:
            raise InputError(f"action kind must be one of {ACTION_KINDS}, not {self.kind!r}")
        object.__setattr__(self, "start_s", _num(self.start_s, "action start_s"))
        object.__setattr__(self, "end_s", _num(self.end_s, "action end_s"))
        object.__setattr__(self, "amplitude", _num(self.amplitude, "action amplitude"))
        if not 0.0 <= self.start_s < self.end_s:
            raise InputError(f"{self.kind} action needs 0 <= start_s < end_s, got {self.start_s}..{self.end_s}")
        if not 0.0 <= self.amplitude <= 1.0:
            raise InputError(f"{self.kind} action amplitude must be in 0..1, not {self.amplitude}")
        if self.side not in SIDES:
            raise InputError(f"action side must be one of {SIDES}, not {self.side!r}")
        if self.kind in BILATERAL_KINDS and self.side != "both":
            raise InputError(f"{self.kind} actions are bilateral; side must be 'both', not {self.side!r}")

    @classmethod
    def from_dict(cls, data: Any) -> "Action":
        """Build from a JSON object, rejecting unknown keys."""
        check_fields(data, cls, "timeline action", required=("kind", "start_s", "end_s"))
        return cls(**data)


@dataclass(frozen=True)
class Synkinesis:
    """One known synkinetic pattern: ``responder`` moves by ``k`` x ``driver`` on ``side``.

    Parameters
    ----------
    driver : {"mouth", "smile", "pucker", "snarl", "eye", "brow"}
        The voluntary movement (``mouth``: smile, pucker or snarl; ``eye``:
        the mean voluntary closure of both eyes, blinks included).
    responder : {"eye", "mouth", "brow", "cheek", "chin"}
        The region that moves with it (eye closure, mouth-corner lift, brow,
        cheek or chin raise), in units of that region's full movement.
    k : float
        Gain, 0..1.
    side : {"right", "left", "both"}
        ``both`` gives a symmetric coupling (a healthy co-movement).
    """

    driver: str
    responder: str
    k: float
    side: str

    def __post_init__(self) -> None:
        if self.driver not in DRIVERS:
            raise InputError(f"synkinesis driver must be one of {DRIVERS}, not {self.driver!r}")
        if self.responder not in RESPONDERS:
            raise InputError(f"synkinesis responder must be one of {RESPONDERS}, not {self.responder!r}")
        object.__setattr__(self, "k", _num(self.k, "synkinesis k"))
        if not 0.0 <= self.k <= 1.0:
            raise InputError(f"synkinesis k must be in 0..1, not {self.k}")
        if self.side not in SIDES:
            raise InputError(f"synkinesis side must be one of {SIDES}, not {self.side!r}")

    @classmethod
    def from_dict(cls, data: Any) -> "Synkinesis":
        """Build from a JSON object, rejecting unknown keys."""
        check_fields(data, cls, "synkinesis entry", required=("driver", "responder", "k", "side"))
        return cls(**data)


@dataclass(frozen=True)
class Case:
    """One ground-truth video: timeline, coupling and rendering settings.

    Parameters
    ----------
    name : str
        File stem of the outputs (letters, digits, ``_ . -``).
    duration_s : float
        Length of the video in seconds.
    fps : float
        Frame rate; the video has ``round(fps * duration_s)`` frames.
    seed : int
        Seed of every random choice (head motion, flicker, noise).
    affected_side : {"right", "left"} or None
        Subject's side with synkinesis; required when a coupling is non-zero.
    k_oo : float
        Oral-ocular coupling: extra eye closure on the affected side per
        unit of mouth movement (smile or pucker), 0..1.
    k_ocul : float
        Ocular-oral coupling: mouth-corner lift on the affected side per
        unit of voluntary eye closure, in units of a full smile, 0..1.
    duchenne : float
        Healthy bilateral eye narrowing per unit of smile, 0..1.
    lag_s : float
        Delay of the synkinetic response behind its driver, 0..1 s.
    size : int
        Frame width and height in pixels.
    timeline : tuple of Action
        Voluntary actions.
    synkinesis : tuple of Synkinesis
        Further known couplings, any driver to any responder region.
    """

    name: str
    duration_s: float
    seed: int = 0
    fps: float = 30.0
    affected_side: str | None = None
    k_oo: float = 0.0
    k_ocul: float = 0.0
    duchenne: float = 0.0
    lag_s: float = 0.0
    size: int = 512
    timeline: tuple[Action, ...] = field(default_factory=tuple)
    synkinesis: tuple[Synkinesis, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise InputError(f"case name must be 1-100 of letters, digits, '_', '.', '-', not {self.name!r}")
        for key, lo, hi in (("duration_s", 0.1, 3600.0), ("fps", 1.0, 240.0), ("k_oo", 0.0, 1.0),
                            ("k_ocul", 0.0, 1.0), ("duchenne", 0.0, 1.0), ("lag_s", 0.0, 1.0)):
            value = _num(getattr(self, key), f"case {key}")
            if not lo <= value <= hi:
                raise InputError(f"case {key} must be between {lo:g} and {hi:g}, not {value:g}")
            object.__setattr__(self, key, value)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise InputError(f"case seed must be a whole number >= 0, not {self.seed!r}")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 128 <= self.size <= 2048:
            raise InputError(f"case size must be a whole number of pixels in 128..2048, not {self.size!r}")
        if self.affected_side not in (None, "right", "left"):
            raise InputError(f"case affected_side must be 'right', 'left' or null, not {self.affected_side!r}")
        if self.affected_side is None and (self.k_oo > 0 or self.k_ocul > 0):
            raise InputError("case has k_oo or k_ocul > 0 but no affected_side")
        actions = tuple(a if isinstance(a, Action) else Action.from_dict(a) for a in self.timeline)
        for a in actions:
            if a.end_s > self.duration_s + 1e-9:
                raise InputError(f"{a.kind} action ends at {a.end_s:g} s, after the case's {self.duration_s:g} s")
        object.__setattr__(self, "timeline", actions)
        object.__setattr__(self, "synkinesis", tuple(x if isinstance(x, Synkinesis) else Synkinesis.from_dict(x)
                                                     for x in self.synkinesis))

    @property
    def n_frames(self) -> int:
        """Number of frames in the video."""
        return int(round(self.fps * self.duration_s))

    def to_dict(self) -> dict[str, Any]:
        """All fields as plain JSON types."""
        data = dataclasses.asdict(self)
        data["timeline"] = [dataclasses.asdict(a) for a in self.timeline]
        data["synkinesis"] = [dataclasses.asdict(x) for x in self.synkinesis]
        if not data["synkinesis"]:
            del data["synkinesis"]  # older case files stay byte for byte
        return data

    @property
    def regions(self) -> bool:
        """Whether the case moves more than the eyes and mouth (its truth CSV gets the region columns)."""
        return bool(self.synkinesis) or any(a.kind in ("brow", "tight", "snarl", "cheek", "chin") for a in self.timeline)

    def to_json(self, path: str | Path | None = None) -> str:
        """The case as indented JSON; also written to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=2) + "\n"
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_dict(cls, data: Any, source: str = "case") -> "Case":
        """Build from a JSON object, rejecting unknown or missing keys."""
        check_fields(data, cls, source, required=("name", "duration_s"))
        timeline, synkinesis = data.get("timeline", []), data.get("synkinesis", [])
        if not isinstance(timeline, list) or not isinstance(synkinesis, list):
            raise InputError(f"{source}: timeline and synkinesis must be lists")
        try:
            return cls(**{**data, "timeline": tuple(Action.from_dict(a) for a in timeline),
                          "synkinesis": tuple(Synkinesis.from_dict(x) for x in synkinesis)})
        except InputError as exc:
            raise InputError(f"{source}: {exc}") from None

    @classmethod
    def from_json(cls, path: str | Path) -> "Case":
        """Read a case file.

        Raises
        ------
        InputError
            The file is missing, is not JSON, or holds invalid values.
        """
        text = read_regular_text(path, MAX_CASE_BYTES, "case file")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise InputError(f"case file {path} is not valid JSON: {str(exc)[:200]}") from None
        return cls.from_dict(data, source=f"case file {path}")


# The long protocol; a case keeps every action that ends >= 0.7 s before its end.
# Each gap between actions is >= 0.7 s of rest.
_PROTOCOL = (("smile", 1.0, 2.2), ("blink", 2.9, 3.15), ("close", 3.85, 5.35), ("smile", 6.05, 7.25),
             ("close", 7.95, 9.25), ("blink", 9.95, 10.2), ("pucker", 10.9, 12.1), ("smile", 12.8, 14.0),
             ("blink", 14.7, 14.95))


def standard_timeline(duration_s: float = 10.0, pucker: bool = True) -> tuple[Action, ...]:
    """A clinic-like protocol cut to ``duration_s``.

    Rest 1 s, then smiles of 1.2 s, blinks of 0.25 s, sustained closures of
    1.3-1.5 s and a pucker of 1.2 s, each followed by >= 0.7 s of rest. A 10 s
    case gets smile, blink, close, smile, close; 15.7 s gets all nine actions.

    Parameters
    ----------
    duration_s : float
        Case length; actions that would not end 0.7 s before it are left out.
    pucker : bool
        Include the pucker (from 12.8 s on).
    """
    return tuple(Action(kind, s, e) for kind, s, e in _PROTOCOL
                 if e <= duration_s - 0.7 + 1e-9 and (pucker or kind != "pucker"))


def standard_case(name: str, kind: str = "control", side: str | None = "left", k_oo: float = 0.5,
                  k_ocul: float = 0.5, duchenne: float = 0.15, duration_s: float = 10.0, fps: float = 30.0,
                  seed: int = 0, lag_s: float = 0.0, size: int = 512, pucker: bool = True) -> Case:
    """A case with the standard protocol and one kind of coupling.

    Parameters
    ----------
    name : str
        Output file stem.
    kind : {"control", "oral_ocular", "ocular_oral", "both", "duchenne"}
        ``control``: healthy, ``duchenne`` narrowing on both eyes only.
        ``duchenne``: a strong bilateral Duchenne smile (0.3), no synkinesis.
        ``oral_ocular`` / ``ocular_oral`` / ``both``: synkinesis on ``side``.
    side : {"right", "left"}
        Affected side (subject's) for the synkinetic kinds.
    k_oo, k_ocul : float
        Coupling strengths, used by the kinds that include them.
    duchenne : float
        Healthy bilateral narrowing per unit smile (all kinds but ``duchenne``).
    duration_s, fps, seed, lag_s, size : see :class:`Case`.
    pucker : bool
        Include a pucker in the protocol (cases of >= 12.8 s).
    """
    if kind not in CASE_KINDS:
        raise InputError(f"standard case kind must be one of {CASE_KINDS}, not {kind!r}")
    synkinetic = kind in ("oral_ocular", "ocular_oral", "both")
    if synkinetic and side not in ("right", "left"):
        raise InputError(f"a {kind} case needs side 'right' or 'left', not {side!r}")
    return Case(
        name=name, duration_s=duration_s, fps=fps, seed=seed, size=size,
        affected_side=side if synkinetic else None,
        k_oo=k_oo if kind in ("oral_ocular", "both") else 0.0,
        k_ocul=k_ocul if kind in ("ocular_oral", "both") else 0.0,
        duchenne=0.3 if kind == "duchenne" else duchenne,
        lag_s=lag_s if synkinetic else 0.0,
        timeline=standard_timeline(duration_s, pucker=pucker),
    )


def narrow_case(name: str, side: str = "left", amplitude: float = 0.3, duration_s: float = 3.0,
                fps: float = 30.0, seed: int = 0, size: int = 512) -> Case:
    """A one-sided eye narrowing held for a while, to measure landmark cross-talk.

    Rest 0.5 s, narrowing of ``amplitude`` on ``side`` until 0.5 s before the end.
    """
    return Case(name=name, duration_s=duration_s, fps=fps, seed=seed, size=size,
                timeline=(Action("narrow", 0.5, duration_s - 0.5, amplitude, side),))


# The Sunnybrook protocol's five movements, 1.5 s each with 0.8 s of rest
# between them, then a blink.
_SUNNYBROOK = (("brow", 1.0, 2.5), ("close", 3.3, 4.8), ("smile", 5.6, 7.1), ("snarl", 7.9, 9.4),
               ("pucker", 10.2, 11.7), ("blink", 12.4, 12.65))
SUNNYBROOK_DURATION_S = 13.3
#: Synkinetic patterns of :func:`sunnybrook_case`: (driver, responder) and the
#: Sunnybrook movements whose synkinesis item each one raises.
PATTERNS = {"oral_ocular": (("mouth", "eye"), ("smile", "snarl", "pucker")),
            "ocular_oral": (("eye", "mouth"), ("gentle_eye_closure",)),
            "midfacial": (("eye", "cheek"), ("gentle_eye_closure",)),
            "mentalis": (("smile", "chin"), ("smile",)),
            "brow_ocular": (("brow", "eye"), ("brow_raise",))}


def sunnybrook_case(name: str, pattern: str | None = None, side: str = "left", k: float = 0.5,
                    duchenne: float = 0.15, fps: float = 30.0, seed: int = 0, size: int = 320) -> Case:
    """A Sunnybrook-protocol case: brow raise, gentle closure, open smile, snarl, pucker, with one known
    pattern.

    Parameters
    ----------
    name : str
        Output file stem.
    pattern : str or None
        A key of :data:`PATTERNS` (None: a control).
    side : {"right", "left", "both"}
        The affected side; ``both`` couples both sides equally (symmetric).
    k : float
        The pattern's gain.
    duchenne, fps, seed, size : see :class:`Case`.
    """
    if pattern is not None and pattern not in PATTERNS:
        raise InputError(f"pattern must be one of {tuple(PATTERNS)} or None, not {pattern!r}")
    synkinesis = ()
    if pattern is not None:
        (driver, responder), _ = PATTERNS[pattern]
        synkinesis = (Synkinesis(driver, responder, k, side),)
    return Case(name=name, duration_s=SUNNYBROOK_DURATION_S, fps=fps, seed=seed, size=size, duchenne=duchenne,
                affected_side=side if pattern is not None and side != "both" else None,
                timeline=tuple(Action(kind, a, b) for kind, a, b in _SUNNYBROOK), synkinesis=synkinesis)
