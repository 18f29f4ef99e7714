"""Fig 3: five neurons, two input signals — uncorrelated vs correlated inputs.

The paper has no code for Fig 3; this is built from its text (docs/authors_code.md §8 A5, §9 item 10) with the
Fig 2 parameters: λ = 50 s⁻¹, dt = 1 ms, ε_Ω = 1e-3, ε_F = 1e-4, β = 1/0.9, μ = 0.02/0.9, T = 0.5,
noise 0.001/0.01, input A = 2000 smoothed with σ = 30 ms in 1000-step blocks.

Conditions (same initial network — random unit F, the Fig 2 code's random Ω — and seeds):

* ``uncorrelated``: channels independent (Cov = I); FF rule of the Fig 2 code, ΔF_k = ε(α x − F_k),
  α = 0.18.
* ``correlated``: Cov = [[1, ρ], [ρ, 1]] (ρ = 0.8: high-variance axis (1, 1)/√2, variance ratio
  9:1), trained with the correlated-input FF rule (S1 §12; ``FeedforwardRule(form="correlated")``):
  ΔF_k = ε(x − α_c U_k), U ≈ Cov(x)·F_k estimated online with leak 1 s⁻¹ (a 1 s window; with
  0.2 s⁻¹ Ω drifts away from −F D more often, with 0.02 s⁻¹ learning is unstable).
  α_c = 1/(0.18·σ²_x) (σ²_x the per-channel variance of x), so that for white inputs it has the
  same fixed point as the Fig 2 rule.  The rule's trace is the signal x (the Fig 5 code uses a
  fast trace of the input current; for these inputs both have the same channel covariance up to
  a factor).
* ``correlated_plain_rule`` (control): the correlated input with the uncorrelated-input rule.

Reported per condition: coding error and rate (decoder fitted on 50 s at 0.3·A, 10 × 10 s test
trials at A, all with that condition's input statistics), and how the learnt weights are
arranged relative to the high-variance axis u₁: mean cos²(angle to u₁) of the F rows, of the
decoder columns and of the tuning-curve peaks (0.5 = isotropic, 1 = all on the axis); corr(D, Fᵀ);
distances of Ω to −F D and to −F Fᵀ.

What comes out (see ``tests/test_fig3.py``): with the correlated-input rule the fixed point is
F_k ∝ Cov⁻¹⟨x⟩_k, i.e. the network codes the error in the Cov⁻¹ metric: decoders spread evenly in
whitened coordinates and therefore lean towards the high-variance axis (mean cos² ≈ 0.77 for
perfect whitened spreading, observed 0.5–0.85 as the configuration drifts), while F leans the
other way (≈ 0.27 ideal, observed 0.1–0.4), D ≠ Fᵀ and Ω ≈ −F D but not −F Fᵀ.  With the plain
rule on the same correlated input it is F (the spike-triggered average) that crowds on the
high-variance axis.  The paper's sentence that "feedforward and decoding weights are attracted
towards more frequent stimuli" is therefore reproduced for D (correlated rule) and for F (plain
rule), not for F under the correlated rule.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np

from neuromorph.artifacts import save_figure
from neuromorph.metrics import normalized_error, optimal_decoder, weight_distance
from neuromorph.network import SCN, save_network
from neuromorph.sim.plasticity import FeedforwardRule, RecurrentRule
from neuromorph.progress import progress_bar
from neuromorph.sim.init import SCNParams, code_start
from neuromorph.sim.rng import derive_seed
from neuromorph.sim.signals import correlated_gaussian, leaky_integrate
from neuromorph.sim.simulator import block_noise_source, learn, simulate
from neuromorph.stages.train import tuning_curves
from neuromorph.experiments.options import count_option

BLOCK = 1000
FULL_ITERATIONS = 14_000  # the Fig 2 code's length (1.4e7 steps)
QUICK_ITERATIONS = 2_000
RHO = 0.8

PARAMS = dict(n_neurons=5, n_inputs=2, lam=50.0, dt=1e-3, threshold=0.5, v_noise=0.001, t_noise=0.01,
              lr_rec=1e-3, lr_ff=1e-4, alpha=0.18, beta=1 / 0.9, mu=0.02 / 0.9, amplitude=2000.0, sigma=30.0,
              rho=RHO, cov_leak=1.0)

CONDITIONS = ("uncorrelated", "correlated", "correlated_plain_rule")


def input_cov(condition: str, rho: float = RHO) -> Optional[np.ndarray]:
    """Channel covariance of the input current (None = independent channels)."""
    return None if condition == "uncorrelated" else np.array([[1.0, rho], [rho, 1.0]])


def high_variance_axis(cov: Optional[np.ndarray]) -> np.ndarray:
    """Unit eigenvector of the largest eigenvalue (for Cov = I: (1, 1)/√2, to compare alike)."""
    if cov is None:
        return np.array([1.0, 1.0]) / np.sqrt(2)
    w, v = np.linalg.eigh(cov)
    return v[:, np.argmax(w)]


def signal_variance(seed: int, n_steps: int = 200_000) -> float:
    """Per-channel variance σ²_x of the signal x for independent channels (units of x²)."""
    p = PARAMS
    c = block_noise_source(2, seed, amplitude=p["amplitude"], sigma=p["sigma"], block=BLOCK)(0, n_steps)
    return float(leaky_integrate(c, p["lam"], p["dt"]).var(axis=0).mean())


def rules_for(condition: str, sigma2_x: float) -> tuple:
    p = PARAMS
    rec = RecurrentRule(lr=p["lr_rec"], beta=p["beta"], mu=p["mu"])
    if condition == "correlated":
        ff = FeedforwardRule(lr=p["lr_ff"], alpha=1.0 / (p["alpha"] * sigma2_x), form="correlated",
                             cov_leak=p["cov_leak"])
    else:
        ff = FeedforwardRule(lr=p["lr_ff"], alpha=p["alpha"], form="code")
    return rec, ff


def initial_network(seed: int) -> SCN:
    """Five neurons: random unit F rows, Ω off-diagonal U[−0.2, 0], diagonal −0.5 − U[0, 0.2]."""
    p = PARAMS
    neuron = SCNParams(lam=p["lam"], dt=p["dt"], threshold=p["threshold"], v_noise=p["v_noise"], t_noise=p["t_noise"])
    return code_start(derive_seed(seed, 2), p["n_neurons"], p["n_inputs"], neuron, meta={"experiment": "fig3"})


def alignment(vectors: np.ndarray, axis: np.ndarray) -> float:
    """Mean cos² of the angle between each row of ``vectors`` (K, 2) and ``axis`` (0.5 = isotropic)."""
    v = np.asarray(vectors, dtype=np.float64)
    norm = np.linalg.norm(v, axis=1)
    v = v[norm > 0] / norm[norm > 0, None]  # a silent neuron's decoder is 0: no direction
    return float(np.mean((v @ axis) ** 2)) if v.size else float("nan")


def evaluate_condition(net: SCN, cov: Optional[np.ndarray], seed: int, decoder_steps: int = 50_000,
                       test_steps: int = 10_000, n_trials: int = 10) -> dict:
    """Fig 2 protocol with this condition's input statistics: decoder from one ``decoder_steps``
    sequence at 0.3·A, then ``n_trials`` test sequences at A (smoothed noise mixed to ``cov``, no
    blocks).  Returns error (normalised error variance), rate_hz, D (M, N)."""
    p = PARAMS
    cv = np.eye(2) if cov is None else cov
    c = correlated_gaussian(decoder_steps, cv, np.random.default_rng(derive_seed(seed, 1)),
                            amplitude=0.3 * p["amplitude"], sigma=p["sigma"], block=None)
    rec = simulate(net, c, seed=derive_seed(seed, 2), record=("r",))
    D = optimal_decoder(rec.r, rec.x)
    errs, rates = [], []
    g = np.random.default_rng(derive_seed(seed, 3))
    for _ in range(n_trials):
        c = correlated_gaussian(test_steps, cv, g, amplitude=p["amplitude"], sigma=p["sigma"], block=None)
        rec = simulate(net, c, seed=g, record=("r",))
        errs.append(normalized_error(rec.x, rec.r @ D.T))
        rates.append(rec.mean_rate_hz())
    return {"error": float(np.mean(errs)), "rate_hz": float(np.mean(rates)), "D": D}


def preferred_directions(angles_deg: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Unit vectors (N, 2) of each neuron's rate-weighted circular mean direction."""
    th = np.radians(angles_deg)
    v = np.stack([rates.T @ np.cos(th), rates.T @ np.sin(th)], axis=1)
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return np.where(norm > 0, v / np.where(norm > 0, norm, 1), np.nan)


def structure(net: SCN, D: np.ndarray, axis: np.ndarray, tuning: Optional[tuple] = None) -> dict:
    """Arrangement statistics of F (N, 2), D (2, N) and Ω relative to the high-variance axis."""
    F, Om = net.F, net.Omega
    Fn = F / np.linalg.norm(F, axis=1, keepdims=True)
    dn = np.linalg.norm(D.T, axis=1, keepdims=True)
    Dn = D.T / np.where(dn > 0, dn, np.nan)
    out = {"F_alignment": alignment(F, axis), "D_alignment": alignment(D.T, axis),
           "corr_D_Ft": float(np.corrcoef(D.ravel(), F.T.ravel())[0, 1]),
           "mean_angle_F_D_deg": float(np.nanmean(np.degrees(np.arccos(np.clip(np.sum(Fn * Dn, axis=1), -1, 1))))),
           "omega_distance_to_minus_FD": weight_distance(Om, -(F @ D)),
           "omega_distance_to_minus_FFt": weight_distance(Om, -(F @ F.T)),
           "F_norm_mean": float(np.linalg.norm(F, axis=1).mean()),
           "F_angles_deg": np.degrees(np.arctan2(F[:, 1], F[:, 0])).tolist(),
           "D_angles_deg": np.degrees(np.arctan2(D[1], D[0])).tolist()}
    if tuning is not None:
        pref = preferred_directions(*tuning)
        ok = np.all(np.isfinite(pref), axis=1)
        out["tuning_peak_alignment"] = alignment(pref[ok], axis) if ok.any() else float("nan")
    return out


def train(condition: str, seed: int, iterations: int, progress: bool = False, sigma2_x: Optional[float] = None,
          rho: float = RHO) -> tuple:
    """Learn one condition; returns (initial net, LearnResult, cov, α_c-reference σ²_x)."""
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}, got {condition!r}")
    p = PARAMS
    s2 = signal_variance(derive_seed(seed, 7)) if sigma2_x is None else sigma2_x
    net0 = initial_network(seed)
    cov = input_cov(condition, rho)
    n_steps = int(iterations) * BLOCK
    src = block_noise_source(2, derive_seed(seed, 1), amplitude=p["amplitude"], sigma=p["sigma"], block=BLOCK,
                             cov=cov)
    snaps = [s for s in (2 ** k for k in range(1, 40)) if s <= n_steps]
    with progress_bar(n_steps, f"fig3 {condition}", progress) as upd:
        res = learn(net0, src, n_steps, rules=rules_for(condition, s2), seed=derive_seed(seed, 3),
                    snapshot_steps=snaps, chunk=1_000_000, progress=upd)
    return net0, res, cov, s2


def run(out: Path, *, seed: int = 0, iterations: Optional[int] = None, quick: bool = False,
        progress: bool = True) -> dict:
    """Train the three conditions, evaluate, write figures/networks; return the metrics dict."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    iterations = count_option("iterations", iterations, QUICK_ITERATIONS if quick else FULL_ITERATIONS,
                              f"{BLOCK}-step blocks")
    t0 = time.perf_counter()
    s2 = signal_variance(derive_seed(seed, 7))
    n_trials = 5 if quick else 10
    results: dict = {}
    figdata: dict = {}
    for cond in CONDITIONS:
        net0, res, cov, _ = train(cond, seed, iterations, progress, sigma2_x=s2)
        axis = high_variance_axis(input_cov("correlated"))
        final = res.network
        ev0 = evaluate_condition(net0, cov, derive_seed(seed, 4), n_trials=n_trials)
        ev1 = evaluate_condition(final, cov, derive_seed(seed, 4), n_trials=n_trials)
        tun0 = tuning_curves(net0, derive_seed(seed, 5))
        tun1 = tuning_curves(final, derive_seed(seed, 5))
        st0 = structure(net0, ev0["D"], axis, tun0)
        st1 = structure(final, ev1["D"], axis, tun1)
        curve = {"time_s": [s * net0.dt for s, _, _ in res.snapshots],
                 "F_alignment": [alignment(F, axis) for _, F, _ in res.snapshots]}
        final.D = ev1["D"]
        save_network(final, out / f"network_{cond}.npz")
        results[cond] = {"error_before": ev0["error"], "error_after": ev1["error"],
                         "rate_before_hz": ev0["rate_hz"], "rate_after_hz": ev1["rate_hz"],
                         "before": st0, "after": st1, "F_alignment_curve": curve,
                         "input_cov": None if cov is None else cov.tolist(),
                         "ff_rule": "correlated (S1 §12)" if cond == "correlated" else "Fig 2 code form"}
        figdata[cond] = (net0, ev0["D"], tun0, final, ev1["D"], tun1, cov)
    unc, cor, ctl = (results[c]["after"] for c in CONDITIONS)
    m = {
        "experiment": "fig3",
        "iterations": iterations,
        "steps": iterations * BLOCK,
        "simulated_seconds": iterations * BLOCK * PARAMS["dt"],
        "high_variance_axis": high_variance_axis(input_cov("correlated")).tolist(),
        "sigma2_x": s2,
        "alpha_correlated_rule": 1.0 / (PARAMS["alpha"] * s2),
        "conditions": results,
        "summary": {
            "F_alignment": {c: results[c]["after"]["F_alignment"] for c in CONDITIONS},
            "D_alignment": {c: results[c]["after"]["D_alignment"] for c in CONDITIONS},
            "tuning_peak_alignment": {c: results[c]["after"].get("tuning_peak_alignment") for c in CONDITIONS},
            "corr_D_Ft": {c: results[c]["after"]["corr_D_Ft"] for c in CONDITIONS},
            "error_after": {c: results[c]["error_after"] for c in CONDITIONS},
            "rate_after_hz": {c: results[c]["rate_after_hz"] for c in CONDITIONS},
            "decoders_crowd_on_high_variance_axis": bool(cor["D_alignment"] > unc["D_alignment"]),
            "F_crowds_on_high_variance_axis_correlated_rule": bool(cor["F_alignment"] > unc["F_alignment"]),
            "F_crowds_on_high_variance_axis_plain_rule": bool(ctl["F_alignment"] > unc["F_alignment"]),
            "D_differs_from_Ft_correlated": bool(cor["corr_D_Ft"] < unc["corr_D_Ft"]),
            "omega_closer_to_minus_FD_than_minus_FFt_correlated": bool(
                cor["omega_distance_to_minus_FD"] < cor["omega_distance_to_minus_FFt"]),
        },
        "parameters": PARAMS,
    }
    _figures(out, figdata, high_variance_axis(input_cov("correlated")), results)
    m["wall_seconds"] = time.perf_counter() - t0
    m["figures"] = sorted(p.name for p in out.glob("*.png"))
    return m


def _figures(out: Path, figdata: dict, axis: np.ndarray, results: dict) -> None:
    import matplotlib.pyplot as plt

    colors = [f"C{i}" for i in range(10)]
    # weight arrangement (Fig 3A/C): F (solid) and D (dashed, scaled) over the signal cloud
    fig, axes = plt.subplots(2, 3, figsize=(12, 8))
    for col, cond in enumerate(CONDITIONS):
        net0, D0, _, net1, D1, _, cov = figdata[cond]
        c = correlated_gaussian(20_000, np.eye(2) if cov is None else cov, np.random.default_rng(0))
        x = leaky_integrate(c, net0.lam, net0.dt)[::10]
        for row, (n, D, lab) in enumerate(((net0, D0, "before"), (net1, D1, "after"))):
            ax = axes[row, col]
            s = 1.0 / np.abs(x).max()
            ax.plot(x[:, 0] * s * 1.4, x[:, 1] * s * 1.4, ".", ms=1, color="0.85", zorder=0)
            for i, (f, d) in enumerate(zip(n.F, D.T)):
                ax.annotate("", xy=f, xytext=(0, 0), arrowprops=dict(arrowstyle="-|>", color=colors[i], lw=1.6))
                if not np.linalg.norm(d) > 0:
                    continue  # silent neuron: no decoder direction
                dn = d / np.linalg.norm(d) * np.linalg.norm(f)
                ax.annotate("", xy=dn, xytext=(0, 0),
                            arrowprops=dict(arrowstyle="-|>", color=colors[i], lw=1.0, ls="--"))
            ax.plot(*(np.outer([-1.5, 1.5], axis).T), color="purple", lw=0.6, ls=":")
            ax.set_xlim(-1.5, 1.5)
            ax.set_ylim(-1.5, 1.5)
            ax.set_aspect("equal")
            st = results[cond][lab]
            ax.set_title(f"{cond} {lab}\nalign F {st['F_alignment']:.2f}, D {st['D_alignment']:.2f}", fontsize=9)
    fig.suptitle("F (solid) and decoder directions (dashed, scaled to |F|); grey: signal samples; "
                 "dotted: high-variance axis of the correlated input", fontsize=9)
    fig.tight_layout()
    save_figure(fig, out / "weights_arrangement.png")

    # tuning curves (Fig 3B/D) with F directions as markers
    fig, axes = plt.subplots(2, 3, figsize=(13, 6), sharex=True)
    ax_deg = np.degrees(np.arctan2(axis[1], axis[0]))
    for col, cond in enumerate(CONDITIONS):
        net0, _, tun0, net1, _, tun1, _ = figdata[cond]
        for row, (n, tun, lab) in enumerate(((net0, tun0, "before"), (net1, tun1, "after"))):
            ax = axes[row, col]
            ang, rates = tun
            for i in range(n.n_neurons):
                ax.plot(ang, rates[:, i], color=colors[i], lw=1.2)
                fa = np.degrees(np.arctan2(n.F[i, 1], n.F[i, 0])) % 360
                ax.axvline(fa, color=colors[i], lw=0.8, ls="--")
            for a in (ax_deg % 360, (ax_deg + 180) % 360):
                ax.axvline(a, color="purple", lw=0.6, ls=":")
            ax.set_title(f"{cond} {lab}", fontsize=9)
            if col == 0:
                ax.set_ylabel("rate (Hz)")
        axes[1, col].set_xlabel("signal direction (deg)")
    fig.suptitle("tuning curves (|x| = 3); dashed: F directions; dotted: high-variance axis", fontsize=9)
    fig.tight_layout()
    save_figure(fig, out / "tuning_curves.png")

    # recurrent structure: Ω vs −F D and vs −F Fᵀ after learning
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, cond in zip(axes, CONDITIONS):
        _, _, _, n, D, _, _ = figdata[cond]
        ax.plot(-(n.F @ D).ravel(), n.Omega.ravel(), "o", ms=3, label="vs −F D")
        ax.plot(-(n.F @ n.F.T).ravel(), n.Omega.ravel(), "x", ms=3, label="vs −F Fᵀ")
        st = results[cond]["after"]
        ax.set_title(f"{cond}: dist −FD {st['omega_distance_to_minus_FD']:.3f}, "
                     f"−FFᵀ {st['omega_distance_to_minus_FFt']:.3f}", fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("learnt Ω")
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "recurrent_structure.png")

    fig, ax = plt.subplots(figsize=(5, 3.4))
    for cond in CONDITIONS:
        cur = results[cond]["F_alignment_curve"]
        ax.semilogx(cur["time_s"], cur["F_alignment"], "o-", ms=3, label=cond)
    ax.axhline(0.5, color="0.7", ls="--", lw=0.8)
    ax.set_xlabel("learning time (s)")
    ax.set_ylabel("F alignment with high-variance axis (mean cos²)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "alignment_over_learning.png")
