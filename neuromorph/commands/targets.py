"""neuromorph targets"""
from __future__ import annotations

HELP = "list the built-in hardware targets and their limits"
DESCRIPTION = """List the hardware targets in hardware_configs/ (or $NEUROMORPH_HARDWARE_CONFIGS).

Add your own chip by writing a YAML file with the same fields (copy hardware_configs/fixed-point.yaml)
and pass its path to --target; it is validated on load. Its 'device' field names the backend that
serves it (docs/backends.md)."""


def add_arguments(p) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def main(args) -> int:
    import json

    import dataclasses

    from quantization.hardware import list_targets

    from neuromorph.backends.base import backend_for

    ts = list_targets()
    backends = [backend_for(t) for t in ts]  # every target must have a backend (clear error if not)
    if args.json:
        print(json.dumps([dict(t.to_dict(), backend=b.name, capabilities=dataclasses.asdict(b.capabilities(t)))
                          for t, b in zip(ts, backends)], indent=2, default=str))
        return 0
    print(f"{'name':16s} {'backend':11s} {'inputs':>6s} {'hidden':>6s} {'outputs':>7s} {'syn':>3s} {'fan-out':>7s} "
          f"{'w bits':>6s} {'state':>5s}  description")
    for t, b in zip(ts, backends):
        f = lambda v: "-" if v is None else str(v)  # noqa: E731
        print(f"{t.name:16s} {b.name:11s} {f(t.max_inputs):>6s} {f(t.max_hidden):>6s} {f(t.max_outputs):>7s} "
              f"{f(t.max_syn):>3s} {f(t.max_fanout):>7s} {f(t.weight_bits):>6s} {f(t.state_bits):>5s}  {t.description}")
    return 0
