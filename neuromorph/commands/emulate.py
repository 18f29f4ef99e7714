"""neuromorph emulate SPEC_OR_QDIR --input RASTER.npy [--decode QDIR] [--device DEV] [--record] --out DIR"""
from __future__ import annotations

from pathlib import Path

HELP = "run a Xylo spec bit-exactly on an input raster (and decode the read-out)"
DESCRIPTION = """Emulate the Xylo SNN core (bit-exact with Rockpool's XyloSim) on an input raster.

SPEC_OR_QDIR: a spec NPZ of Rockpool's XyloSim.from_specification keywords (plain arrays, no
pickle): written by 'quantize'/'deploy' (device from spec.meta.json beside it), or a plain
Rockpool NPZ (absent keys take Rockpool's defaults; --device names the chip, default
xylo-audio-v2); or a quantize output directory QDIR (its spec.npz is run and its read-out
decoded); or a deploy output directory holding spec.npz.
RASTER: integer array (time steps x input channels), or (trials x time steps x channels), in
.npy — e.g. from 'neuromorph encode QDIR --data FILE --out RASTER.npy'.

The network's estimate of the signal lives in the output neurons' membrane (they never fire):
with a QDIR (or a spec plus --decode QDIR) DIR/decoded.npy gets it, in the data's units, and —
when RASTER.json from 'encode' lies beside the raster — on the rows of the encoded data file
(row t estimates the file's row t). DIR/record.npz gets 'output' (time x outputs) and, with
--record, Spikes, Vmem, Isyn, Isyn2, Vmem_out, Isyn_out named and shaped as XyloSim records them
(a leading trial axis for a 3-D raster)."""


def add_arguments(p) -> None:
    p.add_argument("spec", type=Path, metavar="SPEC_OR_QDIR", help="spec .npz, or a quantize output directory")
    p.add_argument("--input", required=True, type=Path, help="input raster .npy ((trials x) T x Nin integers)")
    p.add_argument("--decode", type=Path, metavar="QDIR",
                   help="decode the read-out with this quantize output (implied when SPEC_OR_QDIR is a QDIR)")
    p.add_argument("--device", default=None,
                   help="chip of a plain Rockpool NPZ: xylo-audio-v2 (default), xylo-audio-v3, xylo-imu; "
                        "must agree with spec.meta.json when that exists")
    p.add_argument("--record", action="store_true", help="also record the internal states")
    p.add_argument("--out", required=True, type=Path)


def _load_raster(path: Path, n_in: int):
    import numpy as np

    if not path.is_file():
        raise FileNotFoundError(f"input raster not found: {path}")
    from neuromorph.input_checks import load_npy

    raster = load_npy(path, "--input")  # says what the file is when it is not a .npy array
    if raster.ndim not in (2, 3):
        raise ValueError(f"{path}: raster must be (time steps, input channels) or (trials, time steps, input "
                         f"channels), got shape {raster.shape}")
    if raster.shape[-1] != n_in:
        raise ValueError(f"{path}: raster has {raster.shape[-1]} channels, the spec has {n_in} inputs")
    if raster.dtype.kind not in "iub":
        if not np.all(np.isfinite(raster)) or np.any(raster != np.round(raster)):
            raise ValueError(f"{path}: raster must hold integer event counts")
        raster = raster.astype(np.int64)
    if np.any(raster < 0):
        raise ValueError(f"{path}: raster holds negative event counts")
    return raster


def main(args) -> int:
    import numpy as np

    from neuromorph.artifacts import atomic_write_bytes
    from neuromorph.backends.base import backend_for_device
    from neuromorph.backends.xylo.spec import load_spec  # the spec file format this command reads
    from neuromorph.stages.chip_io import decode_recordings, emulate_trials, load_chip, read_sidecar

    qdir = args.decode
    is_qdir = args.spec.is_dir() and (args.spec / "quantized.npz").is_file()
    if is_qdir:
        if qdir is not None and qdir.resolve() != args.spec.resolve():
            raise ValueError(f"{args.spec} is a quantize output directory; --decode {qdir} names another one")
        qdir = args.spec
    chip = load_chip(qdir) if qdir is not None else None
    if is_qdir:
        spec = chip.deployable
    else:
        spec = load_spec(args.spec / "spec.npz" if args.spec.is_dir() else args.spec, device=args.device)
    backend = backend_for_device(spec.device)
    raster = _load_raster(args.input, spec.n_in)
    # above the chip's per-step limit: refused, or with --clip clipped and counted (never silently)
    from neuromorph.backends.xylo.spec import device_target
    from neuromorph.input_checks import check_event_counts

    limit = device_target(spec.device).max_input_events
    raster, n_clipped, n_removed = check_event_counts(raster, limit, clip=getattr(args, "clip", False),
                                                      name=args.input.name)
    if n_clipped:
        print(f"--clip: {n_clipped} entries clipped to {limit} events ({n_removed} events removed)")
    if chip is not None and spec.n_out != chip.q.n_inputs:
        raise ValueError(f"--decode {qdir}: its network reads out {chip.q.n_inputs} signals, the spec has "
                         f"{spec.n_out} outputs")
    meta = read_sidecar(args.input) if chip is not None else None
    recs = emulate_trials(backend, spec, raster)
    decoded, where = decode_recordings(chip, recs, meta) if chip is not None else (None, "")
    keys = list(recs[0]) if args.record else ["output"]
    stack = (lambda k: recs[0][k]) if raster.ndim == 2 else (lambda k: np.stack([r[k] for r in recs]))
    payload = {k: stack(k) for k in keys}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "record.npz", lambda fh: np.savez(fh, **payload))
    if decoded is not None:
        atomic_write_bytes(args.out / "decoded.npy", lambda fh: np.save(fh, decoded))
    elif (args.out / "decoded.npy").exists():
        (args.out / "decoded.npy").unlink()  # stale estimate of an earlier run
    steps = raster.shape[-2] * len(recs)
    spikes = sum(int(np.asarray(r["Spikes"]).sum()) for r in recs)
    rate = spikes / (steps * spec.dt * spec.n_hidden)
    print(f"{len(recs)} trial(s), {steps} steps: {int(raster.sum())} input events, {spikes} hidden spikes "
          f"({rate:.3g} Hz per neuron over {spec.n_hidden} neurons)")
    if decoded is not None:
        lo, hi = decoded.reshape(-1, decoded.shape[-1]).min(0), decoded.reshape(-1, decoded.shape[-1]).max(0)
        print(f"decoded estimate {decoded.shape} ({where}), data units, range per channel: "
              + ", ".join(f"[{a:.4g}, {b:.4g}]" for a, b in zip(lo, hi)))
        print(f"wrote {args.out / 'decoded.npy'} and {args.out / 'record.npz'}")
    else:
        print(f"the estimate is the output neurons' membrane (they never fire): pass --decode QDIR to get it; "
              f"wrote {args.out / 'record.npz'}")
    return 0
