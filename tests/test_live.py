"""synkan live: the server's gate, and the real page in headless Chromium fed by a fake camera.

The browser tests run Debian's Chromium (never a downloaded one) with a fake
camera playing a y4m made by ffmpeg from a shared real video, driven by
Playwright for Python; they skip, saying why, where any of these is absent.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import shared_video
from live_harness import CHROMIUM, browser_page, camera_y4m, live_server, start_session

LIVE_VIDEO = "KwaiVGI_d18.mp4"  # a frontal man, neutral then smiles: the bars must move
# Page values vs `synkan analyze` of the recording, per frame (see test_recorded_session_matches_analyze).
TOLERANCE = 2e-6


def _synkan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synkan.cli", *args], capture_output=True, text=True,
                          timeout=600)


def test_live_measure_is_the_analysis_measure(real_video, model_path):
    """The live path's per-frame values are the file pipeline's, with the calibration as the rest segment
    (no low-pass: --cutoff-hz 15 leaves a 30 fps signal unfiltered). Same frames, same times: exact."""
    from synkan.config import Settings
    from synkan.live import measure
    from synkan.measure.landmarker import Landmarker
    from synkan.measure.signals import signals_process
    from synkan.measure.tracking import track_video
    from synkan.measure.video import iter_frames

    landmarker = Landmarker(model_path)
    try:
        follower = measure.new_follower(landmarker)
        frames = [measure.landmark(landmarker, follower, f.rgb, f.t_s) for f in iter_frames(real_video)]
    finally:
        landmarker.close()
    rest_s = (0.0, 0.8)  # neutral, before the smile
    rest = measure.calibrate([f for f in frames if f.t_s <= rest_s[1]])
    live = [measure.measure(rest, f).values for f in frames]
    track = track_video(real_video, model_path=model_path)
    signals = signals_process(track, Settings(cutoff_hz=15), rest_s=rest_s)
    for name in measure.SIGNALS:
        np.testing.assert_allclose([v[name] for v in live], signals[name], atol=1e-6, err_msg=name)
    assert np.ptp(signals["mouth_excursion_r"]) > 0.05  # the smile moved the values being compared


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _other_address() -> str | None:
    """This machine's address on its default route (not the loopback), or None without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent: this only picks the interface
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_live_refuses_a_connection_without_the_token(model_path):
    aiohttp = pytest.importorskip("aiohttp", reason="synkan live needs the [live] extra")
    import asyncio

    with live_server("-o", "unused") as url:
        base = url.split("?")[0]
        assert _status(url) == 200
        assert _status(base) == 403
        assert _status(base + "?token=guess") == 403
        port = int(re.search(r":(\d+)/", url).group(1))
        other = _other_address()
        if other is not None:  # bound on the loopback only: not reachable on this machine's other address
            with pytest.raises(OSError):
                socket.create_connection((other, port), timeout=5).close()

        async def handshake(path: str, origin: str | None = None) -> int:
            headers = {"Origin": origin} if origin else {}
            async with aiohttp.ClientSession() as session:
                try:
                    async with session.ws_connect(base.rstrip("/") + path, headers=headers):
                        return 101
                except aiohttp.WSServerHandshakeError as exc:
                    return exc.status

        token = url.split("token=")[1]
        assert asyncio.run(handshake("/ws")) == 403
        assert asyncio.run(handshake("/ws?token=wrong")) == 403
        assert asyncio.run(handshake(f"/ws?token={token}", origin="http://evil.example")) == 403
        assert asyncio.run(handshake(f"/ws?token={token}")) == 101


def test_live_bad_input_is_one_line_and_exit_2(tmp_path, model_path):
    pytest.importorskip("aiohttp", reason="synkan live needs the [live] extra")
    missing = _synkan("live", "--video", str(tmp_path / "nope.mp4"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no such file" in missing.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = _synkan("live", "--port", str(busy.getsockname()[1]))
    assert taken.returncode == 2 and taken.stderr.count("\n") == 1 and "cannot listen" in taken.stderr
    blank = tmp_path / "blank.avi"
    _grey_video(blank)
    no_face = _synkan("live", "--video", str(blank))
    assert no_face.returncode == 2 and no_face.stderr.count("\n") == 1 and "no face" in no_face.stderr


def _grey_video(path: Path) -> None:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for _ in range(20):
        writer.write(np.full((48, 64, 3), 128, np.uint8))
    writer.release()


# --- the real page in Chromium --------------------------------------------------------------------


@pytest.fixture(scope="module")
def camera_file(tmp_path_factory) -> Path:
    """A 640x480 y4m of a shared real video, for Chromium's fake camera."""
    if CHROMIUM is None:
        pytest.skip("no Debian chromium on PATH (make system-deps)")
    if shutil.which("ffmpeg") is None:
        pytest.skip("no ffmpeg on PATH (make system-deps)")
    pytest.importorskip("playwright.sync_api", reason="no Playwright for Python (pip install '.[dev]')")
    pytest.importorskip("aiohttp", reason="synkan live needs the [live] extra")
    return camera_y4m(shared_video(LIVE_VIDEO), tmp_path_factory.mktemp("camera") / "camera.y4m")


def _recorded_session(page, url: str, seconds: float) -> dict:
    """Record a session of ``seconds``, stop, and wait for its analysis; the page's frames and outcome."""
    start_session(page, url, record=True)
    page.wait_for_timeout(seconds * 1000)
    page.click("#stop")
    page.wait_for_function("window.synkanLive.saved || window.synkanLive.errors.length", timeout=300_000)
    return page.evaluate("({frames: synkanLive.frames, saved: synkanLive.saved || null, "
                         "errors: synkanLive.errors})")


@pytest.mark.slow
def test_recorded_session_matches_analyze(camera_file, tmp_path, model_path):
    """Page loads cleanly, the bars move, a recording is an ordinary analysis, and the page's per-frame
    values are those of `synkan analyze` on the recorded frames (calibration as the rest, no low-pass).

    Tolerance 2e-6: the two roundings only (the page sends 6 decimals, signals.csv keeps 6 significant
    digits: each within 5e-7 for values below 1), plus float noise of 1e-7. Nothing else may differ:
    the recording holds exactly the pixels the page's values were measured in (decoded once, stored
    lossless) at their capture times in whole ms (MediaPipe's tracking depends on the time steps), the
    analysis takes the calibration as its rest segment, and --cutoff-hz 15 leaves the signals unfiltered
    below 37.5 frames/s. A lossy recording (motion JPEG, quality 95) gave differences up to 0.04 in eye
    closure, and capture times rounded to a constant rate up to 0.2: any such difference would mean a
    second measurement.
    """
    sessions = tmp_path / "sessions"
    with live_server("-o", str(sessions), "--exercise", "smile", "--reps", "1") as url:
        with browser_page(camera_file) as (page, console):
            result = _recorded_session(page, url, seconds=7)
            overlay = page.evaluate("synkanLive.overlay")
    errors = [text for kind, text in console if kind == "error"]
    assert not errors and not result["errors"], (errors, result["errors"])
    voluntary = np.array([f["bars"]["voluntary_pct"] for f in result["frames"]
                          if f["bars"] is not None and f["bars"]["voluntary_pct"] is not None])
    assert len(voluntary) > 20 and np.ptp(voluntary) > 2.0, "the movement bar did not move"
    # Sides in image pixels: the subject's right eye and mouth corner lie image-left.
    assert np.mean([x for x, _ in overlay["lids"]["r"][0]]) < np.mean([x for x, _ in overlay["lids"]["l"][0]])
    assert overlay["corners"][0][0] < overlay["corners"][1][0]

    analysis = Path(result["saved"]["analysis"])
    report = json.loads((analysis / "report.json").read_text())
    assert report["schema"] == "synkan.report/1" and report["video"]["frames"] > 20
    assert (analysis / "report.html").stat().st_size > 10_000
    again = _synkan("analyze", str(analysis.parent / "session.mkv"), "-o", str(tmp_path / "again"),
                    "--rest", report["settings"]["rest"], "--cutoff-hz", "15", "--no-figures")
    assert again.returncode == 0, again.stderr
    signals = pd.read_csv(tmp_path / "again" / "signals.csv")
    recorded = {f["rec"]: f["values"] for f in result["frames"] if f.get("rec") is not None}
    rows = sorted(recorded)
    assert rows == list(range(len(signals))), "every recorded frame is one video frame"
    for column in ("eye_closure_r", "eye_closure_l", "mouth_excursion_r", "mouth_excursion_l",
                   "mouth_narrowing"):
        page_values = np.array([np.nan if recorded[k][column] is None else recorded[k][column] for k in rows])
        diff = np.abs(page_values - signals[column].to_numpy())
        both = np.isfinite(diff)
        assert both.sum() > 20, column
        assert diff[both].max() <= TOLERANCE, (column, diff[both].max())
