"""The rule registry: a new rule is one file plus its registration, run through ``learn``.

A toy "decay" rule (every spike of k multiplies the column Ω[:, k] by 1 − rate) is registered
without touching the package; after a run its column equals the initial one times
(1 − rate)^(spikes of k), which the test computes from the spike counts.  The same rule through
the NumPy reference gives identical weights.
"""
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pytest
from numba import njit

from neuromorph.network import SCN
from neuromorph.sim.reference_numpy import learn_numpy
from neuromorph.sim.rng import make_state
from neuromorph.sim.rules import DEFAULT_REGISTRY, Binding, FeedforwardRule, RecurrentRule, RuleSpec
from neuromorph.sim.simulator import block_noise_source, learn


class DecayParams(NamedTuple):
    rate: float


@njit(cache=True, inline="always")
def decay_column(Om, k, V, r, p):
    for i in range(Om.shape[0]):
        Om[i, k] *= 1.0 - p.rate


@dataclass
class DecayRule:
    rate: float = 0.01


DECAY = RuleSpec(DecayRule, "recurrent", lambda rule, net: Binding(DecayParams(rule.rate), decay_column))


def _net(seed=0, n=6, m=2) -> SCN:
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((n, m))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    return SCN(F=F, Omega=-(F @ F.T) - 0.02 * np.eye(n), D=F.T.copy(), thresholds=0.5, v_noise=0.001,
               t_noise=0.01)


def test_unregistered_rule_is_refused():
    with pytest.raises(TypeError, match="unsupported rule"):
        learn(_net(), block_noise_source(2, 1), 10, rules=(DecayRule(),))


def test_toy_rule_runs_through_learn():
    net = _net()
    reg = DEFAULT_REGISTRY.with_rule(DECAY)
    assert DecayRule in reg and DecayRule not in DEFAULT_REGISTRY  # registries are immutable
    rate = 0.01
    res = learn(net, block_noise_source(2, 3), 3000, rules=(DecayRule(rate),), seed=2, registry=reg, chunk=700)
    assert res.total_spikes > 20
    # the column of k is scaled once per spike of k; products of up to ~10^3 factors: relative
    # rounding ≤ 10^3 · 2^-53 ≈ 1e-13, so 1e-12 is a safe bound
    expected = net.Omega * (1.0 - rate) ** res.counts[None, :]
    assert np.allclose(res.network.Omega, expected, rtol=1e-12, atol=0)
    assert np.array_equal(res.network.F, net.F)  # no feed-forward rule: F frozen
    # the same spikes and weights from the NumPy reference, which calls the same compiled update
    c = block_noise_source(2, 3)(0, 3000)
    _, Om_ref, spikes = learn_numpy(net, c, make_state(2), (DecayRule(rate),), registry=reg)
    res2 = learn(net, block_noise_source(2, 3), 3000, rules=(DecayRule(rate),), seed=make_state(2), registry=reg)
    assert (spikes >= 0).sum() == res2.total_spikes
    assert np.array_equal(res2.network.Omega, Om_ref)


def test_toy_rule_with_builtin_feedforward_equals_builtin_kernel_on_that_pathway():
    """Mixing a registered rule with a built-in one uses the kernel compiled for the toy rule;
    a zero-rate decay leaves Ω alone, so F must match the cached built-in kernel exactly."""
    net = _net(1)
    reg = DEFAULT_REGISTRY.with_rule(DECAY)
    ff = FeedforwardRule(lr=1e-3)
    a = learn(net, block_noise_source(2, 4), 2000, rules=(DecayRule(0.0), ff), seed=5, registry=reg)
    b = learn(net, block_noise_source(2, 4), 2000, rules=(RecurrentRule(enabled=False), ff), seed=5)
    assert np.array_equal(a.network.F, b.network.F) and not np.array_equal(a.network.F, net.F)
    assert np.array_equal(a.network.Omega, net.Omega)


def test_rule_on_spike_is_the_compiled_update():
    """``rule.on_spike`` (Python path) and the kernel run the same function: one hand step."""
    from neuromorph.sim.rules import LearningState

    Om = np.array([[-0.5, 0.1], [0.2, -0.5]])
    st = LearningState(F=np.array([[1.0, 0.0], [0.0, 1.0]]), Omega=Om, V=np.array([0.6, -0.6]),
                       r=np.array([1.0, 0.0]), b=np.array([0.3, 0.4]), U=np.zeros((2, 2)))
    RecurrentRule(lr=0.1, beta=2.0, mu=0.5).on_spike(st, 0)
    assert Om[0, 0] == pytest.approx(-0.5 - 0.1 * (2.0 * (0.6 + 0.5) - 0.5) - 0.1 * 0.5)
    assert Om[1, 0] == pytest.approx(0.2 - 0.1 * (2.0 * -0.6 + 0.2))
    FeedforwardRule(lr=0.1, alpha=0.5, form="paper").on_spike(st, 1)
    assert st.F[1] == pytest.approx([0.1 * 0.3, 1.0 + 0.1 * (0.4 - 0.5)])
