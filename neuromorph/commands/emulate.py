"""neuromorph emulate SPEC --input RASTER.npy [--device DEV] [--record] --out DIR"""
from __future__ import annotations

from pathlib import Path

HELP = "run a Xylo spec bit-exactly on an input raster"
DESCRIPTION = """Emulate the Xylo SNN core (bit-exact with Rockpool's XyloSim) for a spec file.

SPEC: a spec NPZ of Rockpool's XyloSim.from_specification keywords (plain arrays, no pickle):
written by 'quantize'/'deploy' (device from spec.meta.json beside it), a plain Rockpool NPZ
(absent keys take Rockpool's defaults; --device names the chip, default xylo-audio-v2), or a
quantize/deploy output directory holding spec.npz.
RASTER: integer array (time steps x input channels) in .npy. DIR/record.npz gets 'output'
(time x outputs) and, with --record, Spikes, Vmem, Isyn, Isyn2, Vmem_out, Isyn_out named and
shaped as XyloSim records them."""


def add_arguments(p) -> None:
    p.add_argument("spec", type=Path, help="spec .npz (or a directory holding spec.npz)")
    p.add_argument("--device", default=None,
                   help="chip of a plain Rockpool NPZ: xylo-audio-v2 (default), xylo-audio-v3, xylo-imu; "
                        "must agree with spec.meta.json when that exists")
    p.add_argument("--input", required=True, type=Path, help="input raster .npy (T x Nin integers)")
    p.add_argument("--record", action="store_true", help="also record the internal states")
    p.add_argument("--out", required=True, type=Path)


def main(args) -> int:
    import numpy as np

    from neuromorph.backends.base import backend_for_device
    from neuromorph.backends.xylo.spec import load_spec  # the spec file format this command reads
    from neuromorph.artifacts import atomic_write_bytes

    path = args.spec / "spec.npz" if args.spec.is_dir() else args.spec
    spec = load_spec(path, device=args.device)
    backend = backend_for_device(spec.device)
    if not args.input.is_file():
        raise FileNotFoundError(f"input raster not found: {args.input}")
    try:
        raster = np.load(args.input, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"{args.input}: not a plain .npy array ({exc})") from None
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
    payload = backend.emulate(spec, raster, record=args.record)  # "output" + the states when recorded
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "record.npz", lambda fh: np.savez(fh, **payload))
    print(f"{raster.shape[0]} steps, {int(payload['output'].sum())} output events; wrote {args.out / 'record.npz'}")
    return 0
