r"""Learning under the chip's exact integer dynamics (``quantize --adapt-mode integer``).

:func:`neuromorph.quant.chip_training.adapt_to_chip` runs the paper's local rules under a *float*
model of a Xylo core and maps the result to integers afterwards.  This module runs the same rules
with the emulator's own integer update in the loop (:mod:`neuromorph.backends.xylo.emulator`,
bit-exact with Rockpool's XyloSim): int16 membrane and synaptic state, bit-shift leaks,
subtractive reset with up to 31 events per neuron and step, no spike arbiter, hidden events
delivered one step late through the recurrent synapse.  The weights live on the chip's integer
grid throughout; the result is a quantized network directly, with no float→integer step after.

At a step where hidden neuron k emits events, with ``S`` the voltage scale (integer units per
float voltage), ``V_i`` the integer membrane after integration and before the reset, ``r`` the
events filtered with the chip's membrane leak (before this step's events), the recurrent rule
(Eq 6, docs/authors_code.md) in float units ::

    Ω_ik = q_rec n_ik − δ_ik θ_k / S            (n: the stored integer weight k → i)
    Ω'_ik = Ω_ik − ε_Ω [β (V_i / S + μ r_i) + Ω_ik + μ δ_ik]

and the feed-forward rule (authors' form) ``F'_kj = F_kj + ε_F (α x_j − F_kj)``, ``F = q_ff m``,
with ``x`` the signal the input events encode.  Each new value is put back on the grid by
*stochastic rounding*, ``n' = ⌊v⌋ + [u < v − ⌊v⌋]``, ``v = (Ω' + δ θ/S) / q_rec``, u uniform:
E[n'] = v, so updates far smaller than one grid step still move the weights on average (a
nearest rounding would freeze them).  n' is clipped to the target's symmetric weight range.  The
rule runs once per spiking neuron and step (as the float model does), whatever its event count.

Only the direct layout (no relay neurons) and signed sigma-delta input channels are supported:
channel 2j carries +w_in[:, j], channel 2j+1 −w_in[:, j] on synapse 0, the recurrent weights on
the last synapse (:func:`neuromorph.backends.xylo.deploy.spec_from_quantized`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Optional

import numpy as np
from numba import njit

from quantization.chip_arith import bitshift_decayed, saturate, shift_weight
from quantization.fixed_point import qmax
from quantization.hardware import HardwareSpec
from quantization.mapping import QuantizedSCN

from neuromorph.backends.xylo.emulator import MAX_INPUT_EVENTS, STATE_BITS, fire_hidden, integrate_vmem

__all__ = ["ADAPT_MODES", "IntegerRules", "stochastic_round", "integer_learn", "integer_adapt",
           "training_signal", "check_integer_layout"]

#: Chip rate / float rate the spike cost steers integer learning to (None: μ fixed); measured
#: in docs/chip_fidelity.md.
DEFAULT_RATE_FACTOR: Optional[float] = None
#: ``quantize --adapt-mode`` choices: the float model of the chip's dynamics, or the chip's own
#: integer update (this module).
ADAPT_MODES = ("float", "integer")


@dataclass(frozen=True)
class IntegerRules:
    """Constants of the two local rules (dimensionless; the defaults are those
    :func:`~neuromorph.quant.chip_training.adapt_to_chip` uses: RecurrentRule / FeedforwardRule
    defaults, lateral weights capped at ``max_lateral``)."""

    lr_rec: float = 1e-3
    beta: float = 1.0 / 0.9
    mu: float = 0.02 / 0.9
    max_lateral: float = 0.0
    lr_ff: float = 1e-4
    alpha: float = 0.18
    rate_target: float = 0.0
    """Events per neuron and chip step the spike cost steers the network to (0: μ fixed).
    μ then follows ``log μ += mu_gain (ρ − rate_target) / rate_target`` every step, ρ the
    population's event rate averaged over ``rate_tau`` steps: the paper's cost term as a
    rate regulariser in the chip's own units."""
    rate_tau: float = 10_000.0
    mu_gain: float = 1e-4
    per_event: bool = False
    regrid: bool = True
    """When more than :data:`REGRID_FRACTION` of the allowed recurrent weights sit at the range
    limit after a chunk, double the recurrent grid step (``weight_shift_rec + 1``, every weight
    halved with stochastic rounding: the same effective weights on average), up to the target's
    ``max_weight_shift``: a larger spike cost needs stronger weights than the unretrained
    network's grid holds."""
    shadow: bool = False
    """Diagnostic, not the integer-only path: keep each weight's sub-grid part off-chip (a float
    copy the rules update) and give the chip its nearest integer, instead of stochastic
    rounding: measures what the rounding noise on the weights costs."""
    average_tail: float = 0.0
    """Diagnostic, not the integer-only path: > 0 returns the nearest-rounded mean of the
    integer weights over this last fraction of the run (snapshots every 1,000 steps), to
    measure how much of the error is stochastic-rounding noise on the weights."""
    """Scale both learning rates by the neuron's event count in the step (one update per event
    rather than per spiking neuron)."""

    def __post_init__(self):
        for name in ("lr_rec", "lr_ff", "beta", "mu", "alpha", "rate_target", "rate_tau", "mu_gain"):
            v = getattr(self, name)
            if not np.isfinite(v) or v < 0:
                raise ValueError(f"integer learning: {name} must be a finite number >= 0, got {v!r}")


@njit(cache=True, inline="always")
def stochastic_round(v: float, u: float, m: int) -> int:
    """``⌊v⌋ + [u < v − ⌊v⌋]`` clipped to ``−m..m``; unbiased for u uniform on [0, 1)."""
    f = np.floor(v)
    n = np.int64(f)
    if u < v - f:
        n += 1
    if n > m:
        return m
    if n < -m:
        return -m
    return n


@njit(cache=True)
def _learn_kernel(raster, xsig, w_in, w_rec, conn, thr, dash_mem, dash_syn, shift_in, shift_rec, nsyn,
                  q_rec, q_ff, scale_v, m, r_decay, lr_rec0, beta, mu, max_lat, lr_ff0, alpha, per_event,
                  rate_target, rate_tau, mu_gain, ctl, shadow, sh_in, sh_rec, v, isyn, spk, r, seed, rec_spikes, record):
    """T steps of the hidden core, learning in place.

    raster (T, 2M) uint8 input events; xsig (T, M) the signal they encode (float units);
    w_in (N, M), w_rec (N, N) int64 (``w_rec[i, k]``: k → i), modified in place; conn (N, N)
    uint8, 0 = no connection (stays 0); thr (N,) int64; state v (N,), isyn (2N,) (synapse 0
    then 1), spk (N,) events of the previous step, r (N,) filtered events; rec_spikes (T, N)
    written when ``record``; ctl (2,) the rate controller's state (μ, running rate), in place.
    Returns the number of events."""
    np.random.seed(seed)
    if rate_target > 0.0:
        mu = ctl[0]
    T = raster.shape[0]
    N = v.shape[0]
    M = w_in.shape[1]
    s_rec = nsyn - 1  # recurrent input on the last synapse (deploy.spec_from_quantized)
    vpre = np.empty(N, np.int64)
    total = 0
    for t in range(T):
        # 1. input events, channels ascending (2j: +w_in[:, j], 2j+1: −w_in[:, j]) onto synapse 0
        for ch in range(2 * M):
            c = np.int64(raster[t, ch])
            if c == 0:
                continue
            if c > MAX_INPUT_EVENTS:
                c = MAX_INPUT_EVENTS
            j = ch // 2
            sg = 1 if ch % 2 == 0 else -1
            for q in range(N):
                w = w_in[q, j]
                if w != 0:
                    isyn[q] = saturate(isyn[q] + c * shift_weight(sg * w, shift_in, STATE_BITS), STATE_BITS)
        # 2. hidden events of step t−1, sources ascending, with the weights as they are now
        for p in range(N):
            c = np.int64(spk[p])
            if c == 0:
                continue
            for q in range(N):
                w = w_rec[q, p]
                if w != 0:
                    idx = s_rec * N + q
                    isyn[idx] = saturate(isyn[idx] + c * shift_weight(w, shift_rec, STATE_BITS), STATE_BITS)
        # 3. hidden neurons, ascending (no aliases: each neuron's buffer starts at 0)
        for j in range(N):
            i0 = bitshift_decayed(np.int64(isyn[j]), dash_syn)
            i1 = bitshift_decayed(np.int64(isyn[N + j]), dash_syn)
            isyn[j] = i0
            isyn[N + j] = i1
            vj = integrate_vmem(np.int64(v[j]), i0 + i1, dash_mem, 0)
            vpre[j] = vj
            n, vj = fire_hidden(vj, np.int64(thr[j]), 0)
            v[j] = vj
            spk[j] = n
        # 4. the local rules at each spiking neuron (V pre-reset, r before this step's events);
        #    the new weights deliver this step's events at step t+1
        for k in range(N):
            if spk[k] == 0:
                continue
            lr_rec = lr_rec0 * spk[k] if per_event else lr_rec0
            lr_ff = lr_ff0 * spk[k] if per_event else lr_ff0
            if lr_rec > 0.0:
                for i in range(N):
                    if conn[i, k] == 0:
                        continue
                    off = thr[k] / scale_v if i == k else 0.0
                    om = (sh_rec[i, k] if shadow else w_rec[i, k]) * q_rec - off
                    new = om - lr_rec * (beta * (vpre[i] / scale_v + mu * r[i]) + om)
                    if i == k:
                        new -= lr_rec * mu
                    elif new > max_lat:
                        new = max_lat
                    if shadow:  # diagnostic: sub-grid precision kept off-chip, the chip gets the nearest
                        sh_rec[i, k] = min(max((new + off) / q_rec, -m), m)
                        w_rec[i, k] = np.int64(np.rint(sh_rec[i, k]))
                    else:
                        w_rec[i, k] = stochastic_round((new + off) / q_rec, np.random.random(), m)
            if lr_ff > 0.0:
                for jj in range(M):
                    f = (sh_in[k, jj] if shadow else w_in[k, jj]) * q_ff
                    new = f + lr_ff * (alpha * xsig[t, jj] - f)
                    if shadow:
                        sh_in[k, jj] = min(max(new / q_ff, -m), m)
                        w_in[k, jj] = np.int64(np.rint(sh_in[k, jj]))
                    else:
                        w_in[k, jj] = stochastic_round(new / q_ff, np.random.random(), m)
        n_ev = 0
        for k in range(N):
            r[k] = r_decay * (r[k] + spk[k])
            n_ev += spk[k]
        total += n_ev
        if rate_target > 0.0:  # steer μ so the event rate tracks the target (multiplicative: μ stays > 0)
            ctl[1] += (n_ev / N - ctl[1]) / rate_tau
            mu *= np.exp(mu_gain * (ctl[1] - rate_target) / rate_target)
            ctl[0] = mu
        if record:
            for k in range(N):
                rec_spikes[t, k] = spk[k]
    return total


def check_integer_layout(q: QuantizedSCN, target: HardwareSpec) -> None:
    """Raise ValueError (one line) when ``q`` on ``target`` is not a layout this module runs."""
    if q.stats.get("relays"):
        raise ValueError("--adapt-mode integer: the network needs relay neurons on this target (above the "
                         "projection size); only the direct layout is supported, use --adapt-mode float")
    if q.stats.get("frontend"):
        raise ValueError("--adapt-mode integer: networks on an audio front-end's events are not supported; "
                         "use --adapt-mode float")
    if q.neuron_gain is not None and not np.allclose(q.neuron_gain, 1.0):
        raise ValueError("--adapt-mode integer: needs one voltage scale (--method scn)")
    if not np.all(np.asarray(q.threshold) > 0):
        raise ValueError("--adapt-mode integer: every hidden threshold must be > 0")


def _grid(q: QuantizedSCN) -> tuple[float, float]:
    """Float value of one integer step of a recurrent and an input weight (chip_training.weight_grid)."""
    from neuromorph.quant.chip_training import weight_grid

    g = weight_grid(q)
    return float(g.q_rec), float(g.q_ff)


def integer_learn(q: QuantizedSCN, target: HardwareSpec, raster: np.ndarray, x: np.ndarray, *,
                  rules: IntegerRules = IntegerRules(), seed: int = 0, rec_mask: Optional[np.ndarray] = None,
                  record: bool = False, chunk: int = 10_000,
                  progress: Optional[Callable[[int], None]] = None) -> tuple[QuantizedSCN, dict]:
    """Run the hidden core of ``q`` (any device instance, e.g. from
    :func:`quantization.mismatch.mismatch_instances`) on ``raster`` from reset, learning.

    Parameters
    ----------
    q : QuantizedSCN
        Integer network at the chip step (``q.dt``), direct layout (:func:`check_integer_layout`).
    target : HardwareSpec
        The Xylo target ``q`` was mapped onto (number of synapses, weight range).
    raster : ndarray, shape (T, 2M)
        Input events per chip step (``backend.encode(q, x)``).
    x : ndarray, shape (T, M)
        The signal the raster encodes, network units (the feed-forward rule's input trace).
    rules : IntegerRules
        Learning rates 0 run the chip unchanged: the spikes equal the emulator's.
    seed : int
        Seed of the stochastic rounding (chunk ``c`` uses ``derive_seed(seed, 51, c)``).
    rec_mask : ndarray (N, N) bool, optional
        Allowed connections k → i (``[i, k]``); default: all.  Absent ones stay 0.
    record : bool
        Also return the hidden events (T, N) under ``"spikes"``.

    Returns
    -------
    (QuantizedSCN, dict)
        ``q`` with the learnt ``w_in``/``w_rec`` (read-out unchanged: refit it on the chip's
        spikes), and ``{"events", "rate_hz", "seconds", "spikes"?}``.
    """
    from neuromorph.sim.rng import derive_seed

    check_integer_layout(q, target)
    raster = np.ascontiguousarray(np.minimum(np.asarray(raster), MAX_INPUT_EVENTS), dtype=np.uint8)
    x = np.ascontiguousarray(x, dtype=np.float64)
    N, M = q.n_neurons, q.n_inputs
    if raster.ndim != 2 or raster.shape[1] != 2 * M or x.shape != (raster.shape[0], M):
        raise ValueError(f"integer learning: raster (T, {2 * M}) and signal (T, {M}) expected, got "
                         f"{raster.shape} and {x.shape}")
    nsyn = 2 if (target.max_syn or 1) >= 2 else 1
    m = int(qmax(q.weight_bits))
    q_rec, q_ff = _grid(q)
    w_in = np.array(q.w_in, dtype=np.int64)
    w_rec = np.array(q.w_rec, dtype=np.int64)
    conn = np.ones((N, N), np.uint8) if rec_mask is None else np.asarray(rec_mask, dtype=np.uint8).copy()
    np.fill_diagonal(conn, 1)  # the diagonal carries the reset: always present
    w_rec[conn == 0] = 0
    thr = np.asarray(q.threshold, dtype=np.int64)
    v, spk, r = np.zeros(N, np.int64), np.zeros(N, np.int64), np.zeros(N)
    isyn = np.zeros(2 * N, np.int64)
    T = raster.shape[0]
    spikes = np.zeros((T if record else 0, N), np.int64)
    r_decay = 1.0 - float(q.lam_chip) * float(q.dt)
    total, t0 = 0, time.perf_counter()
    ctl = np.array([float(rules.mu), float(rules.rate_target)])  # μ, running rate (starts on target)
    tail0 = T - int(round(float(rules.average_tail) * T)) if rules.average_tail > 0 else T
    bounds = sorted(set(list(range(0, tail0, chunk)) + list(range(tail0, T, AVERAGE_EVERY)) + [T]))
    acc_in, acc_rec, n_acc = np.zeros(w_in.shape), np.zeros(w_rec.shape), 0
    shift_rec = int(q.shift_rec)
    max_shift = int(target.max_weight_shift) if target.max_weight_shift is not None else 7
    n_allowed = max(int(conn.sum()), 1)
    regrids = []
    sh_in, sh_rec = w_in.astype(np.float64), w_rec.astype(np.float64)  # the shadow diagnostic's weights
    rng = np.random.default_rng(derive_seed(seed, 53))
    for c, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        total += _learn_kernel(raster[a:b], x[a:b], w_in, w_rec, conn, thr, int(q.dash_mem), int(q.dash_syn),
                               int(q.shift_in), shift_rec, nsyn, q_rec, q_ff, float(q.scale_v), m, r_decay,
                               float(rules.lr_rec), float(rules.beta), float(rules.mu), float(rules.max_lateral),
                               float(rules.lr_ff), float(rules.alpha), bool(rules.per_event),
                               float(rules.rate_target), float(rules.rate_tau), float(rules.mu_gain), ctl,
                               bool(rules.shadow), sh_in, sh_rec, v, isyn, spk, r,
                               int(derive_seed(seed, 51, c) % (2 ** 31)), spikes[a:b] if record else spikes,
                               bool(record))
        if progress is not None:
            progress(b - a)
        if (rules.regrid and shift_rec < max_shift and rules.lr_rec > 0
                and np.count_nonzero(np.abs(w_rec) >= m) > REGRID_FRACTION * n_allowed):
            # the same effective weights on a grid twice as coarse: unbiased halving
            w_rec[...] = np.clip(np.floor(w_rec / 2.0 + rng.random(w_rec.shape)), -m, m).astype(np.int64)
            sh_rec /= 2.0
            shift_rec += 1
            q_rec *= 2.0
            regrids.append(int(b))
        if a >= tail0:
            acc_in += w_in
            acc_rec += w_rec
            n_acc += 1
    if n_acc:
        w_in = np.rint(acc_in / n_acc).astype(np.int64)
        w_rec = np.rint(acc_rec / n_acc).astype(np.int64)
    info = {"events": int(total), "rate_hz": float(total / (max(T, 1) * q.dt * N)), "mu_final": float(ctl[0]),
            "seconds": time.perf_counter() - t0}
    if record:
        info["spikes"] = spikes
    info["shift_rec"] = {"start": int(q.shift_rec), "end": shift_rec, "regrid_at_steps": regrids}
    out = replace(q, w_in=w_in, w_rec=w_rec, shift_rec=shift_rec, stats=dict(q.stats, integer_learning={
        "steps": int(T), "seed": int(seed), **{k: (v_ if isinstance(v_, bool) else float(v_)) for k, v_ in rules.__dict__.items()}}))
    return out, info


def training_signal(n_inputs: int, steps: int, seed: int, lam: float, dt: float, k: int = 1,
                    signal: Optional[np.ndarray] = None) -> np.ndarray:
    """The signal (steps, M) the rules learn on, at the chip step, network units.

    ``signal`` (trials, T, M), already at the chip step: its trials joined and looped (as
    :func:`neuromorph.quant.calibration.data_source` does for the float model).  ``None``: the
    paper's smoothed white-noise blocks (``block_noise_source``, the float model's seed), each
    current sample held ``k`` chip steps, integrated with the network's leak ``lam`` at ``dt``
    (the chip step)."""
    if signal is not None:
        flat = np.asarray(signal, dtype=np.float64).reshape(-1, np.shape(signal)[-1])
        return flat[np.arange(steps) % flat.shape[0]]
    from neuromorph.quant.chip_step import upsampled_source
    from neuromorph.sim.rng import derive_seed
    from neuromorph.sim.signals import leaky_integrate
    from neuromorph.sim.simulator import block_noise_source

    src = upsampled_source(block_noise_source(n_inputs, derive_seed(seed, 33)), int(k))
    return leaky_integrate(src(0, steps), lam, dt)


#: Fraction of the allowed recurrent weights at the range limit that triggers a re-grid.
REGRID_FRACTION = 0.005
#: Snapshot spacing (steps) of the ``average_tail`` diagnostic.
AVERAGE_EVERY = 1_000
#: Steps of the training signal the float network's reference rate is measured on.
RATE_REFERENCE_STEPS = 50_000


def float_rate_per_step(net, x: np.ndarray, seed: int) -> float:
    """Spikes per neuron and step of the float network ``net`` (reference dynamics, its step =
    the chip step) on signal ``x`` (T, M) from rest."""
    from neuromorph.sim.rng import derive_seed
    from neuromorph.sim.signals import current_for_signal
    from neuromorph.sim.simulator import simulate

    rec = simulate(net, current_for_signal(x, net.lam, net.dt), seed=derive_seed(seed, 52), record=())
    return float(rec.counts.sum() / (x.shape[0] * net.n_neurons))


def integer_adapt(q: QuantizedSCN, target: HardwareSpec, backend, *, steps: int, seed: int = 0,
                  signal: Optional[np.ndarray] = None, lam: Optional[float] = None,
                  rules: IntegerRules = IntegerRules(), rec_mask: Optional[np.ndarray] = None,
                  rate_factor: Optional[float] = None, like=None,
                  progress: Optional[Callable[[int], None]] = None) -> tuple[QuantizedSCN, dict]:
    """``steps`` chip steps of the local rules on the integer network ``q`` (see module
    docstring); ``signal`` (trials, T, M) at the chip step, or None for white noise
    (:func:`training_signal`, ``lam``: the network's leak, s⁻¹).  Returns the learnt network and
    a summary for the report.  The read-out is left as it is: fit it on the chip's spikes."""
    check_integer_layout(q, target)
    k = int(q.steps_per_sample)
    x = training_signal(q.n_inputs, int(steps), seed, float(q.lam if lam is None else lam), float(q.dt), k, signal)
    raster = backend.encode(q, x)
    float_rate = None
    if rate_factor is not None:  # the spike cost steers the chip to rate_factor x the float network's rate
        float_rate = float_rate_per_step(like, x[:RATE_REFERENCE_STEPS], seed)
        rules = replace(rules, rate_target=float(rate_factor) * float_rate)
    out, info = integer_learn(q, target, raster, x, rules=rules, seed=seed, rec_mask=rec_mask, progress=progress)
    if float_rate is not None:
        info.update(rate_factor=float(rate_factor), float_rate_hz=float_rate / float(q.dt))
    info.update(steps=int(steps), signal="white noise" if signal is None else "data",
                weights_changed={"w_in": int(np.count_nonzero(out.w_in != q.w_in)),
                                 "w_rec": int(np.count_nonzero(out.w_rec != q.w_rec))})
    return out, info


def check_integer_request(n_neurons: int, target: HardwareSpec, frontend) -> None:
    """Refuse ``--adapt-mode integer`` before any work where the layout is not supported."""
    from neuromorph.backends.xylo.relays import relays_needed

    if target.device is None or not str(target.device).startswith("xylo"):
        raise ValueError(f"--adapt-mode integer: needs a Xylo target (the emulator's integer update), "
                         f"{target.name!r} is not one; use --adapt-mode float")
    if frontend is not None:
        raise ValueError("--adapt-mode integer: networks on an audio front-end's events are not supported; "
                         "use --adapt-mode float")
    if any(relays_needed(int(n_neurons), target)):
        raise ValueError(f"--adapt-mode integer: {n_neurons} neurons need relay neurons on {target.name} (above "
                         f"the projection size); only the direct layout is supported, use --adapt-mode float")


def adapt_quantized(q: QuantizedSCN, target: HardwareSpec, backend, like, *, steps: int, seed: int = 0,
                    signal: Optional[np.ndarray] = None, mu: Optional[float] = None,
                    rules: Optional[IntegerRules] = None, rate_factor: Optional[float] = DEFAULT_RATE_FACTOR,
                    progress=None) -> tuple[QuantizedSCN, dict]:
    """What ``quantize --adapt-mode integer`` runs: :func:`integer_adapt` with the rules
    :func:`~neuromorph.quant.chip_training.adapt_to_chip` uses (inhibition only, spike cost
    ``mu`` or the rule's default), the fan-out mask of a network learnt under one, on ``signal``
    (chip step) or white noise.  ``like``: the float network at the chip step (its leak and
    connectivity)."""
    from neuromorph.progress import progress_bar
    from neuromorph.sim.connectivity import structural_mask

    rules = rules or IntegerRules()
    rules = rules if mu is None else replace(rules, mu=float(mu))
    mask = structural_mask(like.Omega) if like.meta.get("max_fanout") is not None else None
    with progress_bar(int(steps), "adapt to chip (integer dynamics)", progress) as upd:
        out, info = integer_adapt(q, target, backend, steps=steps, seed=seed, signal=signal, lam=float(like.lam),
                                  rules=rules, rec_mask=mask, rate_factor=rate_factor, like=like, progress=upd)
    info["rules"] = dict(rules.__dict__)
    return out, info
