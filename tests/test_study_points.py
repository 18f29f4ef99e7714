"""The quantization study kind: point function, network cache, and a tiny study run."""
import numpy as np
import pytest

from neuromorph.stages import study_points
from neuromorph.stages.study import run_study


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUROMORPH_CACHE", str(tmp_path / "cache"))
    study_points._trained.cache_clear()


def test_quantization_point_trends_and_cache(tmp_path):
    base = {"iterations": 100, "test_steps": 3000}
    a = study_points.quantization_point(dict(base, weight_bits=3), seed=1)
    b = study_points.quantization_point(dict(base, weight_bits=8), seed=1)
    assert a["error_float"] == b["error_float"]  # same learnt network (cached) and same test signal
    assert a["error_quantized"] > b["error_quantized"]
    assert len(list((tmp_path / "cache" / "networks").glob("*.npz"))) == 1
    study_points._trained.cache_clear()  # a new process would load the cached file
    c = study_points.quantization_point(dict(base, weight_bits=8), seed=1)
    assert c == b
    d = study_points.quantization_point(dict(base, delay=3), seed=1)
    assert d["error_float"] > b["error_float"]
    with pytest.raises(ValueError, match="unknown parameter"):
        study_points.quantization_point({"bits": 4}, seed=1)
    with pytest.raises(ValueError, match="sparsity must lie in"):
        study_points.quantization_point(dict(base, sparsity=1.5), seed=1)


def test_quantization_study_runs(tmp_path):
    study = {"name": "t", "kind": "quantization", "base": {"iterations": 60, "test_steps": 2000},
             "sweep": {"weight_bits": [3, 8]}, "repetitions": 2, "seed": 0, "metric": "error_quantized"}
    df = run_study(study, tmp_path / "s", scheduler="synchronous", progress=False)
    assert len(df) == 4 and (df["status"] == "ok").all()
    m = df.groupby("weight_bits")["error_quantized"].mean()
    assert m[3] > m[8]
    assert (tmp_path / "s" / "results.parquet").is_file() and np.isfinite(df["error_float"]).all()
