"""Follow-up visits: visit metadata, `synkan compare` and `--previous`, the one-page summary and report.pdf.

Real analyses only: two generated videos of the same face with a known
oral-ocular coupling of 0.6 and then 0.3 (a real improvement), and a real
video analysed twice, as recorded and re-encoded (no real change). The PDF is
printed by headless Chromium and read back with pypdfium2: page count, text
of each page, and the first page rendered to an image.
"""
from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_report import run_chromium, unexplained_numbers, visible_text

from synkan.cli import main
from synkan.clinic.compare import compare_reports, minimal_detectable_change
from synkan.synth.case import Case
from synkan.synth.render import render_case

ROOT = Path(__file__).resolve().parents[1]
CASE = ROOT / "sample_videos" / "cases" / "oral_ocular_left.json"
FAST = ["--laterality", "plain"]


def run(capfd, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    out, err = capfd.readouterr()
    return rc, out, err


def one_line_error(rc: int, err: str, *needles: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("synkan: error: "), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def visits(tmp_path_factory) -> dict[str, Path]:
    """Two visits of one generated face: k_oo 0.6 (before treatment), then 0.3; analysed through the CLI."""
    d = tmp_path_factory.mktemp("visits")
    base = Case.from_json(CASE)
    out = {}
    for k, date in ((0.6, "2026-01-12"), (0.3, "2026-04-13")):
        case = dataclasses.replace(base, name=f"patient_k{k}", k_oo=k, size=320)
        video = render_case(case, d)["video"]
        folder = d / f"visit_{date}"
        assert main(["analyze", str(video), "-o", str(folder), *FAST, "--patient-id", "P-017", "--visit-date", date,
                     "--clinician", "Dr Rao"]) == 0
        out[date] = folder
    return out


@pytest.fixture(scope="module")
def real_twice(tmp_path_factory, real_video) -> list[Path]:
    """A real face analysed as recorded and re-encoded at a lower quality (the same movement, other
    pixels)."""
    d = tmp_path_factory.mktemp("real_twice")
    reencoded = d / "reencoded.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(real_video), "-c:v", "libx264", "-crf", "30", "-preset",
                    "veryfast", "-pix_fmt", "yuv420p", str(reencoded)], check=True, timeout=120)
    folders = []
    for k, video in enumerate((real_video, reencoded)):
        folders.append(d / f"visit{k}")
        assert main(["analyze", str(video), "-o", str(folders[-1]), "--no-figures"]) == 0
    return folders


# --- compare ---------------------------------------------------------------------------------

def test_compare_k06_then_k03_is_a_real_improvement(visits, tmp_path, capfd):
    before, after = visits.values()
    rc, out, err = run(capfd, "compare", before, after, "-o", tmp_path / "cmp")
    assert rc == 0, err
    comparison = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    oo = next(c for c in comparison["changes"] if c["measure"] == "oral_ocular.asymmetry_pp")
    assert set(oo) >= {"measure", "before", "after", "change", "mdc", "real"}
    assert oo["side"] == "left" and oo["before"] > oo["after"] > 0
    assert oo["change"] == pytest.approx(oo["after"] - oo["before"], abs=0.011)
    assert oo["mdc"] == pytest.approx(minimal_detectable_change(
        *(json.loads((f / "report.json").read_text())["scores"]["oral_ocular"]["asymmetry_se_pp"] for f in (before, after))),
        abs=0.011)
    assert oo["real"] is True and oo["verdict"] == "better"
    assert "MDC95" in comparison["method"] and "Weir" in comparison["method"]
    assert "oral_ocular 2026-01-12 -> 2026-04-13" in out and "real change: better" in out
    assert [v["visit_date"] for v in comparison["visits"]] == ["2026-01-12", "2026-04-13"]


def test_the_same_real_video_twice_is_no_real_change(real_twice, tmp_path, capfd):
    reports = [json.loads((f / "report.json").read_text()) for f in real_twice]
    same = compare_reports([reports[0], reports[0]])
    assert all(c["real"] is False for c in same["changes"] if c["change"] is not None)
    assert any("same video file" in w for w in same["warnings"])
    rc, _, err = run(capfd, "compare", *real_twice, "-o", tmp_path / "cmp")
    assert rc == 0, err
    comparison = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    oo = next(c for c in comparison["changes"] if c["direction"] == "oral_ocular")
    # Re-encoding moves the number (a few points), within the measurement's own uncertainty.
    assert oo["change"] is not None and oo["change"] != 0
    assert abs(oo["change"]) < oo["mdc"] and oo["real"] is False and oo["verdict"] == "no real change"
    # No side difference measured (no eye closure in this video): null, with the reason, never "no change".
    oc = next(c for c in comparison["changes"] if c["direction"] == "ocular_oral")
    # One blink: measured, but no decision either way ("not measurable" before blinks were scored alone).
    assert oc["real"] in (None, False) and oc["verdict"] in ("not measurable", "no real change")
    assert not (tmp_path / "cmp" / "figures" / "keyframes.png").exists()
    assert "no key frames in this analysis folder" in (tmp_path / "cmp" / "compare.html").read_text()


def test_compare_html_is_self_contained_and_shows_visits_side_by_side(visits, tmp_path):
    assert main(["compare", *map(str, visits.values()), "-o", str(tmp_path / "cmp")]) == 0
    page = (tmp_path / "cmp" / "compare.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page, re.I) and "<link" not in page.lower()
    assert page.count('src="data:image/png;base64,') == 4  # side difference, time series, two visits' key frames
    text = visible_text(page)
    assert "P-017" in text and "real change: better" in text and "MDC95" in text and "not a diagnosis" in text
    shot = tmp_path / "compare.png"
    run_chromium(f"--screenshot={shot}", "--window-size=1100,2600", (tmp_path / "cmp" / "compare.html").as_uri())
    import cv2

    img = cv2.imread(str(shot))
    assert img is not None and img.std() > 20


def test_compare_refuses_what_does_not_belong_together(visits, real_twice, tmp_path, capfd):
    before, after = visits.values()
    one_line_error(*run(capfd, "compare", before, "-o", tmp_path / "c1")[::2], "two or more")
    one_line_error(*run(capfd, "compare", after, before, "-o", tmp_path / "c2")[::2], "not in date order")
    other = tmp_path / "other"
    import shutil

    shutil.copytree(real_twice[0], other)
    report = json.loads((other / "report.json").read_text())
    report["visit"]["patient_id"] = "P-999"
    (other / "report.json").write_text(json.dumps(report))
    one_line_error(*run(capfd, "compare", before, other, "-o", tmp_path / "c3")[::2], "different patients")
    one_line_error(*run(capfd, "compare", before, tmp_path, "-o", tmp_path / "c4")[::2], "no readable report.json")
    assert not any((tmp_path / f"c{k}").exists() for k in range(1, 5))
    assert main(["compare", str(before), str(after), "-o", str(tmp_path / "c5")]) == 0
    one_line_error(*run(capfd, "compare", before, after, "-o", tmp_path / "c5")[::2], "use --force")
    assert main(["compare", str(before), str(after), "-o", str(tmp_path / "c5"), "--force"]) == 0
    one_line_error(*run(capfd, "compare", before, after, "-o", before, "--force")[::2], "not a synkan comparison")


# --- visit metadata ----------------------------------------------------------------------------

def test_visit_is_stored_and_shown_escaped(visits, tmp_path, real_video):
    out = tmp_path / "out"
    nasty = '<script>alert("x")</script> & Co'
    assert main(["analyze", str(real_video), "-o", str(out), "--patient-id", nasty, "--visit-date", "2026-05-02",
                 "--clinician", "Dr <b>Rao</b>", "--note", "3 months after toxin"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["visit"] == {"patient_id": nasty, "visit_date": "2026-05-02", "clinician": "Dr <b>Rao</b>",
                               "note": "3 months after toxin"}
    page = (out / "report.html").read_text()
    assert "<script>" not in page and "<b>Rao</b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in page
    text = visible_text(page)
    assert nasty in text and "Visit date 2026-05-02" in text and "3 months after toxin" in text
    assert unexplained_numbers(page, report) == []


@pytest.mark.parametrize("date", ["2026-13-01", "01/02/2026", "20260102", "yesterday"])
def test_bad_visit_date_is_one_line_before_any_work(date, real_video, tmp_path, capfd):
    rc, _, err = run(capfd, "analyze", real_video, "-o", tmp_path / "out", "--visit-date", date)
    one_line_error(rc, err, "--visit-date", "YYYY-MM-DD")
    assert not (tmp_path / "out").exists()


def test_previous_adds_the_change_to_the_new_report(visits, tmp_path, capfd):
    before, after = visits.values()
    video = Path(before).parent / "patient_k0.3.mp4"
    out = tmp_path / "with_previous"
    rc, _, err = run(capfd, "analyze", video, "-o", out, *FAST, "--patient-id", "P-017", "--visit-date", "2026-04-13",
                     "--previous", before)
    assert rc == 0, err
    report = json.loads((out / "report.json").read_text())
    oo = next(c for c in report["comparison"]["changes"] if c["direction"] == "oral_ocular")
    assert oo["real"] is True and oo["verdict"] == "better"
    page = (out / "report.html").read_text()
    summary = page.split('<section class="summary-page">')[1].split("</section>")[0]
    assert "Since the previous visit" in summary and "real change: better" in visible_text(summary)
    assert unexplained_numbers(page, report) == []
    # Another patient's folder, or a previous visit dated later, stops before tracking.
    rc, _, err = run(capfd, "analyze", video, "-o", tmp_path / "x", "--patient-id", "P-018", "--previous", before)
    one_line_error(rc, err, "different patients")
    rc, _, err = run(capfd, "analyze", video, "-o", tmp_path / "x", "--visit-date", "2025-12-01", "--previous", before)
    one_line_error(rc, err, "not in date order")
    assert not (tmp_path / "x").exists()


def test_report_rebuild_keeps_the_analysis_time(visits, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(next(iter(visits.values())), folder)
    first = json.loads((folder / "report.json").read_text())
    assert main(["report", str(folder)]) == 0
    again = json.loads((folder / "report.json").read_text())
    assert again["created"] == first["created"] and again["rebuilt"] >= again["created"]
    assert again["visit"] == first["visit"] and again["scores"] == first["scores"]
    text = visible_text((folder / "report.html").read_text())
    assert f"Analysed {first['created'].replace('T', ' ').replace('+00:00', ' UTC')}" in text and "Rebuilt" in text


# --- the printed page --------------------------------------------------------------------------

def pdf_pages(path: Path) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    return [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]


def test_pdf_first_page_holds_the_whole_summary(visits, tmp_path, capfd):
    before, _ = visits.values()
    video = Path(before).parent / "patient_k0.3.mp4"
    out = tmp_path / "pdf"
    rc, _, err = run(capfd, "analyze", video, "-o", out, *FAST, "--patient-id", "P-017", "--visit-date", "2026-04-13",
                     "--clinician", "Dr Rao", "--previous", before, "--pdf")
    assert rc == 0, err
    report = json.loads((out / "report.json").read_text())
    pages = pdf_pages(out / "report.pdf")
    assert 2 <= len(pages) <= 6, len(pages)
    first = " ".join(pages[0].split())
    for needle in ("Patient ID P-017", "Visit date 2026-04-13", "Clinician Dr Rao", "Oral-ocular",
                   "Ocular-oral", "Affected side", "median of the per-event differences", "Key frames", "Since the previous visit",
                   "real change: better", "not a diagnosis"):
        assert needle in first, needle
    # The summary is alone on its page; the details start on the next, and no page is left nearly empty.
    assert "Quality control" not in first and "Measurements (for researchers)" not in first
    assert pages[1].lstrip().startswith("Measurements (for researchers)")  # the first detail section
    assert all(len(p.split()) > 40 for p in pages), [len(p.split()) for p in pages]
    oo = report["scores"]["oral_ocular"]
    assert (f"right {oo['right']['involuntary_pct']:.0f}%" in first
            or f"right {oo['right']['involuntary_pct']:.1f}%" in first)

    import pypdfium2 as pdfium

    image = pdfium.PdfDocument(str(out / "report.pdf"))[0].render(scale=1.5).to_pil()
    image.save(tmp_path / "page1.png")
    pixels = np.asarray(image.convert("L"))
    inked_rows = np.flatnonzero((pixels < 200).mean(axis=1) > 0.002)
    assert inked_rows[-1] < 0.97 * pixels.shape[0]  # nothing runs into the bottom margin


@pytest.mark.parametrize("size", ["A4", "Letter"])
def test_summary_fits_one_page_of_either_paper(visits, tmp_path, size):
    before, _ = visits.values()
    page = (Path(before) / "report.html").read_text()
    sized = tmp_path / "sized.html"
    sized.write_text(page.replace("</style>", f"@page {{ size: {size}; }}</style>"), encoding="utf-8")
    pdf = tmp_path / "sized.pdf"
    run_chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf}", sized.as_uri())
    pages = pdf_pages(pdf)
    first = " ".join(pages[0].split())
    assert "Affected side" in first and "not a diagnosis" in first and "Key frames" in first
    assert "Quality control" not in first and "Measurements" in " ".join(pages[1].split())  # details follow


def test_pdf_without_chromium_is_one_clear_line(real_video, tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("SYNKAN_CHROMIUM", str(tmp_path / "no-such-browser"))
    rc, _, err = run(capfd, "analyze", real_video, "-o", tmp_path / "out", "--pdf")
    one_line_error(rc, err, "--pdf needs headless Chromium", "SYNKAN_CHROMIUM")
    monkeypatch.delenv("SYNKAN_CHROMIUM")
    rc, _, err = run(capfd, "analyze", real_video, "-o", tmp_path / "out", "--pdf", "--no-figures")
    one_line_error(rc, err, "--no-figures")
    assert not (tmp_path / "out").exists()
