r"""Compiled (numba) kernel of the excitatory–inhibitory (Dale's law) SCN of the paper's Fig 4.

One time step, in the order of the authors' Fig 4 learning loop (``docs/authors_code.md`` §3.2).
Notation: ``a = 1 − λdt`` (one-step leak), E-population state ``V_E, r_E`` (N_E,), I-population
state ``V_I, r_I`` (N_I,), input trace ``b_E`` (M,), E-spike trace ``b_I`` (N_E,).  "prev" are the
spikes emitted at the previous step (at most one per population in the default one-spike mode).

1. ``V_E ← a V_E + dt F_E c_t + Σ_prevE W_EE[:, k] + Σ_prevI W_IE[:, k] + σ_E ξ``
   (recurrent kicks of the *previous* step; the E self-reset is W_EE's diagonal; serial stream:
   the noise ξ is drawn neuron by neuron inside the selection loop of step 3 — same values, one
   pass; counter stream: a population's voltage noise at positions base + i, its threshold noise
   at base + n + i, base advancing 2n per population and step: E first, then I).
   With the synaptic filter on (``syn_decay`` = a_s = exp(−dt/τ_s) > 0, see below) the kick
   vector κ_E = Σ_prevE W_EE[:, k] (diagonal excluded) + Σ_prevI W_IE[:, k] goes through the
   E targets' cascade instead: ``s1_E ← a_s s1_E + κ_E``, ``s2_E ← a_s s2_E + (1 − a_s) s1_E``,
   ``V_E += (1 − a_s) s2_E``; the self-reset ``W_EE[k, k]`` is still added to ``V_E[k]`` at once.
2. ``b_E ← (1 − λ_FE dt) b_E + dt c_t``;  ``b_I ← (1 − λ dt) b_I``, then ``b_I[k] += 1`` for the
   previous step's E spikes (learning only).
3. E selection: margins ``u = V_E − T_E − σ_T η``; one-spike mode: ``k = argmax u``, a spike iff
   ``u_k ≥ 0`` **and** ``k`` is not refractory — a refractory argmax blocks *every* E neuron for
   this step (the reference's rule).  Multi-spike mode (no arbiter): every non-refractory neuron
   with ``u ≥ 0`` spikes.
4. At each E spike ``k`` (V pre-reset, r without this step's spikes):
   X→E ``F_E[k] += ε_F (b_E − F_E[k])``;
   E→E ``W_EE[:, k] ← max(0, W_EE[:, k] − ε_Ω (β(V_E + μ r_E) + W_EE[:, k]))``, then
   ``W_EE[k, k] = e_self_reset`` (fixed E self-reset, no μδ term).
5. (E refractory bookkeeping, see below.)
6. ``V_I ← a V_I + Σ_thisE W_EI[:, k] + Σ_prevI W_II[:, k] + σ_I ξ`` — this step's E spikes reach
   the I neurons at once; I neurons get no direct input.  With the filter on, κ_I =
   Σ_thisE W_EI[:, k] + Σ_prevI W_II[:, k] (diagonal excluded) enters the I targets' own
   cascade (``s1_I``, ``s2_I``, same equations), ``V_I += (1 − a_s) s2_I``, and the I self-reset
   ``W_II[k, k]`` is added to ``V_I[k]`` at once.
7. I selection as in 3 (own refractory counters).
8. At each I spike ``k``:
   E→I ``W_EI[k, :] ← max(0, W_EI[k, :] + ε_F (b_I − W_EI[k, :]))`` (FF rule on the E-spike trace);
   I→I ``W_II[:, k] ← min(0, W_II[:, k] − ε_Ω (β(V_I + μ r_I) + W_II[:, k] + μ e_k))``;
   I→E ``W_IE[:, k] ← min(0, W_IE[:, k] − ε_Ω (β(V_E + μ r_E) + W_IE[:, k]))``
   (β = 1 in the Fig 4 code, ``EIRules.beta``).
9. ``r ← a r`` then ``r[k] += 1`` (evaluation order, ``r_decay_first``) or increment then decay
   (learning loop).

Refractoriness: a neuron that fires at step ``t`` is blocked at steps ``t+1 … t+refractory``
and can fire again at ``t+refractory+1`` at the earliest (reference: 10 steps → ``t+11``).  The
state holds, per neuron, the absolute index of its last blocked step (−1 initially) instead of a
count-down counter, which saves two passes per step and is equivalent.

Synaptic filter (optional, all recurrent transmission except the self-resets): the alpha-shaped
(second-order) synapse of :mod:`kernels` (``syn_order == 2``), two first-order stages in
cascade with a_s = exp(−dt/τ_s).  A kick w entering at step t₀ is delivered as
``w (1 − a_s)² (n + 1) a_s^n`` at step t₀ + n (n ≥ 0): unit total charge (Σ = w), first delivery
at the step the unfiltered kick would arrive, peak after about τ_s.  ``syn_decay = 0`` is the
instantaneous transmission above, computed by the original code path (bit-for-bit the same).
The current probe keeps two further cascades per probe neuron (positive and negative kicks), so
the recorded exc + inh currents are exactly what the filter delivers.

Threshold noise is drawn only for neurons with ``V − T > −8 σ_T`` (as in :mod:`kernels`): only
those can reach a non-negative margin, so the selection is exact for all practical purposes.

Plastic pathways are chosen by the bit mask ``plastic`` (0 = frozen weights, no traces); the
pathways' updates (steps 4 and 8) are the compiled rules of :mod:`neuromorph.sim.rules.ei`.
Arguments travel as the records :class:`EINet`, :class:`EIOptions`, :class:`EILearning`,
:class:`EIKernelState`, :class:`EIRecord` (built by ``ei_simulator._kernel``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from neuromorph.sim.rng import (COUNTER_TAG, _normal_rejected, counter_fill_scaled, load, next_u64_regs, store,
                                zig_fast)
from neuromorph.sim.rules.ei import P_EE, P_EI, P_IE, P_II, P_XE, input_row, recurrent_column  # noqa: F401

THRESHOLD_NOISE_CUTOFF = 8.0

# record bits
REC_SPIKES_E = 1
REC_SPIKES_I = 2
REC_R_E = 4
REC_R_I = 8
REC_V_E = 16
REC_V_I = 32
REC_CURRENTS = 64
REC_VSTATS = 128
REC_ISI = 256


@njit(cache=True, inline="always")
def _noise_select(V, T, v_noise, ref, now, t_noise, cutoff, rng, one_spike, spk, ws):
    """Add voltage noise to one population and select its spikes (written into ``spk``); the
    serial stream (:func:`_noise_select_serial`) or the counter stream
    (:func:`_noise_select_counter`, workspace ``ws`` (2, n)), as the state ``rng`` says."""
    if rng[3] == COUNTER_TAG:
        return _noise_select_counter(V, T, v_noise, ref, now, t_noise, cutoff, rng, one_spike, spk, ws)
    return _noise_select_serial(V, T, v_noise, ref, now, t_noise, cutoff, rng, one_spike, spk)


@njit(cache=True, inline="always")
def _selected(one_spike, n, best, bestu, ns, now, ref, spk):
    """The number of spikes a selection scan chose (written into ``spk``): one-spike mode, its
    first largest margin ``bestu`` of neuron ``best`` if non-negative and the neuron is not
    refractory (a refractory winner blocks the step); multi-spike mode, the ``ns`` listed."""
    if one_spike:
        if n > 0 and bestu >= 0.0 and now > ref[best]:
            spk[0] = best
            return 1
        return 0
    return ns


@njit(cache=True, inline="always")
def _noise_select_counter(V, T, v_noise, ref, now, t_noise, cutoff, rng, one_spike, spk, ws):
    """Counter stream: the voltage noise of neuron i sits at position base + i, its threshold
    noise at base + n + i (base advances 2n, drawn or not), so both are drawn as vectorised
    blocks before the selection (threshold noise for every neuron; a non-candidate's is not
    used), and the selection loop is free of the generator."""
    n = V.shape[0]
    base = rng[1]
    nu = np.uint64(n)
    rng[1] = base + nu + nu
    xv = ws[0]
    xt = ws[1]
    if v_noise > 0.0:
        counter_fill_scaled(rng[0], base, xv, n, v_noise)
        for i in range(n):
            V[i] += xv[i]
    tn = t_noise > 0.0
    if tn:
        counter_fill_scaled(rng[0], base + nu, xt, n, t_noise)
    best = 0
    bestu = -np.inf
    ns = 0
    for i in range(n):
        u = V[i] - T[i]
        u = u - xt[i] if (tn and u > cutoff) else u
        if one_spike:
            if u > bestu:
                best = i
                bestu = u
        elif u >= 0.0 and now > ref[i]:
            spk[ns] = i
            ns += 1
    return _selected(one_spike, n, best, bestu, ns, now, ref, spk)


@njit(cache=True, inline="always")
def _noise_select_serial(V, T, v_noise, ref, now, t_noise, cutoff, rng, one_spike, spk):
    """Serial stream: add voltage noise to one population and select its spikes.

    ``ref[i]``: last step at which neuron i is refractory (absolute index); it is blocked iff
    ``now <= ref[i]``.  Returns the number of spikes.  The draws (voltage noise of neuron i,
    then its threshold noise if it is a candidate, then neuron i + 1, …) come from the generator
    with its state in registers (:func:`neuromorph.sim.rng.normal_regs`): the stream of
    :func:`~neuromorph.sim.rng.normal`, without a memory round trip per draw.
    """
    n = V.shape[0]
    s0, s1, s2, s3 = load(rng)
    best = 0
    bestu = -np.inf
    ns = 0
    for i in range(n):
        if v_noise > 0.0:
            # normal_regs written out (its inlined 5-tuple return is slower on the hot path)
            w, s0, s1, s2, s3 = next_u64_regs(s0, s1, s2, s3)
            xi, rejected = zig_fast(w)
            if rejected:
                store(rng, s0, s1, s2, s3)
                xi = _normal_rejected(rng, w)
                s0, s1, s2, s3 = load(rng)
            V[i] += v_noise * xi
        u = V[i] - T[i]
        # threshold noise for candidates, branch-free: the next draw is computed for every neuron
        # and the state advanced only for a candidate (a select, not a jump: whether a neuron
        # is a candidate is a coin flip the branch predictor loses); only a candidate's rare
        # ziggurat rejection takes a branch
        w, n0, n1, n2, n3 = next_u64_regs(s0, s1, s2, s3)
        cand = t_noise > 0.0 and u > cutoff
        eta, rejected = zig_fast(w)
        s0 = n0 if cand else s0
        s1 = n1 if cand else s1
        s2 = n2 if cand else s2
        s3 = n3 if cand else s3
        if cand and rejected:
            store(rng, s0, s1, s2, s3)
            eta = _normal_rejected(rng, w)
            s0, s1, s2, s3 = load(rng)
        u = u - t_noise * eta if cand else u
        if one_spike:
            if u > bestu:
                best = i
                bestu = u
        elif u >= 0.0 and now > ref[i]:
            spk[ns] = i
            ns += 1
    store(rng, s0, s1, s2, s3)
    return _selected(one_spike, n, best, bestu, ns, now, ref, spk)


@njit(cache=True, inline="always")
def _signed_kicks(W, p, idx, n, skip, pos, neg):
    """Continue the running sums ``pos`` / ``neg`` with the kicks ``W[p, idx[q]]`` (q < n,
    ``idx[q] != skip``) by sign: the excitatory / inhibitory input into probe neuron ``p``."""
    for q in range(n):
        k = idx[q]
        if k != skip:
            w = W[p, k]
            if w > 0.0:
                pos += w
            else:
                neg += w
    return pos, neg


@njit(cache=True, inline="always")
def _kicks(V, W, idx, n):
    """Instantaneous transmission: add the columns ``W[:, idx[q]]`` (q < n) to ``V``."""
    N = V.shape[0]
    for q in range(n):
        k = idx[q]
        for i in range(N):
            V[i] += W[i, k]


@njit(cache=True, inline="always")
def _kicks_into_filter(s1, V, W, idx, n, bypass_self):
    """Add the columns ``W[:, idx[q]]`` (q < n) to the synaptic stage ``s1``; with
    ``bypass_self`` the diagonal entry (the self-reset) goes straight into ``V`` instead."""
    N = s1.shape[0]
    for q in range(n):
        k = idx[q]
        if bypass_self:
            for i in range(k):
                s1[i] += W[i, k]
            V[k] += W[k, k]
            for i in range(k + 1, N):
                s1[i] += W[i, k]
        else:
            for i in range(N):
                s1[i] += W[i, k]


@njit(cache=True, inline="always")
def _deliver_filtered(s1, s2, V, syn_decay, g):
    """Second cascade stage and delivery: ``s2 ← a_s s2 + (1 − a_s) s1; V += (1 − a_s) s2``."""
    for i in range(V.shape[0]):
        s2[i] = syn_decay * s2[i] + g * s1[i]
        V[i] += g * s2[i]


@njit(cache=True, inline="always")
def _filtered_step(s1, s2, V, Wa, ia, na, self_a, Wb, ib, nb, self_b, syn_decay, g):
    """One step of a population's alpha synapse: stage 1 decays and takes the kicks of the
    columns ``Wa[:, ia[:na]]`` then ``Wb[:, ib[:nb]]`` (``self_*``: that matrix holds the
    population's own self-resets, which go straight into ``V``); stage 2 delivers into ``V``."""
    for i in range(s1.shape[0]):
        s1[i] *= syn_decay
    _kicks_into_filter(s1, V, Wa, ia, na, self_a)
    _kicks_into_filter(s1, V, Wb, ib, nb, self_b)
    _deliver_filtered(s1, s2, V, syn_decay, g)


@njit(cache=True, inline="always")
def _probe_step(sP, row, p, Wa, ia, na, skip_a, Wb, ib, nb, skip_b, syn_decay, g):
    """The probe neuron ``p``'s excitatory (cascade ``row``) and inhibitory (``row + 1``) input
    chains, fed with its kicks from ``Wa`` then ``Wb`` split by sign (``skip_*``: own reset)."""
    kp, kn = _signed_kicks(Wa, p, ia, na, skip_a, 0.0, 0.0)
    kp, kn = _signed_kicks(Wb, p, ib, nb, skip_b, kp, kn)
    _cascade_probe(sP, row, kp, syn_decay, g)
    _cascade_probe(sP, row + 1, kn, syn_decay, g)


@njit(cache=True, inline="always")
def _cascade_probe(sP, row, kick, syn_decay, g):
    """One step of the probe's two-stage synaptic cascade ``row`` fed with ``kick``."""
    sP[row, 0] = syn_decay * sP[row, 0] + kick
    sP[row, 1] = syn_decay * sP[row, 1] + g * sP[row, 0]


class EINet(NamedTuple):
    """The EI network as the kernel reads it: F (N_E, M); WEE (N_E, N_E); WEI (N_I, N_E);
    WIE (N_E, N_I); WII (N_I, N_I) (working weights, changed in place by learning); TE (N_E,),
    TI (N_I,) thresholds; decay = 1 − λdt; dt (s); vnE, vnI voltage and t_noise threshold noise σ;
    refractory (steps); e_self_reset (the fixed E self-reset weight)."""

    F: np.ndarray
    WEE: np.ndarray
    WEI: np.ndarray
    WIE: np.ndarray
    WII: np.ndarray
    TE: np.ndarray
    TI: np.ndarray
    decay: float
    dt: float
    vnE: float
    vnI: float
    t_noise: float
    refractory: int
    e_self_reset: float


class EIOptions(NamedTuple):
    """one_spike (arbiter per population), r_decay_first (evaluation order), syn_decay = a_s
    of the alpha synapse (0 = instantaneous kicks)."""

    one_spike: bool
    r_decay_first: bool
    syn_decay: float


class EILearning(NamedTuple):
    """plastic: bit mask ``P_*`` (0 = frozen, no traces); lr_ff, lr_rec, mu, beta of
    :class:`~neuromorph.sim.rules.ei.EIRules`; bE_decay, bI_decay per-step decays of the traces."""

    plastic: int
    lr_ff: float
    lr_rec: float
    mu: float
    beta: float
    bE_decay: float
    bI_decay: float


class EIKernelState(NamedTuple):
    """Carried state (changed in place): rng uint64[4]; VE, rE, bI, refE, prevE (N_E,);
    VI, rI, refI, prevI (N_I,); bE (M,); nprev int64[2]; step0 absolute index of the first step;
    sE1, sE2 (N_E,), sI1, sI2 (N_I,), sP (4, 2) synaptic-filter stages."""

    rng: np.ndarray
    VE: np.ndarray
    VI: np.ndarray
    rE: np.ndarray
    rI: np.ndarray
    bE: np.ndarray
    bI: np.ndarray
    refE: np.ndarray
    refI: np.ndarray
    prevE: np.ndarray
    prevI: np.ndarray
    nprev: np.ndarray
    step0: int
    sE1: np.ndarray
    sE2: np.ndarray
    sI1: np.ndarray
    sI2: np.ndarray
    sP: np.ndarray


class EIRecord(NamedTuple):
    """Recording and accumulators (see :func:`ei_run`): mask (``REC_*``), probe_e, probe_i;
    sE, sI, rE, rI, VE, VI, cur ((0, 0) when not recorded); countsE, countsI; vstatE, vstatI;
    isi, last_spk."""

    mask: int
    probe_e: int
    probe_i: int
    sE: np.ndarray
    sI: np.ndarray
    rE: np.ndarray
    rI: np.ndarray
    VE: np.ndarray
    VI: np.ndarray
    cur: np.ndarray
    countsE: np.ndarray
    countsI: np.ndarray
    vstatE: np.ndarray
    vstatI: np.ndarray
    isi: np.ndarray
    last_spk: np.ndarray


@njit(cache=True, nogil=True)
def ei_run(c, net, opt, lrn, st, rec):
    """Advance the EI network ``c.shape[0]`` steps in place; returns (E spikes, I spikes).

    c (L, M) input current; records :class:`EINet`, :class:`EIOptions`, :class:`EILearning`,
    :class:`EIKernelState`, :class:`EIRecord`.  Shapes (N_E, N_I, M): F (N_E, M); WEE (N_E, N_E); WEI (N_I, N_E); WIE (N_E, N_I);
    WII (N_I, N_I); TE (N_E,); TI (N_I,).  State (modified in place):
    VE, rE, bI, refE (int64), prevE (int64) (N_E,); VI, rI, refI, prevI (N_I,); bE (M,);
    refE/refI: absolute index of each neuron's last refractory step (−1 = none);
    nprev int64[2] = number of valid entries of prevE / prevI; rng uint64[4].
    ``step0``: absolute index of the first step (refractoriness and ISI bookkeeping).
    Synaptic filter: ``syn_decay`` = a_s = exp(−dt/τ_s) (0 = instantaneous kicks, the filter
    state is then neither read nor written); sE1, sE2 (N_E,), sI1, sI2 (N_I,) the two cascade
    stages of the E and I targets; sP (4, 2) the stages of the probe chains [E exc, E inh, I exc,
    I inh] (updated whenever the filter is on, so that continued runs record exactly).
    Recordings (``(0, 0)`` arrays when not asked for): sE (L, N_E) uint8, sI (L, N_I) uint8,
    rE/VE (L, N_E), rI/VI (L, N_I), cur (L, 4) = [exc, inh] currents into E
    neuron ``probe_e`` then [exc, inh] into I neuron ``probe_i`` (self-reset excluded; the summed
    feed-forward drive ``dt F_E[p] · c_t`` counts as excitatory when positive, inhibitory when
    negative; recurrent inputs by the sign of each weight; with the synaptic filter on, the
    filtered currents actually delivered, each sign through its own cascade).
    Accumulators: countsE (N_E,), countsI (N_I,) int64; vstatE (2, N_E),
    vstatI (2, N_I) = Σ V, Σ V²; isi (N_E, 3) = (n, Σ d, Σ d²) of E inter-spike intervals in steps,
    last_spk (N_E,) int64 absolute step of the last E spike (−1 = none yet).
    """
    F, WEE, WEI, WIE, WII, TE, TI, decay, dt, vnE, vnI, t_noise, refractory, e_self_reset = net
    one_spike, r_decay_first, syn_decay = opt
    plastic, lr_ff, lr_rec, mu, beta, bE_decay, bI_decay = lrn
    rng, VE, VI, rE, rI, bE, bI, refE, refI, prevE, prevI, nprev, step0, sE1, sE2, sI1, sI2, sP = st
    (rec_mask, probe_e, probe_i, rec_sE, rec_sI, rec_rE, rec_rI, rec_VE, rec_VI, rec_cur,
     countsE, countsI, vstatE, vstatI, isi, last_spk) = rec
    L = c.shape[0]
    NE = F.shape[0]
    M = F.shape[1]
    NI = WEI.shape[0]
    learn = plastic != 0
    l_xe = (plastic & P_XE) != 0
    l_ei = (plastic & P_EI) != 0
    l_ee = (plastic & P_EE) != 0
    l_ie = (plastic & P_IE) != 0
    l_ii = (plastic & P_II) != 0
    rec_cur_on = (rec_mask & REC_CURRENTS) != 0
    vstat_on = (rec_mask & REC_VSTATS) != 0
    isi_on = (rec_mask & REC_ISI) != 0
    cutoff = -THRESHOLD_NOISE_CUTOFF * t_noise
    filt = syn_decay > 0.0
    g = 1.0 - syn_decay
    spkE = np.empty(NE, dtype=np.int64)
    spkI = np.empty(NI, dtype=np.int64)
    wsE = np.empty((2, NE))  # counter stream: the step's voltage and threshold noise blocks
    wsI = np.empty((2, NI))
    totE = 0
    totI = 0
    for t in range(L):
        npE = nprev[0]
        npI = nprev[1]
        # 1. E voltage (previous-step E and I spikes)
        for i in range(NE):
            VE[i] *= decay
        for j in range(M):
            cj = dt * c[t, j]
            for i in range(NE):
                VE[i] += F[i, j] * cj
        if filt:
            # alpha synapse: kicks enter stage 1, stage 2 integrates it, (1 − a_s) s2 is delivered;
            # the E self-reset W_EE[k, k] bypasses the filter (immediate, as without it)
            _filtered_step(sE1, sE2, VE, WEE, prevE, npE, True, WIE, prevI, npI, False, syn_decay, g)
            if probe_e < NE:
                _probe_step(sP, 0, probe_e, WEE, prevE, npE, probe_e, WIE, prevI, npI, -1, syn_decay, g)
        else:
            _kicks(VE, WEE, prevE, npE)
            _kicks(VE, WIE, prevI, npI)
        if rec_cur_on and filt:
            p = probe_e
            v = 0.0
            for j in range(M):
                v += dt * F[p, j] * c[t, j]
            ex = g * sP[0, 1]
            inh = g * sP[1, 1]
            if v > 0.0:
                ex += v
            else:
                inh += v
            rec_cur[t, 0] = ex
            rec_cur[t, 1] = inh
        elif rec_cur_on:
            p = probe_e
            ex = 0.0
            inh = 0.0
            v = 0.0
            for j in range(M):
                v += dt * F[p, j] * c[t, j]
            if v > 0.0:
                ex += v
            else:
                inh += v
            ex, inh = _signed_kicks(WEE, p, prevE, npE, p, ex, inh)
            ex, inh = _signed_kicks(WIE, p, prevI, npI, -1, ex, inh)
            rec_cur[t, 0] = ex
            rec_cur[t, 1] = inh
        # 2. traces
        if learn:
            for j in range(M):
                bE[j] = bE_decay * bE[j] + dt * c[t, j]
            for i in range(NE):
                bI[i] *= bI_decay
            for q in range(npE):
                bI[prevE[q]] += 1.0
        # 3. E selection
        now = step0 + t
        nE = _noise_select(VE, TE, vnE, refE, now, t_noise, cutoff, rng, one_spike, spkE, wsE)
        # 4. E plasticity
        for q in range(nE):
            k = spkE[q]
            refE[k] = now + refractory
            if l_xe:
                input_row(F, k, bE, lr_ff, False)
            if l_ee:
                recurrent_column(WEE, k, VE, rE, lr_rec, beta, mu, True, False)
                WEE[k, k] = e_self_reset
        # 6. I voltage (this step's E spikes, previous-step I spikes)
        for i in range(NI):
            VI[i] = decay * VI[i]
        if filt:
            # same cascade for the I targets; the I self-reset W_II[k, k] is immediate
            _filtered_step(sI1, sI2, VI, WEI, spkE, nE, False, WII, prevI, npI, True, syn_decay, g)
            if probe_i < NI:
                _probe_step(sP, 2, probe_i, WEI, spkE, nE, -1, WII, prevI, npI, probe_i, syn_decay, g)
        else:
            _kicks(VI, WEI, spkE, nE)
            _kicks(VI, WII, prevI, npI)
        if rec_cur_on and filt:
            rec_cur[t, 2] = g * sP[2, 1]
            rec_cur[t, 3] = g * sP[3, 1]
        elif rec_cur_on:
            ex, inh = _signed_kicks(WEI, probe_i, spkE, nE, -1, 0.0, 0.0)
            ex, inh = _signed_kicks(WII, probe_i, prevI, npI, probe_i, ex, inh)
            rec_cur[t, 2] = ex
            rec_cur[t, 3] = inh
        # 7. I selection
        nI = _noise_select(VI, TI, vnI, refI, now, t_noise, cutoff, rng, one_spike, spkI, wsI)
        # 8. I plasticity
        for q in range(nI):
            k = spkI[q]
            refI[k] = now + refractory
            if l_ei:
                input_row(WEI, k, bI, lr_ff, True)
            if l_ii:
                recurrent_column(WII, k, VI, rI, lr_rec, beta, mu, False, True)
            if l_ie:
                recurrent_column(WIE, k, VE, rE, lr_rec, beta, mu, False, False)
        # 9. filtered spike trains, spike bookkeeping
        if r_decay_first:
            for i in range(NE):
                rE[i] *= decay
            for i in range(NI):
                rI[i] *= decay
        for q in range(nI):
            rI[spkI[q]] += 1.0
        for q in range(nE):
            rE[spkE[q]] += 1.0
        if not r_decay_first:
            for i in range(NE):
                rE[i] *= decay
            for i in range(NI):
                rI[i] *= decay
        for q in range(nE):
            k = spkE[q]
            prevE[q] = k
            countsE[k] += 1
            if isi_on:
                s = step0 + t
                if last_spk[k] >= 0:
                    d = float(s - last_spk[k])
                    isi[k, 0] += 1.0
                    isi[k, 1] += d
                    isi[k, 2] += d * d
                last_spk[k] = s
        for q in range(nI):
            k = spkI[q]
            prevI[q] = k
            countsI[k] += 1
        nprev[0] = nE
        nprev[1] = nI
        totE += nE
        totI += nI
        # recording
        if rec_mask & REC_SPIKES_E:
            for q in range(nE):
                rec_sE[t, spkE[q]] = 1
        if rec_mask & REC_SPIKES_I:
            for q in range(nI):
                rec_sI[t, spkI[q]] = 1
        if rec_mask & REC_R_E:
            for i in range(NE):
                rec_rE[t, i] = rE[i]
        if rec_mask & REC_R_I:
            for i in range(NI):
                rec_rI[t, i] = rI[i]
        if rec_mask & REC_V_E:
            for i in range(NE):
                rec_VE[t, i] = VE[i]
        if rec_mask & REC_V_I:
            for i in range(NI):
                rec_VI[t, i] = VI[i]
        if vstat_on:
            for i in range(NE):
                vstatE[0, i] += VE[i]
                vstatE[1, i] += VE[i] * VE[i]
            for i in range(NI):
                vstatI[0, i] += VI[i]
                vstatI[1, i] += VI[i] * VI[i]
    return totE, totI
