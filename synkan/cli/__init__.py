"""``synkan`` command line: a thin layer over the Python API.

Every user error ends in one line on stderr and a non-zero exit code
(2 for usage and input errors); ``--debug`` shows the traceback instead.
``parser`` holds the arguments, ``commands`` what each subcommand does.
"""
from __future__ import annotations

import signal

from .._util.native_stderr import filtered_native_stderr
from .._util.process import Terminated, release_stderr, say, terminate_as_interrupt, usable_stdio
from ..errors import SynkanError, one_line
from .commands import settings_from_args
from .parser import build_parser

__all__ = ["build_parser", "main", "settings_from_args"]


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
