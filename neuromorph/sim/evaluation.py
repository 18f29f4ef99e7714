"""Evaluation protocol of the reference (frozen weights): decoder fit, test trials, metrics.

Follows ``docs/authors_code.md`` §2.5: the decoder is fitted by least squares on one long input at
``decoder_amplitude`` (0.3·A in Fig 2), then the network is tested on ``n_trials`` fresh inputs
at the training amplitude; reported are the normalised error, mean rate and voltage variance.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from neuromorph.metrics import normalized_error, optimal_decoder, voltage_variance
from neuromorph.network import SCN
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
             options: Optional[SimOptions] = None, decoder: Optional[np.ndarray] = None) -> dict:
    """Fit a decoder (unless given) and measure error, rate (Hz) and Var(V) on test trials.

    Returns a dict with ``error``, ``rate_hz``, ``v_var`` and ``D`` (M, N).
    """
    p = protocol or EvalProtocol()
    ss = np.random.SeedSequence(seed)
    s_dec, s_test, s_noise = ss.spawn(3)
    M = net.n_inputs
    if decoder is None:
        c = smoothed_white_noise(p.decoder_steps, M, np.random.default_rng(s_dec),
                                 amplitude=p.decoder_amplitude, sigma=p.sigma, block=None)
        rec = simulate(net, c, seed=np.random.default_rng(s_noise), record=("r",), options=options)
        decoder = optimal_decoder(rec.r, rec.x)
    g = np.random.default_rng(s_test)
    errs, rates, vv = [], [], []
    for _ in range(p.n_trials):
        c = smoothed_white_noise(p.test_steps, M, g, amplitude=p.amplitude, sigma=p.sigma, block=None)
        rec = simulate(net, c, seed=g, record=("r", "V"), options=options)
        errs.append(normalized_error(rec.x, rec.r @ decoder.T))
        rates.append(rec.mean_rate_hz())
        vv.append(voltage_variance(rec.V))
    return {"error": float(np.mean(errs)), "rate_hz": float(np.mean(rates)), "v_var": float(np.mean(vv)),
            "D": decoder}
