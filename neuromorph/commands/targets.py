"""neuromorph targets"""
from __future__ import annotations

HELP = "list the built-in hardware targets and their limits"
DESCRIPTION = """List the hardware targets in hardware_configs/ (or $NEUROMORPH_HARDWARE_CONFIGS).

Add your own chip by writing a YAML file with the same fields (copy hardware_configs/fixed-point.yaml)
and pass its path to --target; it is validated on load."""


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def main(args) -> int:
    import json

    from quantization.hardware import list_targets

    ts = list_targets()
    if args.json:
        print(json.dumps([t.to_dict() for t in ts], indent=2, default=str))
        return 0
    print(f"{'name':16s} {'inputs':>6s} {'hidden':>6s} {'outputs':>7s} {'syn':>3s} {'fan-out':>7s} {'w bits':>6s} "
          f"{'state':>5s}  description")
    for t in ts:
        f = lambda v: "-" if v is None else str(v)  # noqa: E731
        print(f"{t.name:16s} {f(t.max_inputs):>6s} {f(t.max_hidden):>6s} {f(t.max_outputs):>7s} {f(t.max_syn):>3s} "
              f"{f(t.max_fanout):>7s} {f(t.weight_bits):>6s} {f(t.state_bits):>5s}  {t.description}")
    return 0
