"""neuromorph pipeline --out DIR"""
from __future__ import annotations

import sys
from pathlib import Path

HELP = "the main job: learn, quantize, deploy, emulate and verify in one go"
DESCRIPTION = """Learn the Fig 2 spike coding network (quick protocol), quantize it for a chip
(xylo-audio-v2 by default), write the deployment, emulate it bit-exactly, verify against Rockpool's
XyloSim, and write report.md, summary.json and PNG figures into --out.

A run is fully described by one YAML config: print the default with --show-config, edit it, pass
it with --config. Results are deterministic under the config's seed (or --seed)."""


def add_arguments(p) -> None:
    p.add_argument("--out", type=Path, help="output directory (required unless --show-config)")
    p.add_argument("--config", type=Path, help="YAML run configuration (default: built in)")
    p.add_argument("--seed", type=int, help="override the config's seed")
    p.add_argument("--target", help="override quantize.target")
    p.add_argument("--show-config", action="store_true", help="print the effective config and exit")
    p.add_argument("--no-progress", action="store_true")


def main(args) -> int:
    from neuromorph.config import dump_config, load_config
    from neuromorph.stages.pipeline import run_pipeline

    ov = {}
    if args.seed is not None:
        ov["seed"] = args.seed
    if args.target is not None:
        ov["quantize.target"] = args.target
    cfg = load_config(args.config, ov)
    if args.show_config:
        sys.stdout.write(dump_config(cfg))
        return 0
    if args.out is None:
        raise ValueError("--out is required (or use --show-config)")
    s = run_pipeline(cfg, args.out, progress=not args.no_progress, resume=getattr(args, "resume", False))
    em = s["error_emulated"]
    print(f"error float {s['error_float']:.4g} | fake-quant {s['error_fake_quant']:.4g} | emulated "
          f"{'n/a' if em is None else format(em, '.4g')} | emulator == XyloSim: {s['emulator_matches_xylosim']} | "
          f"{s['wall_seconds']:.1f} s")
    if (s.get("chip_vs_float") or {}).get("error_ratio") is not None:
        from neuromorph.stages.on_data import fidelity_line

        print(fidelity_line(s["chip_vs_float"]))
    print(f"report: {args.out / 'report.md'}")
    return 1 if s["emulator_matches_xylosim"] is False else 0
