r"""Float reference simulator of spike coding networks (Eq 1 of Brendel et al. 2020).

Discrete-time dynamics exactly as the authors' code does them (their discrete semantics are the
default; the paper's continuous-time reading differs only where noted in ``kernels.py``)::

    V_t = (1 − λdt) V_{t−1} + dt F c_t + Ω o_{t−d} + σ_V ξ_t       (voltage, Eq 1)
    x_t = (1 − λdt) x_{t−1} + dt c_t                               (signal, Eq 2)
    r_t = (1 − λdt) r_{t−1} + o_t                                  (filtered spikes)
    x̂_t = D r_t                                                    (read-out)

with ``d = 1`` (the kick of a spike, including the neuron's own reset Ω_kk, lands at the next
step) and at most one spike per step, given to the neuron with the largest noisy margin
``V − T − σ_T η`` (``one_spike=True``).  ``one_spike=False`` lets every supra-threshold neuron
fire (hardware has no arbiter).  ``delay`` > 1 and ``syn_tau`` > 0 model transmission delays
and synaptic filtering (the quantization stage's delay model uses them).

Public entry points: :func:`simulate` (frozen weights, optional recording) and
:func:`learn` (plasticity on, long runs in chunks with weight snapshots).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence, Union

import numpy as np

from neuromorph.network import SCN
from neuromorph.sim import kernels
from neuromorph.sim.loop import InputSource, record_mask, run_chunks
from neuromorph.sim.rules import DEFAULT_REGISTRY, FeedforwardRule, RecurrentRule, RuleRegistry
from neuromorph.sim.rules.feedforward import FeedforwardParams, no_step as _noop_step
from neuromorph.sim.rules.feedforward import step_builtin as _ff_step_builtin
from neuromorph.sim.rules.feedforward import update_builtin as _ff_update_builtin
from neuromorph.sim.rules.recurrent import RecurrentParams
from neuromorph.sim.rules.recurrent import update_column as _rec_update_builtin
from neuromorph.sim.rng import as_state
from neuromorph.sim.signals import check_signal



@dataclass
class SimOptions:
    """Discretisation options.

    one_spike: at most one spike per step network-wide (the reference's arbiter).
    delay: steps between a spike and its recurrent effect (≥ 1; 1 = the code and the chip): one
        integer for every connection, or an (N, N) integer array ``delay[i, k]`` for k → i.
    syn_tau: time constant (s) of the synaptic filter on recurrent input; 0 = none.
    syn_order: 1 = exponential PSC; 2 = alpha-shaped PSC (two stages in cascade, peak after
        about ``syn_tau``: the time courses of the paper's Fig 7D).  Unit total charge either way.
    subtractive_reset: the spiking neuron's V drops by its threshold at once (the chip's reset);
        only Ω_kk + T_k travels through the delayed/filtered recurrent path.
    max_events: events a neuron may emit per step in multi-spike chip mode (Xylo: 31).

    :func:`chip_options` gives the combination that mirrors a Xylo core.
    """

    one_spike: bool = True
    delay: Union[int, np.ndarray] = 1
    syn_tau: float = 0.0
    syn_order: int = 1
    subtractive_reset: bool = False
    max_events: int = 31

    def __post_init__(self) -> None:
        if np.ndim(self.delay) == 0:
            if int(self.delay) < 1:
                raise ValueError(f"delay must be >= 1 step (1 = the next step), got {self.delay}")
            self.delay = int(self.delay)
        else:
            d = np.asarray(self.delay)
            if d.ndim != 2 or d.shape[0] != d.shape[1]:
                raise ValueError(f"per-connection delays must be an (N, N) array, got shape {d.shape}")
            if d.dtype.kind not in "iu" and not np.all(d == np.round(d)):
                raise ValueError("per-connection delays must be whole numbers of steps")
            if d.min() < 1:
                raise ValueError(f"delays must be >= 1 step, got a minimum of {d.min()}")
            self.delay = d.astype(np.int64)
        if not np.isfinite(self.syn_tau) or self.syn_tau < 0:
            raise ValueError(f"syn_tau must be >= 0 s, got {self.syn_tau}")
        if self.syn_order not in (1, 2):
            raise ValueError(f"syn_order must be 1 or 2, got {self.syn_order}")

    @property
    def max_delay(self) -> int:
        return int(np.max(self.delay))

    def syn_decay(self, dt: float) -> float:
        return float(np.exp(-dt / self.syn_tau)) if self.syn_tau > 0 else 0.0


def chip_options(dash_syn: int = 1, dt: float = 1e-3, max_events: int = 31) -> SimOptions:
    """Float dynamics of a Xylo-like core: no spike arbiter, recurrent input through a bit-shift
    synapse of dash ``dash_syn`` (decay 1 − 2^−d per step, the same impulse response), immediate
    subtractive reset, several events per neuron and step."""
    a = 1.0 - 2.0 ** (-int(dash_syn))
    return SimOptions(one_spike=False, delay=1, syn_tau=float(-dt / np.log(a)), subtractive_reset=True,
                      max_events=max_events)


@dataclass
class SimState:
    """Everything carried from one step to the next (so runs can be continued)."""

    V: np.ndarray
    r: np.ndarray
    x: np.ndarray
    b: np.ndarray
    buf: np.ndarray
    syn: np.ndarray
    syn2: np.ndarray
    U: np.ndarray
    m: np.ndarray
    bufE: np.ndarray
    bufI: np.ndarray
    rng_state: np.ndarray
    step: int = 0

    @classmethod
    def zeros(cls, n: int, m: int, delay: int, seed_state: np.ndarray) -> "SimState":
        return cls(V=np.zeros(n), r=np.zeros(n), x=np.zeros(m), b=np.zeros(m),
                   buf=np.zeros((delay + 1, n)), syn=np.zeros(n), syn2=np.zeros(n), U=np.zeros((n, m)), m=np.zeros(m),
                   bufE=np.zeros((delay + 1, n)), bufI=np.zeros((delay + 1, n)), rng_state=seed_state)


@dataclass
class Recording:
    """Result of :func:`simulate`. Arrays are (T, N) per neuron or (T, M) per signal dimension;
    entries not asked for are ``None``.  ``counts`` (N,) spikes per neuron; ``duration`` in s."""

    x: np.ndarray
    counts: np.ndarray
    n_steps: int
    dt: float
    spikes: Optional[np.ndarray] = None
    r: Optional[np.ndarray] = None
    V: Optional[np.ndarray] = None
    I_E: Optional[np.ndarray] = None
    I_I: Optional[np.ndarray] = None
    state: Optional[SimState] = None

    @property
    def duration(self) -> float:
        return self.n_steps * self.dt

    def rates_hz(self) -> np.ndarray:
        """Per-neuron firing rates in Hz, shape (N,)."""
        return self.counts / self.duration

    def mean_rate_hz(self) -> float:
        return float(self.counts.sum() / (self.duration * self.counts.size))


_REC_BITS = {"spikes": kernels.REC_SPIKES, "r": kernels.REC_R, "V": kernels.REC_V,
             "currents": kernels.REC_CURRENTS}
RECORDABLE = tuple(_REC_BITS)


def _record_mask(record: Iterable[str]) -> int:
    return record_mask(record, _REC_BITS)


_COLUMN_MAJOR_MIN_N = 64  # below this a column fits in a few cache lines anyway
_EMPTY2 = np.zeros((0, 0))
_EMPTY2I = np.zeros((0, 0), dtype=np.int64)
_ZERO1 = np.zeros(1)
_EMPTY2U8 = np.zeros((0, 0), dtype=np.uint8)
# placeholders of a pathway without a rule (never called: the pathway does not learn)
_NO_FF = FeedforwardParams(0, 0.0, 0.0, 0.0)
_NO_REC = RecurrentParams(0.0, 0.0, 0.0, float("inf"))


@dataclass
class WeightGrid:
    """Integer grid that learning must stay on (quantization-aware learning).

    After every plastic update the changed weights are stochastically rounded onto
    ``q·n``, ``|n| ≤ q_max``: Ω_ik on ``q_rec`` (the diagonal offset by ``diag_offset[k]``,
    which the chip's subtractive reset carries), F on ``q_ff``.  0 disables a grid."""

    q_rec: float
    q_ff: float
    q_max: float
    diag_offset: np.ndarray


def _run(net: SCN, c: np.ndarray, state: SimState, opts: SimOptions, *, r_decay_first: bool,
         rec_mask: int = 0, rec: Optional[dict] = None, offset: int = 0, bindings: Optional[dict] = None,
         counts: Optional[np.ndarray] = None, F=None, Om=None, grid: Optional["WeightGrid"] = None,
         conn_mask: Optional[np.ndarray] = None) -> int:
    """Advance ``state`` over input ``c`` (L, M); learning modifies ``F``/``Om`` in place.

    ``bindings``: ``{pathway: Binding}`` of the rules (:meth:`RuleRegistry.bind`); none = frozen."""
    F = net.F if F is None else F
    Om = net.Omega if Om is None else Om
    n = F.shape[0]
    rec = rec or {}
    bindings = bindings or {}
    L = c.shape[0]

    def sl(key, dtype=np.float64):
        a = rec.get(key)
        return a[offset:offset + L] if a is not None else np.zeros((0, 0), dtype=dtype)

    ff = bindings.get("feedforward")
    rc = bindings.get("recurrent")
    b_leak = net.lam if (ff is None or ff.trace_leak is None) else ff.trace_leak
    if b_leak * net.dt >= 1:
        raise ValueError(f"FF trace leak {b_leak} s^-1 is too fast for dt={net.dt} s")
    if counts is None:
        counts = np.zeros(n, dtype=np.int64)
    # Every recurrent access of the kernel is a column Om[:, k] (the rule's update at a spike of k
    # and the delivery of its kick): on a C-ordered (N, N) matrix that is N cache lines a spike.
    # For long runs of large networks the kernel works on a column-major copy (same numbers,
    # same arithmetic), written back after the chunk; short runs skip the copy (it costs N² moves).
    Om_user = Om
    if n >= _COLUMN_MAJOR_MIN_N and L >= 4 * n and not Om.flags.f_contiguous:
        Om = np.asfortranarray(Om)
    knet = kernels.ScnNet(F, Om, net.thresholds, float(net.decay), float(net.dt), float(net.v_noise),
                          float(net.t_noise))
    kopt = kernels.ScnOptions(bool(opts.one_spike), bool(r_decay_first),
                              int(np.min(opts.delay)) if np.ndim(opts.delay) else opts.delay,
                              opts.delay if np.ndim(opts.delay) else _EMPTY2I, opts.syn_decay(net.dt),
                              int(opts.syn_order), bool(opts.subtractive_reset), int(opts.max_events))
    klrn = kernels.ScnLearning(ff is not None and ff.active, ff.params if ff is not None else _NO_FF,
                               rc is not None and rc.active, rc.params if rc is not None else _NO_REC,
                               1.0 - b_leak * net.dt,
                               grid.q_rec if grid else 0.0, grid.q_ff if grid else 0.0, grid.q_max if grid else 0.0,
                               grid.diag_offset if grid else _ZERO1,
                               conn_mask if conn_mask is not None else _EMPTY2U8)
    kst = kernels.ScnState(state.rng_state, state.V, state.r, state.x, state.b, state.buf, state.syn, state.syn2,
                           state.U, state.m, state.bufE, state.bufI, int(state.step))
    krec = kernels.ScnRecord(int(rec_mask), sl("spikes", np.uint8), sl("r"), sl("V"), sl("I_E"), sl("I_I"), counts)
    if all(b.builtin for b in bindings.values()):
        tot = kernels.scn_run(c, knet, kopt, klrn, kst, krec)
    else:
        ff_fns = (ff.update, ff.step or _noop_step) if ff is not None else (_ff_update_builtin, _ff_step_builtin)
        rec_fn = rc.update if rc is not None else _rec_update_builtin
        tot = kernels.scn_run_with(ff_fns[0], ff_fns[1], rec_fn)(c, knet, kopt, klrn, kst, krec)
    if Om is not Om_user and rc is not None and rc.active:
        Om_user[...] = Om
    state.step += L
    return tot


def simulate(net: SCN, c: np.ndarray, *, seed=None, record: Sequence[str] = ("r",),
             options: Optional[SimOptions] = None, state: Optional[SimState] = None,
             r_decay_first: bool = True) -> Recording:
    """Run ``net`` with frozen weights on input current ``c`` (T, M).

    ``record``: any of ``"spikes"`` (T, N) uint8, ``"r"``, ``"V"`` (T, N) float64,
    ``"currents"`` (excitatory/inhibitory synaptic input per neuron and step, split by the sign
    of each input term and each lateral weight; self-reset excluded).  Memory is allocated
    only for what is recorded.  ``seed``: int, ``np.random.Generator`` or None.
    ``r_decay_first``: the evaluation order of the reference (``r = a r + o``).
    """
    c = check_signal("input current c", c, net.n_inputs)
    opts = options or SimOptions()
    mask = _record_mask(record)
    T, n = c.shape[0], net.n_neurons
    if state is None:
        state = SimState.zeros(n, net.n_inputs, opts.max_delay, as_state(seed))
    elif state.buf.shape[0] != opts.max_delay + 1:
        raise ValueError(f"state was made for delay={state.buf.shape[0] - 1}, options ask for {opts.max_delay}")
    if np.ndim(opts.delay) and opts.delay.shape != (n, n):
        raise ValueError(f"per-connection delays have shape {opts.delay.shape}, the network has N = {n}")
    rec = {}
    if mask & kernels.REC_SPIKES:
        rec["spikes"] = np.zeros((T, n), dtype=np.uint8)
    if mask & kernels.REC_R:
        rec["r"] = np.zeros((T, n))
    if mask & kernels.REC_V:
        rec["V"] = np.zeros((T, n))
    if mask & kernels.REC_CURRENTS:
        rec["I_E"] = np.zeros((T, n))
        rec["I_I"] = np.zeros((T, n))
    counts = np.zeros(n, dtype=np.int64)
    x = np.zeros((T, net.n_inputs))
    # the signal is cheap to compute outside the kernel; keep kernel state x in sync
    from neuromorph.sim.signals import leaky_integrate

    x[:] = leaky_integrate(c, net.lam, net.dt, x0=state.x)
    _run(net, c, state, opts, r_decay_first=r_decay_first, rec_mask=mask, rec=rec, counts=counts)
    return Recording(x=x, counts=counts, n_steps=T, dt=net.dt, spikes=rec.get("spikes"), r=rec.get("r"),
                     V=rec.get("V"), I_E=rec.get("I_E"), I_I=rec.get("I_I"), state=state)


@dataclass
class LearnResult:
    """Output of :func:`learn`: the final network, weight snapshots and spike totals.

    ``snapshots``: list of (step, F copy, Omega copy) at the requested steps.
    """

    network: SCN
    snapshots: list = field(default_factory=list)
    total_spikes: int = 0
    n_steps: int = 0
    state: Optional[SimState] = None
    counts: Optional[np.ndarray] = None  # spikes per neuron over the run, (N,)


def learn(net: SCN, source: InputSource, n_steps: int, *, rules: Sequence = (RecurrentRule(), FeedforwardRule()),
          seed=None, options: Optional[SimOptions] = None, snapshot_steps: Sequence[int] = (),
          chunk: int = 100_000, progress: Optional[Callable[[int], None]] = None,
          state: Optional[SimState] = None, grid: Optional[WeightGrid] = None,
          registry: RuleRegistry = DEFAULT_REGISTRY, rec_mask: Optional[np.ndarray] = None,
          on_snapshot: Optional[Callable[[int, np.ndarray, np.ndarray], None]] = None) -> LearnResult:
    """Train ``net`` (a copy is returned; ``net`` itself is not modified) for ``n_steps`` steps.

    ``source(start, L)`` supplies the input current chunk by chunk (so 10⁷-step protocols
    never hold the whole input in memory); ``start`` counts from the first step of *this call*,
    so when continuing with ``state=`` shift the source (``lambda s, n: src(done + s, n)``) or
    the input replays from 0.  ``rules``: at most one rule per pathway (feed-forward,
    recurrent), e.g. one :class:`RecurrentRule` and one :class:`FeedforwardRule` (omit or
    disable one to freeze that pathway); ``registry`` says which rule types exist and what
    they compile to (:mod:`neuromorph.sim.rules`).
    ``snapshot_steps``: weights are copied *before* these step indices (0-based) are simulated;
    a snapshot at step s therefore holds the weights after s learning steps.
    ``on_snapshot(step, F, Omega)`` is called with each snapshot's copies as it is taken (while
    the run goes on: e.g. to evaluate it on another core; the arrays are not changed afterwards).
    ``rec_mask``: (N, N) boolean connectivity, ``rec_mask[i, k]`` False = no connection k → i:
    those Ω entries are set to 0 at the start and stay exactly 0 through learning (the paper's
    Fig 7B setting; :mod:`neuromorph.sim.connectivity` chooses masks for a fan-out limit).
    """
    if n_steps < 0:
        raise ValueError(f"n_steps must be >= 0, got {n_steps}")
    bindings = registry.bind(rules, net)
    opts = options or SimOptions()
    work = net.copy()
    n, m = work.n_neurons, work.n_inputs
    conn = None
    if rec_mask is not None:
        from neuromorph.sim.connectivity import check_mask

        conn = check_mask(rec_mask, n)
        work.Omega[conn == 0] = 0.0
    if state is None:
        state = SimState.zeros(n, m, opts.max_delay, as_state(seed))
    if np.ndim(opts.delay) and opts.delay.shape != (n, n):
        raise ValueError(f"per-connection delays have shape {opts.delay.shape}, the network has N = {n}")
    result = LearnResult(network=work)
    counts = np.zeros(n, dtype=np.int64)

    def advance(start: int, c: np.ndarray) -> None:
        result.total_spikes += _run(work, c, state, opts, r_decay_first=False, bindings=bindings, counts=counts,
                                    grid=grid, conn_mask=conn)

    def snapshot(step: int) -> None:
        result.snapshots.append((step, work.F.copy(), work.Omega.copy()))
        if on_snapshot is not None:
            on_snapshot(*result.snapshots[-1])

    def check(step: int) -> None:
        if not (np.all(np.isfinite(work.Omega)) and np.all(np.isfinite(work.F))):
            raise FloatingPointError(f"weights became non-finite at step {step}; lower the learning rates")

    run_chunks(source, n_steps, m, advance, chunk=chunk, snapshot_steps=snapshot_steps, snapshot=snapshot,
               check=check, progress=progress, prefetch=True)
    result.n_steps = n_steps
    result.state = state
    result.counts = counts
    return result


def block_noise_source(n_inputs: int, seed, *, amplitude: float = 2000.0, sigma: float = 30.0,
                       block: int = 1000, cov: Optional[np.ndarray] = None, group: int = 100) -> InputSource:
    """Input source of the paper's training protocol: independent smoothed-noise blocks.

    Blocks are drawn ``group`` at a time, each group from its own seed (derived from ``seed``
    and the group index), so any chunking of the run sees the same input.  ``cov`` (M, M)
    mixes the channels to that covariance.
    """
    from neuromorph.sim.signals import correlated_gaussian, smoothed_white_noise

    root_entropy = np.random.SeedSequence(seed).entropy
    glen = block * group
    cache: dict = {}

    def group_at(g: int) -> np.ndarray:
        if g not in cache:
            cache.clear()
            rng = np.random.default_rng(np.random.SeedSequence(root_entropy, spawn_key=(g,)))
            if cov is None:
                cache[g] = smoothed_white_noise(glen, n_inputs, rng, amplitude=amplitude, sigma=sigma, block=block)
            else:
                cache[g] = correlated_gaussian(glen, cov, rng, amplitude=amplitude, sigma=sigma, block=block)
        return cache[g]

    def source(start: int, length: int) -> np.ndarray:
        out = np.empty((length, n_inputs))
        pos = 0
        while pos < length:
            g, off = divmod(start + pos, glen)
            take = min(length - pos, glen - off)
            out[pos:pos + take] = group_at(g)[off:off + take]
            pos += take
        return out

    return source
