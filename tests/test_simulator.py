"""The float simulator: hand-computed steps, the compiled kernel against the per-step NumPy
reference (identical noise stream ⇒ identical spikes and weights), options, failure paths."""
import numpy as np
import pytest

from neuromorph.network import SCN
from neuromorph.sim.plasticity import FeedforwardRule, RecurrentRule
from neuromorph.sim.reference_numpy import learn_numpy
from neuromorph.sim.rng import STREAMS, make_state
from neuromorph.sim.simulator import SimOptions, block_noise_source, learn, simulate


def det_net(**kw):
    """Two neurons, one input, no noise: every step can be computed by hand."""
    base = dict(F=np.array([[1.0], [-1.0]]), Omega=np.array([[-0.5, -0.1], [-0.2, -0.5]]), D=np.zeros((1, 2)),
                thresholds=np.array([0.5, 0.5]), lam=50.0, dt=1e-3, v_noise=0.0, t_noise=0.0)
    base.update(kw)
    return SCN(**base)


def test_hand_computed_steps_one_spike():
    net = det_net()
    c = np.full((3, 1), 600.0)
    rec = simulate(net, c, record=("spikes", "V", "r"), seed=0)
    # step 0: V = dt*F*c = [0.6, -0.6] -> neuron 0 spikes (0.6 >= 0.5)
    assert np.allclose(rec.V[0], [0.6, -0.6])
    # step 1: V = 0.95*V + dt F c + Omega[:, 0]
    v1 = 0.95 * np.array([0.6, -0.6]) + np.array([0.6, -0.6]) + np.array([-0.5, -0.2])
    assert np.allclose(rec.V[1], v1)
    # step 2: neuron 0 spiked again at step 1 (v1[0] = 0.67)
    v2 = 0.95 * v1 + np.array([0.6, -0.6]) + np.array([-0.5, -0.2])
    assert np.allclose(rec.V[2], v2)
    assert rec.spikes[:, 0].tolist() == [1, 1, int(v2[0] >= 0.5)]
    # r (evaluation order: decay, then add the spike)
    assert np.allclose(rec.r[0], [1.0, 0.0])
    assert np.allclose(rec.r[1], [0.95 + 1.0, 0.0])
    assert np.allclose(rec.x[:, 0], [0.6, 0.95 * 0.6 + 0.6, 0.95 * (0.95 * 0.6 + 0.6) + 0.6])


def test_one_spike_arbiter_vs_multi_spike():
    net = det_net(F=np.array([[1.0], [0.9]]), Omega=-0.5 * np.eye(2))
    c = np.full((1, 1), 700.0)  # V = [0.7, 0.63]: both above threshold
    one = simulate(net, c, record=("spikes",), seed=0)
    multi = simulate(net, c, record=("spikes",), seed=0, options=SimOptions(one_spike=False))
    assert one.spikes[0].tolist() == [1, 0]  # largest margin wins
    assert multi.spikes[0].tolist() == [1, 1]


def test_delay_and_synaptic_filter():
    net = det_net(F=np.array([[1.0], [0.0]]), Omega=np.array([[-0.5, 0.0], [0.1, -0.5]]))
    c = np.zeros((6, 1))
    c[0] = 600.0  # V0 = 0.6 at step 0, then it only decays
    rec = simulate(net, c, record=("V", "spikes"), options=SimOptions(delay=1), seed=0)
    assert rec.spikes[:, 0].tolist() == [1, 0, 0, 0, 0, 0]
    expect = np.zeros(6)
    expect[1:] = 0.1 * 0.95 ** np.arange(5)
    assert np.allclose(rec.V[:, 1], expect)
    # delay 3: the self-reset is delayed too, so neuron 0 keeps firing (0.6, 0.57, 0.5415 >= 0.5)
    # until its first reset lands at step 3 -- the burst that delays cause on hardware
    rec = simulate(net, c, record=("V", "spikes"), options=SimOptions(delay=3), seed=0)
    assert rec.spikes[:, 0].tolist() == [1, 1, 1, 0, 0, 0]
    v, expect = 0.0, []
    for t in range(6):
        v = 0.95 * v + (0.1 if t >= 3 else 0.0)
        expect.append(v)
    assert np.allclose(rec.V[:, 1], expect)
    net = det_net(F=np.array([[1.0], [0.0]]), Omega=np.array([[-0.5, 0.0], [0.3, -0.5]]))
    tau = 3e-3
    rec = simulate(net, c, record=("V",), options=SimOptions(syn_tau=tau), seed=0)
    a = np.exp(-1e-3 / tau)
    s, v, expect = 0.0, 0.0, []
    for t in range(6):
        s = a * s + (0.3 if t == 1 else 0.0)
        v = 0.95 * v + (1 - a) * s
        expect.append(v)
    assert np.allclose(rec.V[:, 1], expect)


def test_plasticity_single_spike_by_hand():
    net = det_net()
    rr = RecurrentRule(lr=0.1, beta=2.0, mu=0.5)
    fr = FeedforwardRule(lr=0.2, alpha=0.18, form="code")
    c = np.full((1, 1), 600.0)
    res = learn(net, lambda s, n: c[s:s + n], 1, rules=(rr, fr), seed=0)
    V = np.array([0.6, -0.6])
    r = np.zeros(2)
    om = net.Omega.copy()
    om[:, 0] -= 0.1 * (2.0 * (V + 0.5 * r) + om[:, 0] + 0.5 * np.array([1.0, 0.0]))
    assert np.allclose(res.network.Omega, om)
    x = np.array([0.6])
    assert np.allclose(res.network.F[0], net.F[0] + 0.2 * (0.18 * x - net.F[0]))
    assert np.allclose(res.network.F[1], net.F[1])  # only the spiking neuron's F moves
    assert np.array_equal(net.Omega, det_net().Omega)  # learn() does not modify its input


@pytest.mark.parametrize("stream", STREAMS)
@pytest.mark.parametrize("form", ["code", "paper", "correlated"])
def test_kernel_equals_numpy_reference(form, stream):
    rng = np.random.default_rng(3)
    N, M = 12, 3
    F = rng.standard_normal((N, M))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    net = SCN(F=F, Omega=-0.5 * np.eye(N) - 0.05 * rng.random((N, N)), D=np.zeros((M, N)), thresholds=0.5)
    src = block_noise_source(M, 5)
    c = src(0, 3000)
    rules = (RecurrentRule(lr=1e-2), FeedforwardRule(lr=1e-2, alpha=0.5 if form != "correlated" else 2.0, form=form))
    res = learn(net, src, 3000, rules=rules, seed=make_state(11, stream), chunk=1000)
    F_ref, Om_ref, spikes = learn_numpy(net, c, make_state(11, stream), rules)
    assert (spikes >= 0).sum() == res.total_spikes > 100
    assert np.allclose(res.network.F, F_ref, rtol=0, atol=1e-12)
    assert np.allclose(res.network.Omega, Om_ref, rtol=0, atol=1e-12)


def test_learning_is_chunk_invariant_and_seeded():
    net = det_net(F=np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]), Omega=-0.5 * np.eye(3), D=np.zeros((2, 3)),
                  thresholds=0.5, v_noise=0.001, t_noise=0.01)
    src = block_noise_source(2, 9)
    a = learn(net, src, 5000, seed=4, chunk=1000)
    b = learn(net, src, 5000, seed=4, chunk=777, snapshot_steps=[2, 100, 4096])
    c = learn(net, src, 5000, seed=5)
    assert np.array_equal(a.network.Omega, b.network.Omega)
    assert not np.array_equal(a.network.Omega, c.network.Omega)
    assert [s for s, _, _ in b.snapshots] == [2, 100, 4096]
    assert np.array_equal(b.snapshots[0][2], b.snapshots[0][2])


def test_column_major_working_copy_changes_nothing():
    """Long chunks of large networks run on a column-major copy of Omega (simulator._run), short
    ones on Omega itself: learning with either chunking must give the same bits, and the frozen
    simulation must leave Omega as it was."""
    rng = np.random.default_rng(1)
    N, M = 80, 3
    F = rng.standard_normal((N, M))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    net = SCN(F=F, Omega=-(F @ F.T) - 0.02 * np.eye(N), D=F.T.copy(), thresholds=0.5)
    src = block_noise_source(M, 2, amplitude=6000.0)
    long = learn(net, src, 4000, seed=3, chunk=4000)  # 4000 >= 4 N: column-major copy
    short = learn(net, src, 4000, seed=3, chunk=200)  # 200 < 4 N: in place
    assert long.total_spikes == short.total_spikes > 100
    assert np.array_equal(long.network.Omega, short.network.Omega)
    assert np.array_equal(long.network.F, short.network.F)
    assert long.network.Omega.flags.c_contiguous
    before = long.network.Omega.copy()
    simulate(long.network, src(0, 4000), seed=1)
    assert np.array_equal(long.network.Omega, before)


def test_switching_rules_off_freezes_their_weights():
    rng = np.random.default_rng(0)
    F = rng.standard_normal((10, 2))
    net = SCN(F=F / np.linalg.norm(F, axis=1, keepdims=True), Omega=-0.5 * np.eye(10), D=np.zeros((2, 10)),
              thresholds=0.5)
    src = block_noise_source(2, 1)
    r1 = learn(net, src, 4000, rules=(RecurrentRule(enabled=False), FeedforwardRule(lr=1e-3)), seed=1)
    assert np.array_equal(r1.network.Omega, net.Omega) and not np.array_equal(r1.network.F, net.F)
    r2 = learn(net, src, 4000, rules=(RecurrentRule(),), seed=1)
    assert np.array_equal(r2.network.F, net.F) and not np.array_equal(r2.network.Omega, net.Omega)


def test_recording_only_what_is_asked_and_currents():
    net = det_net(v_noise=0.001, t_noise=0.01)
    c = block_noise_source(1, 2, amplitude=600)(0, 500)
    rec = simulate(net, c, record=("spikes",), seed=1)
    assert rec.r is None and rec.V is None and rec.I_E is None
    assert rec.spikes.dtype == np.uint8 and rec.spikes.sum() == rec.counts.sum()
    rec = simulate(net, c, record=("currents",), seed=1)
    # inputs split by sign: neuron 0 gets +dt*c where c>0, neuron 1 the opposite
    pos = np.clip(1e-3 * c[:, 0], 0, None)
    assert np.all(rec.I_E[:, 0] >= pos - 1e-12)
    assert np.all(rec.I_I <= 0) and np.all(rec.I_E >= 0)


@pytest.mark.parametrize("c,msg", [
    (np.zeros((5, 2)), "has 2 input channel"),
    (np.zeros(5), "must be 2-D"),
    (np.array([[0.0], [np.nan]]), "NaN or inf .first at step 1, channel 0"),
])
def test_bad_inputs(c, msg):
    with pytest.raises(ValueError, match=msg):
        simulate(det_net(), c)


def test_bad_options():
    with pytest.raises(ValueError, match="delay must be >= 1"):
        SimOptions(delay=0)
    with pytest.raises(ValueError, match="cannot record 'Vm'"):
        simulate(det_net(), np.zeros((3, 1)), record=("Vm",))
    with pytest.raises(ValueError, match="FeedforwardRule.form must be one of"):
        FeedforwardRule(form="hebb")
    with pytest.raises(FloatingPointError, match="non-finite"):
        learn(det_net(), lambda s, n: np.full((n, 1), 600.0), 2000, rules=(RecurrentRule(lr=50.0),), seed=0)


def test_per_connection_delays_and_alpha_synapse():
    # neuron 0 spikes once at step 0; neurons 1 and 2 receive +0.1 after 2 and 4 steps
    net = det_net(F=np.array([[1.0], [0.0], [0.0]]), Omega=np.array([[-0.5, 0, 0], [0.1, -0.5, 0], [0.1, 0, -0.5]]),
                  D=np.zeros((1, 3)), thresholds=np.full(3, 0.5))
    c = np.zeros((8, 1))
    c[0] = 600.0
    d = np.ones((3, 3), dtype=int)
    d[1, 0], d[2, 0] = 2, 4
    rec = simulate(net, c, record=("V", "spikes"), options=SimOptions(delay=d), seed=0)
    assert rec.spikes[:, 0].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]  # own reset keeps delay 1
    for i, di in ((1, 2), (2, 4)):
        expect = np.zeros(8)
        expect[di:] = 0.1 * 0.95 ** np.arange(8 - di)
        assert np.allclose(rec.V[:, i], expect)
    with pytest.raises(ValueError, match="delays must be >= 1"):
        SimOptions(delay=np.zeros((3, 3), dtype=int))
    with pytest.raises(ValueError, match="per-connection delays have shape"):
        simulate(net, c, options=SimOptions(delay=np.ones((2, 2), dtype=int)))
    # alpha-shaped PSC: total charge 1 (the leak-free sum), peak after the first step
    net2 = det_net(F=np.array([[1.0], [0.0]]), Omega=np.array([[-0.5, 0.0], [1.0, -0.5]]), lam=1e-6,
                   thresholds=np.array([0.5, 100.0]))
    c2 = np.zeros((400, 1))
    c2[0] = 600.0
    tau = 5e-3
    rec = simulate(net2, c2, record=("V",), options=SimOptions(syn_tau=tau, syn_order=2, subtractive_reset=True), seed=0)
    psc = np.diff(np.concatenate([[0.0], rec.V[:, 1]]))
    assert abs(rec.V[-1, 1] - 1.0) < 1e-3
    assert 2 <= int(np.argmax(psc)) <= 8  # rises, then decays (alpha shape)
