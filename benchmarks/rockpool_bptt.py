"""The anchor: Rockpool's own way to put a signal-coding network on Xylo, for comparison only.

What a Xylo user does today (Rockpool 3.1.0, torch CPU), reproduced for the job neuromorph does
(code a multichannel signal x(t) in spikes and read it back out):

1. ``Sequential(LinearTorch(Nin → N), LIFTorch(N, has_rec=True), LinearTorch(N → M), LIFTorch(M))``
   — input weights, a recurrent LIF layer, output weights, and Xylo's output neurons, whose
   membrane is the readout (``XyloSim(output_mode="Vmem")``); the output neurons never fire.
2. BPTT with Rockpool's surrogate gradient (``StepPWL``) on the reconstruction error: the MSE of
   the output membranes against x, weighted per channel as the coding-error metric weights it
   (``neuromorph.metrics.normalized_error`` in the data's units), Adam, random windows.
3. ``mapper(net.as_graph())`` → ``channel_quantize`` or ``global_quantize`` →
   ``XyloSim.from_specification`` (``config_from_specification`` needs SynSense's samna, which is
   not installed here; it is tried through neuromorph's guard and reported as skipped).

Benchmark-only code: it is an anchor, not a product feature, so it lives in ``benchmarks/``.
Rockpool and torch are imported through ``neuromorph.backends.xylo.rockpool_compat`` (samna guard).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from neuromorph.backends.xylo.rockpool_compat import (
    SamnaUnavailableError,
    config_from_spec,
    import_rockpool,
    import_xylo_module,
    xylosim_from_spec,
)

# Xylo Audio 2 facts the Rockpool network must respect (hardware_configs/xylo-audio-v2.yaml)
MAX_FANOUT = 64          # non-zero outgoing recurrent synapses per hidden neuron
MAX_HIDDEN_EVENTS = 31   # events a hidden neuron can emit in one step
NEVER_FIRE = 32767       # int16 maximum: an output neuron with this threshold never fires


def tau_for_dash(dash: int, dt: float) -> float:
    """Time constant (s) whose Euler decay exp(−dt/τ) is exactly Xylo's bit-shift decay 1 − 2^−dash,
    so the mapper's rounding to an integer dash changes nothing."""
    return float(-dt / np.log(1.0 - 2.0 ** -dash))


@dataclass
class BPTTConfig:
    """The Rockpool path's training budget and hyper-parameters (the defaults are what tuning on
    the example signal chose; see docs/rockpool_anchor.md).

    Attributes
    ----------
    n_hidden : int
        Hidden LIF neurons N.
    iterations : int
        Adam steps.
    batch, window, warmup : int
        Windows per step, window length (steps) and the leading steps left out of the loss
        (the state starts at rest in every window).
    lr : float
        Adam learning rate.
    dash_mem, dash_syn, dash_mem_out, dash_syn_out : int
        Membrane / synaptic bit-shift decays of the hidden and output neurons (fixed, exactly
        representable on Xylo; the output membrane τ = 15.5 ms at dash 4 and dt = 1 ms).
    threshold : float
        Initial hidden threshold (trained).
    w_in_scale : float
        Standard deviation of the initial input weights (input events are counts of up to 15 a
        step: Kaiming's default drives every neuron to its 31-event limit).
    rate_penalty, rate_target_hz : float
        Activity regulariser: ``rate_penalty · max(0, r / rate_target_hz − 1)`` is added to the
        loss, r the batch's mean hidden rate (Hz) — zero below the target, so it only caps the
        rate (used to train at the rate of the network compared against).  0: no regulariser.
    quantize : {"channel", "global"}
        Rockpool's quantizer.
    seed : int
    """

    n_hidden: int = 100
    iterations: int = 300
    batch: int = 16
    window: int = 300
    warmup: int = 50
    lr: float = 1e-2
    dash_mem: int = 4
    dash_syn: int = 2
    dash_mem_out: int = 4
    dash_syn_out: int = 1
    threshold: float = 1.0
    w_in_scale: float = 0.05
    rate_penalty: float = 0.0
    rate_target_hz: float = 0.0
    quantize: str = "global"
    seed: int = 0
    extra: dict = field(default_factory=dict)


def build_network(n_in: int, n_out: int, cfg: BPTTConfig, dt: float):
    """The Rockpool network of the module docstring, and the fixed recurrent fan-out mask (N, N)
    (each hidden neuron projects to at most ``MAX_FANOUT`` others, as Xylo Audio 2 allows)."""
    torch = import_rockpool("torch")
    nn_mod = import_rockpool("rockpool.nn.modules")
    comb = import_rockpool("rockpool.nn.combinators")
    params = import_rockpool("rockpool.parameters")
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    n = cfg.n_hidden
    mask = np.zeros((n, n), dtype=np.float32)  # LIFTorch w_rec is (source, target)
    for i in range(n):
        mask[i, rng.choice(n, size=min(MAX_FANOUT, n), replace=False)] = 1.0
    const = params.Constant
    net = comb.Sequential(
        nn_mod.LinearTorch((n_in, n), has_bias=False, weight=cfg.w_in_scale * torch.randn(n_in, n)),
        nn_mod.LIFTorch(n, has_rec=True, dt=dt, threshold=cfg.threshold * torch.ones(n),
                        tau_mem=const(tau_for_dash(cfg.dash_mem, dt)), tau_syn=const(tau_for_dash(cfg.dash_syn, dt)),
                        max_spikes_per_dt=MAX_HIDDEN_EVENTS,
                        w_rec=0.1 * torch.randn(n, n) / np.sqrt(n) * torch.as_tensor(mask)),
        nn_mod.LinearTorch((n, n_out), has_bias=False),
        # output neurons: a membrane readout that never fires (threshold far above its range)
        nn_mod.LIFTorch(n_out, dt=dt, threshold=const(1e9), tau_mem=const(tau_for_dash(cfg.dash_mem_out, dt)),
                        tau_syn=const(tau_for_dash(cfg.dash_syn_out, dt)), max_spikes_per_dt=1),
    )
    return net, mask


def _forward(net, u):
    """Output membranes (B, T, M) and hidden spikes (B, T, N) for input events ``u`` (B, T, Nin)."""
    lin_in, hidden, lin_out, out = (net[k] for k in list(net.modules().keys()))
    net.reset_state()
    # a Rockpool module's call is its evolve: (output, new state, record)
    spikes, _, _ = hidden(lin_in(u)[0])
    _, _, rec = out(lin_out(spikes)[0], record=True)
    return rec["vmem"], spikes


def train(raster: np.ndarray, x: np.ndarray, weight: np.ndarray, cfg: BPTTConfig, dt: float,
          log=None) -> dict:
    """BPTT on the reconstruction error.

    Parameters
    ----------
    raster : ndarray (T, Nin), int
        Input events per step (what the chip receives), training part.
    x : ndarray (T, M)
        The signal the output membranes must equal (network units).
    weight : ndarray (M,)
        Per-channel loss weight (the data scale squared, so the loss is the coding-error metric).
    cfg : BPTTConfig
    dt : float
        Time step (s).

    Returns
    -------
    dict with ``net``, ``mask``, ``seconds`` (training wall time), ``cpu_seconds`` (process CPU
    time, = one core's time with torch on one thread: the number that does not depend on the
    machine's load), ``loss`` (per iteration).
    """
    torch = import_rockpool("torch")
    torch.set_num_threads(1)  # one core, as the benchmark states
    net, mask = build_network(raster.shape[1], x.shape[1], cfg, dt)
    hidden = net[list(net.modules().keys())[1]]
    mask_t = torch.as_tensor(mask)
    opt = torch.optim.Adam(net.parameters().astorch(), lr=cfg.lr)
    u_all = torch.as_tensor(raster, dtype=torch.float32)
    x_all = torch.as_tensor(x, dtype=torch.float32)
    w = torch.as_tensor(weight / weight.sum(), dtype=torch.float32)
    var = torch.as_tensor(np.var(x, axis=0), dtype=torch.float32)
    rng = np.random.default_rng(cfg.seed + 1)
    losses = []
    t0, c0 = time.perf_counter(), time.process_time()
    for it in range(cfg.iterations):
        starts = rng.integers(0, raster.shape[0] - cfg.window, size=cfg.batch)
        u = torch.stack([u_all[s:s + cfg.window] for s in starts])
        xt = torch.stack([x_all[s:s + cfg.window] for s in starts])
        v, spk = _forward(net, u)
        err = (v - xt)[:, cfg.warmup:]
        # normalised error variance, weighted as normalized_error weights it in the data's units
        loss = ((err ** 2).mean(dim=(0, 1)) * w).sum() / (w * var).sum()
        if cfg.rate_penalty and cfg.rate_target_hz:
            loss = loss + cfg.rate_penalty * torch.relu(spk.mean() / dt / cfg.rate_target_hz - 1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            hidden.w_rec.data *= mask_t  # keep the chip's fan-out limit (projected gradient)
            hidden.threshold.data.clamp_(min=0.05)
        losses.append(float(loss.detach()))
        if log is not None and (it % 50 == 0 or it == cfg.iterations - 1):
            log(f"  rockpool BPTT it {it:4d}  loss {losses[-1]:.4f}  spikes/step/neuron {float(spk.detach().mean()):.4f}")
    return {"net": net, "mask": mask, "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
            "loss": losses}


def float_readout(net, raster: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The trained float network on ``raster`` (T, Nin): output membranes (T, M), hidden spikes (T, N)."""
    torch = import_rockpool("torch")
    with torch.no_grad():
        v, s = _forward(net, torch.as_tensor(raster[None], dtype=torch.float32))
    return v[0].numpy().astype(np.float64), s[0].numpy().astype(np.float64)


def to_xylo_spec(net, quantize: str = "global") -> tuple[dict, np.ndarray]:
    """Rockpool's deployment path: ``mapper`` → ``global_quantize``/``channel_quantize``.

    Returns the integer spec (keys of ``XyloSim.from_specification``) and ``scale_out`` (M,), the
    factors the quantizer multiplied the output weights by (output membrane in float units =
    Vmem_out / scale_out).  The output thresholds are set to the int16 maximum after quantizing (the readout
    neurons never fire; a large float threshold would make the quantizer shrink the output — and,
    in rockpool 3.1.0's ``global_quantize``, also the recurrent — weights to fit it)."""
    mapper = import_xylo_module("syns61201").mapper
    qm = import_rockpool("rockpool.transform.quantize_methods")
    spec = mapper(net.as_graph(), weight_dtype="float", threshold_dtype="float", dash_dtype="float")
    spec = dict(spec)
    spec.pop("mapped_graph", None)
    spec["threshold_out"] = np.ones_like(np.asarray(spec["threshold_out"], dtype=np.float64))
    w_out = np.asarray(spec["weights_out"], dtype=np.float64)
    if quantize == "global":
        q = qm.global_quantize(**spec)
        scale_out = 127.0 / np.abs(w_out).max()  # global_quantize's own output factor
    elif quantize == "channel":
        q = qm.channel_quantize(**spec)
        scale_out = 127.0 / np.abs(w_out).max(axis=0)  # channel_quantize: one factor per output neuron
    else:
        raise ValueError(f"quantize must be 'global' or 'channel', got {quantize!r}")
    spec.update(q)
    spec["threshold_out"] = np.full(np.shape(spec["threshold_out"]), NEVER_FIRE, dtype=int)
    for k in ("bias", "bias_out"):
        if spec.get(k) is not None:
            spec[k] = np.round(np.asarray(spec[k], dtype=np.float64)).astype(int)
    return spec, np.broadcast_to(np.asarray(scale_out, dtype=np.float64), (w_out.shape[1],)).copy()


def samna_config_status(spec: dict) -> str:
    """Whether ``config_from_specification`` could be run (it needs SynSense's samna)."""
    try:
        _, ok, msg = config_from_spec(spec, "xylo-audio-v2")
    except SamnaUnavailableError:
        return "skipped: config_from_specification needs samna (not installed)"
    return "valid" if ok else f"invalid: {msg}"


def emulate(spec: dict, raster: np.ndarray) -> dict:
    """Rockpool's XyloSim (Xylo Audio 2) on ``raster`` (T, Nin): ``Vmem_out`` (T, M), ``Spikes`` (T, N)."""
    sim = xylosim_from_spec(spec, "xylo-audio-v2", output_mode="Vmem")
    _, _, rec = sim(np.asarray(raster, dtype=int), record=True)
    return {k: np.asarray(rec[k]) for k in ("Vmem_out", "Spikes")}
