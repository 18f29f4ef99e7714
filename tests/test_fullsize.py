"""The chip's full size (issue 12, part 4): fan-out masks, relay layout, shapes-only fit check."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from quantization.fit_shapes import ShapeFitError, check_shapes
from quantization.hardware import load_target, targets_dir

from neuromorph.outdir import write_manifest
from neuromorph.backends.base import backend_for
from neuromorph.backends.xylo.deploy import spec_from_quantized
from neuromorph.backends.xylo.relays import max_coding_neurons, relay_count
from neuromorph.network import SCN, save_network
from neuromorph.quant.fakequant import evaluation_signal, operating_statistics
from neuromorph.sim.connectivity import fanout, fanout_mask
from neuromorph.sim.masked_learning import learn_with_fanout
from neuromorph.sim.simulator import block_noise_source, learn
from neuromorph.stages.preflight import fanout_for, preflight
from quantization.fit_check import check_fit

ROOT = Path(__file__).resolve().parents[1]


def unit_scn(n: int, m: int, seed: int = 0) -> SCN:
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((n, m))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    return SCN(F=F, Omega=-(F @ F.T) - 0.02 * np.eye(n), D=F.T.copy(), thresholds=0.5)


# ------------------------------------------------------------------------------ fan-out mask
def test_mask_respects_fanout_counting_self_and_is_symmetric():
    F = unit_scn(120, 3).F
    mk = fanout_mask(F, 16)
    assert fanout(mk).max() == 16  # self included: 15 lateral targets + the diagonal
    assert np.all(np.diag(mk)) and np.array_equal(mk, mk.T)
    assert fanout_mask(F, 120).all()  # K >= N: dense
    with pytest.raises(ValueError, match="max_fanout"):
        fanout_mask(F, 0)


def test_mask_keeps_the_strongest_pairs():
    # neurons on a circle (M = 2): |F_i . F_k| = |cos(angle difference)| is largest for the
    # nearest and the opposite neighbours, so each neuron's kept partners lie within the K-1
    # smallest |sin| of the angle difference
    n, k = 60, 5
    th = 2 * np.pi * np.arange(n) / n
    F = np.c_[np.cos(th), np.sin(th)]
    mk = fanout_mask(F, k)
    strength = np.abs(F @ F.T)
    off = ~np.eye(n, dtype=bool)
    for i in range(n):
        assert mk[:, i].sum() == k
        # each neuron's strongest partner (its opposite, |cos| = 1) is kept
        assert mk[(i + n // 2) % n, i]
    # the kept mass is close to the upper bound of every neuron taking its own top K-1
    # (asymmetric, not a valid symmetric mask): measured 0.992 here (random mask: 1.56x less mass); the greedy's loss is that a
    # full partner pushes a slot one rank down
    top = np.sort(np.where(off, strength, 0), axis=0)[-(k - 1):].sum()
    assert strength[mk & off].sum() >= 0.98 * top
    # against a random mask of the same fan-out the kept |F_i F_k| mass is larger
    rng = np.random.default_rng(0)
    rand = np.zeros_like(mk)
    for i in range(n):
        rand[rng.choice(np.delete(np.arange(n), i), k - 1, replace=False), i] = True
    assert strength[mk & off].sum() > 1.2 * strength[rand].sum()


def test_masked_weights_stay_exactly_zero_through_learning():
    net = unit_scn(80, 3)
    mk = fanout_mask(net.F, 12)
    res = learn(net, block_noise_source(3, 1), 5000, seed=1, rec_mask=mk)
    Om = res.network.Omega
    assert res.total_spikes > 0
    assert np.all(Om[~mk] == 0.0)
    fired = res.counts > 0
    assert fired.sum() > 10
    # every kept connection of a neuron that fired did learn (the rule updates a spiker's column)
    assert np.all((Om != net.Omega)[:, fired][mk[:, fired]])
    with pytest.raises(ValueError, match="diagonal"):
        learn(net, block_noise_source(3, 1), 10, rec_mask=~np.eye(80, dtype=bool))


def test_no_mask_is_bit_identical():
    net = unit_scn(30, 2)
    a = learn(net, block_noise_source(2, 1), 3000, seed=1)
    b = learn(net, block_noise_source(2, 1), 3000, seed=1, rec_mask=np.ones((30, 30), bool))
    assert np.array_equal(a.network.Omega, b.network.Omega) and np.array_equal(a.network.F, b.network.F)


def test_learn_with_fanout_rechooses_the_mask_and_fits():
    net = unit_scn(70, 2)
    res = learn_with_fanout(net, block_noise_source(2, 1), 4000, 10, refresh=2, seed=1, snapshot_steps=[2, 3000])
    assert fanout(res.network.Omega).max() <= 10
    assert [s for s, _, _ in res.snapshots] == [2, 3000] and res.n_steps == 4000
    assert res.network.meta["max_fanout"] == 10


# ---------------------------------------------------------------------------- relay layout
def _imu_toy(tmp_path: Path, proj) -> object:
    raw = yaml.safe_load((targets_dir() / "xylo-imu.yaml").read_text())
    raw.update(name=f"imu-toy-{proj}", input_projection="first" if proj else "all", input_projection_size=proj,
               output_projection="last" if proj else "all", output_projection_size=proj)
    p = tmp_path / f"imu-toy-{proj}.yaml"
    p.write_text(yaml.safe_dump(raw))
    return load_target(p)


def _coding_net(n: int, m: int = 2) -> SCN:
    # code-initialised, inhibition-only SCN at a chip-friendly rate (no learning needed)
    rng = np.random.default_rng(3)
    D = rng.normal(0.0, 0.1, (m, n))
    D /= np.linalg.norm(D, axis=0, keepdims=True) * 8
    return SCN(F=D.T.copy(), Omega=-D.T @ D, D=D, thresholds=0.5 * np.sum(D ** 2, 0) + 0.004, lam=10.0, dt=1e-3)


def test_relay_layout_small_imu_shape(tmp_path):
    """150 coding neurons on a Xylo-IMU-shaped core whose projections take only 16 neurons:
    input relays copy the input exactly, the fit check passes, the emulator equals XyloSim and
    the decoded error stays close to the direct layout of the same integer network."""
    pytest.importorskip("rockpool")
    n, m = 150, 2
    net = _coding_net(n, m)
    c, x = evaluation_signal(m, 1500, 0, net.lam, net.dt)
    out = {}
    for proj in (None, 16):
        t = _imu_toy(tmp_path, proj)
        b = backend_for(t)
        q = b.map(net, t, operating_statistics(net, c, 0, drive=b.input_drive), None)
        assert b.fit_check(q, t).ok
        sp = spec_from_quantized(q, t)
        raster = b.encode(q, x)
        rec = b.emulate(sp, raster)
        ref = b.reference_simulator(sp)(raster)
        assert all(np.array_equal(np.asarray(rec[k]), ref[k]) for k in ref)  # emulator == XyloSim
        plan = q.stats.get("relays")
        cod = slice(plan["n_in"], plan["n_in"] + n) if plan else slice(0, n)
        out[proj] = (b.decode(q, rec), rec["Spikes"][:, cod], raster, rec["Spikes"], plan)
    xd, sd, _, _, _ = out[None]
    xr, sr, raster, spikes, plan = out[16]
    assert plan["n_in"] == 4 and plan["n_out"] == 4 and spikes.shape[1] == n + 8
    # input relays re-emit exactly the events they receive, in the same step
    assert np.array_equal(spikes[:, :4], raster)
    err = lambda a: float(np.sqrt(np.mean((a - x) ** 2)) / np.sqrt(np.mean(x ** 2)))  # noqa: E731
    assert sd.sum() > 0 and sr.sum() > 0
    # the relay layout costs little: the input rounding (s_rec > s_in) and the readout quantum
    assert err(xr) < err(xd) + 0.05, (err(xr), err(xd))


def test_largest_deployable_scn():
    xa3, imu, xa2 = (load_target(t) for t in ("xylo-audio-v3", "xylo-imu", "xylo-audio-v2"))
    assert max_coding_neurons(2, xa3) == 992 - 8 and max_coding_neurons(2, imu) == 496 - 8
    assert max_coding_neurons(6, imu) == 496 - 24 and max_coding_neurons(2, xa2) == 1000
    assert relay_count(128, 2, imu) == 0 and relay_count(129, 2, imu) == 8


# --------------------------------------------------------------------- shapes-only fit check
def test_shapes_check_messages():
    xa2 = load_target("xylo-audio-v2")
    rep = check_shapes(xa2, 200, 2)
    assert [v.field for v in rep.violations] == ["fanout"]
    assert "over by 136" in rep.violations[0].message and "--max-fanout 64" in rep.violations[0].message
    assert check_shapes(xa2, 1000, 2, fanout=64).ok
    rep = check_shapes(xa2, 1001, 2, fanout=64)
    assert [v.field for v in rep.violations] == ["n_hidden"] and "over by 1" in rep.violations[0].message
    speech = check_shapes(load_target("xylo-imu"), 100, 25)
    assert {v.field for v in speech.violations} == {"n_inputs", "n_outputs"}
    assert "at most 8 channels" in speech.violations[0].message
    imu = load_target("xylo-imu")
    with pytest.raises(ShapeFitError, match="n|hidden"):
        preflight(imu, 490, 2)
    assert preflight(imu, 488, 2, fanout=57)["relay_neurons"] == 8  # dense 488 exceeds the weight total


def test_imu_total_recurrent_weights_hand_computed():
    # Xylo IMU holds 31,744 non-zero recurrent weights in all.  By hand, M = 2:
    # N = 128 (direct layout): dense 128 * 128 = 16,384 fits.
    # N = 488 (relays: 2M = 4 input relays, each reaching 488 coding neurons + itself = 4 * 489 = 1956
    # weights; each coding neuron adds 2M = 4 targets, the output relays, as the fan-out check counts):
    # dense 488 * (488 + 4) + 1956 = 242,052 > 31,744, over by 210,308; the largest mask
    # K = (31,744 - 1956) // 488 - 4 = 61 - 4 = 57: 488 * 61 + 1956 = 31,724 fits, K = 58 (32,212) not.
    imu = load_target("xylo-imu")
    assert imu.max_recurrent_weights == 31744
    assert all(load_target(t).max_recurrent_weights is None
               for t in ("xylo-audio-v2", "xylo-audio-v3", "fixed-point", "float"))
    assert preflight(imu, 128, 2) is not None
    with pytest.raises(ShapeFitError) as e:
        preflight(imu, 488, 2)
    msg = str(e.value)
    assert "242052 non-zero recurrent weights" in msg and "over by 210308" in msg and "--max-fanout 57" in msg
    assert fanout_for(imu, 488, 2) == 57
    preflight(imu, 488, 2, fanout=57)
    with pytest.raises(ShapeFitError, match="32212 non-zero"):
        preflight(imu, 488, 2, fanout=58)
    # the element-wise check counts the integer matrix: a dense 180-neuron W_rec (32,400 > 31,744)
    w = np.ones((180, 180), dtype=np.int64)
    rep = check_fit(imu, 2, 180, 1, weights_rec=w)
    v = [x for x in rep.violations if x.field == "recurrent_weights"]
    assert len(v) == 1 and "32400 non-zero" in v[0].message and "over by 656" in v[0].message
    w.reshape(-1)[:656] = 0  # exactly at the limit (31,744)
    assert not [x for x in check_fit(imu, 2, 180, 1, weights_rec=w).violations if x.field == "recurrent_weights"]


def test_speech_network_message_names_max_channels():
    rep = check_shapes(load_target("xylo-audio-v2"), 100, 25, fanout=64)
    assert {v.field for v in rep.violations} == {"n_inputs", "n_outputs"}
    assert "50 input lines (± event pairs) > 16" in rep.violations[0].message
    assert "--max-channels 8" in rep.violations[0].message


def _children_cpu_s() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def test_cli_fails_before_any_work(tmp_path):
    rng = np.random.default_rng(0)
    D = rng.normal(0, 0.1, (2, 200))
    run = tmp_path / "run"
    run.mkdir()
    save_network(SCN(F=D.T.copy(), Omega=-D.T @ D, D=D, thresholds=0.5 * np.sum(D ** 2, 0)), run / "network.npz")
    write_manifest(run, "train")
    out = tmp_path / "q"
    cpu0 = _children_cpu_s()
    p = subprocess.run([sys.executable, "-m", "neuromorph.cli", "quantize", str(run), "--target", "xylo-audio-v2",
                        "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    # CPU seconds of the child, process start and imports included (≈ 1.8 s here), not wall time:
    # wall time reached 17 s with other jobs on the 2 cores; the check itself is timed in process below
    assert _children_cpu_s() - cpu0 < 10.0
    assert p.returncode == 2 and not out.exists()
    assert p.stderr.count("\n") == 1 and "fan-out 200" in p.stderr and "Traceback" not in p.stderr
    p = subprocess.run([sys.executable, "-m", "neuromorph.cli", "train", "--out", str(tmp_path / "t"), "--target",
                        "xylo-audio-v2", "--max-fanout", "65", "--no-progress"], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 2 and not (tmp_path / "t").exists() and "fan-out 65" in p.stderr
    t0 = time.perf_counter()
    with pytest.raises(ShapeFitError, match="over by 136"):
        preflight(load_target("xylo-audio-v2"), 200, 2)
    assert time.perf_counter() - t0 < 0.5  # shapes only: no simulation, no mapping


def test_relay_deployment_quantizes_and_verifies(tmp_path):
    """Above 128 neurons on Xylo IMU the chip records 2M input relays, N coding neurons and 2M
    output relays: quantize and verify decode the coding neurons' spikes (regression: the whole
    hidden raster was multiplied with the N-column decoder)."""
    from neuromorph.stages.quantize import quantize_run
    from neuromorph.stages.verify import verify

    run = tmp_path / "run"
    run.mkdir()
    save_network(unit_scn(136, 2), run / "network.npz")
    write_manifest(run, "train")
    rep = quantize_run(run, "xylo-imu", tmp_path / "q", adapt=False, test_steps=1500, warn=None)
    assert rep["fit_check"]["ok"]
    v = verify(tmp_path / "q", tmp_path / "v", test_steps=1500, warn=None)
    assert v["emulator_matches_xylosim"] is True
    assert np.isfinite(v["error_emulated_spike_decoded"]) and np.isfinite(v["rate_emulated_hz"])


# ------------------------------------------------------------- full-size deployments (slow)
def _signal2(path: Path) -> Path:
    """The 2-channel signal of the measured table in docs/your_own_data.md (60 s at 1 ms)."""
    from scipy.ndimage import gaussian_filter1d

    np.save(path, gaussian_filter1d(np.random.default_rng(0).standard_normal((60000, 2)), 40, axis=0) * 5 + 2)
    return path


def _deploy(tmp_path: Path, sig: Path, target: str, n: int, quantize_args: tuple = ()) -> tuple:
    """train --target (mask from the chip's limits), quantize (defaults unless ``quantize_args``),
    verify on the held-out part, through the command line.  Returns (metrics, quantization, verify)
    dicts."""
    import json

    run, q, v = (tmp_path / f"{k}-{target}-{n}" for k in ("r", "q", "v"))
    for args in (["train", "--data", sig, "--dt", "0.001", "--neurons", n, "--target", target, "--seed", 0,
                  "--out", run, "--no-progress"], ["quantize", run, "--target", target, "--out", q, *quantize_args],
                 ["verify", q, "--out", v]):
        p = subprocess.run([sys.executable, "-m", "neuromorph.cli", *map(str, args)], capture_output=True, text=True,
                           cwd=ROOT)
        assert p.returncode == 0, (args[0], p.stderr[-2000:])
    return tuple(json.loads((d / f).read_text()) for d, f in ((run, "metrics.json"), (q, "quantization.json"),
                                                               (v, "verify.json")))


@pytest.mark.slow
@pytest.mark.parametrize("target, n, fan", [
    ("xylo-audio-v2", 1000, 64), ("xylo-imu", 488, 57),
    pytest.param("xylo-audio-v3", 984, None, marks=pytest.mark.xfail(
        strict=True, reason="chip fidelity (open): the dense 984-neuron relay deployment codes at 0.17 with the "
                            "default quantize (4.7x float 0.036; 0.087 with --adapt-steps 400000; 0.040 before "
                            "the threshold spread), docs/your_own_data.md"))])
def test_full_size_deployment(tmp_path, target, n, fan):
    # measured with the default quantize (docs/your_own_data.md, seed 0, 2 cores): fit, emulator ==
    # XyloSim, no clipping; emulated error 0.0054 / 0.0137 / 0.17 next to float 0.24 / 0.096 / 0.036
    # (retrained under chip dynamics where the unretrained chip codes worse than 1.5x float).
    # Bound: emulated <= 2 x float + 0.01, and < 0.1 (it codes the signal).
    m, q, v = _deploy(tmp_path, _signal2(tmp_path / "sig2.npy"), target, n)
    assert m["max_fanout"] == fan
    assert q["fit_check"]["ok"] and v["emulator_matches_xylosim"] is True
    assert v["input_events_clipped_fraction"] <= 1e-3
    assert v["error_emulated"] <= 2 * v["error_float"] + 0.01 and v["error_emulated"] < 0.1, v["error_emulated"]


@pytest.mark.slow
def test_emulated_error_falls_with_n_on_xylo_audio_2(tmp_path):
    # With 400,000 steps of retraining under the chip's dynamics (--adapt-steps 400000): measured
    # emulated error, N = 50 / 200 / 500 (fan-out 64 above 64): 0.0094 / 0.0059 / 0.0038, each step
    # a factor ~0.64.  One seed only (no seed spread measured): the test asks for the two-step fall
    # to be at least 25 % (measured 59 %), and each step not to rise by > 10 %.  The default (auto)
    # does not retrain N = 200, whose masked float network codes at 0.024 and the chip at 1.04x
    # that (measured 0.0082 / 0.025 / 0.011): the float learning under the mask is what limits it
    # (docs/your_own_data.md).
    sig = _signal2(tmp_path / "sig2.npy")
    e = [_deploy(tmp_path, sig, "xylo-audio-v2", n, ("--adapt-steps", "400000"))[2]["error_emulated"]
         for n in (50, 200, 500)]
    assert e[2] < 0.75 * e[0], e
    assert e[1] < 1.1 * e[0] and e[2] < 1.1 * e[1], e
