"""neuromorph quantize RUN_DIR|MODEL.nir --target NAME_OR_YAML --out QDIR"""
from __future__ import annotations

from pathlib import Path

from neuromorph.quant.calibration import DEFAULT_MAX_CLIPPING

HELP = "map a learnt SCN onto a chip's fixed-point formats and report the cost"
DESCRIPTION = """Quantize the network of a 'reproduce'/'train' run for a target chip.

Calibration follows your data: the input gain, voltage and read-out scales, the chip adaptation
and every reported number come from the run's training split (RUN/data.npz, written by
'train --data'), or from --calibration FILE (scaled with the run's scaling, resampled to the
network's step); the built-in white noise is used only for a run without data. The fraction of
input events held back by the chip's per-step event limit is measured on the calibration signal
and on the run's held-out split: above 0.1 % a warning, above --max-clipping (default 0.01 = 1 %)
exit status 2 and nothing written.

QDIR receives quantized.npz (the integer network, versioned), spec.npz (the Rockpool-format
Xylo spec, for Xylo targets), a copy of the run's data.npz, quantization.json (target,
calibration source, error_float, error_quantized = fake-quant coding error, error_emulated,
rates, clipping, saturation_events, readout range, fit_check, per-class errors) and
quantization.md.

MODEL.nir: a recurrent LIF/CubaLIF NIR graph written by another tool (Rockpool, snnTorch, norse,
nir by hand); mapped with --method global (default for such graphs) or channel, or SCN-aware
when the graph is an SCN. QDIR then holds spec.npz, model.nir and the report (docs/interop.md).

Targets: a built-in name (see 'neuromorph targets') or the path of your own YAML file.
Parameterised targets take overrides, e.g. --target fixed-point --set weight_bits=4."""


def add_arguments(p) -> None:
    from neuromorph.config import TRI_STATE_CHOICES

    p.add_argument("run_dir", type=Path, help="output directory of 'reproduce'/'train' (holds network.npz), "
                                               "or a NIR graph MODEL.nir")
    p.add_argument("--target", required=True, help="target name or YAML path")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a parameter of a parameterised target (repeatable)")
    p.add_argument("--method", default="scn", choices=["scn", "global", "channel"],
                   help="scale choice: SCN-aware (default), global or per-neuron (Rockpool-style)")
    p.add_argument("--rounding", default="nearest", choices=["nearest", "stochastic"])
    p.add_argument("--mismatch", type=float, default=0.0, metavar="SIGMA",
                   help="also evaluate 20 device instances with this relative variation")
    p.add_argument("--adapt", default="auto", choices=TRI_STATE_CHOICES,
                   help="adapt to the chip's dynamics before mapping: inhibition-only recurrence, decoder refit "
                        "(auto: on for Xylo targets, which have no one-spike-per-step arbiter)")
    p.add_argument("--adapt-steps", type=int, default=None,
                   help="chip steps of local-rule retraining under the chip's dynamics on top of that (default: "
                        "auto = none unless the unretrained chip codes worse than 1.5x the float error on the "
                        "calibration signal, then 200000 if that lowers the error; 0: never; more steps: lower "
                        "error at more spikes, docs/chip_fidelity.md)")
    p.add_argument("--adapt-mode", default=None, metavar="{float,integer}",
                   help="how the retraining steps run: float (the local rules under a float model of the chip's "
                        "dynamics, then mapped) or integer (the rules on the integer network under the chip's "
                        "exact update, stochastic rounding on the weight grid); default: float "
                        "(docs/chip_fidelity.md)")
    p.add_argument("--adapt-mu", type=float, default=None, metavar="MU",
                   help="spike cost mu of the retraining's recurrent rule (default: the rule's own); a larger mu "
                        "trades error for fewer spikes (e.g. 1.5 on the 100-neuron sensor network, "
                        "docs/chip_fidelity.md)")
    p.add_argument("--calibration", type=Path, metavar="FILE",
                   help="calibrate on this data file (.npy/.npz/.csv/.wav) instead of the run's training split")
    p.add_argument("--dt", type=float, metavar="SECONDS",
                   help="sample step of the --calibration file when the file does not state one; for MODEL.nir, "
                        "the graph's time step (NIR has none; default: the graph's metadata, else tau/r)")
    p.add_argument("--max-clipping", type=float, default=DEFAULT_MAX_CLIPPING, metavar="FRACTION",
                   help="fail when more than this fraction of input events exceeds the per-step event limit "
                        "(default %(default)g)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, type=Path, help="output directory QDIR")
    if not any(a.dest == "data" for a in p._actions):  # a --data for run data may be defined above
        p.add_argument("--data", type=Path, default=None, metavar="RASTER.npy",
                       help="for a NIR graph: calibration input events (time steps x inputs, integers 0..15)")


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
    if args.run_dir.suffix == ".nir":  # a network from another tool (neuromorph.backends.nir_import)
        from neuromorph.stages.nir_model import quantize_nir

        if getattr(args, "adapt_mu", None) is not None:
            raise ValueError("--adapt-mu: not available for a NIR graph (it is mapped as imported, not retrained)")
        if getattr(args, "adapt_mode", None) is not None:
            raise ValueError("--adapt-mode: not available for a NIR graph (it is mapped as imported, not retrained)")

        rep = quantize_nir(args.run_dir, args.target, args.out, method=args.method, dt=args.dt, seed=args.seed,
                           target_overrides=parse_overrides(args.set), data=getattr(args, "data", None))
        if "error_float" in rep:  # imported as an SCN: the usual report
            print(f"{rep['target']}: error float {rep['error_float']:.4g}, quantized {rep['error_quantized']:.4g}; "
                  f"fit {'ok' if rep['fit_check']['ok'] else 'FAILED'}; wrote {args.out}")
        else:
            e = rep["quantization"]["relative_rms_error"]
            print(f"{rep['target']}: {rep['source']['imported_as']}, {rep['method']} scales "
                  f"({rep['method_note'] or 'as asked'}); weight rounding in/rec/out {e['w_in']:.3g}/"
                  f"{e['w_rec']:.3g}/{e['w_out']:.3g}; fit {'ok' if rep['fit_check']['ok'] else 'FAILED'}; "
                  f"wrote {args.out}")
        return 0 if rep["fit_check"]["ok"] else 1
    if not 0.0 <= args.max_clipping <= 1.0:
        raise ValueError(f"--max-clipping must be a fraction between 0 and 1, got {args.max_clipping:g}")
    if args.dt is not None and args.calibration is None:
        raise ValueError("--dt gives the sample step of a --calibration file; pass --calibration FILE too")
    if args.adapt_steps is not None and args.adapt_steps < 0:
        raise ValueError(f"--adapt-steps must be >= 0, got {args.adapt_steps}")
    from neuromorph.stages.quantize import DEFAULT_ADAPT_MODE

    mode = DEFAULT_ADAPT_MODE if args.adapt_mode is None else args.adapt_mode  # checked: input_checks
    rep = quantize_run(args.run_dir, args.target, args.out, seed=args.seed, mismatch=args.mismatch,
                       method=args.method, rounding=args.rounding, target_overrides=parse_overrides(args.set),
                       adapt=tri_state(args.adapt), adapt_steps=args.adapt_steps, calibration=args.calibration,
                       calibration_dt=args.dt, max_clipping=args.max_clipping, adapt_mode=mode,
                       adapt_mu=getattr(args, "adapt_mu", None),
                       allow_unfit=bool(getattr(args, "allow_unfit", False) or getattr(args, "report_only", False)))
    from neuromorph.input_checks import after_quantize

    after_quantize(rep, args)  # fit failure = user error; --report-only keeps just the report
    em = rep.get("error_emulated")
    clip = rep.get("input_events_clipped_fraction")
    src = rep.get("calibration", {}).get("source", "the run's training data")
    print(f"{rep['target']}, calibrated on {src}: error float {rep['error_float']:.4g}, "
          f"quantized {rep['error_quantized']:.4g}, emulated {'n/a' if em is None else format(em, '.4g')}; "
          f"rate float {rep['rate_float_hz']:.3g} Hz, emulated "
          f"{'n/a' if em is None else format(rep['rate_emulated_hz'], '.3g') + ' Hz'}; input clipped "
          f"{'n/a' if clip is None else format(clip, '.2%')}; "
          f"fit {'ok' if rep['fit_check']['ok'] else 'FAILED'}; wrote {args.out}")
    if rep.get("chip_vs_float", {}).get("error_ratio") is not None:
        from neuromorph.stages.on_data import fidelity_line

        print(fidelity_line(rep["chip_vs_float"]))
    return 0 if rep["fit_check"]["ok"] else 1
