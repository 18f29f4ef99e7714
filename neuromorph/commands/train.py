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
    p.add_argument("--max-fanout", type=int, metavar="K",
                   help="learn under a connectivity mask with at most K recurrent targets per neuron, self "
                        "included (config train.fanout; Xylo Audio 2 allows 64)")
    p.add_argument("--target", metavar="NAME_OR_YAML",
                   help="train for this chip: check that the network's shapes fit it before any work "
                        "(exit 2 with the failing limit otherwise) and learn under its fan-out limit "
                        "(config train.target)")


def main(args) -> int:
    from neuromorph.config import load_config
    from neuromorph.stages.train import run_train

    over: dict = {"seed": args.seed} if args.seed is not None else {}
    over.update({f"train.{k}": v for k, v in (("fanout", args.max_fanout), ("target", args.target)) if v is not None})
    cfg = load_config(args.config, over or None)
    m = run_train(cfg, args.out, progress=not args.no_progress)
    print(f"error {m['error_before']:.3g} -> {m['error_after']:.3g}, rate {m['rate_before_hz']:.3g} -> "
          f"{m['rate_after_hz']:.3g} Hz; wrote {args.out}")
    return 0
