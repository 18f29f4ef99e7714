r"""Fixed-point mapping of a float SCN onto a Xylo-like integer core.

Float model (paper orientation; see ``neuromorph.network``): ``F`` (N, M), ``Omega`` (N, N),
``D`` (M, N), thresholds ``T`` (N,), leak λ (s⁻¹), step dt (s); voltage update
``V ← (1−λdt)V + dt F c + Ω o_{t−1}``, no explicit reset (the self-reset is ``Omega_kk``).

Integer core (``docs/xylo_integer_update.md``): events add ``W << shift`` to a
synaptic current that decays by bit shift ``dash_syn`` *before* reaching V, V decays by
``dash_mem``, a spike subtracts the threshold θ at once.  The correspondence used here, with
``S`` integer units per float voltage unit and ``G(d) = 2^d − 1`` the total charge a unit
synaptic event delivers through a bit-shift synapse of dash ``d ≥ 1``:

==============================  ============================================================
float                           integer
==============================  ============================================================
threshold ``T_i``               ``θ_i = round(S T_i)``
recurrent ``Ω_ik`` (i ≠ k)      ``w_rec[i,k] << s_rec ≈ S Ω_ik / G(d_syn)``
self-reset ``Ω_kk``             subtractive reset ``−θ_k`` at once **plus**
                                ``w_rec[k,k] << s_rec ≈ S (Ω_kk + T_k) / G(d_syn)``
input ``dt F c`` per step       ``n_t`` events per step (``n ≈ g·dt·c``, ± channel pairs),
                                ``w_in[i,j] << s_in ≈ S F_ij / (g G(d_syn))``
leak ``1 − λdt``                ``1 − 2^{−dash_mem}`` (λ_chip = 2^{−dash_mem}/dt)
read-out ``x̂ = D r``           output neuron membrane ``/ S_out``,
                                ``w_out[m,i] << s_out ≈ S_out D_mi / G(d_syn_out)``
==============================  ============================================================

Methods (``MappingOptions.method``):

* ``"scn"`` (default, SCN-aware): one voltage scale, separate shifts per weight class, the
  self-reset carried by the chip's subtractive reset (so the recurrent grid is set by the
  small lateral weights, not by the large diagonal), symmetric rounding of the lateral
  weights (keeps Ω ≈ −F Fᵀ symmetric), thresholds re-derived from the quantized encoders
  (keeps ``T_i ∝ ‖F_i‖²``), and no two neurons rounded into copies of each other.
* ``"global"`` / ``"channel"``: what Rockpool's ``global_quantize`` / ``channel_quantize`` do
  (one scale for input+recurrent weights and thresholds, or one per target neuron), the full
  Ω (diagonal included) quantized as recurrent weights; provided for comparison.

This module never imports ``neuromorph``: arrays and a :class:`HardwareSpec` in, a
:class:`QuantizedSCN` out.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

import numpy as np

from .fixed_point import dash_from_tau, euler_rate_from_dash, qmax, round_nearest, split_weight_shift
from .hardware import HardwareSpec

QUANTIZED_FORMAT = "neuromorph-quantized-scn"
QUANTIZED_FORMAT_VERSION = 1
METHODS = ("scn", "global", "channel")


def syn_gain(dash: int) -> float:
    """Total charge a unit event delivers into V through a bit-shift synapse (≈ 2^d − 1)."""
    if dash < 1:
        raise ValueError("dash_syn must be >= 1: dash 0 wipes the synaptic current before it reaches V")
    return float(2 ** int(dash) - 1)


@dataclass
class MappingOptions:
    """How to map.  ``headroom``: fraction of the state range that the expected peak |V| may use
    (the rest absorbs transients); ``dash_syn``: the chip synapse's bit-shift decay (≥ 1);
    ``input_gain``: a fixed event gain g (events per unit of per-step input) instead of the one
    sized from ``input_peak`` — for inputs that already are events (an audio front-end's), whose
    gain is a fact of the data, not a choice of the mapping."""

    method: str = "scn"
    rounding: str = "nearest"
    dash_syn: int = 1
    dash_syn_out: int = 1
    headroom: float = 0.5
    seed: Optional[int] = None
    symmetric: bool = True
    threshold_from_encoders: bool = True
    dedupe: bool = True
    full_range: bool = True
    input_gain: Optional[float] = None
    #: ``False``: keep the voltage scale the state headroom allows instead of lowering it (by up
    #: to 2x) so the largest recurrent weight lands on the grid's end; the recurrent shift is then
    #: the smallest that fits.  For networks that keep learning on the grid (their weights move;
    #: neuromorph.quant.integer_training re-grids), where voltage and input resolution matter more.
    full_range_rec: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.rounding not in ("nearest", "stochastic"):
            raise ValueError(f"rounding must be 'nearest' or 'stochastic', got {self.rounding!r}")
        if not 0 < self.headroom <= 1:
            raise ValueError(f"headroom must lie in (0, 1], got {self.headroom}")
        syn_gain(self.dash_syn)
        syn_gain(self.dash_syn_out)
        if self.input_gain is not None and not (np.isfinite(self.input_gain) and self.input_gain > 0):
            raise ValueError(f"input_gain must be > 0 events per unit, got {self.input_gain}")


@dataclass
class QuantizedSCN:
    """An SCN in the chip's integer formats (paper orientation, see module docstring).

    Integer arrays: ``w_in`` (N, M), ``w_rec`` (N, N) (``w_rec[i, k]``: k → i; diagonal = residual
    self-kick after the subtractive reset when ``subtractive_reset``), ``w_out`` (M, N),
    ``threshold`` (N,).  Scalars: shifts, dashes, ``scale_v`` S (integer units per float voltage
    unit), ``input_gain`` g (events per unit of per-step input ``dt·c``), ``scale_out`` S_out
    (integer units per unit of x̂), ``lam`` (float model's leak, s⁻¹), ``dt`` (s, the chip's
    step), ``steps_per_sample`` k (chip steps per step of the learnt network).
    """

    target: str
    method: str
    weight_bits: int
    w_in: np.ndarray
    w_rec: np.ndarray
    w_out: np.ndarray
    threshold: np.ndarray
    shift_in: int
    shift_rec: int
    shift_out: int
    dash_mem: int
    dash_syn: int
    dash_mem_out: int
    dash_syn_out: int
    scale_v: float
    input_gain: float
    scale_out: float
    lam: float
    dt: float
    neuron_gain: Optional[np.ndarray] = None
    max_input_events: int = 15
    stats: dict = field(default_factory=dict)
    #: chip steps per sample of the learnt network (``dt`` is the chip step; the network was
    #: learnt at ``steps_per_sample * dt``): signals are upsampled k× for the chip
    steps_per_sample: int = 1

    @property
    def n_neurons(self) -> int:
        return self.w_rec.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.w_in.shape[1]

    @property
    def lam_chip(self) -> float:
        """Leak rate (s⁻¹) the chip's bit-shift decay implements: 1 − λdt = 1 − 2^−dash_mem.

        Forward Euler, not the exact exponential: the float model steps V by ``1 − λdt``, so
        this λ makes its per-step factor equal the chip's."""
        return float(euler_rate_from_dash(self.dash_mem, self.dt))

    def __post_init__(self) -> None:
        if self.neuron_gain is None:
            self.neuron_gain = np.ones(self.w_rec.shape[0])
        self.neuron_gain = np.asarray(self.neuron_gain, dtype=np.float64)

    def dequantize(self) -> dict:
        """The float network this integer network implements (for fake-quant simulation):
        ``F`` (N, M), ``Omega`` (N, N), ``D`` (M, N), ``thresholds`` (N,), ``lam`` (s⁻¹).

        Neuron i's voltage scale is ``scale_v * neuron_gain[i]``; the subtractive reset −θ_k is
        folded back into the diagonal of Ω."""
        G = syn_gain(self.dash_syn)
        S = (self.scale_v * self.neuron_gain)[:, None]
        F = self.w_in.astype(np.float64) * 2.0 ** self.shift_in * G * self.input_gain / S
        Om = self.w_rec.astype(np.float64) * 2.0 ** self.shift_rec * G / S
        T = self.threshold.astype(np.float64) / S[:, 0]
        Om[np.diag_indices_from(Om)] -= T
        D = self.w_out.astype(np.float64) * 2.0 ** self.shift_out * syn_gain(self.dash_syn_out) / self.scale_out
        return {"F": F, "Omega": Om, "D": D, "thresholds": T, "lam": self.lam_chip}

    def to_arrays(self) -> dict:
        """Plain arrays + JSON-able metadata for a versioned file."""
        meta = {k: v for k, v in asdict(self).items() if not isinstance(v, np.ndarray)}
        meta.update(format=QUANTIZED_FORMAT, format_version=QUANTIZED_FORMAT_VERSION)
        arrays = {k: getattr(self, k) for k in ("w_in", "w_rec", "w_out", "threshold", "neuron_gain")}
        return {"arrays": arrays, "meta": meta}

    @classmethod
    def from_arrays(cls, arrays: dict, meta: dict) -> "QuantizedSCN":
        if meta.get("format") != QUANTIZED_FORMAT:
            raise ValueError(f"format is {meta.get('format')!r}, expected {QUANTIZED_FORMAT!r}")
        if meta.get("format_version") != QUANTIZED_FORMAT_VERSION:
            raise ValueError(f"unsupported format_version {meta.get('format_version')!r} "
                             f"(this version reads {QUANTIZED_FORMAT_VERSION})")
        kw = {k: v for k, v in meta.items() if k not in ("format", "format_version")}
        kw.update({k: np.asarray(arrays[k]).astype(np.int64) for k in ("w_in", "w_rec", "w_out", "threshold")})
        kw["neuron_gain"] = np.asarray(arrays["neuron_gain"], dtype=np.float64)
        q = cls(**kw)
        n, m = q.w_in.shape
        for name, shp in (("w_rec", (n, n)), ("w_out", (m, n)), ("threshold", (n,))):
            if getattr(q, name).shape != shp:
                raise ValueError(f"{name} has shape {getattr(q, name).shape}, expected {shp}")
        return q


def _check(name: str, a, shape=None) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def _dedupe_rows(q: np.ndarray, target: np.ndarray, m: int) -> int:
    """Nudge rows of integer matrix ``q`` that became identical (but were not identical as
    floats) by one step towards their float values, so no neuron becomes a copy of another.
    Returns the number of nudges."""
    nudges = 0
    for _ in range(q.shape[0]):
        _, first, counts = np.unique(q, axis=0, return_index=True, return_counts=True)
        dup_rows = [i for i in range(q.shape[0]) if i not in set(first)]
        if not dup_rows:
            break
        i = dup_rows[0]
        resid = target[i] - q[i]
        j = int(np.argmax(np.abs(resid)))
        step = 1 if resid[j] > 0 else -1
        if abs(q[i, j] + step) <= m:
            q[i, j] += step
        else:
            q[i, j] -= step
        nudges += 1
    return nudges


def map_scn(F, Omega, D, thresholds, lam: float, dt: float, target: HardwareSpec, *,
            input_peak: float, v_peak: Optional[float] = None, x_peak: Optional[float] = None,
            options: Optional[MappingOptions] = None) -> QuantizedSCN:
    """Map a float SCN onto ``target``'s integer formats.

    Args:
        F, Omega, D, thresholds: float arrays (N, M), (N, N), (M, N), (N,).
        lam, dt: leak (s⁻¹) and step (s) of the float model; ``dt`` must equal the target's.
        input_peak: largest |dt·c| per step and channel expected in operation (sets the event
            gain so the per-step event limit is reached only at that peak).
        v_peak: largest |V| expected (float units; default 4·max T) — with ``headroom`` this sets
            the voltage scale so Vmem/Isyn do not saturate in normal operation.
        x_peak: largest |x̂| expected (default 2·input_peak/(λdt)).
    """
    opts = options or MappingOptions()
    if target.is_float:
        raise ValueError(f"target {target.name!r} is the float reference: nothing to quantize")
    F = _check("F", F)
    N, M = F.shape
    Omega = _check("Omega", Omega, (N, N))
    D = _check("D", D, (M, N))
    T = _check("thresholds", thresholds, (N,))
    if np.any(T <= 0):
        raise ValueError("thresholds must be > 0 for an integer core")
    if not (np.isfinite(input_peak) and input_peak > 0):
        raise ValueError(f"input_peak must be > 0, got {input_peak}")
    if abs(dt - target.dt) > 1e-12 * max(dt, target.dt):
        raise ValueError(f"the network's dt = {dt} s differs from target {target.name!r} dt = {target.dt} s; "
                         f"load the target with dt={dt} or retrain")
    rng = np.random.default_rng(opts.seed)
    bits = int(target.weight_bits)
    m = qmax(bits)
    max_shift = int(target.max_weight_shift or 0)
    state_max = float(target.state_max)
    thr_max = float(target.threshold_max)
    G = syn_gain(opts.dash_syn)
    Gout = syn_gain(opts.dash_syn_out)
    v_peak = float(v_peak) if v_peak is not None else 4.0 * float(T.max())
    x_peak = float(x_peak) if x_peak is not None else 2.0 * input_peak / (lam * dt)
    # voltage scale: expected peaks use `headroom` of the state range; thresholds must fit
    S = min(opts.headroom * state_max / v_peak, thr_max / float(T.max()))
    fixed_gain = opts.input_gain is not None
    g = float(opts.input_gain) if fixed_gain else float(target.max_input_events) / input_peak
    # exact exponential form: the float model's time constant 1/λ (see fixed_point's docstring)
    dash_mem = int(dash_from_tau(1.0 / lam, dt))
    dash_mem = int(np.clip(dash_mem, 0, target.max_dash_mem))
    stats: dict = {"v_peak": v_peak, "x_peak": x_peak, "input_peak": input_peak}

    # the self-reset is carried by the chip's subtractive reset (−θ at once) plus a residual
    # synaptic self-kick: Ω_kk = −T_k + residual_k
    if opts.method == "scn":
        # voltage scale: as large as the state headroom allows, then lowered so the largest
        # recurrent weight lands exactly on the grid's end (q_max << s_rec): full weight range
        Om = Omega.copy()
        off = ~np.eye(N, dtype=bool)
        Om[np.diag_indices(N)] = np.diag(Omega) + T
        p_rec = float(np.abs(Om).max()) * (1 + 2e-3)  # margin: θ rounding moves the diagonal
        if opts.full_range and opts.full_range_rec and p_rec > 0:
            s_rec_pick = 0
            for s_try in range(max_shift, -1, -1):
                if m * 2.0 ** s_try * G / p_rec <= S:
                    s_rec_pick = s_try
                    break
            S = min(S, m * 2.0 ** s_rec_pick * G / p_rec)
        # input gain: as many events per unit as the event limit allows, lowered so the largest
        # input weight also lands on the grid's end
        p_in = float(np.abs(F).max())
        if opts.full_range and p_in > 0 and not fixed_gain:
            for s_try in range(0, max_shift + 1):
                if S * p_in / (g * G * 2.0 ** s_try) <= m:
                    g = S * p_in / (G * m * 2.0 ** s_try) * (1 - 1e-9)
                    break
        w_in, s_in, c_in = split_weight_shift(S * F / (g * G), bits, max_shift, opts.rounding, rng)
        if opts.dedupe:
            stats["rows_deduplicated"] = _dedupe_rows(w_in, S * F / (g * G) / 2.0 ** s_in, m)
        Fq = w_in * 2.0 ** s_in * g * G / S
        Tq = T
        if opts.threshold_from_encoders:
            # thresholds follow the quantized encoders: keep T_i / |F_i|^2 as learnt
            ratio = T / np.maximum((F ** 2).sum(1), 1e-12)
            Tq = ratio * (Fq ** 2).sum(1)
            Tq = np.where(Tq > 0, Tq, T)
        theta = np.clip(round_nearest(S * Tq), 1, thr_max).astype(np.int64)
        # lateral weights: pairs that are symmetric to within one grid step (as the learnt
        # Ω ≈ −F Fᵀ is) get the same integer, so rounding does not break the symmetry; pairs the
        # network learnt to be asymmetric are rounded on their own
        Om[np.diag_indices(N)] = np.diag(Omega) + theta / S
        if opts.symmetric:
            lsb = G * 2.0 ** max_shift / S  # an upper bound on the grid step, refined below
            for _ in range(2):
                near = off & (np.abs(Om - Om.T) < lsb)
                Om_s = np.where(near, 0.5 * (Om + Om.T), Om)
                w_rec, s_rec, c_rec = split_weight_shift(S * Om_s / G, bits, max_shift, opts.rounding, rng)
                lsb = G * 2.0 ** s_rec / S
        else:
            w_rec, s_rec, c_rec = split_weight_shift(S * Om / G, bits, max_shift, opts.rounding, rng)
        gain = np.ones(N)
    else:
        # Rockpool's quantizers (global_quantize / channel_quantize): input + recurrent weights
        # and the threshold of a neuron share one scale; no weight shifts.
        Win = S * F / (g * G)
        Om = Omega.copy()
        Om[np.diag_indices(N)] += T
        Wrec = S * Om / G
        if opts.method == "global":
            gain = np.full(N, m / max(np.abs(Win).max(), np.abs(Wrec).max()))
        else:
            gain = m / np.maximum(np.maximum(np.abs(Win).max(1), np.abs(Wrec).max(1)), 1e-300)
        w_in = np.clip(round_nearest(Win * gain[:, None]), -m, m).astype(np.int64)
        w_rec = np.clip(round_nearest(Wrec * gain[:, None]), -m, m).astype(np.int64)
        theta = np.clip(round_nearest(S * T * gain), 1, thr_max).astype(np.int64)
        s_in = s_rec = c_in = c_rec = 0
    S_out = opts.headroom * state_max / x_peak
    p_out = float(np.abs(D).max())
    if opts.full_range and p_out > 0:
        for s_try in range(max_shift, -1, -1):
            if m * 2.0 ** s_try * Gout / p_out <= S_out:
                S_out = m * 2.0 ** s_try * Gout / p_out * (1 - 1e-9)
                break
    w_out, s_out, c_out = split_weight_shift(S_out * D / Gout, bits, max_shift, opts.rounding, rng)
    stats.update(clipped={"in": int(c_in), "rec": int(c_rec), "out": int(c_out)})
    return QuantizedSCN(target=target.name, method=opts.method, weight_bits=bits, w_in=w_in, w_rec=w_rec,
                        w_out=w_out, threshold=theta, shift_in=int(s_in), shift_rec=int(s_rec), shift_out=int(s_out),
                        dash_mem=dash_mem, dash_syn=opts.dash_syn, dash_mem_out=dash_mem,
                        dash_syn_out=opts.dash_syn_out, scale_v=float(S), input_gain=g, scale_out=float(S_out),
                        lam=float(lam), dt=float(dt), neuron_gain=np.asarray(gain, dtype=np.float64),
                        max_input_events=int(target.max_input_events), stats=stats)


def quantization_errors(F, Omega, D, thresholds, q: QuantizedSCN) -> dict:
    """Per parameter class: relative RMS error of the dequantized values, and counts of
    non-zero float weights rounded to zero."""
    deq = q.dequantize()
    out = {}
    for name, ref in (("F", F), ("Omega", Omega), ("D", D), ("thresholds", thresholds)):
        ref = np.asarray(ref, dtype=np.float64)
        got = deq[name]
        den = np.sqrt(np.mean(ref ** 2)) or 1.0
        out[name] = {"relative_rms_error": float(np.sqrt(np.mean((got - ref) ** 2)) / den),
                     "rounded_to_zero": int(((got == 0) & (ref != 0)).sum()),
                     "max_abs_error": float(np.max(np.abs(got - ref)))}
    out["lam"] = {"float": float(q.lam), "chip": q.lam_chip, "tau_float_ms": 1e3 / q.lam,
                  "tau_chip_ms": 1e3 / q.lam_chip}
    return out
