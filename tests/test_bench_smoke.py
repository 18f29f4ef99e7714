"""The benchmark scripts run (tiny sizes): a broken benchmark would otherwise go unnoticed."""
import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_bench_ei_reports_both_kernels_and_numpy(tmp_path):
    out = _load("bench_ei").main(["--steps", "3000", "--numpy-steps", "300", "--repeats", "1",
                                  "--json", str(tmp_path / "b.json")])
    assert out["kernel_us_per_step"] > 0 and out["kernel_alpha_synapse_us_per_step"] > 0
    assert out["numpy_us_per_step"] > 0 and (tmp_path / "b.json").stat().st_size > 0


def test_bench_speed_table_rows_run():
    mod = _load("bench_speed_table")
    one = mod.scn_learning(20, 2, 2000.0, 3000, "one")
    chip = mod.scn_learning(20, 2, 1000.0, 3000, "chip")
    assert one["us_wall"] > 0 and one["rate_hz"] > 0 and chip["rate_hz"] > 0
    assert mod.scn_numpy(20, 2, 2000.0, 200) > 0


def test_bench_integer_learning_runs_both_modes(tmp_path):
    rows = _load("bench_integer_learning").main(["--work", str(tmp_path), "--networks", "fig2", "--steps", "2000",
                                                 "--fig2-iterations", "20"])
    assert [r["mode"] for r in rows] == ["float", "integer"]
    assert all(r["error"] > 0 and r["rate_hz"] > 0 for r in rows)
