"""The ``synkan`` command's arguments: one function per subcommand, each pointing at its ``cmd_*``."""
from __future__ import annotations

import argparse
import sys

from .._util.process import say
from .._version import __version__
from ..config import LATERALITY_MODES, PROTOCOL_NAMES
from ..errors import one_line
from ..live.command import add_live_parser
from .commands import (
    cmd_analyze,
    cmd_batch,
    cmd_compare,
    cmd_export_landmarks,
    cmd_models,
    cmd_protocol,
    cmd_report,
    cmd_synth,
    cmd_trends,
    cmd_validate,
)


def _settings_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("analysis settings")
    g.add_argument("--settings", metavar="JSON", help="read settings from a JSON file (flags override it)")
    g.add_argument(
        "--laterality",
        choices=LATERALITY_MODES,
        help="how lids are measured: pixel (default: lid margins found in the image), plain (mesh points), mirror (two extra mirrored passes, ~3x slower)",
    )
    g.add_argument("--affected", choices=("right", "left"), help="the known affected side (subject's side)")
    g.add_argument("--segments", metavar="SPEC", help='user protocol, e.g. "smile:2-5,close:7-9", or a CSV/JSON file')
    g.add_argument("--protocol", choices=PROTOCOL_NAMES,
                   help="the video follows this movement sequence (see: synkan protocol NAME); movements are named by their place in it")
    g.add_argument("--stride", type=int, help="analyse every N-th frame")
    g.add_argument("--max-size", type=int, help="downscale frames whose longer side exceeds this (px) before landmarking")
    g.add_argument("--rotate", type=int, choices=(0, 90, 180, 270), help="rotate clockwise instead of using metadata")
    g.add_argument("--cutoff-hz", type=float, help="low-pass cutoff of the signals")
    g.add_argument("--rest", metavar="START-END", help="a rest segment in seconds, e.g. 0-3 (default: found)")
    g.add_argument("--lag-window-s", type=float, help="cross-correlation lags searched, +/- seconds")
    p.add_argument("--model", metavar="PATH", help="face_landmarker.task (default: $SYNKAN_MODEL, models/, cache, download)")


def _visit_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("visit (stored in report.json, shown in the report's header)")
    g.add_argument("--patient-id", default="", help="the clinic's patient identifier (a pseudonym with --deidentify)")
    g.add_argument("--visit-date", default="", metavar="YYYY-MM-DD", help="date of the visit")
    g.add_argument("--clinician", default="")
    g.add_argument("--note", default="", help="a free note, e.g. '3 months after botulinum toxin'")
    g.add_argument("--previous", metavar="OUTDIR", help="an earlier analysis of this patient: add the change since it")


def _pdf_args(p: argparse.ArgumentParser, more: str = "") -> None:
    p.add_argument("--pdf", action="store_true", help=f"also write report.pdf (needs headless Chromium){more}")
    p.add_argument("--paper", choices=("a4", "letter"), help="report.pdf's paper (default: the locale's, else a4)")


DEIDENTIFY_HELP = ("no path, file name or eye image of the video in any output (a generated ID; the SHA-256 stays); "
                   "key frames and overlay show only the eyes and mouth")


def _batch_parser(sub) -> None:
    from ..batch.help import BATCH_EPILOG

    p = sub.add_parser("batch", help="analyse many videos (folders, globs or a manifest CSV)",
                       description="Analyse many videos: one analysis folder each, summary.csv, per-patient "
                       "trends.",
                       epilog=BATCH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="folders (searched recursively), globs, videos, manifest CSVs")
    p.add_argument("-o", "--output", metavar="OUTDIR", required=True)
    p.add_argument("--jobs", type=int, default=None, help="worker processes (default: number of cores)")
    p.add_argument("--scheduler", metavar="URL", help="run on a Dask cluster: tcp://HOST:PORT "
                   "(unauthenticated) or tls://HOST:PORT (with --tls-*)")
    p.add_argument("--tls-ca", metavar="PEM",
                   help="with tls://: the CA that signed the scheduler's certificate")
    p.add_argument("--tls-cert", metavar="PEM", help="with tls://: this client's certificate")
    p.add_argument("--tls-key", metavar="PEM",
                   help="with tls://: this client's private key (if not in --tls-cert)")
    p.add_argument("--force", action="store_true", help="re-analyse every video, those already done too")
    p.add_argument("--retry-failed", action="store_true", help="also run again the videos that failed before "
                   "because of what they are (by default not retried: they would fail again)")
    p.add_argument("--no-figures", action="store_true",
                   help="skip each video's figures and report.html (faster)")
    p.add_argument("--deidentify", action="store_true", help=DEIDENTIFY_HELP + "; folders are named by "
                   "the ID (summary.csv keeps each video's path: do not share it)")
    _pdf_args(p, " for each video")
    _settings_args(p)
    p.set_defaults(func=cmd_batch)


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line too, like every other refusal."""

    def error(self, message: str):
        say(f"synkan: error: {self.prog}: {one_line(message)} (see {self.prog} --help)")
        sys.exit(2)


def _analyze_parser(sub) -> None:
    """The ``analyze`` subcommand's arguments."""
    p = sub.add_parser("analyze", help="analyse one video and write a report")
    p.add_argument("video")
    p.add_argument("-o", "--output", metavar="OUTDIR", help="output folder (default: VIDEO_synkan)")
    p.add_argument("--force", action="store_true", help="replace existing results in OUTDIR")
    p.add_argument("--json", action="store_true", help="print report.json to stdout")
    p.add_argument("--no-figures", action="store_true", help="skip figures and report.html (faster)")
    p.add_argument("--overlay", action="store_true", help="also write overlay.mp4")
    p.add_argument("--deidentify", action="store_true", help=DEIDENTIFY_HELP)
    _pdf_args(p)
    _visit_args(p)
    _settings_args(p)
    p.set_defaults(func=cmd_analyze)


def _report_parser(sub) -> None:
    """The ``report`` subcommand's arguments."""
    p = sub.add_parser("report", help="rebuild figures and report.html from an analysis folder, without re-tracking")
    p.add_argument("outdir")
    p.add_argument("--overlay", action="store_true", help="also write overlay.mp4 (needs the video)")
    p.add_argument("--deidentify", action="store_true", help=DEIDENTIFY_HELP)
    _pdf_args(p, "; an existing report.pdf is always rebuilt")
    p.set_defaults(func=cmd_report)


def _compare_parser(sub) -> None:
    """The ``compare`` subcommand's arguments."""
    p = sub.add_parser("compare", help="change between visits of one patient: compare.html and compare.json")
    p.add_argument("outdirs", nargs="+", metavar="OUTDIR", help="two or more analysis folders, oldest visit first")
    p.add_argument("-o", "--output", metavar="DIR", required=True)
    p.add_argument("--force", action="store_true", help="replace an earlier comparison in DIR")
    p.set_defaults(func=cmd_compare)


def _trends_parser(sub) -> None:
    """The ``trends`` subcommand's arguments."""
    p = sub.add_parser("trends", help="per-patient trends over sessions from a batch folder")
    p.add_argument("outdir")
    p.set_defaults(func=cmd_trends)


def _export_landmarks_parser(sub) -> None:
    """The ``export-landmarks`` subcommand's arguments."""
    p = sub.add_parser("export-landmarks", help="an analysis folder's landmarks and blendshapes per frame, as a table")
    p.add_argument("outdir", metavar="OUTDIR", help="a folder written by synkan analyze or batch")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="csv (default) or parquet (needs pyarrow)")
    p.add_argument("-o", "--output", metavar="FILE", help="default: OUTDIR_landmarks.csv beside OUTDIR")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.set_defaults(func=cmd_export_landmarks)


def _models_parser(sub) -> None:
    """The ``models`` subcommand's arguments."""
    p = sub.add_parser("models", help="where the landmark model is; fetch or import it")
    p.add_argument("action", choices=("path", "fetch", "import"))
    p.add_argument("file", nargs="?", help="with import: a copy of face_landmarker.task")
    p.add_argument("--dest", help="install folder (default: the user cache)")
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_models)


def _synth_parser(sub) -> None:
    """The ``synth`` subcommand's arguments."""
    p = sub.add_parser("synth", help="render ground-truth videos from case files, or add synkinesis to a real video")
    p.add_argument("case", nargs="*", help="case JSON file(s)")
    p.add_argument("-o", "--output", metavar="DIR", required=True)
    g = p.add_argument_group("real-face ground truth (instead of case files)")
    g.add_argument("--from-video", metavar="VIDEO", help="a healthy person's video to add a known one-sided movement to")
    # Checked by synth_from_video rather than argparse, so a bad side is one line.
    g.add_argument("--side", metavar="right|left", help="the affected side (the subject's side)")
    g.add_argument("--k-oo", type=float, metavar="K",
                   help="oral-ocular: the eye narrows by K x their own smile (or --driver) (0-1)")
    g.add_argument("--k-ocul", type=float, metavar="K",
                   help="ocular-oral: the mouth corner lifts up and out by K x 5 mm at a full eye closure (0-1)")
    g.add_argument("--driver", metavar="KIND", help="what the added movement follows: smile|pucker|any with --k-oo "
                   "(default smile), blink|closure|any with --k-ocul (default blink; blink < 0.5 s)")
    g.add_argument("--k-chin", type=float, metavar="K",
                   help="mentalis: the chin pad rises by K x their own smile x 0.05 IOD (0-1)")
    g.add_argument("--name", help="output base name (default: STEM_SIDE_ooK_oculK)")
    g.add_argument("--model", metavar="PATH", help="face_landmarker.task (default: $SYNKAN_MODEL, models/, cache, download)")
    p.set_defaults(func=cmd_synth)


def _protocol_parser(sub) -> None:
    """The ``protocol`` subcommand's arguments."""
    p = sub.add_parser("protocol", help="print a recording protocol's instruction sheet (to hand to whoever films)")
    p.add_argument("name", choices=PROTOCOL_NAMES)
    p.set_defaults(func=cmd_protocol)


def _validate_parser(sub) -> None:
    """The ``validate`` subcommand's arguments."""
    p = sub.add_parser("validate", help="accuracy sweep on generated ground-truth videos")
    p.add_argument("-o", "--output", metavar="DIR", default="out/validate")
    p.add_argument("--laterality", choices=LATERALITY_MODES)
    p.add_argument("--quick", action="store_true", help="fewer, shorter cases")
    p.add_argument("--real", metavar="DIR", help="also: real healthy videos in DIR, untouched and with a known one-sided "
                   "narrowing added (synth --from-video)")
    p.add_argument("--scales", action="store_true", help="instead: the movements and the Sunnybrook / eFACE estimates on "
                   "Sunnybrook-protocol ground truth (and, with --real, on the real videos)")
    p.add_argument("--normative", action="store_true", help="instead: build the healthy reference (normative.json) "
                   "from the healthy videos in --real DIR")
    p.set_defaults(func=cmd_validate)


def build_parser() -> argparse.ArgumentParser:
    """The ``synkan`` command's parser: one subcommand per job, each set up by its own function."""
    parser = _Parser(prog="synkan", description="Measure facial synkinesis from ordinary video.")
    parser.add_argument("--version", action="version", version=f"synkan {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    _analyze_parser(sub)
    _report_parser(sub)
    _compare_parser(sub)
    _batch_parser(sub)
    _trends_parser(sub)
    _export_landmarks_parser(sub)
    _models_parser(sub)
    _synth_parser(sub)
    add_live_parser(sub)
    _protocol_parser(sub)
    _validate_parser(sub)
    return parser
