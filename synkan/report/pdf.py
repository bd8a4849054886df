"""report.pdf: report.html printed by headless Chromium, so the PDF is the page as a browser prints it.

No Python PDF library lays out this HTML and CSS (print media, page breaks,
embedded figures) faithfully; Chromium is the browser the report is tested in.
``$SYNKAN_CHROMIUM`` names the browser when it is not ``chromium`` /
``chromium-browser`` / ``google-chrome`` on the PATH.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .._util.files import open_regular
from .._util.process import run_in_group
from ..errors import InputError, OutputError, one_line

ENV_CHROMIUM = "SYNKAN_CHROMIUM"
PAPERS = {"a4": "A4", "letter": "letter"}  # --paper value -> CSS @page size
# Countries that print on Letter (ISO 3166 codes in a locale name such as en_US.UTF-8); elsewhere A4.
LETTER_COUNTRIES = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "GT", "CR", "PA", "SV", "NI", "DO", "PR",
                              "BZ"})
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
PRINT_TIMEOUT_S = 120
PDF_MAGIC = b"%PDF-"
MAX_PDF_BYTES = 200_000_000  # the report's PDF is a few MB


def find_chromium() -> str:
    """The Chromium executable to print with.

    Raises
    ------
    OutputError
        One line saying how to get it, when there is none.
    """
    given = os.environ.get(ENV_CHROMIUM)
    found = shutil.which(given) if given else next((p for p in map(shutil.which, BROWSERS) if p), None)
    if not found:
        where = f"${ENV_CHROMIUM}={given} is not an executable" if given else "no chromium on the PATH"
        raise OutputError(f"--pdf needs headless Chromium ({where}): install it (apt-get install chromium) "
                          "or print report.html from a browser")
    return found


def browser_command(browser: str, html_path: Path, pdf_path: Path, profile: str) -> list[str]:
    """The headless print command: nothing may leave the machine, nothing persists after it.

    Debian's wrapper adds ``--enable-remote-extensions``, and a browser looks
    up its update and extension servers on start; every host name resolves
    to nothing (``--host-resolver-rules``) and extensions, sync, component
    updates and background networking are off. The profile is a fresh
    temporary folder, removed afterwards.
    """
    # Chromium refuses to start as root inside its sandbox; the page is our own local file.
    sandbox = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return [browser, "--headless", *sandbox, "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost", "--disable-extensions",
            "--disable-component-extensions-with-background-pages", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-domain-reliability",
            "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
            "--metrics-recording-only", "--no-pings", "--no-pdf-header-footer", f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf_path}", html_path.as_uri()]


def default_paper(environ: dict | None = None) -> str:
    """``"letter"`` when the locale's country prints on Letter (LC_PAPER, LC_ALL or LANG), else ``"a4"``.

    Examples
    --------
    >>> default_paper({"LANG": "en_US.UTF-8"}), default_paper({"LANG": "de_DE.UTF-8"}), default_paper({})
    ('letter', 'a4', 'a4')
    >>> default_paper({"LC_PAPER": "en_GB.UTF-8", "LANG": "en_US.UTF-8"})
    'a4'
    """
    environ = os.environ if environ is None else environ
    name = next((environ[k] for k in ("LC_PAPER", "LC_ALL", "LANG") if environ.get(k)), "")
    country = name.split(".")[0].partition("_")[2].upper()
    return "letter" if country in LETTER_COUNTRIES else "a4"


def _with_paper(html_path: Path, paper: str, folder: str) -> Path:
    """A copy of the page that asks for ``paper`` (report.html itself stays paper-neutral)."""
    rule = f"<style>@page {{ size: {PAPERS[paper]}; }}</style>"
    copy = Path(folder) / "report.html"
    copy.write_text(html_path.read_text(encoding="utf-8").replace("</head>", rule + "</head>", 1), encoding="utf-8")
    return copy


def write_pdf(html_path: str | Path, pdf_path: str | Path, paper: str | None = None) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium.

    Parameters
    ----------
    html_path, pdf_path : str or Path
    paper : {"a4", "letter"}, optional
        The sheet size; default :func:`default_paper` (the locale's, else A4).

    Raises
    ------
    OutputError
        Chromium is missing, fails, hangs (its whole process group is killed
        after :data:`PRINT_TIMEOUT_S`) or writes something that is not a PDF.
    """
    browser = find_chromium()
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path).resolve()
    profile = tempfile.mkdtemp(prefix="synkan-chromium-")
    try:
        html_path = _with_paper(html_path, paper or default_paper(), profile)
        code, err = run_in_group(browser_command(browser, html_path, pdf_path, profile), PRINT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OutputError(f"report.pdf: Chromium did not print ({type(exc).__name__})") from None
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if code != 0 or not _is_pdf(pdf_path):
        last = (err.strip().splitlines() or ["no message"])[-1]
        pdf_path.unlink(missing_ok=True)
        raise OutputError(f"report.pdf: Chromium failed (exit {code}: {one_line(last)[:200]})")
    return pdf_path


def _is_pdf(path: Path) -> bool:
    """A non-empty regular file that starts as a PDF does (not a symlink the browser left, not text)."""
    if path.is_symlink():
        return False
    try:
        with open_regular(path, MAX_PDF_BYTES, "PDF") as fh:
            return fh.read(len(PDF_MAGIC)) == PDF_MAGIC
    except InputError:
        return False
