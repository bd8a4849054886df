"""The clinician's report: figures, report.html (rendered in headless Chromium), overlay.mp4, ``synkan
report``.

One real analysis of a short synthetic sample is built once for the module;
nothing is mocked. Chromium must be installed (``make system-deps``): a
missing browser fails these tests rather than skipping them.
"""
from __future__ import annotations

import html as _html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import pytest

import synkan
from synkan.cli import main
from synkan.report import figures, summary_matrix
from synkan.report.html import render_html
from synkan.report.writer import write_outputs

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_videos" / "oral_ocular_left.mp4"
FIGURES = ("timeseries", "xcorr", "scatter", "keyframes", "summary_matrix", "movement_matrix", "movement_keyframes")


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
    assert Path(path).exists(), "Chromium is needed to test report.html: run `make system-deps`"
    return path


def run_chromium(*args: str) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="synkan-chromium-")
    try:
        cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """One analysis of a synthetic one-sided case, with figures, HTML and overlay."""
    analysis = synkan.analyze(SAMPLE)  # the default pixel lids: the healthy reference is measured with them
    outdir = tmp_path_factory.mktemp("report") / "out"
    write_outputs(analysis, outdir, overlay=True)
    return outdir


@pytest.fixture(scope="module")
def report(out) -> dict:
    return json.loads((out / "report.json").read_text())


# --- figures ---------------------------------------------------------------------------

def test_figures_are_nontrivial_pngs(out):
    for name in FIGURES:
        path = out / "figures" / f"{name}.png"
        assert path.stat().st_size > 10_000, name
        img = cv2.imread(str(path))
        assert img is not None and img.shape[0] > 200 and img.shape[1] > 600, name
        assert img.std() > 20, f"{name} is blank"


def test_plot_functions_return_figures(out):
    analysis = synkan.load(out)
    for name in ("plot_xcorr", "plot_summary_matrix"):
        fig = getattr(figures, name)(analysis)
        assert len(fig.axes) >= 1


def test_summary_matrix_deciding_row_matches_report(out, report):
    rows, _, values, voluntary = summary_matrix.summary_matrix(synkan.load(out))
    oo = rows.index(report["scores"]["oral_ocular"]["movement"])
    for j, side in ((0, "right"), (1, "left")):
        assert values[oo, j] == pytest.approx(report["scores"]["oral_ocular"][side]["involuntary_pct"])
    assert voluntary[oo, 2] and voluntary[oo, 3] and not voluntary[oo, 0]


def test_headline_and_table_show_the_same_rounded_numbers(report):
    """1.54 vs 1.15 once read "2% vs 1%" beside a table's "0 percentage points": one rounding for both now."""
    case = json.loads(json.dumps(report))
    entry = case["scores"]["ocular_oral"]
    entry.update(affected_side="right", asymmetry_pp=0.39, asymmetry_se_pp=0.21, grade=0, grade_name="none",
                 verdict="ruled out", conclusive=True)
    entry["right"].update(involuntary_pct=1.54, r=0.8, lag_s=0.002)
    entry["left"].update(involuntary_pct=1.15)
    page = render_html(case, {})
    text = visible_text(page)
    line = text.split("No ocular-oral synkinesis")[1].split("eFACE")[0]
    mm = case["scores"]["sunnybrook"]["mm_per_iod"] / 100  # the clinician's page gives mouth movement in mm
    assert f"right {1.54 * mm:.1f} mm up, left {1.15 * mm:.1f} mm up" in line, line
    table = text.split("Measurements")[1]
    assert "1.5% of eye distance" in table and "1.1% of eye distance" in table
    assert "median of the per-event differences: 0.4 percentage points" in table
    assert "2% of eye distance" not in text and "side difference: 0 " not in text
    # Lags at the frame's precision: 2 ms at 30 fps is "0 ms (±17 ms)", in the sentence and the table alike.
    assert case["video"]["fps"] == 30.0
    assert "0 ms (±17 ms)" in table and "2 ms" not in text
    assert unexplained_numbers(page, case) == []


# --- report.html ---------------------------------------------------------------------------

def visible_text(page: str) -> str:
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"</?(span|b|i|em|strong|code)\b[^>]*>", "", page, flags=re.I)  # inline tags
    page = re.sub(r"<[^>]+>", " ", page)  # other tags, with their attributes and data URIs
    return re.sub(r"\s+", " ", _html.unescape(page))


def _report_numbers(report: dict) -> tuple[list[float], list[str]]:
    numbers: list[float] = []
    strings: list[str] = []

    def walk(x):
        if isinstance(x, bool) or x is None:
            return
        if isinstance(x, (int, float)):
            numbers.append(float(x))
        elif isinstance(x, str):
            strings.append(x)
            numbers.extend(float(m) for m in re.findall(r"-?\d+(?:\.\d+)?", x))
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)

    walk(report)
    # Percentages of fractions and milliseconds of seconds are the same numbers, rescaled.
    derived = [k * v for v in numbers for k in (1, 100, 1000)]
    # Lags are printed at the frame's precision: whole frames, +/- half a frame, in ms.
    fps = (report.get("video") or {}).get("fps")
    if fps:
        derived += [500 * k / fps for k in range(-2 * 60, 2 * 60 + 1)]
    # Mouth movement is shown in mm on page 1 (% of eye distance x mm per eye distance); the Sunnybrook
    # synkinesis scale runs 0-15 (3 points x 5 movements).
    mm_per_iod = ((report.get("scores") or {}).get("sunnybrook") or {}).get("mm_per_iod")
    if mm_per_iod:
        derived += [v * mm_per_iod / 100 for v in numbers]
    derived += [0.0, 15.0]
    return derived, strings


def unexplained_numbers(page: str, report: dict) -> list[str]:
    """Numbers in the page's visible text that report.json does not hold (allowing rounding)."""
    derived, strings = _report_numbers(report)
    bad = []
    for token in re.findall(r"[0-9A-Za-z_.:+\-]+", visible_text(page)):
        token = token.strip(".:-+")
        if not re.search(r"\d", token):
            continue
        if not re.fullmatch(r"-?\d+(?:\.\d+)?", token):
            # Hashes, file names, dates, versions: must be verbatim in a report string.
            if not any(token in s for s in strings):
                bad.append(token)
            continue
        x = float(token)
        decimals = len(token.split(".")[1]) if "." in token else 0
        tol = 0.5 * 10 ** -decimals + 1e-9
        # The token's sign was stripped with its punctuation: compare magnitudes.
        if not any(abs(abs(v) - x) <= tol for v in derived):
            bad.append(token)
    return bad


def test_html_numbers_all_come_from_report_json(out, report):
    page = (out / "report.html").read_text()
    assert unexplained_numbers(page, report) == []
    # The check itself catches a stray number.
    assert unexplained_numbers(page.replace("</body>", "<p>grade 98765.4</p></body>"), report) == ["98765.4"]


def test_html_null_values_say_not_measurable(out, report):
    analysis = synkan.load(out)
    blank = json.loads(json.dumps(report))
    blank["scores"]["ocular_oral"].update(affected_side=None, grade=None, grade_name=None, asymmetry_pp=None)
    for side in ("right", "left"):
        blank["scores"]["ocular_oral"][side].update(r=None, lag_s=None, gain=None, involuntary_pct=None, n_events=0)
    blank["scores"]["eface_ocular_synkinesis"] = None
    blank["warnings"] = ["Ocular-oral: no blink or eye closure found; scores are null",
                         "eFACE ocular synkinesis: no smile or pucker found"]
    page = render_html(blank, {})
    text = visible_text(page)
    assert "not measurable (no blink or eye closure found)" in text
    assert "no smile or pucker found" in text
    assert "n/a" not in text and "None" not in text and "nan" not in text.split()
    assert unexplained_numbers(page, blank) == []
    assert analysis.video["path"].endswith("oral_ocular_left.mp4")


def test_html_is_self_contained_and_printable(out, report):
    page = (out / "report.html").read_text()
    assert "@media print" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page, re.I)
    assert "@import" not in page and "<link" not in page.lower() and "url(" not in page
    assert page.count('src="data:image/png;base64,') == len(FIGURES)
    text = visible_text(page)
    assert "oral_ocular_left.mp4" in text and report["video"]["sha256"] in text and report["synkan_version"] in text
    assert "Oral-ocular synkinesis, LEFT" in text  # the one-sided synthetic case is the subject's left
    assert "not a diagnosis" in text
    assert "oral_ocular_left" not in render_html(report, {}, deidentify=True)


def test_html_renders_in_chromium(out, tmp_path):
    page = (out / "report.html").read_text()
    shot = tmp_path / "shot.png"
    run_chromium(f"--screenshot={shot}", "--window-size=1200,3000", (out / "report.html").as_uri())
    img = cv2.imread(str(shot))
    assert img is not None and img.shape[:2] == (3000, 1200)
    assert img.std() > 20, "the rendered page is blank"
    assert (img.min(axis=2) < 200).mean() > 0.05, "the rendered page is nearly empty"

    probe = """<script>window.addEventListener("load", function () {
      var p = document.createElement("pre"); p.id = "imgcheck";
      p.textContent = Array.prototype.map.call(document.images, function (i) {
        return (i.complete ? "1" : "0") + ":" + i.naturalWidth; }).join(",");
      document.body.appendChild(p); });</script></body>"""
    probed = tmp_path / "probe.html"
    probed.write_text(page.replace("</body>", probe), encoding="utf-8")
    dom = run_chromium("--dump-dom", "--virtual-time-budget=10000", probed.as_uri()).stdout
    found = re.search(r'<pre id="imgcheck">([^<]*)</pre>', dom)
    assert found, "the image check did not run"
    widths = [int(item.split(":")[1]) for item in found.group(1).split(",") if item]
    assert len(widths) == len(FIGURES) and all(w > 0 for w in widths), widths


# --- overlay and `synkan report` -----------------------------------------------------------------

def test_overlay_has_every_frame(out):
    src, ov = cv2.VideoCapture(str(SAMPLE)), cv2.VideoCapture(str(out / "overlay.mp4"))
    try:
        n_src = n_ov = 0
        while src.grab():
            n_src += 1
        ok, frame = ov.read()
        assert ok and frame.shape[:2] == (512, 512)
        n_ov = 1
        while ov.grab():
            n_ov += 1
    finally:
        src.release()
        ov.release()
    assert n_ov == n_src == 300


def test_report_command_rebuilds_without_tracking(out, tmp_path, capsys):
    """`synkan report` rebuilds the figures and HTML from track.npz, even with the video gone."""
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    report = json.loads((copy / "report.json").read_text())
    report["video"]["path"] = str(tmp_path / "moved_away.mp4")  # no video: no tracking possible
    (copy / "report.json").write_text(json.dumps(report))
    (copy / "report.html").unlink()
    assert main(["report", str(copy)]) == 0
    assert "Oral-ocular synkinesis, LEFT" in capsys.readouterr().out
    page = (copy / "report.html").read_text()
    assert "key frames not shown" in page and "moved_away.mp4" in page
    assert not (copy / "figures" / "keyframes.png").exists()
    assert (copy / "figures" / "timeseries.png").exists()
    assert (copy / "overlay.mp4").stat().st_size == (out / "overlay.mp4").stat().st_size  # kept
    new = json.loads((copy / "report.json").read_text())
    assert new["scores"] == json.loads((out / "report.json").read_text())["scores"]
    assert unexplained_numbers(page, new) == []
