"""Alpha-shaped (second-order) synaptic filter of the EI simulator (``syn_tau``).

The filter must reproduce the SCN kernel's ``syn_order == 2`` cascade exactly
(``s1 ← a s1 + kick; s2 ← a s2 + (1 − a) s1; delivered = (1 − a) s2``, a = exp(−dt/τ)), keep the
self-resets immediate, be bit-for-bit absent at ``syn_tau = 0``, carry its state across chunks,
and record the filtered currents at the probe.
"""
import numpy as np
import pytest

from neuromorph.sim.ei_simulator import EIState, learn_ei, simulate_ei
from neuromorph.sim.init import initial_ei_network
from neuromorph.experiments.fig7 import alpha_kernel
from neuromorph.network import EINetwork
from neuromorph.sim.plasticity import EIRules
from neuromorph.sim.rng import make_state
from neuromorph.sim.simulator import block_noise_source

DT = 1e-4
TAU = 1e-3
A = np.exp(-DT / TAU)


def impulse_net(**kw) -> EINetwork:
    """2 E, 1 I, no leak, no noise.  E0 is pushed over threshold at step 0 only (then reset far
    below); E1 and I0 have unreachable thresholds, so E0's single spike is the only event."""
    base = dict(F_E=np.array([[1.0], [0.0]]), W_EE=np.array([[-0.5, 0.0], [0.1, -0.5]]),
                W_EI=np.array([[0.3, 0.0]]), W_IE=np.array([[-0.2], [-0.4]]), W_II=np.array([[-0.7]]),
                D_E=np.zeros((1, 2)), D_I=np.zeros((1, 1)), T_E=np.array([0.5, 100.0]), T_I=np.array([100.0]),
                lam=0.0, dt=DT, v_noise_E=0.0, v_noise_I=0.0, t_noise=0.0, refractory=0, e_self_reset=-0.5)
    base.update(kw)
    return EINetwork(**base)


def kick_input(n: int) -> np.ndarray:
    c = np.zeros((n, 1))
    c[0, 0] = 0.6 / DT  # dt F c = 0.6 >= 0.5 at step 0
    return c


def cascade(w: float, n: int, first: int) -> np.ndarray:
    """Per-step delivery of a kick ``w`` entering the cascade at step ``first`` (closed form)."""
    out = np.zeros(n)
    m = np.arange(n - first)
    out[first:] = w * (1.0 - A) ** 2 * (m + 1) * A ** m
    return out


def rich_net(seed: int = 3) -> EINetwork:
    """Small Fig 4 network with random lateral E→E excitation, so every pathway carries kicks."""
    net = initial_ei_network(24, 6, 2, seed=seed)
    rng = np.random.default_rng(seed)
    W = rng.uniform(0.0, 0.02, (24, 24))
    np.fill_diagonal(W, net.e_self_reset)
    net.W_EE = W
    return net


def drive(n: int, m: int = 2, seed: int = 1) -> np.ndarray:
    return block_noise_source(m, seed)(0, n)


# --------------------------------------------------------------------------- syn_tau = 0 is the old code

def test_syn_tau_zero_is_bit_identical_to_default():
    net = rich_net()
    c = drive(3000)
    rec = ("spikes_E", "spikes_I", "r_E", "r_I", "V_E", "currents")
    a = simulate_ei(net, c, seed=5, record=rec)
    b = simulate_ei(net, c, seed=5, record=rec, syn_tau=0.0)
    assert a.counts_E.sum() > 20 and a.counts_I.sum() > 0
    for name in ("spikes_E", "spikes_I", "r_E", "r_I", "V_E", "currents_E", "currents_I"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    # the filter does change the dynamics
    f = simulate_ei(net, c, seed=5, record=rec, syn_tau=2e-3)
    assert not np.array_equal(a.V_E, f.V_E)
    # learning too
    src = block_noise_source(2, 7)
    la = learn_ei(net, src, 2000, seed=1)
    lb = learn_ei(net, src, 2000, seed=1, syn_tau=0.0)
    for name in ("F_E", "W_EE", "W_EI", "W_IE", "W_II"):
        assert np.array_equal(getattr(la.network, name), getattr(lb.network, name)), name
    assert la.total_spikes_E == lb.total_spikes_E and la.total_spikes_I == lb.total_spikes_I


# --------------------------------------------------------------------------- impulse response

def test_impulse_response_matches_alpha_cascade():
    n = 400
    net = impulse_net()
    rec = simulate_ei(net, kick_input(n), seed=0, record=("V_E", "V_I", "spikes_E", "spikes_I"), syn_tau=TAU)
    assert rec.spikes_E[:, 0].nonzero()[0].tolist() == [0]
    assert rec.spikes_E[:, 1].sum() == 0 and rec.spikes_I.sum() == 0
    # E1: E0's kick W_EE[1, 0] = 0.1 arrives (unfiltered) at step 1 -> enters the cascade at step 1
    ve1 = np.cumsum(cascade(0.1, n, 1))
    assert rec.V_E[0, 1] == 0.0
    assert rec.V_E[1, 1] == pytest.approx(0.1 * (1 - A) ** 2, abs=1e-15)
    assert np.max(np.abs(rec.V_E[:, 1] - ve1)) < 1e-12
    # I0: this step's E spike reaches I at once -> enters at step 0
    vi = np.cumsum(cascade(0.3, n, 0))
    assert np.max(np.abs(rec.V_I[:, 0] - vi)) < 1e-12
    # the same kernel as the SCN simulator's alpha synapse (fig7.alpha_kernel: unit kick at step 1)
    _, k = alpha_kernel(TAU, dt=DT, t_max_ms=n * DT * 1e3)
    assert np.max(np.abs(np.diff(rec.V_E[:, 1], prepend=0.0) - 0.1 * k * DT * 1e3)) < 1e-12
    # time to peak ≈ syn_tau
    peak = int(np.argmax(np.diff(rec.V_E[:, 1], prepend=0.0)))
    assert abs((peak - 1) - TAU / DT) <= 1


def test_total_delivered_charge_equals_weight():
    n = 3000  # 30 τ: the tail (n+1) a^n is negligible
    net = impulse_net()
    rec = simulate_ei(net, kick_input(n), seed=0, record=("V_E", "V_I"), syn_tau=TAU)
    assert rec.V_E[-1, 1] == pytest.approx(0.1, abs=1e-9)
    assert rec.V_I[-1, 0] == pytest.approx(0.3, abs=1e-9)
    # unfiltered run: the same final voltages (charge preserved), delivered in one step
    raw = simulate_ei(net, kick_input(n), seed=0, record=("V_E", "V_I"))
    assert raw.V_E[-1, 1] == pytest.approx(0.1, abs=1e-15) and raw.V_E[0, 1] == 0.0
    assert np.max(np.abs(rec.V_E[-1] - raw.V_E[-1])) < 1e-9


def test_filtered_probe_currents_of_impulse():
    n = 200
    net = impulse_net()
    rec = simulate_ei(net, kick_input(n), seed=0, record=("currents",), probe=(1, 0), syn_tau=TAU)
    assert np.max(np.abs(rec.currents_E[:, 0] - cascade(0.1, n, 1))) < 1e-15
    assert np.all(rec.currents_E[:, 1] == 0.0)
    assert np.max(np.abs(rec.currents_I[:, 0] - cascade(0.3, n, 0))) < 1e-15
    assert np.all(rec.currents_I[:, 1] == 0.0)


# --------------------------------------------------------------------------- self-resets stay immediate

@pytest.mark.parametrize("syn_tau", [0.0, TAU])
def test_self_resets_are_immediate(syn_tau):
    n = 50
    # E self-reset: E0 fires at step 0, its V drops by W_EE[0, 0] at step 1 (nothing else reaches E0)
    net = impulse_net()
    rec = simulate_ei(net, kick_input(n), seed=0, record=("V_E",), syn_tau=syn_tau)
    assert rec.V_E[0, 0] == pytest.approx(0.6, abs=1e-15)
    assert rec.V_E[1, 0] - rec.V_E[0, 0] == pytest.approx(-0.5, abs=1e-15)
    assert np.all(rec.V_E[1:, 0] == rec.V_E[1, 0])
    # I self-reset: a strong E→I weight makes I0 fire at step 0 in both modes; at step 1 its V
    # drops by W_II[0, 0] on top of the (filtered) E input; its I→E kick is filtered
    net = impulse_net(W_EI=np.array([[200.0, 0.0]]), T_I=np.array([0.5]), refractory=1000)
    rec = simulate_ei(net, kick_input(n), seed=0, record=("V_E", "V_I", "spikes_I"), syn_tau=syn_tau)
    assert rec.spikes_I[:, 0].nonzero()[0].tolist() == [0]
    ei_in = cascade(200.0, n, 0) if syn_tau > 0 else np.eye(1, n)[0] * 200.0
    assert rec.V_I[0, 0] == pytest.approx(ei_in[0], abs=1e-12)
    assert rec.V_I[1, 0] - rec.V_I[0, 0] - ei_in[1] == pytest.approx(-0.7, abs=1e-12)
    # I0's kick W_IE[1, 0] = -0.4 and E0's W_EE[1, 0] = 0.1 reach E1 from step 1 on
    e1_in = (cascade(0.1 - 0.4, n, 1) if syn_tau > 0 else np.eye(1, n, 1)[0] * (0.1 - 0.4))
    assert np.max(np.abs(rec.V_E[:, 1] - np.cumsum(e1_in))) < 1e-12


# --------------------------------------------------------------------------- exact probe currents

def test_recorded_currents_are_the_delivered_input():
    net = rich_net()
    net.v_noise_E = net.v_noise_I = 0.0  # V changes only by leak, input and self-reset
    c = drive(4000)
    p = (5, 2)
    rec = simulate_ei(net, c, seed=2, record=("V_E", "V_I", "spikes_E", "spikes_I", "currents"), probe=p,
                      syn_tau=2e-3)
    assert rec.spikes_E[:, p[0]].sum() > 0 and rec.spikes_I[:, p[1]].sum() > 0
    assert rec.currents_E[:, 0].max() > 0 and rec.currents_E[:, 1].min() < 0
    a = 1.0 - net.lam * net.dt
    ve, vi = rec.V_E[:, p[0]], rec.V_I[:, p[1]]
    dve = ve[1:] - a * ve[:-1] - net.W_EE[p[0], p[0]] * rec.spikes_E[:-1, p[0]]
    dvi = vi[1:] - a * vi[:-1] - net.W_II[p[1], p[1]] * rec.spikes_I[:-1, p[1]]
    assert np.max(np.abs(dve - rec.currents_E[1:].sum(axis=1))) < 1e-12
    assert np.max(np.abs(dvi - rec.currents_I[1:].sum(axis=1))) < 1e-12
    # the I neuron has no feed-forward drive: its recorded parts have fixed signs
    assert np.all(rec.currents_I[:, 0] >= 0.0) and np.all(rec.currents_I[:, 1] <= 0.0)


# --------------------------------------------------------------------------- continuation

def test_chunked_simulation_equals_one_run_with_filter():
    net = rich_net()
    c = drive(3000)
    recs = ("spikes_E", "spikes_I", "r_E", "r_I", "V_E", "V_I", "currents")
    one = simulate_ei(net, c, seed=4, record=recs, probe=(3, 1), syn_tau=1.5e-3)
    a = simulate_ei(net, c[:1234], seed=4, record=recs, probe=(3, 1), syn_tau=1.5e-3)
    assert np.any(a.state.syn_E1 != 0) and np.any(a.state.syn_I2 != 0) and np.any(a.state.syn_probe != 0)
    b = simulate_ei(net, c[1234:], state=a.state, record=recs, probe=(3, 1), syn_tau=1.5e-3)
    assert one.counts_E.sum() > 20
    for name in ("spikes_E", "spikes_I", "r_E", "r_I", "V_E", "V_I", "currents_E", "currents_I"):
        assert np.array_equal(getattr(one, name), np.concatenate([getattr(a, name), getattr(b, name)])), name


def test_chunked_learning_equals_one_run_with_filter():
    net = rich_net()
    src = block_noise_source(2, 11)
    rules = EIRules()
    one = learn_ei(net, src, 3000, rules=rules, seed=6, syn_tau=1e-3, chunk=3000)
    a = learn_ei(net, src, 1100, rules=rules, seed=6, syn_tau=1e-3)
    b = learn_ei(a.network, lambda s, n: src(1100 + s, n), 1900, rules=rules, state=a.state, syn_tau=1e-3)
    assert one.total_spikes_E > 0
    assert one.total_spikes_E == a.total_spikes_E + b.total_spikes_E
    for name in ("F_E", "W_EE", "W_EI", "W_IE", "W_II"):
        assert np.array_equal(getattr(one.network, name), getattr(b.network, name)), name
    for name in ("V_E", "V_I", "syn_E1", "syn_E2", "syn_I1", "syn_I2"):
        assert np.array_equal(getattr(one.state, name), getattr(b.state, name)), name


# --------------------------------------------------------------------------- state and validation

def test_state_defaults_and_shape_check():
    st = EIState.zeros(3, 2, 1, make_state(0))
    assert st.syn_E1.shape == (3,) and st.syn_I2.shape == (2,) and st.syn_probe.shape == (4, 2)
    # constructed without the filter fields: zeros
    st2 = EIState(V_E=np.zeros(3), V_I=np.zeros(2), r_E=np.zeros(3), r_I=np.zeros(2), b_E=np.zeros(1),
                  b_I=np.zeros(3), ref_E=np.full(3, -1), ref_I=np.full(2, -1), prev_E=np.zeros(3, np.int64),
                  prev_I=np.zeros(2, np.int64), n_prev=np.zeros(2, np.int64), rng_state=make_state(0))
    assert np.all(st2.syn_E2 == 0) and st2.syn_I1.shape == (2,) and np.all(st2.syn_probe == 0)
    net = impulse_net()
    bad = EIState.zeros(2, 1, 1, make_state(0))
    bad.syn_E2 = np.zeros(3)
    with pytest.raises(ValueError, match="syn_E2"):
        simulate_ei(net, np.zeros((5, 1)), state=bad, syn_tau=TAU)


@pytest.mark.parametrize("bad", [-1e-3, float("nan"), float("inf"), "fast"])
def test_invalid_syn_tau_raises(bad):
    net = impulse_net()
    with pytest.raises(ValueError, match="syn_tau"):
        simulate_ei(net, np.zeros((5, 1)), seed=0, syn_tau=bad)
    with pytest.raises(ValueError, match="syn_tau"):
        learn_ei(net, lambda s, n: np.zeros((n, 1)), 5, seed=0, syn_tau=bad)
