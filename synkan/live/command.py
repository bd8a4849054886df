"""The ``synkan live`` subcommand's arguments (light: the server and the pipeline load only when it runs)."""

from __future__ import annotations

import argparse

MODEL_HELP = "face_landmarker.task (default: $SYNKAN_MODEL, models/, cache, download)"


def add_live_parser(sub) -> None:
    """Add ``live`` to the CLI's subcommands (``sub`` from ``add_subparsers``)."""
    p = sub.add_parser("live", help="camera biofeedback for facial retraining: a local page with live bars")
    p.add_argument("--affected", choices=("right", "left"), help="the affected side (the subject's side)")
    p.add_argument(
        "--exercise",
        default="retraining",
        metavar="NAME",
        help="movements to practise: retraining (gentle smile, then pucker; default), smile, pucker, "
        "sunnybrook, bell",
    )
    p.add_argument("--reps", type=int, default=3, help="repetitions of each movement (default 3)")
    p.add_argument(
        "--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765; 0: any free port)"
    )
    p.add_argument("--video", metavar="FILE", help="play a video file instead of the camera (demos, tests)")
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        default="synkan_sessions",
        help="where recorded sessions go (only when Record is ticked; default ./synkan_sessions)",
    )
    p.add_argument("--model", metavar="PATH", help=MODEL_HELP)
    p.set_defaults(func=cmd_live)


def cmd_live(args: argparse.Namespace) -> int:
    """Run ``synkan live`` (see :func:`synkan.live.run.run_live`)."""
    from .run import run_live

    return run_live(
        affected=args.affected,
        exercise=args.exercise,
        reps=args.reps,
        port=args.port,
        video=args.video,
        output=args.output,
        model=args.model,
    )
