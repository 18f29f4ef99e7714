"""samna airtight: with a marker ``samna`` package first on ``sys.path`` (its ``__init__``
records that it was imported, as the PyPI shim would run pip), every command and the
NIR/Rockpool tests run without importing it: every path into Rockpool's torch or device modules
goes through ``neuromorph.backends.xylo.rockpool_compat`` (docs/interop.md)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import sys, numpy as np
from pathlib import Path
from neuromorph.cli import main
sys.path.insert(0, sys.argv[2])
from test_nir_import import hand_graph
from neuromorph.backends.nir import save_nir
w = Path(sys.argv[1])
assert main(["targets"]) == 0
model = save_nir(hand_graph(), w / "hand.nir")
assert main(["quantize", str(model), "--target", "xylo-audio-v2", "--out", str(w / "q")]) == 0
assert main(["deploy", str(w / "q"), "--out", str(w / "d")]) == 0
assert main(["verify", str(w / "q"), "--out", str(w / "v"), "--steps", "500"]) == 0
import yaml
(w / "s.yaml").write_text(yaml.safe_dump({"name": "s", "kind": "nir", "base": {"model": str(model)},
                                         "sweep": {"weight_bits": [4, 8]}}))
assert main(["study", str(w / "s.yaml"), "--out", str(w / "s"), "--scheduler", "synchronous", "--no-progress"]) == 0
np.save(w / "x.npy", np.ones((50, 4), np.int64))
assert main(["emulate", str(w / "d" / "spec.npz"), "--input", str(w / "x.npy"), "--out", str(w / "e")]) == 0
from neuromorph.backends.xylo.nir import to_rockpool, xylo_spec_to_nir
from neuromorph.backends.xylo.spec import load_spec
spec = load_spec(w / "d" / "spec.npz")
# both audio front-ends (Rockpool's Xylo Audio 2 AFESim and Xylo Audio 3 AFE stages), 0.1 s of a tone
from neuromorph.backends.xylo import afe, afe3
tone = 0.5 * np.sin(2 * np.pi * 1000.0 * np.arange(1600) / 16000.0)
assert afe.afe_events(tone, 16000.0, 1e-3, noise=False)["events"].shape[1] == 16
assert afe3.afe_events(tone, 16000.0, 49 / 48828.125)["events"].shape[1] == 16
print("samna in sys.modules:", sys.modules.get("samna", "absent"))
"""


def marker_env(tmp_path: Path) -> tuple[dict, Path]:
    pkg = tmp_path / "marker" / "samna"
    pkg.mkdir(parents=True)
    flag = tmp_path / "SAMNA_IMPORTED"
    (pkg / "__init__.py").write_text(f"open({str(flag)!r}, 'a').write('imported\\n')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "marker"), str(ROOT)]),
               OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    return env, flag


def test_marker_is_seen_by_a_plain_import(tmp_path):
    """The marker works: a bare ``import samna`` (what Rockpool does unguarded) trips it."""
    env, flag = marker_env(tmp_path)
    subprocess.run([sys.executable, "-c", "import samna"], env=env, check=True, cwd=tmp_path)
    assert flag.read_text() == "imported\n"


def test_commands_never_import_samna(tmp_path):
    env, flag = marker_env(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(work), str(ROOT / "tests")], env=env, cwd=tmp_path, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert not flag.exists(), "samna was imported"
    assert "samna in sys.modules: None" in r.stdout  # blocked by the guard, not merely untouched


def test_nir_and_rockpool_tests_never_import_samna(tmp_path):
    env, flag = marker_env(tmp_path)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
                        str(ROOT / "tests" / "test_nir_exchange.py"), str(ROOT / "tests" / "test_interop_spec.py"),
                        str(ROOT / "tests" / "test_nir_import.py") + "::test_rockpool_lif_torch_network_in",
                        str(ROOT / "tests" / "test_nir_consumers.py")],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:]
    assert not flag.exists(), "samna was imported"


@pytest.mark.slow
def test_pipeline_never_imports_samna(tmp_path):
    env, flag = marker_env(tmp_path)
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text("train: {iterations: 20}\nquantize: {adapt_steps: 20000}\nverify: {test_steps: 2000}\n")
    r = subprocess.run([sys.executable, "-m", "neuromorph.cli", "pipeline", "--config", str(cfg), "--out",
                        str(tmp_path / "run"), "--no-progress"], env=env, cwd=tmp_path, capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert not flag.exists(), "samna was imported"
