"""Accuracy suite on generated ground-truth videos (known side, coupling, events, lag).

Short cases are rendered with :mod:`synkan.synth` and analysed with the
default settings. Nothing here is tuned to the committed sample videos.
"""
import pytest

from synkan.validation.synthetic import coupling_cases, coupling_summary, coupling_table


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    return coupling_table(tmp_path_factory.mktemp("accuracy"), quick=True)


def test_affected_side_right_when_coupling_strong(table):
    strong = table[table["k_oo"] >= 0.4]
    assert (strong["oo_side"] == strong["true_side"]).all(), strong[["case", "oo_side", "oo_asym_pp"]]
    ocul = table[table["k_ocul"] >= 0.4]
    assert (ocul["ocul_side"] == ocul["true_side"]).all(), ocul[["case", "ocul_side", "ocul_asym_pp"]]


def test_asymmetry_rises_with_k_oo(table):
    summary = coupling_summary(table)
    assert summary["spearman_k_oo_vs_asymmetry"] == pytest.approx(1.0)


def test_controls_and_bilateral_smile_never_graded(table):
    # Grade 0 when the recording rules synkinesis out, null when it cannot decide: never 1 or more.
    healthy = table[table["true_side"].isna()]
    assert set(healthy["case"]) == {"control", "duchenne"}
    assert (healthy["oo_grade"].fillna(0) == 0).all() and (healthy["ocul_grade"].fillna(0) == 0).all(), healthy


def test_events_match_truth(table):
    assert table["events_found"].sum() >= 0.9 * table["events_true"].sum()


def test_known_delay_measured_within_one_frame(table, tmp_path_factory):
    row = table[table["case"] == "oo_left_0.6_lag100ms"].iloc[0]
    assert row["oo_side"] == "left"
    # The coupling's delay estimate, on the mesh's lids: the pixel lids (6 strips, issue 22) read this
    # synthetic 100 ms delay as 65 ms, about one frame early (a saturating lid drop flattens the
    # response's peak); that bias is reported, not hidden here.
    from synkan.analysis import analyze
    from synkan.validation.synthetic import coupling_cases, render_cached

    case = next(c for c in coupling_cases(quick=True) if c.name == "oo_left_0.6_lag100ms")
    plain = analyze(render_cached(case, tmp_path_factory.mktemp("lag")), laterality="plain")
    assert abs(plain.couplings["oral_ocular"].sides["left"].lag_s - 0.1) <= 1 / 30 + 1e-6
    undelayed = table[(table["k_oo"] >= 0.4) & (table["lag_true_s"] == 0)]
    assert (undelayed["oo_lag_s"].abs() <= 1 / 30 + 1e-6).all(), undelayed[["case", "oo_lag_s"]]


def test_cases_cover_the_sweep():
    names = [c.name for c in coupling_cases(quick=True)]
    assert sum(n.startswith("oo_left_") and "lag" not in n for n in names) >= 3  # + control = 4 k_oo values
