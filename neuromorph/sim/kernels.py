r"""Compiled (numba) per-step kernel of the SCN simulator with plasticity.

One time step, in the order of the authors' Fig 2 code (see ``docs/authors_code.md`` §2.3):

1. recurrent input arriving now: ``a = buf[t mod L]`` (spikes emitted ``delay`` steps ago,
   default 1: the code's "kick at the next step"); optionally filtered by a first-order synapse
   ``s ← a_s s + a``, delivered as ``(1 − a_s) s`` (same total charge, time constant
   −dt/ln a_s);
2. ``V ← (1 − λdt) V + dt F c_t + a + σ_V ξ``      (Eq 1, forward Euler; no explicit reset;
   the N noise samples ξ are drawn first, in neuron order, then the update runs fused with the
   selection of step 4 — the same values and draw order as separate passes)
3. ``x ← (1 − λdt) x + dt c_t``; FF trace ``b ← (1 − λ_b dt) b + dt c_t``
4. spike selection with threshold noise: ``u = V − T − σ_T η``;
   one-spike mode: ``k = argmax u``, spike iff ``u_k ≥ 0``;  multi-spike mode: every ``u_n ≥ 0``
5. at each spike (V pre-reset, r excluding this spike): FF rule on ``F[k]``, recurrent rule
   on ``Omega[:, k]`` (the rules' compiled updates of :mod:`neuromorph.sim.rules`); then ``r_k += 1``; the (updated) column ``Omega[:, k]`` is queued for
   delivery ``delay`` steps later (it contains the self-reset ``Omega_kk``)
6. ``r ← (1 − λdt) r`` after the increment (learning loop) or before it (``r_decay_first``,
   the frozen evaluation ``runnet``).

Threshold noise is drawn only for neurons with ``V − T > −8 σ_T``: a Gaussian exceeds 8σ with
probability 6·10⁻¹⁶, so this is exact in distribution for all practical purposes and saves
most of the draws.

Arguments travel as the records :class:`ScnNet`, :class:`ScnOptions`, :class:`ScnLearning`,
:class:`ScnState` and :class:`ScnRecord` (NamedTuples of arrays and numbers, built by
``simulator._run``).  :func:`scn_run` (cached) runs the built-in rules; :func:`scn_run_with`
gives the same step loop (:func:`make_scn_steps`) compiled for other rules' functions (a
registered rule that is not built in; compiled on first use in a process).
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from numba import njit

from quantization.chip_arith import grid_round

from neuromorph.sim.rng import (COUNTER_TAG, _normal_rejected, counter_fill_scaled, counter_normal, load, next_u64_regs,
                                store, uniform, zig_fast)
from neuromorph.sim.rules.feedforward import step_builtin as ff_step_builtin
from neuromorph.sim.rules.feedforward import update_builtin as ff_update_builtin
from neuromorph.sim.rules.recurrent import update_column as rec_update_builtin

THRESHOLD_NOISE_CUTOFF = 8.0

# record flags (bit mask)
REC_SPIKES = 1
REC_R = 2
REC_V = 4
REC_CURRENTS = 8


class ScnNet(NamedTuple):
    """The network as the kernel reads it.  F (N, M), Om (N, N) are the working weights (learning
    changes them in place); T (N,) thresholds; decay = 1 − λdt; dt (s); v_noise, t_noise the
    voltage and threshold noise σ (voltage units)."""

    F: np.ndarray
    Om: np.ndarray
    T: np.ndarray
    decay: float
    dt: float
    v_noise: float
    t_noise: float


class ScnOptions(NamedTuple):
    """Discretisation (see ``simulator.SimOptions``).  delay: the smallest delay in steps;
    delay_mat (N, N) int64 per-connection delays or (0, 0) for the scalar one; syn_decay = a_s
    (0 = no filter); syn_order 1 or 2; r_decay_first: decay r before the increment."""

    one_spike: bool
    r_decay_first: bool
    delay: int
    delay_mat: np.ndarray
    syn_decay: float
    syn_order: int
    subtractive: bool
    max_events: int


class ScnLearning(NamedTuple):
    """Plasticity.  ff_on / rec_on: the pathway learns; ff / rec: the rules' parameter records
    (:mod:`neuromorph.sim.rules`); b_decay = 1 − λ_b dt of the FF trace; q_rec, q_ff, q_max,
    diag_off (N,) or (1,): the weight grid (0 = none, ``simulator.WeightGrid``); rec_mask (N, N)
    uint8 connectivity mask (``rec_mask[i, k]`` = 0: Ω_ik stays exactly 0 through learning,
    :mod:`neuromorph.sim.connectivity`) or (0, 0) for none."""

    ff_on: bool
    ff: tuple
    rec_on: bool
    rec: tuple
    b_decay: float
    q_rec: float
    q_ff: float
    q_max: float
    diag_off: np.ndarray
    rec_mask: np.ndarray


class ScnState(NamedTuple):
    """Carried state (modified in place): rng uint64[4]; V, r, syn, syn2 (N,); x, b, m (M,);
    buf, bufE, bufI (max delay + 1, N); U (N, M); step0 absolute index of the first step."""

    rng: np.ndarray
    V: np.ndarray
    r: np.ndarray
    x: np.ndarray
    b: np.ndarray
    buf: np.ndarray
    syn: np.ndarray
    syn2: np.ndarray
    U: np.ndarray
    m: np.ndarray
    bufE: np.ndarray
    bufI: np.ndarray
    step0: int


class ScnRecord(NamedTuple):
    """Recording: mask (``REC_*`` bits); spikes (L, N) uint8, r, V, E, I (L, N) float64, or (0, 0)
    when not recorded; counts (N,) int64 accumulates spikes per neuron."""

    mask: int
    spikes: np.ndarray
    r: np.ndarray
    V: np.ndarray
    E: np.ndarray
    I: np.ndarray
    counts: np.ndarray


def make_scn_steps(ff_update, ff_step, rec_update, ff_row_only=False):
    """The compiled step loop with these rules: ``ff_update(F, k, b, U, p)``,
    ``ff_step(F, b, U, m, p)``, ``rec_update(Om, k, V, r, p)`` (called only when their pathway
    learns).  The rules are free variables of the loop, so their calls compile as direct
    (inlinable) calls and a cached caller stays cacheable.  ``ff_row_only``: ``ff_update``
    changes only the row ``F[k]`` (the built-in rules), so the kernel's column copy of F is
    refreshed for that row alone; otherwise whole after each update."""

    @njit
    def scn_steps(c, net, opt, lrn, st, rec):
        F, Om, T, decay, dt, v_noise, t_noise = net
        one_spike, r_decay_first, delay, delay_mat, syn_decay, syn_order, subtractive, max_events = opt
        learn_ff, ff_p, learn_rec, rec_p, b_decay, q_rec, q_ff, q_max, diag_off, conn = lrn
        masked = conn.shape[0] > 0
        rng_state, V, r, x, b, buf, syn, syn2, U, m, bufE, bufI, step0 = st
        rec_mask, rec_spikes, rec_r, rec_V, rec_E, rec_I, counts = rec
        N = F.shape[0]
        tmp_u = np.empty(N)
        tmp_rec = np.empty(N)
        tmp_acc = np.empty(N)
        # F by columns (M, N): the voltage update reads F[:, j], a stride-M walk on the C-ordered
        # (N, M) array; FT is kept equal to F (rows changed by the rules are copied back)
        FT = np.ascontiguousarray(F.T)
        um = np.empty(N)
        tmp_t = np.empty(N)
        cidx = np.empty(N, dtype=np.int64)  # this step's selection candidates, and their margins
        cu = np.empty(N)
        L = c.shape[0]
        M = F.shape[1]
        nbuf = buf.shape[0]
        rec_cur = (rec_mask & REC_CURRENTS) != 0
        cutoff = -THRESHOLD_NOISE_CUTOFF * t_noise
        # margins above cand_lo need the selection scan: threshold-noise candidates (u > cutoff)
        # or, without threshold noise, possible spikes (u ≥ 0 ⇔ u > the largest negative double)
        cand_lo = cutoff if t_noise > 0.0 else -5e-324
        total = 0
        spk = np.empty(N, dtype=np.int64)
        nev = np.ones(N, dtype=np.int64)
        # which buffer slots hold queued recurrent input (skip empty ones: spiking is sparse)
        dirty = np.ones(nbuf, dtype=np.bool_)
        # counter stream: the noise of step t sits at fixed positions (voltage noise of neuron i
        # at base + i, its threshold noise at base + N + i; base advances 2N a step, drawn or not)
        counter = rng_state[3] == COUNTER_TAG
        key = rng_state[0]
        n_u = np.uint64(N)
        slot = step0 % nbuf
        for t in range(L):
            # the buffer slot of this step, (step0 + t) mod nbuf, kept without a division
            if t > 0:
                slot = slot + 1 if slot + 1 < nbuf else 0
            base = rng_state[1]
            if counter:
                rng_state[1] = base + n_u + n_u
            # 1. recurrent arrivals (with optional first-order synaptic filter)
            if syn_decay > 0.0 and syn_order == 2:
                # second-order (alpha-shaped) synapse: two first-order stages in cascade, unit charge
                for i in range(N):
                    syn[i] = syn_decay * syn[i] + buf[slot, i]
                    syn2[i] = syn_decay * syn2[i] + (1.0 - syn_decay) * syn[i]
                    tmp_rec[i] = (1.0 - syn_decay) * syn2[i]
                    buf[slot, i] = 0.0
            elif syn_decay > 0.0:
                for i in range(N):
                    syn[i] = syn_decay * syn[i] + buf[slot, i]
                    tmp_rec[i] = (1.0 - syn_decay) * syn[i]
                    buf[slot, i] = 0.0
            elif dirty[slot]:
                for i in range(N):
                    tmp_rec[i] = buf[slot, i]
                    buf[slot, i] = 0.0
            else:
                for i in range(N):
                    tmp_rec[i] = 0.0
            dirty[slot] = False
            # 2a. voltage noise, one draw per neuron in neuron order before any other draw of the
            # step (the order of the reference), in a tight loop with the generator state in
            # registers (rng.fill_normal_scaled: the same stream, ≈2.5× faster than normal())
            if v_noise > 0.0:
                if counter:
                    counter_fill_scaled(key, base, tmp_u, N, v_noise)
                else:  # rng.xo_fill_normal_scaled written out: no call a step (inlining it by numba measured slower)
                    s0, s1, s2, s3 = load(rng_state)
                    for i in range(N):
                        w, s0, s1, s2, s3 = next_u64_regs(s0, s1, s2, s3)
                        xi, rejected = zig_fast(w)
                        tmp_u[i] = v_noise * xi
                        if rejected:
                            store(rng_state, s0, s1, s2, s3)
                            tmp_u[i] = v_noise * _normal_rejected(rng_state, w)
                            s0, s1, s2, s3 = load(rng_state)
                    store(rng_state, s0, s1, s2, s3)
            if rec_cur:
                for i in range(N):
                    e = 0.0
                    inh = 0.0
                    for j in range(M):
                        v = dt * F[i, j] * c[t, j]
                        if v > 0:
                            e += v
                        else:
                            inh += v
                    rec_E[t, i] = e + bufE[slot, i]
                    rec_I[t, i] = inh + bufI[slot, i]
                    bufE[slot, i] = 0.0
                    bufI[slot, i] = 0.0
            # 3. signal and feed-forward trace
            for j in range(M):
                x[j] = decay * x[j] + dt * c[t, j]
                b[j] = b_decay * b[j] + dt * c[t, j]
            if learn_ff:
                ff_step(F, b, U, m, ff_p)
            # 2b. voltage update (Eq 1) in branch-free passes the compiler vectorises: F c_t
            # summed over j in the same order as a scalar loop (bit-identical), then V and the
            # margins u = V − T, counting the neurons that can spike or need threshold noise
            for i in range(N):
                tmp_acc[i] = 0.0
            for j in range(M):
                cj = c[t, j]
                for i in range(N):
                    tmp_acc[i] += FT[j, i] * cj
            ncand = 0
            if v_noise > 0.0:
                for i in range(N):
                    v = decay * V[i] + dt * tmp_acc[i] + tmp_rec[i] + tmp_u[i]
                    V[i] = v
                    um[i] = v - T[i]
                    ncand += um[i] > cand_lo
            else:
                for i in range(N):
                    v = decay * V[i] + dt * tmp_acc[i] + tmp_rec[i]
                    V[i] = v
                    um[i] = v - T[i]
                    ncand += um[i] > cand_lo
            # 4. spike selection, only when some margin is near threshold (most steps: none, and
            # then nothing is drawn either, as in the reference).  Threshold noise for the
            # candidates in neuron order; one-spike mode keeps the first largest margin — among
            # u ≥ 0, which is the overall argmax whenever that one may spike — multi-spike mode
            # every non-negative one.
            nsp = 0
            if ncand > 0:
                # the candidates (margin above cand_lo) in neuron order, compacted branch-free: every
                # other neuron has u < 0 and draws nothing, so the scan below sees only these
                nc = 0
                for i in range(N):
                    cidx[nc] = i
                    nc += um[i] > cand_lo
                # threshold noise of the candidates: serial stream in neuron order in a tight loop
                # (state in registers); counter stream at fixed positions, as one vectorised block
                # when many neurons are candidates (the same values as the scalar draws)
                tmode = 0 if t_noise <= 0.0 else (1 if not counter else (3 if 8 * nc > N else 2))
                tb = base + n_u
                if tmode == 1:
                    s0, s1, s2, s3 = load(rng_state)
                    for q in range(nc):
                        w, s0, s1, s2, s3 = next_u64_regs(s0, s1, s2, s3)
                        eta, rejected = zig_fast(w)
                        if rejected:
                            store(rng_state, s0, s1, s2, s3)
                            eta = _normal_rejected(rng_state, w)
                            s0, s1, s2, s3 = load(rng_state)
                        cu[q] = um[cidx[q]] - t_noise * eta
                    store(rng_state, s0, s1, s2, s3)
                elif tmode == 2:
                    for q in range(nc):
                        cu[q] = um[cidx[q]] - t_noise * counter_normal(key, tb + np.uint64(cidx[q]))
                elif tmode == 3:
                    counter_fill_scaled(key, tb, tmp_t, N, t_noise)
                    for q in range(nc):
                        cu[q] = um[cidx[q]] - tmp_t[cidx[q]]
                else:
                    for q in range(nc):
                        cu[q] = um[cidx[q]]
                # selection: one-spike mode keeps the first largest margin among u ≥ 0 (which is
                # the overall argmax whenever that one may spike; branch-free), multi-spike mode
                # every non-negative one, in neuron order
                if one_spike:
                    best = -1
                    bestu = 0.0
                    for q in range(nc):
                        u = cu[q]
                        take = u >= 0.0 and (best < 0 or u > bestu)
                        best = cidx[q] if take else best
                        bestu = u if take else bestu
                    # a NaN margin of neuron 0 was the scalar scan's argmax and blocked the step
                    if best >= 0 and um[0] == um[0]:
                        spk[0] = best
                        nsp = 1
                else:
                    for q in range(nc):
                        u = cu[q]
                        if u >= 0.0:
                            i = cidx[q]
                            spk[nsp] = i
                            if subtractive:
                                # the chip emits floor(V/θ) events (capped) and subtracts them all
                                ne = 1 + int(u / T[i])
                                nev[nsp] = ne if ne < max_events else max_events
                            nsp += 1
            # 5. plasticity at spikes (V pre-reset, r before this step's spikes)
            for q in range(nsp):
                k = spk[q]
                if learn_ff:
                    ff_update(F, k, b, U, ff_p)
                    if q_ff > 0.0:
                        for j in range(M):
                            F[k, j] = grid_round(F[k, j], 0.0, q_ff, q_max, uniform(rng_state))
                    if ff_row_only:
                        for j in range(M):
                            FT[j, k] = F[k, j]
                    else:  # a rule not built in may change any row
                        for i in range(N):
                            for j in range(M):
                                FT[j, i] = F[i, j]
                if learn_rec:
                    rec_update(Om, k, V, r, rec_p)
                    if q_rec > 0.0:
                        for i in range(N):
                            Om[i, k] = grid_round(Om[i, k], diag_off[k] if i == k else 0.0, q_rec, q_max,
                                                 uniform(rng_state))
                    if masked:
                        # the rule may move every weight of the column; absent connections stay 0
                        for i in range(N):
                            if conn[i, k] == 0:
                                Om[i, k] = 0.0
            if r_decay_first:
                for i in range(N):
                    r[i] *= decay
            dslot = slot + delay if slot + delay < nbuf else slot + delay - nbuf  # (step0 + t + delay) mod nbuf
            per_conn = delay_mat.shape[0] > 0
            if nsp > 0:
                if per_conn:
                    for qq in range(nbuf):
                        dirty[qq] = True
                else:
                    dirty[dslot] = True
            for q in range(nsp):
                k = spk[q]
                ne = nev[q] if (subtractive and not one_spike) else 1
                r[k] += ne
                counts[k] += ne
                if per_conn or rec_cur:
                    for i in range(N):
                        ds = (step0 + t + delay_mat[i, k]) % nbuf if per_conn else dslot
                        buf[ds, i] += ne * Om[i, k]
                        if rec_cur and i != k:
                            w = Om[i, k]
                            if w > 0:
                                bufE[ds, i] += w
                            else:
                                bufI[ds, i] += w
                else:
                    # the common case as a plain axpy the compiler vectorises
                    fne = float(ne)
                    for i in range(N):
                        buf[dslot, i] += fne * Om[i, k]
                if subtractive:
                    # reset −T_k at once (as the chip does); the rest of Ω_kk arrives through the synapse
                    V[k] -= ne * T[k]
                    ds = (step0 + t + delay_mat[k, k]) % nbuf if per_conn else dslot
                    buf[ds, k] += ne * T[k]
            if not r_decay_first:
                for i in range(N):
                    r[i] *= decay
            total += nsp
            # recording
            if rec_mask & REC_SPIKES:
                for q in range(nsp):
                    rec_spikes[t, spk[q]] = nev[q] if (subtractive and not one_spike) else 1
            if rec_mask & REC_R:
                for i in range(N):
                    rec_r[t, i] = r[i]
            if rec_mask & REC_V:
                for i in range(N):
                    rec_V[t, i] = V[i]
        return total

    return scn_steps


_builtin_steps = make_scn_steps(ff_update_builtin, ff_step_builtin, rec_update_builtin, True)


@njit(cache=True, nogil=True)
def scn_run(c, net, opt, lrn, st, rec):
    """Advance the network ``c.shape[0]`` steps in place with the built-in rules. Returns the
    number of spikes.  c (L, M) input current; the records as in the module docstring."""
    return _builtin_steps(c, net, opt, lrn, st, rec)


@functools.lru_cache(maxsize=None)
def scn_run_with(ff_update, ff_step, rec_update):
    """:func:`scn_run` for other rules' compiled functions (signatures in
    :mod:`neuromorph.sim.rules.registry`): the loop compiled for them, once per process
    (numba cannot cache a loop whose rules are not fixed in source)."""
    return njit(nogil=True)(make_scn_steps(ff_update, ff_step, rec_update).py_func)
