"""Accuracy on real faces: a healthy real video with a known one-sided narrowing added (synth --from-video).

The narrowing is k x the person's own smile, rendered as the upper lid moving
down over the eyeball. The default eye measurement must see most of it, on
the right side, without smearing it onto the other eye; the untouched video
must stay grade 0. Real faces are what the synthetic rig lacks (real lids,
gaze, lighting), so these tests use the real videos beside the project.
"""
from __future__ import annotations

import numpy as np
import pytest

import synkan
from conftest import SHARED, shared_video
from synkan.validation.real import real_face_summary, real_face_table

VIDEOS = [SHARED / "videos" / "cosanlab_single_face.mp4", SHARED / "videos" / "KwaiVGI_d0.mp4"]


@pytest.fixture(scope="module")
def table(tmp_path_factory, model_path):
    return real_face_table([shared_video(v.name) for v in VIDEOS], tmp_path_factory.mktemp("real"), ks=(0.6,))


def test_untouched_real_videos_are_not_flagged(table):
    controls = table[table["true_side"].isna()]
    assert len(controls) == len(VIDEOS) and (controls["grade"] == 0).all(), controls


def test_narrowed_side_named_and_graded(table):
    cases = table[table["true_side"].notna()]
    assert len(cases) == 2 * len(VIDEOS)
    assert (cases["named_side"] == cases["true_side"]).all(), cases
    assert (cases["grade"] >= 1).all(), cases[["video", "true_side", "grade", "asymmetry_pp", "lag_s", "r"]]


def test_pixel_lids_see_the_narrowing_and_do_not_leak(table):
    cases = table[table["true_side"].notna()]
    assert (cases["recovered_pixel"] >= 0.7).all(), cases[["video", "true_side", "recovered_pixel", "recovered_plain"]]
    assert (cases["leak_pixel"].abs() <= 0.1).all(), cases[["video", "true_side", "leak_pixel"]]
    # ...where the mesh sees about half of it or less.
    assert (cases["recovered_pixel"] > cases["recovered_plain"] + 0.3).all()


def test_signed_asymmetry_follows_signed_k(table):
    assert real_face_summary(table)["spearman_signed_k_vs_asymmetry"] >= 0.9


def test_every_correlation_is_a_correlation(table, tmp_path):
    """r stays within [-1, 1] at every lag, on real and modified real video."""
    for video in list(tmp_path.parent.glob("real*/*.mp4"))[:2] + VIDEOS:
        result = synkan.analyze(video)
        for coupling in result.couplings.values():
            for side in coupling.sides.values():
                finite = side.xcorr[np.isfinite(side.xcorr)]
                assert ((finite >= -1 - 1e-9) & (finite <= 1 + 1e-9)).all()
