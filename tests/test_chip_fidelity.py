"""On the chip as good as in float (issue 13): the chip step, the threshold spread that replaces
the missing spike arbiter, the read-out fitted on the chip's spikes, and the measured gap.

Measured (docs/chip_fidelity.md, emulated Xylo Audio 2, default quantize, verify on the built-in
white noise): Fig 2 full protocol, seeds 0/1/2: error ratio chip/float 1.23/1.12/1.09, rate ratio
1.36/1.36/1.36; Fig 2 after 1,000 iterations, seeds 0/1/2: 1.65/1.46/1.45 and 1.38/1.36/1.34.
Before this work (inhibition-only retraining, float-fitted read-out): 1.7x error at 2.4x rate
(full protocol) and 2.9x at 2.3x (1,000 iterations) — the bounds below fail on that.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from neuromorph.cli import main
from neuromorph.quant.chip_step import at_chip_step, downsample, resolve_chip_step, upsample
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
    """Fig 2 after 1,000 iterations on Xylo Audio 2, unretrained (``--adapt-steps 0``: the
    threshold spread and the chip-fitted read-out alone): seeds 0–2 measured error ratio
    1.65/1.46/1.45 (mean 1.52, sd 0.11), rate ratio 1.38/1.36/1.34 (sd 0.02); bounds at mean +
    ~3.5 sd (error) and + ~7 sd (rate): 1.9 and 1.5.  Before: 2.9x and 2.3x."""
    _, v = _quantize_verify(fig2_1k, tmp_path, "--adapt-steps", "0", xylosim=False)  # XyloSim: the k = 2 test
    fid = v["chip_vs_float"]
    assert fid["error_ratio"] <= 1.9, fid
    assert fid["rate_ratio"] <= 1.5, fid
    assert fid["error_ratio"] == pytest.approx(v["error_emulated"] / v["error_float"])
    assert fid["rate_ratio"] == pytest.approx(v["rate_emulated_hz"] / v["rate_float_hz"])
    # the 1.5x flag: this error ratio is above it, and the report says so
    report = (tmp_path / "v" / "report.md").read_text()
    assert ("**WARNING:** chip coding error" in report) == (fid["error_ratio"] > 1.5)
    assert "chip/float: error" in report


def test_auto_retrains_only_where_the_unretrained_chip_codes_worse(fig2_1k, tmp_path):
    """The default (``adapt_steps`` auto): this network's unretrained chip codes at 1.65x float on
    the calibration signal (above the 1.5x flag), so quantize retrains 200,000 steps under the
    chip's dynamics and keeps it because the error falls (measured 0.91x at 2.33x the rate, seed
    0).  Bound: the kept error ratio below the flag and below the unretrained one."""
    q, v = _quantize_verify(fig2_1k, tmp_path, xylosim=False)
    pol = q["adapt_policy"]
    assert pol["mode"] == "auto" and pol["limit"] == 1.5
    assert pol["retrained"] == (pol["without_retraining"]["error_ratio"] > 1.5) is True
    assert q["adapt_steps"] == pol["with_retraining"]["steps"] == 200_000
    assert pol["with_retraining"]["error_ratio"] < pol["without_retraining"]["error_ratio"]
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


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fig2_full_protocol_on_xylo_audio_2(tmp_path, seed):
    """Full protocol: measured error ratio 1.23/1.12/1.09 (mean 1.15, sd 0.074), rate ratio
    1.36/1.36/1.36; bounds ≈ mean + 4 sd = 1.45 for the error, 1.45 for the rate (rate sd < 0.01,
    the bound leaves room for the leak's dash rounding, which sets the rate: docs/chip_fidelity.md)."""
    run = tmp_path / "run"
    assert main(["reproduce", "fig2", "--seed", str(seed), "--out", str(run), "--no-progress"]) == 0
    _, v = _quantize_verify(run, tmp_path, xylosim=False)
    assert v["chip_vs_float"]["error_ratio"] <= 1.45, v["chip_vs_float"]
    assert v["chip_vs_float"]["rate_ratio"] <= 1.45, v["chip_vs_float"]
