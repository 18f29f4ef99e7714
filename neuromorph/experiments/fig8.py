r"""Fig 8: lesion of similarly tuned E neurons, then retraining with some plasticity blocked.

The paper (Brendel et al. 2020, Fig 8; docs/authors_code.md §8 A7): an EI network of 80 E and 40 I
neurons learns two uncorrelated inputs; the E neurons whose decoders point "leftward" are
killed; then (B) no plasticity, (C) 1000 s of retraining of all weights, (D) retraining of the
recurrent weights only (E→E, E→I, I→E, I→I; the input weights as in B), (E) retraining of the
input (feed-forward, X→E) weights only.  Predictions: the lesion raises the rates of the
surviving neurons and their tuning curves widen/shift toward the hole, coding is kept but
inefficiently (B); recurrent plasticity recovers most of the efficiency (D), full plasticity
also re-covers the input space (C); feed-forward plasticity alone makes things worse — higher
rates and larger errors than no retraining (E).

Model: the Fig 7 EI network (:mod:`neuromorph.experiments.fig7`: the Fig 4 code's kernel and
rules, dt = 0.1 ms, 1 ms refractoriness, E self-reset −0.5 = reset to rest, 5 Hz E rate through
a homeostatic input gain during pre-training).  Schedule:

1. pre-training, phase 1 (``pretrain_fast_s``, default 400 s): ε_Ω = ε_F = 1e-3, input gain
   adapting — the feed-forward weights reach their fixed point F_i = ⟨input trace⟩ at spikes
   (with the paper's slower ε_F this alone would take hours of simulated time);
2. pre-training, phase 2 (``pretrain_s``, 400 s): ε_Ω = 1e-3, ε_F = 1e-4 (feed-forward 10×
   slower than recurrent, the paper's premise), gain adapting; then the input amplitude is frozen
   for everything that follows (the lesion must not be compensated by the input);
3. lesion: decoders D_E of the intact network (least squares, 16 × 2 s); every E neuron whose
   decoder direction lies within ±``lesion_halfwidth_deg`` (45°) of 180° (the −x₁ axis,
   "leftward") is removed (rows/columns deleted: it never fires again);
4. four conditions from the same lesioned network, each retrained for ``retrain_s`` (1000 s)
   on the same input stream with ε_Ω = 1e-3, ε_F = 1e-4 and the pathway switches of
   :class:`~neuromorph.sim.plasticity.EIRules`: ``none`` (no retraining), ``full``, ``recurrent_only``
   (``ff_XE`` off), ``feedforward_only`` (only ``ff_XE`` on);
5. control (not in the paper): the *intact* network retrained with full plasticity for as long —
   learning has not reached a steady state at a frozen input amplitude (rates keep falling slowly),
   so this shows the drift that retraining causes without any lesion.

Evaluation (every network, same input amplitude): Fig 7's protocol (decoders refitted — the
paper's "optimal decoding weights" — errors and rates of E and I on 16 × 2 s test trials);
efficiency = the error at the input amplitude where the network fires at the intact network's E
rate (:func:`error_at_rate`; the paper's "inefficient" = more spikes for the same precision);
tuning curves (rates for constant inputs of the typical signal magnitude in 24 directions) and
the static decoding error per direction, summarised over the lesioned sector; the number of
surviving E neurons whose F / decoder direction falls in the lesioned sector.

Repetitions: the full protocol runs 10 times (seeds ``seed … seed+9``: new network, lesion and
input stream each time; ``workers`` runs them in parallel).  The predictions are checked on the
geometric means over repetitions, with the per-seed outcomes next to them, and every pair of
conditions is compared paired by seed with a 95 % confidence interval
(:func:`paired_comparisons`).  One repetition is not enough: the difference between "recurrent
only" and "none" at a matched rate is −7 … +55 % depending on the seed, the rare self-sustained
bursts of the lesioned networks (Fig 7's ``burst_fraction``) move a single seed's numbers by as
much, and re-evaluating one network on other test signals (32 trials) moves its matched-rate
error by 10–30 %.  Five seeds did not resolve the gain of recurrent-only retraining (ratio to no
retraining 0.70, 95 % CI 0.40–1.21, 3/5 seeds); ten do (seeds 0–9: 0.72, CI 0.57–0.90, 8/10;
full retraining 0.67, CI 0.50–0.91, 9/10; feed-forward-only 7.3×, CI 5.3–10.2, worse in 10/10).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np

from neuromorph.artifacts import save_figure
from neuromorph.sim.ei_simulator import learn_ei, simulate_ei
from neuromorph.network import EINetwork, save_network
from neuromorph.sim.plasticity import EIRules
from neuromorph.parallel import map_in_processes
from neuromorph.progress import progress_bar
from neuromorph.sim.rng import derive_seed
from neuromorph.sim.signals import leaky_integrate, smoothed_white_noise
from neuromorph.sim.simulator import block_noise_source
from neuromorph.experiments import fig7
from neuromorph.experiments.options import count_option

PARAMS = dict(n_exc=80, n_inh=40, n_inputs=2, pretrain_fast_s=400.0, pretrain_s=400.0, retrain_s=1000.0,
              lr_rec=1e-3, lr_ff=1e-4, lr_ff_fast=1e-3, target_rate_E_hz=fig7.TARGET_RATE_E,
              lesion_center_deg=180.0, lesion_halfwidth_deg=45.0, eval_trials=16, eval_steps=20_000,
              tuning_angles=24, tuning_steps=4000, repetitions=10)
QUICK = dict(pretrain_fast_s=150.0, pretrain_s=100.0, retrain_s=300.0, eval_trials=8, eval_steps=10_000,
             repetitions=1)
CONDITIONS = ("none", "full", "recurrent_only", "feedforward_only")


def condition_rules(name: str) -> Optional[EIRules]:
    """Plasticity of each retraining condition (None = no retraining)."""
    p = PARAMS
    base = dict(lr_ff=p["lr_ff"], lr_rec=p["lr_rec"], mu=fig7.PARAMS["mu"],
                ff_trace_leak_factor=fig7.PARAMS["ff_trace_leak_factor"])
    if name == "none":
        return None
    if name == "full":
        return EIRules(**base)
    if name == "recurrent_only":
        return EIRules(**base, ff_XE=False)
    if name == "feedforward_only":
        return EIRules(**base, ff_EI=False, rec_EE=False, rec_IE=False, rec_II=False)
    raise ValueError(f"unknown condition {name!r}; choose from {CONDITIONS}")


def pretrain(seed: int, fast_steps: int, slow_steps: int, progress: bool = False) -> fig7.TrainResult:
    """Phases 1 and 2 of the module docstring; returns the trained network and frozen amplitude."""
    p = PARAMS
    net, _ = fig7.ei_network(p["n_inh"], seed)
    with progress_bar(fast_steps + slow_steps, "fig8 pre-training", progress) as upd:
        r1 = fig7.train_ei(net, fast_steps, derive_seed(seed, 40), progress=upd,
                           rules=EIRules(lr_ff=p["lr_ff_fast"], lr_rec=p["lr_rec"], mu=fig7.PARAMS["mu"]))
        r2 = fig7.train_ei(r1.network, slow_steps, derive_seed(seed, 41), amplitude=r1.amplitude, progress=upd,
                           rules=condition_rules("full"))
    r2.gain_history = r1.gain_history + [(fast_steps + s, a, r) for s, a, r in r2.gain_history]
    r2.wall_seconds += r1.wall_seconds
    r2.n_steps = fast_steps + slow_steps
    return r2


def directions_deg(V: np.ndarray) -> np.ndarray:
    """Angle (degrees, [0, 360)) of each column of a (2, N) matrix or row of an (N, 2) one."""
    V = np.asarray(V)
    if V.shape[0] == 2 and V.ndim == 2 and V.shape[1] != 2:
        V = V.T
    return np.degrees(np.arctan2(V[:, 1], V[:, 0])) % 360.0


def in_sector(angles: np.ndarray, center: float, halfwidth: float) -> np.ndarray:
    d = (np.asarray(angles) - center + 180.0) % 360.0 - 180.0
    return np.abs(d) <= halfwidth


def lesion(net: EINetwork, keep: np.ndarray) -> EINetwork:
    """Remove the E neurons where ``keep`` is False (rows and columns deleted)."""
    keep = np.asarray(keep, dtype=bool)
    out = EINetwork(F_E=net.F_E[keep], W_EE=net.W_EE[np.ix_(keep, keep)], W_EI=net.W_EI[:, keep],
                    W_IE=net.W_IE[keep], W_II=net.W_II, D_E=net.D_E[:, keep], D_I=net.D_I, T_E=net.T_E[keep],
                    T_I=net.T_I, lam=net.lam, dt=net.dt, v_noise_E=net.v_noise_E, v_noise_I=net.v_noise_I,
                    t_noise=net.t_noise, refractory=net.refractory, e_self_reset=net.e_self_reset,
                    meta=dict(net.meta))
    out.meta["lesioned_E"] = int((~keep).sum())
    return out


def decoders(net: EINetwork, amplitude: float, seed: int, trials: int = 16, steps: int = 20_000) -> tuple:
    """Least-squares decoders (D_E, D_I) from ``trials`` runs on one smoothed-noise signal."""
    c = smoothed_white_noise(steps, net.n_inputs, np.random.default_rng(derive_seed(seed, 51)),
                             amplitude=amplitude, sigma=fig7.PARAMS["sigma"], block=None)
    g = np.random.default_rng(derive_seed(seed, 52))
    lE, lI = fig7._LSQ(), fig7._LSQ()
    for _ in range(trials):
        rec = simulate_ei(net, c, seed=g, record=("r_E", "r_I"))
        lE.add(rec.r_E, rec.x)
        lI.add(rec.r_I, rec.x)
    return lE.decoder(), lI.decoder()


def signal_magnitude(amplitude: float, seed: int, steps: int = 50_000) -> float:
    """RMS of |x| for the test signal at ``amplitude`` (the tuning-curve stimulus size)."""
    c = smoothed_white_noise(steps, 2, np.random.default_rng(seed), amplitude=amplitude, sigma=fig7.PARAMS["sigma"],
                             block=None)
    x = leaky_integrate(c, fig7.PARAMS["lam"], fig7.PARAMS["dt"])[steps // 10:]
    return float(np.sqrt(np.mean(np.sum(x ** 2, axis=1))))


def tuning(net: EINetwork, D_E: np.ndarray, magnitude: float, seed: int, n_angles: int = 24,
           steps: int = 3000, settle: int = 1000) -> dict:
    """Rates (Hz) of E and I neurons and the static decoding error for constant inputs
    x = magnitude·(cos θ, sin θ).  Returns angles (A,), rates_E (A, N_E), rates_I (A, N_I),
    error (A,) = ‖⟨D_E r_E⟩ − x‖² / magnitude² over the steps after ``settle``."""
    angles = np.arange(n_angles) * 360.0 / n_angles
    g = np.random.default_rng(seed)
    rE = np.zeros((n_angles, net.n_exc))
    rI = np.zeros((n_angles, net.n_inh))
    err = np.zeros(n_angles)
    for i, th in enumerate(np.radians(angles)):
        x = magnitude * np.array([np.cos(th), np.sin(th)])
        c = np.tile(net.lam * x, (steps, 1))  # x rises from 0 to its value with τ = 1/λ (no kick)
        rec = simulate_ei(net, c, seed=g, record=("spikes_E", "spikes_I", "r_E"))
        dur = (steps - settle) * net.dt
        rE[i] = rec.spikes_E[settle:].sum(axis=0) / dur
        rI[i] = rec.spikes_I[settle:].sum(axis=0) / dur
        xh = (rec.r_E[settle:] @ D_E.T).mean(axis=0)
        err[i] = float(np.sum((xh - x) ** 2) / magnitude ** 2)
    return {"angles": angles, "rates_E": rE, "rates_I": rI, "error": err}


def assess(net: EINetwork, amplitude: float, seed: int, magnitude: float, *, trials: int, steps: int,
           n_angles: int, tuning_steps: int, match_rate: Optional[float] = None) -> dict:
    """All numbers of one network (see module docstring).  ``match_rate``: also measure the error
    at the input amplitude where this network's E rate equals ``match_rate`` (efficiency)."""
    p = PARAMS
    sim = fig7.ei_simulator(net)
    ev = fig7.evaluate(sim, amplitude, derive_seed(seed, 60), trials=trials, steps=steps,
                       poisson=False, pops=("E", "I"))
    D_E, D_I = decoders(net, amplitude, derive_seed(seed, 61), trials=trials, steps=steps)
    tun = tuning(net, D_E, magnitude, derive_seed(seed, 62), n_angles=n_angles, steps=tuning_steps)
    sector = in_sector(tun["angles"], p["lesion_center_deg"], p["lesion_halfwidth_deg"])
    popE = tun["rates_E"].sum(axis=1) / max(net.n_exc, 1)
    f_dir = directions_deg(net.F_E)
    d_dir = directions_deg(D_E)
    out = {k: ev[k] for k in ("error_E", "error_I", "rate_E_hz", "rate_I_hz", "burst_fraction", "max_trial_rate_E_hz")}
    out.update({
        "n_exc": int(net.n_exc),
        "tuning_rate_E_hole_hz": float(popE[sector].mean()),
        "tuning_rate_E_elsewhere_hz": float(popE[~sector].mean()),
        "tuning_error_hole": float(tun["error"][sector].mean()),
        "tuning_error_elsewhere": float(tun["error"][~sector].mean()),
        "F_in_hole": int(in_sector(f_dir, p["lesion_center_deg"], p["lesion_halfwidth_deg"]).sum()),
        "decoders_in_hole": int(in_sector(d_dir, p["lesion_center_deg"], p["lesion_halfwidth_deg"]).sum()),
        "mean_F_norm": float(np.linalg.norm(net.F_E, axis=1).mean()),
        "tuning_width_E_deg": _tuning_width(tun["angles"], tun["rates_E"]),
    })
    if match_rate is not None:
        out.update(error_at_rate(sim, amplitude, match_rate, derive_seed(seed, 64), trials=trials, steps=steps))
    return {"metrics": out, "tuning": tun, "D_E": D_E, "D_I": D_I}


def error_at_rate(sim, amplitude: float, target: float, seed: int, *, trials: int, steps: int) -> dict:
    """Coding error of the E read-out at the input amplitude where the E rate equals ``target``.

    The amplitude is first calibrated (:func:`fig7.calibrate_amplitude`); then the network is
    evaluated at 0.85×, 1× and 1.18× that amplitude (same signals and noise) and log error is
    interpolated linearly in log rate at ``target`` — removing the residual calibration error.
    ``matched_rate_reached`` is False when the target lies outside the measured rates (then the
    nearest measured error is returned: for a network that cannot get down to the target rate
    this is its error at a *higher* rate, i.e. a lower bound)."""
    amp, _, _ = fig7.calibrate_amplitude(sim, amplitude, target, seed)
    pts = []
    for f in (0.85, 1.0, 1.18):
        ev = fig7.evaluate(sim, amp * f, derive_seed(seed, 1), trials=trials, steps=steps, poisson=False, pops=("E",))
        pts.append((ev["rate_E_hz"], ev["error_E"]))
    pts.sort()
    r = np.log([max(q[0], 1e-6) for q in pts])
    e = np.log([max(q[1], 1e-9) for q in pts])
    lt = np.log(target)
    reached = bool(r[0] <= lt <= r[-1])
    if reached:
        i = int(np.clip(np.searchsorted(r, lt), 1, len(r) - 1))
        f = (lt - r[i - 1]) / (r[i] - r[i - 1]) if r[i] > r[i - 1] else 0.0
        err = float(np.exp(e[i - 1] + f * (e[i] - e[i - 1])))
    else:
        err = float(np.exp(e[0] if lt < r[0] else e[-1]))
    return {"error_E_matched_rate": err, "amplitude_matched_rate": float(amp), "matched_rate_reached": reached,
            "matched_rate_points": [[float(a), float(b)] for a, b in pts]}


def _tuning_width(angles: np.ndarray, rates: np.ndarray) -> float:
    """Mean over active neurons of the angular range (deg) where the rate exceeds half its maximum."""
    step = float(angles[1] - angles[0]) if len(angles) > 1 else 360.0
    w = [step * float(np.sum(r >= 0.5 * r.max())) for r in rates.T if r.max() > 0]
    return float(np.mean(w)) if w else float("nan")


def ordering(m: dict) -> dict:
    """The paper's predictions as booleans, from the conditions' metrics (``m[cond]``).

    "Efficiency" = ``error_E_matched_rate``: the coding error when the input amplitude is set so
    that the network's E rate equals the intact network's (error at an equal spike budget)."""
    n, f, r, ff = m["none"], m["full"], m["recurrent_only"], m["feedforward_only"]
    intact = m["intact"]
    eff = lambda c: c["error_E_matched_rate"]  # noqa: E731
    checks = {
        "lesion_raises_E_rate": n["rate_E_hz"] > intact["rate_E_hz"],
        "lesion_lowers_efficiency": eff(n) > eff(intact),
        "recurrent_only_lowers_rate_vs_none": r["rate_E_hz"] < n["rate_E_hz"],
        "recurrent_only_more_efficient_than_none": eff(r) < eff(n),
        "full_more_efficient_than_none": eff(f) < eff(n),
        "feedforward_only_raises_rate_vs_none": ff["rate_E_hz"] > n["rate_E_hz"],
        "feedforward_only_worse_error_than_none": ff["error_E"] > n["error_E"],
        "feedforward_only_least_efficient": eff(ff) > max(eff(n), eff(r), eff(f)),
    }
    checks = {k: bool(v) for k, v in checks.items()}
    checks["predicted_ordering_holds"] = bool(checks["recurrent_only_more_efficient_than_none"]
                                              and checks["feedforward_only_least_efficient"]
                                              and checks["feedforward_only_raises_rate_vs_none"]
                                              and checks["feedforward_only_worse_error_than_none"])
    return checks


def experiment(seed: int, *, pretrain_fast_s: float, pretrain_s: float, retrain_s: float, trials: int,
               steps: int, n_angles: int = 24, tuning_steps: int = 3000, progress: bool = False,
               keep_networks: bool = False, control: bool = True) -> dict:
    """Run the whole Fig 8 protocol; returns per-condition metrics, tuning curves and networks
    (``control``: also retrain the intact network, step 5 of the module docstring)."""
    p = PARAMS
    dt = fig7.PARAMS["dt"]
    t0 = time.perf_counter()
    tr = pretrain(seed, int(round(pretrain_fast_s / dt)), int(round(pretrain_s / dt)), progress)
    amp = tr.amplitude
    intact = tr.network
    mag = signal_magnitude(amp, derive_seed(seed, 63))
    kw = dict(trials=trials, steps=steps, n_angles=n_angles, tuning_steps=tuning_steps)
    res = {"intact": assess(intact, amp, seed, mag, **kw)}
    kw["match_rate"] = res["intact"]["metrics"]["rate_E_hz"]
    res["intact"]["metrics"].update(error_at_rate(fig7.ei_simulator(intact), amp, kw["match_rate"],
                                                  derive_seed(seed, 64), trials=trials, steps=steps))
    D_E = res["intact"]["D_E"]
    dead = in_sector(directions_deg(D_E), p["lesion_center_deg"], p["lesion_halfwidth_deg"])
    intact.D_E, intact.D_I = D_E, res["intact"]["D_I"]
    lesioned = lesion(intact, ~dead)
    nets = {"intact": intact}
    n_re = int(round(retrain_s / dt))
    src = block_noise_source(intact.n_inputs, derive_seed(seed, 70), amplitude=amp, sigma=fig7.PARAMS["sigma"],
                             block=fig7.PARAMS["block"])
    walls = {}
    with progress_bar(len(CONDITIONS), "fig8 conditions", progress, unit="condition") as upd:
        for cond in CONDITIONS:
            t1 = time.perf_counter()
            rules = condition_rules(cond)
            if rules is None:
                net = lesioned.copy()
            else:
                net = learn_ei(lesioned, src, n_re, rules=rules, seed=derive_seed(seed, 71), chunk=1_000_000,
                               v_noise_E=fig7.PARAMS["v_noise_E_learn"]).network
            res[cond] = assess(net, amp, seed, mag, **kw)
            net.D_E, net.D_I = res[cond]["D_E"], res[cond]["D_I"]
            nets[cond] = net
            walls[cond] = time.perf_counter() - t1
            upd(1)
    # control: the intact network retrained with full plasticity for as long (drift without lesion)
    if control:
        t1 = time.perf_counter()
        sham = learn_ei(intact, src, n_re, rules=condition_rules("full"), seed=derive_seed(seed, 71),
                        chunk=1_000_000, v_noise_E=fig7.PARAMS["v_noise_E_learn"]).network
        res["control_intact_retrained"] = assess(sham, amp, seed, mag, **kw)
        walls["control_intact_retrained"] = time.perf_counter() - t1
    metrics = {k: v["metrics"] for k, v in res.items()}
    out = {"metrics": metrics, "checks": ordering(metrics), "amplitude": float(amp),
           "signal_magnitude": mag, "n_lesioned": int(dead.sum()), "lesioned_idx": np.flatnonzero(dead),
           "tuning": {k: v["tuning"] for k, v in res.items()}, "gain_history": tr.gain_history,
           "pretrain_wall_s": tr.wall_seconds, "condition_wall_s": walls, "wall_s": time.perf_counter() - t0,
           "dead": dead}
    if keep_networks:
        out["networks"] = nets
    return out


AGG_KEYS = ("error_E", "error_E_matched_rate", "rate_E_hz", "rate_I_hz", "error_I")


def aggregate(per_rep: list) -> dict:
    """Geometric means over repetitions of each condition's errors and rates (``per_rep``: list of
    ``{condition: metrics}``).  Errors and rates are positive and spread over decades when a
    network bursts, so the log-mean is the summary that one outlier cannot dominate."""
    out = {}
    for cond in per_rep[0]:
        d = {}
        for k in AGG_KEYS:
            v = np.array([m[cond][k] for m in per_rep], dtype=float)
            d[k] = float(np.exp(np.mean(np.log(np.maximum(v, 1e-12)))))
        d["burst_fraction"] = float(np.mean([m[cond]["burst_fraction"] for m in per_rep]))
        out[cond] = d
    return out


PAIRS = (("none", "intact"), ("recurrent_only", "none"), ("full", "none"), ("feedforward_only", "none"),
         ("recurrent_only", "feedforward_only"))
PAIRED_KEYS = ("error_E_matched_rate", "rate_E_hz")


def paired_comparisons(per_rep: list) -> list:
    """Condition against condition, paired by repetition (same network, lesion and input stream).

    For each pair (a, b) of :data:`PAIRS` and each measure of :data:`PAIRED_KEYS`: the geometric
    mean over repetitions of a/b, its 95 % confidence interval (Student t on the log-ratios; NaN
    with one repetition) and in how many repetitions a is below b.  A ratio whose interval
    excludes 1 is a difference the seeds agree on; one whose interval contains 1 is not resolved
    by this many repetitions."""
    from scipy import stats

    rows = []
    n = len(per_rep)
    for a, b in PAIRS:
        for k in PAIRED_KEYS:
            d = np.array([np.log(max(m[a][k], 1e-12)) - np.log(max(m[b][k], 1e-12)) for m in per_rep])
            mean = float(d.mean())
            half = float(stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
            rows.append({"comparison": f"{a} / {b}", "measure": k, "geo_mean_ratio": float(np.exp(mean)),
                         "ci95_low": float(np.exp(mean - half)), "ci95_high": float(np.exp(mean + half)),
                         "first_lower_in": int(np.sum(d < 0)), "n": n})
    return rows


def _repetition(seed: int, kw: dict, keep_networks: bool) -> dict:
    """One repetition in a worker process (no progress bars there)."""
    return experiment(seed, **kw, progress=False, keep_networks=keep_networks)


def run(out: Path, *, seed: int = 0, iterations: Optional[int] = None, quick: bool = False,
        progress: bool = True, repetitions: Optional[int] = None, workers: int = 1) -> dict:
    """Reproduce Fig 8 into ``out`` (PNGs, network files); returns the metrics dict.

    ``iterations``: retraining length in 1000-step blocks (default 10⁴ = the paper's 1000 s;
    ``quick``: shorter pre-training, 300 s retraining, smaller evaluations).
    ``repetitions`` (default 5, quick 1): the whole protocol is repeated with seeds ``seed``,
    ``seed + 1``, …  (new network, lesion and input stream each time).  The paper's predictions
    are checked on the geometric mean over repetitions (``checks``) and on every repetition
    (``checks_per_repetition``, ``checks_pass_count``), and condition against condition paired by
    repetition with confidence intervals (``paired_comparisons``); ``conditions`` and the figures
    of panels A–E are those of the first repetition.  ``workers``: repetitions run at once in
    separate processes (the results do not depend on it)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    p = dict(PARAMS)
    if quick:
        p.update(QUICK)
    if iterations is not None:
        p["retrain_s"] = count_option("iterations", iterations, unit="1000-step blocks") * 1000 * fig7.PARAMS["dt"]
    p["repetitions"] = count_option("repetitions", repetitions, p["repetitions"])
    reps = []
    t0 = time.perf_counter()
    kw = dict(pretrain_fast_s=p["pretrain_fast_s"], pretrain_s=p["pretrain_s"], retrain_s=p["retrain_s"],
              trials=p["eval_trials"], steps=p["eval_steps"], n_angles=p["tuning_angles"],
              tuning_steps=p["tuning_steps"])
    n_rep = int(p["repetitions"])
    if int(workers) > 1:  # whole repetitions in parallel; each keeps its own seed
        with progress_bar(n_rep, "fig8 repetitions", progress, unit="repetition") as upd:
            done = map_in_processes(_repetition, [(int(seed) + i, kw, i == 0) for i in range(n_rep)], workers, upd)
    else:
        done = (experiment(int(seed) + i, **kw, progress=progress, keep_networks=(i == 0)) for i in range(n_rep))
    for i, r in enumerate(done):
        if i == 0:
            first = r
        else:
            r.pop("tuning", None)
        reps.append({"seed": int(seed) + i, "metrics": r["metrics"], "checks": r["checks"],
                     "n_lesioned": r["n_lesioned"], "amplitude": r["amplitude"], "wall_s": r["wall_s"]})
    r = first
    for name, net in r["networks"].items():
        save_network(net, out / f"network_{name}.npz")
    _figures(out, r)
    agg = aggregate([q["metrics"] for q in reps])
    checks = ordering(agg)
    if len(reps) > 1:
        _figure_repetitions(out, reps, agg)
    m = r["metrics"]
    order_err = sorted(CONDITIONS, key=lambda c: agg[c]["error_E"])
    order_eff = sorted(CONDITIONS, key=lambda c: agg[c]["error_E_matched_rate"])
    order_rate = sorted(CONDITIONS, key=lambda c: agg[c]["rate_E_hz"])
    return {
        "experiment": "fig8",
        "quick": bool(quick),
        "seed": int(seed),
        "repetitions": len(reps),
        "conditions": m,
        "aggregate": agg,
        "checks": checks,
        "predicted_ordering_holds": checks["predicted_ordering_holds"],
        "checks_per_repetition": [{"seed": q["seed"], **q["checks"]} for q in reps],
        "checks_pass_count": {k: int(sum(bool(q["checks"][k]) for q in reps)) for k in checks},
        "paired_comparisons": paired_comparisons([q["metrics"] for q in reps]),
        "per_repetition": [{"seed": q["seed"], "n_lesioned_E": q["n_lesioned"], "input_amplitude": q["amplitude"],
                            "conditions": {c: {k: q["metrics"][c][k] for k in AGG_KEYS + ("burst_fraction",)}
                                           for c in q["metrics"]}} for q in reps],
        "order_by_error_E": order_err,
        "order_by_rate_E": order_rate,
        "order_by_error_at_matched_rate": order_eff,
        "n_lesioned_E": r["n_lesioned"],
        "lesion_sector_deg": [p["lesion_center_deg"] - p["lesion_halfwidth_deg"],
                              p["lesion_center_deg"] + p["lesion_halfwidth_deg"]],
        "input_amplitude": r["amplitude"],
        "tuning_stimulus_magnitude": r["signal_magnitude"],
        "schedule_s": {"pretrain_fast": p["pretrain_fast_s"], "pretrain": p["pretrain_s"], "retrain": p["retrain_s"]},
        "parameters": {**p, "model": "fig7 EI network", "fig7_params": fig7.PARAMS},
        "pretrain_wall_s": r["pretrain_wall_s"],
        "condition_wall_s": r["condition_wall_s"],
        "wall_seconds": time.perf_counter() - t0,
        "notes": ("Errors: normalised error variance of the E read-out (decoders refitted per condition); rates "
                  "from the same test trials; tuning_* from constant inputs of the typical signal magnitude; "
                  "'hole' = the lesioned sector of directions.  'conditions' = first repetition; 'aggregate' = "
                  "geometric means over repetitions, on which 'checks' and the orders are computed."),
        "figures": sorted(q.name for q in out.glob("*.png")),
    }


def _figure_repetitions(out: Path, reps: list, agg: dict) -> None:
    """Efficiency and rate of every condition in every repetition, with the geometric means."""
    import matplotlib.pyplot as plt

    names = ["intact"] + list(CONDITIONS)
    x = np.arange(len(names))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, key, label in ((axes[0], "error_E_matched_rate", "error at the intact E rate"),
                           (axes[1], "rate_E_hz", "E rate at the training input (Hz)")):
        ax.bar(x, [agg[n][key] for n in names], color="0.75", label="geometric mean")
        for j, q in enumerate(reps):
            ax.plot(x + 0.08 * (j - (len(reps) - 1) / 2), [q["metrics"][n][key] for n in names], "o", ms=3,
                    label=f"seed {q['seed']}")
        ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=30, fontsize=7)
    axes[0].legend(fontsize=6)
    fig.suptitle(f"Fig 8 over {len(reps)} repetitions", fontsize=9)
    fig.tight_layout()
    save_figure(fig, out / "fig8_repetitions.png")


def _figures(out: Path, r: dict) -> None:
    import matplotlib.pyplot as plt

    panels = ["intact"] + list(CONDITIONS)
    titles = {"intact": "A  intact", "none": "B  lesion, no plasticity", "full": "C  full retraining",
              "recurrent_only": "D  recurrent only", "feedforward_only": "E  feed-forward only"}
    nets = r["networks"]
    dead = r["dead"]
    base_dir = directions_deg(nets["intact"].D_E)
    cmap = plt.get_cmap("hsv")
    fig, axes = plt.subplots(3, len(panels), figsize=(3.2 * len(panels), 9.2))
    for j, name in enumerate(panels):
        net = nets[name]
        col = base_dir if name == "intact" else base_dir[~dead]
        colors = cmap(col / 360.0)
        ax = axes[0, j]
        for i in range(net.n_exc):
            ax.plot([0, net.F_E[i, 0]], [0, net.F_E[i, 1]], color=colors[i], lw=0.9)
        if name == "intact":
            for i in np.flatnonzero(dead):
                ax.plot([0, net.F_E[i, 0]], [0, net.F_E[i, 1]], color="k", lw=0.9, ls="--")
        ax.set_aspect("equal")
        ax.set_title(f"{titles[name]}\nF (input weights)", fontsize=8)
        ax = axes[1, j]
        D = net.D_E
        for i in range(net.n_exc):
            ax.plot([0, D[0, i]], [0, D[1, i]], color=colors[i], lw=0.9)
        ax.set_aspect("equal")
        ax.set_title("decoders D_E", fontsize=8)
        ax = axes[2, j]
        tun = r["tuning"][name]
        for i in range(net.n_exc):
            ax.plot(tun["angles"], tun["rates_E"][:, i], color=colors[i], lw=0.7)
        for i in range(net.n_inh):
            ax.plot(tun["angles"], tun["rates_I"][:, i], color="tab:blue", lw=0.4, alpha=0.5)
        ax.axvspan(PARAMS["lesion_center_deg"] - PARAMS["lesion_halfwidth_deg"],
                   PARAMS["lesion_center_deg"] + PARAMS["lesion_halfwidth_deg"], color="0.9", zorder=0)
        mm = r["metrics"][name]
        ax.set_title(f"err {mm['error_E']:.3f}, E {mm['rate_E_hz']:.1f} Hz, I {mm['rate_I_hz']:.1f} Hz", fontsize=8)
        ax.set_xlabel("input direction (deg)")
        if j == 0:
            ax.set_ylabel("rate (Hz)")
    fig.tight_layout()
    save_figure(fig, out / "fig8_weights_tuning.png")

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    names = panels
    x = np.arange(len(names))
    m = r["metrics"]
    axes[0].bar(x - 0.2, [m[n]["error_E"] for n in names], width=0.4, color="0.5", label="same input")
    axes[0].bar(x + 0.2, [m[n]["error_E_matched_rate"] for n in names], width=0.4, color="0.2",
                label="input set for the intact E rate")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("coding error (E read-out)")
    axes[0].legend(fontsize=7)
    axes[1].bar(x - 0.2, [m[n]["rate_E_hz"] for n in names], width=0.4, color="tab:red", label="E")
    axes[1].bar(x + 0.2, [m[n]["rate_I_hz"] for n in names], width=0.4, color="tab:blue", label="I")
    axes[1].set_ylabel("mean rate (Hz)")
    axes[1].legend(fontsize=7)
    for n in names:
        axes[2].plot(r["tuning"][n]["angles"], r["tuning"][n]["error"], label=n, lw=1)
    axes[2].set_yscale("log")
    axes[2].set_xlabel("input direction (deg)")
    axes[2].set_ylabel("static decoding error")
    axes[2].legend(fontsize=7)
    for ax in axes[:2]:
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=30, fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "fig8_summary.png")
