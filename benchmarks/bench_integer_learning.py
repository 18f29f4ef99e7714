"""Retraining under the chip's exact integer dynamics vs under the float model of the chip.

For each network (Fig 2 after 1,000 iterations; the 100-neuron 5-channel sensor network of
docs/chip_fidelity.md trained for the default 200 s under the fan-out-64 mask), each step count and
each spike cost μ: ``quantize --target xylo-audio-v2 --adapt-steps S --adapt-mode {float,integer}``
then ``verify`` (Fig 2: the built-in white noise; sensor: the held-out last 20 %, emulator only).
Printed per row: emulated error (output-neuron read-out), spike-decoded error, chip rate, the
ratios chip/float and the quantize wall time.  The numbers in docs/chip_fidelity.md ("Learning
under the exact integer dynamics") come from this script.

Usage::

    python benchmarks/bench_integer_learning.py [--work DIR] [--steps 50000 200000 400000]
        [--mu none] [--networks fig2 sensor] [--seed 0]

(``--mu`` values are the recurrent rule's spike cost; ``none`` = the rule's default.)
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def _networks(work: Path, names, seed: int, fig2_iterations: int = 1000) -> dict:
    """``{name: (run_dir, held-out data file or None)}``, trained into ``work``."""
    from neuromorph.cli import main
    from neuromorph.data.examples import sensor_example

    out = {}
    if "fig2" in names:
        run = work / "fig2_1k"
        main(["reproduce", "fig2", "--iterations", str(fig2_iterations), "--seed", str(seed), "--out", str(run), "--no-progress"])
        out["fig2"] = (run, None)
    if "sensor" in names:
        x, dt = sensor_example()
        np.save(work / "sig.npy", x)
        held = work / "held.npy"
        np.save(held, x[int(0.8 * x.shape[0]):])
        run = work / "sensor"
        main(["train", "--data", str(work / "sig.npy"), "--dt", str(dt), "--neurons", "100", "--max-fanout", "64",
              "--seed", str(seed), "--out", str(run), "--no-progress"])
        out["sensor"] = (run, held)
    return out


def main(argv=None) -> list:
    """Run the table; returns its rows as dicts (also printed as markdown)."""
    from neuromorph.stages.quantize import quantize_run
    from neuromorph.stages.verify import verify

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None, help="working directory (default: a temporary one)")
    ap.add_argument("--steps", type=int, nargs="+", default=[50_000, 200_000, 400_000])
    ap.add_argument("--mu", nargs="+", default=["none"])
    ap.add_argument("--networks", nargs="+", default=["fig2", "sensor"], choices=["fig2", "sensor"])
    ap.add_argument("--seed", type=int, default=0, help="seed of the trained network")
    ap.add_argument("--fig2-iterations", type=int, default=1000)
    a = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = a.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print("| network | steps | μ | mode | error | spike-decoded | rate (Hz) | error ratio | rate ratio | quantize s |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for name, (run, held) in _networks(work, a.networks, a.seed, a.fig2_iterations).items():
            for steps in a.steps:
                for mu in a.mu:
                    for mode in ("float", "integer"):
                        tag = f"{name}_{steps}_{mu}_{mode}"
                        t0 = time.perf_counter()
                        quantize_run(run, "xylo-audio-v2", work / f"q_{tag}", adapt_steps=steps, adapt_mode=mode,
                                     adapt_mu=None if mu == "none" else float(mu), warn=lambda line: None)
                        tq = time.perf_counter() - t0
                        v = verify(work / f"q_{tag}", work / f"v_{tag}", with_xylosim=False, data=held,
                                   data_dt=0.001 if held else None, warn=lambda line: None)
                        cv = v["chip_vs_float"]
                        rows.append(dict(network=name, steps=steps, mu=mu, mode=mode, error=v["error_emulated"],
                                         rate_hz=v["rate_emulated_hz"], **cv))
                        print(f"| {name} | {steps} | {mu} | {mode} | {v['error_emulated']:.4g} | "
                              f"{v['error_emulated_spike_decoded']:.4g} | {v['rate_emulated_hz']:.3g} | "
                              f"{cv['error_ratio']:.2f} | {cv['rate_ratio']:.2f} | {tq:.1f} |", flush=True)
    return rows


if __name__ == "__main__":
    main()
