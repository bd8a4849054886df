"""User-facing errors.

Every error a user can cause (bad input, a missing model, an existing output)
is a :class:`SynkanError`. The CLI prints its message as one line and exits
with its ``exit_code``; anything else is a bug and shows a traceback.
"""
from __future__ import annotations


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
