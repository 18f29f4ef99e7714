"""Evaluation protocol of the reference (frozen weights): decoder fit, test trials, metrics.

Follows ``docs/authors_code.md`` §2.5: the decoder is fitted by least squares on one long input at
``decoder_amplitude`` (0.3·A in Fig 2), then the network is tested on ``n_trials`` fresh inputs
at the training amplitude; reported are the normalised error, mean rate and voltage variance.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

import numpy as np

from neuromorph.metrics import normalized_error, optimal_decoder, voltage_variance
from neuromorph.network import SCN
from neuromorph.sim.rng import state_from_generator
from neuromorph.sim.signals import smoothed_white_noise
from neuromorph.sim.simulator import SimOptions, simulate


@dataclass
class EvalProtocol:
    """Lengths in steps; amplitudes of the input current."""

    decoder_steps: int = 50_000
    decoder_amplitude: float = 600.0
    test_steps: int = 10_000
    n_trials: int = 10
    amplitude: float = 2000.0
    sigma: float = 30.0


def evaluate(net: SCN, seed: int, protocol: Optional[EvalProtocol] = None,
             options: Optional[SimOptions] = None, decoder: Optional[np.ndarray] = None,
             workers: Optional[int] = None) -> dict:
    """Fit a decoder (unless given) and measure error, rate (Hz) and Var(V) on test trials.

    Returns a dict with ``error``, ``rate_hz``, ``v_var`` and ``D`` (M, N).  ``workers``: threads
    for the simulations (None = the cores this process may use); the numbers do not depend on it.
    """
    p = protocol or EvalProtocol()
    ss = np.random.SeedSequence(seed)
    s_dec, s_test, s_noise = ss.spawn(3)
    M = net.n_inputs
    # The trials' inputs and noise seeds come from one generator in sequence (input, then the
    # noise stream simulate() derives from it, then the next trial's input …): drawn here in that
    # order, so the simulations themselves are independent and run on the available cores (the
    # kernel releases the GIL) with exactly the numbers of a sequential run.
    g = np.random.default_rng(s_test)
    trials = []
    for _ in range(p.n_trials):
        c = smoothed_white_noise(p.test_steps, M, g, amplitude=p.amplitude, sigma=p.sigma, block=None)
        trials.append((c, state_from_generator(g)))

    def decoder_run():
        c = smoothed_white_noise(p.decoder_steps, M, np.random.default_rng(s_dec),
                                 amplitude=p.decoder_amplitude, sigma=p.sigma, block=None)
        rec = simulate(net, c, seed=np.random.default_rng(s_noise), record=("r",), options=options)
        return optimal_decoder(rec.r, rec.x)

    def trial(c, noise_state):
        rec = simulate(net, c, seed=noise_state, record=("r", "V"), options=options)
        return rec.x, rec.r, rec.mean_rate_hz(), voltage_variance(rec.V)

    workers = min(_cores() if workers is None else max(1, int(workers)), p.n_trials + (decoder is None))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            dec_f = pool.submit(decoder_run) if decoder is None else None
            outs = [f.result() for f in [pool.submit(trial, c, st) for c, st in trials]]
            decoder = dec_f.result() if dec_f is not None else decoder
    else:
        decoder = decoder_run() if decoder is None else decoder
        outs = [trial(c, st) for c, st in trials]
    errs = [normalized_error(x, r @ decoder.T) for x, r, _, _ in outs]
    rates = [o[2] for o in outs]
    vv = [o[3] for o in outs]
    return {"error": float(np.mean(errs)), "rate_hz": float(np.mean(rates)), "v_var": float(np.mean(vv)),
            "D": decoder}


def _cores() -> int:
    """Cores this process may run on (1 under ``taskset -c 0``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
