"""Every notebook in notebooks/ runs top to bottom, and is committed without outputs.

The notebooks execute in a fresh ``python3`` kernel with the working folder set to
``notebooks/`` (as Jupyter does). jupyter_client launches that kernel with the running
interpreter, so the test's environment needs ipykernel (``pip install -e .[dev]``).
The kernel inherits ``SYNKAN_MODEL`` from conftest, and gets a temporary folder
of its own (``TMPDIR``), which must be empty again when the notebook has run: the
notebooks clean up after themselves. On an idle 2-core machine the four notebooks
take about 2-3 minutes together.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_notebooks_exist():
    names = [p.name for p in PATHS]
    for stem in ("01_quickstart", "02_signals_and_coupling", "03_validation", "04_cohort"):
        assert f"{stem}.ipynb" in names


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_committed_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{path.name}: commit notebooks with outputs cleared"
            assert cell.execution_count is None, f"{path.name}: commit notebooks without execution counts"


@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_runs(path, model_path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=600,
                                     resources={"metadata": {"path": str(path.parent)}})
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    start = time.perf_counter()
    try:
        client.execute(env={**os.environ, "TMPDIR": str(tmp)})
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name} failed:\n{exc}", pytrace=False)
    elapsed = time.perf_counter() - start
    print(f"{path.name}: {elapsed:.1f} s")
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert images >= 1, f"{path.name}: no figure was displayed"
    written = [o["text"] for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("name") == "stdout"]
    assert str(tmp) in "".join(written), f"{path.name}: the kernel did not use its own temporary folder"
    left = sorted(p.name for p in tmp.iterdir())
    assert not left, f"{path.name} left {left} in the temporary folder"
