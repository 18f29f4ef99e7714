"""On the chip as good as in float (issue 13): the chip step, the threshold spread that replaces
the missing spike arbiter, the read-out fitted on the chip's spikes, and the measured gap.

Measured (docs/chip_fidelity.md, emulated Xylo Audio 2, default quantize, verify on the built-in
white noise): Fig 2 full protocol, seeds 0/1/2: error ratio chip/float 0.79/0.75/0.70, rate ratio
1.12/1.12/1.12; Fig 2 after 1,000 iterations, seeds 0/1/2: 1.18/1.18/1.17 and 1.14/1.13/1.10.
Before the drive choice (the chip driven at its own leak): 1.23/1.12/1.09 at 1.36x (full) and
1.65/1.46/1.45 at 1.36x (1,000 iterations); before that (inhibition-only retraining, float-fitted
read-out) 1.7x at 2.4x and 2.9x at 2.3x — the bounds below fail on both.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from neuromorph.cli import main
from neuromorph.quant.chip_step import (at_chip_step, downsample, rederived_current, rederived_source,
                                        resolve_chip_step, resolve_drive_leak, resolve_leak_dash, upsample,
                                        with_chip_leak)
from neuromorph.quant.chip_training import neighbour_signs, spread_thresholds


# ------------------------------------------------------------------------------- chip step

def test_chip_step_default_is_the_network_step():
    assert resolve_chip_step(1e-3, 50.0, None, 15) == (1e-3, 1)
    assert resolve_chip_step(1e-3, 50.0, {"weight_bits": 8}, 15) == (1e-3, 1)


def test_chip_step_divides_the_network_step():
    dt, k = resolve_chip_step(1e-3, 50.0, {"dt": 2.5e-4}, 15)
    assert k == 4 and dt == 1e-3 / 4
    dt, k = resolve_chip_step(1e-3, 50.0, {"dt": 1e-3 / 3}, 15)  # 3.333…e-4 typed to any precision
    assert k == 3


@pytest.mark.parametrize("value, needle", [(3e-4, "integer number of chip steps"), (2e-3, "integer number"),
                                           (-1e-3, "> 0 s"), ("fast", "number of seconds"),
                                           (1e-3 / 65, "k = 1..64")])
def test_chip_step_refused_with_the_allowed_values(value, needle):
    with pytest.raises(ValueError, match="dt") as exc:
        resolve_chip_step(1e-3, 50.0, {"dt": value}, 15)
    assert needle in str(exc.value)


def test_chip_step_whose_leak_needs_a_dash_beyond_the_chip_is_refused():
    # τ = 1 s: dash = round(log2(τ/dt)) is 10 at 1 ms, 16 at 1/64 ms > the chip's 15; the last
    # k with log2(1 s · k / 1 ms) < 15.5 is 46 (2^15.5 = 46341)
    with pytest.raises(ValueError, match=r"needs dash 16 .* largest is 15; the finest step allowed is 2.17391e-05 s \(k = 46\)"):
        resolve_chip_step(1e-3, 1.0, {"dt": 1e-3 / 64}, 15)


def test_upsample_carries_each_sample_on_the_last_chip_step():
    x = np.random.default_rng(0).standard_normal((2, 50, 3))
    for k in (1, 2, 5):
        y = upsample(x, k)
        assert y.shape == (2, 50 * k, 3)
        np.testing.assert_array_equal(downsample(y, k), x)
    y = upsample(np.array([[[0.0], [4.0]]]), 4)[0, :, 0]
    np.testing.assert_allclose(y, [0, 0, 0, 0, 1, 2, 3, 4])  # linear from rest


def test_network_at_chip_step_keeps_the_noise_per_second():
    from neuromorph.sim.init import initial_scn

    net = initial_scn(0, "paper", n_neurons=6, n_inputs=2)
    fine = at_chip_step(net, net.dt / 4)
    assert fine.dt == net.dt / 4 and fine.lam == net.lam
    assert fine.v_noise == pytest.approx(net.v_noise / 2) and fine.t_noise == pytest.approx(net.t_noise / 2)
    assert at_chip_step(net, net.dt) is net


# ------------------------------------------------------------------- the chip's leak and drive

def test_rederived_drive_by_hand():
    # c = (100, 0, 0) /s at dt = 1 ms, learnt λ = 50 /s: x = (0.1, 0.095, 0.09025); the chip's leak
    # at dash 4 is λ' = 2^-4 / 1 ms = 62.5 /s, a − a' = 0.95 − 0.9375 = 0.0125, so
    # c'_t = c_t + 0.0125 x_{t−1} / dt = (100, 1.25, 1.1875)
    c = np.array([[100.0], [0.0], [0.0]])
    np.testing.assert_allclose(rederived_current(c, 50.0, 62.5, 1e-3)[:, 0], [100.0, 1.25, 1.1875], rtol=1e-12)
    # and the chip's leaky integral of c' is the learnt network's signal x, sample for sample
    from neuromorph.sim.signals import leaky_integrate

    rng = np.random.default_rng(3)
    c = rng.standard_normal((500, 2)) * 300
    np.testing.assert_allclose(leaky_integrate(rederived_current(c, 50.0, 31.25, 1e-3), 31.25, 1e-3),
                               leaky_integrate(c, 50.0, 1e-3), atol=1e-12)
    # the chunked source form (learn reads its input chunk by chunk) gives the same current
    src = rederived_source(lambda start, n: c[start:start + n], 50.0, 31.25, 1e-3)
    np.testing.assert_allclose(np.vstack([src(0, 123), src(123, 300), src(423, 77)]),
                               rederived_current(c, 50.0, 31.25, 1e-3), atol=1e-9)
    with pytest.raises(RuntimeError, match="in order"):
        src(0, 10)


def test_chip_leak_of_a_dash():
    from neuromorph.sim.init import initial_scn

    net = initial_scn(0, "paper", n_neurons=6, n_inputs=2)
    assert with_chip_leak(net, 5).lam == 2.0 ** -5 / net.dt == 31.25  # τ_chip 32 ms at 1 ms
    np.testing.assert_array_equal(with_chip_leak(net, 5).thresholds, net.thresholds)  # F, Ω, T unchanged


@pytest.mark.parametrize("value, needle", [(0, "must be 1..15"), (16, "must be 1..15"), (4.5, "integer 1..15"),
                                           ("slow", "integer 1..15"), (True, "integer 1..15")])
def test_leak_dash_refused_with_the_range(value, needle):
    with pytest.raises(ValueError, match="leak_dash") as exc:
        resolve_leak_dash(value, 15)
    assert needle in str(exc.value)
    assert resolve_leak_dash(5, 15) == 5 and resolve_leak_dash(5.0, 15) == 5
    assert resolve_drive_leak(None) == "learnt" and resolve_drive_leak("chip") == "chip"
    with pytest.raises(ValueError, match="drive_leak='fast': must be one of learnt, chip"):
        resolve_drive_leak("fast")


def test_old_artifacts_drive_the_chip_at_its_own_leak():
    """A quantized network without ``stats["drive_lam"]`` (before the choice) keeps the drive it
    was built with: the chip's own leak."""
    from dataclasses import replace

    from neuromorph.backends.xylo.deploy import drive_lam, input_drive
    from quantization.mapping import QuantizedSCN  # noqa: F401  (the type the helper reads)

    q = _tiny_quantized()
    old = replace(q, stats={k: v for k, v in q.stats.items() if k != "drive_lam"})
    assert drive_lam(old) == old.lam_chip == 62.5
    new = replace(q, stats=dict(q.stats, drive_lam=50.0))
    x = np.array([[1.0], [1.0], [1.0]])
    # u_t = x_t − (1 − λ_d dt) x_{t−1}: (1, 0.0625, 0.0625) at the chip's leak, (1, 0.05, 0.05) at the learnt
    from neuromorph.backends.xylo.deploy import signal_increments

    np.testing.assert_allclose(signal_increments(x, drive_lam(old), old.dt)[:, 0], [1, 0.0625, 0.0625])
    assert not np.allclose(input_drive(old, x), input_drive(new, x))


def _tiny_quantized():
    from neuromorph.sim.init import initial_scn
    from quantization.hardware import load_target
    from quantization.mapping import map_scn

    net = initial_scn(0, "paper", n_neurons=6, n_inputs=1)
    return map_scn(net.F, net.Omega, net.D, net.thresholds, net.lam, net.dt, load_target("xylo-audio-v2"),
                   input_peak=0.1, v_peak=1.0, x_peak=1.0)


# ------------------------------------------------------------------------- threshold spread

def test_neighbour_signs_alternate_around_a_ring():
    ang = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    rng = np.random.default_rng(1)
    perm = rng.permutation(20)
    F = np.stack([np.cos(ang), np.sin(ang)], 1)[perm]
    s = neighbour_signs(F)
    U = F @ F.T
    np.fill_diagonal(U, -np.inf)
    nearest = U.argmax(1)
    assert np.all(s * s[nearest] == -1)  # every neuron's closest neighbour has the other sign


def test_spread_thresholds_scales_by_one_plus_minus_spread():
    from neuromorph.sim.init import initial_scn

    net = initial_scn(0, "paper", n_neurons=10, n_inputs=2)
    out = spread_thresholds(net, 0.3)
    ratio = out.thresholds / net.thresholds
    np.testing.assert_allclose(np.sort(np.unique(np.round(ratio, 12))), [0.7, 1.3])
    np.testing.assert_array_equal(spread_thresholds(net, 0.0).thresholds, net.thresholds)


# ---------------------------------------------------------------------------- end to end

def _quantize_verify(run, tmp_path, *extra, xylosim=True):
    q, v = tmp_path / "q", tmp_path / "v"
    assert main(["quantize", str(run), "--target", "xylo-audio-v2", "--out", str(q), *extra]) == 0
    assert main(["verify", str(q), "--out", str(v), *([] if xylosim else ["--no-xylosim"])]) == 0
    return json.loads((q / "quantization.json").read_text()), json.loads((v / "verify.json").read_text())


@pytest.fixture(scope="module")
def fig2_1k(tmp_path_factory):
    out = tmp_path_factory.mktemp("fig2") / "run"
    assert main(["reproduce", "fig2", "--iterations", "1000", "--seed", "0", "--out", str(out), "--no-progress"]) == 0
    return out


def test_fig2_small_gap_stays_closed(fig2_1k, tmp_path):
    """Fig 2 after 1,000 iterations on Xylo Audio 2, unretrained (``--adapt-steps 0``; auto does
    not retrain it either): the default drive (the learnt leak's), the threshold spread and the
    chip-fitted read-out.  Seeds 0–2 measured error ratio 1.175/1.184/1.171 (mean 1.177, sd
    0.007), rate ratio 1.135/1.128/1.102 (mean 1.12, sd 0.017); bound 1.3 on both (the issue's
    acceptance; ≥ mean + 10 sd).  Fails on what came before: drive at the chip's leak
    1.65x / 1.38x, before that 2.9x / 2.3x."""
    _, v = _quantize_verify(fig2_1k, tmp_path, "--adapt-steps", "0", xylosim=False)  # XyloSim: the k = 2 test
    fid = v["chip_vs_float"]
    assert fid["error_ratio"] <= 1.3, fid
    assert fid["rate_ratio"] <= 1.3, fid
    assert fid["error_ratio"] == pytest.approx(v["error_emulated"] / v["error_float"])
    assert fid["rate_ratio"] == pytest.approx(v["rate_emulated_hz"] / v["rate_float_hz"])
    # the 1.5x flag: this error ratio is above it, and the report says so
    report = (tmp_path / "v" / "report.md").read_text()
    assert ("**WARNING:** chip coding error" in report) == (fid["error_ratio"] > 1.5)
    assert "chip/float: error" in report


def test_auto_retrains_only_where_the_unretrained_chip_codes_worse(fig2_1k, tmp_path):
    """The default (``adapt_steps`` auto), on a chip this network codes badly unretrained: driven
    at the chip's own leak (``drive_leak=chip``) it codes at 1.6-1.7x float on the calibration
    signal (above the 1.5x flag), so quantize retrains 200,000 steps under the chip's dynamics
    and keeps it because the error falls (before the drive choice, the same run: 0.91x at 2.33x
    the rate, seed 0).  Bound: the kept error ratio below the flag and below the unretrained one.
    (With the default drive this network is not retrained: test_fig2_small_gap_stays_closed.)"""
    q, v = _quantize_verify(fig2_1k, tmp_path, "--set", "drive_leak=chip", xylosim=False)
    pol = q["adapt_policy"]
    assert pol["mode"] == "auto" and pol["limit"] == 1.5
    assert pol["retrained"] == (pol["without_retraining"]["error_ratio"] > 1.5) is True
    # the rule's own spike cost first, then mu 1.5, 0.4, 0.1 while none is within both limits
    from neuromorph.stages.quantize import AUTO_ADAPT_MUS

    tried = pol["with_retraining"]
    assert tried[0]["mu"] is None and all(t["steps"] == 200_000 for t in tried) and q["adapt_steps"] == 200_000
    mus = [t["mu"] for t in tried[1:]]
    assert mus == list(AUTO_ADAPT_MUS[:len(mus)]) and (len(mus) > 0) == (tried[0]["rate_ratio"] > 1.5)
    within = [max(t["error_ratio"], t["rate_ratio"]) <= 1.5 for t in tried[1:]]
    assert not any(within[:-1]) and (within[-1] or len(mus) == len(AUTO_ADAPT_MUS))  # stops at the first
    assert pol["chosen"]["error_ratio"] < pol["without_retraining"]["error_ratio"]
    assert v["chip_vs_float"]["error_ratio"] <= 1.5, v["chip_vs_float"]


def test_chip_step_runs_the_chip_k_times_per_sample(fig2_1k, tmp_path):
    q, v = _quantize_verify(fig2_1k, tmp_path, "--set", "dt=5e-4")
    from neuromorph.backends.xylo.spec import load_spec
    from neuromorph.quant.fakequant import load_quantized

    assert q["chip_step"] == {"dt_s": 5e-4, "network_dt_s": 1e-3, "steps_per_sample": 2}
    assert v["chip_step"]["steps_per_sample"] == 2
    spec = load_spec(tmp_path / "q" / "spec.npz")
    qn = load_quantized(tmp_path / "q")
    assert spec.dt == pytest.approx(5e-4) and qn.dt == pytest.approx(5e-4) and qn.steps_per_sample == 2
    # the leak follows the step: τ = 20 ms is 20 steps at 1 ms (dash 4), 40 at 0.5 ms (dash 5)
    assert int(np.unique(spec.dash_mem)[0]) == 5
    assert v["emulator_matches_xylosim"] is True
    assert np.load(tmp_path / "v" / "decoded_emulated.npy").shape == np.load(tmp_path / "v" / "signal.npy").shape
    assert v["chip_vs_float"]["error_ratio"] < 2.5  # measured 1.3-1.4x at k = 2 on Fig 2


def test_the_artifacts_leak_and_drive_reach_verify(fig2_1k, tmp_path):
    """``--set leak_dash=5 --set drive_leak=chip``: the integer network and the spec carry dash 5
    and the drive's leak, and verify (on the same built-in white noise quantize reports on) drives
    the chip with them: the same emulated error to rounding, not the default's."""
    from neuromorph.backends.xylo.spec import load_spec
    from neuromorph.quant.fakequant import load_quantized

    q, v = _quantize_verify(fig2_1k, tmp_path, "--adapt-steps", "0", "--set", "leak_dash=5",
                            "--set", "drive_leak=chip", xylosim=False)
    qn = load_quantized(tmp_path / "q")
    assert qn.dash_mem == 5 and int(np.unique(load_spec(tmp_path / "q" / "spec.npz").dash_mem)[0]) == 5
    assert qn.stats["drive_lam"] == qn.lam_chip == 31.25 and qn.lam == 50.0
    assert q["chip_leak"] == {"dash": 5, "natural_dash": 4, "lam_chip": 31.25, "tau_chip_ms": 32.0,
                              "lam_learnt": 50.0, "drive_leak": "chip", "lam_drive": 31.25}
    assert v["error_emulated"] == pytest.approx(q["error_emulated"], rel=1e-9)
    assert v["rate_emulated_hz"] == pytest.approx(q["rate_emulated_hz"], rel=1e-9)
    # the output filter was chosen among the candidates on the fit signal: the best one was kept
    of = q["chip_readout"]["output_filter"]
    best = min(of["candidates"], key=lambda r: r["selection_error"])
    assert (of["dash_mem_out"], of["dash_syn_out"]) == (best["dash_mem_out"], best["dash_syn_out"])
    assert qn.dash_mem_out == of["dash_mem_out"] and qn.dash_syn_out == of["dash_syn_out"]


def test_leak_dash_beyond_the_chip_is_refused_before_any_work(fig2_1k, tmp_path, capsys):
    out = tmp_path / "q"
    assert main(["quantize", str(fig2_1k), "--target", "xylo-audio-v2", "--out", str(out),
                 "--set", "leak_dash=16"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("--set leak_dash=16: the chip's membrane dash must be 1..15 (τ_chip = chip step · 2^dash roughly)")
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fig2_full_protocol_on_xylo_audio_2(tmp_path, seed):
    """Full protocol, the default quantize: measured error ratio 0.79/0.75/0.70 (mean 0.75, sd
    0.045), rate ratio 1.12/1.12/1.12 (sd < 0.005; docs/chip_fidelity.md); bounds 1.0 on the
    error (mean + 5.5 sd) and 1.25 on the rate (the issue's acceptance is 1.3 on both).  Fails on
    the drive at the chip's own leak (1.26/1.19/1.06 at 1.36x, the earlier default)."""
    run = tmp_path / "run"
    assert main(["reproduce", "fig2", "--seed", str(seed), "--out", str(run), "--no-progress"]) == 0
    _, v = _quantize_verify(run, tmp_path, xylosim=False)
    assert v["chip_vs_float"]["error_ratio"] <= 1.0, v["chip_vs_float"]
    assert v["chip_vs_float"]["rate_ratio"] <= 1.25, v["chip_vs_float"]


def test_auto_choice_prefers_a_candidate_within_both_limits():
    """Hand cases of the auto policy's pick (index 0: not retrained): the lowest error among the
    candidates within 1.5x on error and rate, else the lowest error."""
    from neuromorph.stages.quantize import _auto_choice

    c = lambda e, r: {"error_ratio": e, "rate_ratio": r}  # noqa: E731
    assert _auto_choice([c(3.8, 1.0), c(0.27, 3.8), c(0.77, 1.25)]) == 2  # the sensor network's case
    assert _auto_choice([c(1.65, 1.4), c(0.91, 2.3), c(4.0, 1.2)]) == 1  # none within both: lowest error
    assert _auto_choice([c(1.65, 1.4), c(2.0, 2.3)]) == 0  # retraining made it worse: not kept
    assert _auto_choice([c(1.6, 1.0), c(1.2, 1.4), c(0.9, 1.45)]) == 2
    assert _auto_choice([c(None, None), c(0.9, 3.0)]) == 1
