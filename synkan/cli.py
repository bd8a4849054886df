"""``synkan`` command line: a thin layer over the Python API.

Every user error ends in one line on stderr and a non-zero exit code
(2 for usage and input errors); ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from ._version import __version__  # noqa: E402
from .config import LATERALITY_MODES, PROTOCOL_NAMES, Settings  # noqa: E402
from .errors import SynkanError, one_line  # noqa: E402
from ._util.native_stderr import filtered_native_stderr  # noqa: E402
from ._util.process import Terminated, release_stderr, say, terminate_as_interrupt, usable_stdio  # noqa: E402
from .live.command import add_live_parser  # noqa: E402


def _settings_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("analysis settings")
    g.add_argument("--settings", metavar="JSON", help="read settings from a JSON file (flags override it)")
    g.add_argument("--laterality", choices=LATERALITY_MODES, help="how lids are measured: pixel (default: lid margins found in the image), plain (mesh points), mirror (two extra mirrored passes, ~3x slower)")
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


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Build :class:`Settings` from a settings file and command-line flags."""
    flags = {k: getattr(args, k) for k in ("laterality", "affected", "segments", "protocol", "stride", "max_size", "rotate",
                                            "cutoff_hz", "lag_window_s", "rest")}
    if args.settings:
        return Settings.from_file(args.settings, **flags)
    return Settings(**{k: v for k, v in flags.items() if v is not None})


def _progress_bar(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total or None, desc=desc, unit="frame", disable=not sys.stderr.isatty(), leave=False)


def _visit_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("visit (stored in report.json, shown in the report's header)")
    g.add_argument("--patient-id", default="", help="the clinic's patient identifier (a pseudonym with --deidentify)")
    g.add_argument("--visit-date", default="", metavar="YYYY-MM-DD", help="date of the visit")
    g.add_argument("--clinician", default="")
    g.add_argument("--note", default="", help="a free note, e.g. '3 months after botulinum toxin'")
    g.add_argument("--previous", metavar="OUTDIR", help="an earlier analysis of this patient: add the change since it")


def _previous_report(folder: str | None, visit) -> dict | None:
    """The previous visit's report.json, read and checked against this visit before the slow part."""
    if folder is None:
        return None
    from .clinic.compare import check_visits, load_reports

    previous = load_reports([folder])[0]
    check_visits([previous, {"visit": visit.to_dict()}])  # another patient, or a later date: fail now
    return previous


def _pdf_args(p: argparse.ArgumentParser, more: str = "") -> None:
    p.add_argument("--pdf", action="store_true", help=f"also write report.pdf (needs headless Chromium){more}")
    p.add_argument("--paper", choices=("a4", "letter"), help="report.pdf's paper (default: the locale's, else a4)")


def _check_pdf(args: argparse.Namespace) -> None:
    """With ``--pdf``, a browser to print with must exist before any work (one line if not)."""
    if not args.pdf:
        return
    from .report.pdf import find_chromium

    if getattr(args, "no_figures", False):
        raise SynkanError("--pdf prints report.html, which --no-figures skips: drop one of them")
    find_chromium()


def cmd_analyze(args: argparse.Namespace) -> int:
    import dataclasses

    from .analysis import analyze
    from .clinic.compare import compare_reports
    from .report.writer import claim_outdir, write_outputs
    from .measure.video import probe
    from .visit import Visit

    settings = settings_from_args(args)
    visit = Visit(patient_id=args.patient_id, visit_date=args.visit_date, clinician=args.clinician, note=args.note)
    previous = _previous_report(args.previous, visit)
    _check_pdf(args)
    if args.deidentify and not args.output:
        raise SynkanError("--deidentify needs -o OUTDIR: the default folder name holds the video's name")
    outdir = Path(args.output or Path(args.video).stem + "_synkan")
    # Checked and held from before the slow part: a second run into the same folder stops at once.
    with claim_outdir(outdir, args.force) as target:
        total = probe(args.video, settings.rotate).n_frames_nominal // settings.stride
        with _progress_bar(total, Path(args.video).name) as bar:
            result = analyze(args.video, settings, model=args.model, progress=lambda n: bar.update(n - bar.n),
                             visit=visit)
        if previous is not None:
            result = dataclasses.replace(result, comparison=compare_reports([previous, result.report]))
        write_outputs(result, target, force=args.force, figures=not args.no_figures, html=not args.no_figures,
                      overlay=args.overlay, deidentify=args.deidentify, pdf=args.pdf, paper=args.paper)
    if args.json:
        print(json.dumps(result.report, indent=2))
    else:
        print(result.summary())
        print(f"Results in {outdir}/" + ("" if args.no_figures else f" (open {outdir}/report.html)"))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import dataclasses

    from .analysis import load, now_utc
    from .report.writer import write_outputs

    pdf, keep, note = _rebuild_pdf(args)
    # The analysis time stays; the rebuild is recorded beside it.
    result = dataclasses.replace(load(args.outdir), rebuilt=now_utc())
    write_outputs(result, args.outdir, force=True, overlay=args.overlay, deidentify=args.deidentify, pdf=pdf,
                  keep=keep + (() if args.overlay else ("overlay.mp4",)), keep_foreign=True, paper=args.paper)
    print(result.summary())
    if note:
        print(note)
    return 0


def _rebuild_pdf(args: argparse.Namespace) -> tuple[bool, tuple[str, ...], str]:
    """``synkan report`` never drops an earlier report.pdf: it is rebuilt, or (without Chromium) kept and said so."""
    _check_pdf(args)
    if args.pdf or not (Path(args.outdir) / "report.pdf").is_file():
        return args.pdf, (), ""
    from .report.pdf import find_chromium

    try:
        find_chromium()
    except SynkanError:
        return False, ("report.pdf",), "note: report.pdf was kept as it was (no Chromium to rebuild it): it shows the earlier report"
    return True, (), "report.pdf rebuilt (it was there before)"


def cmd_compare(args: argparse.Namespace) -> int:
    from .report.compare_html import VERDICT_TEXT
    from .report.compare_writer import write_compare
    from .text import change_values

    outdir, comparison = write_compare(args.outdirs, args.output, force=args.force)
    visits = comparison["visits"]
    for c in comparison["changes"]:
        pair = f"{c['direction']} {visits[c['before_visit']]['label']} -> {visits[c['after_visit']]['label']}"
        shown = change_values(c["before"], c["after"])
        values = "" if shown is None else f"{shown[0]} -> {shown[1]} pp, change {shown[2]}"
        mdc = "" if c["mdc"] is None else f" (MDC95 {c['mdc']:.1f})"
        detail = f"{values}{mdc}: " if values else ""
        print(f"{pair}: {detail}{VERDICT_TEXT[c['verdict']]}")
    for w in comparison["warnings"]:
        print(f"warning: {w}")
    print(f"Comparison in {outdir}/ (open {outdir}/compare.html)")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from .measure import models

    if args.action == "path":
        info = models.model_info(args.model)
        print(f"{info['path']}  (found via {info['source']}, sha256 {info['sha256'][:12]}…)")
    elif args.action == "fetch":
        path = models.fetch_model(Path(args.dest) if args.dest else None, progress=True)
        print(f"model installed at {path}")
    else:
        if not args.file:
            raise SynkanError("usage: synkan models import FILE")
        path = models.import_model(Path(args.file), Path(args.dest) if args.dest else None)
        print(f"model verified and installed at {path}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from .synth import synth_from_video, synth_main

    video_only = {"--side": args.side, "--k-oo": args.k_oo, "--k-ocul": args.k_ocul, "--k-chin": args.k_chin,
                  "--driver": args.driver, "--name": args.name}
    if args.from_video is None:
        given = [flag for flag, value in video_only.items() if value is not None]
        if given:
            raise SynkanError(f"{given[0]} needs --from-video VIDEO")
        if not args.case:
            raise SynkanError("give case file(s), or --from-video VIDEO --side right|left --k-oo K")
        paths = synth_main(args.case, args.output)
    else:
        if args.case:
            raise SynkanError("give either case files or --from-video, not both")
        if args.side is None:
            raise SynkanError("--from-video needs --side right|left (the subject's side)")
        paths = synth_from_video(args.from_video, args.output, args.side, k_oo=args.k_oo or 0.0,
                                 k_ocul=args.k_ocul or 0.0, name=args.name, model=args.model, k_chin=args.k_chin or 0.0,
                                 **synth_drivers(args.driver, args.k_oo, args.k_ocul)).values()
    for path in paths:
        print(path)
    return 0


def synth_drivers(driver: str | None, k_oo: float | None, k_ocul: float | None) -> dict[str, str]:
    """``--driver`` as synth_from_video's ``driver_oo`` / ``driver_ocul``: it goes to the direction(s) given.

    ``smile`` and ``pucker`` are oral-ocular drivers, ``blink`` and ``closure``
    ocular-oral ones, ``any`` either; without ``--driver`` the defaults (smile, blink) hold.
    """
    if driver is None:
        return {}
    directions = [d for d, k in (("oo", k_oo), ("ocul", k_ocul)) if k]
    allowed = {"oo": ("smile", "pucker", "any"), "ocul": ("blink", "closure", "any")}
    if not directions:
        raise SynkanError("--driver needs --k-oo or --k-ocul")
    for d in directions:
        if driver not in allowed[d]:
            flag = "--k-oo" if d == "oo" else "--k-ocul"
            raise SynkanError(f"--driver {driver} does not fit {flag}: use {'|'.join(allowed[d])}")
    return {f"driver_{d}": driver for d in directions}


def cmd_validate(args: argparse.Namespace) -> int:
    from .validation.synthetic import run_validation
    from .batch import VIDEO_EXTENSIONS
    from .validation.real import run_real_validation

    videos = None
    if args.real:
        folder = Path(args.real)
        if not folder.is_dir():
            raise SynkanError(f"--real: {folder} is not a folder of videos")
        videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    if args.normative:
        from .validation.normative import write_reference

        if not args.real:
            raise SynkanError("--normative needs --real DIR: the healthy people's videos")
        print(write_reference(args.real, args.output))
        return 0
    if args.scales:
        from .validation.scales import run_scale_validation

        print(run_scale_validation(args.output, videos))
        return 0
    text = run_validation(args.output, laterality=args.laterality or Settings().laterality, quick=args.quick)
    if videos:
        from .validation.normative import leave_one_person_out

        # Every person is graded against a healthy reference built without them.
        settings_for = leave_one_person_out(videos, Path(args.output) / "real_faces")
        text += "\n\n" + run_real_validation(videos, args.output, settings_for)
    print(text)
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from .batch import Tls, run_batch

    _check_pdf(args)
    tls = Tls(ca=args.tls_ca, cert=args.tls_cert, key=args.tls_key)
    return run_batch(args.inputs, args.output, settings_from_args(args), jobs=args.jobs, scheduler=args.scheduler,
                     tls=tls, force=args.force, retry_failed=args.retry_failed, model=args.model,
                     figures=not args.no_figures, pdf=args.pdf, paper=args.paper, deidentify=args.deidentify)


def cmd_export_landmarks(args: argparse.Namespace) -> int:
    from .clinic.export import export_landmarks

    print(export_landmarks(args.outdir, args.format, args.output, args.force))
    return 0


def cmd_trends(args: argparse.Namespace) -> int:
    from .batch import NO_TRENDS_NOTE, write_trends

    written = write_trends(args.outdir)
    for path in written:
        print(path)
    if not any(p.name == "trends.csv" for p in written):
        print(NO_TRENDS_NOTE, file=sys.stderr)
    return 0


def cmd_protocol(args: argparse.Namespace) -> int:
    from .grade.protocols import instruction_sheet

    print(instruction_sheet(args.name))
    return 0



DEIDENTIFY_HELP = ("no path, file name or eye image of the video in any output (a generated ID; the SHA-256 stays); "
                   "key frames and overlay show only the eyes and mouth")


def _batch_parser(sub) -> None:
    from .batch.help import BATCH_EPILOG

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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="synkan", description="Measure facial synkinesis from ordinary video.")
    parser.add_argument("--version", action="version", version=f"synkan {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

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

    p = sub.add_parser("report", help="rebuild figures and report.html from an analysis folder, without re-tracking")
    p.add_argument("outdir")
    p.add_argument("--overlay", action="store_true", help="also write overlay.mp4 (needs the video)")
    p.add_argument("--deidentify", action="store_true", help=DEIDENTIFY_HELP)
    _pdf_args(p, "; an existing report.pdf is always rebuilt")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("compare", help="change between visits of one patient: compare.html and compare.json")
    p.add_argument("outdirs", nargs="+", metavar="OUTDIR", help="two or more analysis folders, oldest visit first")
    p.add_argument("-o", "--output", metavar="DIR", required=True)
    p.add_argument("--force", action="store_true", help="replace an earlier comparison in DIR")
    p.set_defaults(func=cmd_compare)

    _batch_parser(sub)

    p = sub.add_parser("trends", help="per-patient trends over sessions from a batch folder")
    p.add_argument("outdir")
    p.set_defaults(func=cmd_trends)

    p = sub.add_parser("export-landmarks", help="an analysis folder's landmarks and blendshapes per frame, as a table")
    p.add_argument("outdir", metavar="OUTDIR", help="a folder written by synkan analyze or batch")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="csv (default) or parquet (needs pyarrow)")
    p.add_argument("-o", "--output", metavar="FILE", help="default: OUTDIR_landmarks.csv beside OUTDIR")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.set_defaults(func=cmd_export_landmarks)

    p = sub.add_parser("models", help="where the landmark model is; fetch or import it")
    p.add_argument("action", choices=("path", "fetch", "import"))
    p.add_argument("file", nargs="?", help="with import: a copy of face_landmarker.task")
    p.add_argument("--dest", help="install folder (default: the user cache)")
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_models)

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

    add_live_parser(sub)

    p = sub.add_parser("protocol", help="print a recording protocol's instruction sheet (to hand to whoever films)")
    p.add_argument("name", choices=PROTOCOL_NAMES)
    p.set_defaults(func=cmd_protocol)

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
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``synkan`` command."""
    usable_stdio()  # started with 2>&- : /dev/null, not the next file opened, becomes fd 2
    # MediaPipe's random native warnings must not follow the one-line error; a crash is said in one line.
    with filtered_native_stderr(), terminate_as_interrupt():
        code = _run(argv)
    release_stderr()
    return code


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SynkanError as exc:
        if args.debug:
            raise
        say(f"synkan: error: {one_line(str(exc))}")
        return exc.exit_code
    except Terminated as exc:
        say(f"synkan: stopped by {exc}; earlier results were left as they were")
        return 128 + signal.Signals[str(exc)].value
    except KeyboardInterrupt:
        say("synkan: interrupted; earlier results were left as they were")
        return 130
    except Exception as exc:  # a bug: still one line unless --debug
        if args.debug:
            raise
        say(f"synkan: internal error: {type(exc).__name__}: {one_line(str(exc))} "
            "(rerun with --debug for details)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
