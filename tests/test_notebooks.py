"""The tutorial notebooks in ``notebooks/`` run from top to bottom, and are stored clean.

Each notebook is executed with nbclient in a fresh ``python3`` kernel (the interpreter running the
tests, i.e. the project's virtual environment), with its own quick settings, in an empty working
directory. One test per notebook, so ``pytest -n 2`` (pytest-xdist) runs them in parallel.
The notebooks are stored without outputs and execution counts (the repository holds sources, not
results); clear them before committing, e.g. ``jupyter nbconvert --clear-output --inplace``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {"01_quick_start", "02_learning_figures", "03_quantization_study", "04_deploy_and_verify"}
CELL_TIMEOUT_S = 300  # per cell; each whole notebook takes well under a minute with its quick settings


def test_the_tutorial_notebooks_are_present():
    assert EXPECTED <= {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: code cells {dirty} have stored outputs or execution counts; clear them"
    assert not any(cell.get("attachments") for cell in nb.cells), f"{path.name}: cell attachments stored"
    assert "widgets" not in nb.metadata, f"{path.name}: widget state stored in the metadata"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_quick_settings_first(path):
    nb = nbformat.read(path, as_version=4)
    first_code = next(cell for cell in nb.cells if cell.cell_type == "code")
    assert "QUICK = True" in first_code.source, f"{path.name}: the first code cell must set QUICK = True"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, tmp_path, monkeypatch):
    # the kernel inherits the environment of this process
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name} failed:\n{exc}", pytrace=False)
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: error outputs {[(e['ename'], e['evalue']) for e in errors]}"
    # notebooks write into temporary directories only, never into their working directory
    assert not any(tmp_path.iterdir()), f"{path.name} wrote into its working directory: {list(tmp_path.iterdir())}"


def test_kernel_is_this_interpreter():
    """The python3 kernelspec resolves to the interpreter that runs the tests (the project's venv)."""
    from jupyter_client.kernelspec import KernelSpecManager

    argv = KernelSpecManager().get_kernel_spec("python3").argv
    # jupyter_client replaces a bare "python" with sys.executable when it launches the kernel
    assert argv[0] in ("python", "python3", sys.executable) or Path(argv[0]).resolve() == Path(sys.executable).resolve(), \
        json.dumps(argv)
