"""Fig 8 (lesion of leftward-coding E neurons, retraining with blocked plasticity), shortened.

The quick protocol of :mod:`neuromorph.experiments.fig8` (150 + 100 s pre-training, 300 s
retraining, 8 × 1 s evaluation trials) on seed 0.  Asserted, with margins from seeds 0–3:
the lesion removes the ~¼ of E neurons whose decoders point left (18–22 of 80), raises the E
rate and lowers efficiency (error at the intact network's rate: seen +60 … +360 %);
feed-forward-only retraining is by far the worst (error at equal rate 3–6× that of no
retraining, error at the same input 2.5–6×; on seed 0 its input weights move into the hole:
10 vs 1); recurrent-only and full retraining are both more efficient than no retraining (seen
3–69 % and 11–71 % better; asserted ≥ 10 % for seed 0, where the margins are 26 % and 27 %).
"""
import numpy as np
import pytest

from neuromorph.experiments import fig8
from neuromorph.network import EINetwork


def test_sector_and_directions():
    ang = np.array([0.0, 134.0, 136.0, 180.0, 224.0, 226.0, 359.0])
    assert list(fig8.in_sector(ang, 180.0, 45.0)) == [False, False, True, True, True, False, False]
    assert list(fig8.in_sector(ang, 0.0, 10.0)) == [True, False, False, False, False, False, True]
    D = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    assert np.allclose(fig8.directions_deg(D), [0.0, 90.0, 180.0])


def test_lesion_removes_rows_and_columns():
    from neuromorph.experiments import fig7

    net, _ = fig7.ei_network(5, 0)
    net.W_EE = np.arange(100.0).reshape(10, 10)
    keep = np.ones(10, bool)
    keep[[2, 7]] = False
    les = fig8.lesion(net, keep)
    assert isinstance(les, EINetwork) and les.n_exc == 8 and les.n_inh == 5
    assert np.array_equal(les.W_EE, net.W_EE[np.ix_(keep, keep)])
    assert np.array_equal(les.W_EI, net.W_EI[:, keep]) and np.array_equal(les.W_IE, net.W_IE[keep])
    assert les.meta["lesioned_E"] == 2


def test_condition_rules_switch_the_right_pathways():
    assert fig8.condition_rules("none") is None
    f = fig8.condition_rules("full")
    assert all((f.ff_XE, f.ff_EI, f.rec_EE, f.rec_IE, f.rec_II))
    r = fig8.condition_rules("recurrent_only")
    assert not r.ff_XE and all((r.ff_EI, r.rec_EE, r.rec_IE, r.rec_II))
    ff = fig8.condition_rules("feedforward_only")
    assert ff.ff_XE and not any((ff.ff_EI, ff.rec_EE, ff.rec_IE, ff.rec_II))
    assert f.lr_ff < f.lr_rec  # feed-forward plasticity slower than recurrent
    with pytest.raises(ValueError):
        fig8.condition_rules("everything")


@pytest.fixture(scope="module")
def quick():
    p = dict(fig8.PARAMS)
    p.update(fig8.QUICK)
    return fig8.experiment(0, pretrain_fast_s=p["pretrain_fast_s"], pretrain_s=p["pretrain_s"],
                           retrain_s=p["retrain_s"], trials=p["eval_trials"], steps=p["eval_steps"], control=False)


# Seed-to-seed spread of the quick-protocol ratios these tests bound (measured, seeds 0-3;
# the fixture runs seed 0, listed first):
#   none / intact, error at the intact rate:    1.92, 1.62, 1.81, 4.63   (bound > 1.2)
#   hole / elsewhere tuning error (none):       3.65, 2.49, 1.96, 2.48   (bound > 1.5)
#   feed-forward only / none, error:            6.02, 6.23, 2.54, 3.90   (bound > 1.5)
#   feed-forward only / none, at matched rate:  6.23, 4.06, 4.11, 3.16   (bound > 2.0)
#   recurrent only / none, at matched rate:     0.74, 0.76, 0.96, 0.31   (bound < 0.9)
#   full / none, at matched rate:               0.73, 0.89, 0.71, 0.29   (bound < 0.9)
# The factors are the paper's qualitative claims with a margin; all hold for every measured seed
# except recurrent-only at seed 2 (0.96): on one seed that ordering is not guaranteed, which is
# why test_full_fig8 asks for it over 10 seeds (paired CI, >= 7 of 10 wins) and the quick test
# pins seed 0.


def test_lesion_hits_leftward_quarter_and_costs_efficiency(quick):
    m = quick["metrics"]
    assert 14 <= quick["n_lesioned"] <= 26
    assert m["none"]["n_exc"] == 80 - quick["n_lesioned"]
    assert m["intact"]["decoders_in_hole"] >= quick["n_lesioned"] - 1
    assert m["none"]["rate_E_hz"] > m["intact"]["rate_E_hz"]
    assert m["none"]["error_E_matched_rate"] > 1.2 * m["intact"]["error_E_matched_rate"]
    # the static code has a hole: stimuli in the lesioned sector are decoded worse than elsewhere
    assert m["none"]["tuning_error_hole"] > 1.5 * m["none"]["tuning_error_elsewhere"]


def test_feedforward_only_retraining_worsens_the_code(quick):
    m = quick["metrics"]
    ff, none = m["feedforward_only"], m["none"]
    assert ff["error_E"] > 1.5 * none["error_E"]
    assert ff["error_E_matched_rate"] > 2.0 * none["error_E_matched_rate"]
    assert ff["rate_E_hz"] > none["rate_E_hz"]
    assert ff["F_in_hole"] > none["F_in_hole"]  # its input weights move into the hole
    assert quick["checks"]["feedforward_only_least_efficient"]


def test_recurrent_plasticity_recovers_efficiency(quick):
    m = quick["metrics"]
    assert m["recurrent_only"]["rate_E_hz"] < m["none"]["rate_E_hz"]
    assert m["recurrent_only"]["error_E_matched_rate"] < 0.9 * m["none"]["error_E_matched_rate"]
    assert m["full"]["error_E_matched_rate"] < 0.9 * m["none"]["error_E_matched_rate"]
    assert quick["checks"]["predicted_ordering_holds"]


@pytest.mark.slow
def test_full_fig8(tmp_path):
    m = fig8.run(tmp_path, seed=0, progress=False, workers=2)
    assert (tmp_path / "fig8_weights_tuning.png").exists() and (tmp_path / "fig8_summary.png").exists()
    assert (tmp_path / "fig8_repetitions.png").exists() and m["repetitions"] == 10
    # on the geometric means over seeds 0-9 (measured: error at the intact rate none 0.095,
    # recurrent only 0.069, full 0.064, feed-forward only 0.70); per seed, recurrent-only beats
    # no retraining in 8 of 10 and feed-forward-only is the least efficient in 10 of 10
    assert m["predicted_ordering_holds"]
    assert m["checks_pass_count"]["feedforward_only_least_efficient"] == 10
    assert m["checks_pass_count"]["recurrent_only_more_efficient_than_none"] >= 7
    pc = {(r["comparison"], r["measure"]): r for r in m["paired_comparisons"]}
    # the seeds agree: recurrent-only and full retraining beat no retraining (CI below 1)
    assert pc[("recurrent_only / none", "error_E_matched_rate")]["ci95_high"] < 1.0
    assert pc[("full / none", "error_E_matched_rate")]["ci95_high"] < 1.0
    assert pc[("feedforward_only / none", "error_E_matched_rate")]["ci95_low"] > 1.0
    assert m["checks"]["feedforward_only_least_efficient"]
    assert m["checks"]["feedforward_only_worse_error_than_none"]
    assert m["checks"]["lesion_lowers_efficiency"]


def test_aggregate_is_the_geometric_mean_over_repetitions():
    base = {"error_E": 0.1, "error_E_matched_rate": 0.2, "rate_E_hz": 5.0, "rate_I_hz": 10.0, "error_I": 0.1,
            "burst_fraction": 0.0}
    r1 = {"none": dict(base)}
    r2 = {"none": {**base, "error_E_matched_rate": 0.8, "rate_E_hz": 80.0, "burst_fraction": 0.5}}
    agg = fig8.aggregate([r1, r2])["none"]
    assert agg["error_E_matched_rate"] == pytest.approx(0.4)  # sqrt(0.2 * 0.8)
    assert agg["rate_E_hz"] == pytest.approx(20.0)  # one bursting seed cannot dominate like a mean (42.5)
    assert agg["error_E"] == pytest.approx(0.1)
    assert agg["burst_fraction"] == pytest.approx(0.25)


def test_paired_comparisons_hand_computed():
    conds = ("intact", "none", "full", "recurrent_only", "feedforward_only")

    def rep(**eff):
        return {c: {"error_E_matched_rate": eff.get(c, 0.1), "rate_E_hz": 5.0} for c in conds}

    # recurrent_only / none: 0.5, 2.0, 0.5 -> log-ratios (-l, l, -l), l = ln 2
    reps = [rep(none=0.2, recurrent_only=0.1), rep(none=0.1, recurrent_only=0.2), rep(none=0.2, recurrent_only=0.1)]
    rows = {(r["comparison"], r["measure"]): r for r in fig8.paired_comparisons(reps)}
    r = rows[("recurrent_only / none", "error_E_matched_rate")]
    l = np.log(2.0)
    d = np.array([-l, l, -l])
    half = 4.302653 * d.std(ddof=1) / np.sqrt(3)  # t(0.975, df=2)
    assert r["geo_mean_ratio"] == pytest.approx(np.exp(d.mean()))
    assert r["ci95_low"] == pytest.approx(np.exp(d.mean() - half), rel=1e-5)
    assert r["ci95_high"] == pytest.approx(np.exp(d.mean() + half), rel=1e-5)
    assert r["first_lower_in"] == 2 and r["n"] == 3
    # identical rates in every repetition: ratio 1 with a zero-width interval, never lower
    q = rows[("feedforward_only / none", "rate_E_hz")]
    assert (q["geo_mean_ratio"], q["ci95_low"], q["ci95_high"], q["first_lower_in"]) == (1.0, 1.0, 1.0, 0)
    # one repetition: no interval
    one = fig8.paired_comparisons(reps[:1])[0]
    assert np.isnan(one["ci95_low"]) and np.isnan(one["ci95_high"])


def test_repetitions_are_validated(tmp_path):
    with pytest.raises(ValueError, match="repetitions"):
        fig8.run(tmp_path, quick=True, repetitions=0, progress=False)


def test_cli_rejects_repetitions_for_experiments_without_them(tmp_path, capsys):
    from neuromorph.cli import main

    for opt in ("--repetitions", "--workers"):
        assert main(["reproduce", "fig2", "--out", str(tmp_path / "x"), opt, "3"]) == 2
        err = capsys.readouterr().err
        assert opt in err and "fig2" in err and "Traceback" not in err
        assert not (tmp_path / "x" / "metrics.json").exists()
    assert main(["reproduce", "fig8", "--out", str(tmp_path / "y"), "--workers", "0"]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err


def test_parallel_repetitions_give_the_serial_results(tmp_path):
    kw = dict(seed=2, quick=True, iterations=20, repetitions=2, progress=False)
    a = fig8.run(tmp_path / "a", workers=1, **kw)
    b = fig8.run(tmp_path / "b", workers=2, **kw)
    assert a["per_repetition"] == b["per_repetition"] and [r["seed"] for r in a["per_repetition"]] == [2, 3]
    assert a["checks"] == b["checks"] and a["paired_comparisons"] == b["paired_comparisons"]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(p.name for p in (tmp_path / "b").iterdir())
