"""neuromorph verify QDIR --out DIR"""
from __future__ import annotations

from pathlib import Path

HELP = "verify a deployment: float vs fake-quant vs emulator vs Rockpool XyloSim"
DESCRIPTION = """Run your test signal through the float reference, the fake-quant model, the bit-exact
emulator and Rockpool's XyloSim.

The test signal is --data FILE (.npy (T, M) or (trials, T, M), .npz, .csv, .wav; scaled with the
run's scaling and resampled to the network's step), by default the run's held-out split kept in
QDIR; white noise (--steps) only for a run trained without data.

Writes verify.json (error_float, error_fake_quant, error_emulated, rate_float_hz,
rate_emulated_hz, input_events_clipped_fraction, emulator_matches_xylosim, per-channel errors
(normalised, and RMSE in the data's units), saturation events), report.md, reconstruction.png
and the estimates decoded_emulated.npy (the chip's), decoded_float.npy, decoded_fake_quant.npy
with signal.npy: in the units of the data file, the file's shape and sample step — row t is the
estimate of the file's row t — so normalized_error(file, decoded_emulated.npy) is error_emulated.

Exit status: 0 when the emulator and XyloSim agree exactly, 1 when they differ, 2 on bad input."""


def add_arguments(p) -> None:
    p.add_argument("qdir", type=Path, help="output directory of 'neuromorph quantize'")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", type=Path, metavar="FILE",
                   help="test on this data file (default: the run's held-out split); for a QDIR made from a NIR "
                        "graph: the input events RASTER.npy (time steps x inputs, integers 0..15; default a "
                        "Bernoulli raster of --steps steps)")
    p.add_argument("--dt", type=float, metavar="SECONDS", help="sample step of FILE when the file does not state one")
    p.add_argument("--steps", type=int, default=10_000,
                   help="length of the white-noise test signal of a run without data (time steps)")
    p.add_argument("--no-xylosim", action="store_true", help="skip the Rockpool XyloSim comparison")


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
    if args.dt is not None and args.data is None:
        raise ValueError("--dt gives the sample step of a --data file; pass --data FILE too")
    res = verify(args.qdir, args.out, seed=args.seed, test_steps=args.steps, with_xylosim=not args.no_xylosim,
                 data=args.data, data_dt=args.dt)
    em = res.get("error_emulated")
    rate = res.get("rate_emulated_hz")
    sig = res.get("signal")
    src = sig.get("source", "test signal") if isinstance(sig, dict) else (sig or "test signal")
    print(f"{src}: error float {res['error_float']:.4g} | fake-quant {res['error_fake_quant']:.4g} | "
          f"emulated {'n/a' if em is None else format(em, '.4g')} | rate float {res['rate_float_hz']:.3g} Hz, emulated "
          f"{'n/a' if rate is None else format(rate, '.3g') + ' Hz'} | emulator == XyloSim: {res['emulator_matches_xylosim']}")
    if res.get("chip_vs_float", {}).get("error_ratio") is not None:
        from neuromorph.stages.on_data import fidelity_line

        print(fidelity_line(res["chip_vs_float"]))
    print(f"wrote {args.out / 'verify.json'} and {args.out / 'report.md'}")
    return 1 if res["emulator_matches_xylosim"] is False else 0
