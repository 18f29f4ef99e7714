"""A straightforward per-step NumPy implementation of the SCN learning loop.

It exists for two reasons: (1) tests check that the compiled kernel (:mod:`neuromorph.sim.kernels`)
gives *identical* spikes and weights; the rules' updates are the same compiled functions the kernel
calls (:mod:`neuromorph.sim.rules`, looked up in the same registry), called here from Python at
spike times, so the step order, noise and bookkeeping are what this restatement checks; (2) the
benchmarks report the kernel's speed as a ratio against it.  It draws its noise from the same
generator in the same order as the kernel — on the counter stream from the same positions
(voltage noise of neuron i at step t: position base + i, threshold noise base + N + i, base
advancing 2N a step), drawn by index with :func:`~neuromorph.sim.rng.normals_at`.  Only the default discretisation (one spike per
step, delay 1, no synaptic filter) is implemented.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from neuromorph.network import SCN
from neuromorph.sim.kernels import THRESHOLD_NOISE_CUTOFF
from neuromorph.sim.rng import normals, normals_at, stream_of
from neuromorph.sim.rules import DEFAULT_REGISTRY, Binding, RuleRegistry


def learn_numpy(net: SCN, c: np.ndarray, rng_state: np.ndarray, rules: Sequence = (),
                r_decay_first: bool = False, registry: RuleRegistry = DEFAULT_REGISTRY) -> tuple:
    """Run ``c`` (T, M) through ``net`` with the given rules; returns (F, Omega, spikes (T,) int,
    with −1 for no spike). ``rng_state`` is advanced exactly as the kernel advances it.
    ``rules`` are looked up in ``registry``; disabled ones are skipped."""
    F = net.F.copy()
    Om = net.Omega.copy()
    N, M = F.shape
    a = net.decay
    bound = registry.bind([r for r in rules if getattr(r, "enabled", True)], net)
    ff: Optional[Binding] = bound.get("feedforward")
    rc: Optional[Binding] = bound.get("recurrent")
    ff = ff if ff is not None and ff.active else None
    rc = rc if rc is not None and rc.active else None
    b_leak = net.lam if (ff is None or ff.trace_leak is None) else ff.trace_leak
    ab = 1.0 - b_leak * net.dt
    V = np.zeros(N)
    r = np.zeros(N)
    b = np.zeros(M)
    m = np.zeros(M)
    U = np.zeros((N, M))
    pending = np.zeros(N)
    cutoff = -THRESHOLD_NOISE_CUTOFF * net.t_noise
    spikes = np.full(c.shape[0], -1, dtype=np.int64)
    counter = stream_of(rng_state) == "counter"
    for t in range(c.shape[0]):
        base = int(rng_state[1])
        if counter:
            rng_state[1] = np.uint64(base + 2 * N)
        V *= a
        V += net.dt * (F @ c[t]) + pending
        if net.v_noise > 0:
            xi = normals_at(rng_state, base + np.arange(N)) if counter else normals(rng_state, N)
            V += net.v_noise * xi
        b *= ab
        b += net.dt * c[t]
        if ff is not None and ff.step is not None:
            ff.step(F, b, U, m, ff.params)
        u = V - net.thresholds
        if net.t_noise > 0:
            cand = np.flatnonzero(u > cutoff)
            eta = normals_at(rng_state, base + N + cand) if counter else normals(rng_state, cand.size)
            u[cand] -= net.t_noise * eta
        k = int(np.argmax(u))
        pending = np.zeros(N)
        if u[k] >= 0:
            spikes[t] = k
            if ff is not None:
                ff.update(F, k, b, U, ff.params)
            if rc is not None:
                rc.update(Om, k, V, r, rc.params)
            if r_decay_first:
                r *= a
            r[k] += 1.0
            pending = Om[:, k].copy()
            if not r_decay_first:
                r *= a
        else:
            r *= a
    return F, Om, spikes
