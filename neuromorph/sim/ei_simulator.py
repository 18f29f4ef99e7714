r"""Simulation, learning and evaluation of the EI (Dale's law) spike coding network (Fig 4).

The network is an :class:`~neuromorph.network.EINetwork`: N_E excitatory neurons receive the
M input currents through ``F_E`` and excite each other (``W_EE`` ≥ 0) and the N_I inhibitory
neurons (``W_EI`` ≥ 0); the I neurons inhibit the E neurons (``W_IE`` ≤ 0) and each other
(``W_II`` ≤ 0).  The per-step dynamics and learning rules are those of the authors' Fig 4 code
(``docs/authors_code.md`` §3.2, implemented in :mod:`neuromorph.sim.ei_kernels`).  Dale's law is kept by
clipping at every update; the E self-reset is fixed (``net.e_self_reset``).

Public entry points (the initial network: :func:`neuromorph.sim.init.initial_ei_network`)

* :func:`simulate_ei` — frozen weights, optional recording (the reference's ``runnet`` order).
* :func:`learn_ei` — plasticity on (:class:`~neuromorph.sim.plasticity.EIRules` switches pathways),
  run in chunks with weight snapshots.
* :func:`evaluate_ei` — decoders of E and I fitted on a 4 s input, test errors, rates, Var V.
* :func:`fano_cv` — Fano factor and ISI CV of E neurons under constant inputs (``FanoCV.m``).

Units: time steps of ``net.dt`` s; rates in Hz; voltages dimensionless (threshold 0.5);
input currents ``c`` (T, M) in signal units per second (``x`` is their leaky integral).

Synaptic filter: ``syn_tau`` (s) of :func:`simulate_ei` / :func:`learn_ei` > 0 passes every
recurrent kick except the self-resets through an alpha-shaped synapse (two first-order stages,
a_s = exp(−dt/syn_tau): ``s1 ← a_s s1 + kick; s2 ← a_s s2 + (1 − a_s) s1; V += (1 − a_s) s2``,
unit total charge, peak after about ``syn_tau``); 0 (default) = instantaneous kicks.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence

import numpy as np

from neuromorph.metrics import fano_factor, normalized_error, optimal_decoder
from neuromorph.network import EINetwork
from neuromorph.sim import ei_kernels as K
from neuromorph.sim.evaluation import EvalProtocol
from neuromorph.sim.loop import InputSource, record_mask, run_chunks
from neuromorph.sim.rules.ei import EIRules, plastic_mask
from neuromorph.sim.rng import as_state, state_from_generator
from neuromorph.sim.signals import check_signal, leaky_integrate, smoothed_white_noise

_REC_BITS = {"spikes_E": K.REC_SPIKES_E, "spikes_I": K.REC_SPIKES_I, "r_E": K.REC_R_E, "r_I": K.REC_R_I,
             "V_E": K.REC_V_E, "V_I": K.REC_V_I, "currents": K.REC_CURRENTS, "v_stats": K.REC_VSTATS}
RECORDABLE_EI = tuple(_REC_BITS)

#: E voltage noise of the reference's learning loop (evaluation uses ``net.v_noise_E`` = 0.001).
LEARN_V_NOISE_E = 0.002

@dataclass
class EIState:
    """Everything carried from one step to the next, so runs can be continued chunk by chunk.

    V_E, r_E, b_I, ref_E, prev_E (N_E,); V_I, r_I, ref_I, prev_I (N_I,); b_E (M,);
    ref_E/ref_I: absolute step index up to which each neuron is refractory (−1 = never fired);
    n_prev int64[2] (valid entries of prev_E / prev_I = last step's spikes); rng_state uint64[4];
    x (M,): the target signal at the last step (kept by :func:`simulate_ei` only);
    step: number of steps simulated so far.
    Synaptic-filter state (used only when ``syn_tau > 0``; zeros by default): syn_E1, syn_E2
    (N_E,) and syn_I1, syn_I2 (N_I,) — stages 1 and 2 of the E- and I-target cascades (voltage
    units; stage 2 delivers ``(1 − a_s) syn_*2`` per step); syn_probe (4, 2) — stages 1, 2 of the
    current probe's cascades [E exc, E inh, I exc, I inh] (they belong to the probe neurons of
    the run that produced the state: continue with the same ``probe`` for exact currents).
    """

    V_E: np.ndarray
    V_I: np.ndarray
    r_E: np.ndarray
    r_I: np.ndarray
    b_E: np.ndarray
    b_I: np.ndarray
    ref_E: np.ndarray
    ref_I: np.ndarray
    prev_E: np.ndarray
    prev_I: np.ndarray
    n_prev: np.ndarray
    rng_state: np.ndarray
    x: Optional[np.ndarray] = None
    step: int = 0
    syn_E1: Optional[np.ndarray] = None
    syn_E2: Optional[np.ndarray] = None
    syn_I1: Optional[np.ndarray] = None
    syn_I2: Optional[np.ndarray] = None
    syn_probe: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        ne, ni = np.shape(self.V_E)[0], np.shape(self.V_I)[0]
        for name, n in (("syn_E1", ne), ("syn_E2", ne), ("syn_I1", ni), ("syn_I2", ni)):
            if getattr(self, name) is None:
                setattr(self, name, np.zeros(n))
        if self.syn_probe is None:
            self.syn_probe = np.zeros((4, 2))

    @classmethod
    def zeros(cls, n_e: int, n_i: int, m: int, rng_state: np.ndarray) -> "EIState":
        return cls(V_E=np.zeros(n_e), V_I=np.zeros(n_i), r_E=np.zeros(n_e), r_I=np.zeros(n_i),
                   b_E=np.zeros(m), b_I=np.zeros(n_e), ref_E=np.full(n_e, -1, np.int64),
                   ref_I=np.full(n_i, -1, np.int64), prev_E=np.zeros(n_e, np.int64),
                   prev_I=np.zeros(n_i, np.int64), n_prev=np.zeros(2, np.int64), rng_state=rng_state,
                   x=np.zeros(m), syn_E1=np.zeros(n_e), syn_E2=np.zeros(n_e), syn_I1=np.zeros(n_i),
                   syn_I2=np.zeros(n_i), syn_probe=np.zeros((4, 2)))

    def check(self, net: EINetwork) -> None:
        ne, ni, m = net.n_exc, net.n_inh, net.n_inputs
        for name, n in (("V_E", ne), ("r_E", ne), ("b_I", ne), ("ref_E", ne), ("prev_E", ne),
                        ("V_I", ni), ("r_I", ni), ("ref_I", ni), ("prev_I", ni), ("b_E", m),
                        ("syn_E1", ne), ("syn_E2", ne), ("syn_I1", ni), ("syn_I2", ni)):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"state.{name} has shape {getattr(self, name).shape}, the network needs ({n},)")
        if self.syn_probe.shape != (4, 2):
            raise ValueError(f"state.syn_probe has shape {self.syn_probe.shape}, expected (4, 2)")


@dataclass
class EIRecording:
    """Result of :func:`simulate_ei`.  Entries not asked for are ``None``.

    x (T, M) target signal; counts_E (N_E,), counts_I (N_I,) spikes per neuron;
    spikes_E (T, N_E) / spikes_I (T, N_I) uint8 rasters; r_E, V_E (T, N_E); r_I, V_I (T, N_I);
    currents_E (T, 2) = [excitatory, inhibitory] synaptic input into E neuron ``probe[0]`` per step
    (voltage units per step; self-reset excluded; the summed feed-forward drive dt·F_E[p]·c counts
    as excitatory when positive and inhibitory when negative, E→E input is excitatory, I→E
    inhibitory — unlike the SCN simulator, which splits every input term by sign), currents_I (T, 2)
    the same for I neuron ``probe[1]``; v_var_E / v_var_I (N_E,) / (N_I,) temporal variance of
    each neuron's voltage (from running sums, ``"v_stats"``).
    """

    x: np.ndarray
    counts_E: np.ndarray
    counts_I: np.ndarray
    n_steps: int
    dt: float
    spikes_E: Optional[np.ndarray] = None
    spikes_I: Optional[np.ndarray] = None
    r_E: Optional[np.ndarray] = None
    r_I: Optional[np.ndarray] = None
    V_E: Optional[np.ndarray] = None
    V_I: Optional[np.ndarray] = None
    currents_E: Optional[np.ndarray] = None
    currents_I: Optional[np.ndarray] = None
    v_var_E: Optional[np.ndarray] = None
    v_var_I: Optional[np.ndarray] = None
    probe: tuple = (0, 0)
    state: Optional[EIState] = None

    @property
    def duration(self) -> float:
        """Simulated time in s."""
        return self.n_steps * self.dt

    def rates_E_hz(self) -> np.ndarray:
        return self.counts_E / self.duration

    def rates_I_hz(self) -> np.ndarray:
        return self.counts_I / self.duration

    def mean_rate_E_hz(self) -> float:
        return float(self.counts_E.sum() / (self.duration * self.counts_E.size))

    def mean_rate_I_hz(self) -> float:
        return float(self.counts_I.sum() / (self.duration * self.counts_I.size))


_E2 = np.zeros((0, 0))
_E2u8 = np.zeros((0, 0), dtype=np.uint8)


def _check_net(net: EINetwork) -> None:
    for name in ("F_E", "W_EE", "W_EI", "W_IE", "W_II", "T_E", "T_I"):
        if not np.all(np.isfinite(getattr(net, name))):
            raise ValueError(f"network {name} contains NaN or inf")


def _syn_decay(syn_tau, dt: float) -> float:
    """Per-step decay a_s = exp(−dt/syn_tau) of the synaptic filter (0 for ``syn_tau == 0``);
    ValueError naming ``syn_tau`` unless it is a finite number of seconds >= 0."""
    try:
        tau = float(syn_tau)
    except (TypeError, ValueError):
        raise ValueError(f"syn_tau must be a number of seconds >= 0, got {syn_tau!r}") from None
    if not np.isfinite(tau) or tau < 0.0:
        raise ValueError(f"syn_tau must be finite and >= 0 s, got {syn_tau!r}")
    return float(np.exp(-dt / tau)) if tau > 0.0 else 0.0


def _kernel(net: EINetwork, W: dict, c: np.ndarray, state: EIState, *, v_noise_E: float, one_spike: bool,
            r_decay_first: bool, plastic: int = 0, rules: Optional[EIRules] = None, rec_mask: int = 0,
            rec: Optional[dict] = None, probe: tuple = (0, 0), counts: tuple = (), vstat: tuple = (),
            isi: Optional[np.ndarray] = None, last_spk: Optional[np.ndarray] = None,
            syn_tau: float = 0.0) -> tuple:
    """Advance ``state`` over ``c`` (L, M); weights in ``W`` are modified in place if ``plastic``.

    ``syn_tau`` (s): time constant of the alpha-shaped recurrent synapse (0 = instantaneous);
    its state travels in ``state.syn_*``."""
    syn_decay = _syn_decay(syn_tau, net.dt)
    rec = rec or {}
    ne, ni = net.n_exc, net.n_inh
    ru = rules or EIRules()
    a = 1.0 - net.lam * net.dt
    bE_decay = 1.0 - ru.ff_trace_leak_factor * net.lam * net.dt
    if plastic and not (0.0 <= bE_decay < 1.0):
        raise ValueError(f"FF trace leak {ru.ff_trace_leak_factor}·λ is too fast for dt={net.dt} s")
    cE, cI = counts if counts else (np.zeros(ne, np.int64), np.zeros(ni, np.int64))
    vsE, vsI = vstat if vstat else (_E2, _E2)
    isi = _E2 if isi is None else isi
    last_spk = np.zeros(0, np.int64) if last_spk is None else last_spk
    knet = K.EINet(W["F_E"], W["W_EE"], W["W_EI"], W["W_IE"], W["W_II"], net.T_E, net.T_I, a, net.dt,
                   float(v_noise_E), float(net.v_noise_I), float(net.t_noise), int(net.refractory),
                   float(net.e_self_reset))
    kopt = K.EIOptions(bool(one_spike), bool(r_decay_first), syn_decay)
    klrn = K.EILearning(int(plastic), float(ru.lr_ff), float(ru.lr_rec), float(ru.mu), float(ru.beta), bE_decay, a)
    kst = K.EIKernelState(state.rng_state, state.V_E, state.V_I, state.r_E, state.r_I, state.b_E, state.b_I,
                          state.ref_E, state.ref_I, state.prev_E, state.prev_I, state.n_prev, int(state.step),
                          state.syn_E1, state.syn_E2, state.syn_I1, state.syn_I2, state.syn_probe)
    krec = K.EIRecord(int(rec_mask), int(probe[0]), int(probe[1]),
                      rec.get("spikes_E", _E2u8), rec.get("spikes_I", _E2u8), rec.get("r_E", _E2),
                      rec.get("r_I", _E2), rec.get("V_E", _E2), rec.get("V_I", _E2), rec.get("cur", _E2),
                      cE, cI, vsE, vsI, isi, last_spk)
    out = K.ei_run(c, knet, kopt, klrn, kst, krec)
    state.step += c.shape[0]
    return out


def _weights(net: EINetwork) -> dict:
    """Kernel-layout working copies (never views of ``net``'s arrays): the column-accessed
    matrices F_E, W_EE, W_IE, W_II in Fortran order, W_EI (row-updated) in C order."""
    return {"F_E": np.array(net.F_E, dtype=np.float64, order="F"),
            "W_EE": np.array(net.W_EE, dtype=np.float64, order="F"),
            "W_EI": np.array(net.W_EI, dtype=np.float64, order="C"),
            "W_IE": np.array(net.W_IE, dtype=np.float64, order="F"),
            "W_II": np.array(net.W_II, dtype=np.float64, order="F")}


def _record_mask(record: Iterable[str]) -> int:
    return record_mask(record, _REC_BITS)


def simulate_ei(net: EINetwork, c: np.ndarray, *, seed=None, record: Sequence[str] = ("r_E", "r_I"),
                probe: tuple = (0, 0), state: Optional[EIState] = None, one_spike: bool = True,
                r_decay_first: bool = True, v_noise_E: Optional[float] = None, syn_tau: float = 0.0) -> EIRecording:
    """Run ``net`` with frozen weights on input current ``c`` (T, M) (the reference's ``runnet``).

    ``record``: any of ``"spikes_E"``, ``"spikes_I"`` (uint8 rasters), ``"r_E"``, ``"r_I"``,
    ``"V_E"``, ``"V_I"`` (float64 (T, N)), ``"currents"`` (E/I input into E neuron ``probe[0]``
    and I neuron ``probe[1]``, (T, 2) each), ``"v_stats"`` (per-neuron Var V without storing V).
    Memory is allocated only for what is recorded.  ``seed``: int, Generator or None.
    ``state``: continue from a previous run's ``.state``.  ``v_noise_E``: E voltage noise (default
    ``net.v_noise_E``).  ``one_spike=False`` lets every supra-threshold neuron fire (no arbiter).
    ``syn_tau`` (s, >= 0): alpha-shaped synaptic filter on all recurrent kicks except the E/I
    self-resets (which stay immediate): with a_s = exp(−dt/syn_tau) each target keeps
    ``s1 ← a_s s1 + kick``, ``s2 ← a_s s2 + (1 − a_s) s1`` and receives ``(1 − a_s) s2`` (voltage
    units) per step — unit total charge, peak after about ``syn_tau``; 0 = instantaneous kicks
    (the default, bit-for-bit the unfiltered dynamics).  ``"currents"`` then records the
    filtered input.
    """
    _syn_decay(syn_tau, net.dt)
    c = check_signal("input current c", c, net.n_inputs)
    _check_net(net)
    mask = _record_mask(record)
    T, ne, ni, m = c.shape[0], net.n_exc, net.n_inh, net.n_inputs
    pe, pi = int(probe[0]), int(probe[1])
    if not (0 <= pe < ne and 0 <= pi < ni):
        raise ValueError(f"probe must be (E index < {ne}, I index < {ni}), got {probe}")
    if state is None:
        state = EIState.zeros(ne, ni, m, as_state(seed))
    else:
        state.check(net)
    rec: dict = {}
    if mask & K.REC_SPIKES_E:
        rec["spikes_E"] = np.zeros((T, ne), np.uint8)
    if mask & K.REC_SPIKES_I:
        rec["spikes_I"] = np.zeros((T, ni), np.uint8)
    for name, n in (("r_E", ne), ("r_I", ni), ("V_E", ne), ("V_I", ni)):
        if mask & _REC_BITS[name]:
            rec[name] = np.zeros((T, n))
    if mask & K.REC_CURRENTS:
        rec["cur"] = np.zeros((T, 4))
    counts = (np.zeros(ne, np.int64), np.zeros(ni, np.int64))
    vstat = (np.zeros((2, ne)), np.zeros((2, ni))) if mask & K.REC_VSTATS else ()
    _kernel(net, _weights(net), c, state, v_noise_E=net.v_noise_E if v_noise_E is None else v_noise_E,
            one_spike=one_spike, r_decay_first=r_decay_first, rec_mask=mask, rec=rec, probe=(pe, pi),
            counts=counts, vstat=vstat, syn_tau=syn_tau)
    x = leaky_integrate(c, net.lam, net.dt, x0=state.x if state.x is not None else np.zeros(m))
    state.x = x[-1].copy()
    out = EIRecording(x=x, counts_E=counts[0], counts_I=counts[1], n_steps=T, dt=net.dt,
                      spikes_E=rec.get("spikes_E"), spikes_I=rec.get("spikes_I"), r_E=rec.get("r_E"),
                      r_I=rec.get("r_I"), V_E=rec.get("V_E"), V_I=rec.get("V_I"), probe=(pe, pi), state=state)
    if "cur" in rec:
        out.currents_E = rec["cur"][:, 0:2].copy()
        out.currents_I = rec["cur"][:, 2:4].copy()
    if vstat:
        out.v_var_E = np.maximum(vstat[0][1] / T - (vstat[0][0] / T) ** 2, 0.0)
        out.v_var_I = np.maximum(vstat[1][1] / T - (vstat[1][0] / T) ** 2, 0.0)
    return out


@dataclass
class EILearnResult:
    """Output of :func:`learn_ei`.

    network: the trained copy; snapshots: list of (step, EINetwork) — weights after ``step``
    learning steps; total_spikes_E / _I over the run; counts_E (N_E,) / counts_I (N_I,) spikes
    per neuron over the run; n_steps; state (to continue learning); wall_seconds: time spent in
    the run.
    """

    network: EINetwork
    snapshots: list = field(default_factory=list)
    total_spikes_E: int = 0
    total_spikes_I: int = 0
    counts_E: Optional[np.ndarray] = None
    counts_I: Optional[np.ndarray] = None
    n_steps: int = 0
    state: Optional[EIState] = None
    wall_seconds: float = 0.0


def _net_with(net: EINetwork, W: dict) -> EINetwork:
    out = net.copy()
    for name, arr in W.items():
        setattr(out, name, np.ascontiguousarray(arr).copy())
    return out


def learn_ei(net: EINetwork, source: InputSource, n_steps: int, *, rules: Optional[EIRules] = None, seed=None,
             snapshot_steps: Sequence[int] = (), chunk: int = 100_000,
             progress: Optional[Callable[[int], None]] = None, state: Optional[EIState] = None,
             v_noise_E: float = LEARN_V_NOISE_E, one_spike: bool = True, syn_tau: float = 0.0) -> EILearnResult:
    """Train ``net`` with the EI plasticity rules for ``n_steps`` steps (``net`` is not modified).

    ``source(start, L)`` supplies the input current chunk by chunk, e.g.
    ``simulator.block_noise_source(M, seed)`` (the reference's 1000-step smoothed-noise blocks).
    ``start`` counts from the first step of *this call*: when continuing a run with ``state=``,
    shift the source yourself (``lambda s, n: src(done + s, n)``) or the input replays from 0.
    ``rules``: learning rates, μ, FF-trace leak factor and the five pathway switches
    (``ff_XE, ff_EI, rec_EE, rec_IE, rec_II``); a switched-off pathway keeps its weights exactly.
    ``snapshot_steps``: a snapshot at step s holds the weights after s learning steps.
    ``v_noise_E``: E voltage noise during learning (reference: 0.002; evaluation uses 0.001).
    The learning loop's order has r incremented, then decayed (docs/authors_code.md §3.2 step 11).
    ``syn_tau`` (s, >= 0): alpha-shaped synaptic filter on the recurrent kicks (self-resets
    immediate), ``s1 ← a_s s1 + kick; s2 ← a_s s2 + (1 − a_s) s1; V += (1 − a_s) s2`` with
    a_s = exp(−dt/syn_tau); 0 (default) = instantaneous, as in the reference.
    """
    _syn_decay(syn_tau, net.dt)
    rules = EIRules() if rules is None else rules
    if not isinstance(rules, EIRules):
        raise TypeError(f"rules must be an EIRules, got {type(rules).__name__}")
    n_steps = int(n_steps)
    if n_steps < 0:
        raise ValueError(f"n_steps must be >= 0, got {n_steps}")
    if int(chunk) <= 0:
        raise ValueError(f"chunk must be a positive number of steps, got {chunk}")
    _check_net(net)
    ne, ni, m = net.n_exc, net.n_inh, net.n_inputs
    if state is None:
        state = EIState.zeros(ne, ni, m, as_state(seed))
    else:
        state.check(net)
    W = _weights(net)
    plastic = plastic_mask(rules)
    result = EILearnResult(network=net)
    counts = (np.zeros(ne, np.int64), np.zeros(ni, np.int64))
    t0 = time.perf_counter()

    def advance(start: int, c: np.ndarray) -> None:
        nE, nI = _kernel(net, W, c, state, v_noise_E=v_noise_E, one_spike=one_spike, r_decay_first=False,
                         plastic=plastic, rules=rules, counts=counts, syn_tau=syn_tau)
        result.total_spikes_E += int(nE)
        result.total_spikes_I += int(nI)

    def snapshot(step: int) -> None:
        result.snapshots.append((step, _net_with(net, W)))

    def check(step: int) -> None:
        if not all(np.all(np.isfinite(w)) for w in W.values()):
            raise FloatingPointError(f"weights became non-finite by step {step}; lower the learning rates")

    run_chunks(source, n_steps, m, advance, chunk=chunk, snapshot_steps=snapshot_steps, snapshot=snapshot,
               check=check, progress=progress, prefetch=True)
    result.network = _net_with(net, W)
    result.counts_E, result.counts_I = counts
    result.n_steps = n_steps
    result.state = state
    result.wall_seconds = time.perf_counter() - t0
    return result


@dataclass
class EIEvalProtocol(EvalProtocol):
    """Evaluation protocol of the reference's EI code (docs/authors_code.md §3.3): the SCN protocol's fields, with its
    4 s decoder fit at the test amplitude.  Lengths in steps, amplitudes of the input current
    (smoothed white noise with Gaussian σ = ``sigma`` samples, one sequence per trial)."""

    decoder_steps: int = 40_000
    decoder_amplitude: float = 2000.0


def evaluate_ei(net: EINetwork, seed, protocol: Optional[EIEvalProtocol] = None,
                decoders: Optional[tuple] = None) -> dict:
    """Fit decoders of both populations and test the frozen network (docs/authors_code.md §3.3).

    Decoders D_E (M, N_E) and D_I (M, N_I) are least-squares fits of x from r_E and from r_I on
    one ``decoder_steps`` input at ``decoder_amplitude`` (unless ``decoders=(D_E, D_I)`` is given).
    Then ``n_trials`` fresh test inputs: normalised error variance of each population
    (Σ Var(x − x̂)/Σ Var(x)), mean rates (Hz) and mean temporal Var V of E and I neurons.
    Returns ``error_E, error_I, rate_E_hz, rate_I_hz, v_var_E, v_var_I`` (trial means) and the
    decoders ``D_E, D_I``.
    """
    p = protocol or EIEvalProtocol()
    s_dec, s_test, s_noise = np.random.SeedSequence(seed).spawn(3)
    M = net.n_inputs
    if decoders is None:
        c = smoothed_white_noise(p.decoder_steps, M, np.random.default_rng(s_dec), amplitude=p.decoder_amplitude,
                                 sigma=p.sigma, block=None)
        rec = simulate_ei(net, c, seed=np.random.default_rng(s_noise), record=("r_E", "r_I"))
        D_E = optimal_decoder(rec.r_E, rec.x)
        D_I = optimal_decoder(rec.r_I, rec.x)
        del rec
    else:
        D_E, D_I = (np.asarray(d, dtype=np.float64) for d in decoders)
        if D_E.shape != (M, net.n_exc) or D_I.shape != (M, net.n_inh):
            raise ValueError(f"decoders must have shapes {(M, net.n_exc)} and {(M, net.n_inh)}, "
                             f"got {D_E.shape} and {D_I.shape}")
    g = np.random.default_rng(s_test)
    keys = ("error_E", "error_I", "rate_E_hz", "rate_I_hz", "v_var_E", "v_var_I")
    acc: dict = {k: [] for k in keys}
    for _ in range(p.n_trials):
        c = smoothed_white_noise(p.test_steps, M, g, amplitude=p.amplitude, sigma=p.sigma, block=None)
        rec = simulate_ei(net, c, seed=g, record=("r_E", "r_I", "v_stats"))
        acc["error_E"].append(normalized_error(rec.x, rec.r_E @ D_E.T))
        acc["error_I"].append(normalized_error(rec.x, rec.r_I @ D_I.T))
        acc["rate_E_hz"].append(rec.mean_rate_E_hz())
        acc["rate_I_hz"].append(rec.mean_rate_I_hz())
        acc["v_var_E"].append(float(rec.v_var_E.mean()))
        acc["v_var_I"].append(float(rec.v_var_I.mean()))
    out = {k: float(np.mean(v)) for k, v in acc.items()}
    out["D_E"] = D_E
    out["D_I"] = D_I
    return out


def fano_cv(net: EINetwork, seed, n_directions: int = 20, n_trials: int = 50, steps: int = 10_000,
            amplitude: float = 90.0, min_mean_count: float = 1.0) -> dict:
    """Fano factor and ISI CV of the E neurons under constant inputs (the reference's ``FanoCV``).

    For each of ``n_directions`` random unit directions U (M,), the constant current
    ``c = amplitude·U`` is applied for ``steps`` steps in ``n_trials`` trials (fresh noise, state
    from zero).  For every E neuron whose mean count exceeds ``min_mean_count``: Fano =
    Var(count)/mean(count) across trials (ddof = 1) and CV = std/mean (ddof = 1) of all its ISIs
    pooled over trials; both averaged over those neurons, then over directions (directions
    without any such neuron are skipped).  The count buffer is (n_trials, N_E) for any n_trials.
    Returns ``fano``, ``cv`` (NaN if no direction qualified), ``n_directions_used`` and
    ``mean_active_neurons`` (neurons that passed the count criterion, per direction).
    """
    if n_directions <= 0 or n_trials < 2 or steps <= 0:
        raise ValueError(f"need n_directions >= 1, n_trials >= 2, steps >= 1; got {n_directions}, {n_trials}, {steps}")
    rng = np.random.default_rng(seed)
    ne, ni, m = net.n_exc, net.n_inh, net.n_inputs
    _check_net(net)
    W = _weights(net)
    fanos, cvs, active = [], [], []
    for _ in range(n_directions):
        u = rng.standard_normal(m)
        u /= np.linalg.norm(u)
        c = np.tile(amplitude * u, (steps, 1))
        counts = np.zeros((n_trials, ne), np.int64)
        isi = np.zeros((ne, 3))
        for tr in range(n_trials):
            st = EIState.zeros(ne, ni, m, state_from_generator(rng))
            last = np.full(ne, -1, np.int64)
            _kernel(net, W, c, st, v_noise_E=net.v_noise_E, one_spike=True, r_decay_first=True,
                    rec_mask=K.REC_ISI, counts=(counts[tr], np.zeros(ni, np.int64)), isi=isi, last_spk=last)
        keep = counts.mean(axis=0) > min_mean_count
        if not keep.any():
            continue
        fanos.append(fano_factor(counts, min_mean=min_mean_count))
        n_isi, s1, s2 = isi[keep, 0], isi[keep, 1], isi[keep, 2]
        ok = n_isi >= 2
        if ok.any():
            mean = s1[ok] / n_isi[ok]
            var = np.maximum(s2[ok] - n_isi[ok] * mean ** 2, 0.0) / (n_isi[ok] - 1)
            cvs.append(float(np.mean(np.sqrt(var) / mean)))
        active.append(int(keep.sum()))
    return {"fano": float(np.mean(fanos)) if fanos else float("nan"),
            "cv": float(np.mean(cvs)) if cvs else float("nan"),
            "n_directions_used": len(fanos),
            "mean_active_neurons": float(np.mean(active)) if active else 0.0}
