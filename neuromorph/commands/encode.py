"""neuromorph encode QDIR --data FILE --out RASTER.npy"""
from __future__ import annotations

from pathlib import Path

HELP = "turn a signal into the input events the deployed chip expects"
DESCRIPTION = """Encode a data file into the deployed chip's input raster.

The signal (.npy (T, M) or (trials, T, M), .npz, .csv, .wav) is scaled with the run's scaling,
resampled to the network's step and sigma-delta encoded exactly as 'verify' does it. RASTER.npy
gets int64 event counts, one row per chip step: (T, 2M) — channel 2j carries the positive part
of signal dimension j, 2j+1 the negative part — or (trials, T, 2M). RASTER.json beside it
records the file's sample step and length, so that 'neuromorph emulate QDIR --input RASTER.npy'
writes the decoded estimate on the file's own rows and in its units."""


def add_arguments(p) -> None:
    p.add_argument("qdir", type=Path, help="output directory of 'neuromorph quantize' (a Xylo target)")
    p.add_argument("--data", required=True, type=Path, metavar="FILE", help="the signal to encode")
    p.add_argument("--dt", type=float, metavar="SECONDS", help="sample step of FILE when the file does not state one")
    p.add_argument("--out", required=True, type=Path, metavar="RASTER.npy", help="raster file to write")


def main(args) -> int:
    from neuromorph.stages.chip_io import encode_file, load_chip, write_raster

    if args.out.suffix != ".npy":
        raise ValueError(f"--out must name a .npy file, got {args.out.name}")
    if not args.out.parent.is_dir():
        raise FileNotFoundError(f"directory of --out not found: {args.out.parent}")
    chip = load_chip(args.qdir)
    raster, meta = encode_file(chip, args.data, dt=args.dt)
    write_raster(args.out, raster, meta)
    steps = raster.shape[-2]
    print(f"{meta['source']}: {meta['trials']} trial(s) x {steps} chip steps x {raster.shape[-1]} input channels, "
          f"{int(raster.sum())} events ({raster.sum() / (steps * meta['trials']):.3g} per step), at most "
          f"{int(raster.max())} per channel and step; wrote {args.out} and {args.out.with_suffix('.json').name}")
    return 0
