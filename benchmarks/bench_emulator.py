"""Benchmark: neuromorph's Xylo emulator vs Rockpool's XyloSim (C++ xylosim v2).

Network: Xylo Audio 2 size, 16 inputs (Poisson, p = 0.05 per channel and step), 1000 hidden
neurons with recurrent fan-out 64 (32 per synapse), 8 outputs. Two regimes:

* quiet: ~0.013 hidden events per neuron per step (inhibition-dominated weights, threshold 360);
* busy: ~5 events per neuron per step (bias 500 with threshold 100).

Reports steps/s of one instance (both without recording; XyloSim records internally anyway) and,
for a batch of 64 device instances (integer weight mismatch +-1 on every non-zero weight, each
with its own input trial), instance-steps/s of one batched emulator call vs XyloSim run instance
after instance; the row names the layout the emulator picked (``lanes``: instances side by side in
SIMD lanes, for busy batches; ``instances``: one after another). The batch's parallel row spreads
it over all numba threads (both cores here); the serial row is one core. Spec packing (BatchedSpec) and XyloSim construction are timed separately, numba
compilation is excluded (warm-up call). Every timed comparison also checks bit-exactness.

Usage: python benchmarks/bench_emulator.py [--quick]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: BLAS threads distort timings

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

import numba  # noqa: E402

from neuromorph.backends.xylo import rockpool_compat as rc  # noqa: E402
from neuromorph.backends.xylo.emulator import BatchedSpec, emulate  # noqa: E402
from neuromorph.backends.xylo.spec import XyloSpec  # noqa: E402

N_IN, N_HID, N_OUT, FAN_OUT = 16, 1000, 8, 64
REGIMES = {"quiet": dict(threshold=360, bias=0, w_mean=-15), "busy": dict(threshold=100, bias=500, w_mean=-10)}


def make_spec(seed: int, threshold: int, bias: int, w_mean: int) -> XyloSpec:
    """Random Xylo Audio 2-sized network (see module docstring)."""
    rng = np.random.default_rng(seed)
    w_in = rng.integers(-60, 61, (N_IN, N_HID, 2)) * (rng.random((N_IN, N_HID, 2)) < 0.25)
    w_rec = np.zeros((N_HID, N_HID, 2), np.int64)
    half = FAN_OUT // 2
    for p in range(N_HID):
        tgt = rng.choice(N_HID, FAN_OUT, replace=False)
        w_rec[p, tgt[:half], 0] = rng.integers(-60, 61, half) + w_mean
        w_rec[p, tgt[half:], 1] = rng.integers(-60, 61, half) + w_mean
    w_out = rng.integers(-60, 61, (N_HID, N_OUT)) * (rng.random((N_HID, N_OUT)) < 0.1)
    return XyloSpec(
        weights_in=w_in,
        weights_rec=np.clip(w_rec, -128, 127),
        weights_out=w_out,
        threshold=np.full(N_HID, threshold),
        threshold_out=np.full(N_OUT, 500),
        dash_mem=np.full(N_HID, 3),
        dash_syn=np.full(N_HID, 2),
        dash_syn_2=np.full(N_HID, 3),
        dash_mem_out=np.full(N_OUT, 3),
        dash_syn_out=np.full(N_OUT, 2),
        bias=np.full(N_HID, bias),
    )


def mismatch(spec: XyloSpec, seed: int) -> XyloSpec:
    """A device instance: every non-zero weight moved by -1, 0 or +1 (clipped to int8)."""
    rng = np.random.default_rng(seed)
    d = spec.to_arrays()
    for k in ("weights_in", "weights_rec", "weights_out"):
        w = d[k].astype(np.int64)
        d[k] = np.clip(w + (w != 0) * rng.integers(-1, 2, w.shape), -128, 127)
    return XyloSpec(**d, device=spec.device)


def poisson(rng: np.random.Generator, shape: tuple[int, ...], p: float = 0.05) -> np.ndarray:
    return (rng.random(shape) < p).astype(np.int64)


def best_of(fn, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs, 8 XyloSim reference instances")
    args = ap.parse_args()
    q = args.quick
    t_emu, t_batch = (2000, 300) if q else (10000, 1000)
    t_xylo = {"quiet": 300 if q else 1500, "busy": 100 if q else 400}
    n_batch, n_ref = 64, (8 if q else 64)
    t_ref = {"quiet": 100 if q else 300, "busy": 40 if q else 100}
    repeats = 2 if q else 3
    rng = np.random.default_rng(0)

    print(f"numba {numba.__version__}, {numba.get_num_threads()} threads, cpu count {os.cpu_count()}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}{' (quick)' if q else ''}")  # fmt: skip
    print(f"network: {N_IN} in, {N_HID} hidden (fan-out {FAN_OUT}), {N_OUT} out, 2 synapses, input p=0.05\n")
    rows = []
    for regime, params in REGIMES.items():
        spec = make_spec(1, **params)
        x = poisson(rng, (max(t_emu, t_xylo[regime]), N_IN))
        bs = BatchedSpec.from_specs(spec)
        emulate(bs, x[:5])  # compile / load the numba cache

        # bit-exact check on the XyloSim segment, and the event rate
        sim = rc.xylosim_from_spec(spec)
        out_ref, _, rec_ref = sim(x[: t_xylo[regime]], record=True)
        res = emulate(bs, x[: t_xylo[regime]], record=True)
        assert np.array_equal(out_ref, res.output[0]) and np.array_equal(rec_ref["Vmem"], res.recording["Vmem"][0])
        rate = res.recording["Spikes"].mean()

        # the same XyloSim (built above), reset: its construction is not the simulation
        t_x = best_of(lambda: (sim.reset_state(), sim(x[: t_xylo[regime]])), repeats)
        t_e = best_of(lambda: emulate(bs, x[:t_emu]), repeats)
        t_er = best_of(lambda: emulate(bs, x[:t_emu], record=True, record_dtype=np.int16), repeats)
        xs, es, ers = t_xylo[regime] / t_x, t_emu / t_e, t_emu / t_er
        rows.append((f"single, {regime} ({rate:.3g} ev/neuron/step)", xs, es, ers))

    for regime, params in REGIMES.items():
        base = make_spec(1, **params)
        specs = [mismatch(base, 100 + b) for b in range(n_batch)]
        t0 = time.perf_counter()
        bs = BatchedSpec.from_specs(specs)
        t_pack = time.perf_counter() - t0
        xb = poisson(rng, (n_batch, t_batch, N_IN))
        emulate(bs, xb[:, :5])
        emulate(bs, xb[:, :5], parallel=False)
        t_par = best_of(lambda: emulate(bs, xb, parallel=True), repeats)
        t_ser = best_of(lambda: emulate(bs, xb, parallel=False), repeats)

        # XyloSim, instance after instance (construction timed separately), checked against the batch
        res = emulate(bs, xb[:, : t_ref[regime]], parallel=True)
        chosen = emulate(bs, xb, parallel=True).layout  # the probe's choice on the timed input
        t_build = t_sim = 0.0
        for b in range(n_ref):
            t0 = time.perf_counter()
            sim = rc.xylosim_from_spec(specs[b])
            t1 = time.perf_counter()
            out, _, _ = sim(xb[b, : t_ref[regime]])
            t_sim += time.perf_counter() - t1
            t_build += t1 - t0
            assert np.array_equal(out, res.output[b]), f"instance {b} differs from XyloSim"
        xs = n_ref * t_ref[regime] / t_sim
        rows.append((f"batch {n_batch}, {regime}: parallel ({chosen})", xs, n_batch * t_batch / t_par, None))
        rows.append((f"batch {n_batch}, {regime}: serial ({chosen})", xs, n_batch * t_batch / t_ser, None))
        print(f"[{regime}] pack {n_batch} specs: {t_pack:.2f} s; XyloSim build {t_build / n_ref * 1e3:.0f} ms/instance "
              f"(measured on {n_ref} instances x {t_ref[regime]} steps)")  # fmt: skip

    print()
    print(f"{'case':46s} {'XyloSim':>10s} {'emulator':>11s} {'ratio':>7s} {'emu+rec':>10s}")
    print(f"{'':46s} {'steps/s':>10s} {'steps/s':>11s} {'':>7s} {'steps/s':>10s}")
    for name, xs, es, ers in rows:
        rec = f"{ers:10.0f}" if ers is not None else f"{'':>10s}"
        print(f"{name:46s} {xs:10.0f} {es:11.0f} {es / xs:6.1f}x {rec}")
    print("\n(batch rows: instance-steps/s; XyloSim runs one instance after another; "
          "emu+rec records all states as int16)")  # fmt: skip


if __name__ == "__main__":
    main()
