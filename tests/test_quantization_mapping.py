"""Quantization stage: hand-computed mapping cases, the science of bits/methods/mismatch, and
quantization-aware learning.  Coding errors are normalised error variances on a 10 s test
signal; tolerances are derived from the seed-to-seed spread of that estimate (≈ 5 %)."""
import numpy as np
import pytest

from neuromorph.experiments import fig2
from neuromorph.quant.fakequant import (fake_quant_network, operating_statistics, quantize_network, signal_error,
                                       evaluation_signal)
from quantization.fixed_point import qmax
from quantization.hardware import load_target
from quantization.mapping import MappingOptions, QuantizedSCN, map_scn, syn_gain
from quantization.mismatch import mismatch_instances

XA2 = load_target("xylo-audio-v2")


@pytest.fixture(scope="module")
def learnt():
    """A learnt Fig 2 network (code init, 2^18 steps: the fast recurrent phase is complete)."""
    net0, res = fig2.train(7, iterations=262, init="code", progress=False)
    from neuromorph.quant.chip_training import refit_decoder

    net = refit_decoder(res.network, 7)
    c, x = evaluation_signal(2, 10_000, 0, net.lam, net.dt)
    return net, x, operating_statistics(net, c, 0)


def test_hand_computed_mapping():
    """One neuron, one input: every integer follows from the formulas in mapping.py."""
    F = np.array([[0.8]])
    Om = np.array([[-0.7]])
    D = np.array([[0.5]])
    T = np.array([0.4])
    tgt = load_target("fixed-point", weight_bits=8)
    q = map_scn(F, Om, D, T, 50.0, 1e-3, tgt, input_peak=0.5, v_peak=1.0, x_peak=4.0,
                options=MappingOptions(threshold_from_encoders=False))
    # S: headroom 0.5 of 32767 over v_peak 1 -> 16383.5; the recurrent residual |-0.7+0.4|=0.3
    # (x1.002 margin) with 127 << s fits for s = 5: S = 127*32*1/(0.3*1.002)
    S = 127 * 2**5 / (0.3 * 1.002)
    assert q.scale_v == pytest.approx(S)
    assert q.shift_rec == 5
    assert q.threshold[0] == int(np.floor(S * 0.4 + 0.5))
    # recurrent self-weight = the residual −0.7 + θ/S in state units on the 2^5 grid:
    # (θ − 0.7 S)/32 = (5408 − 9463.7)/32 = −126.74 (S was chosen so that |residual| =
    # 127/1.002 = 126.75 before θ's rounding, which moves it by ≤ 0.5/32), so it rounds to −127:
    # the largest recurrent weight lands on the grid's end −q_max, no clipping
    resid = (q.threshold[0] - 0.7 * S) / 2**5
    assert 126.5 < -resid < 127.5
    assert q.w_rec[0, 0] == -qmax(8) and q.stats["clipped"]["rec"] == 0
    # the input gain is lowered from 15/0.5 so the input weight lands on +127 << s_in
    assert q.w_in[0, 0] == 127
    assert q.input_gain <= 15 / 0.5
    # dash for tau = 20 ms at dt = 1 ms: -log2(1 - exp(-0.05)) = 4.36 -> 4, chip leak 2^-4/dt
    assert q.dash_mem == 4 and q.lam_chip == pytest.approx(62.5)
    d = q.dequantize()
    # dequantized values are within half a grid step of the float values
    assert abs(d["F"][0, 0] - 0.8) <= 0.5 * 2**q.shift_in * syn_gain(1) * q.input_gain / S + 1e-12
    assert abs(d["thresholds"][0] - 0.4) <= 0.5 / S + 1e-12
    assert abs(d["Omega"][0, 0] - (-0.7)) <= 0.5 * 2**q.shift_rec / S + 1 / S


def test_round_trip_and_errors(tmp_path):
    from neuromorph.quant.fakequant import load_quantized, save_quantized

    F = np.array([[0.8, 0.1], [-0.3, 0.9]])
    q = map_scn(F, -F @ F.T, F.T.copy(), np.array([0.3, 0.4]), 50.0, 1e-3, XA2, input_peak=0.4)
    p = save_quantized(q, tmp_path / "q.npz")
    back = load_quantized(p)
    for k in ("w_in", "w_rec", "w_out", "threshold"):
        assert np.array_equal(getattr(back, k), getattr(q, k))
    assert back.scale_v == q.scale_v and back.shift_rec == q.shift_rec
    with pytest.raises(ValueError, match="dt = 0.0001 s differs from target 'xylo-audio-v2' dt = 0.001 s"):
        map_scn(F, -F @ F.T, F.T, np.array([0.3, 0.4]), 50.0, 1e-4, XA2, input_peak=0.4)
    with pytest.raises(ValueError, match="Omega must have shape"):
        map_scn(F, np.zeros((3, 3)), F.T, np.array([0.3, 0.4]), 50.0, 1e-3, XA2, input_peak=0.4)
    with pytest.raises(ValueError, match="F contains NaN"):
        map_scn(F * np.nan, -F @ F.T, F.T, np.array([0.3, 0.4]), 50.0, 1e-3, XA2, input_peak=0.4)
    with pytest.raises(ValueError, match="float reference: nothing to quantize"):
        map_scn(F, -F @ F.T, F.T, np.array([0.3, 0.4]), 50.0, 1e-3, load_target("float"), input_peak=0.4)
    with pytest.raises(ValueError, match="dash_syn must be >= 1"):
        MappingOptions(dash_syn=0)


def test_weights_fit_the_chip(learnt):
    net, x, st = learnt
    for bits in (2, 4, 8, 12):
        q = quantize_network(net, load_target("fixed-point", weight_bits=bits), st)
        m = qmax(bits)
        for w in (q.w_in, q.w_rec, q.w_out):
            assert np.abs(w).max() <= m
        # full range: the largest recurrent and input weights sit on the grid's end.  The
        # recurrent bound: the 1.002 margin puts the largest |Ω| at m/1.002 > 0.99 m, and
        # rounding to the grid (θ's rounding included) moves it by at most 1 step (measured,
        # training seeds 1-4 and 7: max|w_rec|/m = 1.0 at 2/4/8 bits, 0.998 at 12 bits)
        assert np.abs(q.w_rec).max() >= 0.99 * m - 1 and np.abs(q.w_in).max() == m
        assert q.stats["clipped"] == {"in": 0, "rec": 0, "out": 0}
    q = quantize_network(net, load_target("fixed-point", weight_bits=4), st)
    off = ~np.eye(net.n_neurons, dtype=bool)
    lsb = syn_gain(q.dash_syn) * 2.0 ** q.shift_rec / q.scale_v
    # pairs symmetric to within a quarter of the 4-bit grid step (well inside the one step the
    # mapping averages over); measured over training seeds 1-4 and 7: 34-52 % of the off-diagonal
    # pairs, so > 25 % says the check below is run on a substantial set, not on a handful
    sym = off & (np.abs(net.Omega - net.Omega.T) < 0.25 * lsb)
    assert sym.sum() > 0.25 * off.sum()
    assert np.array_equal(q.w_rec[sym], q.w_rec.T[sym])  # symmetric pairs stay symmetric
    assert len(np.unique(q.w_in, axis=0)) == net.n_neurons  # no neuron is a copy of another


def test_xylo_audio_v2_8bit_within_1_5x_of_float(learnt):
    net, x, st = learnt
    q = quantize_network(net, XA2, st)
    e_float = signal_error(net, x, 0)["error"]
    e_q = signal_error(fake_quant_network(q, net), x, 0)["error"]
    # the 1.5x is the acceptance (8-bit Xylo within 1.5x of float), not a noise margin;
    # measured over training seeds 1-4 and 7: e_q / e_float = 0.83-0.84
    assert e_q <= 1.5 * e_float


def test_error_falls_with_weight_bits(learnt):
    net, x, st = learnt
    errs = [signal_error(fake_quant_network(quantize_network(net, load_target("fixed-point", weight_bits=b), st), net),
                        x, 0)["error"] for b in range(2, 13)]
    e_float = signal_error(net, x, 0)["error"]
    # monotone: each extra bit may not raise the error by more than the estimator's noise (5 %:
    # sd/mean of the float error over evaluation seeds 0-4 measured 4.3-5.7 % for training seeds
    # 1-4 and 7)
    for b, (e0, e1) in enumerate(zip(errs, errs[1:]), start=2):
        assert e1 <= e0 * 1.05 + 1e-4, (b, errs)
    # measured over training seeds 1-4 and 7: errs(2 bits) / errs(12 bits) = 83-171 and
    # errs(12 bits) / e_float = 0.81-0.83; the factors are the claims ("far worse": an order of
    # magnitude; "reaches the float error": within 6 sd of the 5 % estimator noise), far from both
    assert errs[0] > 10 * errs[-1]  # 2 bits is far worse than 12
    assert errs[-1] < 1.3 * e_float  # and 12 bits reaches the float error


@pytest.mark.parametrize("bits", [4, 6])
def test_scn_aware_beats_rockpool_quantizers(learnt, bits):
    """The SCN-aware mapping against Rockpool's own global_quantize / channel_quantize applied to
    the same float weights (same chip semantics: input events with gain g, subtractive reset)."""
    from neuromorph.backends.xylo.rockpool_compat import import_rockpool  # samna guard first

    qm = import_rockpool("rockpool.transform.quantize_methods")
    channel_quantize, global_quantize = qm.channel_quantize, qm.global_quantize

    net, x, st = learnt
    tgt = load_target("fixed-point", weight_bits=bits)
    ours = quantize_network(net, tgt, st)
    e_ours = signal_error(fake_quant_network(ours, net), x, 0)["error"]
    N, M = net.F.shape
    # Rockpool's quantizers get the weights in the same state units (voltage scale S, input gain g)
    # as our own global/channel implementation uses
    mine_g = quantize_network(net, tgt, st, MappingOptions(method="global"))
    S, g, G = mine_g.scale_v, mine_g.input_gain, syn_gain(ours.dash_syn)
    Om = net.Omega.copy()
    Om[np.diag_indices(N)] += net.thresholds  # the chip's subtractive reset carries −T
    w_in = (S * net.F / (g * G)).T[:, :, None]
    w_rec = (S * Om / G).T[:, :, None]
    base = dict(weights_in=w_in, weights_rec=w_rec, weights_out=net.D.T.copy(), threshold=S * net.thresholds,
                threshold_out=np.full(M, 0.1), dash_mem=np.full(N, 4.0), dash_mem_out=np.full(M, 4.0),
                dash_syn=np.full(N, 1.0), dash_syn_2=np.full(N, 1.0), dash_syn_out=np.full(M, 1.0),
                bits_per_weight=bits)
    for fn in (global_quantize, channel_quantize):
        r = fn(**{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in base.items()})
        k = np.asarray(r["threshold"], dtype=float) / (S * net.thresholds)  # per-neuron scale factor
        rq = QuantizedSCN(target="rockpool", method=fn.__name__, weight_bits=bits,
                          w_in=np.asarray(r["weights_in"])[:, :, 0].T.astype(np.int64),
                          w_rec=np.asarray(r["weights_rec"])[:, :, 0].T.astype(np.int64), w_out=ours.w_out,
                          threshold=np.asarray(r["threshold"]).astype(np.int64), shift_in=0, shift_rec=0,
                          shift_out=ours.shift_out, dash_mem=4, dash_syn=1, dash_mem_out=4, dash_syn_out=1,
                          scale_v=S, input_gain=g, scale_out=ours.scale_out, lam=net.lam, dt=net.dt, neuron_gain=k)
        e_rp = signal_error(fake_quant_network(rq, net), x, 0)["error"]
        assert e_ours < e_rp, (fn.__name__, bits, e_ours, e_rp)
        # our own implementation of Rockpool's method gives Rockpool's integers
        mine = quantize_network(net, tgt, st, MappingOptions(method="global" if fn is global_quantize else "channel"))
        assert np.array_equal(mine.w_rec, rq.w_rec) and np.array_equal(mine.w_in, rq.w_in)
        assert np.array_equal(mine.threshold, rq.threshold)


def test_mismatch_zero_is_exact_and_error_grows(learnt):
    net, x, st = learnt
    q = quantize_network(net, XA2, st)
    for qi in mismatch_instances(q, 0.0, 3, seed=1, target=XA2):
        for k in ("w_in", "w_rec", "w_out", "threshold"):
            assert np.array_equal(getattr(qi, k), getattr(q, k))
        assert qi.dash_mem == q.dash_mem
    a = mismatch_instances(q, 0.1, 4, seed=5, target=XA2)
    b = mismatch_instances(q, 0.1, 4, seed=5, target=XA2)
    assert all(np.array_equal(u.w_rec, v.w_rec) for u, v in zip(a, b))  # seeded
    means = []
    for s in (0.0, 0.05, 0.1, 0.2):
        errs = [signal_error(fake_quant_network(qi, net), x, 0)["error"] for qi in mismatch_instances(q, s, 20, seed=3, target=XA2)]
        means.append(np.mean(errs))
    # 1.1: two estimator sds (5 % each) — σ = 0.05 may not look better than no mismatch beyond
    # the noise; the factor 2 is the claim "20 % mismatch clearly hurts" (measured over training
    # seeds 1-4 and 7: means[σ=0.2] / means[σ=0] = 9.0-11.6)
    assert means[0] <= means[1] * 1.1 and means[1] < means[2] < means[3]
    assert means[3] > 2 * means[0]
    with pytest.raises(ValueError, match="unknown mismatch class"):
        mismatch_instances(q, {"weights": 0.1}, 2, 0, target=XA2)


def test_quantization_aware_learning_recovers_half_the_gap(learnt):
    """Issue acceptance: 4-bit weights with 10 % mismatch; retraining with the local rules on the
    integer grid recovers at least half of the error gap to float (mean over instances)."""
    from neuromorph.quant.chip_training import retrain_quantized

    net, x, st = learnt
    e_float = signal_error(net, x, 0)["error"]
    tgt4 = load_target("fixed-point", weight_bits=4)
    q = quantize_network(net, tgt4, st)
    recovered = []
    for i, qi in enumerate(mismatch_instances(q, 0.1, 3, seed=11, target=tgt4)):
        e0 = signal_error(fake_quant_network(qi, net), x, 0)["error"]
        q2 = retrain_quantized(qi, net, steps=300_000, seed=i)
        assert np.abs(q2.w_rec).max() <= 7 and np.array_equal(q2.threshold, qi.threshold)
        e1 = signal_error(fake_quant_network(q2, net), x, 0)["error"]
        recovered.append((e0 - e1) / (e0 - e_float))
    assert np.mean(recovered) >= 0.5, recovered
