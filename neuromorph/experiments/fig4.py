"""Fig 4: an EI network (300 E + 75 I, Dale's law) learns to represent three signals.

Parameters are the authors' Fig 4 code's (docs/authors_code.md §3.1): λ = 50 s⁻¹, dt = 0.1 ms,
ε_F = 1e-5 (X→E, E→I), ε_Ω = 1e-4 (E→E, I→I, I→E), μ = 0.002, thresholds 0.5, refractory
10 steps, voltage noise 0.002 in learning (E evaluation 0.001), threshold noise 0.02; input
A = 2000, Gaussian smoothing σ = 30 samples (3 ms) in 1000-step blocks.

Length: the code's learning loop runs 2^20 blocks of 1000 steps = 1.049e9 steps (29.1 h of
simulated time).  That is the default here.
``iterations`` counts 1000-step blocks; ``quick=True`` uses 2^12 blocks (4.1e6 steps, 410 s
simulated).  Whatever the length, metrics and figures say how it compares with the paper's.

Evaluation at steps 2, 4, …, 2^J and at the end (docs/authors_code.md §3.3): decoders of E and I fitted on
a 4 s input at full amplitude; errors, rates and Var V on 1 s test trials; Fano factor and ISI CV
of E neurons under constant inputs (``FanoCV``); plus E/I currents into the most active E neurons
(EI balance), decoder vs F_E, effective E→E coupling vs −F_E F_Eᵀ, tuning curves (Fig 4D).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np

from neuromorph.artifacts import save_figure
from neuromorph.sim.ei_simulator import EIEvalProtocol, EILearnResult, evaluate_ei, fano_cv, learn_ei, simulate_ei
from neuromorph.sim.init import initial_ei_network
from neuromorph.metrics import ei_balance
from neuromorph.artifacts import atomic_write_bytes
from neuromorph.network import EINetwork, save_network
from neuromorph.sim.plasticity import EIRules
from neuromorph.progress import progress_bar
from neuromorph.sim.rng import derive_seed
from neuromorph.sim.signals import smoothed_white_noise
from neuromorph.sim.simulator import block_noise_source
from neuromorph.stages.train import snapshot_schedule
from neuromorph.experiments.options import count_option

BLOCK = 1000
PAPER_ITERATIONS = 2 ** 20  # the code's hard-coded length: 2^20 blocks of 1000 steps
FULL_ITERATIONS = PAPER_ITERATIONS
QUICK_ITERATIONS = 2 ** 12

PARAMS = dict(n_exc=300, n_inh=75, n_inputs=3, lam=50.0, dt=1e-4, lr_ff=1e-5, lr_rec=1e-4, mu=0.002,
              ff_trace_leak_factor=6.0, refractory=10, threshold=0.5, v_noise_E_learn=0.002, v_noise_E_eval=0.001,
              v_noise_I=0.002, t_noise=0.02, amplitude=2000.0, sigma=30.0, block=BLOCK)


def default_rules() -> EIRules:
    p = PARAMS
    return EIRules(lr_ff=p["lr_ff"], lr_rec=p["lr_rec"], mu=p["mu"], ff_trace_leak_factor=p["ff_trace_leak_factor"])


def train(seed: int, iterations: int, progress: bool = True, rules: Optional[EIRules] = None) -> tuple:
    """Learn the Fig 4 network for ``iterations`` 1000-step blocks; returns (initial net, EILearnResult)."""
    p = PARAMS
    net0 = initial_ei_network(p["n_exc"], p["n_inh"], p["n_inputs"], seed=derive_seed(seed, 2))
    n_steps = int(iterations) * BLOCK
    src = block_noise_source(p["n_inputs"], derive_seed(seed, 1), amplitude=p["amplitude"], sigma=p["sigma"],
                             block=BLOCK)
    with progress_bar(n_steps, "fig4 learning", progress) as upd:
        res = learn_ei(net0, src, n_steps, rules=rules or default_rules(), seed=derive_seed(seed, 3),
                       snapshot_steps=snapshot_schedule(n_steps), chunk=2 ** 20, progress=upd,
                       v_noise_E=p["v_noise_E_learn"])
    return net0, res


def dale_ok(net: EINetwork) -> bool:
    """Sign constraints: E-outgoing ≥ 0 (except the fixed E self-reset), I-outgoing ≤ 0."""
    off = ~np.eye(net.n_exc, dtype=bool)
    return bool(np.all(net.W_EE[off] >= 0) and np.allclose(np.diag(net.W_EE), net.e_self_reset)
                and np.all(net.W_EI >= 0) and np.all(net.W_IE <= 0) and np.all(net.W_II <= 0))


def effective_ee_corr(net: EINetwork) -> float:
    """Correlation of the off-diagonal effective E→E coupling W_EE + W_IE W_EI with −F_E F_Eᵀ."""
    eff = net.W_EE + net.W_IE @ net.W_EI
    G = -(net.F_E @ net.F_E.T)
    off = ~np.eye(net.n_exc, dtype=bool)
    return float(np.corrcoef(eff[off], G[off])[0, 1])


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.ravel(a), np.ravel(b)
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _filtered(x: np.ndarray, dt: float, tau: float) -> np.ndarray:
    """Exponential filter with time constant ``tau`` (s) of per-step increments, returned as a
    rate (units per ms): the synaptic current seen through a ``tau`` low-pass."""
    from scipy.signal import lfilter

    a = np.exp(-dt / tau)
    return lfilter([1.0 - a], [1.0, -a], x, axis=0) / (dt * 1e3)


def currents_and_balance(net: EINetwork, seed: int, probes: np.ndarray, steps: int = 5000,
                         tau: float = 2e-3) -> tuple:
    """E and I currents into E neurons ``probes`` on one test input (each probe its own run with
    the same input and noise seed).  Returns (mean balance dict over probes, currents of the first
    probe (steps, 2) filtered with ``tau``)."""
    c = smoothed_white_noise(steps, net.n_inputs, np.random.default_rng(seed), amplitude=PARAMS["amplitude"],
                             sigma=PARAMS["sigma"], block=None)
    cors, ratios, first = [], [], None
    for p in probes:
        rec = simulate_ei(net, c, seed=derive_seed(seed, 1), record=("currents",), probe=(int(p), 0))
        cur = _filtered(rec.currents_E, net.dt, tau)
        b = ei_balance(cur[:, :1], cur[:, 1:])
        cors.append(b["ei_correlation"])
        ratios.append(b["net_to_excitation"])
        if first is None:
            first = cur
    return {"ei_correlation": float(np.nanmean(cors)), "net_to_excitation": float(np.nanmean(ratios)),
            "n_neurons": int(len(probes)), "filter_tau_s": tau}, first


def tuning_curves(net: EINetwork, seed: int, n_angles: int = 36, magnitude: float = 2.0, steps: int = 2000) -> tuple:
    """Rates (Hz) of all E and I neurons for constant x = magnitude·(cos θ, sin θ, 0) (Fig 4D).

    Returns (angles in degrees (A,), E rates (A, N_E), I rates (A, N_I)).
    """
    angles = np.linspace(0, 360, n_angles, endpoint=False)
    rE = np.zeros((n_angles, net.n_exc))
    rI = np.zeros((n_angles, net.n_inh))
    g = np.random.default_rng(seed)
    for a, th in enumerate(np.radians(angles)):
        x = np.zeros(net.n_inputs)
        x[0], x[1] = magnitude * np.cos(th), magnitude * np.sin(th)
        c = np.tile(net.lam * x, (steps, 1))
        c[0] = x / net.dt  # start at x rather than integrating up to it
        rec = simulate_ei(net, c, seed=g, record=())
        rE[a] = rec.rates_E_hz()
        rI[a] = rec.rates_I_hz()
    return angles, rE, rI


def _save_snapshots(path: Path, res: EILearnResult) -> None:
    arrays = {}
    for step, n in res.snapshots:
        for name in ("F_E", "W_EE", "W_EI", "W_IE", "W_II"):
            arrays[f"{name}_{step}"] = getattr(n, name)
    arrays["steps"] = np.array([s for s, _ in res.snapshots])
    atomic_write_bytes(path, lambda fh: np.savez_compressed(fh, **arrays))


def run(out: Path, *, seed: int = 0, iterations: Optional[int] = None, quick: bool = False,
        progress: bool = True, protocol: Optional[EIEvalProtocol] = None,
        fano_protocol: Optional[dict] = None) -> dict:
    """Learn, evaluate over learning, write figures and network files into ``out``; return metrics.

    ``iterations``: learning length in 1000-step blocks (default: the paper's 2^20 blocks,
    ``quick``: 2^12).  ``protocol``/``fano_protocol`` override the evaluation sizes (defaults:
    the reference's 4 s decoder fit + 10 × 1 s trials, FanoCV 20 directions × 50 trials × 1 s;
    quick: 5 trials and FanoCV 4 × 20 × 1 s).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    iterations = count_option("iterations", iterations, QUICK_ITERATIONS if quick else FULL_ITERATIONS,
                              f"{BLOCK}-step blocks")
    t0 = time.perf_counter()
    net0, res = train(seed, iterations, progress)
    learn_seconds = time.perf_counter() - t0
    save_network(res.network, out / "ei_network.npz")
    if res.n_steps >= 2 ** 25:
        _save_snapshots(out / "snapshots.npz", res)
    proto = protocol or EIEvalProtocol(n_trials=5 if quick else 10)
    fp = fano_protocol or (dict(n_directions=4, n_trials=20, steps=10_000) if quick
                           else dict(n_directions=20, n_trials=50, steps=10_000))
    keys = ("error_E", "error_I", "rate_E_hz", "rate_I_hz", "v_var_E", "v_var_I")
    curve: dict = {"time_s": [], "step": [], **{k: [] for k in keys}, "fano": [], "cv": [],
                   "decoder_corr_with_F": [], "effective_EE_corr_with_minus_FFt": []}
    snaps = list(res.snapshots)
    if not snaps or snaps[-1][0] != res.n_steps:
        snaps.append((res.n_steps, res.network))
    evals = []
    dale_all = True
    with progress_bar(len(snaps), "fig4 evaluation", progress, unit="snapshot") as upd:
        for step, n in snaps:
            ev = evaluate_ei(n, derive_seed(seed, 4), proto)
            fc = fano_cv(n, derive_seed(seed, 5), **fp)
            n.D_E, n.D_I = ev["D_E"], ev["D_I"]
            evals.append((step, n, ev, fc))
            dale_all = dale_all and dale_ok(n)
            curve["time_s"].append(step * net0.dt)
            curve["step"].append(int(step))
            for k in keys:
                curve[k].append(ev[k])
            curve["fano"].append(fc["fano"])
            curve["cv"].append(fc["cv"])
            curve["decoder_corr_with_F"].append(_corr(ev["D_E"], n.F_E.T))
            curve["effective_EE_corr_with_minus_FFt"].append(effective_ee_corr(n))
            upd(1)
    (s0, first, ev0, fc0), (s1, last, ev1, fc1) = evals[0], evals[-1]
    save_network(last, out / "ei_network.npz")
    save_network(first, out / "ei_network_initial.npz")

    # EI balance and tuning, before vs after
    probe_rec = simulate_ei(last, smoothed_white_noise(10_000, 3, np.random.default_rng(derive_seed(seed, 6)),
                                                       amplitude=PARAMS["amplitude"], sigma=PARAMS["sigma"],
                                                       block=None), seed=derive_seed(seed, 7), record=())
    probes = np.argsort(probe_rec.counts_E)[::-1][:10]
    bal0, cur0 = currents_and_balance(first, derive_seed(seed, 8), probes)
    bal1, cur1 = currents_and_balance(last, derive_seed(seed, 8), probes)
    tun0 = tuning_curves(first, derive_seed(seed, 9))
    tun1 = tuning_curves(last, derive_seed(seed, 9))

    paper_steps = PAPER_ITERATIONS * BLOCK
    steps = int(res.n_steps)
    m = {
        "experiment": "fig4",
        "iterations": iterations,
        "steps": steps,
        "simulated_seconds": steps * net0.dt,
        "paper_steps": paper_steps,
        "fraction_of_paper_length": steps / paper_steps,
        "length_note": (f"full paper length ({paper_steps} steps)" if steps >= paper_steps else
                        f"shortened: {steps} of the paper's {paper_steps} steps ({100 * steps / paper_steps:.3g}%)"),
        "before_step": int(s0),
        "error_E_before": ev0["error_E"], "error_E_after": ev1["error_E"],
        "error_I_before": ev0["error_I"], "error_I_after": ev1["error_I"],
        "rate_E_before_hz": ev0["rate_E_hz"], "rate_E_after_hz": ev1["rate_E_hz"],
        "rate_I_before_hz": ev0["rate_I_hz"], "rate_I_after_hz": ev1["rate_I_hz"],
        "v_var_E_before": ev0["v_var_E"], "v_var_E_after": ev1["v_var_E"],
        "v_var_I_before": ev0["v_var_I"], "v_var_I_after": ev1["v_var_I"],
        "fano_before": fc0["fano"], "fano_after": fc1["fano"],
        "cv_before": fc0["cv"], "cv_after": fc1["cv"],
        "error_E_ratio": ev0["error_E"] / ev1["error_E"],
        "error_I_ratio": ev0["error_I"] / ev1["error_I"],
        "min_error_E": float(np.min(curve["error_E"])),
        "min_error_I": float(np.min(curve["error_I"])),
        "decoder_corr_with_F_before": curve["decoder_corr_with_F"][0],
        "decoder_corr_with_F_after": curve["decoder_corr_with_F"][-1],
        "effective_EE_corr_with_minus_FFt_after": curve["effective_EE_corr_with_minus_FFt"][-1],
        "ei_balance_before": bal0,
        "ei_balance_after": bal1,
        "dale_law_holds_all_snapshots": dale_all,
        "acceptance": {
            "errors_fall_5x": bool(ev0["error_E"] >= 5 * ev1["error_E"] and ev0["error_I"] >= 5 * ev1["error_I"]),
            "error_E_falls_5x": bool(ev0["error_E"] >= 5 * ev1["error_E"]),
            "error_I_falls_5x": bool(ev0["error_I"] >= 5 * ev1["error_I"]),
            "rate_E_falls": bool(ev1["rate_E_hz"] < ev0["rate_E_hz"]),
            "fano_rises": bool(fc1["fano"] > fc0["fano"]),
            "cv_rises": bool(fc1["cv"] > fc0["cv"]),
        },
        "learn_seconds": learn_seconds,
        "learn_us_per_step": 1e6 * res.wall_seconds / max(steps, 1),
        "total_spikes_E": res.total_spikes_E,
        "total_spikes_I": res.total_spikes_I,
        "learning_curve": curve,
        "parameters": PARAMS,
        "evaluation": {"decoder_steps": proto.decoder_steps, "decoder_amplitude": proto.decoder_amplitude,
                       "test_steps": proto.test_steps, "n_trials": proto.n_trials, "fano_cv": fp},
    }
    _figures(out, curve=curve, first=first, last=last, s0=s0, s1=s1, cur0=cur0, cur1=cur1, tun0=tun0, tun1=tun1,
             seed=seed, note=m["length_note"])
    m["wall_seconds"] = time.perf_counter() - t0
    m["figures"] = sorted(p.name for p in out.glob("*.png"))
    return m


def _figures(out: Path, *, curve: dict, first: EINetwork, last: EINetwork, s0: int, s1: int, cur0, cur1,
             tun0, tun1, seed: int, note: str) -> None:
    import matplotlib.pyplot as plt

    E_COL, I_COL = "tab:orange", "tab:blue"
    t = np.asarray(curve["time_s"], dtype=float)
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    # (panel, log y, ylabel, [(curve key, colour, label), ...])
    panels = ((0, True, "normalised error", [("error_E", E_COL, "E"), ("error_I", I_COL, "I")]),
              (1, True, "mean rate (Hz)", [("rate_E_hz", E_COL, "E"), ("rate_I_hz", I_COL, "I")]),
              (2, False, "E spike-train variability", [("cv", "0.5", "ISI CV"), ("fano", "k", "Fano factor")]),
              (3, True, "Var(V)", [("v_var_E", E_COL, "E"), ("v_var_I", I_COL, "I")]))
    for i, logy, ylabel, lines in panels:
        ax = axes[i]
        for key, col, label in lines:
            (ax.loglog if logy else ax.semilogx)(t, curve[key], "o-", ms=3, color=col, label=label)
        ax.set_ylabel(ylabel)
        ax.legend()
    axes[2].axhline(1.0, color="0.8", lw=0.8, ls="--")
    for ax in axes:
        ax.set_xlabel("learning time (s)")
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"Fig 4B: EI network learning ({note})", fontsize=10)
    fig.tight_layout()
    save_figure(fig, out / "learning_curves.png")

    # rasters and reconstruction before / after
    T = 3000
    c = smoothed_white_noise(T, first.n_inputs, np.random.default_rng(derive_seed(seed, 10)),
                             amplitude=PARAMS["amplitude"], sigma=PARAMS["sigma"], block=None)
    fig, axes = plt.subplots(3, 2, figsize=(11, 7.5), sharex=True, gridspec_kw={"height_ratios": [2, 1, 1.2]})
    for col, (n, lab, st) in enumerate(((first, "before", s0), (last, "after", s1))):
        rec = simulate_ei(n, c, seed=derive_seed(seed, 11), record=("spikes_E", "spikes_I", "r_E", "r_I"))
        tt = np.arange(T) * n.dt
        te, ne = np.nonzero(rec.spikes_E)
        ti, ni = np.nonzero(rec.spikes_I)
        ax = axes[0, col]
        ax.plot(te * n.dt, ne, "|", color=E_COL, ms=2)
        ax.plot(ti * n.dt, n.n_exc + ni, "|", color=I_COL, ms=2)
        ax.set_ylabel("neuron (E | I)")
        ax.set_title(f"{lab} learning (step {st}): E {rec.mean_rate_E_hz():.1f} Hz, I {rec.mean_rate_I_hz():.1f} Hz",
                     fontsize=9)
        for row, (r, D, colr, name) in enumerate(((rec.r_E, n.D_E, E_COL, "E"), (rec.r_I, n.D_I, I_COL, "I"))):
            ax = axes[1 + row, col]
            ax.plot(tt, rec.x[:, 0], color="purple", lw=1, label="x₁")
            ax.plot(tt, r @ D[0], color=colr, lw=1, label=f"x̂₁ from {name}")
            ax.legend(loc="upper right", fontsize=7)
            ax.set_ylabel("signal 1")
        axes[2, col].set_xlabel("time (s)")
    save_figure(fig, out / "rasters_before_after.png")

    # currents into one E neuron
    fig, axes = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
    for ax, cur, lab in zip(axes, (cur0, cur1), ("before", "after")):
        tt = np.arange(cur.shape[0]) * first.dt
        ax.plot(tt, cur[:, 0], color=E_COL, lw=0.8, label="excitatory")
        ax.plot(tt, cur[:, 1], color=I_COL, lw=0.8, label="inhibitory")
        ax.plot(tt, cur.sum(axis=1), color="k", lw=0.8, label="net")
        ax.set_ylabel("current (thr. units / ms)")
        ax.set_title(f"E/I currents into the most active E neuron, {lab} learning (2 ms low-pass)", fontsize=9)
        ax.legend(loc="upper right", fontsize=7)
    axes[-1].set_xlabel("time (s)")
    save_figure(fig, out / "currents_before_after.png")

    # decoder vs F_E and effective E->E vs -F F^T
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, n, lab in zip(axes[:2], (first, last), ("before", "after")):
        ax.plot(n.F_E.T.ravel(), n.D_E.ravel(), ".", ms=2, color=E_COL)
        ax.set_xlabel("F_E (feed-forward weight)")
        ax.set_ylabel("D_E (decoder weight)")
        ax.set_title(f"{lab}: corr {_corr(n.D_E, n.F_E.T):.2f}", fontsize=9)
    eff = last.W_EE + last.W_IE @ last.W_EI
    G = -(last.F_E @ last.F_E.T)
    off = ~np.eye(last.n_exc, dtype=bool)
    axes[2].plot(G[off][::7], eff[off][::7], ".", ms=1, color="0.3")
    axes[2].set_xlabel("−F_E F_Eᵀ (off-diagonal)")
    axes[2].set_ylabel("W_EE + W_IE W_EI")
    axes[2].set_title(f"effective E→E after: corr {effective_ee_corr(last):.2f}", fontsize=9)
    fig.tight_layout()
    save_figure(fig, out / "decoder_vs_F.png")

    # tuning curves (Fig 4D): most active E and I neurons, third signal clamped to 0
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for ax, tun, lab in zip(axes, (tun0, tun1), ("before", "after")):
        ang, rE, rI = tun
        for i in np.argsort(rE.max(axis=0))[::-1][:12]:
            ax.plot(ang, rE[:, i], color=E_COL, lw=0.9)
        for i in np.argsort(rI.max(axis=0))[::-1][:6]:
            ax.plot(ang, rI[:, i], color=I_COL, lw=0.9)
        ax.set_xlabel("input direction in the (x₁, x₂) plane (deg)")
        ax.set_title(f"tuning curves {lab} (E orange, I blue)", fontsize=9)
        ax.set_ylabel("rate (Hz)")
    save_figure(fig, out / "tuning_curves.png")
