"""From a quantized SCN to a Xylo deployment: the Rockpool-format spec, the input raster and
the read-out decoding.

Layout (paper orientation → Rockpool's ``[source, target, syn]``):

* input channel ``2j`` / ``2j+1`` carry the positive / negative part of signal dimension j
  (sigma-delta events, :mod:`quantization.encoding`); both project ``±w_in[:, j]`` onto
  synapse 0 of every hidden neuron; a network trained on an audio front-end's events
  (``train --frontend``) instead takes the AFE's 16 channels unchanged, AFE channel c projecting
  the weights ``w_in[:, c // 2]`` of the band it is pooled into (unsigned events);
* recurrent weights ``w_rec[i, k]`` (k → i) sit on the last synapse (synapse 1 on 2-synapse
  chips, so input and recurrent filtering can be set apart; synapse 0 on Xylo IMU);
* output neuron m integrates ``w_out[m, :]`` and never fires (threshold at the int16 maximum);
  its membrane divided by ``scale_out`` is x̂_m.
"""
from __future__ import annotations

import numpy as np

from quantization.encoding import encode_signed_events, pre_emphasis
from quantization.hardware import HardwareSpec
from quantization.mapping import QuantizedSCN

from neuromorph.backends.xylo.spec import XyloSpec

# int16 maximum: an output neuron fires only if its membrane reaches the top of the state range,
# which the read-out scale (quantization headroom) keeps it well below in normal operation
NEVER_FIRE = 32767


def spec_from_quantized(q: QuantizedSCN, target: HardwareSpec) -> XyloSpec:
    """The Rockpool spec of ``q`` for ``target`` (a Xylo device); above the input/output
    projection size (Xylo Audio 3, Xylo IMU) the relay layout of :mod:`.relays`."""
    from neuromorph.backends.xylo.relays import plan_for, relay_spec_arrays

    n, m = q.n_neurons, q.n_inputs
    nsyn = 2 if (target.max_syn or 1) >= 2 else 1
    plan = plan_for(q, target)
    if plan is not None:
        a = relay_spec_arrays(q, target, plan, nsyn)
        full = lambda v, k: np.full(k, int(v), dtype=np.int64)  # noqa: E731
        return XyloSpec.from_dict(dict(
            a, threshold_out=full(NEVER_FIRE, m), dash_mem_out=full(q.dash_mem_out, m),
            dash_syn_out=full(q.dash_syn_out, m), weight_shift_rec=q.shift_rec, weight_shift_out=q.shift_out,
            bias_out=full(0, m), dt=q.dt), device=target.device)
    if frontend_of(q) is not None:  # the AFE's channels drive the hidden neurons directly
        w_in = np.zeros((m * int(frontend_of(q)["pool"]), n, nsyn), dtype=np.int64)
        w_in[:, :, 0] = frontend_input_weights(q)
    else:
        w_in = np.zeros((2 * m, n, nsyn), dtype=np.int64)
        w_in[0::2, :, 0] = q.w_in.T
        w_in[1::2, :, 0] = -q.w_in.T
    w_rec = np.zeros((n, n, nsyn), dtype=np.int64)
    w_rec[:, :, nsyn - 1] = q.w_rec.T
    full = lambda v, k: np.full(k, int(v), dtype=np.int64)  # noqa: E731
    return XyloSpec.from_dict(dict(
        weights_in=w_in, weights_rec=w_rec, weights_out=q.w_out.T.copy(), threshold=q.threshold.copy(),
        threshold_out=full(NEVER_FIRE, m), dash_mem=full(q.dash_mem, n), dash_syn=full(q.dash_syn, n),
        dash_syn_2=full(q.dash_syn, n), dash_mem_out=full(q.dash_mem_out, m), dash_syn_out=full(q.dash_syn_out, m),
        weight_shift_in=q.shift_in, weight_shift_rec=q.shift_rec, weight_shift_out=q.shift_out,
        bias=full(0, n), bias_out=full(0, m), dt=q.dt), device=target.device)


def encode_signal(q: QuantizedSCN, x: np.ndarray) -> np.ndarray:
    """Input raster (T, 2M) that makes the chip represent signal ``x`` (T, M).

    The drive is ``c = (x_t − (1 − λ_d dt) x_{t−1}) / dt`` with λ_d = :func:`drive_lam`: the
    chip's own leak ``λ_chip = 2^−dash_mem/dt`` (its membrane then holds exactly F x) or the
    learnt one (quantize's default on Xylo: the chip holds a lead-lag filtered x and the read-out
    fitted on its spikes maps it back, docs/chip_fidelity.md)."""
    x = np.asarray(x, dtype=np.float64)
    fe = frontend_of(q)
    if fe is not None:  # the audio front-end's own events, recovered exactly (backends/xylo/afe.py)
        from neuromorph.backends.xylo.afe import MAX_EVENTS, events_from_signal, raster_from_bands

        pool = int(fe["pool"])
        return raster_from_bands(events_from_signal(x * float(fe["scale"]), q.lam_chip, q.dt,
                                                    max_events=pool * MAX_EVENTS), pool)
    raster = encode_signed_events(input_drive(q, x), q.input_gain, q.max_input_events)
    lead = _plan(q).input_lead if _plan(q) else 0
    if lead:  # input relays re-emit events one step later: send them one step early
        raster = np.vstack([raster[lead:], np.zeros((lead, raster.shape[1]), dtype=raster.dtype)])
    return raster


def frontend_of(q: QuantizedSCN):
    """The audio front-end record of a network whose inputs are AFE event channels (``quantize``
    of a ``train --frontend`` run puts it in ``q.stats["frontend"]``), else None."""
    return q.stats.get("frontend")


def frontend_input_weights(q: QuantizedSCN) -> np.ndarray:
    """Input weights (AFE channels, N) of a front-end network: each AFE channel takes the weights
    of the band it is pooled into (``backends/xylo/afe.py`` ``POOL``)."""
    return np.repeat(q.w_in.T, int(frontend_of(q)["pool"]), axis=0)


def _plan(q: QuantizedSCN):
    from neuromorph.backends.xylo.relays import RelayPlan

    return RelayPlan.from_dict(q.stats.get("relays"))


def input_drive(q: QuantizedSCN, x: np.ndarray) -> np.ndarray:
    """Per-step drive (T, M) to be sigma-delta encoded for signal ``x``.

    Two compensations make the chip's V receive exactly the float model's ``dt·F c`` each step:
    (1) ``u = dt·c`` is computed for the leak :func:`drive_lam` names (the chip's, or the learnt
    one: ``quantize --set drive_leak``); (2) pre-emphasis undoes the input
    synapse's bit-shift low-pass: with ``a = 1 − 2^−dash_syn`` the synapse maps events e to
    ``Isyn_t = a (Isyn_{t−1} + W e_t)``, so sending ``G (u_t / a − u_{t−1})`` (G = 2^d − 1, the
    synapse's total gain folded into W) gives ``Isyn_t ∝ u_t``: no lag, no smoothing."""
    return pre_emphasis(signal_increments(x, drive_lam(q), q.dt), q.dash_syn)  # quantization.encoding


def drive_lam(q: QuantizedSCN) -> float:
    """The leak (s⁻¹) the input drive is computed for: ``q.stats["drive_lam"]`` as quantize chose
    it (``drive_leak``: the learnt leak or the chip's), else the chip's own ``q.lam_chip`` (the
    behaviour of networks quantized before the choice existed)."""
    v = q.stats.get("drive_lam")
    return float(q.lam_chip if v is None else v)


def signal_increments(x: np.ndarray, lam: float, dt: float) -> np.ndarray:
    """``u_t = x_t − (1 − λdt) x_{t−1}`` (= dt·c_t), with x_{−1} = 0."""
    prev = np.vstack([np.zeros((1, x.shape[1])), x[:-1]])
    return x - (1.0 - lam * dt) * prev


def decode_output(q: QuantizedSCN, vmem_out: np.ndarray) -> np.ndarray:
    """x̂ (T, M) from the output neurons' membrane (T, M), aligned with the input: the readout
    lags the hidden layer by one step (hidden → output delivery), so sample t+1 estimates x_t."""
    v = np.asarray(vmem_out, dtype=np.float64) / q.scale_out
    lag = 1 + (_plan(q).output_lag if _plan(q) else 0)  # output relays add one hop
    out = np.empty_like(v)
    out[:-lag] = v[lag:]
    out[-lag:] = v[-1]
    return out
