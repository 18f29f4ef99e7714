"""Speed of the EI (Fig 4) learning loop: compiled kernel vs a straightforward per-step NumPy loop.

Both run the reference's learning step (docs/authors_code.md §3.2) on the Fig 4 network (300 E + 75 I, 3 inputs, all
five plastic pathways on, learning noise levels) with the reference input (1000-step blocks of
smoothed noise).  Reported: µs per simulated step (wall time / steps, input generation
excluded), and the ratio.  The NumPy loop draws its noise with NumPy (it is a speed baseline, not
a bit-exact twin; ``tests/test_ei.py`` holds the bit-exact restatement).

Usage::

    python benchmarks/bench_ei.py [--steps 262144] [--numpy-steps 20000] [--json out.json]
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from neuromorph.sim.ei_simulator import learn_ei
from neuromorph.sim.init import initial_ei_network
from neuromorph.network import EINetwork
from neuromorph.sim.plasticity import EIRules
from neuromorph.sim.simulator import block_noise_source


def _select(V: np.ndarray, T: np.ndarray, t_noise: float, rng: np.random.Generator, block: np.ndarray,
            t: int, refractory: int) -> int:
    """The one neuron of a population allowed to spike this step (noisy argmax above threshold,
    not refractory), or -1; a spiking neuron is blocked for ``refractory`` steps."""
    u = V - T - t_noise * rng.standard_normal(V.shape[0])
    k = int(np.argmax(u))
    if u[k] < 0 or t <= block[k]:
        return -1
    block[k] = t + refractory
    return k


def numpy_learn(net: EINetwork, c: np.ndarray, rules: EIRules, rng: np.random.Generator,
                v_noise_E: float = 0.002) -> tuple:
    """Per-step NumPy implementation of the EI learning loop (one spike per population per step,
    refractory argmax blocks everyone, clipping for Dale's law).  Returns (E spikes, I spikes)."""
    F, WEE, WEI, WIE, WII = (net.F_E.copy(), net.W_EE.copy(), net.W_EI.copy(), net.W_IE.copy(), net.W_II.copy())
    NE, M = F.shape
    NI = WEI.shape[0]
    a = 1.0 - net.lam * net.dt
    aF = 1.0 - rules.ff_trace_leak_factor * net.lam * net.dt
    lr_f, lr_r, mu = rules.lr_ff, rules.lr_rec, rules.mu
    VE, VI, rE, rI = np.zeros(NE), np.zeros(NI), np.zeros(NE), np.zeros(NI)
    bE, bI = np.zeros(M), np.zeros(NE)
    blockE, blockI = np.full(NE, -1), np.full(NI, -1)
    kE_prev = kI_prev = -1
    nE = nI = 0
    for t in range(c.shape[0]):
        VE = a * VE + net.dt * (F @ c[t]) + v_noise_E * rng.standard_normal(NE)
        if kE_prev >= 0:
            VE += WEE[:, kE_prev]
        if kI_prev >= 0:
            VE += WIE[:, kI_prev]
        bE = aF * bE + net.dt * c[t]
        bI *= a
        if kE_prev >= 0:
            bI[kE_prev] += 1.0
        kE = _select(VE, net.T_E, net.t_noise, rng, blockE, t, net.refractory)
        if kE >= 0:
            F[kE] += lr_f * (bE - F[kE])
            WEE[:, kE] = np.maximum(0.0, WEE[:, kE] - lr_r * (VE + mu * rE + WEE[:, kE]))
            WEE[kE, kE] = net.e_self_reset
            nE += 1
        VI = a * VI + net.v_noise_I * rng.standard_normal(NI)
        if kE >= 0:
            VI += WEI[:, kE]
        if kI_prev >= 0:
            VI += WII[:, kI_prev]
        kI = _select(VI, net.T_I, net.t_noise, rng, blockI, t, net.refractory)
        if kI >= 0:
            WEI[kI] = np.maximum(0.0, WEI[kI] + lr_f * (bI - WEI[kI]))
            d = VI + mu * rI + WII[:, kI]
            d[kI] += mu
            WII[:, kI] = np.minimum(0.0, WII[:, kI] - lr_r * d)
            WIE[:, kI] = np.minimum(0.0, WIE[:, kI] - lr_r * (VE + mu * rE + WIE[:, kI]))
            rI[kI] += 1.0
            nI += 1
        if kE >= 0:
            rE[kE] += 1.0
        rE *= a
        rI *= a
        kE_prev, kI_prev = kE, kI
    return nE, nI


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=2 ** 18, help="steps for the compiled kernel")
    ap.add_argument("--numpy-steps", type=int, default=20_000, help="steps for the NumPy loop")
    ap.add_argument("--repeats", type=int, default=3, help="kernel repeats (best is reported)")
    ap.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = ap.parse_args(argv)

    net = initial_ei_network(seed=1)
    rules = EIRules()
    n = max(args.steps, args.numpy_steps)
    c = block_noise_source(3, 1)(0, n)
    src = lambda a, L: c[a:a + L]  # noqa: E731  (input generation excluded from the timing)
    learn_ei(net, src, 2000, rules=rules, seed=1)  # compile / load the cached kernel
    best = np.inf
    for rep in range(args.repeats):
        t0 = time.perf_counter()
        res = learn_ei(net, src, args.steps, rules=rules, seed=rep, chunk=args.steps)
        best = min(best, time.perf_counter() - t0)
    kern_us = 1e6 * best / args.steps
    # the same loop with alpha-shaped recurrent PSCs (Fig 7's delays; PSP peak 2 ms)
    from neuromorph.experiments.fig7 import alpha_tau_for_delay

    tau = alpha_tau_for_delay(2.0)
    best_syn = np.inf
    for rep in range(args.repeats):
        t0 = time.perf_counter()
        learn_ei(net, src, args.steps, rules=rules, seed=rep, chunk=args.steps, syn_tau=tau)
        best_syn = min(best_syn, time.perf_counter() - t0)
    syn_us = 1e6 * best_syn / args.steps
    t0 = time.perf_counter()
    numpy_learn(net, c[:args.numpy_steps], rules, np.random.default_rng(0))
    np_us = 1e6 * (time.perf_counter() - t0) / args.numpy_steps
    out = {"network": "300 E + 75 I, M = 3, all pathways plastic", "kernel_steps": args.steps,
           "kernel_us_per_step": kern_us, "numpy_steps": args.numpy_steps, "numpy_us_per_step": np_us,
           "speedup": np_us / kern_us, "kernel_alpha_synapse_us_per_step": syn_us, "kernel_rate_E_hz": res.total_spikes_E / (args.steps * net.dt * net.n_exc),
           "paper_length_hours_at_kernel_speed": kern_us * 2 ** 20 * 1000 / 3.6e9,
           "machine": platform.processor() or platform.machine()}
    print(f"EI learning loop (300E+75I): kernel {kern_us:.2f} µs/step, NumPy {np_us:.1f} µs/step, "
          f"speed-up {np_us / kern_us:.0f}x; with alpha synapses (2 ms delay) {syn_us:.2f} µs/step; paper length (2^20 × 1000 steps) ≈ {out['paper_length_hours_at_kernel_speed']:.2f} h")
    if args.json:
        from neuromorph.artifacts import write_json

        write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
