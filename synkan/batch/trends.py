"""Per-patient trends over sessions, and the cohort, from a batch's summary.csv (``synkan trends OUTDIR``)."""
from __future__ import annotations

import hashlib
from pathlib import Path

from .._util.files import atomic_write_text, csv_safe, make_dir, safe_name, save_figure
from ..tables import DIRECTIONS
from .summary import read_summary
from .trend_figures import cohort_figure, patient_figure

NO_TRENDS_NOTE = ("note: no per-patient trends, only cohort.png: no finished video has both a patient_id "
                  "and a session_date; give them in a manifest CSV (synkan batch --help) and rerun the batch")
TREND_COLUMNS = (["patient_id", "session_date", "label", "clinician", "note", "name", "output"]
                 + [f"{d}_{k}" for d in DIRECTIONS for k in ("affected_side", "asymmetry_pp", "grade")]
                 + ["eface_ocular_synkinesis", "face_fraction", "path"])


def trend_figure_name(patient_id: str) -> str:
    """File name of a patient's trend figure: readable, and distinct for ids that read alike (``P/1``,
    ``P_1``)."""
    digest = hashlib.sha256(patient_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe_name(patient_id, 'patient')}-{digest}.png"


def patient_groups(table):
    """Each row's group for the cohort: its patient's label (the most common one on their rows), else its
    own."""
    import pandas as pd

    labelled = table[(table["patient_id"] != "") & (table["label"] != "")]
    by_patient = labelled.groupby("patient_id")["label"].agg(lambda s: s.value_counts().index[0]).to_dict()
    return pd.Series([by_patient.get(p, label) for p, label in zip(table["patient_id"], table["label"])],
                     index=table.index, dtype=str)


def write_trends(outdir: str | Path) -> list[Path]:
    """Per-patient trends and a cohort figure from OUTDIR/summary.csv.

    Writes ``trends.csv`` (finished videos with a patient id and a session
    date, by patient and date) and ``trends/<patient>-<hash>.png`` (each
    direction's asymmetry and grade over sessions) when the summary has
    patient ids and session dates, and ``cohort.png`` (the distribution of
    scores over all finished videos, grouped by the patient's label when
    there are labels).

    Returns
    -------
    list of Path
        The files written.
    """
    import pandas as pd

    outdir = Path(outdir)
    table = read_summary(outdir)
    done = table[table["status"].isin(["ok", "skipped"])].copy()
    written: list[Path] = []
    if done.empty:
        return written
    done["date"] = pd.to_datetime(done["session_date"].replace("", None), errors="coerce")
    done["group"] = patient_groups(done)
    has = (done["patient_id"] != "") & done["date"].notna()
    trend_dir = outdir / "trends"
    if has.any():
        t = done[has].sort_values(["patient_id", "date", "name"])
        out = t[list(TREND_COLUMNS)].copy()
        out["session_date"] = t["date"].dt.strftime("%Y-%m-%d")
        path = outdir / "trends.csv"
        atomic_write_text(path, csv_safe(out).to_csv(index=False, float_format="%.4g"))
        written.append(path)
        make_dir(trend_dir)
        wanted = set()
        for pid, rows in t.groupby("patient_id", sort=True):
            png = trend_dir / trend_figure_name(str(pid))
            wanted.add(png.name)
            save_figure(patient_figure(str(pid), rows), png)
            written.append(png)
        for old in trend_dir.glob("*.png"):
            if old.name not in wanted:
                old.unlink(missing_ok=True)
    path = outdir / "cohort.png"
    save_figure(cohort_figure(done), path)
    written.append(path)
    return written
