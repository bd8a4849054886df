"""The Dask runner: the same work on an existing Dask distributed cluster (``--scheduler``).

What each scheduler URL trusts:

``tcp://HOST:PORT``
    Nothing is authenticated or encrypted: anyone who can reach the port can
    submit work to the cluster, and Dask unpickles what the scheduler and
    workers send back, so whoever controls the scheduler can run code in
    this process. Use it only on a trusted private network or through an
    SSH tunnel.
``tls://HOST:PORT``
    Mutual TLS (:class:`distributed.security.Security`): the scheduler must
    show a certificate signed by the cluster's CA (``--tls-ca``), and this
    client shows its own (``--tls-cert``, ``--tls-key``). Without those
    options Dask's own configuration is used (``distributed.comm.tls.ca-file``,
    ``distributed.comm.tls.client.cert`` and ``.key``). As Dask does, host
    names are not checked against the certificate: the cluster's own CA is
    the trust anchor.

Workers read the videos and write OUTDIR at the same paths as the client,
so both must be on a filesystem the cluster shares.
"""
from __future__ import annotations

import os
import socket
import ssl
import struct
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import SynkanError, one_line
from .worker import process_video

SCHEDULER_SCHEMES = ("tcp", "tls")
SCHEDULER_CONNECT_TIMEOUT_S = 10.0  # a scheduler that does not answer a Dask handshake in this time is not one
MAX_HANDSHAKE_BYTES = 1 << 20  # a Dask handshake is a few hundred bytes


@dataclass(frozen=True)
class Tls:
    """Certificates for a ``tls://`` scheduler (PEM files); a field left None comes from Dask's configuration.

    Attributes
    ----------
    ca : str, optional
        The CA that signed the scheduler's certificate.
    cert, key : str, optional
        This client's certificate and its private key (``key`` may be left
        out when ``cert`` holds both).
    """

    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    def given(self) -> dict[str, str]:
        """The options given, by flag name."""
        return {flag: v for flag, v in (("--tls-ca", self.ca), ("--tls-cert", self.cert), ("--tls-key", self.key))
                if v is not None}

    def security(self):
        """A :class:`distributed.security.Security` that requires encryption, with these files.

        Raises
        ------
        SynkanError
            Dask is not installed, a file is missing, or the files do not
            make a client TLS context.
        """
        try:
            from distributed.security import Security
        except ImportError:
            raise SynkanError("--scheduler needs Dask distributed: pip install synkan[dask]") from None
        for flag, path in self.given().items():
            if not Path(path).is_file():
                raise SynkanError(f"{flag} {path}: no such file")
        files = {"tls_ca_file": self.ca, "tls_client_cert": self.cert, "tls_client_key": self.key}
        try:
            security = Security(require_encryption=True, **{k: v for k, v in files.items() if v is not None})
            context = security.get_connection_args("client")["ssl_context"]
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: not PEM, key does not match...
            raise SynkanError(f"cannot load the TLS certificates ({one_line(exc)})") from None
        if context is None:
            raise SynkanError("a tls:// scheduler needs --tls-ca CA.pem and --tls-cert CERT.pem (with --tls-key "
                              "KEY.pem), or Dask's distributed.comm.tls settings")
        return security


def check_scheduler(url: str, tls: Tls | None = None):
    """Check ``url`` (``tcp://HOST:PORT`` or ``tls://HOST:PORT``) and that a Dask scheduler answers there.

    Returns
    -------
    distributed.security.Security or None
        The security to connect with (``tls://``), None for ``tcp://``.

    Raises
    ------
    SynkanError
        A malformed URL or TLS options without ``tls://`` (before any
        connection is tried), bad certificates, a failed TLS handshake, or
        no Dask scheduler answering within :data:`SCHEDULER_CONNECT_TIMEOUT_S`.
    """
    usage = f"--scheduler {url!r}: expected tcp://HOST:PORT (or tls://HOST:PORT)"
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:  # "tcp://[::1", a port that is not a number or out of range
        raise SynkanError(usage) from None
    if (parts.scheme not in SCHEDULER_SCHEMES or not parts.hostname or port is None or parts.path not in ("", "/")
            or parts.query or parts.fragment or parts.username is not None):
        raise SynkanError(usage)
    tls = tls or Tls()
    if parts.scheme != "tls" and tls.given():
        raise SynkanError(f"{next(iter(tls.given()))} needs a tls:// scheduler, not {url}")
    security = tls.security() if parts.scheme == "tls" else None
    context = security.get_connection_args("client")["ssl_context"] if security else None
    _probe_scheduler(parts.hostname, port, url, context)
    return security


def _probe_scheduler(host: str, port: int, url: str, context: ssl.SSLContext | None) -> None:
    """Check that a Dask scheduler answers, within :data:`SCHEDULER_CONNECT_TIMEOUT_S`.

    A Dask scheduler sends its handshake as soon as a client connects,
    prefixed by its length. Reading that length ourselves keeps a silent
    server from hanging the batch, and a server of another kind from having
    its first bytes taken for a frame size of exabytes inside Dask. Over
    TLS the certificates are checked first, with the context Dask will use.
    """
    where = f"cannot connect to the Dask scheduler at {url}"
    try:
        with socket.create_connection((host, port), timeout=SCHEDULER_CONNECT_TIMEOUT_S) as raw:
            sock = context.wrap_socket(raw) if context is not None else raw
            head = b""
            while len(head) < 8:
                block = sock.recv(8 - len(head))
                if not block:
                    raise SynkanError(f"{where}: it closed the connection (not a Dask scheduler?)")
                head += block
    except socket.timeout:
        raise SynkanError(f"{where}: no Dask handshake within {SCHEDULER_CONNECT_TIMEOUT_S:.0f} s "
                          "(not a Dask scheduler?)") from None
    except ssl.SSLCertVerificationError as exc:
        raise SynkanError(f"{where}: its certificate is not trusted ({exc.verify_message}; is --tls-ca the CA "
                          "that signed it?)") from None
    except ssl.SSLError as exc:
        raise SynkanError(f"{where}: TLS handshake failed ({exc.reason or one_line(exc)}; a tls:// scheduler "
                          "with the cluster's certificates?)") from None
    except OSError as exc:
        raise SynkanError(f"{where}: {exc.strerror or one_line(exc)}") from None
    if not 0 < struct.unpack("<Q", head)[0] <= MAX_HANDSHAKE_BYTES:
        raise SynkanError(f"{where}: it does not speak Dask's protocol (not a Dask scheduler?)")


def run_dask(tasks: list[tuple], scheduler: str, security, on_result: Callable[[Any, dict], None]) -> None:
    """Run tasks (item, args for :func:`process_video`) on the Dask scheduler at ``scheduler``."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SynkanError("--scheduler needs Dask distributed: pip install synkan[dask]") from None
    try:
        client = Client(scheduler, security=security, set_as_default=False, timeout=SCHEDULER_CONNECT_TIMEOUT_S)
    except Exception as exc:  # refused, silent, or not Dask at all (an HTTP server's reply read as a frame size)
        raise SynkanError(f"cannot connect to the Dask scheduler at {scheduler}: {one_line(exc)}") from None
    futures = {}
    try:
        for task in tasks:
            key = f"synkan-{Path(task[1][3]).name}-{os.urandom(4).hex()}"
            futures[client.submit(process_video, *task[1], pure=False, key=key)] = task
        for fut in as_completed(list(futures), loop=client.loop):
            item = futures[fut][0]
            try:
                res = fut.result()
            except Exception as exc:  # e.g. KilledWorker: the video crashed worker after worker
                res = {"status": f"failed: worker crashed ({one_line(exc)})", "elapsed_s": None}
            on_result(item, res)
    except BaseException:
        for fut in futures:
            fut.cancel()
        raise
    finally:
        client.close()
