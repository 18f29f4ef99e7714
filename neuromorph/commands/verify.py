"""neuromorph verify QDIR --out DIR"""
from __future__ import annotations

from pathlib import Path

HELP = "verify a deployment: float vs fake-quant vs emulator vs Rockpool XyloSim"
DESCRIPTION = """Run one test signal through the float reference, the fake-quant model, the bit-exact
emulator and Rockpool's XyloSim. Writes verify.json (error_float, error_fake_quant, error_emulated,
emulator_matches_xylosim, saturation events, per-neuron rate differences), report.md and PNGs.

Exit status: 0 when the emulator and XyloSim agree exactly, 1 when they differ, 2 on bad input."""


def add_arguments(p) -> None:
    p.add_argument("qdir", type=Path, help="output directory of 'neuromorph quantize'")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=10_000, help="length of the test signal (time steps)")
    p.add_argument("--no-xylosim", action="store_true", help="skip the Rockpool XyloSim comparison")
    p.add_argument("--data", type=Path, default=None, metavar="RASTER.npy",
                   help="for a QDIR made from a NIR graph: input events (time steps x inputs, integers 0..15); "
                        "default a Bernoulli raster of --steps steps")


def main(args) -> int:
    from neuromorph.stages.verify import verify

    if args.steps < 100:
        raise ValueError(f"--steps must be >= 100, got {args.steps}")
    if (args.qdir / "model.nir").is_file():  # quantized from a NIR graph (neuromorph.backends.nir_import)
        from neuromorph.stages.nir_model import verify_nir

        res = verify_nir(args.qdir, args.out, seed=args.seed, test_steps=args.steps, data=args.data,
                         with_xylosim=not args.no_xylosim)
        print(f"NIR reference vs chip: spike agreement {res['spike_agreement']:.4g}, rate "
              f"{res['rate_nir_hz']:.4g} / {res['rate_chip_hz']:.4g} Hz, readout correlation "
              f"{res['readout_correlation']} | emulator == XyloSim: {res['emulator_matches_xylosim']}")
        print(f"wrote {args.out / 'verify.json'} and {args.out / 'report.md'}")
        return 1 if res["emulator_matches_xylosim"] is False else 0
    if args.data is not None:
        raise ValueError("--data applies to a QDIR quantized from a NIR graph (holding model.nir)")
    res = verify(args.qdir, args.out, seed=args.seed, test_steps=args.steps, with_xylosim=not args.no_xylosim)
    em = res.get("error_emulated")
    print(f"error float {res['error_float']:.4g} | fake-quant {res['error_fake_quant']:.4g} | emulated "
          f"{'n/a' if em is None else format(em, '.4g')} | emulator == XyloSim: {res['emulator_matches_xylosim']}")
    print(f"wrote {args.out / 'verify.json'} and {args.out / 'report.md'}")
    return 1 if res["emulator_matches_xylosim"] is False else 0
