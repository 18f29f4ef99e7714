"""``train --max-channels K``: the signal's first K principal components, coded, deployed and
decoded back to the M original channels (neuromorph/data/pca.py)."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from neuromorph.cli import main
from neuromorph.config import ConfigError, load_config
from neuromorph.data import DataError, Signal, load_run_data, prepare_run_data, save_run_data
from neuromorph.data.pca import ProjectedScaling, fit_pca
from neuromorph.metrics import normalized_error
from neuromorph.stages.train_plan import plan_training

def low_rank_signal(T: int = 20000, m: int = 10, k: int = 3, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    """(T, m) = smooth k-dimensional signal mixed into m channels, plus white noise, offset 1."""
    rng = np.random.default_rng(seed)
    z = gaussian_filter1d(rng.standard_normal((T, k)), 40, axis=0) * 5
    return z @ rng.standard_normal((k, m)) + noise * rng.standard_normal((T, m)) + 1.0


def test_pca_recovers_a_low_rank_signal_and_its_floor():
    x = low_rank_signal(noise=0.0)
    p = fit_pca(x, 3)
    assert p.k == 3 and p.m == 10
    assert np.allclose(p.components @ p.components.T, np.eye(3), atol=1e-12)
    assert p.variance_explained == pytest.approx(1.0, abs=1e-12)  # rank 3 exactly
    assert np.allclose(p.reconstruct(p.project(x)), x, atol=1e-9)
    # components largest-variance first, each with a positive largest entry (reproducible sign)
    assert np.all(np.diff(p.explained_variance) <= 0)
    assert np.all(p.components[np.arange(3), np.argmax(np.abs(p.components), axis=1)] > 0)
    # with noise the floor is the noise's share: 7 of 10 noise directions are dropped
    xn = low_rank_signal(noise=0.5)
    pn = fit_pca(xn, 3)
    floor = normalized_error(xn, pn.reconstruct(pn.project(xn)))
    assert floor == pytest.approx(1 - pn.variance_explained, rel=1e-9)
    expect = 7 * 0.25 / np.var(xn, axis=0).sum()
    assert floor == pytest.approx(expect, rel=0.1)  # the estimated noise directions vary by ~1/sqrt(T)


@pytest.mark.parametrize("k, msg", [(0, ">= 1"), (-2, ">= 1"), (11, "11 > the 10 channel"), (2.5, "integer")])
def test_bad_k_is_one_line_naming_the_flag(k, msg):
    with pytest.raises(DataError, match="--max-channels") as e:
        fit_pca(low_rank_signal(T=500), k)
    assert msg in str(e.value) and "\n" not in str(e.value)


def test_too_few_varying_directions():
    x = np.zeros((500, 4))
    x[:, 0] = np.sin(np.arange(500) / 20)
    x[:, 1] = 2 * x[:, 0]
    with pytest.raises(DataError, match="only 1 direction"):
        fit_pca(x, 2)


def test_run_data_keeps_components_and_the_original_held_out_part(tmp_path):
    x = low_rank_signal(T=5000)
    rd = prepare_run_data(Signal(x[None], 1e-3, source="s"), 1e-3, max_channels=3)
    assert rd.n_channels == 3 and rd.train.channels == ("pc1", "pc2", "pc3")
    assert rd.test_original.shape == (1, 1000, 10) and np.array_equal(rd.test_original[0], x[4000:])
    # scores scaled like any signal: zero mean, the operating std, on the training part
    assert np.allclose(rd.train.x.reshape(-1, 3).std(axis=0), 3.6)
    ps = rd.data_scaling
    assert isinstance(ps, ProjectedScaling) and ps.n_data_channels == 10
    # network units -> data: the rank-3 reconstruction of the original
    back = ps.to_data(rd.test.x)
    assert np.allclose(back, rd.pca.reconstruct(rd.pca.project(rd.test_original)), atol=1e-9)
    assert np.allclose(ps.to_network(rd.test_original), rd.test.x, atol=1e-9)
    save_run_data(tmp_path, rd)
    rd2 = load_run_data(tmp_path)
    assert rd2.pca is not None and rd2.pca.channels == rd.pca.channels
    for a, b in ((rd2.pca.components, rd.pca.components), (rd2.pca.mean, rd.pca.mean),
                 (rd2.test_original, rd.test_original), (rd2.test.x, rd.test.x)):
        assert np.array_equal(a, b)
    # a run without PCA writes none of it
    plain = prepare_run_data(Signal(x[None], 1e-3, source="s"), 1e-3)
    save_run_data(tmp_path / "p.npz", plain)
    with np.load(tmp_path / "p.npz") as z:
        assert not [k for k in z.files if k.startswith("pca_") or k == "x_test_original"]


@pytest.mark.parametrize("over, msg", [
    ({"data.file": "x.npy", "train.max_channels": 2, "train.network": "ei"}, "applies to an SCN"),
    ({"train.max_channels": 2}, "fig2 protocol"),
    ({"data.source": "white-noise", "data.channels": 3, "train.max_channels": 4}, "> data.channels = 3"),
])
def test_plan_refuses_what_cannot_apply(over, msg):
    with pytest.raises(ConfigError, match=msg):
        plan_training(load_config(None, over))
    with pytest.raises(ConfigError, match="max_channels must be > 0"):
        load_config(None, {"train.max_channels": 0})


def test_cli_pca_run_deploys_and_decodes_to_the_original_channels(tmp_path, capsys):
    """10 channels (3 latent + noise) -> K = 3 -> Xylo Audio 2 (which takes at most 8).  The CLI
    in process (its entry point, without 7 interpreter starts)."""
    x = low_rank_signal(T=15000)
    np.save(tmp_path / "s10.npy", x)
    run, q, v = tmp_path / "run", tmp_path / "q", tmp_path / "v"

    def cli(*a):
        capsys.readouterr()
        rc = main([str(v) for v in a])
        return SimpleNamespace(returncode=rc, stderr=capsys.readouterr().err)

    # without the flag the chip's input limit fails before any work and names the flag
    p = cli("train", "--data", tmp_path / "s10.npy", "--dt", 0.001, "--target", "xylo-audio-v2", "--out", run,
            "--no-progress")
    assert p.returncode == 2 and "--max-channels 8" in p.stderr and not run.exists()
    p = cli("train", "--data", tmp_path / "s10.npy", "--dt", 0.001, "--max-channels", 3, "--neurons", 40,
            "--seconds", 10, "--target", "xylo-audio-v2", "--out", run, "--no-progress")
    assert p.returncode == 0, p.stderr
    m = json.loads((run / "metrics.json").read_text())
    pc = m["data"]["pca"]
    assert pc["k"] == 3 and pc["m"] == 10 and pc["variance_explained"] > 0.99
    assert pc["error_after_channels"] >= pc["error_floor"] and pc["error_after_channels"] < pc["error_before_channels"]
    assert cli("quantize", run, "--target", "xylo-audio-v2", "--out", q).returncode == 0
    p = cli("verify", q, "--out", v)
    assert p.returncode == 0, p.stderr
    r = json.loads((v / "verify.json").read_text())
    assert r["emulator_matches_xylosim"] is True
    sig, dec = np.load(v / "signal.npy"), np.load(v / "decoded_emulated.npy")
    assert sig.shape == dec.shape == (3000, 10) and np.array_equal(sig, x[-3000:])
    assert normalized_error(sig, dec) == pytest.approx(r["error_emulated"], rel=1e-12)
    assert len(r["channels"]) == 10
    # exact decomposition (orthonormal components): the M-channel error variance is the floor's
    # plus the K scores' (the network's estimate lies in the components' span)
    pr = r["pca"]
    vm = np.var(sig, axis=0).sum()
    vz = np.var((sig - x[:12000].mean(axis=0)) @ load_run_data(q).pca.components.T, axis=0).sum()
    for k in ("float", "fake_quant", "emulated"):
        assert r[f"error_{k}"] * vm == pytest.approx(pr["error_floor"] * vm + pr[f"error_{k}_pc"] * vz, rel=1e-9)
    # a data file in the original channels is projected the same way: the held-out part as a file
    np.save(tmp_path / "tail.npy", x[-3000:])
    p = cli("verify", q, "--data", tmp_path / "tail.npy", "--out", tmp_path / "v2")
    assert p.returncode == 0, p.stderr
    r2 = json.loads((tmp_path / "v2" / "verify.json").read_text())
    assert r2["error_emulated"] == pytest.approx(r["error_emulated"], rel=1e-9)
    np.save(tmp_path / "bad.npy", x[-3000:, :4])
    p = cli("verify", q, "--data", tmp_path / "bad.npy", "--out", tmp_path / "v3")
    assert p.returncode == 2 and "network codes 10 (its 3 principal components)" in p.stderr
