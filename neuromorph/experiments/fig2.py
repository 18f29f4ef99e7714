"""Fig 2: 20 neurons learn to represent two smoothed white-noise signals.

Parameters are the paper's (and the authors' code's): λ = 50 s⁻¹, dt = 1 ms, ε_Ω = 1e-3,
ε_F = 1e-4, α = 0.18 (code placement), β = 1/0.9, μ = 0.02/0.9, T = 0.5, voltage/threshold
noise 0.001/0.01, input amplitude 2000 with σ = 30 ms smoothing in 1000-step blocks.
Initial condition ``init="paper"`` (default): lopsided F (no neuron with a positive weight on
signal 1), zero lateral Ω with −0.5 self-resets — the paper's Fig 2 storyline.  ``init="code"``:
the authors' script's isotropic unit F and Ω ~ U[−0.2, 0] (diagonal −0.5 − U[0, 0.2]).

Evaluation (docs/authors_code.md §2.5): at exponentially spaced snapshots (steps 2, 4, …, 2^j) and on the
final weights: decoder fitted on 50 s at 0.3·A, error/rate/Var(V) on test trials at A; weight
distance to −F Fᵀ.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np

from neuromorph.sim.evaluation import EvalProtocol, evaluate
from neuromorph.metrics import angular_gaps_deg, predicted_recurrent, weight_distance
from neuromorph.network import SCN, save_network
from neuromorph.sim.plasticity import FeedforwardRule, RecurrentRule
from neuromorph.progress import progress_bar
from neuromorph.sim.rng import derive_seed
from neuromorph.sim.simulator import block_noise_source, learn, simulate
from neuromorph.experiments.options import count_option

BLOCK = 1000
FULL_ITERATIONS = 14_000
QUICK_ITERATIONS = 300

PARAMS = dict(n_neurons=20, n_inputs=2, lam=50.0, dt=1e-3, threshold=0.5, v_noise=0.001, t_noise=0.01,
              lr_rec=1e-3, lr_ff=1e-4, alpha=0.18, beta=1 / 0.9, mu=0.02 / 0.9, amplitude=2000.0, sigma=30.0)


def initial_network(seed: int, init: str = "paper", n_neurons: int = 20, n_inputs: int = 2) -> SCN:
    """The Fig 2 starting network (see module docstring for ``init``)."""
    rng = np.random.default_rng(derive_seed(seed, 2))
    F = rng.standard_normal((n_neurons, n_inputs))
    if init == "paper":
        F[:, 0] = -np.abs(F[:, 0])
        Om = -0.5 * np.eye(n_neurons)
    elif init == "code":
        Om = -0.2 * rng.random((n_neurons, n_neurons))
        Om[np.diag_indices(n_neurons)] -= 0.5
    else:
        raise ValueError(f"init must be 'paper' or 'code', got {init!r}")
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    p = PARAMS
    return SCN(F=F, Omega=Om, D=np.zeros((n_inputs, n_neurons)), thresholds=p["threshold"], lam=p["lam"],
               dt=p["dt"], v_noise=p["v_noise"], t_noise=p["t_noise"], meta={"experiment": "fig2", "init": init})


def default_rules() -> tuple:
    p = PARAMS
    return (RecurrentRule(lr=p["lr_rec"], beta=p["beta"], mu=p["mu"]),
            FeedforwardRule(lr=p["lr_ff"], alpha=p["alpha"], form="code"))


def snapshot_schedule(n_steps: int) -> list:
    """Steps 2, 4, 8, …, 2^J ≤ n_steps (the reference's snapshot times)."""
    out, s = [], 2
    while s <= n_steps:
        out.append(s)
        s *= 2
    return out


def train(seed: int, iterations: int, init: str = "paper", progress: bool = True,
          rules: Optional[tuple] = None) -> tuple:
    """Learn the Fig 2 network; returns (initial net, LearnResult)."""
    net0 = initial_network(seed, init)
    n_steps = iterations * BLOCK
    src = block_noise_source(net0.n_inputs, derive_seed(seed, 1),
                             amplitude=PARAMS["amplitude"], sigma=PARAMS["sigma"], block=BLOCK)
    with progress_bar(n_steps, "fig2 learning", progress) as upd:
        res = learn(net0, src, n_steps, rules=rules or default_rules(), seed=derive_seed(seed, 3),
                    snapshot_steps=snapshot_schedule(n_steps), progress=upd)
    return net0, res


def tuning_curves(net: SCN, seed: int, n_angles: int = 36, magnitude: float = 3.0, steps: int = 1000) -> tuple:
    """Firing rate (Hz) of each neuron for constant signals x = magnitude·(cos θ, sin θ).

    Returns (angles in degrees (A,), rates (A, N)).  The input current holding x constant is λx.
    """
    angles = np.linspace(0, 360, n_angles, endpoint=False)
    rates = np.zeros((n_angles, net.n_neurons))
    g = np.random.default_rng(seed)
    for a, th in enumerate(np.radians(angles)):
        x = magnitude * np.array([np.cos(th), np.sin(th)])
        c = np.tile(net.lam * x, (steps, 1))
        c[0] = x / net.dt  # start at x rather than integrating up to it
        rec = simulate(net, c, seed=g, record=())
        rates[a] = rec.counts / (steps * net.dt)
    return angles, rates


def run(out: Path, *, seed: int = 0, iterations: Optional[int] = None, quick: bool = False,
        progress: bool = True, init: str = "paper", protocol: Optional[EvalProtocol] = None) -> dict:
    """Learn, evaluate over learning, write figures and the network files; return the metrics."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    iterations = count_option("iterations", iterations, QUICK_ITERATIONS if quick else FULL_ITERATIONS,
                              f"{BLOCK}-step blocks")
    t0 = time.perf_counter()
    net0, res = train(seed, iterations, init, progress)
    learn_seconds = time.perf_counter() - t0
    proto = protocol or EvalProtocol(n_trials=(3 if quick else 10))
    curve = {"time_s": [], "step": [], "error": [], "rate_hz": [], "v_var": [], "weight_distance": []}
    evals = []
    snaps = list(res.snapshots) + [(res.n_steps, res.network.F, res.network.Omega)]
    with progress_bar(len(snaps), "fig2 evaluation", progress, unit="snapshot") as upd:
        for step, F, Om in snaps:
            net = SCN(F=F, Omega=Om, D=np.zeros_like(net0.D), thresholds=net0.thresholds, lam=net0.lam, dt=net0.dt,
                      v_noise=net0.v_noise, t_noise=net0.t_noise)
            ev = evaluate(net, seed=derive_seed(seed, 4), protocol=proto)
            evals.append((step, net, ev))
            curve["time_s"].append(step * net0.dt)
            curve["step"].append(int(step))
            curve["error"].append(ev["error"])
            curve["rate_hz"].append(ev["rate_hz"])
            curve["v_var"].append(ev["v_var"])
            curve["weight_distance"].append(weight_distance(Om, predicted_recurrent(F)))
            upd(1)
    first, last = evals[0], evals[-1]
    final = res.network
    final.D = last[2]["D"]
    initial = first[1]
    initial.D = first[2]["D"]
    save_network(final, out / "network.npz")
    save_network(initial, out / "network_initial.npz")
    gaps = angular_gaps_deg(final.F)
    Gs = -(final.F @ final.F.T)
    off = ~np.eye(final.n_neurons, dtype=bool)
    metrics = {
        "experiment": "fig2",
        "init": init,
        "iterations": iterations,
        "steps": int(res.n_steps),
        "simulated_seconds": res.n_steps * net0.dt,
        "error_before": first[2]["error"],
        "error_after": last[2]["error"],
        "rate_before_hz": first[2]["rate_hz"],
        "rate_after_hz": last[2]["rate_hz"],
        "v_var_before": first[2]["v_var"],
        "v_var_after": last[2]["v_var"],
        "weight_distance_before": curve["weight_distance"][0],
        "weight_distance": curve["weight_distance"][-1],
        "omega_offdiag_corr_with_minus_FFt": float(np.corrcoef(final.Omega[off], Gs[off])[0, 1]),
        "decoder_corr_with_F": float(np.corrcoef(final.D.ravel(), final.F.T.ravel())[0, 1]),
        "max_angular_gap_deg": float(gaps.max()),
        "neurons_with_positive_F1": int((final.F[:, 0] > 0).sum()),
        "learn_seconds": learn_seconds,
        "wall_seconds": time.perf_counter() - t0,
        "learning_curve": curve,
        "parameters": PARAMS,
        "evaluation": {"decoder_steps": proto.decoder_steps, "decoder_amplitude": proto.decoder_amplitude,
                       "test_steps": proto.test_steps, "n_trials": proto.n_trials},
    }
    from neuromorph.experiments.figures import fig2_figures

    fig2_figures(out, net0=initial, net=final, curve=curve, seed=seed, tuning=tuning_curves)
    metrics["wall_seconds"] = time.perf_counter() - t0
    metrics["figures"] = sorted(p.name for p in out.glob("*.png"))
    return metrics
