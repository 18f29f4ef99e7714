"""The read-out decoder fitted on the chip's own spikes.

The decoder D that quantize maps onto the output neurons was fitted in the float simulator
(:func:`neuromorph.quant.chip_training.refit_decoder`), on spikes that are not the chip's: the
integer network fires at other moments (bit-shift leaks and synapses, rounding, event-coded
input).  The read-out is linear in the output weights, so the least-squares decoder of the
*emulated* spikes can be fitted exactly: each hidden neuron's spike train is passed through the
output neuron's filter (the one-step hidden → output delivery, the bit-shift synapse
``dash_syn_out``, the leaky membrane ``dash_mem_out``), and the weights that best map those
traces onto the calibration signal are put on the output weight grid (same scale and shift as
the mapping chose, so the full-scale range is unchanged).  The output neuron's own filter is a
choice too: its membrane and synapse dash are picked among a few candidates on the last quarter
of the fit signal (never on the signal quantize or verify reports).

The filter is the float form of the bit-shift updates (``x ← x − x·2^−d``); the chip's integer
rounding of the decay is what it leaves out.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

import numpy as np

from quantization.fixed_point import qmax
from quantization.mapping import QuantizedSCN

from neuromorph.quant.calibration import as_trials
from neuromorph.sim.leaky_filter import first_order_filter


#: Output-filter candidates tried around the hidden dash: membrane dash offsets and synapse dashes.
OUT_DASH_OFFSETS = (-1, 0, 1, 2)
OUT_SYN_DASHES = (1, 2)
#: Fraction of the fit signal's steps (the last ones) that choose between output filters.
SELECT_FRACTION = 0.25


def output_traces(q: QuantizedSCN, spikes: np.ndarray, dash_mem_out: Optional[int] = None,
                  dash_syn_out: Optional[int] = None) -> np.ndarray:
    """Output-membrane response (T, N), integer units per unit effective weight, to the hidden
    spike counts ``spikes`` (T, N), aligned as :func:`neuromorph.backends.xylo.deploy.decode_output`
    aligns the membrane (row t: the state after step t + 1, which estimates x_t).  The dashes
    default to ``q``'s."""
    a = 1.0 - 2.0 ** -int(q.dash_syn_out if dash_syn_out is None else dash_syn_out)
    b = 1.0 - 2.0 ** -int(q.dash_mem_out if dash_mem_out is None else dash_mem_out)
    # scipy.signal.lfilter([a], [1, -a], ...) and ([1], [1, -b], ...) bit for bit (no scipy.signal import)
    i_syn = first_order_filter(np.asarray(spikes, dtype=np.float64), a, a)  # decayed before V
    return first_order_filter(i_syn, b, 1.0)


def _solve(Phi: np.ndarray, X: np.ndarray, ridge: float) -> np.ndarray:
    """Least-squares β (M, N) with x̂ = Φ βᵀ; the ridge, relative to the traces' energy, keeps
    silent neurons' weights at 0."""
    G = Phi.T @ Phi
    G[np.diag_indices_from(G)] += ridge * np.trace(G) / max(1, G.shape[0])
    return np.linalg.solve(G, Phi.T @ X).T


def _on_grid(q: QuantizedSCN, beta: np.ndarray) -> tuple:
    """β on the output-weight grid: the mapping's scale, and the finest weight shift up to the
    mapping's that clips nothing (a slower output filter integrates more per weight, so its
    weights are smaller: a finer shift keeps their resolution).  Returns (weights, shift, clipped)."""
    m = qmax(q.weight_bits)
    peak = float(np.max(np.abs(beta))) * q.scale_out if beta.size else 0.0
    shift = int(q.shift_out)
    while shift > 0 and peak / 2.0 ** (shift - 1) <= m:
        shift -= 1
    w = np.rint(beta * q.scale_out / 2.0 ** shift)
    clipped = int(np.count_nonzero(np.abs(w) > m))
    return np.clip(w, -m, m).astype(np.int64), shift, clipped


def output_candidates(q: QuantizedSCN, max_dash: int = 15) -> list:
    """(dash_mem_out, dash_syn_out) pairs tried: the hidden dash and its neighbours, synapse 1–2."""
    mems = sorted({min(max(int(q.dash_mem) + o, 1), max_dash) for o in OUT_DASH_OFFSETS})
    return [(dm, ds) for dm in mems for ds in OUT_SYN_DASHES if ds <= max_dash]


def fit_chip_readout(backend, q: QuantizedSCN, deployable, x: np.ndarray, ridge: float = 1e-6,
                     candidates: Optional[list] = None) -> tuple:
    """``q`` with output weights (and output filter) fitted on the emulated spikes of signal
    ``x`` (trials, T, M), network units at the learning step.  Returns ``(q_new, info)``.

    The hidden spikes do not depend on the output neurons (they never fire), so one emulation
    serves every output filter: for each candidate ``(dash_mem_out, dash_syn_out)``
    (:func:`output_candidates`, or ``candidates``) the decoder is fitted on the first
    ``1 − SELECT_FRACTION`` of the steps and scored, on the weight grid, on the rest; the best
    filter is refitted on all steps.  ``info`` has every candidate's score, the choice, the
    clipped weight count and the chosen decoder's in-sample error.

    Only for a direct layout (no relays: the relayed read-out adds hops this fit does not model)."""
    from neuromorph.metrics import normalized_error
    from neuromorph.quant.chip_step import downsample, upsample

    if q.stats.get("relays"):
        return q, {"fitted": False, "reason": "relay layout"}
    k = q.steps_per_sample
    spikes, targets = [], []
    for tr in as_trials(x):
        raster = backend.encode(q, upsample(tr[None], k)[0])
        spikes.append(backend.emulate(deployable, raster, record=True)["Spikes"])
        targets.append(tr)
    X = np.concatenate(targets)
    cut = int(round(X.shape[0] * (1.0 - SELECT_FRACTION)))

    def features(dm: int, ds: int) -> np.ndarray:
        return np.concatenate([downsample(output_traces(q, s, dm, ds)[None], k)[0] for s in spikes])

    def to_x(Phi: np.ndarray, w: np.ndarray, shift: int) -> np.ndarray:
        return Phi @ (w * 2.0 ** shift / q.scale_out).T

    scores = []
    for dm, ds in (candidates or output_candidates(q)):
        Phi = features(dm, ds)
        w, shift, _ = _on_grid(q, _solve(Phi[:cut], X[:cut], ridge))
        scores.append({"dash_mem_out": int(dm), "dash_syn_out": int(ds),
                       "selection_error": float(normalized_error(X[cut:], to_x(Phi[cut:], w, shift)))})
    best = min(scores, key=lambda r: r["selection_error"])
    dm, ds = best["dash_mem_out"], best["dash_syn_out"]
    Phi = features(dm, ds)
    w, shift, clipped = _on_grid(q, _solve(Phi, X, ridge))
    fit_err = normalized_error(X, to_x(Phi, w, shift))
    return replace(q, w_out=w, shift_out=shift, dash_mem_out=dm, dash_syn_out=ds), {
        "fitted": True, "clipped": clipped, "in_sample_error": float(fit_err), "shift_out": shift,
        "output_filter": {"dash_mem_out": dm, "dash_syn_out": ds, "candidates": scores}}
