"""Fig 3 (five neurons, two signals): uncorrelated vs correlated inputs on shortened runs.

What is asserted (margins from 6 seeds at 1.5·10^6 steps, see the module docstring of
``neuromorph.experiments.fig3``): with independent inputs F spreads evenly (mean cos² to any
axis = 0.5 for 5 evenly spaced directions) and D = Fᵀ; with correlated inputs and the plain
(Fig 2) FF rule the F directions crowd on the high-variance axis (cos² 0.85–0.98); with the
correlated-input rule (S1 §12) the *decoders* sit closer to the high-variance axis than F
(D 0.52–0.76 vs F 0.17–0.36), D ≠ Fᵀ (corr 0.54–0.64) and Ω matches −F D far better than
−F Fᵀ (distance 0.001–0.17 vs 0.31–0.52; the Fig 5 signature).
"""
import numpy as np
import pytest

from neuromorph.experiments import fig3


@pytest.fixture(scope="module")
def sigma2():
    return fig3.signal_variance(1)


def _train_eval(cond, seed, sigma2, iterations=1500):
    net0, res, cov, _ = fig3.train(cond, seed, iterations, sigma2_x=sigma2)
    axis = fig3.high_variance_axis(fig3.input_cov("correlated"))
    ev0 = fig3.evaluate_condition(net0, cov, 9, decoder_steps=30_000, n_trials=3)
    ev = fig3.evaluate_condition(res.network, cov, 9, decoder_steps=30_000, n_trials=3)
    return ev0, ev, fig3.structure(res.network, ev["D"], axis)


@pytest.mark.parametrize("seed", [0, 3])
def test_correlated_inputs_reshape_the_code(seed, sigma2):
    e0u, eu, unc = _train_eval("uncorrelated", seed, sigma2)
    _, ec, cor = _train_eval("correlated", seed, sigma2)
    _, ep, plain = _train_eval("correlated_plain_rule", seed, sigma2)
    # independent inputs: evenly spread F, D = F^T, Omega = -F F^T; error falls
    assert abs(unc["F_alignment"] - 0.5) < 0.05
    assert unc["corr_D_Ft"] > 0.99 and unc["omega_distance_to_minus_FFt"] < 0.01
    # 0.7 is the claim "error falls" (by 30 %); its seed spread is not measured here (justified
    # by the claim only; the other margins come from the 6 seeds of the module docstring)
    assert eu["error"] < 0.7 * e0u["error"]
    # correlated inputs, same (plain) rule: F crowds on the high-variance axis
    assert plain["F_alignment"] > unc["F_alignment"] + 0.2
    # correlated-input rule: decoders lean to the high-variance axis more than F does
    # (F ∝ Cov⁻¹·D at its fixed point), D != F^T, Omega = -F D rather than -F F^T
    assert cor["D_alignment"] > cor["F_alignment"] + 0.1
    assert cor["F_alignment"] < unc["F_alignment"] - 0.05
    assert cor["corr_D_Ft"] < 0.8 and cor["mean_angle_F_D_deg"] > 15
    assert cor["omega_distance_to_minus_FD"] < cor["omega_distance_to_minus_FFt"] / 3
    for ev in (eu, ec, ep):
        assert ev["error"] < 0.02 and 20 < ev["rate_hz"] < 100


def test_run_writes_metrics_and_figures(tmp_path):
    m = fig3.run(tmp_path, seed=1, iterations=300, quick=True, progress=False)
    assert m["steps"] == 300_000
    s = m["summary"]
    assert set(s["F_alignment"]) == set(fig3.CONDITIONS)
    assert s["D_differs_from_Ft_correlated"] and s["omega_closer_to_minus_FD_than_minus_FFt_correlated"]
    for cond in fig3.CONDITIONS:
        c = m["conditions"][cond]
        assert np.isfinite(c["error_after"]) and c["rate_after_hz"] > 0
        assert len(c["after"]["F_angles_deg"]) == 5 and np.isfinite(c["after"]["tuning_peak_alignment"])
        assert (tmp_path / f"network_{cond}.npz").is_file()
    for name in ("weights_arrangement", "tuning_curves", "recurrent_structure", "alignment_over_learning"):
        assert (tmp_path / f"{name}.png").stat().st_size > 5000


def test_bad_condition_raises():
    with pytest.raises(ValueError, match="condition"):
        fig3.train("anticorrelated", 0, 1)
