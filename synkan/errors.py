"""User-facing errors.

Every error a user can cause (bad input, a missing model, an existing output)
is a :class:`SynkanError`. The CLI prints its message as one line and exits
with its ``exit_code``; anything else is a bug and shows a traceback.
"""
from __future__ import annotations

#: An error line longer than this is cut: a message quoting a pasted file must still be one readable line.
MAX_LINE_CHARS = 1000


class SynkanError(Exception):
    """An error whose message is meant for the user, as one line."""

    exit_code = 2


class InputError(SynkanError):
    """The input video (or settings, or segments) cannot be used."""


class NoFaceError(InputError):
    """No face was found in enough frames to analyse."""


class ModelError(SynkanError):
    """The landmark model is missing, corrupt or cannot be fetched."""


class OutputError(SynkanError):
    """The output location cannot be written, or holds results already."""


def one_line(message: str | BaseException, with_type: bool = True) -> str:
    """``message`` as one printable line, for an error message or a batch status.

    Control characters are escaped (a file name holding a newline must not
    split the line) and a line longer than :data:`MAX_LINE_CHARS` is cut. An exception
    that is not a :class:`SynkanError` is
    prefixed with its type (``with_type``), since its text alone may not say
    what went wrong ("timed out").

    Examples
    --------
    >>> one_line("bad\\nname.mp4: no such file")
    'bad\\\\nname.mp4: no such file'
    >>> one_line(ValueError("x"))
    'ValueError: x'
    """
    text = str(message)
    if isinstance(message, BaseException):
        name = type(message).__name__
        if not text:
            text = name
        elif with_type and not isinstance(message, SynkanError):
            text = f"{name}: {text}"
    line = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text[: MAX_LINE_CHARS * 4])
    return line if len(line) <= MAX_LINE_CHARS else line[: MAX_LINE_CHARS - 1] + "…"
