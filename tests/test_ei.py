"""The EI (Dale's law) simulator of Fig 4: hand-computed steps, the compiled kernel against a
plain per-step NumPy restatement of docs/authors_code.md §3.2 (same noise stream ⇒ identical spikes and
weights), refractory blocking, clipping, pathway switches, failure paths, and the science of a
shortened learning run.

Margins of the learning-run tests come from docs/authors_code.md (§3.4/§8 A4, seed 1 of the
authors' code): the E error falls 0.38 → 0.075 by 2^19 steps (52 s) and → 0.031–0.035 by 2^20
steps, the E rate 20.5 → 17.2–17.7 Hz (52 s) → 13.8–14.2 Hz (105 s).
"""
import numpy as np
import pytest

from neuromorph.sim.ei_kernels import THRESHOLD_NOISE_CUTOFF
from neuromorph.sim.ei_simulator import EIEvalProtocol, EIState, evaluate_ei, fano_cv, learn_ei, simulate_ei
from neuromorph.sim.init import initial_ei_network
from neuromorph.network import EINetwork
from neuromorph.sim.plasticity import EIRules
from neuromorph.sim.rng import STREAMS, make_state, normals, normals_at, stream_of
from neuromorph.sim.simulator import block_noise_source

ALL_OFF = dict(ff_XE=False, ff_EI=False, rec_EE=False, rec_IE=False, rec_II=False)


def tiny_net(**kw) -> EINetwork:
    """2 E neurons, 1 I neuron, 1 input, no noise, λ=50, dt=1 ms (leak factor 0.95)."""
    base = dict(F_E=np.array([[1.0], [0.5]]), W_EE=np.array([[-0.02, 0.1], [0.2, -0.02]]),
                W_EI=np.array([[0.6, 0.3]]), W_IE=np.array([[-0.1], [-0.3]]), W_II=np.array([[-0.5]]),
                D_E=np.zeros((1, 2)), D_I=np.zeros((1, 1)), T_E=0.5, T_I=0.5, lam=50.0, dt=1e-3,
                v_noise_E=0.0, v_noise_I=0.0, t_noise=0.0, refractory=0)
    base.update(kw)
    return EINetwork(**base)


# ----------------------------------------------------------------------------- hand-computed steps

def test_hand_computed_steps_order_of_operations():
    net = tiny_net()
    c = np.array([[600.0], [0.0], [0.0]])
    rec = simulate_ei(net, c, seed=0, record=("V_E", "V_I", "r_E", "r_I", "spikes_E", "spikes_I"))
    # step 0: V_E = dt F c = [0.6, 0.3] -> E0 fires; its spike reaches I in the same step:
    # V_I = W_EI[0, 0] = 0.6 -> I0 fires too
    assert np.allclose(rec.V_E[0], [0.6, 0.3])
    assert np.allclose(rec.V_I[0], [0.6])
    assert rec.spikes_E[0].tolist() == [1, 0] and rec.spikes_I[0].tolist() == [1]
    # step 1: previous-step E and I spikes arrive at E: 0.95 V + W_EE[:, 0] + W_IE[:, 0]
    v1 = 0.95 * np.array([0.6, 0.3]) + np.array([-0.02, 0.2]) + np.array([-0.1, -0.3])
    assert np.allclose(rec.V_E[1], v1)  # [0.45, 0.185]: no E spike
    assert np.allclose(rec.V_I[1], [0.95 * 0.6 - 0.5])  # previous I spike (self-reset) arrives
    assert rec.spikes_E[1:].sum() == 0 and rec.spikes_I[1:].sum() == 0
    # evaluation order of r: decay first, then add the spike
    assert np.allclose(rec.r_E[0], [1, 0]) and np.allclose(rec.r_E[1], [0.95, 0])
    assert np.allclose(rec.r_I[:, 0], [1, 0.95, 0.95 ** 2])
    assert np.allclose(rec.V_E[2], 0.95 * v1)
    assert np.allclose(rec.x[:, 0], [0.6, 0.57, 0.5415])


def test_refractory_argmax_blocks_everyone_and_multi_spike_mode():
    # E0 is always the largest margin; E1 is above threshold too, but while E0 is refractory
    # nobody fires (reference rule).  refractory=3: spikes at 0, 4, 8 (t + refractory + 1).
    net = tiny_net(F_E=np.array([[1.0], [0.9]]), W_EE=np.diag([-0.02, -0.02]), W_EI=np.zeros((1, 2)),
                   W_IE=np.zeros((2, 1)), refractory=3)
    c = np.full((10, 1), 2000.0)
    rec = simulate_ei(net, c, seed=0, record=("spikes_E",))
    assert np.flatnonzero(rec.spikes_E[:, 0]).tolist() == [0, 4, 8]
    assert rec.spikes_E[:, 1].sum() == 0
    multi = simulate_ei(net, c, seed=0, record=("spikes_E",), one_spike=False)
    assert np.flatnonzero(multi.spikes_E[:, 0]).tolist() == [0, 4, 8]
    assert np.flatnonzero(multi.spikes_E[:, 1]).tolist() == [0, 4, 8]
    # refractory = 0: the argmax neuron may fire every step
    rec0 = simulate_ei(tiny_net(F_E=np.array([[1.0], [0.9]]), W_EE=np.diag([-0.02, -0.02]),
                                W_EI=np.zeros((1, 2)), W_IE=np.zeros((2, 1))), c, seed=0, record=("spikes_E",))
    assert rec0.spikes_E[:, 0].sum() == 10


def test_hand_computed_learning_step():
    """One learning step from a chosen state; every rule checked against its formula."""
    net = tiny_net(F_E=np.array([[1.0], [0.5], [0.2]]),
                   W_EE=np.array([[-0.02, 0.05, 0.0], [0.01, -0.02, 0.0], [0.03, 0.0, -0.02]]),
                   W_EI=np.array([[0.6, 0.3, 0.1]]), W_IE=np.array([[-0.1], [-0.3], [-0.05]]), D_E=np.zeros((1, 3)))
    rules = EIRules(lr_ff=0.1, lr_rec=0.2, mu=0.5, ff_trace_leak_factor=6.0)
    st = EIState.zeros(3, 1, 1, make_state(0))
    st.V_E[:] = [0.1, -0.4, -2.0]
    st.V_I[:] = [0.2]
    st.r_E[:] = [0.3, 0.7, 0.1]
    st.r_I[:] = [0.4]
    st.b_E[:] = [2.0]
    st.b_I[:] = [0.5, 1.5, 0.0]
    st.prev_E[0] = 1  # E1 fired at the previous step
    st.n_prev[:] = [1, 0]
    c = np.array([[500.0]])
    res = learn_ei(net, lambda a, n: c[a:a + n], 1, rules=rules, state=st, v_noise_E=0.0)
    W = res.network
    # voltage: 0.95 V + dt F c + W_EE[:, 1] (previous E spike)
    VE = 0.95 * np.array([0.1, -0.4, -2.0]) + np.array([0.5, 0.25, 0.1]) + np.array([0.05, -0.02, 0.0])
    assert np.allclose(st.V_E, VE) and np.allclose(VE, [0.645, -0.15, -1.8])
    bE = 0.7 * 2.0 + 1e-3 * 500  # FF trace leak 6λ: factor 1 - 300*1e-3
    bI = 0.95 * np.array([0.5, 1.5, 0.0]) + np.array([0.0, 1.0, 0.0])  # previous E spike enters b_I
    assert np.allclose(st.b_E, [bE]) and np.allclose(st.b_I, bI)
    # E0 fired (0.645 >= 0.5): X->E, and E->E (clip >= 0, self-reset pinned, no mu*delta)
    assert np.allclose(W.F_E[:, 0], [1.0 + 0.1 * (bE - 1.0), 0.5, 0.2])
    rE = np.array([0.3, 0.7, 0.1])
    w0 = np.array([-0.02, 0.01, 0.03])
    col = w0 - 0.2 * (VE + 0.5 * rE + w0)  # [.., -0.032, 0.374]
    assert W.W_EE[0, 0] == -0.02
    assert col[1] < 0 and W.W_EE[1, 0] == 0.0  # clipped at 0
    assert np.isclose(W.W_EE[2, 0], col[2]) and np.isclose(col[2], 0.374)
    assert np.allclose(W.W_EE[:, 1:], net.W_EE[:, 1:])  # columns of silent neurons untouched
    # this step's E spike drives I: V_I = 0.95*0.2 + 0.6 = 0.79 -> I0 fires
    VI = 0.95 * 0.2 + 0.6
    assert np.allclose(st.V_I, [VI])
    w = np.array([0.6, 0.3, 0.1])
    assert np.allclose(W.W_EI[0], w + 0.1 * (bI - w))
    ii = -0.5 - 0.2 * (VI + 0.5 * 0.4 - 0.5 + 0.5)  # includes mu*delta
    assert np.isclose(W.W_II[0, 0], ii)
    w = np.array([-0.1, -0.3, -0.05])
    ie = w - 0.2 * (VE + 0.5 * rE + w)  # [-0.239, -0.28, +0.31]
    assert np.allclose(W.W_IE[:2, 0], ie[:2]) and ie[2] > 0 and W.W_IE[2, 0] == 0.0  # clipped at 0
    # learning order of r: increment, then decay
    assert np.allclose(st.r_E, 0.95 * (rE + np.array([1.0, 0.0, 0.0])))
    assert np.allclose(st.r_I, [0.95 * 1.4])
    # the original network is untouched
    assert net.F_E[0, 0] == 1.0 and net.W_EI[0, 0] == 0.6 and net.W_EE[1, 0] == 0.01


def test_recurrent_rule_beta_scales_the_voltage_term():
    """Same step as above with the paper's Eq 5 factor β = 2: ΔW = −ε(β(V + μr) + W)."""
    net = tiny_net(F_E=np.array([[1.0], [0.5], [0.2]]),
                   W_EE=np.array([[-0.02, 0.05, 0.0], [0.01, -0.02, 0.0], [0.03, 0.0, -0.02]]),
                   W_EI=np.array([[0.6, 0.3, 0.1]]), W_IE=np.array([[-0.1], [-0.3], [-0.05]]), D_E=np.zeros((1, 3)))
    out = {}
    for beta in (1.0, 2.0):
        st = EIState.zeros(3, 1, 1, make_state(0))
        st.V_E[:] = [0.1, -0.4, -2.0]
        st.V_I[:] = [0.2]
        st.r_E[:] = [0.3, 0.7, 0.1]
        st.r_I[:] = [0.4]
        st.prev_E[0] = 1
        st.n_prev[:] = [1, 0]
        c = np.array([[500.0]])
        rules = EIRules(lr_ff=0.1, lr_rec=0.2, mu=0.5, beta=beta)
        out[beta] = learn_ei(net, lambda a, n: c[a:a + n], 1, rules=rules, state=st, v_noise_E=0.0).network
    VE = np.array([0.645, -0.15, -1.8])
    rE = np.array([0.3, 0.7, 0.1])
    VI = 0.79
    W2 = out[2.0]
    assert np.isclose(W2.W_EE[2, 0], 0.03 - 0.2 * (2.0 * (VE[2] + 0.5 * rE[2]) + 0.03))
    w = np.array([-0.1, -0.3])
    assert np.allclose(W2.W_IE[:2, 0], w - 0.2 * (2.0 * (VE[:2] + 0.5 * rE[:2]) + w))
    assert np.isclose(W2.W_II[0, 0], -0.5 - 0.2 * (2.0 * (VI + 0.5 * 0.4) - 0.5 + 0.5))
    # the feed-forward rules do not depend on beta
    assert np.array_equal(W2.F_E, out[1.0].F_E) and np.array_equal(W2.W_EI, out[1.0].W_EI)
    assert not np.allclose(W2.W_IE, out[1.0].W_IE)


# ------------------------------------------------------ kernel == per-step NumPy restatement of §3.2

def numpy_ei_learn(net: EINetwork, c: np.ndarray, rng_state: np.ndarray, rules: EIRules, v_noise_E: float,
                   learn: bool = True):
    """Straightforward restatement of docs/authors_code.md §3.2, drawing noise from the same generator in the
    same order as the kernel (per neuron: voltage noise, then threshold noise if V−T > −8σ_T)."""
    F, WEE, WEI, WIE, WII = (net.F_E.copy(), net.W_EE.copy(), net.W_EI.copy(), net.W_IE.copy(), net.W_II.copy())
    NE, M = F.shape
    NI = WEI.shape[0]
    a = 1 - net.lam * net.dt
    aF = 1 - rules.ff_trace_leak_factor * net.lam * net.dt
    VE, VI, rE, rI, bE, bI = np.zeros(NE), np.zeros(NI), np.zeros(NE), np.zeros(NI), np.zeros(M), np.zeros(NE)
    blockE, blockI = np.full(NE, -1), np.full(NI, -1)
    kE_prev = kI_prev = -1
    spikes = []
    cut = -THRESHOLD_NOISE_CUTOFF * net.t_noise
    counter = stream_of(rng_state) == "counter"

    def noisy_select(V, T, vn, block, t):
        n = V.size
        if counter:  # indexed: voltage noise of neuron i at base + i, threshold noise at base + n + i
            base = int(rng_state[1])
            rng_state[1] = np.uint64(base + 2 * n)
            xv = normals_at(rng_state, base + np.arange(n))
            xt = normals_at(rng_state, base + n + np.arange(n))
            draw_v = lambda i: xv[i]  # noqa: E731
            draw_t = lambda i: xt[i]  # noqa: E731
        else:  # serial: per neuron, voltage noise then threshold noise if a candidate
            draw_v = draw_t = lambda i: normals(rng_state, 1)[0]  # noqa: E731
        u = np.empty(n)
        for i in range(n):
            if vn > 0:
                V[i] += vn * draw_v(i)
            u[i] = V[i] - T[i]
            if u[i] > cut:
                u[i] -= net.t_noise * draw_t(i)
        k = int(np.argmax(u))
        return k if (u[k] >= 0 and t > block[k]) else -1

    for t in range(c.shape[0]):
        VE = a * VE
        for j in range(M):  # same floating-point order as the kernel
            VE += F[:, j] * (net.dt * c[t, j])
        if kE_prev >= 0:
            VE += WEE[:, kE_prev]
        if kI_prev >= 0:
            VE += WIE[:, kI_prev]
        if learn:
            bE = aF * bE + net.dt * c[t]
            bI = a * bI
            if kE_prev >= 0:
                bI[kE_prev] += 1
        kE = noisy_select(VE, net.T_E, v_noise_E, blockE, t)
        if kE >= 0:
            blockE[kE] = t + net.refractory
            if learn and rules.ff_XE:
                F[kE] += rules.lr_ff * (bE - F[kE])
            if learn and rules.rec_EE:
                WEE[:, kE] = np.maximum(0, WEE[:, kE] - rules.lr_rec * (VE + rules.mu * rE + WEE[:, kE]))
                WEE[kE, kE] = net.e_self_reset
        VI = a * VI
        if kE >= 0:
            VI += WEI[:, kE]
        if kI_prev >= 0:
            VI += WII[:, kI_prev]
        kI = noisy_select(VI, net.T_I, net.v_noise_I, blockI, t)
        if kI >= 0:
            blockI[kI] = t + net.refractory
            if learn and rules.ff_EI:
                WEI[kI] = np.maximum(0, WEI[kI] + rules.lr_ff * (bI - WEI[kI]))
            if learn and rules.rec_II:
                d = VI + rules.mu * rI + WII[:, kI]
                d[kI] += rules.mu
                WII[:, kI] = np.minimum(0, WII[:, kI] - rules.lr_rec * d)
            if learn and rules.rec_IE:
                WIE[:, kI] = np.minimum(0, WIE[:, kI] - rules.lr_rec * (VE + rules.mu * rE + WIE[:, kI]))
        if not learn:
            rE *= a
            rI *= a
        if kI >= 0:
            rI[kI] += 1
        if kE >= 0:
            rE[kE] += 1
        if learn:
            rE *= a
            rI *= a
        spikes.append((kE, kI))
        kE_prev, kI_prev = kE, kI
    return dict(F_E=F, W_EE=WEE, W_EI=WEI, W_IE=WIE, W_II=WII), np.array(spikes), VE, VI, rE, rI


def small_random_net(seed=0, ne=8, ni=3, m=2):
    net = initial_ei_network(ne, ni, m, seed=seed)
    net.refractory = 3
    net.dt = 1e-3
    return net


@pytest.mark.parametrize("stream", STREAMS)
def test_kernel_matches_numpy_restatement_learning_with_noise(stream):
    net = small_random_net()
    c = block_noise_source(2, 5, amplitude=1500.0, block=200)(0, 1500)
    rules = EIRules(lr_ff=1e-2, lr_rec=5e-2, mu=0.01)
    W_ref, spk_ref, VE, VI, rE, rI = numpy_ei_learn(net, c, make_state(7, stream), rules, v_noise_E=0.01)
    res = learn_ei(net, lambda a, n: c[a:a + n], c.shape[0], rules=rules, seed=make_state(7, stream), v_noise_E=0.01,
                   chunk=333)
    assert (spk_ref[:, 0] >= 0).sum() > 100 and (spk_ref[:, 1] >= 0).sum() > 50
    for name, ref in W_ref.items():
        assert np.allclose(getattr(res.network, name), ref, rtol=0, atol=1e-12), name
    assert np.allclose(res.state.V_E, VE) and np.allclose(res.state.r_I, rI)
    assert res.total_spikes_E == (spk_ref[:, 0] >= 0).sum()
    # the learning changed every pathway
    for name in W_ref:
        assert not np.allclose(getattr(net, name), W_ref[name]), name


@pytest.mark.parametrize("stream", STREAMS)
def test_kernel_matches_numpy_restatement_frozen(stream):
    net = small_random_net(seed=3)
    c = block_noise_source(2, 6, amplitude=1500.0, block=200)(0, 800)
    _, spk_ref, VE, VI, rE, rI = numpy_ei_learn(net, c, make_state(9, stream), EIRules(),
                                                v_noise_E=net.v_noise_E, learn=False)
    rec = simulate_ei(net, c, seed=make_state(9, stream), record=("spikes_E", "spikes_I", "r_E"))
    kE = np.where(rec.spikes_E.any(axis=1), rec.spikes_E.argmax(axis=1), -1)
    kI = np.where(rec.spikes_I.any(axis=1), rec.spikes_I.argmax(axis=1), -1)
    assert np.array_equal(kE, spk_ref[:, 0]) and np.array_equal(kI, spk_ref[:, 1])
    assert np.allclose(rec.r_E[-1], rE)


def test_chunking_and_state_continuation_are_exact():
    net = small_random_net(seed=4)
    c = block_noise_source(2, 2, amplitude=1500.0, block=200)(0, 1000)
    src = lambda a, n: c[a:a + n]  # noqa: E731
    one = learn_ei(net, src, 1000, seed=11, chunk=1000, snapshot_steps=[0, 500, 1000])
    many = learn_ei(net, src, 1000, seed=11, chunk=77, snapshot_steps=[500])
    assert np.array_equal(one.network.W_EE, many.network.W_EE)
    assert np.array_equal(one.network.F_E, many.network.F_E)
    assert [s for s, _ in one.snapshots] == [0, 500, 1000]
    assert np.array_equal(one.snapshots[1][1].W_IE, many.snapshots[0][1].W_IE)
    assert np.array_equal(one.snapshots[0][1].W_IE, net.W_IE)
    # per-neuron spike counts over the run (homeostatic rules need them), the same in any chunking
    assert one.counts_E.sum() == one.total_spikes_E > 0 and one.counts_I.sum() == one.total_spikes_I > 0
    assert np.array_equal(one.counts_E, many.counts_E) and np.array_equal(one.counts_I, many.counts_I)
    whole = simulate_ei(net, c, seed=3, record=("r_E", "V_I"))
    first = simulate_ei(net, c[:400], seed=3, record=("r_E", "V_I"))
    rest = simulate_ei(net, c[400:], record=("r_E", "V_I"), state=first.state)
    assert np.array_equal(whole.r_E, np.vstack([first.r_E, rest.r_E]))
    assert np.allclose(whole.x, np.vstack([first.x, rest.x]))


# ------------------------------------------------------------------- Dale's law and pathway switches

@pytest.fixture(scope="module")
def short_learning():
    net = initial_ei_network(seed=2)
    src = block_noise_source(3, 2)
    return net, learn_ei(net, src, 60_000, seed=3, rules=EIRules(lr_ff=1e-3, lr_rec=1e-2))


def dale_ok(n: EINetwork) -> bool:
    off = ~np.eye(n.n_exc, dtype=bool)
    return (np.all(n.W_EE[off] >= 0) and np.all(np.diag(n.W_EE) == n.e_self_reset) and np.all(n.W_EI >= 0)
            and np.all(n.W_IE <= 0) and np.all(n.W_II <= 0))


def test_dale_law_holds_after_fast_learning(short_learning):
    net, res = short_learning
    n = res.network
    assert dale_ok(n)
    # the clipping was active: some E->E weights grew, and some weights sit exactly at 0
    off = ~np.eye(n.n_exc, dtype=bool)
    assert (n.W_EE[off] > 0).sum() > 100
    # columns are updated at every spike of their presynaptic neuron, so entries sitting exactly
    # at 0 after thousands of updates are where the clipping bound
    assert (n.W_EE[off] == 0).sum() > 0 and (n.W_IE == 0).sum() > 0
    assert res.total_spikes_E > 1000 and res.total_spikes_I > 1000


@pytest.mark.parametrize("off", ["ff_XE", "ff_EI", "rec_EE", "rec_IE", "rec_II"])
def test_pathway_switch_freezes_exactly_its_weights(off):
    net = small_random_net(seed=5, ne=12, ni=4)
    c = block_noise_source(2, 8, amplitude=1500.0, block=200)(0, 2000)
    rules = EIRules(lr_ff=1e-2, lr_rec=5e-2, **{off: False})
    res = learn_ei(net, lambda a, n: c[a:a + n], 2000, rules=rules, seed=1)
    frozen = {"ff_XE": "F_E", "ff_EI": "W_EI", "rec_EE": "W_EE", "rec_IE": "W_IE", "rec_II": "W_II"}
    for flag, name in frozen.items():
        same = np.array_equal(getattr(res.network, name), getattr(net, name))
        assert same == (flag == off), (flag, name)


def test_all_pathways_off_is_frozen_simulation():
    net = small_random_net(seed=6)
    c = block_noise_source(2, 8, amplitude=1500.0, block=200)(0, 500)
    res = learn_ei(net, lambda a, n: c[a:a + n], 500, rules=EIRules(**ALL_OFF), seed=1)
    for name in ("F_E", "W_EE", "W_EI", "W_IE", "W_II"):
        assert np.array_equal(getattr(res.network, name), getattr(net, name))
    assert res.total_spikes_E > 0


# ------------------------------------------------------------------------------- API and failures

def test_initial_network_matches_reference():
    net = initial_ei_network(seed=0)
    assert (net.n_exc, net.n_inh, net.n_inputs) == (300, 75, 3)
    assert np.allclose(np.linalg.norm(net.F_E, axis=1), 1.0) and np.allclose(net.T_E, 0.5)
    assert np.array_equal(np.flatnonzero(net.W_EI[7]), [7, 82, 157, 232]) and np.allclose(net.W_EI.sum(axis=1), 2.0)
    assert np.allclose(net.W_IE, -0.3 * net.W_EI.T) and np.allclose(net.W_II, -0.5 * np.eye(75))
    assert np.allclose(net.W_EE, -0.02 * np.eye(300))
    assert (net.dt, net.lam, net.refractory, net.t_noise) == (1e-4, 50.0, 10, 0.02)


def test_bad_inputs_raise_clear_errors():
    net = tiny_net()
    with pytest.raises(ValueError, match="NaN"):
        simulate_ei(net, np.array([[1.0], [np.nan]]))
    with pytest.raises(ValueError, match="input channel"):
        simulate_ei(net, np.zeros((5, 2)))
    with pytest.raises(ValueError, match="2-D"):
        simulate_ei(net, np.zeros(5))
    with pytest.raises(ValueError, match="cannot record"):
        simulate_ei(net, np.zeros((5, 1)), record=("bogus",))
    with pytest.raises(ValueError, match="probe"):
        simulate_ei(net, np.zeros((5, 1)), probe=(5, 0))
    with pytest.raises(ValueError, match="NaN"):
        learn_ei(net, lambda a, n: np.full((n, 1), np.nan), 10)
    with pytest.raises(ValueError, match="n_steps"):
        learn_ei(net, lambda a, n: np.zeros((n, 1)), -1)
    with pytest.raises(TypeError, match="EIRules"):
        learn_ei(net, lambda a, n: np.zeros((n, 1)), 10, rules=("x",))
    bad = net.copy()
    bad.W_EE[0, 1] = np.nan
    with pytest.raises(ValueError, match="W_EE"):
        simulate_ei(bad, np.zeros((5, 1)))
    with pytest.raises(ValueError, match="shape"):
        EINetwork(**{**{f: getattr(net, f) for f in ("F_E", "W_EE", "W_EI", "W_II", "D_E", "D_I", "T_E", "T_I")},
                     "W_IE": np.zeros((3, 1))})
    with pytest.raises(ValueError, match="state"):
        simulate_ei(net, np.zeros((5, 1)), state=EIState.zeros(3, 1, 1, make_state(0)))
    with pytest.raises(ValueError, match="n_trials"):
        fano_cv(net, 0, n_trials=1)


def test_recording_currents_and_vstats():
    net = initial_ei_network(seed=1)
    c = block_noise_source(3, 1)(0, 3000)
    rec = simulate_ei(net, c, seed=2, record=("currents", "v_stats", "V_E", "spikes_E"), probe=(5, 2))
    assert rec.currents_E.shape == (3000, 2) and rec.currents_I.shape == (3000, 2)
    assert np.all(rec.currents_E[:, 0] >= 0) and np.all(rec.currents_E[:, 1] <= 0)
    assert np.all(rec.currents_I[:, 0] >= 0) and np.all(rec.currents_I[:, 1] <= 0)
    # the I neuron's excitation is exactly W_EI[2, k] for this step's E spike k
    k = np.where(rec.spikes_E.any(axis=1), rec.spikes_E.argmax(axis=1), -1)
    exc = np.where(k >= 0, net.W_EI[2, np.maximum(k, 0)], 0.0)
    assert np.allclose(rec.currents_I[:, 0], exc)
    assert np.allclose(rec.v_var_E, rec.V_E.var(axis=0))
    assert rec.r_E is None and rec.spikes_I is None


def test_fano_cv_count_buffer_any_trial_number():
    net = initial_ei_network(seed=1)
    for n_trials in (3, 7):
        out = fano_cv(net, 0, n_directions=2, n_trials=n_trials, steps=3000)
        assert out["n_directions_used"] >= 1 and np.isfinite(out["fano"]) and np.isfinite(out["cv"])
        # the naive network fires regularly: CV well below 1, the CV of a Poisson train
        # (reference: 0.32; 0.8 is the claim "well below 1", not a noise margin)
        assert 0.0 <= out["cv"] < 0.8


# ------------------------------------------------------------------------- science: shortened run

@pytest.fixture(scope="module")
def reference_length_run():
    """2^19 steps (52.4 s simulated; ≈ 2 s here) from the reference's initial network."""
    net = initial_ei_network(seed=1)
    res = learn_ei(net, block_noise_source(3, 1), 2 ** 19, seed=1, snapshot_steps=[2])
    return res


def test_short_learning_run_error_and_rate_fall(reference_length_run):
    res = reference_length_run
    proto = EIEvalProtocol(n_trials=4)  # the reference's 4 s decoder fit, 4 test trials
    before = evaluate_ei(res.snapshots[0][1], 5, proto)
    after = evaluate_ei(res.network, 5, proto)
    # reference, seed 1: naive 0.38/0.36 error, 20.5/74.5 Hz, Var V_E 3.1; at 52 s 0.073-0.075 /
    # 0.073-0.075, 17.2-17.7 / 55-57 Hz, Var V_E 0.23.  This implementation over 5 seeds (2 s
    # decoder fit): naive 20.2-20.5 / 73-75 Hz, at 52 s E error 0.064-0.094, I 0.066-0.087,
    # rates 15.9-17.8 / 50.8-57.8 Hz, Var V_E 0.21-0.24.  Margins sit outside both spreads.
    assert 0.3 < before["error_E"] < 0.5 and 16 < before["rate_E_hz"] < 25
    assert after["error_E"] < 0.15 and after["error_E"] < before["error_E"] / 3
    assert after["error_I"] < 0.15 and after["error_I"] < before["error_I"] / 3
    assert after["rate_E_hz"] < before["rate_E_hz"] - 1.0
    assert after["rate_I_hz"] < before["rate_I_hz"] - 8.0
    assert after["v_var_E"] < before["v_var_E"] / 5
    assert dale_ok(res.network)


@pytest.mark.slow
def test_reference_A4_margins_at_2_pow_20():
    """docs/authors_code.md §8 A4 at 104.9 s (2^20 steps): E error < 0.06 and ≥ 6× below naive, I error
    < 0.08, E rate 11–17 Hz, I rate 35–55 Hz, Fano and CV larger than at the start."""
    net = initial_ei_network(seed=1)
    res = learn_ei(net, block_noise_source(3, 1), 2 ** 20, seed=1, snapshot_steps=[2])
    before = evaluate_ei(res.snapshots[0][1], 1)
    after = evaluate_ei(res.network, 1)
    assert after["error_E"] < 0.06 and after["error_E"] <= before["error_E"] / 6
    assert after["error_I"] < 0.08
    assert 11 <= after["rate_E_hz"] <= 17 and 35 <= after["rate_I_hz"] <= 55
    fc0 = fano_cv(res.snapshots[0][1], 2, n_directions=3, n_trials=50)
    fc1 = fano_cv(res.network, 2, n_directions=3, n_trials=50)
    assert fc1["fano"] > fc0["fano"] and fc1["cv"] > fc0["cv"]
    assert dale_ok(res.network)


def test_fig4_run_writes_metrics_and_figures(tmp_path):
    from neuromorph.experiments import fig4

    m = fig4.run(tmp_path, seed=1, iterations=16, progress=False,
                 protocol=EIEvalProtocol(decoder_steps=5000, test_steps=2000, n_trials=2),
                 fano_protocol=dict(n_directions=1, n_trials=3, steps=2000))
    assert m["steps"] == 16_000 and m["paper_steps"] == 2 ** 20 * 1000 and "shortened" in m["length_note"]
    for key in ("error_E_before", "error_E_after", "error_I_before", "error_I_after", "rate_E_before_hz",
                "rate_E_after_hz", "rate_I_before_hz", "rate_I_after_hz", "fano_before", "fano_after", "cv_before",
                "cv_after", "wall_seconds"):
        assert np.isfinite(m[key]), key
    assert m["learning_curve"]["step"] == [2 ** k for k in range(1, 14)] + [16_000]
    assert m["dale_law_holds_all_snapshots"]
    for name in ("learning_curves", "rasters_before_after", "currents_before_after", "decoder_vs_F", "tuning_curves"):
        assert (tmp_path / f"{name}.png").stat().st_size > 5000
    assert (tmp_path / "ei_network.npz").is_file()
