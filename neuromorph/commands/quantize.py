"""neuromorph quantize RUN_DIR --target NAME_OR_YAML --out QDIR"""
from __future__ import annotations

from pathlib import Path

HELP = "map a learnt SCN onto a chip's fixed-point formats and report the cost"
DESCRIPTION = """Quantize the network of a 'reproduce'/'train' run for a target chip.

QDIR receives quantized.npz (the integer network, versioned), spec.npz (the Rockpool-format
Xylo spec, for Xylo targets), quantization.json (target, error_float, error_quantized =
fake-quant coding error, fit_check, per-class errors) and quantization.md.

Targets: a built-in name (see 'neuromorph targets') or the path of your own YAML file.
Parameterised targets take overrides, e.g. --target fixed-point --set weight_bits=4."""


def add_arguments(p) -> None:
    from neuromorph.config import TRI_STATE_CHOICES

    p.add_argument("run_dir", type=Path, help="output directory of 'reproduce'/'train' (holds network.npz)")
    p.add_argument("--target", required=True, help="target name or YAML path")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a parameter of a parameterised target (repeatable)")
    p.add_argument("--method", default="scn", choices=["scn", "global", "channel"],
                   help="scale choice: SCN-aware (default), global or per-neuron (Rockpool-style)")
    p.add_argument("--rounding", default="nearest", choices=["nearest", "stochastic"])
    p.add_argument("--mismatch", type=float, default=0.0, metavar="SIGMA",
                   help="also evaluate 20 device instances with this relative variation")
    p.add_argument("--adapt", default="auto", choices=TRI_STATE_CHOICES,
                   help="delay-aware retraining under the chip's dynamics before mapping "
                        "(auto: on for Xylo targets, which have no one-spike-per-step arbiter)")
    p.add_argument("--adapt-steps", type=int, default=400_000, help="length of that retraining (time steps)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, type=Path, help="output directory QDIR")


def parse_overrides(items) -> dict:
    import yaml

    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set expects FIELD=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = yaml.safe_load(v)
    return out


def main(args) -> int:
    from neuromorph.config import tri_state
    from neuromorph.stages.quantize import quantize_run

    if args.mismatch < 0:
        raise ValueError(f"--mismatch must be >= 0, got {args.mismatch}")
    rep = quantize_run(args.run_dir, args.target, args.out, seed=args.seed, mismatch=args.mismatch,
                       method=args.method, rounding=args.rounding, target_overrides=parse_overrides(args.set),
                       adapt=tri_state(args.adapt), adapt_steps=args.adapt_steps)
    from neuromorph.preflight import after_quantize

    after_quantize(rep, args)  # fit failure = user error; --report-only keeps just the report
    print(f"{rep['target']}: error float {rep['error_float']:.4g}, quantized {rep['error_quantized']:.4g}; "
          f"fit {'ok' if rep['fit_check']['ok'] else 'FAILED'}; wrote {args.out}")
    return 0 if rep["fit_check"]["ok"] else 1
