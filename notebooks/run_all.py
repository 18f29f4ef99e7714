"""Re-execute the tutorial notebooks in place, storing their outputs (figures as PNG).

    python notebooks/run_all.py                      # every notebooks/*.ipynb
    python notebooks/run_all.py notebooks/01_quick_start.ipynb ...

Each notebook runs top to bottom in a fresh ``python3`` kernel (the interpreter running this
script, i.e. the project's virtual environment), in an empty temporary working directory, with
its quick settings (``QUICK = True``), and is written back with its outputs. This is what
``jupyter nbconvert --to notebook --execute --inplace NOTEBOOK`` does (nbconvert executes with
nbclient too); this script needs only nbclient and ipykernel (the ``test`` extra), leaves out
per-cell timing metadata so a re-run changes only the outputs, and stops at the first notebook
that fails, leaving that notebook's file untouched. ``tests/test_notebooks.py`` checks the
stored outputs and re-executes the notebooks.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbclient
import nbformat

HERE = Path(__file__).resolve().parent
CELL_TIMEOUT_S = 600


def execute(path: Path, workdir: Path) -> nbformat.NotebookNode:
    """Execute the notebook at ``path`` in ``workdir``; return it with outputs (the file is not written)."""
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", record_timing=False,
                                     resources={"metadata": {"path": str(workdir)}})
    client.execute()
    return nb


def main(argv: list[str]) -> int:
    # the kernel inherits this environment: one BLAS thread, no GUI backend
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    paths = [Path(a) for a in argv] or sorted(HERE.glob("*.ipynb"))
    for path in paths:
        if not path.is_file():
            print(f"run_all: notebook not found: {path}", file=sys.stderr)
            return 2
    for path in paths:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            try:
                nb = execute(path, Path(tmp))
            except nbclient.exceptions.CellExecutionError as exc:
                print(f"run_all: {path.name} failed (file left as it was):\n{exc}", file=sys.stderr)
                return 1
        nbformat.validate(nb)
        tmp_out = path.with_suffix(".ipynb.tmp")
        nbformat.write(nb, tmp_out)
        tmp_out.replace(path)  # atomic: an interrupted run never leaves half a notebook
        print(f"{path.name}: executed in {time.perf_counter() - t0:.1f} s, "
              f"{path.stat().st_size / 1024:.0f} KiB with outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
