"""The ``neuromorph`` command line.

Every sub-command writes into ``--out`` and its output directory is the next stage's input:
``train``/``reproduce`` → ``quantize`` → ``deploy``/``emulate`` → ``verify``; ``pipeline`` runs
them all.  User errors (bad files, shapes, configs) print one line ``neuromorph: error: …`` and
exit with status 2; no traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Optional, Sequence

# name -> (module, one-line description); modules expose run(out, seed=, iterations=, quick=) -> dict
EXPERIMENTS = {
    "fig2": ("neuromorph.experiments.fig2", "20 neurons learn 2 white-noise signals (Fig 2)"),
    "fig3": ("neuromorph.experiments.fig3", "5 neurons: uncorrelated vs correlated inputs (Fig 3)"),
    "fig4": ("neuromorph.experiments.fig4", "EI network, 300 E + 75 I, Dale's law (Fig 4)"),
    "fig5": ("neuromorph.experiments.fig5", "100 neurons learn synthesised speech, 25 channels (Figs 5-6)"),
    "fig7": ("neuromorph.experiments.fig7", "robustness: size vs Poisson, sparsity, noise and delay (Fig 7)"),
    "fig8": ("neuromorph.experiments.fig8", "lesion and blocked plasticity (Fig 8)"),
}

# renders report.md of a reproduction; by name like the table above (the experiments are a leaf
# of the package that nothing imports)
REPORT_MODULE = "neuromorph.experiments.report"

# sub-command name -> module exposing add_arguments(parser) and main(args) -> int
COMMANDS = {
    "pipeline": "neuromorph.commands.pipeline",
    "train": "neuromorph.commands.train",
    "quantize": "neuromorph.commands.quantize",
    "deploy": "neuromorph.commands.deploy",
    "emulate": "neuromorph.commands.emulate",
    "encode": "neuromorph.commands.encode",
    "verify": "neuromorph.commands.verify",
    "targets": "neuromorph.commands.targets",
    "study": "neuromorph.commands.study",
}


class UserError(Exception):
    """An error caused by the user's input: reported as one line, exit status 2."""


def _user_error_types() -> tuple:
    return (UserError, ValueError, FileNotFoundError, KeyError, PermissionError, IsADirectoryError,
            NotADirectoryError)


def _add_reproduce(sub) -> None:
    p = sub.add_parser("reproduce", help="reproduce one of the paper's experiments",
                       description="Reproduce a figure of Brendel et al. 2020. Writes metrics.json, PNG "
                                   "figures and report.md (which of the paper's statements hold, the headline "
                                   "numbers) into --out.",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="experiments:\n" + "\n".join(f"  {k:6s} {v[1]}" for k, v in EXPERIMENTS.items()))
    p.add_argument("figure", choices=sorted(EXPERIMENTS), help="which experiment")
    p.add_argument("--out", required=True, type=Path, help="output directory (created)")
    p.add_argument("--seed", type=int, default=0, help="random seed (results are deterministic under it)")
    p.add_argument("--iterations", type=int, default=None,
                   help="learning length in blocks of the experiment's block size (default: the paper's full protocol)")
    p.add_argument("--quick", action="store_true", help="shortened protocol (minutes instead of hours)")
    p.add_argument("--repetitions", type=int, default=None,
                   help="independent repetitions (seeds SEED, SEED+1, ...) of each network; fig7 and fig8 only "
                        "(default: 2 for fig7, 10 for fig8, 1 with --quick)")
    p.add_argument("--workers", type=int, default=None,
                   help="networks (fig7) or repetitions (fig8) computed at once in separate processes; the "
                        "results do not depend on it (default 1)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neuromorph",
        description="Spike coding networks from learning to silicon: train SCNs with local plasticity "
                    "(Brendel et al. 2020), quantize them for a chip, emulate/verify them bit-exactly "
                    "against Rockpool's Xylo simulator.",
        epilog="Run 'neuromorph COMMAND --help' for a command's options. Main job: 'neuromorph pipeline --out DIR'.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_reproduce(sub)
    for name, modname in COMMANDS.items():
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name == modname:
                continue  # command not available in this build
            raise
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_main=mod.main)
    return parser


def _run_reproduce(args) -> int:
    from neuromorph.artifacts import provenance, write_json

    modname, _ = EXPERIMENTS[args.figure]
    try:
        mod = importlib.import_module(modname)
    except ModuleNotFoundError as exc:
        if exc.name == modname:
            raise UserError(f"experiment {args.figure!r} is not available in this build") from None
        raise
    if args.iterations is not None and args.iterations <= 0:
        raise UserError(f"--iterations must be a positive number of blocks, got {args.iterations}")
    import inspect

    extra = {}
    for name, value, why in (("repetitions", args.repetitions, "only fig7 and fig8 repeat networks"),
                             ("workers", args.workers, "only fig7 and fig8 train networks in parallel")):
        if value is None:
            continue
        if name not in inspect.signature(mod.run).parameters:
            raise UserError(f"--{name} is not an option of {args.figure} ({why})")
        if value < 1:
            raise UserError(f"--{name} must be >= 1, got {value}")
        extra[name] = value
    metrics = mod.run(args.out, seed=args.seed, iterations=args.iterations, quick=args.quick,
                      progress=not args.no_progress, **extra)
    metrics.setdefault("provenance", provenance(seed=args.seed))
    write_json(Path(args.out) / "metrics.json", metrics)
    importlib.import_module(REPORT_MODULE).write_report(args.out, metrics)
    print(f"wrote {Path(args.out) / 'metrics.json'} and report.md")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    import matplotlib

    matplotlib.use("Agg")  # headless: the CLI only writes PNG files
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from neuromorph import __version__

        print(f"neuromorph {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "reproduce":
            return _run_reproduce(args)
        return int(args._main(args) or 0)
    except _user_error_types() as exc:
        msg = exc.args[0] if (isinstance(exc, KeyError) and exc.args) else str(exc)
        print(f"neuromorph: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neuromorph: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
