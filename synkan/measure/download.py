"""Download one file over HTTP(S), verify its SHA-256 and move it into place atomically.

The data goes to a hidden ``*.part`` temporary file beside the target; only a
file whose SHA-256 matches is renamed (``os.replace``) to the target's name.
A partial or corrupt download never carries the final name, and the
temporary file is removed on any failure. Used for the landmark model
(:func:`synkan.measure.models.fetch_model`); nothing else leaves the machine.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .._util.files import remove_stale
from .._util.native_stderr import removed_if_crashed
from ..errors import ModelError, one_line

CHUNK_BYTES = 1 << 20
#: The whole download's deadline: a server dripping a byte at a time stays under every socket timeout.
DOWNLOAD_DEADLINE_S = 900.0


def download_verified(url: str, final: Path, sha256: str, size: int, *, progress: bool = True,
                      timeout_s: float = 30, user_agent: str = "synkan", hint: str = "",
                      deadline_s: float = DOWNLOAD_DEADLINE_S) -> Path:
    """Fetch ``url`` into ``final`` if its SHA-256 is ``sha256``; at most ``size`` bytes are accepted.

    Parameters
    ----------
    url : str
    final : Path
        Where the verified file goes; its folder is created if needed.
    sha256 : str
        Expected hex digest.
    size : int
        Expected size in bytes: the download stops as soon as a server sends
        (or announces) more, so an endless stream cannot fill the disk.
    progress : bool
        Show a progress bar (only when stderr is a terminal).
    timeout_s : float
        Socket timeout in seconds (connect and each read).
    deadline_s : float
        The whole download's time limit; a partial file older than this
        beside ``final`` is an interrupted download's, and is removed.
    user_agent, hint : str
        The request's User-Agent; what to do instead, appended to a checksum error.

    Raises
    ------
    ModelError
        On network errors, a wrong size or checksum, or an unwritable folder.
    """
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(final.parent, f".{final.name}.", ".part", older_than_s=deadline_s)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    except OSError as exc:
        raise ModelError(f"cannot write the model into {final.parent}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    out = os.fdopen(fd, "wb")
    try:
        with removed_if_crashed(tmp):
            digest = _fetch(url, out, size, progress, (timeout_s, time.monotonic() + deadline_s), user_agent,
                            final.name)
        if digest != sha256:
            raise ModelError(f"download of {url} fails its checksum (sha256 {digest[:12]}..., expected "
                             f"{sha256[:12]}...); nothing was installed: {hint}")
        os.replace(tmp, final)
    except BaseException:
        out.close()
        tmp.unlink(missing_ok=True)
        raise
    return final


def _fetch(url: str, out, size: int, progress: bool, timeouts: tuple[float, float], user_agent: str,
           name: str) -> str:
    """Stream ``url`` into the open file ``out`` (closed after); returns the data's SHA-256.

    ``timeouts`` is the socket timeout and the monotonic time the download must end by.
    """
    timeout_s, deadline = timeouts
    too_big = ModelError(f"download of {url} failed: the server sends more than the model's {size} bytes; "
                         "stopped and removed the partial file")
    h = hashlib.sha256()
    try:
        request = urllib.request.Request(url, headers={"User-Agent": user_agent})
        with out, urllib.request.urlopen(request, timeout=timeout_s) as resp:
            total = resp.headers.get("Content-Length")
            expected = int(total) if total and total.isdigit() else None
            if expected is not None and expected > size:
                raise too_big
            received = 0
            from tqdm import tqdm

            bar = tqdm(total=expected, unit="B", unit_scale=True, unit_divisor=1024, desc=f"downloading {name}",
                       disable=not progress or not sys.stderr.isatty(), leave=False)
            with bar:
                while True:
                    # read1: what one receive brings, so the deadline is checked however slowly data come
                    block = resp.read1(min(CHUNK_BYTES, size + 1 - received))  # one byte over is enough
                    if not block:
                        break
                    if time.monotonic() > deadline:
                        raise ModelError(f"download of {url} failed: not finished within the deadline; "
                                         "stopped and removed the partial file")
                    if received + len(block) > size:
                        raise too_big
                    out.write(block)
                    h.update(block)
                    received += len(block)
                    bar.update(len(block))
            if expected is not None and received != expected:
                raise ModelError(f"download of {url} failed: incomplete, got {received} of {expected} bytes")
            out.flush()
            os.fsync(out.fileno())
    except urllib.error.HTTPError as exc:
        raise ModelError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise ModelError(f"download of {url} failed: {one_line(exc.reason, with_type=False)}") from None
    except (OSError, ValueError, http.client.HTTPException) as exc:  # timeouts, resets, truncation, bad URLs, disk full
        raise ModelError(f"download of {url} failed: {one_line(exc, with_type=False)}") from None
    return h.hexdigest()
