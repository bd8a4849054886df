"""Driving ``synkan live`` for real: the server as a subprocess, Debian's Chromium with a fake camera.

Shared by tests/test_live.py and benchmarks/bench_live.py (which puts this folder on its path).
Chromium is never downloaded: Playwright launches the ``chromium`` on PATH.
"""
from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Scaled into 640x480 whatever the source's shape, 30 frames/s: the fake camera's stream.
CAMERA_FILTER = ("scale=640:480:force_original_aspect_ratio=decrease,"
                 "pad=640:480:(ow-iw)/2:(oh-ih)/2,fps=30")


def camera_y4m(video: Path, out: Path) -> Path:
    """``video`` as a 640x480 y4m for ``--use-file-for-fake-video-capture`` (ffmpeg)."""
    command = ["ffmpeg", "-v", "error", "-y", "-i", str(video), "-vf", CAMERA_FILTER, "-pix_fmt", "yuv420p"]
    subprocess.run([*command, str(out)], check=True, timeout=300)
    return out


@contextlib.contextmanager
def live_server(*args: str):
    """``synkan live --port 0 ARGS`` in a subprocess; yields the URL it prints."""
    proc = subprocess.Popen([sys.executable, "-m", "synkan.cli", "live", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+/\?token=\S+)", line)
        assert found, f"no URL printed: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}"
        yield found.group(1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextlib.contextmanager
def browser_page(camera: Path, viewport: dict | None = None):
    """Headless Chromium whose camera plays ``camera``; yields (page, console messages as (type, text))."""
    from playwright.sync_api import sync_playwright

    flags = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
             f"--use-file-for-fake-video-capture={camera}"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            # bypass_csp: the page forbids eval, which Playwright needs for its own evaluate().
            page = browser.new_page(viewport=viewport or {"width": 1240, "height": 860}, bypass_csp=True)
            console: list[tuple[str, str]] = []
            page.on("console", lambda m: console.append((m.type, m.text)))
            page.on("pageerror", lambda e: console.append(("error", str(e))))
            yield page, console
        finally:
            browser.close()


def start_session(page, url: str, record: bool = False) -> None:
    """Open the page, wait for the camera and the server, tick Record if asked, press Start."""
    page.goto(url)
    page.wait_for_function("document.getElementById('start').disabled === false", timeout=60_000)
    if record:
        page.check("#record")
    page.click("#start")
