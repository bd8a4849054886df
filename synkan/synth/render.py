"""Render a :class:`~synkan.synth.case.Case` to a video plus its ground truth.

Per frame: the true control signals (voluntary drivers plus the synkinetic
coupling) -> one composed inverse map (head motion, mouth mesh warp, eyelid
layers) -> a single ``cv2.remap`` of the still -> flicker, sensor noise and
JPEG compression -> the video writer. Every random choice comes from the
case's seed, so the same case gives a bit-identical video.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .._util.files import atomic_write_text, make_dir, partial_file
from .._version import __version__
from ..errors import InputError, OutputError
from .case import Action, Case
from .face import NEUTRAL_SMILE, FaceRig, face_rig
from .layers import LayerRig, layer_offset

#: Raised-cosine onset / offset of sustained actions, seconds.
RAMP_S = 0.15
#: Event kind written to the truth JSON for each action kind.
EVENT_KIND = {"blink": "blink", "close": "eye_closure", "smile": "smile", "pucker": "pucker", "narrow": "narrow",
              "brow": "brow_raise", "tight": "tight_eye_closure", "snarl": "snarl", "cheek": "cheek", "chin": "chin"}
GT_COLUMNS = ("frame", "t_s", "eye_closure_r", "eye_closure_l", "smile_r", "smile_l", "pucker")
#: Written too when the case moves other regions (:attr:`Case.regions`).
REGION_COLUMNS = ("brow_r", "brow_l", "cheek_r", "cheek_l", "chin_r", "chin_l", "snarl")
#: A tight closure's squeeze: brows down and cheeks up, in units of a full raise.
TIGHT_BROW, TIGHT_CHEEK = -0.5, 0.6

# Realism, at 512 px (scaled with the frame size).
HEAD_SHIFT_PX = 3.0
HEAD_ROLL_DEG = 2.5
HEAD_SCALE = 0.03
FLICKER = 0.02
NOISE_SD = 2.0
JPEG_QUALITY = 88


@dataclass(frozen=True)
class Truth:
    """True per-frame signals of one case (all arrays of length ``n_frames``).

    ``eye_closure_*`` is 0 at rest and 1 with the lid fully closed; ``smile_*``
    is in units of a full smile; ``pucker`` in units of a full pucker.
    """

    t: np.ndarray
    eye_closure_r: np.ndarray
    eye_closure_l: np.ndarray
    smile_r: np.ndarray
    smile_l: np.ndarray
    pucker: np.ndarray
    brow_r: np.ndarray
    brow_l: np.ndarray
    cheek_r: np.ndarray
    cheek_l: np.ndarray
    chin_r: np.ndarray
    chin_l: np.ndarray
    snarl: np.ndarray


def envelope(t: np.ndarray, start: float, end: float, ramp: float = RAMP_S) -> np.ndarray:
    """Raised-cosine plateau: 0 before ``start``, 1 between the ramps, 0 after ``end``.

    Spans shorter than two ramps (blinks) become a single raised-cosine bump.
    """
    r = min(ramp, 0.5 * (end - start))
    up = np.clip((t - start) / r, 0.0, 1.0)
    down = np.clip((end - t) / r, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(up, down))


def _driver(t: np.ndarray, actions: tuple[Action, ...], kinds: tuple[str, ...], side: str | None = None) -> np.ndarray:
    """Max over the matching actions of amplitude x envelope (overlaps do not add up)."""
    out = np.zeros_like(t)
    for a in actions:
        if a.kind in kinds and (side is None or a.side in ("both", side)):
            out = np.maximum(out, a.amplitude * envelope(t, a.start_s, a.end_s))
    return out


def truth_signals(case: Case) -> Truth:
    """The true per-frame controls: voluntary drivers plus the coupling.

    * voluntary eye closure per side: blinks, closures and narrowings;
    * oral-ocular: the affected eye closes by ``k_oo`` x the mouth driver
      (smile or pucker) ``lag_s`` earlier; healthy eyes both narrow by
      ``duchenne`` x the smile (no lag);
    * ocular-oral: the affected mouth corner lifts by ``k_ocul`` x the mean
      voluntary eye closure ``lag_s`` earlier.

    * each of ``case.synkinesis``: the responder region on its side moves by
      ``k`` x its driver ``lag_s`` earlier;
    * a tight closure also lowers the brows and raises the cheeks.

    Values are clipped to 0..1 (the brow to -1..1: a tight closure lowers it).
    """
    t = np.arange(case.n_frames, dtype=np.float64) / case.fps
    tl = t - case.lag_s
    acts = case.timeline
    eye_kinds = ("blink", "close", "narrow", "tight")
    eye = {s: _driver(t, acts, eye_kinds, s) for s in ("right", "left")}
    eye_lag = {s: _driver(tl, acts, eye_kinds, s) for s in ("right", "left")}
    smile = _driver(t, acts, ("smile",))
    pucker = _driver(t, acts, ("pucker",))
    snarl = _driver(t, acts, ("snarl",))
    mouth_lag = _driver(tl, acts, ("smile", "pucker"))
    eyes_lag = 0.5 * (eye_lag["right"] + eye_lag["left"])
    lagged = {"mouth": _driver(tl, acts, ("smile", "pucker", "snarl")), "smile": _driver(tl, acts, ("smile",)),
              "pucker": _driver(tl, acts, ("pucker",)), "snarl": _driver(tl, acts, ("snarl",)), "eye": eyes_lag,
              "brow": 0.5 * (_driver(tl, acts, ("brow",), "right") + _driver(tl, acts, ("brow",), "left"))}
    closure, lift, region = {}, {}, {}
    for s in ("right", "left"):
        tight = _driver(t, acts, ("tight",), s)
        added = {r: sum((x.k * lagged[x.driver] for x in case.synkinesis if x.responder == r and x.side in (s, "both")),
                        np.zeros_like(t)) for r in ("eye", "mouth", "brow", "cheek", "chin")}
        hit = 1.0 if case.affected_side == s else 0.0
        closure[s] = np.clip(eye[s] + case.duchenne * smile + hit * case.k_oo * mouth_lag + added["eye"], 0, 1)
        lift[s] = np.clip(smile + hit * case.k_ocul * eyes_lag + added["mouth"], 0, 1)
        region[f"brow_{s[0]}"] = np.clip(_driver(t, acts, ("brow",), s) + TIGHT_BROW * tight + added["brow"], -1, 1)
        region[f"cheek_{s[0]}"] = np.clip(_driver(t, acts, ("cheek",), s) + TIGHT_CHEEK * tight + added["cheek"], 0, 1)
        region[f"chin_{s[0]}"] = np.clip(_driver(t, acts, ("chin",), s) + added["chin"], 0, 1)
    return Truth(t=t, eye_closure_r=closure["right"], eye_closure_l=closure["left"],
                 smile_r=lift["right"], smile_l=lift["left"], pucker=pucker, snarl=snarl, **region)


@dataclass(frozen=True)
class HeadMotion:
    """Smooth random head motion and lighting: sums of slow sinusoids."""

    freqs: np.ndarray  # (5, 2) Hz: x, y, roll, scale, flicker
    phases: np.ndarray  # (5, 2)

    @classmethod
    def from_rng(cls, rng: np.random.Generator) -> "HeadMotion":
        return cls(freqs=rng.uniform(0.05, 0.35, (5, 2)), phases=rng.uniform(0, 2 * np.pi, (5, 2)))

    def at(self, t: float) -> np.ndarray:
        """Five values in [-1, 1] (weights 0.7 / 0.3 of the two sinusoids)."""
        s = np.sin(2 * np.pi * self.freqs * t + self.phases)
        return 0.7 * s[:, 0] + 0.3 * s[:, 1]


def head_inverse(rig: FaceRig, m: np.ndarray) -> np.ndarray:
    """2x3 affine mapping output pixels to still pixels for motion values ``m``."""
    k = rig.size / 512.0
    angle = HEAD_ROLL_DEG * m[2]
    scale = 1.0 + HEAD_SCALE * m[3]
    fwd = cv2.getRotationMatrix2D((float(rig.center[0]), float(rig.center[1])), angle, scale)
    fwd[:, 2] += HEAD_SHIFT_PX * k * m[:2]
    return cv2.invertAffineTransform(fwd)


class FrameRenderer:
    """Renders frames of one case; keeps the per-size work and the RNG.

    Parameters
    ----------
    case : Case
        The case (its size and seed are used).
    """

    def __init__(self, case: Case) -> None:
        self.case = case
        self.rig = face_rig(case.size)
        n = case.size
        ys, xs = np.mgrid[0:n, 0:n].astype(np.float32)
        self._grid = np.stack([xs, ys, np.ones_like(xs)], -1)  # homogeneous pixel coords
        self.rng = np.random.default_rng(case.seed)
        self.motion = HeadMotion.from_rng(self.rng)

    def source_map(self, m: np.ndarray, closure_r: float, closure_l: float, smile_r: float,
                   smile_l: float, pucker: float, regions: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Compose head motion, mesh warp and eyelids into one inverse map (map_x, map_y).

        ``regions`` holds the amplitudes of the other mesh fields (``brow_r``, ``snarl``...).
        """
        aff = head_inverse(self.rig, m).astype(np.float32)
        p = self._grid @ aff.T  # (H, W, 2) positions in the expressive face
        f = self.rig.fields
        # Mesh smile is relative to the photo, which already smiles a little.
        mesh_r, mesh_l = smile_r - NEUTRAL_SMILE, smile_l - NEUTRAL_SMILE
        others = {k: v for k, v in (regions or {}).items() if v}
        if mesh_r or mesh_l or pucker or others:
            d = (np.float32(mesh_r) * f["smile_r"] + np.float32(mesh_l) * f["smile_l"]
                 + np.float32(pucker) * f["pucker"])
            for name, amplitude in others.items():
                d = d + np.float32(amplitude) * f[name]
            # The mesh gives the forward displacement D at rest positions; invert
            # src = p - D(src) by fixed-point iteration (D is smooth and small).
            s = p
            for _ in range(2):
                s = p - cv2.remap(d, s[..., 0], s[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            p = s
        map_x = np.ascontiguousarray(p[..., 0])
        map_y = np.ascontiguousarray(p[..., 1])
        # Lips part (showing the photo's teeth) as the smile grows; closed at rest.
        lips = float(np.clip(1.0 - 0.5 * (smile_r + smile_l), 0.0, 1.0))
        for name, c in (("right", closure_r), ("left", closure_l), ("lips", lips)):
            if c > 0:
                map_y = self._apply_layer(self.rig.eyes[name], c, map_x, map_y)
        return map_x, map_y

    @staticmethod
    def _apply_layer(rig: LayerRig, c: float, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
        """Add the eyelid / lip layer offsets to ``map_y`` where the map lands in the rig's box."""
        inside = ((map_x >= rig.x0) & (map_x < rig.x0 + len(rig.upper))
                  & (map_y >= rig.y0) & (map_y < rig.y0 + rig.rows))
        rows, cols = np.nonzero(inside)
        out = map_y.copy()
        out[rows, cols] += layer_offset(rig, c, map_x[rows, cols], map_y[rows, cols])
        return out

    def render(self, t: float, closure_r: float, closure_l: float, smile_r: float, smile_l: float,
               pucker: float, regions: dict[str, float] | None = None) -> np.ndarray:
        """One BGR uint8 frame. Frames must be rendered in order (the RNG advances)."""
        m = self.motion.at(t)
        map_x, map_y = self.source_map(m, closure_r, closure_l, smile_r, smile_l, pucker, regions)
        img = cv2.remap(self.rig.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
        # Lighting flicker: slow drift plus a little frame-to-frame jitter.
        gain = 1.0 + FLICKER * m[4] + 0.004 * self.rng.standard_normal()
        noise = self.rng.standard_normal(img.shape, dtype=np.float32) * NOISE_SD
        img = np.clip(img.astype(np.float32) * np.float32(gain) + noise + 0.5, 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def _events(case: Case) -> list[dict]:
    """The true voluntary events, in time order."""
    acts = sorted(case.timeline, key=lambda a: (a.start_s, a.end_s))
    return [{"kind": EVENT_KIND[a.kind], "start_s": a.start_s, "end_s": a.end_s, "side": a.side,
             "amplitude": a.amplitude} for a in acts]


def truth_json(case: Case) -> dict:
    """The content of ``<name>.json``."""
    return {"case": case.to_dict(), "events": _events(case),
            "truth": {"affected_side": case.affected_side, "k_oo": case.k_oo, "k_ocul": case.k_ocul,
                      "lag_s": case.lag_s, "duchenne": case.duchenne},
            "synkan_version": __version__}


def truth_csv(truth: Truth, regions: bool = False) -> str:
    """The content of ``<name>_gt.csv``: one row per frame, fixed precision (``regions``: with
    :data:`REGION_COLUMNS`)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    columns = GT_COLUMNS + (REGION_COLUMNS if regions else ())
    w.writerow(columns)
    for i, t in enumerate(truth.t):
        w.writerow([i, f"{t:.6f}"] + [f"{getattr(truth, c)[i]:.6f}" for c in columns[2:]])
    return buf.getvalue()


def render_case(case: Case, out_dir: str | Path) -> dict[str, Path]:
    """Render ``case`` into ``out_dir``; existing outputs of the same name are replaced.

    Parameters
    ----------
    case : Case
        What to render.
    out_dir : str or Path
        Directory (created if needed).

    Returns
    -------
    dict
        ``{"video": <name>.mp4, "json": <name>.json, "gt_csv": <name>_gt.csv}``.

    Raises
    ------
    OutputError
        If the directory or the video cannot be written.
    """
    out = Path(out_dir)
    try:
        make_dir(out)
    except OSError as exc:
        raise OutputError(f"cannot create output directory {out}: {exc.strerror or exc}") from None
    paths = {"video": out / f"{case.name}.mp4", "json": out / f"{case.name}.json",
             "gt_csv": out / f"{case.name}_gt.csv"}
    truth = truth_signals(case)
    renderer = FrameRenderer(case)
    with partial_file(paths["video"]) as tmp_video:  # removed if interrupted; private, as every output
        writer = cv2.VideoWriter(str(tmp_video), cv2.VideoWriter_fourcc(*"mp4v"), float(case.fps),
                                 (case.size, case.size))
        if not writer.isOpened():
            raise OutputError(f"cannot write video {tmp_video}")
        try:
            for i, t in enumerate(truth.t):
                frame = renderer.render(float(t), truth.eye_closure_r[i], truth.eye_closure_l[i],
                                        truth.smile_r[i], truth.smile_l[i], truth.pucker[i],
                                        {c: float(getattr(truth, c)[i]) for c in REGION_COLUMNS})
                writer.write(frame)
        finally:
            writer.release()
    atomic_write_text(paths["json"], json.dumps(truth_json(case), indent=2) + "\n")
    atomic_write_text(paths["gt_csv"], truth_csv(truth, case.regions))
    return paths


def synth_main(case_paths: list[str], out_dir: str) -> list[Path]:
    """Render every case file into ``out_dir`` (the ``synkan synth`` command).

    All case files are read and checked before anything is rendered.

    Returns
    -------
    list of Path
        The files written: video, truth JSON and truth CSV of each case.

    Raises
    ------
    InputError
        No case given, a case file is missing or invalid, or two cases share a name.
    """
    if not case_paths:
        raise InputError("no case file given")
    cases = [Case.from_json(p) for p in case_paths]
    names = [c.name for c in cases]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"several case files use the name {dup[0]!r}; names must be unique")
    written: list[Path] = []
    for case in cases:
        written.extend(render_case(case, out_dir).values())
    return written
