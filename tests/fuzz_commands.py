"""The fuzz inputs of the commands besides ``analyze VIDEO`` (issue 26): compare, report, synth,
export-landmarks, ``--settings`` and ``--segments``.

Every input is a real file (or FIFO, device link, symlink, folder) made in a
work folder from one real analysis, and a command line that uses it. Damaged
report.json files change one field at a time to a hostile value (NaN,
infinity, text, lists, deep nesting, huge text, a path) or damage the file
itself; tables, tracks and key frames are damaged likewise.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

SEED = 20260126


@dataclass
class Command:
    """One fuzz input: the ``synkan`` arguments, and the output that must not exist after a refusal."""

    name: str
    kind: str
    argv: list[str]
    out: Path | None = None


HOSTILE_VALUES = {
    "nan": float("nan"),
    "inf": float("inf"),
    "neg": -1.0,
    "huge": 1e308,
    "text": "x",
    "empty": "",
    "list": [1],
    "object": {"a": 1},
    "null": None,
    "true": True,
    "long": "y" * 100_000,
    "path": "../../etc",
    "deep": json.loads("[" * 200 + "]" * 200),
    "int": 7,
    "unicode": "é顔\u202e",
    "newline": "a\nb",
}
# report.json fields that compare, report and --previous read (and the top-level sections).
REPORT_FIELDS = (
    "scores.oral_ocular.asymmetry_pp",
    "scores.oral_ocular.asymmetry_se_pp",
    "scores.oral_ocular.affected_side",
    "scores.oral_ocular.grade",
    "scores.eface_ocular_synkinesis",
    "settings.affected",
    "settings.stride",
    "settings.cutoff_hz",
    "settings.segments",
    "visit.patient_id",
    "visit.visit_date",
    "visit.note",
    "video.sha256",
    "video.fps",
    "video.deidentified",
    "schema",
    "created",
    "settings",
    "scores",
    "video",
    "visit",
)


def _set(data: dict, dotted: str, value) -> dict:
    *parents, last = dotted.split(".")
    node = data
    for key in parents:
        node = node[key]
    node[last] = value
    return data


def _copy(analysis: Path, dest: Path) -> Path:
    """A hard-linked copy (synkan replaces files, never writes into them, so the original stays)."""
    shutil.copytree(analysis, dest, copy_function=os.link)
    return dest


def _replace(
    path: Path,
    data: bytes | str | None = None,
    *,
    fifo: bool = False,
    link: str | None = None,
    folder: bool = False,
    size: int = 0,
) -> None:
    """Put something hostile where ``path`` was (a new inode: the hard-linked original stays)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    if fifo:
        os.mkfifo(path)
    elif link is not None:
        path.symlink_to(link)
    elif folder:
        path.mkdir()
    elif size:
        with open(path, "wb") as fh:
            fh.truncate(size)
    elif data is not None:
        path.write_bytes(data.encode() if isinstance(data, str) else data)


def _file_damage(rng: random.Random, original: bytes, secret: Path) -> dict[str, dict]:
    """Ways to damage one input file: kwargs of :func:`_replace`."""
    cut = rng.randrange(1, max(2, len(original)))
    return {
        "fifo": {"fifo": True},
        "dev_zero": {"link": "/dev/zero"},
        "folder": {"folder": True},
        "missing": {},
        "empty": {"data": b""},
        "truncated": {"data": original[:cut]},
        "random": {"data": rng.randbytes(5000)},
        "secret_link": {"link": str(secret)},
        "sparse_30mb": {"size": 30_000_000},
        "deep_json": {"data": "[" * 100_000 + "]" * 100_000},
    }


def report_inputs(analysis: Path, work: Path, rng: random.Random) -> list[Command]:
    """compare and report on a visit whose report.json has one hostile field, or is a hostile file."""
    base = json.loads((analysis / "report.json").read_text())
    secret = work / "secret.txt"
    secret.write_text("SECRET")
    out: list[Command] = []
    variants: list[tuple[str, dict]] = []
    for field in REPORT_FIELDS:
        for label, value in rng.sample(sorted(HOSTILE_VALUES.items()), 3):
            variants.append((f"{field}={label}", {"field": field, "value": value}))
    variants += [
        (f"file_{k}", {"damage": v})
        for k, v in _file_damage(rng, (analysis / "report.json").read_bytes(), secret).items()
    ]
    variants += [("list", {"whole": [base]}), ("only_schema", {"whole": {"schema": base["schema"]}})]
    for k, (label, how) in enumerate(variants):
        folder = _copy(analysis, work / f"r{k}")
        target = folder / "report.json"
        if "damage" in how:
            _replace(target, **how["damage"])
        else:
            report = json.loads(json.dumps(base))
            data = how["whole"] if "whole" in how else _set(report, how["field"], how["value"])
            _replace(target, json.dumps(data, allow_nan=True))
        command, argv = (
            ("report", ["report", str(folder)])
            if k % 3 == 0
            else ("compare", ["compare", str(analysis), str(folder), "-o", str(work / f"c{k}")])
        )
        out.append(
            Command(f"{command}:{label}", command, argv, None if command == "report" else work / f"c{k}")
        )
    return out


def table_inputs(analysis: Path, work: Path, rng: random.Random) -> list[Command]:
    """compare with damaged signals.csv, events.csv or key frames; report and export with a damaged track."""
    secret = work / "secret.txt"
    out: list[Command] = []
    extra = {
        "signals.csv": {"no_t": {"data": "a,b\n1,2\n"}, "nan_t": {"data": "t\nnan\n"}},
        "events.csv": {
            "wrong_columns": {"data": "what,when\nsmile,1\n"},
            "text_times": {"data": "kind,start_s,end_s\nsmile,a,b\n"},
        },
        "figures/keyframes.png": {"text": {"data": "not a png"}},
        "track.npz": {"zip_of_text": {"data": b"PK\x05\x06" + bytes(18)}},
    }
    for name, more in extra.items():
        damage = {**_file_damage(rng, (analysis / name).read_bytes(), secret), **more}
        for label, how in damage.items():
            k = len(out)
            folder = _copy(analysis, work / f"t{k}")
            _replace(folder / name, **how)
            if name == "track.npz":
                kind = ("report", "export-landmarks")[k % 2]
                argv = [kind, str(folder)] + (
                    ["-o", str(work / f"e{k}.csv")] if kind == "export-landmarks" else []
                )
                out.append(Command(f"{kind}:{name}:{label}", kind, argv, work / f"e{k}.csv"))
            else:
                out.append(
                    Command(
                        f"compare:{name}:{label}",
                        "compare",
                        ["compare", str(analysis), str(folder), "-o", str(work / f"c_t{k}")],
                        work / f"c_t{k}",
                    )
                )
    return out


SETTINGS = {
    "not_json": "{",
    "list": "[]",
    "unknown_key": '{"colour": 1}',
    "stride_text": '{"stride": "2"}',
    "stride_zero": '{"stride": 0}',
    "stride_huge": '{"stride": 100000}',
    "stride_true": '{"stride": true}',
    "cutoff_nan": '{"cutoff_hz": NaN}',
    "cutoff_inf": '{"cutoff_hz": Infinity}',
    "lag_neg": '{"lag_window_s": -1}',
    "affected_path": '{"affected": "../../etc"}',
    "segments_list": '{"segments": []}',
    "max_size_tiny": '{"max_size": 1}',
    "rotate_45": '{"rotate": 45}',
    "laterality_x": '{"laterality": "x"}',
    "protocol_x": '{"protocol": "x"}',
    "null_json": "null",
    "deep": "[" * 100_000 + "]" * 100_000,
    "bom": "\ufeff{}",
    "latin1": b'{"note": "\xe9"}',
}
SEGMENTS = {
    "inf": "smile:1-inf",
    "nan": "smile:nan-2",
    "neg": "smile:-1-2",
    "reversed": "smile:5-2",
    "overlap": "smile:1-5,close:3-4",
    "unknown": "wink:1-2",
    "no_span": "smile",
    "no_end": "smile:1",
    "empty_parts": ",,,",
    "colons": "smile:1:2-3",
    "unicode": "sourire:1-2",
    "long_one": "smile:" + "1" * 400,
    "many": ",".join("smile:1-2" for _ in range(5000)),
    "text_300": "x" * 300,
    "dashes": "smile:1--2",
    "spaces": "  smile : 1 - 2 , ",
    "huge_times": "smile:0-1e308",
    "newline": "smile:1-2\nclose:3-4",
}


def option_inputs(clip: Path, work: Path, rng: random.Random) -> list[Command]:
    """analyze with hostile ``--settings`` files and ``--segments`` texts and files."""
    out: list[Command] = []
    secret = work / "secret.txt"
    for label, text in SETTINGS.items():
        path = work / f"settings_{label}.json"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        out.append(
            Command(
                f"settings:{label}",
                "settings",
                [
                    "analyze",
                    str(clip),
                    "-o",
                    str(work / f"s_{label}"),
                    "--no-figures",
                    "--settings",
                    str(path),
                ],
                work / f"s_{label}",
            )
        )
    for label, how in _file_damage(rng, b'{"stride": 1}', secret).items():
        path = work / f"settings_file_{label}.json"
        _replace(path, **how)
        out.append(
            Command(
                f"settings:file_{label}",
                "settings",
                [
                    "analyze",
                    str(clip),
                    "-o",
                    str(work / f"sf_{label}"),
                    "--no-figures",
                    "--settings",
                    str(path),
                ],
                work / f"sf_{label}",
            )
        )
    for label, text in SEGMENTS.items():
        out.append(
            Command(
                f"segments:{label}",
                "segments",
                ["analyze", str(clip), "-o", str(work / f"g_{label}"), "--no-figures", "--segments", text],
                work / f"g_{label}",
            )
        )
    for suffix in (".csv", ".json"):
        for label, how in _file_damage(rng, b"kind,start_s,end_s\nsmile,1,2\n", secret).items():
            path = work / f"segments_{label}{suffix}"
            _replace(path, **how)
            out.append(
                Command(
                    f"segments:file_{label}{suffix}",
                    "segments",
                    [
                        "analyze",
                        str(clip),
                        "-o",
                        str(work / f"gf_{label}{suffix}"),
                        "--no-figures",
                        "--segments",
                        str(path),
                    ],
                    work / f"gf_{label}{suffix}",
                )
            )
    return out


def synth_inputs(clip: Path, analysis: Path, work: Path, rng: random.Random) -> list[Command]:
    """synth with hostile names, values and case files; export-landmarks with hostile outputs."""
    victim = work / "victim.mp4"
    shutil.copy(clip, victim)
    base = ["synth", "--from-video", str(victim), "--side", "left", "--k-oo", "0.3", "-o", str(work)]
    out = [
        Command(f"synth:name_{label}", "synth", [*base, "--name", name])
        for label, name in {
            "dotdot": "..",
            "dot": ".",
            "empty": "",
            "slash": "a/b",
            "victim": "victim",
            "hidden": ".x",
            "newline": "a\nb",
            "long": "n" * 300,
            "nul_like": "a\\0b",
        }.items()
    ]
    out += [
        Command(f"synth:{label}", "synth", ["synth", "--from-video", str(victim), *args, "-o", str(work)])
        for label, args in {
            "side_up": ["--side", "up", "--k-oo", "0.3"],
            "k_nan": ["--side", "left", "--k-oo", "nan"],
            "k_two": ["--side", "left", "--k-oo", "2"],
            "k_neg": ["--side", "left", "--k-ocul", "-1"],
            "driver_x": ["--side", "left", "--k-oo", "0.3", "--driver", "x"],
            "no_side": ["--k-oo", "0.3"],
        }.items()
    ]
    for label, how in {
        **_file_damage(rng, b"{}", work / "secret.txt"),
        "unknown_keys": {"data": '{"name": "a", "duration_s": 1, "x": 1}'},
        "bad_name": {"data": '{"name": "../a", "duration_s": 1}'},
        "huge_duration": {"data": '{"name": "a", "duration_s": 1e9}'},
    }.items():
        path = work / f"case_{label}.json"
        _replace(path, **how)
        out.append(
            Command(
                f"synth:case_{label}",
                "synth",
                ["synth", str(path), "-o", str(work / f"y_{label}")],
                work / f"y_{label}",
            )
        )
    (work / "a_folder").mkdir()
    os.mkfifo(work / "a_fifo.csv")
    (work / "a_link.csv").symlink_to(work / "secret.txt")
    for label, target in {
        "folder": work / "a_folder",
        "own_track": analysis / "track.npz",
        "inside": analysis / "x.csv",
        "fifo": work / "a_fifo.csv",
        "no_parent": work / "no/x.csv",
        "dev_null": Path("/dev/null"),
        "link_to_secret": work / "a_link.csv",
    }.items():
        out.append(
            Command(
                f"export:{label}",
                "export-landmarks",
                ["export-landmarks", str(analysis), "-o", str(target), "--force"],
            )
        )
    out.append(
        Command("export:format_x", "export-landmarks", ["export-landmarks", str(analysis), "--format", "x"])
    )
    return out
