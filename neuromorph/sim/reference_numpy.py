"""A straightforward per-step NumPy implementation of the SCN learning loop.

It exists for two reasons: (1) tests check that the compiled kernel (:mod:`neuromorph.sim.kernels`)
gives *identical* spikes and weights, and that the rule objects of :mod:`neuromorph.sim.plasticity`
(called here at spike times through ``rule.on_spike``) are what the kernel computes; (2) the
benchmarks report the kernel's speed as a ratio against it.  It draws its noise from the same
generator in the same order as the kernel.  Only the default discretisation (one spike per
step, delay 1, no synaptic filter) is implemented.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from neuromorph.sim.kernels import THRESHOLD_NOISE_CUTOFF
from neuromorph.network import SCN
from neuromorph.sim.plasticity import FeedforwardRule, LearningState, RecurrentRule
from neuromorph.sim.rng import normals


def learn_numpy(net: SCN, c: np.ndarray, rng_state: np.ndarray, rules: Sequence = (),
                r_decay_first: bool = False) -> tuple:
    """Run ``c`` (T, M) through ``net`` with the given rules; returns (F, Omega, spikes (T,) int,
    with −1 for no spike). ``rng_state`` is advanced exactly as the kernel advances it."""
    F = net.F.copy()
    Om = net.Omega.copy()
    N, M = F.shape
    a = net.decay
    rrule: Optional[RecurrentRule] = next((r for r in rules if isinstance(r, RecurrentRule) and r.enabled), None)
    frule: Optional[FeedforwardRule] = next((r for r in rules if isinstance(r, FeedforwardRule) and r.enabled), None)
    b_leak = net.lam if (frule is None or frule.trace_leak is None) else frule.trace_leak
    ab = 1.0 - b_leak * net.dt
    cov_rate = frule.cov_leak * net.dt if frule is not None else 0.0
    V = np.zeros(N)
    r = np.zeros(N)
    b = np.zeros(M)
    m = np.zeros(M)
    U = np.zeros((N, M))
    pending = np.zeros(N)
    cutoff = -THRESHOLD_NOISE_CUTOFF * net.t_noise
    spikes = np.full(c.shape[0], -1, dtype=np.int64)
    st = LearningState(F=F, Omega=Om, V=V, r=r, b=b, U=U)
    for t in range(c.shape[0]):
        V *= a
        V += net.dt * (F @ c[t]) + pending
        if net.v_noise > 0:
            V += net.v_noise * normals(rng_state, N)
        b *= ab
        b += net.dt * c[t]
        if frule is not None and frule.form == "correlated":
            m *= 1 - cov_rate
            m += cov_rate * b
            U *= 1 - cov_rate
            U += cov_rate * np.outer(F @ (b - m), b - m)
        u = V - net.thresholds
        if net.t_noise > 0:
            cand = np.flatnonzero(u > cutoff)
            u[cand] -= net.t_noise * normals(rng_state, cand.size)
        k = int(np.argmax(u))
        pending = np.zeros(N)
        if u[k] >= 0:
            spikes[t] = k
            if frule is not None:
                frule.on_spike(st, k)
            if rrule is not None:
                rrule.on_spike(st, k)
            if r_decay_first:
                r *= a
            r[k] += 1.0
            pending = Om[:, k].copy()
            if not r_decay_first:
                r *= a
        else:
            r *= a
    return F, Om, spikes
