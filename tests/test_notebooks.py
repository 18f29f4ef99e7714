"""The tutorial notebooks in ``notebooks/`` are stored *with* their outputs and still run clean.

Stored outputs: a reader on a code host sees every result and figure without running anything.
Every code cell of every ``notebooks/*.ipynb`` has run, in order (execution counts 1, 2, 3, ...),
none ended in an error, each cell that draws a figure holds a PNG of it, and the files stay small.

Re-execution: each notebook is executed again with nbclient in a fresh ``python3`` kernel (the
interpreter running the tests, i.e. the project's virtual environment), with its quick settings,
in an empty working directory; one test per notebook, so ``pytest -n 2`` runs them in parallel.
Measured (2 cores, quick settings): 01 21 s, 02 10 s, 03 5 s, 04 11 s, so they stay in the
default run. The stored outputs are refreshed with one command, ``python notebooks/run_all.py``
(the same as ``jupyter nbconvert --to notebook --execute --inplace`` on each notebook).
"""
from __future__ import annotations

import base64
import json
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {"01_quick_start", "02_learning_figures", "03_quantization_study", "04_deploy_and_verify",
            "05_your_own_signal", "06_speech_on_xylo"}
CELL_TIMEOUT_S = 300  # per cell; each whole notebook takes well under a minute with its quick settings
# Size limits of the stored outputs: the largest figure of 01-04 is 208 KiB and the largest
# notebook 664 KiB (02, five figures); the limits leave room for a few more figures, not for
# high-dpi or SVG-embedded output that would bloat the repository.
MAX_IMAGE_KIB = 400
MAX_NOTEBOOK_KIB = 2048
# a cell "draws a figure" when it makes one (plt.subplots / plt.figure) and shows it
DRAWS = re.compile(r"plt\.(subplots|figure)\(")
SHOWS = re.compile(r"\b(show|display)\(\s*fig|plt\.show\(")


def code_cells(nb):
    """The code cells that run (Jupyter and nbclient skip blank ones: no execution count)."""
    return [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]


def test_the_tutorial_notebooks_are_present():
    assert EXPECTED <= {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_with_its_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    cells = code_cells(nb)
    counts = [c.get("execution_count") for c in cells]
    assert counts == list(range(1, len(cells) + 1)), \
        f"{path.name}: execution counts {counts}; run it top to bottom (python notebooks/run_all.py {path.name})"
    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(cells) for o in c.outputs
              if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: error outputs stored {errors}"
    no_figure = [i for i, c in enumerate(cells) if DRAWS.search(c.source) and SHOWS.search(c.source)
                 and not any("image/png" in o.get("data", {}) for o in c.outputs)]
    assert not no_figure, f"{path.name}: code cells {no_figure} draw a figure but hold no PNG output"
    if any(DRAWS.search(c.source) for c in cells):
        assert any("image/png" in o.get("data", {}) for c in cells for o in c.outputs), f"{path.name}: no figure stored"
    for i, c in enumerate(cells):
        for o in c.outputs:
            png = o.get("data", {}).get("image/png")
            if png:
                kib = len(base64.b64decode(png)) / 1024
                assert kib <= MAX_IMAGE_KIB, f"{path.name}: code cell {i} stores a {kib:.0f} KiB figure"
            assert "image/svg+xml" not in o.get("data", {}), f"{path.name}: code cell {i} stores SVG; use PNG"
    kib = path.stat().st_size / 1024
    assert kib <= MAX_NOTEBOOK_KIB, f"{path.name}: {kib:.0f} KiB with outputs (limit {MAX_NOTEBOOK_KIB})"
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
    stored_images = sum("image/png" in o.get("data", {}) for c in code_cells(nb) for o in c.outputs)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    try:
        client.execute()  # clears the stored outputs first, so what is checked below is fresh
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name} failed:\n{exc}", pytrace=False)
    errors = [o for cell in code_cells(nb) for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: error outputs {[(e['ename'], e['evalue']) for e in errors]}"
    # the stored outputs are this notebook's: a re-run draws as many figures as are stored
    fresh_images = sum("image/png" in o.get("data", {}) for c in code_cells(nb) for o in c.outputs)
    assert fresh_images == stored_images, \
        f"{path.name}: a fresh run draws {fresh_images} figures, the stored outputs hold {stored_images}; " \
        f"re-execute it (python notebooks/run_all.py {path.name})"
    # notebooks write into temporary directories only, never into their working directory
    assert not any(tmp_path.iterdir()), f"{path.name} wrote into its working directory: {list(tmp_path.iterdir())}"


def test_run_all_refuses_a_missing_notebook(tmp_path, capsys):
    sys.path.insert(0, str(NOTEBOOK_DIR))
    try:
        import run_all
    finally:
        sys.path.remove(str(NOTEBOOK_DIR))
    assert run_all.main([str(tmp_path / "nope.ipynb")]) == 2
    assert capsys.readouterr().err == f"run_all: notebook not found: {tmp_path / 'nope.ipynb'}\n"


def test_kernel_is_this_interpreter():
    """The python3 kernelspec resolves to the interpreter that runs the tests (the project's venv)."""
    from jupyter_client.kernelspec import KernelSpecManager

    argv = KernelSpecManager().get_kernel_spec("python3").argv
    # jupyter_client replaces a bare "python" with sys.executable when it launches the kernel
    assert argv[0] in ("python", "python3", sys.executable) or Path(argv[0]).resolve() == Path(sys.executable).resolve(), \
        json.dumps(argv)
