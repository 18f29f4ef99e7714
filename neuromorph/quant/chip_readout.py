"""The read-out decoder fitted on the chip's own spikes.

The decoder D that quantize maps onto the output neurons was fitted in the float simulator
(:func:`neuromorph.quant.chip_training.refit_decoder`), on spikes that are not the chip's: the
integer network fires at other moments (bit-shift leaks and synapses, rounding, event-coded
input).  The read-out is linear in the output weights, so the least-squares decoder of the
*emulated* spikes can be fitted exactly: each hidden neuron's spike train is passed through the
output neuron's filter (the one-step hidden → output delivery, the bit-shift synapse
``dash_syn_out``, the leaky membrane ``dash_mem_out``), and the weights that best map those
traces onto the calibration signal are put on the output weight grid (same scale and shift as
the mapping chose, so the full-scale range is unchanged).

The filter is the float form of the bit-shift updates (``x ← x − x·2^−d``); the chip's integer
rounding of the decay is what it leaves out.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.signal import lfilter

from quantization.fixed_point import qmax
from quantization.mapping import QuantizedSCN

from neuromorph.quant.calibration import as_trials


def output_traces(q: QuantizedSCN, spikes: np.ndarray) -> np.ndarray:
    """Output-membrane response (T, N), integer units per unit effective weight, to the hidden
    spike counts ``spikes`` (T, N), aligned as :func:`neuromorph.backends.xylo.deploy.decode_output`
    aligns the membrane (row t: the state after step t + 1, which estimates x_t)."""
    a = 1.0 - 2.0 ** -int(q.dash_syn_out)
    b = 1.0 - 2.0 ** -int(q.dash_mem_out)
    i_syn = lfilter([a], [1.0, -a], np.asarray(spikes, dtype=np.float64), axis=0)  # decayed before V
    return lfilter([1.0], [1.0, -b], i_syn, axis=0)


def fit_chip_readout(backend, q: QuantizedSCN, deployable, x: np.ndarray, ridge: float = 1e-6) -> tuple:
    """``q`` with output weights fitted on the emulated spikes of signal ``x`` (trials, T, M),
    network units at the learning step.  Returns ``(q_new, info)``; ``info`` has the clipped
    weight count and the fitted decoder's in-sample error on the filtered traces.

    Only for a direct layout (no relays: the relayed read-out adds hops this fit does not model)."""
    from neuromorph.metrics import normalized_error
    from neuromorph.quant.chip_step import downsample, upsample

    if q.stats.get("relays"):
        return q, {"fitted": False, "reason": "relay layout"}
    k = q.steps_per_sample
    feats, targets = [], []
    for tr in as_trials(x):
        raster = backend.encode(q, upsample(tr[None], k)[0])
        rec = backend.emulate(deployable, raster, record=True)
        f = output_traces(q, rec["Spikes"])
        feats.append(downsample(f[None], k)[0])
        targets.append(tr)
    Phi, X = np.concatenate(feats), np.concatenate(targets)
    # β (M, N): x̂ = Φ βᵀ, β = w_eff / S_out; ridge relative to the traces' energy keeps silent
    # neurons' weights at 0
    G = Phi.T @ Phi
    G[np.diag_indices_from(G)] += ridge * np.trace(G) / max(1, G.shape[0])
    beta = np.linalg.solve(G, Phi.T @ X).T
    m = qmax(q.weight_bits)
    w = np.rint(beta * q.scale_out / 2.0 ** q.shift_out)
    clipped = int(np.count_nonzero(np.abs(w) > m))
    w = np.clip(w, -m, m).astype(np.int64)
    fit_err = normalized_error(X, Phi @ (w * 2.0 ** q.shift_out / q.scale_out).T)
    return replace(q, w_out=w), {"fitted": True, "clipped": clipped, "in_sample_error": float(fit_err)}
