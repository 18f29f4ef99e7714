"""Local learning on the constrained network: adapting an SCN to a chip.

Two tools, both running the paper's own recurrent and feed-forward rules:

* :func:`adapt_to_chip` — *delay-aware retraining*.  On silicon there is no one-spike-per-step
  arbiter, recurrent input passes a bit-shift synapse and the reset is subtractive
  (:func:`neuromorph.sim.simulator.chip_options`).  A network learnt with the arbiter is unstable
  under those dynamics: neighbouring neurons fire in the same step, overshoot, and the
  *excitatory* lateral weights between opposite neurons (Ω_ik = −F_i·F_k > 0) turn the
  overshoot into ping-pong.  Measured on the Fig 2 network: 12 kHz, error 0.69.  Removing the
  lateral excitation (the rule's ``max_lateral=0``) removes the ping-pong; spreading the
  thresholds of neighbouring neurons apart (:func:`spread_thresholds`) makes one of two
  neighbours cross first, so its late inhibition still reaches the other — together with a
  read-out fitted on the chip's spikes (:mod:`neuromorph.quant.chip_readout`) that brings Fig 2
  to 1.1–1.25× the float error at 1.36× the rate without any retraining (the quantize default;
  docs/chip_fidelity.md).  Continuing to learn under the chip's dynamics (``steps > 0``) lowers
  the error further but about doubles the spikes.
* :func:`retrain_quantized` — *quantization-aware learning*: the rules keep running on the
  integer grid of a :class:`quantization.mapping.QuantizedSCN` (stochastic rounding after each
  update, any mismatch instance), so the network re-balances itself to the device it has.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

import numpy as np

from quantization.mapping import QuantizedSCN, syn_gain

from neuromorph.metrics import optimal_decoder
from neuromorph.network import SCN
from neuromorph.sim.plasticity import FeedforwardRule, RecurrentRule
from neuromorph.sim.connectivity import structural_mask
from neuromorph.sim.rng import derive_seed
from neuromorph.sim.signals import smoothed_white_noise
from neuromorph.sim.simulator import SimOptions, WeightGrid, block_noise_source, chip_options, learn, simulate


def refit_decoder(net: SCN, seed: int, options: Optional[SimOptions] = None, steps: int = 50_000,
                  amplitude: float = 600.0, signal: Optional[np.ndarray] = None, steps_per_sample: int = 1,
                  signal_lam: Optional[float] = None) -> SCN:
    """Least-squares decoder under the given dynamics.

    Fitted on ``signal`` (trials, T, M) in network units when given — the user's training data,
    each trial from rest, at most ``steps`` steps — else on the reference's protocol
    (smoothed white noise at 0.3·A).  ``steps_per_sample`` k > 1: ``net`` steps at the chip
    step; the white noise is drawn at the learning step and held k chip steps per sample
    (``signal`` is then already at the chip step).  ``signal_lam`` (s⁻¹): the leak the white
    noise's current defines its signal at (the learnt network's; None: ``net.lam``); a network on
    the chip's leak gets that signal's current re-derived for its own (``chip_step.rederived_current``)."""
    if signal is None:
        from neuromorph.quant.chip_step import rederived_current

        k = int(steps_per_sample)
        c = smoothed_white_noise(-(-steps // k), net.n_inputs, np.random.default_rng(derive_seed(seed, 31)),
                                 amplitude=amplitude, block=None)
        c = np.repeat(c, k, axis=0) if k > 1 else c
        c = rederived_current(c, net.lam if signal_lam is None else float(signal_lam), net.lam, net.dt)
        rec = simulate(net, c, seed=derive_seed(seed, 32), record=("r",), options=options)
        r, x = rec.r, rec.x
    else:
        from neuromorph.quant.calibration import truncate_steps
        from neuromorph.sim.signals import current_for_signal

        rs, xs = [], []
        for k, tr in enumerate(truncate_steps(signal, steps)):
            rec = simulate(net, current_for_signal(tr, net.lam, net.dt), seed=derive_seed(seed, 32, k),
                           record=("r",), options=options)
            rs.append(rec.r)
            xs.append(tr)
        r, x = np.concatenate(rs), np.concatenate(xs)
    out = net.copy()
    out.D = optimal_decoder(r, x)
    return out


def neighbour_signs(F: np.ndarray) -> np.ndarray:
    """±1 per neuron (N,) such that neurons with similar encoders get opposite signs: greedily,
    the unsigned neuron most similar (cosine of encoders) to a signed one takes the opposite
    sign of that closest signed neighbour (on a ring of encoders: alternating signs)."""
    F = np.asarray(F, dtype=np.float64)
    n = F.shape[0]
    U = F / np.maximum(np.linalg.norm(F, axis=1, keepdims=True), 1e-300)
    W = U @ U.T
    np.fill_diagonal(W, -np.inf)
    sign = np.zeros(n)
    sign[0] = 1.0
    for _ in range(n - 1):
        signed = np.flatnonzero(sign)
        sim = W[:, signed]
        pull = sim.max(axis=1)
        pull[signed] = -np.inf
        i = int(np.argmax(pull))
        sign[i] = -sign[signed[int(np.argmax(sim[i]))]]
    return sign


def spread_thresholds(net: SCN, spread: float) -> SCN:
    """``net`` with thresholds ``T_i (1 ± spread)``, the sign alternating between neurons of
    similar encoders (:func:`neighbour_signs`).

    Why: without a spike arbiter, neurons with similar encoders see the same coding error and
    cross their (equal) thresholds in the same step; all of them fire, the estimate overshoots.
    Thresholds set apart by a fraction of T make one of a pair cross steps earlier, and its
    (one-step-late) inhibition reaches the other in time — the arbiter's job, done by the
    thresholds (measured on Fig 2: docs/chip_fidelity.md)."""
    out = net.copy()
    if spread > 0:
        out.thresholds = net.thresholds * (1.0 + float(spread) * neighbour_signs(net.F))
    return out


def adapt_to_chip(net: SCN, *, dash_syn: int = 1, steps: int = 400_000, seed: int = 0,
                  inhibition_only: bool = True, progress=None, signal: Optional[np.ndarray] = None,
                  steps_per_sample: int = 1, mu: Optional[float] = None, threshold_spread: float = 0.0,
                  signal_lam: Optional[float] = None) -> SCN:
    """Retrain ``net`` under chip dynamics (see module docstring); returns a new network with a
    decoder refitted under those dynamics.

    ``signal`` (trials, T, M), network units: the user's training data; the rules then learn on
    it (looped, :func:`neuromorph.quant.calibration.data_source`) and the decoder is fitted on
    it.  ``None``: the paper's smoothed white-noise blocks.  ``steps_per_sample`` k > 1: ``net``
    steps at the chip step (:func:`neuromorph.quant.chip_step.at_chip_step`), ``signal`` is at
    that step, the white noise is drawn at the learning step and held k chip steps; ``steps``
    counts chip steps.  ``threshold_spread``: :func:`spread_thresholds` first.  ``mu``: the recurrent rule's spike cost (None: the rule's default, the
    paper's 0.02/0.9); a larger cost trades coding precision for fewer spikes.  ``signal_lam``
    (s⁻¹): the leak the white noise's current defines its signal at (the learnt network's; None:
    ``net.lam``); ``net`` on the chip's leak learns on that signal's re-derived current."""
    from neuromorph.quant.chip_step import rederived_source, upsampled_source

    opts = chip_options(dash_syn, net.dt)
    work = spread_thresholds(net, threshold_spread)
    max_lat = 0.0 if inhibition_only else float("inf")
    if inhibition_only:
        off = ~np.eye(work.n_neurons, dtype=bool)
        work.Omega[off] = np.minimum(work.Omega[off], 0.0)
    rec = RecurrentRule(max_lateral=max_lat) if mu is None else RecurrentRule(max_lateral=max_lat, mu=float(mu))
    rules = (rec, FeedforwardRule())
    if signal is None:
        source = upsampled_source(block_noise_source(net.n_inputs, derive_seed(seed, 33)), int(steps_per_sample))
        source = rederived_source(source, net.lam if signal_lam is None else float(signal_lam), net.lam, net.dt)
    else:
        from neuromorph.quant.calibration import data_source

        source = data_source(signal, net.lam, net.dt)
    # a network learnt under a fan-out limit keeps its connectivity (neuromorph.sim.connectivity)
    mask = structural_mask(net.Omega) if net.meta.get("max_fanout") is not None else None
    if steps > 0:
        work = learn(work, source, steps, rules=rules, seed=derive_seed(seed, 34), options=opts, progress=progress,
                     rec_mask=mask).network
    out = refit_decoder(work, seed, opts, signal=signal, steps_per_sample=steps_per_sample, signal_lam=signal_lam)
    out.meta = dict(net.meta, chip_adapted={"dash_syn": dash_syn, "steps": steps, "inhibition_only": inhibition_only,
                                            "steps_per_sample": int(steps_per_sample),
                                            "threshold_spread": float(threshold_spread),
                                            "signal": "white noise" if signal is None else "data"})
    return out


def weight_grid(q: QuantizedSCN) -> WeightGrid:
    """The float-unit grid of ``q``'s integer weights (uniform scale, i.e. the ``scn`` method)."""
    if not np.allclose(q.neuron_gain, 1.0):
        raise ValueError("quantization-aware learning needs one voltage scale (mapping method 'scn')")
    G = syn_gain(q.dash_syn)
    S = q.scale_v
    from quantization.fixed_point import qmax

    return WeightGrid(q_rec=2.0 ** q.shift_rec * G / S, q_ff=2.0 ** q.shift_in * G * q.input_gain / S,
                      q_max=float(qmax(q.weight_bits)), diag_offset=q.threshold / S)


def retrain_quantized(q: QuantizedSCN, like: SCN, *, steps: int = 200_000, seed: int = 0,
                      options: Optional[SimOptions] = None, rules=None, progress=None) -> QuantizedSCN:
    """Run the local rules on the integer network ``q`` (weights stay on its grid) and return
    the re-balanced integer network (thresholds, leak and scales unchanged) with its read-out
    weights refitted."""
    from neuromorph.quant.fakequant import fake_quant_network

    grid = weight_grid(q)
    net = fake_quant_network(q, like)
    # recurrent plasticity only by default: on a coarse grid, stochastically rounded
    # feed-forward updates move encoders by whole steps (measured: worse than not retraining)
    rules = rules or (RecurrentRule(),)
    res = learn(net, block_noise_source(net.n_inputs, derive_seed(seed, 35)), steps, rules=rules,
                seed=derive_seed(seed, 36), options=options, grid=grid, progress=progress)
    Om = res.network.Omega.copy()
    Om[np.diag_indices_from(Om)] += grid.diag_offset
    w_rec = np.rint(Om / grid.q_rec).astype(np.int64)
    w_in = np.rint(res.network.F / grid.q_ff).astype(np.int64)
    m = int(grid.q_max)
    if np.abs(w_rec).max() > m or np.abs(w_in).max() > m:
        raise AssertionError("learning left the weight grid")  # grid_round clips; cannot happen
    q2 = replace(q, w_in=w_in, w_rec=w_rec, stats=dict(q.stats, retrained_steps=steps))
    return refit_readout(q2, like, seed, options)


def refit_readout(q: QuantizedSCN, like: SCN, seed: int, options: Optional[SimOptions] = None) -> QuantizedSCN:
    """Least-squares decoder of the integer network (as the chip runs it), put on ``q``'s
    read-out grid (same scale and shift)."""
    from quantization.fixed_point import qmax

    from neuromorph.quant.fakequant import fake_quant_network

    fq = refit_decoder(fake_quant_network(q, like), seed, options)
    m = qmax(q.weight_bits)
    w = np.clip(np.rint(fq.D * q.scale_out / (syn_gain(q.dash_syn_out) * 2.0 ** q.shift_out)), -m, m)
    return replace(q, w_out=w.astype(np.int64))
