"""The emulator's batch layout: device instances side by side in SIMD lanes.

:mod:`neuromorph.backends.xylo.emulator` runs a batch one instance after another: every step of an
instance is a loop over its 1000 neurons and a scatter of its spikes, so a batch of 64 costs 64
single runs.  Here the instance index is the *innermost* axis of every array (``state[j, lane]``,
``weight[k, lane]``): one pass over the neurons updates ``L`` instances at once with vector
instructions, and one pass over a source's fan-out delivers its events to all ``L`` instances.

The integer arithmetic is the same as the per-instance kernel's (same :mod:`quantization.chip_arith`
primitives, same order per instance), so the results are bit-identical; tests compare both layouts
with each other and with XyloSim.  What makes it applicable:

* one sparsity pattern for the batch: the union of the instances' non-zero effective weights, each
  instance holding 0 where it has no synapse (a saturating add of 0 to an in-range state is the
  identity, so the extra entries change nothing).  Mismatch instances and trials of one spec share
  their pattern exactly; a batch of unrelated networks is left to the per-instance kernel;
* no aliases (alias copies run neuron by neuron in index order, which has no lane form) and all
  hidden thresholds > 0 (then the spike count is ``min(V // threshold, 31)`` in closed form, which
  is computed in float64: for ``0 < threshold, V < 2**15`` the quotient is exact to far better than
  the ``1/threshold`` gap to the next integer, so the floor is exact).

Sparse activity: a source (input channel or hidden neuron) is delivered with the lane loop only
when at least ``1/8`` of the lanes carry events; otherwise only its active lanes are visited one by
one (a quiet network's handful of spiking neurons must not cost a full vector pass each).  Either
way each instance sees its sources in ascending order, as on the chip.

The batch is cut into blocks of at most :data:`MAX_LANES` lanes; blocks are independent and run in
parallel (numba ``prange``) when several threads are available.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from quantization.chip_arith import bitshift_decayed, saturate

__all__ = ["MAX_LANES", "LanePack", "block_layout", "lanes_applicable", "run_lanes"]

MAX_LANES = 32  #: instances per block (4 AVX-512 int64 vectors; keeps a block's state in L2)
MIN_LANES = 8  #: smallest block when the batch is split over threads
STATE_BITS = 16
MAX_HIDDEN_EVENTS = 31
#: the union pattern may hold at most this many times the largest instance's synapses
MAX_UNION_GROWTH = 1.5
MAX_PACK_BYTES = 1 << 29  #: lane weights above this (int16, all blocks) go to the per-instance kernel


@njit(cache=True, inline="always")
def _deliver(state, q, k, c_row, w, w_t, active_lanes, n_act, L):
    """``state[q, l] = sat16(state[q, l] + c[l] * w[k, l])`` for the lanes with events.

    Dense (all lanes, vector loop over row views) when >= 1/8 of the lanes are active, else lane by
    lane through the lane-major copy ``w_t`` (L, nnz), whose entries of one source are adjacent."""
    if n_act * 8 >= L:
        row = state[q]
        wr = w[k]
        for lane in range(L):
            row[lane] = saturate(np.int64(row[lane]) + np.int64(c_row[lane]) * wr[lane], STATE_BITS)
    else:
        for a in range(n_act):
            lane = active_lanes[a]
            state[q, lane] = saturate(np.int64(state[q, lane]) + np.int64(c_row[lane]) * w_t[lane, k], STATE_BITS)


@njit(cache=True, error_model="numpy")  # no zero-division checks in the lane loop (thresholds > 0)
def _lanes_block(
    x, in_ptr, in_tgt, in_w, in_wt, rec_ptr, rec_tgt, rec_w, rec_wt, out_ptr, out_tgt, out_w, out_wt,
    thr, dmem, dsyn, bias, thr_o, dmem_o, dsyn_o, bias_o,
    v, isyn, spk, vo, io, out_ev, rec_hidden, rec_out,
    r_spk, r_v, r_i, r_i2, r_vo, r_io,
):  # fmt: skip
    """Run one block of ``L`` instances for ``T`` steps (arrays ``[..., lane]``, state in place).

    x (T, Nin, L) uint8 input counts (<= 15); ``*_ptr``/``*_tgt`` the union CSR shared by the lanes
    (targets ``s*N + j``), ``*_w`` (nnz, L) int16 effective weights; thr/dmem/bias (N, L), dsyn
    (2N, L), output parameters (Nout, L); v/spk (N, L), isyn (2N, L), vo/io (Nout, L) int32;
    out_ev (T, Nout, L) int8; recordings (T, N, L) / (T, Nout, L) when enabled.
    """
    T, n_in, L = x.shape
    N = v.shape[0]
    n_out = vo.shape[0]
    lanes = np.empty(L, np.int64)
    src_lanes = np.empty((N, L), np.int64)  # per hidden source: its lanes with events, ascending
    src_count = np.zeros(N, np.int64)
    for j in range(N):
        m = 0
        for lane in range(L):
            if spk[j, lane] > 0:
                src_lanes[j, m] = lane
                m += 1
        src_count[j] = m

    for t in range(T):
        xt = x[t]
        # 1. input events of this step, channels ascending
        for i in range(n_in):
            m = 0
            for lane in range(L):
                if xt[i, lane] > 0:
                    lanes[m] = lane
                    m += 1
            if m == 0:
                continue
            for k in range(in_ptr[i], in_ptr[i + 1]):
                _deliver(isyn, in_tgt[k], k, xt[i], in_w, in_wt, lanes, m, L)
        # 2. hidden events of step t-1, sources ascending: recurrent targets, then the readout
        for p in range(N):
            m = src_count[p]
            if m == 0:
                continue
            for k in range(rec_ptr[p], rec_ptr[p + 1]):
                _deliver(isyn, rec_tgt[k], k, spk[p], rec_w, rec_wt, src_lanes[p], m, L)
            for k in range(out_ptr[p], out_ptr[p + 1]):
                _deliver(io, out_tgt[k], k, spk[p], out_w, out_wt, src_lanes[p], m, L)
        # 3. hidden neurons: decay, integrate, fire (closed form, thresholds > 0, no aliases).
        # Row views (one neuron, all lanes) keep the lane loop a plain vector loop.
        for j in range(N):
            a0, a1, vr, sr = isyn[j], isyn[N + j], v[j], spk[j]
            d0, d1, dm, bi, tr = dsyn[j], dsyn[N + j], dmem[j], bias[j], thr[j]
            cnt = 0
            for lane in range(L):
                i0 = bitshift_decayed(np.int64(a0[lane]), d0[lane])
                i1 = bitshift_decayed(np.int64(a1[lane]), d1[lane])
                a0[lane] = i0
                a1[lane] = i1
                vj = np.int64(vr[lane])
                d = vj >> dm[lane]
                if d == 0 and vj > 0:
                    d = 1
                # integrate_vmem with the decrement's negation wrapped to int16 (as in the kernel)
                nd = ((-d + 32768) & 65535) - 32768
                dv = saturate(nd + i0 + i1, STATE_BITS)
                dv = saturate(dv + bi[lane], STATE_BITS)
                vj = saturate(vj + dv, STATE_BITS)
                th = np.int64(tr[lane])
                n = np.int64(np.float64(vj) / np.float64(th))  # trunc == floor for vj >= 0
                if n < 0:
                    n = 0
                if n > MAX_HIDDEN_EVENTS:
                    n = MAX_HIDDEN_EVENTS
                vr[lane] = vj - n * th
                sr[lane] = n
                cnt += n
            m = 0
            if cnt > 0:
                sl = src_lanes[j]
                for lane in range(L):
                    if sr[lane] > 0:
                        sl[m] = lane
                        m += 1
            src_count[j] = m
        # 4. output neurons (at most one event each)
        for o in range(n_out):
            for lane in range(L):
                io_o = bitshift_decayed(np.int64(io[o, lane]), dsyn_o[o, lane])
                io[o, lane] = io_o
                vv = np.int64(vo[o, lane])
                d = vv >> dmem_o[o, lane]
                if d == 0 and vv > 0:
                    d = 1
                nd = ((-d + 32768) & 65535) - 32768
                dv = saturate(nd + io_o, STATE_BITS)
                dv = saturate(dv + bias_o[o, lane], STATE_BITS)
                vv = saturate(vv + dv, STATE_BITS)
                th = np.int64(thr_o[o, lane])
                e = 0
                if vv >= th:
                    e = 1
                    vv = ((vv - th + 32768) & 65535) - 32768
                vo[o, lane] = vv
                out_ev[t, o, lane] = e
        if rec_hidden:
            for j in range(N):
                for lane in range(L):
                    r_spk[t, j, lane] = spk[j, lane]
                    r_v[t, j, lane] = v[j, lane]
                    r_i[t, j, lane] = isyn[j, lane]
                    r_i2[t, j, lane] = isyn[N + j, lane]
        if rec_out:
            for o in range(n_out):
                for lane in range(L):
                    r_vo[t, o, lane] = vo[o, lane]
                    r_io[t, o, lane] = io[o, lane]


@njit(cache=True)
def _lanes_serial(
    x, in_ptr, in_tgt, in_w, in_wt, rec_ptr, rec_tgt, rec_w, rec_wt, out_ptr, out_tgt, out_w, out_wt,
    thr, dmem, dsyn, bias, thr_o, dmem_o, dsyn_o, bias_o,
    v, isyn, spk, vo, io, out_ev, rec_hidden, rec_out,
    r_spk, r_v, r_i, r_i2, r_vo, r_io,
):  # fmt: skip
    """Blocks one after another (leading axis of every per-lane array = block)."""
    for b in range(v.shape[0]):
        _lanes_block(
            x[b], in_ptr, in_tgt, in_w[b], in_wt[b], rec_ptr, rec_tgt, rec_w[b], rec_wt[b],
            out_ptr, out_tgt, out_w[b], out_wt[b],
            thr[b], dmem[b], dsyn[b], bias[b], thr_o[b], dmem_o[b], dsyn_o[b], bias_o[b],
            v[b], isyn[b], spk[b], vo[b], io[b], out_ev[b], rec_hidden, rec_out,
            r_spk[b], r_v[b], r_i[b], r_i2[b], r_vo[b], r_io[b],
        )  # fmt: skip


@njit(cache=True, parallel=True)
def _lanes_parallel(
    x, in_ptr, in_tgt, in_w, in_wt, rec_ptr, rec_tgt, rec_w, rec_wt, out_ptr, out_tgt, out_w, out_wt,
    thr, dmem, dsyn, bias, thr_o, dmem_o, dsyn_o, bias_o,
    v, isyn, spk, vo, io, out_ev, rec_hidden, rec_out,
    r_spk, r_v, r_i, r_i2, r_vo, r_io,
):  # fmt: skip
    """As :func:`_lanes_serial`, one block per thread (a separate function: numba's cache keys
    ignore the ``parallel`` flag)."""
    for b in prange(v.shape[0]):
        _lanes_block(
            x[b], in_ptr, in_tgt, in_w[b], in_wt[b], rec_ptr, rec_tgt, rec_w[b], rec_wt[b],
            out_ptr, out_tgt, out_w[b], out_wt[b],
            thr[b], dmem[b], dsyn[b], bias[b], thr_o[b], dmem_o[b], dsyn_o[b], bias_o[b],
            v[b], isyn[b], spk[b], vo[b], io[b], out_ev[b], rec_hidden, rec_out,
            r_spk[b], r_v[b], r_i[b], r_i2[b], r_vo[b], r_io[b],
        )  # fmt: skip


# =============================================================================================
# Packing: union CSR + per-lane weights and parameters
# =============================================================================================
def _union_csr(ptr: np.ndarray, tgt: np.ndarray, w: np.ndarray, n_tgt: int) -> tuple[np.ndarray, ...]:
    """Union of ``Bs`` instances' CSR lists (``ptr`` (Bs, n_src+1) into the concatenated ``tgt``/``w``).

    Returns ``uptr`` (n_src+1,) int64, ``utgt`` (nnz,) int32 in the per-instance order (source, then
    target index), ``W`` (nnz, Bs) int16 (0 where an instance has no such synapse) and the largest
    per-instance nnz."""
    n_src = ptr.shape[1] - 1
    keys = []
    for p in ptr:
        src = np.repeat(np.arange(n_src, dtype=np.int64), np.diff(p))
        keys.append(src * n_tgt + tgt[p[0] : p[-1]])
    ukeys = np.unique(np.concatenate(keys)) if keys else np.zeros(0, np.int64)
    W = np.zeros((ukeys.size, ptr.shape[0]), np.int16)
    for b, (p, kb) in enumerate(zip(ptr, keys)):
        W[np.searchsorted(ukeys, kb), b] = w[p[0] : p[-1]]
    uptr = np.zeros(n_src + 1, np.int64)
    np.cumsum(np.bincount(ukeys // n_tgt, minlength=n_src), out=uptr[1:])
    return uptr, (ukeys % n_tgt).astype(np.int32), W, max((k.size for k in keys), default=0)


class LanePack:
    """A :class:`~neuromorph.backends.xylo.emulator.BatchedSpec`'s union CSR (built once, cached on it).

    Attributes: ``csr[key] = (ptr, tgt, W)`` for key in in/rec/out with ``W`` (nnz, Bs) int16;
    ``ok`` whether the lane kernel applies (see module docstring) and ``why`` if not."""

    def __init__(self, arrays: dict, n_hidden: int, n_out: int) -> None:
        self.ok, self.why = True, ""
        self.cache: dict = {}
        if (arrays["alias"] >= 0).any():
            self.ok, self.why = False, "aliases"
        elif (arrays["thr"] <= 0).any():
            self.ok, self.why = False, "hidden thresholds <= 0"
        if not self.ok:
            return
        self.csr = {}
        for key, n_tgt in (("in", 2 * n_hidden), ("rec", 2 * n_hidden), ("out", n_out)):
            uptr, utgt, W, biggest = _union_csr(arrays[f"{key}_ptr"], arrays[f"{key}_tgt"].astype(np.int64),
                                                arrays[f"{key}_w"], max(n_tgt, 1))  # fmt: skip
            if utgt.size > MAX_UNION_GROWTH * biggest + 64:
                self.ok, self.why = False, f"instances share no sparsity pattern ({key})"
                return
            self.csr[key] = (uptr, utgt, W)


def lanes_applicable(pack: LanePack, B: int) -> bool:
    """Whether a batch of ``B`` runs in lanes (a pattern-sharing batch of >= 2 that fits memory)."""
    if not pack.ok or B < 2:
        return False
    nnz = sum(c[1].size for c in pack.csr.values())
    return nnz * B * 2 <= MAX_PACK_BYTES


def block_layout(B: int, threads: int) -> tuple[int, int]:
    """``(n_blocks, lanes)``: at most :data:`MAX_LANES` lanes, at least one block per thread while
    blocks keep :data:`MIN_LANES` lanes; ``n_blocks * lanes >= B`` (extra lanes are padding)."""
    nblk = max(math.ceil(B / MAX_LANES), min(max(threads, 1), B // MIN_LANES))
    nblk = max(nblk, 1)
    return nblk, math.ceil(B / nblk)


def _to_lanes(a: np.ndarray, lane_src: np.ndarray, nblk: int, L: int, dtype) -> np.ndarray:
    """(Bsrc, *shape) rows picked by ``lane_src`` (B_pad,) → (nblk, *shape, L) contiguous."""
    g = a[lane_src]  # (B_pad, *shape)
    g = g.reshape((nblk, L) + a.shape[1:])
    return np.ascontiguousarray(np.moveaxis(g, 1, -1), dtype=dtype)


def _from_lanes(a: np.ndarray, B: int) -> np.ndarray:
    """(nblk, *shape, L) → (B, *shape)."""
    g = np.moveaxis(a, -1, 1)
    return g.reshape((a.shape[0] * a.shape[-1],) + a.shape[1:-1])[:B]


def run_lanes(pack: LanePack, arrays: dict, x: np.ndarray, state: list[np.ndarray], B: int,
              record: bool, rec_out: bool, record_dtype, parallel: bool) -> tuple:
    """Run the batch in lanes.

    Args:
        pack / arrays: the BatchedSpec's lane pack and kernel arrays (Bs specs).
        x: (Br, T, Nin) uint8 input counts.
        state: [v, isyn (both synapses, 2N), spk, vo, io] each (B, n) int32.
        B: batch size (``max(Bs, Br)``; ``Bs``, ``Br`` equal or 1).

    Returns:
        ``(out_ev (B, T, Nout) int64, recordings [Spikes, Vmem, Isyn, Isyn2, Vmem_out, Isyn_out],
        final state [v, isyn, spk, vo, io] (B, n) int32)``.
    """
    Bs, Br, T = arrays["thr"].shape[0], x.shape[0], x.shape[1]
    N, n_out = arrays["thr"].shape[1], arrays["thr_o"].shape[1]
    threads = numba.get_num_threads() if parallel else 1
    nblk, L = block_layout(B, threads)
    Bp = nblk * L
    lane = np.minimum(np.arange(Bp), B - 1)  # padding lanes repeat the last instance
    spec_of = lane if Bs > 1 else np.zeros(Bp, np.int64)
    raster_of = lane if Br > 1 else np.zeros(Bp, np.int64)

    xl = _to_lanes(x, raster_of, nblk, L, np.uint8)  # (nblk, T, Nin, L)
    key = (nblk, L, B if Bs > 1 else 0)
    if key not in pack.cache:  # repeated calls on one BatchedSpec reuse the lane arrays (last layout only)
        csr = {}
        for name, (uptr, utgt, W) in pack.csr.items():
            wl = _to_lanes(W.T, spec_of, nblk, L, np.int16)  # (nblk, nnz, L)
            csr[name] = (uptr, utgt, wl, np.ascontiguousarray(np.swapaxes(wl, 1, 2)))  # + (nblk, L, nnz)
        par = {k: _to_lanes(arrays[k], spec_of, nblk, L, np.int32)
               for k in ("thr", "dmem", "dsyn", "bias", "thr_o", "dmem_o", "dsyn_o", "bias_o")}  # fmt: skip
        pack.cache.clear()
        pack.cache[key] = (csr, par)
    csr, par = pack.cache[key]
    st = [_to_lanes(s, lane, nblk, L, np.int32) for s in state]
    out_ev = np.zeros((nblk, T, n_out, L), np.int8)
    th, to = (T if record else 0), (T if rec_out else 0)
    r = [np.zeros((nblk, th, N, L), record_dtype) for _ in range(4)]
    r += [np.zeros((nblk, to, n_out, L), record_dtype) for _ in range(2)]
    kernel = _lanes_parallel if (parallel and nblk > 1) else _lanes_serial
    kernel(
        xl, *csr["in"], *csr["rec"], *csr["out"],
        par["thr"], par["dmem"], par["dsyn"], par["bias"],
        par["thr_o"], par["dmem_o"], par["dsyn_o"], par["bias_o"],
        *st, out_ev, bool(record), bool(rec_out), *r,
    )  # fmt: skip
    out = _from_lanes(out_ev, B).astype(np.int64)
    recs = [_from_lanes(a, B) for a in r]
    return out, recs, [_from_lanes(s, B) for s in st]
