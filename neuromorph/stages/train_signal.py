"""The train stage on a signal: learn an SCN or an EI network with the local rules on the
training part of the user's data (or a named built-in signal), fit the decoder on it, and
report the errors on the held-out part.

Protocol (docs/your_own_data.md):

1. The signal is resampled to the network step, split (the last ``test_fraction`` held out) and
   scaled to the operating range with the training part's statistics
   (:func:`neuromorph.data.prepare_run_data`).
2. Learning: the training trials are looped (:func:`neuromorph.data.drive.looped_source`, smooth
   bridges at the joins, the network never reset) for ``n_steps`` steps under the plasticity
   rules (:func:`neuromorph.sim.simulator.learn` / :func:`neuromorph.sim.ei_simulator.learn_ei`).
3. Evaluation of the initial and of the learnt network, frozen, under the same dynamics as
   ``simulate``/``simulate_ei`` (the reference's evaluation order): the decoder is the
   least-squares fit (:func:`neuromorph.metrics.optimal_decoder`) on one pass over the training
   part; the errors (:func:`neuromorph.metrics.normalized_error`) and rates are measured on one
   pass over the held-out part (:func:`neuromorph.data.drive.play_once`).  Bridges are excluded
   from fits and errors; rates count every simulated step of the held-out pass.

Seeds: initial weights stream 2, learning noise 3, decoder-fit noise 4, held-out noise 5 of
the master seed (the same 4 and 5 for the network before and after learning).
"""
from __future__ import annotations

import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from neuromorph.data import OPERATING_STD, OPERATING_STD_EI, RunData, Signal, prepare_run_data, save_run_data
from neuromorph.data.drive import Stream, join_steps, looped_source, play_once
from neuromorph.metrics import normalized_error, optimal_decoder, predicted_recurrent, weight_distance
from neuromorph.network import EINetwork, Network, save_network
from neuromorph.progress import progress_bar
from neuromorph.sim.ei_simulator import learn_ei, simulate_ei
from neuromorph.sim.init import default_rules, initial_ei_network, initial_scn
from neuromorph.sim.masked_learning import learn_with_fanout
from neuromorph.sim.rng import derive_seed
from neuromorph.sim.simulator import learn, simulate
from neuromorph.stages.train_plan import TrainPlan
from neuromorph.stages.train_report import reconstruction_figure

#: Most values of recorded filtered spike trains r held at once (float64: 128 MiB).  The decoder
#: fit uses the first ``DECODER_MAX_VALUES // N`` data samples of the training pass (all of it
#: for N = 100 and up to 167 s at 1 ms); evaluation runs in chunks of that size.
DECODER_MAX_VALUES = 2 ** 24


def _chunks(n: int, size: int):
    for a in range(0, n, size):
        yield a, min(n, a + size)


# ---------------------------------------------------------------------------- frozen runs
def _run_r(net: Network, st: Stream, seed: int, on_chunk: Callable[[int, int, np.ndarray, Optional[np.ndarray]], None],
           stop: Optional[int] = None) -> tuple:
    """Simulate ``net`` frozen over ``st`` in chunks; ``on_chunk(a, b, r_main, r_inh)`` sees the
    filtered spike trains of steps a..b (r_inh None for an SCN).  Returns the spike counts
    (main population, inhibitory or None) and the steps simulated."""
    ei = isinstance(net, EINetwork)
    n = net.n_exc + net.n_inh if ei else net.n_neurons
    size = max(1000, DECODER_MAX_VALUES // (4 * n))
    end = st.c.shape[0] if stop is None else min(stop, st.c.shape[0])
    g = np.random.default_rng(seed)
    state = None
    cm = ci = 0
    for a, b in _chunks(end, size):
        if ei:
            rec = simulate_ei(net, st.c[a:b], seed=g, record=("r_E", "r_I"), state=state)
            on_chunk(a, b, rec.r_E, rec.r_I)
            cm, ci = cm + rec.counts_E.sum(), ci + rec.counts_I.sum()
        else:
            rec = simulate(net, st.c[a:b], seed=g, record=("r",), state=state)
            on_chunk(a, b, rec.r, None)
            cm += rec.counts.sum()
        state = rec.state
    return int(cm), (int(ci) if ei else None), end


def fit_decoders(net: Network, st: Stream, seed: int) -> tuple:
    """Least-squares decoders on the data samples of one frozen pass over ``st`` (at most
    :data:`DECODER_MAX_VALUES` // N of them).  Returns (D (M, N) or D_E, D_I or None, samples)."""
    ei = isinstance(net, EINetwork)
    n = net.n_exc + net.n_inh if ei else net.n_neurons
    cap = max(1000, DECODER_MAX_VALUES // n)
    idx = np.flatnonzero(st.data)[:cap]
    stop = int(idx[-1]) + 1
    keep = np.zeros(stop, bool)
    keep[idx] = True
    rm, ri = [], []

    def take(a, b, r, r2):
        k = keep[a:b]
        rm.append(r[k])
        if r2 is not None:
            ri.append(r2[k])

    _run_r(net, st, seed, take, stop=stop)
    x = st.x[idx]
    D = optimal_decoder(np.concatenate(rm), x)
    DI = optimal_decoder(np.concatenate(ri), x) if ei else None
    return D, DI, int(idx.size)


def decode(net: Network, st: Stream, seed: int) -> dict:
    """Frozen pass over ``st`` with the network's decoders: x̂ (data samples, M) of the main
    (E) population and of I (EI), and the mean rates (Hz) over the whole pass."""
    ei = isinstance(net, EINetwork)
    D = net.D_E if ei else net.D
    xh = np.empty_like(st.x)
    xi = np.empty_like(st.x) if ei else None

    def take(a, b, r, r2):
        xh[a:b] = r @ D.T
        if ei:
            xi[a:b] = r2 @ net.D_I.T

    cm, ci, T = _run_r(net, st, seed, take)
    dur = T * net.dt
    out = {"x_hat": xh[st.data], "rate_hz": cm / (dur * (net.n_exc if ei else net.n_neurons))}
    if ei:
        out["x_hat_i"] = xi[st.data]
        out["rate_i_hz"] = ci / (dur * net.n_inh)
    return out


def _with_decoders(net: Network, D: np.ndarray, DI: Optional[np.ndarray]) -> Network:
    return replace(net, D_E=D, D_I=DI) if isinstance(net, EINetwork) else replace(net, D=D)


def evaluate_on(net: Network, rd: RunData, seed: int) -> tuple:
    """Fit the decoders on the training part, measure on the held-out part.

    Returns
    -------
    (network with decoders, metrics dict: error, rate_hz (E for EI), per-channel normalised
    error and RMSE in the data's units; error_i, rate_i_hz for EI; x_hat of the held-out data
    samples in network units)
    """
    D, DI, n_fit = fit_decoders(net, play_once(rd.train.x, net.lam, net.dt), derive_seed(seed, 4))
    net = _with_decoders(net, D, DI)
    test = play_once(rd.test.x, net.lam, net.dt)
    dec = decode(net, test, derive_seed(seed, 5))
    x = test.x[test.data]
    xh = dec["x_hat"]
    var = np.var(x, axis=0)
    # a channel silent in the held-out part (e.g. an audio band above the sound's Nyquist) has no
    # normalised error: NaN (JSON null), as verify reports it
    per = np.divide(np.var(x - xh, axis=0), var, out=np.full(var.shape, np.nan), where=var > 0)
    rmse = np.sqrt(np.mean((x - xh) ** 2, axis=0)) * rd.scaling.scale
    m = {"error": normalized_error(x, xh), "rate_hz": float(dec["rate_hz"]), "decoder_samples": n_fit,
         "per_channel_error": [float(v) if np.isfinite(v) else None for v in per], "per_channel_rmse": [float(v) for v in rmse],
         "x_hat": xh}
    if "x_hat_i" in dec:
        m["error_i"] = normalized_error(x, dec["x_hat_i"])
        m["rate_i_hz"] = float(dec["rate_i_hz"])
    return net, m


# ---------------------------------------------------------------------------- learning
def initial_network(plan: TrainPlan, n_inputs: int) -> Network:
    """The start of learning: an SCN of :mod:`neuromorph.sim.init` (``plan.init``) or the
    reference's Fig 4 EI network with the plan's λ, dt and thresholds."""
    seed = derive_seed(plan.seed, 2)
    meta = {"experiment": "signal", "init": plan.init}
    if plan.network == "scn":
        return initial_scn(seed, plan.init, plan.n_neurons, n_inputs, plan.params, meta=meta)
    net = initial_ei_network(plan.n_e, plan.n_i, n_inputs, seed=seed)
    p = plan.params
    return replace(net, lam=p.lam, dt=p.dt, T_E=np.full(plan.n_e, p.threshold), T_I=np.full(plan.n_i, p.threshold),
                   meta={**net.meta, **meta})


def learn_on(net0: Network, plan: TrainPlan, rd: RunData, progress: bool = True,
             max_fanout: Optional[int] = None) -> tuple:
    """Learn for ``plan.n_steps`` steps on the looped training part (an SCN under a recurrent
    fan-out limit ``max_fanout`` if given: :func:`neuromorph.sim.masked_learning.learn_with_fanout`).
    Returns (network, spikes per neuron per second during learning (Hz, main population))."""
    src, _ = looped_source(rd.train.x, net0.lam, net0.dt)
    seed = derive_seed(plan.seed, 3)
    with progress_bar(plan.n_steps, f"{plan.network} learning", progress) as upd:
        if isinstance(net0, EINetwork):
            res = learn_ei(net0, src, plan.n_steps, rules=plan.ei_rules, seed=seed, progress=upd)
            return res.network, res.total_spikes_E / (plan.n_steps * net0.dt * net0.n_exc)
        rules = tuple(r for r, name in zip(default_rules(plan.params), ("recurrent", "feedforward"))
                      if name in plan.learn)
        if max_fanout is not None and max_fanout < net0.n_neurons:
            res = learn_with_fanout(net0, src, plan.n_steps, int(max_fanout), rules=rules, seed=seed, progress=upd)
        else:
            res = learn(net0, src, plan.n_steps, rules=rules, seed=seed, progress=upd)
        return res.network, res.total_spikes / (plan.n_steps * net0.dt * net0.n_neurons)


def run_data(plan: TrainPlan, sig: Signal) -> RunData:
    """Resample, split and scale ``sig`` for the plan's network (operating range of its kind)."""
    std = OPERATING_STD_EI if plan.network == "ei" else OPERATING_STD
    return prepare_run_data(sig, plan.dt, test_fraction=plan.test_fraction, center=plan.center, target_std=std,
                            max_channels=plan.max_channels)


def train_on_signal(out: Path, plan: TrainPlan, rd: RunData, progress: bool = True,
                    max_fanout: Optional[int] = None) -> dict:
    """Learn, evaluate before and after, write ``network.npz``, ``network_initial.npz``,
    ``data.npz`` and ``reconstruction.png`` into ``out``.  Returns the metrics (not written)."""
    out = Path(out)
    t0 = time.perf_counter()
    net0 = initial_network(plan, rd.n_channels)
    t1 = time.perf_counter()
    learnt, learn_rate = learn_on(net0, plan, rd, progress, max_fanout)
    learn_seconds = time.perf_counter() - t1
    with progress_bar(2, "evaluation", progress, unit="network") as upd:
        first, before = evaluate_on(net0, rd, plan.seed)
        upd(1)
        final, after = evaluate_on(learnt, rd, plan.seed)
        upd(1)
    save_network(final, out / "network.npz")
    save_network(first, out / "network_initial.npz")
    save_run_data(out, rd)
    reconstruction_figure(out / "reconstruction.png", rd, after["x_hat"], before["x_hat"])
    chans = list(rd.train.channels)
    test_std = rd.scaling.to_data(rd.test.x).reshape(-1, len(chans)).std(axis=0)
    ei = plan.network == "ei"
    m = {
        "experiment": "signal", "max_fanout": max_fanout,
        "network": plan.network,
        "init": plan.init,
        "steps": int(plan.n_steps),
        "simulated_seconds": plan.n_steps * plan.dt,
        "error_before": before["error"], "error_after": after["error"],
        "rate_before_hz": before["rate_hz"], "rate_after_hz": after["rate_hz"],
        "rate_during_learning_hz": float(learn_rate),
        # per channel: normalised error, RMSE in the data's units, and the held-out signal's std
        "per_channel": {c: {"error_before": before["per_channel_error"][i],
                            "error_after": after["per_channel_error"][i],
                            "rmse_before": before["per_channel_rmse"][i], "rmse_after": after["per_channel_rmse"][i],
                            "std": float(test_std[i])} for i, c in enumerate(chans)},
        "data": {"source": rd.source, "channels": chans, "dt": rd.dt, "data_dt": rd.meta.get("data_dt"),
                 "dt_source": rd.meta.get("dt_source"), "split": rd.split, "test_fraction": rd.test_fraction,
                 "train_shape": list(rd.train.x.shape), "test_shape": list(rd.test.x.shape),
                 "scale": rd.scaling.scale.tolist(), "offset": rd.scaling.offset.tolist(),
                 "target_std": rd.meta.get("target_std"), "join_steps": join_steps(plan.params.lam, plan.dt),
                 "decoder_samples": after["decoder_samples"]},
        "learn_seconds": learn_seconds,
        "figures": ["reconstruction.png"],
    }
    if ei:
        m.update(error_i_before=before["error_i"], error_i_after=after["error_i"],
                 rate_i_before_hz=before["rate_i_hz"], rate_i_after_hz=after["rate_i_hz"], weight_distance=None,
                 parameters={"n_exc": plan.n_e, "n_inh": plan.n_i, "n_inputs": rd.n_channels, "lam": plan.params.lam,
                             "dt": plan.dt, "threshold": plan.params.threshold,
                             **{k: getattr(plan.ei_rules, k) for k in ("lr_ff", "lr_rec", "mu", "beta",
                                                                       "ff_trace_leak_factor", "ff_XE", "ff_EI",
                                                                       "rec_EE", "rec_IE", "rec_II")}})
    else:
        p = asdict(plan.params)
        for k in ("amplitude", "sigma"):  # the fig2 input's; a signal brings its own
            p.pop(k)
        m.update(weight_distance_before=weight_distance(first.Omega, predicted_recurrent(first.F)),
                 weight_distance=weight_distance(final.Omega, predicted_recurrent(final.F)),
                 parameters={"n_neurons": plan.n_neurons, "n_inputs": rd.n_channels, "learn": list(plan.learn), **p})
    if rd.pca is not None:
        m["data"]["pca"] = pca_metrics(rd, before["x_hat"], after["x_hat"])
    m["wall_seconds"] = time.perf_counter() - t0
    return m


def pca_metrics(rd: RunData, x_hat_before: np.ndarray, x_hat_after: np.ndarray) -> dict:
    """A run on K principal components, back in the M original channels: the components'
    share of the variance, and the held-out normalised error of the reconstruction
    (estimate → data units → M channels) against the original held-out signal, before and
    after learning, next to the floor that K components allow (``error_before``/``error_after``
    of the metrics are those of the K scores, in network units)."""
    x = rd.test_original.reshape(-1, rd.pca.m)  # the data samples of play_once, in order
    back = rd.data_scaling.to_data
    floor = rd.pca.reconstruct(rd.pca.project(x))
    return {**rd.pca.to_dict(), "error_floor": normalized_error(x, floor),
            "error_before_channels": normalized_error(x, back(x_hat_before)),
            "error_after_channels": normalized_error(x, back(x_hat_after))}
