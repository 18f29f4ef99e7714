"""The science of Fig 2 on shortened and full runs.

Margins follow docs/authors_code.md (§8 A1/A2, measured over 6 seeds with the authors' code):
after 2^16 steps from the code's initial condition the error has dropped ≥ 10× and is < 0.008,
the rate is 17–23 Hz, Var(V) has fallen ≥ 50× and the distance of Ω to −FFᵀ is < 0.06.
"""
import pytest

from neuromorph.sim.evaluation import EvalProtocol, evaluate
from neuromorph.experiments import fig2
from neuromorph.metrics import predicted_recurrent, weight_distance
from neuromorph.network import SCN


def _eval(net0, F, Om, seed):
    n = SCN(F=F, Omega=Om, D=net0.D, thresholds=net0.thresholds)
    return evaluate(n, seed, EvalProtocol(n_trials=5))


@pytest.mark.parametrize("seed", [1, 2])
def test_short_run_code_init_matches_reference_margins(seed):
    net0, res = fig2.train(seed, iterations=66, init="code", progress=False)
    snaps = {s: (F, Om) for s, F, Om in res.snapshots}
    before = _eval(net0, *snaps[2], seed)
    after = _eval(net0, *snaps[2**16], seed)
    assert after["error"] < before["error"] / 10
    assert after["error"] < 0.008
    assert 17 <= after["rate_hz"] <= 23
    assert after["v_var"] < before["v_var"] / 50
    F, Om = snaps[2**16]
    assert weight_distance(Om, predicted_recurrent(F)) < 0.06
    assert weight_distance(Om, predicted_recurrent(F)) < weight_distance(snaps[2][1], predicted_recurrent(snaps[2][0])) / 10


def test_full_protocol_acceptance(tmp_path):
    """The issue's acceptance on the full 14,000 x 1,000-step protocol (about 10 s here)."""
    m = fig2.run(tmp_path, seed=3, progress=False)
    assert m["steps"] == 14_000_000
    assert m["error_after"] <= 0.01
    assert m["error_after"] <= m["error_before"] / 10
    assert m["rate_after_hz"] <= m["rate_before_hz"] / 2
    assert m["weight_distance"] <= 1e-3
    # learnt structure (reference A2): D ∝ F, Ω ∝ −FFᵀ, F directions spread over the circle
    assert m["decoder_corr_with_F"] > 0.99
    assert m["omega_offdiag_corr_with_minus_FFt"] > 0.999
    # "spread over the circle": 20 evenly spaced directions leave 18° gaps; the claim allows the
    # largest gap 1.5 such spacings (a gap of 2 spacings would be a missing neuron); measured
    # with seed 0 on this protocol: 20.0° (bound 27°)
    assert m["max_angular_gap_deg"] < 1.5 * 360 / 20
    # paper storyline: F starts lopsided (no neuron codes +x1) and ends with neurons on both sides
    assert m["neurons_with_positive_F1"] >= 5
    for name in ("learning_curves", "feedforward_weights", "recurrent_vs_optimal", "reconstruction_and_rasters",
                 "tuning_curves"):
        assert (tmp_path / f"{name}.png").stat().st_size > 5000
    curve = m["learning_curve"]
    assert len(curve["error"]) == 24 and curve["time_s"][-1] == 14000.0


def test_lopsided_start_leaves_half_space_unrepresented():
    """Paper Fig 2C: after recurrent learning alone (first ~60 s) the error plateaus far above
    its final value because no neuron codes the positive x1 half-space."""
    net0, res = fig2.train(5, iterations=40, init="paper", progress=False)
    F, Om = res.network.F, res.network.Omega
    assert (F[:, 0] <= 0.05).all()
    e = _eval(net0, F, Om, 5)
    assert e["error"] > 0.05  # final error is ~0.005 (test_full_protocol_acceptance)
