"""Build the healthy reference (:mod:`synkan.grade.normative`) from healthy people's videos.

``synkan validate --normative DIR -o OUT`` tracks every video in DIR (tracks
are cached in OUT, so a rerun only re-scores), measures each driver movement's
per-event side differences exactly as the analysis does
(:func:`synkan.grade.grades.paired_differences` on
:func:`synkan.grade.coupling.movement_couplings`), and writes
``normative.json`` with the videos' names and SHA-256 as provenance. A
leave-one-person-out check builds one reference per person tested, without
them (:func:`reference_without`).
"""
from __future__ import annotations

import json
from pathlib import Path

from .._util.files import atomic_write_text
from .._version import __version__
from ..batch.jobs import VIDEO_EXTENSIONS
from ..config import Settings
from ..grade.coupling import DIRECTIONS, movement_couplings
from ..grade.grades import paired_differences
from ..grade.normative import build_normative
from .real import analyse_cached


def person_differences(result) -> dict[str, dict[str, list[float]]]:
    """``{direction: {movement: [per-event side differences]}}`` of one analysis."""
    s = result.settings
    out: dict[str, dict[str, list[float]]] = {}
    for direction in DIRECTIONS:
        for kind, coupling in movement_couplings(result.signals, result.events, result.movements.table, direction,
                                                 s.lag_window_s).items():
            if not coupling.reason:
                values = [float(x) for x in paired_differences(coupling)]
                if values:
                    out.setdefault(direction, {})[kind] = values
    return out


def collect(videos: list[Path], cache: Path) -> dict[str, dict]:
    """Per person (video stem): their per-movement side differences, and the video's provenance."""
    people = {}
    for video in videos:
        result = analyse_cached(video, Settings(), cache)
        people[video.stem] = {"differences": person_differences(result),
                              "video": {"name": video.name, "sha256": result.video["sha256"]}}
    return people


def reference_without(people: dict[str, dict], excluded: set[str] = frozenset(), source: str = "") -> dict:
    """The normative record of every person but ``excluded``."""
    by_movement: dict[str, dict[str, dict[str, list[float]]]] = {}
    for person, data in people.items():
        if person in excluded:
            continue
        for direction, movements in data["differences"].items():
            for kind, values in movements.items():
                by_movement.setdefault(direction, {}).setdefault(kind, {})[person] = values
    provenance = {"synkan_version": __version__, "source": source,
                  "videos": [p["video"] for k, p in sorted(people.items()) if k not in excluded],
                  "excluded": sorted(excluded),
                  "method": "per recording: the median over its events of the paired left-minus-right responder at "
                            "the driver's peak frames (oral-ocular: eye closure, pp; ocular-oral: mouth-corner lift, "
                            "pp of the inter-ocular distance); one recording per person"}
    return build_normative(by_movement, provenance)


def write_reference(videos_dir: str | Path, output: str | Path) -> Path:
    """Build ``output/normative.json`` from every video in ``videos_dir`` (one person per video)."""
    videos = sorted(p for p in Path(videos_dir).iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    out = Path(output)
    people = collect(videos, out / "tracks")
    record = reference_without(people, source=str(videos_dir))
    path = out / "normative.json"
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=1) + "\n")
    return path


def leave_one_person_out(videos: list[Path], cache: Path):
    """``settings_for(person)``: settings whose healthy reference is built from every other person's video.

    The references are written to ``cache/normative/PERSON.json`` (a person
    is a video's stem, as in :func:`synkan.validation.real.person_id`) and the
    videos' tracks cached in ``cache/tracks``.
    """
    people = collect(list(videos), cache / "tracks")
    folder = cache / "normative"

    def settings_for(person: str) -> Settings:
        path = folder / f"{person}.json"
        if not path.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(reference_without(people, {person}), indent=1) + "\n")
        return Settings(normative=str(path))

    settings_for.__name__ = "leave_one_person_out(normative)"
    return settings_for
