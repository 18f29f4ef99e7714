"""neuromorph study STUDY.yaml|MODEL.nir --out DIR [--scheduler ADDR|synchronous] [--workers N]"""
from __future__ import annotations

from pathlib import Path

HELP = "run a robustness study (parameter grid x seeds) on Dask, resumable"
DESCRIPTION = """Run every point of a study's parameter grid, several seeded repetitions each, on Dask.

STUDY.yaml fields: name, kind (toy, quantization, fig7 or 'package.module:function'), base
(fixed parameters), sweep (parameter: [values]; the grid is their Cartesian product), zip
(parameters swept together instead of crossed), repetitions (seeds per point), seed, metric
(plotted; default the first one).  Example: neuromorph/studies/toy.yaml.

MODEL.nir: a network from another tool (a recurrent LIF/CubaLIF NIR graph, as for
'neuromorph quantize MODEL.nir'): runs the built-in study neuromorph/studies/nir_bits_mismatch.yaml
(weight bits x mismatch x 4 seeds) on it: each point maps the graph onto --target (default
xylo-audio-v2) with --method (global or channel), perturbs the integer weights, and compares the
emulated chip with the graph's NIR semantics on --data (an input raster .npy) or a default
Bernoulli raster: spike agreement, rates, readout correlation.  For another grid write a study
file of kind 'nir' with base.model set (docs/interop.md).

DIR receives points/<task>.json (one file per finished task, written as it arrives),
results.parquet and results.csv (one row per task: parameters, repetition, seed, metrics,
status ok/error, wall time, worker, version), study.json (definition, counts, scheduler,
provenance) and fig_<metric>_vs_<param>.png (mean +- sd over repetitions).

Resume: rerun the same command with --resume after an interruption, a crash or a kill (even
kill -9): finished tasks are read back from DIR/points, not recomputed; tasks that ended in an error are
retried.  Extending a sweep reuses every task already done, since seeds depend only on the
repetition.  A failing point does not stop the study: it is recorded with status 'error'.

Where it runs: by default a local Dask cluster (--workers processes, one thread each, on
127.0.0.1, no dashboard).  --scheduler synchronous runs in this process (for debugging).
When you outgrow one machine: start 'dask scheduler' on a head node, 'dask worker
tcp://HEAD:8786' on the others (each with neuromorph installed), then pass
--scheduler tcp://HEAD:8786; results still land in DIR on this machine.

Exit status: 0 all tasks ok, 1 some tasks failed (see the 'error' column), 2 invalid study or
arguments, 130 interrupted (finished tasks are kept)."""


def add_arguments(p) -> None:
    p.add_argument("study", type=Path, help="study definition (YAML), or a NIR graph MODEL.nir (the built-in grid)")
    p.add_argument("--out", required=True, type=Path, help="output directory (created; reuse it to resume)")
    p.add_argument("--scheduler", default=None, metavar="ADDR|synchronous",
                   help="Dask scheduler address (tcp://host:8786) or 'synchronous'; default: a local cluster")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes of the local cluster (default 2)")
    p.add_argument("--connect-timeout", type=float, default=None, metavar="S",
                   help="seconds to wait for --scheduler to answer (default 5)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    nir_opts = p.add_argument_group("MODEL.nir only")
    nir_opts.add_argument("--target", default=None, help="Xylo target (default xylo-audio-v2)")
    nir_opts.add_argument("--method", choices=("global", "channel"), default=None,
                          help="integer mapping (default global)")
    nir_opts.add_argument("--dt", type=float, default=None, metavar="S",
                          help="time step in seconds when the graph does not state one")
    nir_opts.add_argument("--data", type=Path, default=None, metavar="RASTER.npy",
                          help="input events (T, Nin) for calibration and comparison (default: Bernoulli raster)")


def main(args) -> int:
    from neuromorph.stages.study import DEFAULT_CONNECT_TIMEOUT_S, StudyError, run_study, summary
    from neuromorph.stages.study_nir import resolve_study

    timeout = DEFAULT_CONNECT_TIMEOUT_S if args.connect_timeout is None else args.connect_timeout
    if timeout <= 0:
        raise StudyError(f"--connect-timeout must be > 0 seconds, got {args.connect_timeout}")
    study = resolve_study(args.study, target=args.target, method=args.method, dt=args.dt, data=args.data)
    # SIGTERM (a batch system's stop) is turned into an orderly interrupt by neuromorph.cli: the
    # local cluster is shut down and everything finished so far stays on disk for --resume.
    df = run_study(study, args.out, scheduler=args.scheduler, n_workers=args.workers,
                   progress=not args.no_progress, connect_timeout=timeout)
    info = summary(args.out)
    c, s = info["counts"], info["scheduler"]
    where = {"synchronous": "in-process", "local": f"local cluster ({s['n_workers']} workers)",
             "remote": f"scheduler {s['address']}", "none": "nothing to run"}[s["mode"]]
    print(f"{study.name}: {c['tasks']} tasks ({c['reused']} reused, {c['computed']} computed, "
          f"{c['error']} failed) in {info['wall_s']:.1f} s on {where}; wrote {args.out}")
    if c["error"]:
        first = df.loc[df["status"] == "error", "error"].iloc[0]
        print(f"first error: {first}")
        return 1
    return 0
