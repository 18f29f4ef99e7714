"""Bit-exact, batched emulator of the Xylo SNN core (xylosim v2 integer arithmetic), in numba.

One time step ``t`` of one device instance (the order matters because of saturation):

1. **Input delivery.** For input channel ``i`` ascending, ``c = min(x[t, i], 15)`` events; for each
   non-zero input weight (synapse 0 targets, then synapse 1) ``Isyn_s[j] = sat16(Isyn_s[j] + c*w)``
   with ``w = wrap16(W_in << weight_shift_in)``.
2. **Hidden events of step t-1**, hidden neuron ``p`` ascending, ``c`` = its events (<= 31): to
   recurrent targets as above (``weight_shift_rec``) and, if ``p`` is one of the last ``Noen``
   hidden neurons, to the output neurons' ``Isyn_out`` (``weight_shift_out``).
3. **Hidden neuron update**, ascending ``j``; the alias event buffer starts at 0 every step:
   ``Isyn_s -= D(Isyn_s, dash_syn_s)``; ``dV = sat16(wrap16(-D(V, dash_mem)) + Isyn + Isyn2)``;
   ``dV = sat16(dV + bias)``; ``V = sat16(V + dV)``; then ``n = buffer[j]`` and
   ``while V >= threshold and n < 31: n += 1; V = wrap16(V - threshold)`` (subtractive reset, not
   saturated); ``buffer[j] = n``; if neuron ``j`` has alias target ``a``:
   ``buffer[a] = min(buffer[a] + n, 31)`` (also when ``a < j``; the final buffer is the event count).
4. **Output neurons**: the same update with one synapse, their own dashes/bias, at most 1 event.

Why each (source, target) pair is delivered as *one* saturating add of ``c*w``: repeated
same-sign saturating additions equal one saturating addition of their sum, and the contributions
of one source to one target are consecutive in xylosim's delivery order.

Notation: ``sat16(x)`` = :func:`quantization.chip_arith.saturate` ``(x, 16)``, ``wrap16(x)`` =
:func:`~quantization.chip_arith.wrap` ``(x, 16)``, ``D`` = :func:`~quantization.chip_arith.bitshift_decrement`,
``Isyn -= D(Isyn, d)`` = :func:`~quantization.chip_arith.bitshift_decayed` and ``wrap16(W << shift)`` =
:func:`~quantization.chip_arith.shift_weight`. Those primitives are defined once, in
``quantization.chip_arith``, as numba functions that numba inlines here; this module only composes
them in the chip's order (``integrate_vmem``, ``fire_hidden``, ``fire_output``, the kernels). The
per-instance kernel holds Isyn, Isyn2 and Vmem in float32 during a run and, for specs without
aliases and with thresholds > 0, computes the update in float32 vector code: every value it forms
is an integer of magnitude below 2**20, which float32 represents exactly, so the arithmetic is the
same integer arithmetic (the reasons are spelled out at the update; ``tests/test_xylo_emulator.py``
compares it with the integer loop at the extremes). The batch axis ``B`` holds independent device instances
(different weights, same shapes) and/or trials; it is spread over threads with ``prange``.

Recordings follow Rockpool's ``XyloSim.evolve(record=True)``: keys ``Vmem``, ``Isyn``, ``Isyn2``,
``Spikes`` (T, Nhid) and ``Vmem_out``, ``Isyn_out`` (T, Nout), state *after* the step's update and
reset, ``int64`` by default (syns63300's XyloSim omits ``Isyn2``; we always return it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import numba
import numpy as np
from numba import njit, prange

from quantization.chip_arith import (
    bitshift_decayed,
    bitshift_decrement,
    saturate,
    shift_weight_array,
    wrap,
)

from neuromorph.backends.xylo.emulator_lanes import LanePack, lanes_applicable, run_lanes
from neuromorph.backends.xylo.spec import XyloSpec

__all__ = [
    "MAX_HIDDEN_EVENTS",
    "MAX_INPUT_EVENTS",
    "MAX_OUTPUT_EVENTS",
    "BatchedSpec",
    "XyloState",
    "EmulatorResult",
    "emulate",
    "integrate_vmem",
    "fire_hidden",
    "fire_output",
]

MAX_HIDDEN_EVENTS = 31  #: events per hidden neuron per step (5-bit counter)
MAX_INPUT_EVENTS = 15  #: events per input channel per step (4-bit counter)
MAX_OUTPUT_EVENTS = 1  #: events per output neuron per step
STATE_BITS = 16  #: width of Isyn, Isyn2, Vmem and of shifted weights (xylosim's int16_t)
INT16_MIN, INT16_MAX = -(1 << (STATE_BITS - 1)), (1 << (STATE_BITS - 1)) - 1

RECORD_KEYS = ("Vmem", "Isyn", "Isyn2", "Spikes", "Vmem_out", "Isyn_out")


# =============================================================================================
# Neuron update: the chip's integer primitives (quantization.chip_arith) composed in xylosim's order
# =============================================================================================
@njit(cache=True, inline="always")
def integrate_vmem(v: int, isyn_total: int, dash_mem: int, bias: int) -> int:
    """Membrane update: ``dV = sat16(wrap16(-D(V)) + ΣIsyn)``, ``dV = sat16(dV + bias)``,
    ``V = sat16(V + dV)``.

    ``isyn_total`` is the sum of the already-decayed synaptic currents (a new input event is thus
    decayed once before it reaches V; dash_syn = 0 wipes it). The negated decrement is an int16:
    for V = -32768 at dash_mem = 0 it wraps to -32768 (observed in xylosim: V stays pinned at
    -32768 instead of jumping up). Xylo adds the bias only when biases are enabled; a zero bias
    leaves dV unchanged, so adding it always is identical.
    """
    dv = saturate(wrap(-bitshift_decrement(v, dash_mem), STATE_BITS) + isyn_total, STATE_BITS)
    dv = saturate(dv + bias, STATE_BITS)
    return saturate(v + dv, STATE_BITS)


@njit(cache=True, inline="always")
def fire_hidden(v: int, threshold: int, n0: int) -> tuple[int, int]:
    """Hidden spike generation with subtractive reset; returns ``(n, v)``.

    ``n`` starts at ``n0`` (events already copied in by an alias source this step); while
    ``v >= threshold and n < 31``: ``n += 1``, ``v = wrap16(v - threshold)``. For threshold > 0 the
    loop is evaluated in closed form (``k = v // threshold`` own events, never wraps).
    """
    if threshold > 0:
        if v >= threshold and n0 < MAX_HIDDEN_EVENTS:
            k = v // threshold
            room = MAX_HIDDEN_EVENTS - n0
            if k > room:
                k = room
            return n0 + k, v - k * threshold
        return n0, v
    n = n0
    while v >= threshold and n < MAX_HIDDEN_EVENTS:
        n += 1
        v = wrap(v - threshold, STATE_BITS)
    return n, v


@njit(cache=True, inline="always")
def fire_output(v: int, threshold: int) -> tuple[int, int]:
    """Output spike generation: at most one event, ``v = wrap16(v - threshold)`` when it fires."""
    if v >= threshold:
        return 1, wrap(v - threshold, STATE_BITS)
    return 0, v


# =============================================================================================
# Kernels
# =============================================================================================
@njit(cache=True, inline="always")
def _collect_active(spk, active) -> int:
    """Write the indices of the neurons with events (``spk > 0``) into ``active``, ascending; return
    how many. Blocks of 32 with a fixed trip count: a vector OR skips the (many) blocks without one."""
    N = spk.shape[0]
    n = 0
    nb = N // 32
    for b in range(nb):
        j0 = b * 32
        anyev = 0
        for j in range(32):
            anyev |= spk[j0 + j]
        if anyev != 0:
            for j in range(j0, j0 + 32):
                if spk[j] > 0:
                    active[n] = j
                    n += 1
    for j in range(nb * 32, N):
        if spk[j] > 0:
            active[n] = j
            n += 1
    return n


@njit(cache=True, error_model="numpy")  # no zero-division check: the quotient is used for thresholds > 0 only
def _run_instance(
    raster, in_ptr, in_tgt, in_w, in_dense, rec_ptr, rec_syn, out_ptr, out_syn,
    thr, dmem, dsyn, bias, alias, fpar, thr_o, dmem_o, dsyn_o, bias_o,
    v, isyn, spk, vo, io, out_ev, rec_hidden, rec_out,
    r_spk, r_v, r_i, r_i2, r_vo, r_io,
):  # fmt: skip
    """Run one instance for T steps, updating the state arrays in place.

    raster (T, Nin) uint8 input counts; ``*_ptr`` CSR row pointers over pre-synaptic sources,
    ``in_tgt`` targets (``s*N + j`` for hidden synapse ``s``), ``in_w`` effective weights (int32);
    ``rec_syn``/``out_syn`` the recurrent/readout synapses packed as ``w << 16 | target`` in int32
    (``w << 32 | target`` in int64 for targets >= 2**16): one load and two operations instead of
    two loads a synapse, and half the bytes of a row;
    ``in_dense`` (Nin, 2N) int16 the input weights as dense rows, or (0, 0) to deliver through the
    CSR; ``fpar`` (5, N) float32 ``2**-dash_syn``, ``2**-dash_syn_2``, ``2**-dash_mem``, bias,
    threshold (the closed-form update's operands); ``dsyn`` (2N,) dashes per synapse; ``isyn`` (2N,)
    both synaptic currents; ``spk`` (N,) events of the previous step on entry, of the last step on
    exit; ``out_ev`` (T, Nout) output events.
    """
    T, n_in = raster.shape
    N = v.shape[0]
    n_out = vo.shape[0]
    closed_form = True
    for j in range(N):
        if alias[j] >= 0 or thr[j] <= 0:
            closed_form = False
    dense_in = in_dense.shape[0] > 0
    # float32 operands of the closed-form update (see there); fp32 constants keep the loop in fp32
    f_s0, f_s1, f_sm, f_bias, f_thr = fpar[0], fpar[1], fpar[2], fpar[3], fpar[4]
    one, lo, hi, max_ev = np.float32(1.0), np.float32(INT16_MIN), np.float32(INT16_MAX), np.float32(MAX_HIDDEN_EVENTS)
    active = np.empty(N, np.int64)  # hidden neurons with events in the previous step, ascending
    n_active = _collect_active(spk, active)
    half = np.int64(rec_syn.itemsize * 4)  # packed synapses: weight in the upper, target in the lower half
    mask = (np.int64(1) << half) - 1
    # Isyn, Isyn2 and Vmem live in float32 during the run (written back at the end): every value the
    # kernel forms from them is an integer below 2**20 in magnitude, exact in float32, and the
    # closed-form update and saturating additions then need no conversions (min/max, no branches)
    fi = isyn.astype(np.float32)
    fv = v.astype(np.float32)

    for t in range(T):
        # 1. input events of this step, channels ascending
        for i in range(n_in):
            c = np.int64(raster[t, i])
            if c == 0:
                continue
            if c > MAX_INPUT_EVENTS:
                c = MAX_INPUT_EVENTS
            if dense_in:
                # every target once per channel, as in the CSR (a zero weight adds nothing to an
                # in-range state): a vector loop instead of a scatter of ~density * 2N additions
                # (in float32, exact as in the update below: |Isyn + c*w| < 2**20)
                row = in_dense[i]
                cf = np.float32(c)
                for q in range(2 * N):
                    fi[q] = min(max(fi[q] + cf * np.float32(row[q]), lo), hi)
                continue
            cf = np.float32(c)
            for k in range(in_ptr[i], in_ptr[i + 1]):
                q = in_tgt[k]
                fi[q] = min(max(fi[q] + cf * np.float32(in_w[k]), lo), hi)
        # 2. hidden events of step t-1 (only active neurons), ascending: recurrent + readout
        for a in range(n_active):
            p = active[a]
            c = np.int64(spk[p])
            cf = np.float32(c)
            for k in range(rec_ptr[p], rec_ptr[p + 1]):
                e = np.int64(rec_syn[k])  # weight << half | target: one load a synapse
                q = e & mask
                fi[q] = min(max(fi[q] + cf * np.float32(e >> half), lo), hi)
            for k in range(out_ptr[p], out_ptr[p + 1]):
                e = np.int64(out_syn[k])
                io[e & mask] = saturate(io[e & mask] + c * (e >> half), STATE_BITS)
        # 3. hidden neurons, ascending; spk becomes this step's alias/event buffer
        if closed_form:
            # No aliases and all thresholds > 0: every neuron is independent and fires
            # min(V // threshold, 31) events, so the loop is branch-free and vectorizes. It runs in
            # float32, 16 lanes, exactly: every operand and intermediate is an integer below 2**24
            # (states 16 bit, sums of three of them 18 bit), so +, -, min, max are exact;
            # v >> d = floor(v * 2**-d) (a power-of-two scaling is exact); D(v, d) = v >> d but >= 1
            # for v > 0 is max(v >> d, min(v, 1)) (for v < 0, v >> d >= v); and for 0 <= V < 2**24
            # the floor of the rounded quotient V / threshold is the integer quotient (the next
            # integer is >= 1/threshold away, more than the rounding error V/threshold * 2**-24).
            for j in range(N):
                a0 = fi[j]
                a1 = fi[N + j]
                i0 = a0 - max(np.floor(a0 * f_s0[j]), min(a0, one))
                i1 = a1 - max(np.floor(a1 * f_s1[j]), min(a1, one))
                vv = fv[j]
                nd = -max(np.floor(vv * f_sm[j]), min(vv, one))
                if nd > hi:  # wrap16(-D): only D = -32768 (V = -32768, dash 0) is out of range
                    nd = lo
                dv = min(max(nd + (i0 + i1), lo), hi)
                dv = min(max(dv + f_bias[j], lo), hi)
                vj = min(max(vv + dv, lo), hi)
                th = f_thr[j]
                n = min(max(np.floor(vj / th), np.float32(0.0)), max_ev)
                fi[j] = i0
                fi[N + j] = i1
                fv[j] = vj - n * th
                spk[j] = np.int32(n)
        else:
            spk[:] = 0
            for j in range(N):
                i0 = bitshift_decayed(np.int64(fi[j]), dsyn[j])
                i1 = bitshift_decayed(np.int64(fi[N + j]), dsyn[N + j])
                fi[j] = i0
                fi[N + j] = i1
                vj = integrate_vmem(np.int64(fv[j]), i0 + i1, dmem[j], bias[j])
                n, vj = fire_hidden(vj, np.int64(thr[j]), np.int64(spk[j]))
                fv[j] = vj
                spk[j] = n
                tgt = alias[j]
                if tgt >= 0 and n > 0:
                    m = spk[tgt] + n
                    spk[tgt] = m if m < MAX_HIDDEN_EVENTS else MAX_HIDDEN_EVENTS
        n_active = _collect_active(spk, active)
        # 4. output neurons
        for o in range(n_out):
            io_o = bitshift_decayed(np.int64(io[o]), dsyn_o[o])
            io[o] = io_o
            vv = integrate_vmem(np.int64(vo[o]), io_o, dmem_o[o], bias_o[o])
            e, vv = fire_output(vv, np.int64(thr_o[o]))
            vo[o] = vv
            out_ev[t, o] = e
        # record the state after the update, as XyloSim does
        if rec_hidden:
            for j in range(N):
                r_spk[t, j] = spk[j]
                r_v[t, j] = np.int32(fv[j])
                r_i[t, j] = np.int32(fi[j])
                r_i2[t, j] = np.int32(fi[N + j])
        if rec_out:
            for o in range(n_out):
                r_vo[t, o] = vo[o]
                r_io[t, o] = io[o]
    for q in range(2 * N):
        isyn[q] = np.int32(fi[q])
    for j in range(N):
        v[j] = np.int32(fv[j])


@njit(cache=True)
def _batch_serial(
    raster, in_ptr, in_tgt, in_w, in_dense, rec_ptr, rec_syn, out_ptr, out_syn,
    thr, dmem, dsyn, bias, alias, fpar, thr_o, dmem_o, dsyn_o, bias_o,
    v, isyn, spk, vo, io, out_ev, rec_hidden, rec_out,
    r_spk, r_v, r_i, r_i2, r_vo, r_io,
):  # fmt: skip
    """Run B instances in turn: element ``b`` uses raster ``b`` (0 if one raster) and spec ``b``
    (0 if one spec); state/output arrays have a leading B axis. Used for B == 1 or one thread."""
    # stride 0 broadcasts one raster/spec over the batch (integer arithmetic keeps numba's types int)
    r_stride = 1 if raster.shape[0] > 1 else 0
    s_stride = 1 if thr.shape[0] > 1 else 0
    for b in range(v.shape[0]):
        rb = b * r_stride
        sb = b * s_stride
        _run_instance(
            raster[rb], in_ptr[sb], in_tgt, in_w, in_dense[sb], rec_ptr[sb], rec_syn,
            out_ptr[sb], out_syn,
            thr[sb], dmem[sb], dsyn[sb], bias[sb], alias[sb], fpar[sb],
            thr_o[sb], dmem_o[sb], dsyn_o[sb], bias_o[sb],
            v[b], isyn[b], spk[b], vo[b], io[b], out_ev[b], rec_hidden, rec_out,
            r_spk[b], r_v[b], r_i[b], r_i2[b], r_vo[b], r_io[b],
        )  # fmt: skip


@njit(cache=True, parallel=True)
def _batch_parallel(
    raster, in_ptr, in_tgt, in_w, in_dense, rec_ptr, rec_syn, out_ptr, out_syn,
    thr, dmem, dsyn, bias, alias, fpar, thr_o, dmem_o, dsyn_o, bias_o,
    v, isyn, spk, vo, io, out_ev, rec_hidden, rec_out,
    r_spk, r_v, r_i, r_i2, r_vo, r_io,
):  # fmt: skip
    """As :func:`_batch_serial`, with the batch spread over numba threads (prange).

    Kept as a separate function rather than one body compiled twice: numba's on-disk cache keys
    a function by name and signature, not by its ``parallel`` flag, so the two variants would
    overwrite each other's cache entries."""
    # stride 0 broadcasts one raster/spec over the batch (integer arithmetic keeps numba's types int)
    r_stride = 1 if raster.shape[0] > 1 else 0
    s_stride = 1 if thr.shape[0] > 1 else 0
    for b in prange(v.shape[0]):  # instances are independent: one per thread
        rb = b * r_stride
        sb = b * s_stride
        _run_instance(
            raster[rb], in_ptr[sb], in_tgt, in_w, in_dense[sb], rec_ptr[sb], rec_syn,
            out_ptr[sb], out_syn,
            thr[sb], dmem[sb], dsyn[sb], bias[sb], alias[sb], fpar[sb],
            thr_o[sb], dmem_o[sb], dsyn_o[sb], bias_o[sb],
            v[b], isyn[b], spk[b], vo[b], io[b], out_ev[b], rec_hidden, rec_out,
            r_spk[b], r_v[b], r_i[b], r_i2[b], r_vo[b], r_io[b],
        )  # fmt: skip


# =============================================================================================
# Batched, kernel-ready specs
# =============================================================================================
def _csr(
    w: np.ndarray, shift: int, n_src: int, src_offset: int, n_post: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sparse delivery lists of one weight tensor.

    Args:
        w: (Npre, Npost, Nsyn) int weights.
        shift: weight left-shift.
        n_src: total number of sources indexed by the row pointer (Nin, or Nhid for rec/readout).
        src_offset: index of ``w``'s first row among the sources (``Nhid - Noen`` for the readout).
        n_post: stride of the synapse index in the target (``Nhid`` for hidden, unused for output).

    Returns:
        ``ptr`` (n_src + 1,) int64, ``tgt`` (nnz,) int32 = ``s*n_post + post``, ``w_eff`` (nnz,) int32,
        ordered by source, then synapse, then target (xylosim's order; zero effective weights dropped).
    """
    w_eff = shift_weight_array(np.transpose(w, (0, 2, 1)), shift, STATE_BITS).astype(np.int32)  # (Npre, Nsyn, Npost)
    pre, syn, post = np.nonzero(w_eff)
    counts = np.bincount(pre + src_offset, minlength=n_src)
    ptr = np.zeros(n_src + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr, (syn * n_post + post).astype(np.int32), w_eff[pre, syn, post]


@dataclass(eq=False)
class BatchedSpec:
    """``Bs`` specs with equal (Nin, Nhid, Nout), packed once into the kernel's arrays.

    Build with :meth:`from_specs` and reuse across :func:`emulate` calls to avoid re-packing.
    Specs may differ in weights, sparsity, Nien, Noen, Nsyn and every parameter.
    """

    specs: list[XyloSpec]
    n_in: int
    n_hidden: int
    n_out: int
    arrays: dict[str, np.ndarray] = field(repr=False)

    def __len__(self) -> int:
        return len(self.specs)

    def lane_pack(self) -> LanePack:
        """The batch's union CSR for the lane kernel (:mod:`~neuromorph.backends.xylo.emulator_lanes`),
        built on first use and kept."""
        pack = self.__dict__.get("_lane_pack")
        if pack is None:
            pack = self.__dict__["_lane_pack"] = LanePack(self.arrays, self.n_hidden, self.n_out)
        return pack

    @classmethod
    def from_specs(cls, specs: XyloSpec | Sequence[XyloSpec]) -> "BatchedSpec":
        """Pack one spec or a non-empty sequence of same-shape specs."""
        if isinstance(specs, XyloSpec):
            specs = [specs]
        specs = list(specs)
        if not specs:
            raise ValueError("BatchedSpec needs at least one XyloSpec")
        for k, s in enumerate(specs):
            if not isinstance(s, XyloSpec):
                raise TypeError(f"specs[{k}] is {type(s).__name__}, expected XyloSpec")
            s.validate()  # arrays may have been edited in place since construction
            if s.shape != specs[0].shape:
                raise ValueError(
                    f"specs[{k}] has (Nin, Nhid, Nout) = {s.shape}, specs[0] has {specs[0].shape}; "
                    "a batch needs equal shapes"
                )
        n_in, N, n_out = specs[0].shape
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("in", "rec", "out")}
        ptrs: dict[str, list[np.ndarray]] = {k: [] for k in parts}
        base = dict.fromkeys(parts, 0)
        for s in specs:
            for key, w, shift, n_src, off in (
                ("in", s.weights_in, s.weight_shift_in, n_in, 0),
                ("rec", s.weights_rec, s.weight_shift_rec, N, 0),
                ("out", s.weights_out[:, :, None], s.weight_shift_out, N, N - s.n_oen),
            ):
                ptr, tgt, we = _csr(w, shift, n_src, off, N if key != "out" else 0)
                ptrs[key].append(ptr + base[key])
                parts[key].append(np.stack([tgt, we]))
                base[key] += tgt.size
        arrays: dict[str, np.ndarray] = {}
        for key in parts:
            cat = np.concatenate(parts[key], axis=1)
            arrays[f"{key}_ptr"] = np.stack(ptrs[key])
            arrays[f"{key}_tgt"] = np.ascontiguousarray(cat[0], dtype=np.int32)
            arrays[f"{key}_w"] = np.ascontiguousarray(cat[1], dtype=np.int32)

        def stack(attr: str) -> np.ndarray:
            return np.ascontiguousarray(np.stack([getattr(s, attr) for s in specs]), dtype=np.int32)

        arrays.update(
            thr=stack("threshold"),
            dmem=stack("dash_mem"),
            dsyn=np.ascontiguousarray(np.concatenate([stack("dash_syn"), stack("dash_syn_2")], axis=1)),
            bias=stack("bias"),
            alias=stack("aliases"),
            thr_o=stack("threshold_out"),
            dmem_o=stack("dash_mem_out"),
            dsyn_o=stack("dash_syn_out"),
            bias_o=stack("bias_out"),
        )
        # operands of the per-instance kernel's float32 update (exact: integers below 2**24, powers of 2)
        arrays["fpar"] = np.ascontiguousarray(np.stack([
            np.exp2(-arrays["dsyn"][:, :N].astype(np.float64)), np.exp2(-arrays["dsyn"][:, N:].astype(np.float64)),
            np.exp2(-arrays["dmem"].astype(np.float64)), arrays["bias"], arrays["thr"]], axis=1), dtype=np.float32)  # fmt: skip
        arrays["in_dense"] = _dense_input(arrays, len(specs), n_in, N)
        wide = max(2 * N, n_out) > (1 << 16)  # targets need more than 16 bits: pack into int64
        for key in ("rec", "out"):
            tgt, w = arrays[f"{key}_tgt"].astype(np.int64), arrays[f"{key}_w"].astype(np.int64)
            arrays[f"{key}_syn"] = (w << (32 if wide else 16)) | tgt  # w is int16: exact in the upper half
            arrays[f"{key}_syn"] = arrays[f"{key}_syn"].astype(np.int64 if wide else np.int32)
        return cls(specs=specs, n_in=n_in, n_hidden=N, n_out=n_out, arrays=arrays)


#: input weights are delivered as dense rows when at least this fraction of them is non-zero (a
#: vector pass costs ~0.1 ns a target, a scattered addition ~1.5 ns; measured on the benchmark net)
DENSE_INPUT_MIN_DENSITY = 1 / 8
DENSE_INPUT_MAX_BYTES = 1 << 28  #: ... and the batch's dense rows (int16) fit in this many bytes


def _dense_input(arrays: dict, Bs: int, n_in: int, N: int) -> np.ndarray:
    """(Bs, Nin, 2N) int16 dense input weights, or (Bs, 0, 0) when the CSR is cheaper/smaller."""
    ptr, tgt, w = arrays["in_ptr"], arrays["in_tgt"], arrays["in_w"]
    size = Bs * n_in * 2 * N
    if size == 0 or tgt.size < DENSE_INPUT_MIN_DENSITY * size or 2 * size > DENSE_INPUT_MAX_BYTES:
        return np.zeros((Bs, 0, 0), np.int16)
    dense = np.zeros((Bs, n_in, 2 * N), np.int16)
    # spec b's synapses are tgt/w[ptr[b, 0]:ptr[b, -1]], channel i's at ptr[b, i]:ptr[b, i + 1]
    per_row = np.diff(ptr, axis=1).ravel()  # (Bs * n_in,) synapses of (spec, channel), in storage order
    row = np.repeat(np.arange(Bs * n_in), per_row)
    dense.reshape(Bs * n_in, 2 * N)[row, tgt[: row.size]] = w[: row.size]  # effective weights: int16 range
    return dense


# =============================================================================================
# State and results
# =============================================================================================
@dataclass
class XyloState:
    """Core state, integer arrays; leading batch axis ``B`` optional.

    Attributes:
        vmem: (B?, Nhid) hidden membrane potentials.
        isyn: (B?, Nhid) hidden synaptic currents, synapse 0.
        isyn2: (B?, Nhid) hidden synaptic currents, synapse 1.
        spikes: (B?, Nhid) hidden events of the last step (0..31), delivered at the next step.
        vmem_out: (B?, Nout) output membrane potentials.
        isyn_out: (B?, Nout) output synaptic currents.
    """

    vmem: np.ndarray
    isyn: np.ndarray
    isyn2: np.ndarray
    spikes: np.ndarray
    vmem_out: np.ndarray
    isyn_out: np.ndarray

    @classmethod
    def zeros(cls, n_hidden: int, n_out: int, batch: int | None = None) -> "XyloState":
        """All-zero state (what XyloSim starts from / ``reset_state`` gives)."""
        lead = () if batch is None else (batch,)
        z = lambda n: np.zeros(lead + (n,), np.int64)  # noqa: E731
        return cls(z(n_hidden), z(n_hidden), z(n_hidden), z(n_hidden), z(n_out), z(n_out))

    def __getitem__(self, b: int) -> "XyloState":
        """State of batch element ``b``."""
        return XyloState(*(getattr(self, f)[b] for f in _STATE_FIELDS))


_STATE_FIELDS = ("vmem", "isyn", "isyn2", "spikes", "vmem_out", "isyn_out")


@dataclass
class EmulatorResult:
    """Result of :func:`emulate`.

    Attributes:
        output: (B?, T, Nout) output events (0/1, int64) for ``output_mode="Spike"``, else the output
            neurons' ``Vmem``/``Isyn`` after each step, like XyloSim's ``output_mode``.
        recording: with ``record=True``: ``Vmem``, ``Isyn``, ``Isyn2``, ``Spikes`` (B?, T, Nhid) and
            ``Vmem_out``, ``Isyn_out`` (B?, T, Nout); empty dict otherwise.
        final_state: state after the last step; pass as ``initial_state`` to continue the run.
        batched: whether arrays carry the leading batch axis.
        layout: the kernel layout that ran, ``"lanes"`` or ``"instances"`` (results are identical).
    """

    output: np.ndarray
    recording: dict[str, np.ndarray]
    final_state: XyloState
    batched: bool
    layout: str = "instances"

    def as_rockpool(self) -> tuple[np.ndarray, dict, dict[str, np.ndarray]]:
        """``(output, {}, recording)``, the tuple XyloSim's ``evolve`` returns."""
        return self.output, {}, self.recording

    def __iter__(self) -> Iterator[Any]:
        return iter(self.as_rockpool())


# =============================================================================================
# Public entry point
# =============================================================================================
def _check_raster(raster: Any, n_in: int) -> np.ndarray:
    x = np.asarray(raster)
    if x.dtype.kind == "b":
        x = x.astype(np.uint8)
    elif x.dtype.kind == "f":
        if not np.array_equal(x, np.round(x)):
            raise ValueError("raster: event counts must be integers")
    elif x.dtype.kind not in "iu":
        raise ValueError(f"raster: expected integer event counts, got dtype {x.dtype}")
    if x.ndim not in (2, 3) or x.shape[-1] != n_in:
        raise ValueError(f"raster: expected shape (T, Nin) or (B, T, Nin) with Nin={n_in}, got {x.shape}")
    if x.size and x.min() < 0:
        raise ValueError("raster: event counts must be >= 0")
    # The chip takes at most 15 events per channel per step: clip here so uint8 can carry them.
    return np.minimum(x, MAX_INPUT_EVENTS).astype(np.uint8)


def _state_arrays(state: XyloState | None, B: int, N: int, n_out: int) -> list[np.ndarray]:
    if state is None:
        state = XyloState.zeros(N, n_out)
    if not isinstance(state, XyloState):
        raise TypeError(f"initial_state must be an XyloState, got {type(state).__name__}")
    out = []
    for name, n in zip(_STATE_FIELDS, (N, N, N, N, n_out, n_out)):
        a = np.asarray(getattr(state, name))
        if a.shape not in ((n,), (B, n)):
            raise ValueError(f"initial_state.{name}: expected shape ({n},) or ({B}, {n}), got {a.shape}")
        lo, hi = (0, MAX_HIDDEN_EVENTS) if name == "spikes" else (INT16_MIN, INT16_MAX)
        if a.size and (a.min() < lo or a.max() > hi):
            raise ValueError(f"initial_state.{name}: values must lie in {lo}..{hi}")
        out.append(np.ascontiguousarray(np.broadcast_to(a, (B, n)), dtype=np.int32).copy())
    return out


def emulate(
    spec: XyloSpec | Sequence[XyloSpec] | BatchedSpec,
    raster: np.ndarray,
    record: bool = False,
    output_mode: str = "Spike",
    initial_state: XyloState | None = None,
    record_dtype: type = np.int64,
    parallel: bool | None = None,
    device: str | None = None,
    layout: str | None = None,
) -> EmulatorResult:
    """Run the Xylo SNN core bit-exactly (xylosim v2 arithmetic) on one or many device instances.

    Args:
        spec: one :class:`XyloSpec`, a sequence of same-shape specs, or a :class:`BatchedSpec` (Bs
            instances); also a dict of Rockpool spec keys (e.g. Rockpool's ``mapper`` +
            ``channel_quantize`` output, or ``np.load("spec.npz")``) or a spec file path
            (:func:`~neuromorph.backends.xylo.spec.as_spec`).
        raster: integer input event counts per step, (T, Nin) or (B, T, Nin); counts above 15 are
            clipped as on the chip. A 2-D raster is shared by all instances; a single spec is shared
            by all rasters. ``B = max(Bs, Br)``; Bs and Br must be equal or 1.
        record: also return the internal states (see :class:`EmulatorResult`).
        output_mode: ``"Spike"`` (output events), ``"Vmem"`` or ``"Isyn"`` (output neuron state).
        initial_state: start state (unbatched arrays are broadcast over B); zeros by default.
        record_dtype: dtype of recordings (int64 like XyloSim; int16/int32 save memory).
        parallel: spread the batch over numba threads; ``None`` = when B > 1 and >1 thread.
        device: the chip of a dict or plain Rockpool NPZ ``spec`` (default ``"xylo-audio-v2"``).
        layout: ``"lanes"`` (instances side by side in SIMD lanes,
            :mod:`~neuromorph.backends.xylo.emulator_lanes`), ``"instances"`` (one instance after
            another) or ``None``: lanes where they apply (B >= 2, a shared sparsity pattern, no
            aliases, thresholds > 0) and the batch is busy (:func:`_busy`). Both give identical results; ``"lanes"`` where it does not
            apply raises ValueError.

    Returns:
        :class:`EmulatorResult`; arrays have a leading B axis iff ``spec`` is a sequence/BatchedSpec
        or ``raster`` is 3-D.
    """
    if output_mode not in ("Spike", "Vmem", "Isyn"):
        raise ValueError(f"output_mode must be 'Spike', 'Vmem' or 'Isyn', got {output_mode!r}")
    if layout not in (None, "lanes", "instances"):
        raise ValueError(f"layout must be 'lanes', 'instances' or None, got {layout!r}")
    if isinstance(spec, (Mapping, str, os.PathLike)) or hasattr(spec, "files"):  # dict / NpzFile / path
        from neuromorph.backends.xylo.spec import as_spec

        spec = as_spec(spec, device)
    batched = not isinstance(spec, XyloSpec) or np.ndim(raster) == 3
    bspec = spec if isinstance(spec, BatchedSpec) else BatchedSpec.from_specs(spec)
    x = _check_raster(raster, bspec.n_in)
    if x.ndim == 2:
        x = x[None]
    Bs, Br = len(bspec), x.shape[0]
    if Bs != Br and 1 not in (Bs, Br):
        raise ValueError(f"batch sizes differ: {Bs} specs vs {Br} rasters (need equal, or one of them 1)")
    B, T = max(Bs, Br), x.shape[1]
    N, n_out = bspec.n_hidden, bspec.n_out

    v, i0, i1, spk, vo, io = _state_arrays(initial_state, B, N, n_out)
    isyn = np.ascontiguousarray(np.concatenate([i0, i1], axis=1))
    rec_out = record or output_mode != "Spike"
    if parallel is None:
        parallel = B > 1 and numba.get_num_threads() > 1
    if layout != "instances":
        pack = bspec.lane_pack()
        if lanes_applicable(pack, B) and (layout == "lanes" or _busy(bspec, x, (v, isyn, spk, vo, io))):
            out_ev, r, (v, isyn, spk, vo, io) = run_lanes(
                pack, bspec.arrays, x, [v, isyn, spk, vo, io], B, record, rec_out, record_dtype, parallel
            )
            return _result(out_ev, r, (v, isyn, spk, vo, io), N, record, output_mode, batched, "lanes")
        if layout == "lanes":
            raise ValueError(f"layout='lanes' does not apply to this batch (B={B}"
                             f"{', ' + pack.why if pack.why else ''})")  # fmt: skip
    out_ev = np.zeros((B, T, n_out), np.int64)
    th, to = (T if record else 0), (T if rec_out else 0)
    r = [np.zeros((B, th, N), record_dtype) for _ in range(4)]
    r += [np.zeros((B, to, n_out), record_dtype) for _ in range(2)]

    kernel = _batch_parallel if parallel else _batch_serial
    a = bspec.arrays
    kernel(
        x, a["in_ptr"], a["in_tgt"], a["in_w"], a["in_dense"], a["rec_ptr"], a["rec_syn"],
        a["out_ptr"], a["out_syn"],
        a["thr"], a["dmem"], a["dsyn"], a["bias"], a["alias"], a["fpar"],
        a["thr_o"], a["dmem_o"], a["dsyn_o"], a["bias_o"],
        v, isyn, spk, vo, io, out_ev, bool(record), bool(rec_out), *r,
    )  # fmt: skip
    return _result(out_ev, r, (v, isyn, spk, vo, io), N, record, output_mode, batched, "instances")


#: fraction of hidden neurons with events in a step from which a batch runs in lanes (see :func:`_busy`)
LANES_MIN_ACTIVE_FRACTION = 0.22
PROBE_STEPS = 64


def _busy(bspec: BatchedSpec, x: np.ndarray, state: tuple) -> bool:
    """Whether the batch is busy enough for the lane layout: a throw-away run of instance 0 for the
    first :data:`PROBE_STEPS` steps, per-instance kernel, the fraction of its neurons with events in
    a step vs :data:`LANES_MIN_ACTIVE_FRACTION`.

    Only the speed depends on this choice (both layouts give identical results). The per-instance
    kernel's cost grows with the spiking sources it delivers (about 2 + 60 * fraction us per
    instance-step on the benchmark network, N = 1000, fan-out 64, one core), the lanes' much less
    (about 15 us: a source goes dense once 1/8 of the lanes fire). Measured break-even between a
    fraction of 0.17 (per-instance 1.3x faster) and 0.28 (lanes 1.3x faster)."""
    T = min(x.shape[1], PROBE_STEPS)
    if T == 0:
        return False
    a = bspec.arrays
    N, n_out = bspec.n_hidden, bspec.n_out
    st = [s[:1].copy() for s in state]  # a copy: the probe must not advance the real state
    hidden = [np.zeros((1, T, N), np.int16) for _ in range(4)]  # the kernel records all four when asked
    one = lambda k: a[k][:1]  # noqa: E731
    _batch_serial(
        np.ascontiguousarray(x[:1, :T]), one("in_ptr"), a["in_tgt"], a["in_w"], one("in_dense"),
        one("rec_ptr"), a["rec_syn"], one("out_ptr"), a["out_syn"],
        one("thr"), one("dmem"), one("dsyn"), one("bias"), one("alias"), one("fpar"),
        one("thr_o"), one("dmem_o"), one("dsyn_o"), one("bias_o"),
        *st, np.zeros((1, T, n_out), np.int64), True, False,
        *hidden, np.zeros((1, 0, n_out), np.int16), np.zeros((1, 0, n_out), np.int16),
    )  # fmt: skip
    return float((hidden[0] > 0).mean()) >= LANES_MIN_ACTIVE_FRACTION


def _result(out_ev, r, state, N, record, output_mode, batched, layout) -> EmulatorResult:
    """Assemble the :class:`EmulatorResult` from either kernel's arrays (leading B axis)."""
    v, isyn, spk, vo, io = state
    # kernel order of ``r`` is (Spikes, Vmem, Isyn, Isyn2, Vmem_out, Isyn_out); present in XyloSim's order
    named = dict(zip(("Spikes", "Vmem", "Isyn", "Isyn2", "Vmem_out", "Isyn_out"), r))
    recording = {k: named[k] for k in RECORD_KEYS} if record else {}
    output = {"Spike": out_ev, "Vmem": r[4], "Isyn": r[5]}[output_mode]
    final = XyloState(
        *(s.astype(np.int64) for s in (v, isyn[:, :N], isyn[:, N:], spk, vo, io))
    )
    if not batched:
        output = output[0]
        recording = {k: val[0] for k, val in recording.items()}
        final = final[0]
    return EmulatorResult(output=output, recording=recording, final_state=final, batched=batched, layout=layout)
