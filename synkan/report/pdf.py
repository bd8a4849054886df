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

from ..errors import OutputError

ENV_CHROMIUM = "SYNKAN_CHROMIUM"
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
PRINT_TIMEOUT_S = 120


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


def write_pdf(html_path: str | Path, pdf_path: str | Path) -> Path:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium (A4/Letter from the page's own CSS).

    Raises
    ------
    OutputError
        Chromium is missing, fails or writes nothing.
    """
    browser = find_chromium()
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path).resolve()
    profile = tempfile.mkdtemp(prefix="synkan-chromium-")
    # Chromium refuses to start as root inside its sandbox; the page is our own local file.
    sandbox = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    cmd = [browser, "--headless", *sandbox, "--disable-gpu", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-pdf-header-footer", f"--user-data-dir={profile}",
           f"--print-to-pdf={pdf_path}", html_path.as_uri()]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=PRINT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OutputError(f"report.pdf: Chromium did not print ({type(exc).__name__})") from None
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if done.returncode != 0 or not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise OutputError(f"report.pdf: Chromium failed (exit {done.returncode}: {last})")
    return pdf_path
