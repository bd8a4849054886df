"""`--deidentify` on a real face: no name, folder or date of the source in any output, no face in any image.

The real test video is copied under a name and folder that identify a
patient (and hold a date), with a protocol file named after the patient too;
every byte of every output, in UTF-8 and in the UTF-32 numpy uses for text,
must be free of them. The key frames and the overlay keep only the eye and
mouth regions; the stored track keeps the pixel lid measurement instead of
the eye images, so re-scoring gives the same numbers.
"""
from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
from test_report import visible_text

import synkan
from synkan._util.files import sha256_file
from synkan.cli import main
from synkan.errors import InputError
from synkan.measure.signals import signals_process
from synkan.report.privacy import deidentify_frame, visible_mask

SECRETS = ("jane_doe", "Jane_Doe_Clinic", "2026-03-04", "jane doe")


@pytest.fixture(scope="module")
def source(tmp_path_factory, real_video):
    folder = tmp_path_factory.mktemp("src") / "Jane_Doe_Clinic"
    folder.mkdir()
    video = folder / "jane_doe_2026-03-04.mp4"
    shutil.copy(real_video, video)
    protocol = folder / "jane_doe_protocol.csv"
    protocol.write_text("kind,start_s,end_s\nsmile,0.8,1.6\n")
    return video, protocol


@pytest.fixture(scope="module")
def deidentified(tmp_path_factory, source):
    video, protocol = source
    out = tmp_path_factory.mktemp("out") / "visit"
    assert main(["analyze", str(video), "-o", str(out), "--deidentify", "--overlay", "--segments", str(protocol)]) == 0
    return out


def leaks(folder) -> list[str]:
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes().lower()
        for secret in SECRETS:
            for encoding in ("utf-8", "utf-32-le"):
                if secret.lower().encode(encoding) in data:
                    found.append(f"{path.relative_to(folder)}: {secret} ({encoding})")
    return found


def test_no_output_holds_the_name_folder_or_date_of_the_source(deidentified, source):
    assert leaks(deidentified) == []
    # The check itself finds a name where one is.
    (deidentified.parent / "probe").mkdir()
    np.savez(deidentified.parent / "probe" / "t.npz", info=np.array(json.dumps({"video": str(source[0])})))
    assert leaks(deidentified.parent / "probe")
    report = json.loads((deidentified / "report.json").read_text())
    assert "path" not in report["video"] and report["video"]["id"].startswith("video-")
    assert report["video"]["sha256"] == sha256_file(source[0])  # the clinic can still match its own file
    assert report["settings"]["segments"] == "smile:0.8-1.6"  # the protocol inline, not its file name


def test_track_keeps_no_eye_images_and_rescoring_gives_the_same_numbers(deidentified):
    with np.load(deidentified / "track.npz") as npz:
        assert "eye_patches" not in npz.files and "lid_closure" in npz.files
        assert "region_patches" not in npz.files  # no cheek or chin skin images either
    report = json.loads((deidentified / "report.json").read_text())
    again = synkan.load(deidentified)
    assert again.signals.info["laterality"] == "pixel"
    assert again.report["scores"] == report["scores"]
    with pytest.raises(InputError, match="de-identified track"):
        signals_process(again.track, again.settings, rest_s=(0.0, 0.5))


def test_report_says_what_is_kept_and_a_rebuild_stays_deidentified(deidentified):
    text = visible_text((deidentified / "report.html").read_text())
    assert "Kept: the video's SHA-256" in text and "Removed: the video's path and file name" in text
    assert "de-identified: no file name kept" in text
    keyframes = (deidentified / "figures" / "keyframes.png").read_bytes()
    assert main(["report", str(deidentified)]) == 0
    assert leaks(deidentified) == []
    page = (deidentified / "report.html").read_text()
    assert "a de-identified analysis keeps no video path" in page  # key frames cannot be redrawn
    assert not (deidentified / "figures" / "keyframes.png").exists() and keyframes


def test_images_show_only_eyes_and_mouth(source, deidentified):
    """The face outside the eye and mouth windows has lost its detail; the eyes and mouth are untouched."""
    analysis = synkan.load(deidentified)
    video = source[0]
    cap = cv2.VideoCapture(str(video))
    rows = [int(np.argmin(np.abs(analysis.track.t_s - t))) for t in (0.4, 1.4)]  # rest, smile
    for row in rows:
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(analysis.track.frame_index[row]))
        ok, bgr = cap.read()
        assert ok
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        xy = analysis.track.landmarks[row, :, :2].astype(float)
        masked = deidentify_frame(rgb, xy)
        hull = np.zeros(rgb.shape[:2], np.uint8)
        cv2.fillConvexPoly(hull, cv2.convexHull(np.round(xy).astype(np.int32)), 255)
        shown = visible_mask(rgb.shape[:2], xy) > 0
        core = cv2.erode(shown.astype(np.uint8), np.ones((13, 13), np.uint8)) > 0  # inside the soft edge
        rest_of_face = (hull > 0) & ~cv2.dilate(shown.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
        assert rest_of_face.mean() > 2 * shown.mean()  # most of the face is hidden (2.2-5x measured)
        # Detail at the scale of facial features (1-4 px, a band-pass): what recognition needs.
        def detail(img):
            grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)
            return np.abs(cv2.GaussianBlur(grey, (0, 0), 1) - cv2.GaussianBlur(grey, (0, 0), 4))
        ratio = detail(masked)[rest_of_face].mean() / detail(rgb)[rest_of_face].mean()
        assert ratio < 0.25, ratio  # 0.13-0.14 measured on this face
        assert np.abs(masked[core].astype(int) - rgb[core]).max() <= 3  # the eyes and mouth as recorded
        # Colour blocks coarser than the eye: no feature is left to recognise.
        assert np.abs(masked[rest_of_face].astype(int) - rgb[rest_of_face]).mean() > 3
    cap.release()
    overlay = cv2.VideoCapture(str(deidentified / "overlay.mp4"))
    ok, frame = overlay.read()
    overlay.release()
    assert ok and frame.shape[:2] == (analysis.track.height, analysis.track.width)


def test_deidentify_needs_an_output_folder(source, tmp_path, capfd, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["analyze", str(source[0]), "--deidentify"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--deidentify needs -o OUTDIR" in err[0]
    assert list(tmp_path.iterdir()) == []
