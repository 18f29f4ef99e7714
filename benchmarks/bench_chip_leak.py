"""The chip's membrane leak as a choice: Fig 2 on a Xylo target for several (chip step, dash).

For each seed the Fig 2 network is learnt (``neuromorph reproduce fig2``, the full protocol),
then for each configuration ``quantize`` (``leak_dash`` = the hidden membrane's dash, ``k`` chip
steps per learning step) and ``verify`` on the built-in white noise (emulator; ``--xylosim``
also checks emulator == XyloSim).  Printed: read-out error, spike-decoded error, chip rate and
the chip/float ratios.

``--drives learnt chip``: each configuration with the chip driven by ``c = ẋ + λ x`` (λ the
learnt leak, quantize's default) and/or by the drive re-derived for the chip's leak
``c' = ẋ + λ' x`` (``quantize --set drive_leak=chip``).

Run:  OPENBLAS_NUM_THREADS=1 python benchmarks/bench_chip_leak.py [--seeds 0 1 2]
      [--configs 1:4 1:5 1:6 7:7] [--target xylo-audio-v2] [--drives learnt chip] [--xylosim] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def run_config(run: Path, target: str, k: int, dash, seed: int, work: Path, drive: str, xylosim: bool,
               adapt_steps=None) -> dict:
    from neuromorph.network import load_network
    from neuromorph.stages.quantize import quantize_run
    from neuromorph.stages.verify import verify

    net = load_network(run / "network.npz")
    overrides = {} if k == 1 else {"dt": net.dt / k}
    tag = f"s{seed}k{k}d{dash}{drive}"
    rep = quantize_run(run, target, work / f"q{tag}", seed=seed, target_overrides=overrides, leak_dash=dash,
                       drive_leak=drive, adapt_steps=adapt_steps, warn=lambda line: None)
    ver = verify(work / f"q{tag}", work / f"v{tag}", seed=seed, with_xylosim=xylosim, warn=None)
    return {"seed": seed, "k": k, "dash": rep["chip_leak"]["dash"], "tau_chip_ms": rep["chip_leak"]["tau_chip_ms"],
            "drive": drive, "retrained": rep.get("adapt_policy", {}).get("retrained"),
            "output_filter": {kk: rep["chip_readout"].get("output_filter", {}).get(kk)
                              for kk in ("dash_mem_out", "dash_syn_out")},
            "error_float": ver["error_float"], "rate_float_hz": ver["rate_float_hz"],
            "error": ver["error_emulated"], "spike_decoded": ver["error_emulated_spike_decoded"],
            "rate_hz": ver["rate_emulated_hz"], "error_ratio": ver["chip_vs_float"]["error_ratio"],
            "rate_ratio": ver["chip_vs_float"]["rate_ratio"], "xylosim": ver.get("emulator_matches_xylosim")}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--configs", nargs="+", default=["1:4", "1:5", "1:6"],
                   help="K:DASH pairs (chip steps per learning step : hidden membrane dash; DASH 'auto' = default)")
    p.add_argument("--target", default="xylo-audio-v2")
    p.add_argument("--drives", nargs="+", default=["learnt"], choices=["learnt", "chip"])
    p.add_argument("--xylosim", action="store_true")
    p.add_argument("--adapt-steps", type=int, default=None, help="quantize --adapt-steps (default: auto)")
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-chip-leak-") as tmp:
        work = Path(tmp)
        for seed in a.seeds:
            run = work / f"fig2-{seed}"
            from neuromorph.cli import main as cli

            if cli(["reproduce", "fig2", "--seed", str(seed), "--out", str(run)]) != 0:
                return 1
            for cfg in a.configs:
                k, d = cfg.split(":")
                dash = None if d == "auto" else int(d)
                for drive in a.drives:
                    r = run_config(run, a.target, int(k), dash, seed, work, drive, a.xylosim, a.adapt_steps)
                    rows.append(r)
                    print(f"seed {seed} k {r['k']:>2} dash {r['dash']:>2} (tau {r['tau_chip_ms']:5.1f} ms) "
                          f"drive {r['drive']:<6} out {r['output_filter']['dash_mem_out']}/"
                          f"{r['output_filter']['dash_syn_out']} retrained {r['retrained']}: error {r['error']:.4f} "
                          f"spike-decoded {r['spike_decoded']:.4f} rate {r['rate_hz']:.1f} Hz | float "
                          f"{r['error_float']:.4f} @ {r['rate_float_hz']:.1f} Hz | ratios {r['error_ratio']:.2f} / "
                          f"{r['rate_ratio']:.2f}" + ("" if r["xylosim"] is None else f" | XyloSim {r['xylosim']}"),
                          flush=True)
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
