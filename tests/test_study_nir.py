"""``neuromorph study MODEL.nir``: a quantization robustness study (weight bits x mismatch x seeds)
of a network from another tool, the emulated chip against the graph's own NIR semantics."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from neuromorph.backends.nir import save_nir
from neuromorph.cli import main
from neuromorph.stages.study_nir import file_sha256, nir_point, resolve_study
from tests.test_nir_import import hand_graph


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return save_nir(hand_graph(), tmp_path_factory.mktemp("nir") / "hand.nir")


def test_nominal_point_is_quantize_then_verify(model, tmp_path):
    """8-bit weights, no mismatch: the point's numbers are exactly those of quantize -> verify
    (same seed, steps and default input)."""
    q, v = tmp_path / "q", tmp_path / "v"
    assert main(["quantize", str(model), "--target", "xylo-imu", "--method", "channel", "--out", str(q)]) == 0
    assert main(["verify", str(q), "--out", str(v), "--steps", "2000", "--no-xylosim"]) == 0
    ver = json.loads((v / "verify.json").read_text())
    got = nir_point({"model": str(model), "target": "xylo-imu", "method": "channel", "test_steps": 2000,
                     "xylosim": True}, 0)
    assert got["spike_agreement"] == ver["spike_agreement"] and got["rate_chip_hz"] == ver["rate_chip_hz"]
    assert got["rate_nir_hz"] == ver["rate_nir_hz"]
    assert got["readout_correlation"] == pytest.approx(float(np.mean(ver["readout_correlation"])), rel=1e-12)
    assert got["weight_change"] == 0.0 and got["fit_ok"] is True and got["emulator_matches_xylosim"] is True


def test_perturbed_specs_stay_on_the_chip_grid(model):
    from neuromorph.backends.nir import load_nir
    from neuromorph.backends.nir_import import default_raster, parse_graph
    from neuromorph.stages.nir_model import map_graph
    from neuromorph.stages.study_nir import _perturb
    from quantization.hardware import load_target

    g = load_nir(model)
    net = parse_graph(g)
    spec, _, _ = map_graph(g, net, load_target("xylo-audio-v2"), "global", default_raster(4, 2000, 0))
    for bits in (3, 5, 8):
        p = _perturb(spec, bits, 0.2, 7)
        step, lim = 2 ** (8 - bits), (2 ** (bits - 1) - 1) * 2 ** (8 - bits)
        for w in (p.weights_in, p.weights_rec, p.weights_out):
            assert np.all(w % step == 0) and np.abs(w).max() <= lim
        assert p.threshold.min() >= 1 and p.dash_mem.min() >= 0 and p.dash_mem.max() <= 15
    same = _perturb(spec, 8, 0.0, 7)
    for k in ("weights_in", "weights_rec", "weights_out", "threshold", "threshold_out", "dash_mem"):
        assert np.array_equal(getattr(same, k), getattr(spec, k)), k


def test_study_of_a_nir_model(model, tmp_path, capsys):
    """The built-in grid (5 weight bits x 4 mismatch sigmas x 4 seeds = 80 tasks, about 10 s)."""
    out = tmp_path / "s"
    assert main(["study", str(model), "--out", str(out), "--scheduler", "synchronous", "--no-progress"]) == 0
    assert "80 tasks (0 reused, 80 computed, 0 failed)" in capsys.readouterr().out
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 80 and (df["status"] == "ok").all() and df["fit_ok"].all()
    assert (df["model"] == str(model.resolve())).all() and (df["model_sha256"] == file_sha256(model)).all()
    m = df.groupby(["weight_bits", "mismatch"])
    corr, change = m["readout_correlation"].mean(), m["weight_change"].mean()
    print("STUDY readout correlation (mean of 4 seeds)\n" + corr.unstack().round(3).to_string())
    # measured: 8 bits / no mismatch 0.915 (sd 0.013 over seeds), 3 bits 0.752 (sd 0.011),
    # 8 bits / sigma 0.2 0.787 (sd 0.091, so sd of the mean 0.045); margins are > 2 sd of the means
    assert corr[(8, 0.0)] > 0.85
    assert corr[(3, 0.0)] < corr[(8, 0.0)] - 0.08
    assert corr[(8, 0.2)] < corr[(8, 0.0)] - 0.03
    # weight_change of sigma-mismatch on the 8-bit grid is sigma (E[(w sigma xi)^2] / E[w^2] = sigma^2)
    # plus rounding (1/12 per weight against a mean square of ~ 10^3): measured 0.048, 0.094, 0.185
    assert change[(8, 0.0)] == 0.0
    for s in (0.05, 0.1, 0.2):
        assert change[(8, s)] == pytest.approx(s, rel=0.15)
    assert sorted(p.name for p in out.glob("fig_*.png")) == ["fig_spike_agreement_vs_mismatch.png",
                                                           "fig_spike_agreement_vs_weight_bits.png"]
    # resume: everything is reused
    assert main(["study", str(model), "--out", str(out), "--scheduler", "synchronous", "--no-progress",
                 "--resume"]) == 0
    assert "80 tasks (80 reused, 0 computed, 0 failed)" in capsys.readouterr().out


def test_model_options_go_into_the_grid(model, tmp_path):
    raster = np.zeros((100, 4), np.int64)
    np.save(tmp_path / "x.npy", raster)
    st = resolve_study(model, target="xylo-imu", method="channel", dt=1e-3, data=tmp_path / "x.npy")
    assert st.kind == "nir" and st.sweep == {"weight_bits": [3, 4, 5, 6, 8], "mismatch": [0.0, 0.05, 0.1, 0.2]}
    assert st.base == {"target": "xylo-imu", "method": "channel", "test_steps": 2000, "dt": 1e-3,
                       "model": str(model.resolve()), "model_sha256": file_sha256(model),
                       "data": str((tmp_path / "x.npy").resolve())}
    assert len(st.tasks()) == 80


def _study_file(tmp_path: Path, base: dict, sweep: dict | None = None) -> Path:
    p = tmp_path / "study.yaml"
    p.write_text(yaml.safe_dump({"name": "n", "kind": "nir", "base": base, "sweep": sweep or {"mismatch": [0.0, 0.1]}}))
    return p


def test_study_file_of_kind_nir(model, tmp_path, capsys):
    """A custom grid: kind nir with base.model; a --data raster is used for every repetition."""
    raster = (np.random.default_rng(3).random((500, 4)) < 0.2).astype(np.int64)
    np.save(tmp_path / "x.npy", raster)
    study = _study_file(tmp_path, {"model": str(model), "data": str(tmp_path / "x.npy"), "target": "xylo-imu"},
                        {"weight_bits": [4, 8]})
    out = tmp_path / "s"
    assert main(["study", str(study), "--out", str(out), "--scheduler", "synchronous", "--no-progress"]) == 0
    df = pd.read_csv(out / "results.csv")
    assert len(df) == 2 and (df["status"] == "ok").all()
    assert df.loc[df.weight_bits == 4, "weight_change"].item() > 0.05  # 4-bit grid: step 16 on |w| <= 127


def _fails(capsys, argv, *needles):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("neuromorph: error: "), err
    for n in needles:
        assert n in err, err


def test_study_failures_are_one_line(model, tmp_path, capsys):
    out = tmp_path / "out"
    base = ["--out", str(out), "--scheduler", "synchronous", "--no-progress"]
    _fails(capsys, ["study", str(tmp_path / "nope.nir"), *base], "NIR model not found", "nope.nir")
    _fails(capsys, ["study", str(model), "--target", "fixed-point", *base],
           "parameter 'target': fixed-point is not a Xylo device")
    _fails(capsys, ["study", str(model), "--target", "xylo-nano", *base], "xylo-nano")
    _fails(capsys, ["study", str(model), "--dt", "-1", *base], "--dt must be a positive number of seconds")
    _fails(capsys, ["study", str(model), "--data", str(tmp_path / "x.npy"), *base], "--data: input raster not found")
    np.save(tmp_path / "bad.npy", np.zeros((10, 3), np.int64))
    _fails(capsys, ["study", str(model), "--data", str(tmp_path / "bad.npy"), *base],
           "expected shape (time steps, 4) for the graph's 4 inputs, got (10, 3)")
    g = hand_graph()
    g.nodes["lif"].tau_mem = np.full(20, 1e-3 * 2 ** 17)
    g.nodes["lif"].r = g.nodes["lif"].tau_mem / 1e-3
    _fails(capsys, ["study", str(save_nir(g, tmp_path / "slow.nir")), *base], "needs a bit-shift decay outside 0..15")
    study = _study_file(tmp_path, {"model": str(model)})
    _fails(capsys, ["study", str(study), "--target", "xylo-imu", *base], "--target: only for a NIR model")
    _fails(capsys, ["study", str(_study_file(tmp_path, {"target": "xylo-imu"})), *base],
           "a nir point needs the parameter 'model'")
    _fails(capsys, ["study", str(_study_file(tmp_path, {"model": str(model)}, {"weight_bits": [4, 9]})), *base],
           "parameter 'weight_bits' must lie in 2..8", "got 9")
    _fails(capsys, ["study", str(_study_file(tmp_path, {"model": str(model), "mismach": 0.1})), *base],
           "unknown parameter(s) ['mismach']")
    _fails(capsys, ["study", str(_study_file(tmp_path, {"model": str(model), "method": "scn"})), *base],
           "parameter 'method' must be 'global' or 'channel'")
    _fails(capsys, ["study", str(_study_file(tmp_path, {"model": str(model), "model_sha256": "0" * 16})), *base],
           "has changed since the study was set up")
    assert not out.exists()  # every check ran before --out was touched
