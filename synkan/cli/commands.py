"""What each ``synkan`` subcommand does: a thin layer over the Python API (``cmd_*(args) -> exit code``)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..config import Settings
from ..errors import SynkanError


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


def _previous_report(folder: str | None, visit) -> dict | None:
    """The previous visit's report.json, read and checked against this visit before the slow part."""
    if folder is None:
        return None
    from ..clinic.compare import check_visits, load_reports

    previous = load_reports([folder])[0]
    check_visits([previous, {"visit": visit.to_dict()}])  # another patient, or a later date: fail now
    return previous


def _check_pdf(args: argparse.Namespace) -> None:
    """With ``--pdf``, a browser to print with must exist before any work (one line if not)."""
    if not args.pdf:
        return
    from ..report.pdf import find_chromium

    if getattr(args, "no_figures", False):
        raise SynkanError("--pdf prints report.html, which --no-figures skips: drop one of them")
    find_chromium()


def cmd_analyze(args: argparse.Namespace) -> int:
    import dataclasses

    from ..analysis import analyze
    from ..clinic.compare import compare_reports
    from ..measure.video import probe
    from ..report.writer import claim_outdir, write_outputs
    from ..visit import Visit

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

    from ..analysis import load, now_utc
    from ..report.writer import write_outputs

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
    """``synkan report`` never drops an earlier report.pdf: it is rebuilt, or (without Chromium) kept and said
    so."""
    _check_pdf(args)
    if args.pdf or not (Path(args.outdir) / "report.pdf").is_file():
        return args.pdf, (), ""
    from ..report.pdf import find_chromium

    try:
        find_chromium()
    except SynkanError:
        return False, ("report.pdf",), "note: report.pdf was kept as it was (no Chromium to rebuild it): it shows the earlier report"
    return True, (), "report.pdf rebuilt (it was there before)"


def cmd_compare(args: argparse.Namespace) -> int:
    from ..report.compare_html import VERDICT_TEXT
    from ..report.compare_writer import write_compare
    from ..text import change_values

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
    from ..measure import models

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
    from ..synth import synth_from_video, synth_main

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
    from ..batch import VIDEO_EXTENSIONS
    from ..validation.real import run_real_validation
    from ..validation.synthetic import run_validation

    videos = None
    if args.real:
        folder = Path(args.real)
        if not folder.is_dir():
            raise SynkanError(f"--real: {folder} is not a folder of videos")
        videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)
    if args.normative:
        from ..validation.normative import write_reference

        if not args.real:
            raise SynkanError("--normative needs --real DIR: the healthy people's videos")
        print(write_reference(args.real, args.output))
        return 0
    if args.scales:
        from ..validation.scales import run_scale_validation

        print(run_scale_validation(args.output, videos))
        return 0
    text = run_validation(args.output, laterality=args.laterality or Settings().laterality, quick=args.quick)
    if videos:
        from ..validation.normative import leave_one_person_out

        # Every person is graded against a healthy reference built without them.
        settings_for = leave_one_person_out(videos, Path(args.output) / "real_faces")
        text += "\n\n" + run_real_validation(videos, args.output, settings_for)
    print(text)
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from ..batch import Tls, run_batch

    _check_pdf(args)
    tls = Tls(ca=args.tls_ca, cert=args.tls_cert, key=args.tls_key)
    return run_batch(args.inputs, args.output, settings_from_args(args), jobs=args.jobs, scheduler=args.scheduler,
                     tls=tls, force=args.force, retry_failed=args.retry_failed, model=args.model,
                     figures=not args.no_figures, pdf=args.pdf, paper=args.paper, deidentify=args.deidentify)


def cmd_export_landmarks(args: argparse.Namespace) -> int:
    from ..clinic.export import export_landmarks

    print(export_landmarks(args.outdir, args.format, args.output, args.force))
    return 0


def cmd_trends(args: argparse.Namespace) -> int:
    from ..batch import NO_TRENDS_NOTE, write_trends

    written = write_trends(args.outdir)
    for path in written:
        print(path)
    if not any(p.name == "trends.csv" for p in written):
        print(NO_TRENDS_NOTE, file=sys.stderr)
    return 0


def cmd_protocol(args: argparse.Namespace) -> int:
    from ..grade.protocols import instruction_sheet

    print(instruction_sheet(args.name))
    return 0
