"""neuromorph emulate SPEC --input RASTER.npy [--record] --out DIR"""
from __future__ import annotations

from pathlib import Path

HELP = "run a Xylo spec bit-exactly on an input raster"
DESCRIPTION = """Emulate the Xylo SNN core (bit-exact with Rockpool's XyloSim) for a spec file.

SPEC: a Rockpool-format spec NPZ as written by 'quantize'/'deploy' (plain arrays, no pickle).
RASTER: integer array (time steps x input channels) in .npy. DIR/record.npz gets 'output'
(time x outputs) and, with --record, Spikes, Vmem, Isyn, Isyn2, Vmem_out, Isyn_out named and
shaped as XyloSim records them."""


def add_arguments(p) -> None:
    p.add_argument("spec", type=Path, help="spec .npz")
    p.add_argument("--input", required=True, type=Path, help="input raster .npy (T x Nin integers)")
    p.add_argument("--record", action="store_true", help="also record the internal states")
    p.add_argument("--out", required=True, type=Path)


def main(args) -> int:
    import numpy as np

    from neuromorph.backends.base import backend_for_device
    from neuromorph.backends.xylo.spec import load_spec  # the spec file format this command reads
    from neuromorph.artifacts import atomic_write_bytes

    spec = load_spec(args.spec)
    backend = backend_for_device(spec.device)
    from neuromorph.preflight import check_event_counts, load_npy

    if not args.input.is_file():
        raise FileNotFoundError(f"input raster not found: {args.input}")
    raster = load_npy(args.input, "--input")  # says what the file is when it is not a .npy array
    if raster.ndim != 2:
        raise ValueError(f"{args.input}: raster must be 2-D (time steps, input channels), got shape {raster.shape}")
    if raster.shape[1] != spec.n_in:
        raise ValueError(f"{args.input}: raster has {raster.shape[1]} channels, the spec has {spec.n_in} inputs")
    if raster.dtype.kind not in "iub":
        if not np.all(np.isfinite(raster)) or np.any(raster != np.round(raster)):
            raise ValueError(f"{args.input}: raster must hold integer event counts")
        raster = raster.astype(np.int64)
    if np.any(raster < 0):
        raise ValueError(f"{args.input}: raster holds negative event counts")
    # above the chip's per-step limit: refused, or with --clip clipped and counted (never silently)
    from neuromorph.backends.xylo.spec import device_target

    raster, n_clipped, n_removed = check_event_counts(raster, device_target(spec.device).max_input_events,
                                                      clip=getattr(args, "clip", False), name=args.input.name)
    if n_clipped:
        print(f"--clip: {n_clipped} entries clipped to {device_target(spec.device).max_input_events} events "
              f"({n_removed} events removed)")
    payload = backend.emulate(spec, raster, record=args.record)  # "output" + the states when recorded
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "record.npz", lambda fh: np.savez(fh, **payload))
    print(f"{raster.shape[0]} steps, {int(payload['output'].sum())} output events; wrote {args.out / 'record.npz'}")
    return 0
