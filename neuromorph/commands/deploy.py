"""neuromorph deploy QDIR --out DIR"""
from __future__ import annotations

from pathlib import Path

HELP = "write deployment artefacts: Rockpool spec, NIR graphs, hardware config (with samna)"
DESCRIPTION = """Turn a quantized network (output of 'quantize') into deployment artefacts:
spec.npz/spec.json (Rockpool XyloSim spec), network_float.nir / network_quantized.nir (NIR graphs
with recurrent weights), deploy.json. With --hardware and SynSense's real samna installed, also
build the chip configuration through Rockpool's config_from_specification. samna is optional and
detected at run time (never the PyPI shim)."""


def add_arguments(p) -> None:
    p.add_argument("qdir", type=Path, help="output directory of 'neuromorph quantize'")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--hardware", action="store_true", help="also build the samna hardware configuration")


def main(args) -> int:
    from neuromorph.stages.deploy import deploy

    try:
        s = deploy(args.qdir, args.out, hardware=args.hardware)
    except RuntimeError as exc:  # samna missing: a user-environment problem, not a crash
        raise ValueError(str(exc)) from None
    print(f"{s['device']}: {s['n_hidden']} hidden neurons; fits: {not s['hardware_violations']}; "
          f"samna: {'yes' if s['samna_available'] else 'no'}; wrote {args.out}")
    return 0 if not s["hardware_violations"] else 1
