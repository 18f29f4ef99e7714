"""Speed of the SCN learning loop (compiled kernel) against a straightforward per-step NumPy
implementation, and the full Fig 2 protocol wall time.

Run:  OPENBLAS_NUM_THREADS=1 taskset -c 0 python benchmarks/bench_scn.py [--quick]
Targets (issue 2): full Fig 2 protocol ≤ 15 s on one core; µs/step printed for N = 20, 375, 1000.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from neuromorph.network import SCN  # noqa: E402
from neuromorph.sim.plasticity import FeedforwardRule, RecurrentRule  # noqa: E402
from neuromorph.sim.reference_numpy import learn_numpy  # noqa: E402
from neuromorph.sim.rng import make_state  # noqa: E402
from neuromorph.sim.simulator import block_noise_source, learn  # noqa: E402


def network(n: int, m: int, seed: int = 0) -> SCN:
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((n, m))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    # scale the input so that the population rate stays near the Fig 2 regime (~15-40 Hz)
    Om = -(F @ F.T) - 0.02 * np.eye(n)
    return SCN(F=F, Omega=Om, D=F.T.copy(), thresholds=0.5)


def time_kernel(net: SCN, steps: int, amplitude: float) -> tuple:
    src = block_noise_source(net.n_inputs, 1, amplitude=amplitude)
    c = src(0, steps)
    fixed = lambda s, n: c[s:s + n]  # noqa: E731  (input generation excluded from the timing)
    learn(net, fixed, min(steps, 2000), seed=1)  # compile
    t0 = time.perf_counter()
    res = learn(net, fixed, steps, seed=1)
    dt = time.perf_counter() - t0
    return dt / steps * 1e6, res.total_spikes / (steps * net.n_neurons * net.dt)


def time_numpy(net: SCN, steps: int, amplitude: float) -> float:
    c = block_noise_source(net.n_inputs, 1, amplitude=amplitude)(0, steps)
    rules = (RecurrentRule(), FeedforwardRule())
    t0 = time.perf_counter()
    learn_numpy(net, c, make_state(1), rules)
    return (time.perf_counter() - t0) / steps * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    print("SCN learning loop, µs per simulated step (one core; input generation excluded)")
    print(f"{'N':>6s} {'M':>3s} {'kernel':>10s} {'NumPy ref':>10s} {'speed-up':>9s} {'rate (Hz)':>10s}")
    for n, m, amp in ((20, 2, 2000.0), (375, 3, 2000.0), (1000, 3, 2000.0)):
        ks = 200_000 if n == 20 else (50_000 if n == 375 else 20_000)
        if args.quick:
            ks //= 10
        us, rate = time_kernel(network(n, m), ks, amp)
        nps = 3000 if not args.quick else 1000
        ref = time_numpy(network(n, m), nps, amp)
        print(f"{n:6d} {m:3d} {us:10.3f} {ref:10.1f} {ref / us:8.0f}x {rate:10.1f}")
    from neuromorph.experiments import fig2

    its = 1400 if args.quick else fig2.FULL_ITERATIONS
    t0 = time.perf_counter()
    net0, res = fig2.train(0, its, progress=False)
    t_learn = time.perf_counter() - t0
    print(f"\nFig 2 protocol, {its} x 1000 steps (learning incl. input generation and snapshots): "
          f"{t_learn:.2f} s  ({t_learn / (its * 1000) * 1e6:.3f} µs/step; target ≤ 15 s for the full protocol; "
          f"the authors' Octave code: 650 s learning)")


if __name__ == "__main__":
    main()
