"""Names that do not collide, and tidy tables (issue 16): scores_table, landmarks_table, export-landmarks.

One real analysis of a real face video (plain laterality), shared by the tests.
"""
from __future__ import annotations

import importlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import synkan
from synkan.config import Settings
from synkan.report.writer import write_outputs

STAGES = {"measure.tracking": "track_video", "measure.signals": "signals_process", "grade.events": "events_process",
          "grade.coupling": "coupling_process"}


@pytest.mark.parametrize("module, function", STAGES.items())
def test_stage_modules_are_modules_and_their_functions_are_reachable(module, function):
    mod = importlib.import_module(f"synkan.{module}")
    assert mod.__doc__ and len(mod.__doc__) > 100
    assert getattr(synkan, function) is getattr(mod, function)
    assert function in synkan.__all__
    res = subprocess.run([sys.executable, "-c", f"import synkan.{module} as m; help(m)"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0 and res.stdout.startswith(f"Help on module synkan.{module}"), res.stderr
    assert not hasattr(synkan, "track")  # the old shadowing function names are gone


def test_old_module_paths_still_import_with_a_warning():
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = importlib.import_module("synkan.signals")
    assert old is importlib.import_module("synkan.measure.signals")
    assert any(issubclass(w.category, DeprecationWarning) and "synkan.measure.signals" in str(w.message)
               for w in caught)


@pytest.fixture(scope="module")
def analysed(real_video, model_path, tmp_path_factory):
    result = synkan.analyze(real_video, Settings(laterality="plain"), model=model_path)
    folder = write_outputs(result, tmp_path_factory.mktemp("tables") / "cosan", figures=False, html=False)
    return result, folder


def test_scores_table_is_long_and_matches_the_report(analysed):
    from synkan.tables import SCALE_ROWS, scale_value

    result, _ = analysed
    table = result.scores_table()
    assert list(table.columns) == ["direction", "side", "measure", "value", "value_int", "unit"]
    scores = result.report["scores"]
    for row in table.itertuples():
        if row.measure == "eface_ocular_synkinesis":
            expected = scores["eface_ocular_synkinesis"]
        elif row.measure in SCALE_ROWS:
            expected = scale_value(scores, row.measure)
        elif row.side in ("right", "left"):
            expected = scores[row.direction][row.side][row.measure]
        else:
            expected = scores[row.direction][row.measure]
        assert (np.isnan(row.value) and expected is None) or row.value == pytest.approx(expected), row
        assert row.unit
    per_side = table[(table.measure == "involuntary_pct")].pivot(index="side", columns="direction", values="unit")
    assert per_side.loc["left", "oral_ocular"] == "% of rest eye opening"
    assert per_side.loc["right", "ocular_oral"] == "% of inter-ocular distance"
    assert table.attrs["affected_side"]["oral_ocular"] == scores["oral_ocular"]["affected_side"]
    assert table.attrs["affected_side"]["sunnybrook"] == scores["sunnybrook"]["affected_side"]


def test_scores_table_has_the_scales_named_sides_and_integer_counts(analysed):
    """Issue 24: Sunnybrook and eFACE rows, no NaN sides, counts and grades as Int64."""
    result, _ = analysed
    table = result.scores_table()
    scores = result.report["scores"]
    scales = table[table.measure.str.startswith(("sunnybrook_", "eface_synkinesis_"))]
    assert {"sunnybrook_synkinesis_smile", "sunnybrook_synkinesis_total", "sunnybrook_composite",
            "eface_synkinesis_ocular", "eface_synkinesis_mentalis"} <= set(scales.measure)
    assert scales.direction.isna().all() and scales.side.isna().all()  # None: not one direction, not one side
    total = scales.set_index("measure").loc["sunnybrook_synkinesis_total"]
    assert total.value_int == scores["sunnybrook"]["synkinesis"]["total"]
    directional = table[table.direction.notna()]
    assert set(directional.side) == {"right", "left", "both"}
    both = set(directional[directional.side == "both"].measure)
    assert both >= {"asymmetry_pp", "grade", "eface_ocular_synkinesis"}
    assert str(table.value_int.dtype) == "Int64"
    counts = table[table.measure == "n_events"]
    assert len(counts) == 4 and counts.value_int.notna().all()
    for row in counts.itertuples():
        assert row.value_int == scores[row.direction][row.side]["n_events"]
    assert table.loc[~table.measure.isin(["n_events", "grade"]) & ~table.measure.str.startswith("sunnybrook"),
                     "value_int"].isna().all()


def test_signals_and_events_carry_their_units(analysed):
    from synkan.grade.events import PEAK_UNIT

    result, folder = analysed
    units = result.signals.data.attrs["units"]
    assert set(units) == set(result.signals.data.columns) and all(units.values())
    assert units["eye_closure_r"].startswith("share of rest eye opening") and units["yaw_deg"] == "deg"
    assert units["mouth_excursion_l"].startswith("IOD") and units["t"] == "s"
    events = result.events.table
    assert events.attrs["units"]["peak_s"] == "s" and "peak_unit" in events.attrs["units"]["peak"]
    assert not events.empty and (events.peak_unit == events.kind.map(PEAK_UNIT)).all()
    assert PEAK_UNIT["smile"] != PEAK_UNIT["blink"]
    on_disk = pd.read_csv(folder / "events.csv")
    assert list(on_disk.columns) == list(events.columns) and (on_disk.peak_unit == events.peak_unit).all()


def test_compare_reads_an_old_events_csv_without_peak_unit(analysed, tmp_path):
    """events.csv written before peak_unit still feeds ``synkan compare``."""
    import json
    import shutil

    _, folder = analysed
    visits = []
    for k, date in enumerate(("2024-01-10", "2024-04-12")):
        visit = tmp_path / f"v{k}"
        shutil.copytree(folder, visit)
        report = json.loads((visit / "report.json").read_text())
        report["visit"] = {**(report.get("visit") or {}), "patient_id": "P1", "visit_date": date}
        (visit / "report.json").write_text(json.dumps(report))
        visits.append(visit)
    old = pd.read_csv(visits[0] / "events.csv").drop(columns="peak_unit")
    old.to_csv(visits[0] / "events.csv", index=False)
    res = _cli("compare", *visits, "-o", tmp_path / "cmp")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "cmp" / "figures" / "timeseries.png").is_file()


def test_regions_have_one_display_name(analysed):
    """The matrix's tables, figures and the report call midface the cheek and mouth the mouth corner."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from synkan.measure.regions import REGION_LABELS
    from synkan.report.scales_figure import plot_movement_matrix
    from synkan.report.summary_matrix import summary_matrix

    result, _ = analysed
    cells, differences = result.matrix.cells, result.matrix.differences
    assert (cells.region_label == cells.region.map(REGION_LABELS)).all()
    assert (differences.region_label == differences.region.map(REGION_LABELS)).all()
    assert set(cells.region) >= {"midface", "mouth"}  # report.json's keys stay
    assert {r["region"] for r in result.report["matrix"]} >= {"midface", "mouth"}
    assert REGION_LABELS["midface"] == "cheek" and REGION_LABELS["mouth"] == "mouth corner"
    fig = plot_movement_matrix(result)
    FigureCanvasAgg(fig).draw()
    ticks = " ".join(t.get_text().replace("\n", " ") for ax in fig.axes for t in ax.get_xticklabels())
    assert "cheek" in ticks and "mouth corner" in ticks and "midface" not in ticks and "corner R" in ticks
    _, columns, _, _ = summary_matrix(result)
    assert columns[2].startswith("mouth corner\n")


def test_landmarks_table_is_openface_like(analysed):
    result, _ = analysed
    track = result.track
    table = result.landmarks_table()
    assert list(table.columns[:5]) == ["frame", "face_id", "timestamp", "success", "n_faces"]
    assert table.shape == (len(track), 5 + 478 * 3 + len(track.blendshape_names))
    assert {"x_0", "y_477", "z_477", "eyeBlinkLeft"} <= set(table.columns)
    np.testing.assert_array_equal(table["timestamp"], track.t_s)
    np.testing.assert_array_equal(table["success"], track.valid.astype(int))
    np.testing.assert_array_equal(table["y_159"], track.landmarks[:, 159, 1])
    np.testing.assert_array_equal(table["eyeBlinkLeft"],
                                  track.blendshapes[:, track.blendshape_names.index("eyeBlinkLeft")])
    assert table.attrs["units"]["timestamp"] == "s" and table.attrs["units"]["x_10"] == "px"


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synkan.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def test_export_landmarks_csv_and_parquet(analysed, tmp_path):
    result, folder = analysed
    before = sorted(p.name for p in folder.iterdir())
    res = _cli("export-landmarks", folder)
    assert res.returncode == 0, res.stderr
    csv = folder.parent / "cosan_landmarks.csv"
    assert res.stdout.strip() == str(csv) and (csv.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == before  # nothing added to the analysis folder
    back = pd.read_csv(csv)
    expected = result.landmarks_table()
    assert list(back.columns) == list(expected.columns)
    np.testing.assert_allclose(back["x_33"], expected["x_33"], rtol=1e-5)
    again = _cli("export-landmarks", folder)
    assert again.returncode == 2 and "exists (use --force" in again.stderr
    pytest.importorskip("pyarrow")
    out = tmp_path / "lm.parquet"
    assert _cli("export-landmarks", folder, "--format", "parquet", "-o", out).returncode == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out), expected, check_dtype=False)


def test_export_parquet_without_pyarrow_is_one_line(analysed, tmp_path):
    _, folder = analysed
    code = ("import sys; sys.modules['pyarrow'] = None; from synkan.cli import main; "
            f"sys.exit(main(['export-landmarks', {str(folder)!r}, '--format', 'parquet', '-o', {str(tmp_path / 'x.parquet')!r}]))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        "synkan: error: --format parquet needs pyarrow: pip install 'synkan[parquet]' (or use --format csv)"]
    assert not (tmp_path / "x.parquet").exists()


def test_export_from_a_folder_without_track_is_one_line(tmp_path):
    res = _cli("export-landmarks", tmp_path)
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1 and "no track.npz" in res.stderr


def test_report_environment_names_what_changes_landmarks(analysed):
    env = analysed[0].report["environment"]
    assert {"python", "platform", "mediapipe", "opencv", "numpy", "scipy"} <= set(env)
    assert all(env[k] for k in ("python", "mediapipe", "opencv", "numpy", "scipy"))
