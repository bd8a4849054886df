"""The real-face harness (synkan.validation.real) on a short healthy real video with known movements added.

The added movements follow the person's own smile and blink as the
generator measures them (synkan.synth.drivers). Real faces are what the
synthetic rig lacks (real lids, gaze, lighting), so these tests use the real
videos beside the project. The full 15-video table is `synkan validate --real`.
"""
from __future__ import annotations

import pandas as pd
import pytest
from conftest import shared_video

from synkan.config import Settings
from synkan.validation.real import (
    leave_one_person_out,
    per_person_summary,
    real_face_markdown,
    real_face_summary,
    real_face_table,
)

VIDEO = "cosanlab_single_face.mp4"  # neutral, a toothy smile, one blink; 2.4 s
PERSON = "cosanlab_single_face"


@pytest.fixture(scope="module")
def outdir(tmp_path_factory, model_path):
    return tmp_path_factory.mktemp("real")


@pytest.fixture(scope="module")
def table(outdir):
    return real_face_table([shared_video(VIDEO)], outdir)


def test_cases_per_direction_and_driver(table):
    assert table["direction"].value_counts().to_dict() == {"oral_ocular": 4, "ocular_oral": 4, "control": 1}
    oo = table[table["direction"] == "oral_ocular"]
    # No pucker in this video: smile cases only.
    assert set(oo["driver"]) == {"smile"} and sorted(oo["k"]) == [0.35, 0.35, 0.6, 0.6]
    ocul = table[table["direction"] == "ocular_oral"]
    assert set(ocul["driver"]) == {"blink"} and sorted(ocul["amplitude"]) == [3.0, 3.0, 5.0, 5.0]  # mm
    assert (table["settings"] == "default").all() and (table["events_blink"] == 1).all()


def test_control_not_flagged(table):
    control = table[table["direction"] == "control"].iloc[0]
    # None: too little ocular-oral data for a grade (the one blink), never a made-up 0.
    assert all(pd.isna(control[g]) or control[g] == 0 for g in ("oo_grade", "ocul_grade"))  # never graded


def test_oral_ocular_named_graded_and_recovered(table):
    oo = table[table["direction"] == "oral_ocular"]
    # The rule: every k = 0.6 case named with a grade; a k = 0.35 case named or not conclusive.
    named = (oo["oo_named_side"] == oo["true_side"]) & (oo["oo_grade"] >= 1)
    assert (named | (oo["oo_conclusive"] != True)).all() and named[oo["k"] == 0.6].all(), oo  # noqa: E712
    assert (oo["recovered"] > 0.6).all() and (oo["leak"].abs() < 0.15).all(), oo[["recovered", "leak"]]


def test_ocular_oral_lift_is_measured(table):
    """The analysis's mouth-corner lift sees most of the added lift on the modified side."""
    ocul = table[table["direction"] == "ocular_oral"]
    assert (ocul["recovered"] > 0.6).all() and (ocul["leak"] < ocul["recovered"] / 2).all(), ocul


def test_summaries_and_markdown(table):
    summary = real_face_summary(table)
    everything = summary[summary["driver"] == "all"].set_index("direction")
    oo = everything.loc["oral_ocular"]
    assert oo["side_named"] == 4 and oo["controls_flagged"] == 0
    assert oo["spearman"] > 0.8
    person = per_person_summary(table)
    assert list(person["person"]) == [PERSON, PERSON] and list(person["cases"]) == [4, 4]
    text = real_face_markdown(table)
    assert "default `Settings()` for every person" in text and f"| {PERSON} | oral_ocular | 4 | 4 |" in text


def test_leave_one_person_out_settings_reach_the_analysis(outdir, table):
    """A rerun with per-person settings only re-scores (renders and tracks are cached) and says so."""
    seen = []

    def build(others):
        seen.append(others)
        return Settings(lag_window_s=0.3)

    renders = sorted((outdir / PERSON / "renders").iterdir())
    mtimes = [p.stat().st_mtime for p in renders]
    settings_for = leave_one_person_out([PERSON, "someone_else"], build)
    again = real_face_table([shared_video(VIDEO)], outdir, settings_for)
    assert seen == [["someone_else"]]
    assert (again["settings"] == "leave_one_person_out(build)").all()
    assert [p.stat().st_mtime for p in sorted((outdir / PERSON / "renders").iterdir())] == mtimes
    assert "leave one person out" in real_face_markdown(again)
