"""Calibration on the user's signal: what the integer scales and the chip adaptation are sized from.

A signal here is x (trials, T, M) in *network units* (the run's :class:`~neuromorph.data.Scaling`
already applied), sampled at the network's step.  Each trial is driven from rest with the
current ``c = current_for_signal(x, λ, dt)`` (x₋₁ = 0), as the chip is driven by the encoder.

Onset.  A trial that does not start at 0 begins with a jump from rest to x₀: the first per-step
drive is ``u₀ = x₀`` where the signal's own steps are ``|u| ≈ λ dt |x| + |Δx|`` — 10× smaller on a
smooth signal (measured: 5.7 vs 0.53 on a 6-channel sine mixture at 3.6 std).  Sizing the input
gain for that one step would waste 10× of the event resolution for the whole signal, so the
first :data:`ONSET_STEPS` steps of each trial (the jump and the pre-emphasis step after it) are
left out of the input peak and of the clipping fraction; the sigma-delta encoder carries the
events it cannot send at the onset into the next steps (reported as ``onset_events_deferred``).
Likewise the voltage and read-out peaks leave out the first :func:`settle_steps` (two membrane
time constants) in which the network catches up with x₀ (V reached 6.3 there, 2.1 afterwards).
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import numpy as np

from quantization.encoding import pre_emphasis

from neuromorph.network import SCN
from neuromorph.sim.rng import derive_seed
from neuromorph.sim.signals import current_for_signal
from neuromorph.sim.loop import InputSource
from neuromorph.sim.simulator import simulate

#: Default of ``quantize --max-clipping``: quantize fails (exit 2) when more than this fraction
#: of the input events is held back by the per-step event limit (calibration or held-out signal).
DEFAULT_MAX_CLIPPING = 0.01
#: Above this clipped fraction quantize and verify warn (one line on stderr).
WARN_CLIPPING = 0.001

#: Steps at a trial's start left out of the input peak and the clipping fraction (see module doc).
ONSET_STEPS = 2


def settle_steps(lam: float, dt: float) -> int:
    """Steps (two membrane time constants ``2/λ``) the network needs to catch up with x₀."""
    return int(math.ceil(2.0 / (lam * dt)))


def as_trials(x: np.ndarray) -> np.ndarray:
    """``x`` as (trials, T, M): a (T, M) array is one trial."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        return x[None]
    if x.ndim != 3:
        raise ValueError(f"signal must be (T, M) or (trials, T, M), got shape {x.shape}")
    return x


def truncate_steps(x: np.ndarray, max_steps: int) -> np.ndarray:
    """The first trials of ``x`` (trials, T, M) whose steps add up to at most ``max_steps``
    (at least one trial, cut to ``max_steps`` if it alone is longer)."""
    x = as_trials(x)
    k = max(1, min(x.shape[0], int(max_steps) // max(1, x.shape[1])))
    return x[:k, :int(max_steps)]


def chip_increments(x: np.ndarray, lam: float, dt: float) -> np.ndarray:
    """Per-step drive ``u_t = x_t − (1 − λdt) x_{t−1}`` (= dt·c_t, x₋₁ = 0) of one trial (T, M)
    for a neuron leak ``lam`` (the chip's, for the encoder)."""
    x = np.asarray(x, dtype=np.float64)
    prev = np.vstack([np.zeros((1, x.shape[1])), x[:-1]])
    return x - (1.0 - lam * dt) * prev


def data_source(x: np.ndarray, lam: float, dt: float) -> InputSource:
    """Input current that loops over the trials of ``x`` (trials, T, M) for learning.

    The trials are joined one after the other (and the last back to the first) as one periodic
    signal, and the current is that of the joined signal: at a join the network sees the step
    from the end of one trial to the start of the next, not a restart from rest."""
    x = as_trials(x)
    flat = x.reshape(-1, x.shape[2])
    prev = np.roll(flat, 1, axis=0)
    c = (flat - (1.0 - lam * dt) * prev) / dt
    n = c.shape[0]

    def source(start: int, length: int) -> np.ndarray:
        return c[(start + np.arange(length)) % n]

    return source


def operating_statistics_on(net: SCN, x: np.ndarray, seed: int, dash_syn: int = 1,
                            drive: Optional[Callable[[np.ndarray, int], np.ndarray]] = None,
                            max_sim_steps: Optional[int] = None) -> dict:
    """Peak per-step input, peak |V| and peak |x̂| of ``net`` on the trials of ``x``.

    The data counterpart of :func:`neuromorph.quant.fakequant.operating_statistics` (same keys,
    same meaning), trial by trial from rest, with the onset left out (module docstring).

    Parameters
    ----------
    net : SCN
    x : ndarray, shape (trials, T, M) or (T, M)
        Signal in network units at ``net.dt``.
    seed : int
    dash_syn : int
        Input-synapse bit-shift decay of the drive transform.
    drive : callable ``(u, dash_syn) -> (T, M)``, optional
        ``Backend.input_drive``; default the bit-shift pre-emphasis.
    max_sim_steps : int, optional
        Simulate (for the V and x̂ peaks) only the first trials up to this many steps
        (:func:`truncate_steps`); the input peak always covers all of ``x``.
    """
    x = as_trials(x)
    n_sim = x.shape[0] if max_sim_steps is None else truncate_steps(x, max_sim_steps).shape[0]
    sim_len = x.shape[1] if max_sim_steps is None else min(x.shape[1], int(max_sim_steps))
    settle = settle_steps(net.lam, net.dt)
    peak_in = v_peak = x_peak = 0.0
    for k, tr in enumerate(x):
        c = current_for_signal(tr, net.lam, net.dt)
        u = c * net.dt
        sent = (drive or pre_emphasis)(u, dash_syn)
        if tr.shape[0] > ONSET_STEPS:
            peak_in = max(peak_in, float(np.abs(u[ONSET_STEPS:]).max()), float(np.abs(sent[ONSET_STEPS:]).max()))
        if k >= n_sim:
            continue
        rec = simulate(net, c[:sim_len], seed=derive_seed(seed, 22, k), record=("V",))
        s = settle if sim_len > settle else 0
        v_peak = max(v_peak, float(np.abs(rec.V[s:]).max()))
        x_peak = max(x_peak, float(np.abs(rec.x[s:]).max()))
    if peak_in <= 0:
        raise ValueError("the calibration signal is constant after its onset: nothing sizes the input gain")
    return {"input_peak": peak_in, "v_peak": v_peak, "x_peak": x_peak}


def wanted_events(drive: np.ndarray, gain: float) -> np.ndarray:
    """Signed events per step and dimension the encoder would send without a limit (T, M)."""
    return gain * np.asarray(drive, dtype=np.float64)


def clipping(drives: list, gain: float, max_events: int) -> dict:
    """How much of the wanted input the per-step event limit holds back.

    Parameters
    ----------
    drives : list of ndarray (T, M)
        Per trial, the per-step drive the encoder event-codes (``Backend.input_drive`` of the
        chip-leak increments).
    gain : float
        Events per unit of drive (``QuantizedSCN.input_gain``).
    max_events : int
        The chip's per-step, per-channel limit.

    Returns
    -------
    dict
        ``input_events_clipped_fraction``: Σ max(|g·u_t| − limit, 0) / Σ |g·u_t| over the steps after
        each trial's onset — the share of the input the limit delays (the sigma-delta sends it
        later); ``steps_at_limit_fraction``: share of (step, dimension) entries whose wanted count
        exceeds the limit; ``onset_events_deferred``: events beyond the limit in the onset steps,
        summed over trials; ``peak_wanted_events``: max |g·u| after the onset.
    """
    excess = total = onset = 0.0
    over = entries = 0
    peak = 0.0
    for d in drives:
        w = np.abs(wanted_events(d, gain))
        ex = np.maximum(w - max_events, 0.0)
        onset += float(ex[:ONSET_STEPS].sum())
        body, ex_body = w[ONSET_STEPS:], ex[ONSET_STEPS:]
        total += float(w.sum())
        excess += float(ex_body.sum())
        over += int(np.count_nonzero(ex_body > 0))
        entries += int(body.size)
        if body.size:
            peak = max(peak, float(body.max()))
    return {"input_events_clipped_fraction": excess / total if total > 0 else 0.0,
            "steps_at_limit_fraction": over / entries if entries else 0.0,
            "onset_events_deferred": onset, "peak_wanted_events": peak, "max_events": int(max_events)}
