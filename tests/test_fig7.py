"""Fig 7 (robustness): network size vs an equivalent Poisson population, missing connections,
noise and synaptic delay — on the shortened ``quick`` protocol of
:mod:`neuromorph.experiments.fig7` (60 s of learning per network, 8 × 1 s evaluation trials).

What is asserted, with margins from seeds 0–3 of the quick protocol: the coding error falls
from N_I = 10 to 40 (asserted ≥ 25 %; seen 50–70 %); the learnt network's error is below 0.8×
(sizes) / 0.9× (sparsities) that of the rate-matched Poisson population (seen 0.24–0.65 and
0.35–0.78); removing 80 % of the connections raises the error (asserted ≥ 15 %; seen 37–72 %);
noise of ν = 10 Hz changes the undelayed networks' error by < 30 % (seen −19 % … +3 %); alpha
PSCs whose PSP peaks 4 ms after the spike raise the error by ≥ 20 % at both noise levels (seen
37–143 % on seeds 0–2, N_I = 40) and learning never diverges.
The full-size run (``-m slow``) checks the same statements on 4 sizes, 5 sparsities and
4 noise levels × 5 delays.
"""
import json

import numpy as np
import pytest

from neuromorph.experiments import fig7


# ---------------------------------------------------------------------------------------------
# building blocks


def test_noise_measure_round_trip_and_reference_level():
    # the Fig 4 code's evaluation noise (0.001 per 0.1 ms step) is nu = 1 Hz: exactly
    # 0.001 / sqrt(1 - 0.995²) · 50 / 0.5 = 1.00125 Hz, so rel=3e-3 covers the 1.25e-3 of the
    # discrete-time stationary sd against the round 1 Hz
    assert fig7.noise_hz_of_step(0.001) == pytest.approx(1.0, rel=3e-3)
    for nu in (0.5, 3.0, 20.0):
        assert fig7.noise_hz_of_step(fig7.noise_step(nu)) == pytest.approx(nu)
    # noise alone: silent at low levels, firing grows steeply with nu
    assert fig7.noise_only_rate(5.0, 0, n=50, seconds=1.0) == 0.0
    assert fig7.noise_only_rate(40.0, 0, n=50, seconds=1.0) > 5.0


def test_connection_masks_remove_exact_fraction_and_keep_self_resets():
    m = fig7.connection_masks(40, 20, 0.75, np.random.default_rng(0))
    for name, mask in m.items():
        square = mask.shape[0] == mask.shape[1] and name in ("W_EE", "W_II")
        n_pot = mask.size - (mask.shape[0] if square else 0)
        n_off = np.count_nonzero(~mask)
        assert n_off == round(0.75 * n_pot), name
        if square:
            assert np.all(np.diag(mask))
    assert fig7.connection_masks(40, 20, 0.0, np.random.default_rng(0)) is None
    with pytest.raises(ValueError):
        fig7.connection_masks(40, 20, 1.0, np.random.default_rng(0))


def test_thinning_one_pathway_removes_the_same_connections_as_thinning_all():
    allm = fig7.connection_masks(40, 20, 0.5, np.random.default_rng(7))
    for pw in fig7.PATHWAYS:
        one = fig7.connection_masks(40, 20, 0.5, np.random.default_rng(7), pathways=pw)
        for name in fig7.PATHWAYS:
            if name == pw:
                assert np.array_equal(one[name], allm[name]), name
            else:
                assert one[name].all(), name
    two = fig7.connection_masks(40, 20, 0.5, np.random.default_rng(7), pathways="W_IE, W_II")
    assert not two["W_IE"].all() and not two["W_II"].all() and two["W_EE"].all() and two["W_EI"].all()
    with pytest.raises(ValueError, match="pathways"):
        fig7.connection_masks(40, 20, 0.5, np.random.default_rng(7), pathways="W_XY")
    with pytest.raises(ValueError, match="pathways"):
        fig7.point({"pathways": ["I->I"]}, 0)
    # thinning only I->I keeps the reference's E->I start (only a thinned E->I needs a new one)
    ref, _ = fig7.ei_network(10, 1)
    net, masks = fig7.ei_network(10, 1, removed=0.5, pathways="W_II")
    assert np.array_equal(net.W_EI, ref.W_EI) and masks["W_EI"].all()


def test_masked_learning_keeps_removed_connections_at_zero_and_dale():
    net, masks = fig7.ei_network(10, 3, removed=0.6)
    res = fig7.train_ei(net, 30_000, 3, masks=masks)
    n = res.network
    for name, mask in masks.items():
        assert np.all(getattr(n, name)[~mask] == 0.0), name
    assert np.count_nonzero(n.W_IE) > 0.2 * n.W_IE.size  # learning did build inhibition
    off = ~np.eye(n.n_exc, dtype=bool)
    assert np.all(n.W_EE[off] >= 0) and np.all(n.W_EI >= 0) and np.all(n.W_IE <= 0) and np.all(n.W_II <= 0)
    assert np.allclose(np.diag(n.W_EE), fig7.PARAMS["e_self_reset"])


def test_delay_is_the_time_to_peak_of_the_psp():
    # continuous time: the alpha current's PSP on the 20 ms membrane peaks at d
    for d in (0.5, 1.0, 2.0, 4.0):
        tau = fig7.alpha_tau_for_delay(d)
        assert fig7.psp_peak_ms(tau) == pytest.approx(d, rel=1e-8)
        # the PSC peaks (at tau) well before the PSP: tau/d = 0.128 / 0.145 / 0.168 / 0.200 for
        # d = 0.5 / 1 / 2 / 4 ms (deterministic); the bounds are the claim "well before", kept
        assert 0.05 * d < tau * 1e3 < 0.25 * d
    # the closed form against a brute-force integration (1 us steps) of the membrane equation,
    # including tau = 1/lam where the closed form's k vanishes
    for tau in (1e-4, 5e-4, 0.02):
        h = 1e-6
        t = np.arange(0.0, 0.2, h)
        cur = t / tau ** 2 * np.exp(-t / tau)
        v = np.zeros_like(t)
        for i in range(1, t.size):
            v[i] = v[i - 1] + h * (cur[i - 1] - 50.0 * v[i - 1])
        assert fig7.psp_peak_ms(tau) == pytest.approx(1e3 * t[np.argmax(v)], abs=2e-3)
    assert fig7.alpha_tau_for_delay(0.0) == 0.0
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="delay_ms"):
            fig7.alpha_tau_for_delay(bad)
    # the discrete kernels the simulators use: unit charge, and the PSP peaks within a step of d
    for d in (0.5, 1.0, 2.0, 4.0):
        t, k, psp = fig7.psc_kernel(d)
        assert k.sum() * (t[1] - t[0]) == pytest.approx(1.0, abs=1e-3)
        assert abs(t[np.argmax(psp)] - d) <= 0.1 + 1e-9
        assert t[np.argmax(k)] < 0.5 * d


def test_rate_calibration_reaches_target():
    net, _ = fig7.ei_network(10, 1)
    res = fig7.train_ei(net, 200_000, 1)
    amp, rate, ok = fig7.calibrate_amplitude(fig7.ei_simulator(res.network), 100.0, 5.0, 2)
    # rel=0.2 is calibrate_amplitude's own definition of "reached" (within 20 % of the target),
    # so this checks that ``ok`` and the returned rate agree
    assert ok and rate == pytest.approx(5.0, rel=0.2)
    assert amp > 100.0


def test_point_rejects_bad_parameters():
    with pytest.raises(ValueError, match="unknown parameter"):
        fig7.point({"sizee": 3}, 0)
    with pytest.raises(ValueError, match="delay_ms"):
        fig7.point({"model": "ei", "delay_ms": -1.0}, 0)
    with pytest.raises(ValueError, match="EI model only"):
        fig7.point({"model": "scn", "removed": 0.5}, 0)


def test_point_returns_scalar_metrics():
    m = fig7.point({"n_inh": 10, "learn_s": 5.0, "trials": 2, "eval_s": 0.5}, 4)
    for k in ("error_E", "error_I", "poisson_error_E", "rate_E_hz", "rate_I_hz", "amplitude", "burst_fraction"):
        assert np.isscalar(m[k]) and np.isfinite(m[k]), k
    json.dumps(m)


def test_study_file_and_tiny_study_run(tmp_path):
    from pathlib import Path

    import neuromorph
    from neuromorph.stages import study as st

    s = st.load_study(Path(neuromorph.__file__).parent / "studies" / "fig7.yaml")
    assert s.kind == "fig7" and len(s.tasks()) == 60
    tiny = {"name": "fig7-tiny", "kind": "fig7", "base": {"learn_s": 2.0, "trials": 2, "eval_s": 0.3, "n_inh": 5},
            "sweep": {"removed": [0.0, 0.5]}, "repetitions": 1, "metric": "error_E"}
    df = st.run_study(tiny, tmp_path, scheduler="synchronous", progress=False)
    assert (df["status"] == "ok").all() and len(df) == 2
    assert np.isfinite(df["error_E"]).all() and np.isfinite(df["poisson_error_E"]).all()


# ---------------------------------------------------------------------------------------------
# the effects, from one quick run


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("fig7")
    return fig7.run(out, seed=0, quick=True, progress=False), out


def test_parallel_workers_give_the_serial_results(quick, tmp_path):
    m, _ = quick
    par = fig7.run(tmp_path, seed=0, quick=True, progress=False, workers=2)
    drop = ("train_wall_s", "eval_wall_s")  # timings only
    strip = lambda t: {p: [{k: v for k, v in r.items() if not k.startswith(drop)} for r in rows]  # noqa: E731
                       for p, rows in t.items()}
    assert strip(par["panels"]) == strip(m["panels"])
    assert par["checks"] == m["checks"]


# Seed-to-seed spread of the quick-run quantities the tests below bound (measured, seeds 0-2;
# the fixture runs seed 0, listed first):
#   E rate over all rows (Hz):                   4.25-5.03, 4.46-5.09, 4.31-4.83  (bound 3.5-7)
#   A: error n_inh 40 / n_inh 10:                0.41, 0.36, 0.50                 (bound < 0.75)
#   A, B: max error / Poisson error:             0.53/0.56, 0.65/0.54, 0.58/0.78  (bounds < 0.8, < 0.9)
#   A: max |Poisson rate / rate - 1|:            0.097, 0.084, 0.037              (bound rel=0.1)
#   B: error 80 % removed / complete:            1.37, 1.65, 1.58                 (bound > 1.15)
#   B: signal variance 80 % removed / complete:  0.61, 0.65, 0.63                 (bound < 0.8)
#   MSE / (error x signal variance), max:        1.039, 1.020, 1.014              (bound <= 1.5)
#   C: error at 10 Hz / 1 Hz noise, no delay:    0.85, 0.81, 0.88                 (bound < 1.3)
#   C: error 4 ms delay / none, min over noise:  1.44, 1.42, 1.37                 (bound > 1.2)
# The factors are the paper's qualitative claims (learnt beats Poisson, removal and delay hurt,
# low noise is negligible) with a margin outside this spread.  The Poisson-rate match (rel=0.1)
# is the tight one (4-10 % measured, Poisson draws from the smoothed PSTH of a short test): it
# holds at the fixture's seed 0 (9.7 %) but is not a seed-robust margin.


def test_quick_run_writes_figure_and_json(quick):
    m, out = quick
    assert (out / "fig7_robustness.png").stat().st_size > 10_000
    json.dumps(m, default=float)
    for panel in ("A", "B", "C"):
        assert m["panels"][panel], panel
        for row in m["panels"][panel]:
            assert row["rate_target_reached_all"], row
            assert 3.5 < row["rate_E_hz"] < 7.0, row  # E rate matched to 5 Hz


def test_error_falls_with_size_and_beats_poisson(quick):
    m, _ = quick
    A = {r["n_inh"]: r for r in m["panels"]["A"]}
    assert A[40]["error_E"] < 0.75 * A[10]["error_E"]
    for r in A.values():
        assert r["error_E"] < 0.8 * r["poisson_error_E"]
        # "equivalent" Poisson: same mean rates
        assert r["poisson_rate_E_hz"] == pytest.approx(r["rate_E_hz"], rel=0.1)
    assert m["checks"]["A_error_falls_with_size"] and m["checks"]["A_learnt_beats_poisson_every_size"]


def test_missing_connections_raise_error_but_stay_below_poisson(quick):
    m, _ = quick
    B = {r["removed"]: r for r in m["panels"]["B"]}
    assert B[0.8]["error_E"] > 1.15 * B[0.0]["error_E"]
    for r in B.values():
        assert r["error_E"] < 0.9 * r["poisson_error_E"]


def test_paper_mse_and_the_signal_variance_behind_it(quick):
    m, _ = quick
    for panel in ("A", "B", "C"):
        for r in m["panels"][panel]:
            # MSE = Var(error) + bias² >= normalised error × signal variance; the least-squares
            # decoder leaves only the small bias of a 1 s test signal's nonzero mean
            floor = r["error_E"] * r["signal_var"]
            assert floor * (1 - 1e-9) <= r["mse_E"] <= 1.5 * floor, r
            assert r["mse_E"] < r["poisson_mse_E"], r
    B = {r["removed"]: r for r in m["panels"]["B"]}
    # holding the E rate at 5 Hz in the sparser network takes a weaker signal ...
    assert B[0.8]["signal_var"] < 0.8 * B[0.0]["signal_var"]
    # ... so its MSE rises less than its normalised error
    assert B[0.8]["mse_E"] / B[0.0]["mse_E"] < B[0.8]["error_E"] / B[0.0]["error_E"]
    assert m["checks"]["A_learnt_beats_poisson_mse_every_size"]
    assert m["checks"]["B_learnt_beats_poisson_mse_all_sparsities_n_inh_20"]


def test_learnt_dale_network_silences_opposite_tuned_connections(quick):
    m, _ = quick
    for r in m["panels"]["A"]:
        # under Dale's law an E->E or I->E weight between oppositely tuned neurons would have to
        # change sign, so learning leaves about half of them silent; E->I and I->I stay dense
        assert 0.3 < r["silent_fraction_W_IE"] < 0.7 and 0.3 < r["silent_fraction_W_EE"] < 0.7, r
        assert r["silent_fraction_W_EI"] < 0.1 and r["silent_fraction_W_II"] < 0.1, r


def test_silent_fractions_count_only_allowed_connections():
    net, masks = fig7.ei_network(5, 0, removed=0.5)
    W = {k: np.abs(getattr(net, k)) for k in fig7.PATHWAYS}
    f = fig7.silent_fractions(net, masks)
    for k in fig7.PATHWAYS:
        allowed = masks[k].copy()
        if k in ("W_EE", "W_II"):
            np.fill_diagonal(allowed, False)
        w = W[k][allowed]
        # an all-zero pathway (the initial E->E) is entirely silent
        assert f[k] == pytest.approx(np.mean(w < 0.01 * w.max()) if w.max() > 0 else 1.0), k
    net.W_IE[:] = 0.0
    assert fig7.silent_fractions(net)["W_IE"] == 1.0


def test_noise_negligible_and_delay_degrades(quick):
    m, _ = quick
    e = {(r["delay_ms"], r["noise_hz"]): r["error_E"] for r in m["panels"]["C"]}
    assert e[(0.0, 10.0)] < 1.3 * e[(0.0, 1.0)]
    for nz in (1.0, 10.0):
        assert e[(4.0, nz)] > 1.2 * e[(0.0, nz)]
    assert m["checks"]["C_learning_never_diverged"]
    assert all(r["syn_tau_ms"] == pytest.approx(1e3 * fig7.alpha_tau_for_delay(r["delay_ms"]))
               for r in m["panels"]["C"])


# ---------------------------------------------------------------------------------------------
# full size


@pytest.mark.slow
def test_full_fig7(tmp_path):
    m = fig7.run(tmp_path, seed=0, progress=False)
    c = m["checks"]
    assert c["A_error_falls_with_size"] and c["A_learnt_beats_poisson_every_size"]
    for n in (20, 40):
        assert c[f"B_learnt_beats_poisson_all_sparsities_n_inh_{n}"]
        assert c[f"B_drastic_removal_hurts_n_inh_{n}"]
        # in the paper's measure (MSE at the rate-matched signal) the learnt network also wins
        # everywhere, and removing 95 % of the connections costs far less than the normalised
        # error says, because holding 5 Hz then takes a weaker signal
        assert c[f"B_learnt_beats_poisson_mse_all_sparsities_n_inh_{n}"]
        s = m["summary"]
        assert s[f"B_signal_var_ratio_vs_complete_n_inh_{n}"]["0.95"] < 0.7
        assert s[f"B_mse_ratio_vs_complete_n_inh_{n}"]["0.95"] < 0.6 * s[f"B_error_ratio_vs_complete_n_inh_{n}"]["0.95"]
    assert c["C_low_noise_negligible_no_delay"] and c["C_longest_delay_worse_than_none"]
    # delays up to 1 ms (PSP time to peak) cost < 50 % and still beat the Poisson population;
    # learning adapts to every delay (measured, seed 0: d = 0.5 / 1 / 2 / 4 ms -> 1.37 / 1.15 /
    # 2.4 / 4.9x the undelayed error at 1 Hz noise, 1.0 / 0.98 / 1.6 / 2.8x at 10 Hz)
    assert c["C_short_delays_within_50pct"] and c["C_short_delays_beat_poisson"] and c["C_learning_never_diverged"]
    assert m["summary"]["B_most_sensitive_pathway_removed_0.5"] in ("W_IE", "W_II")
    assert c["B_larger_network_lower_error_at_every_sparsity"] and c["B_learnt_beats_poisson_all_sparsities_n_inh_80"]
