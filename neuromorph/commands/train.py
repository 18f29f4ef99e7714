"""neuromorph train CONFIG --out DIR"""
from __future__ import annotations

from pathlib import Path

HELP = "learn an SCN as described by a run config (its train section)"
DESCRIPTION = """Learn the network described by the config's train section. DIR receives network.npz
(the learnt SCN, versioned), network_initial.npz, metrics.json and figures; it is the input of
'neuromorph quantize'."""


def add_arguments(p) -> None:
    p.add_argument("config", type=Path, nargs="?", help="YAML run config (default: built in)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--seed", type=int)
    p.add_argument("--no-progress", action="store_true")


def main(args) -> int:
    from neuromorph.config import load_config
    from neuromorph.stages.train import run_train

    cfg = load_config(args.config, {"seed": args.seed} if args.seed is not None else None)
    m = run_train(cfg, args.out, progress=not args.no_progress)
    print(f"error {m['error_before']:.3g} -> {m['error_after']:.3g}, rate {m['rate_before_hz']:.3g} -> "
          f"{m['rate_after_hz']:.3g} Hz; wrote {args.out}")
    return 0
