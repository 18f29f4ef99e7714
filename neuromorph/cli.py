"""The ``neuromorph`` command line.

Every sub-command writes into ``--out`` and its output directory is the next stage's input:
``train``/``reproduce`` → ``quantize`` → ``deploy``/``emulate`` → ``verify``; ``pipeline`` runs
them all.  User errors (bad files, shapes, configs) print one line ``neuromorph: error: …`` and
exit with status 2; no traceback.
"""
from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from contextlib import contextmanager
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


# commands that can continue an interrupted --out (--resume)
RESUMABLE = {"study", "pipeline"}
#: commands whose --out is one file (written atomically), not a directory
FILE_OUTPUT = {"encode"}
# extra flags of the output/fit policy (neuromorph.outdir, neuromorph.input_checks), per command
POLICY_FLAGS = {
    "quantize": (("--report-only", "write only the report (quantization.json/.md); exit 2 if the network does "
                                   "not fit"),
                 ("--allow-unfit", "keep the full output of a network that does not fit the target (exit 1)")),
    "verify": (("--allow-unfit", "verify a QDIR whose network does not fit its target"),),
    "deploy": (("--allow-unfit", "deploy a QDIR whose network does not fit its target"),),
    "emulate": (("--clip", "clip input event counts above the chip's limit (and say how many) instead of "
                           "refusing them"),),
}


class UserError(Exception):
    """An error caused by the user's input: reported as one line, exit status 2."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM: the command stops in order (exit status 128 + signal number)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signum)
        self.signum = int(signum)


def _user_error_types() -> tuple:
    return (UserError, ValueError, FileNotFoundError, KeyError, PermissionError, IsADirectoryError,
            NotADirectoryError)


#: neuromorph.sim.rng.STREAMS, spelled here so building the parser imports no numba code
NOISE_STREAMS = ("serial", "counter")


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
    p.add_argument("--frontend", metavar="DEVICE", default=None,
                   help="fig5 only: the speech goes through this chip's audio front-end (xylo-audio-v2) and is "
                        "deployed on it (docs/speech_on_xylo.md)")
    p.add_argument("--noise-stream", choices=NOISE_STREAMS, default=None,
                   help="the simulators' random stream: serial (xoshiro256**, the default: every earlier result "
                        "bit for bit) or counter (indexed and vectorised, a different draw of the same noise; "
                        "docs/speed.md); also the environment variable NEUROMORPH_NOISE_STREAM")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    _add_policy_arguments(p, "reproduce")


def _add_policy_arguments(p: argparse.ArgumentParser, name: str) -> None:
    """--force (and --resume, and the command's fit/clip flags) for every command with --out."""
    if not any("--out" in a.option_strings for a in p._actions):
        return
    p.add_argument("--force", action="store_true",
                   help="replace an existing non-empty --out (kept until this run completes)")
    if name in RESUMABLE:
        p.add_argument("--resume", action="store_true",
                       help="continue an interrupted run in --out, reusing what it finished")
    for flag, text in POLICY_FLAGS.get(name, ()):
        p.add_argument(flag, action="store_true", help=text)


def _command_in(argv: Sequence[str]) -> Optional[str]:
    """The sub-command named by ``argv`` (its first word not starting with '-'), if it is one."""
    for a in argv:
        if not a.startswith("-"):
            return a if a in COMMANDS or a == "reproduce" else None
    return None


def build_parser(only: Optional[str] = None) -> argparse.ArgumentParser:
    """The full parser; ``only``: a command name whose module alone is imported (the others are
    listed by name only). Importing every command's module costs seconds (torch, scipy, the
    numba caches of the chip arithmetic), which a run of one command need not pay."""
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
        if only is not None and name != only:
            sub.add_parser(name)  # placeholder: keeps the name in argparse's choices
            continue
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name == modname:
                continue  # command not available in this build
            raise
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        _add_policy_arguments(p, name)
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
    if getattr(args, "frontend", None) is not None:
        if "frontend" not in inspect.signature(mod.run).parameters:
            raise UserError(f"--frontend is not an option of {args.figure} (only fig5 runs through a chip's front-end)")
        extra["frontend"] = args.frontend
    import contextlib

    from neuromorph.sim.rng import default_stream, noise_stream

    chosen = getattr(args, "noise_stream", None)
    try:
        stream = chosen or default_stream()  # the flag's, else NEUROMORPH_NOISE_STREAM's, else serial
    except ValueError as exc:
        raise UserError(str(exc)) from None
    args._outrun.extra["figure"] = args.figure
    args._outrun.extra["noise_stream"] = stream
    with noise_stream(chosen) if chosen else contextlib.nullcontext():  # (restored after: main() may be called again)
        metrics = mod.run(args.out, seed=args.seed, iterations=args.iterations, quick=args.quick,
                          progress=not args.no_progress, **extra)
    metrics.setdefault("provenance", provenance(seed=args.seed))
    write_json(Path(args.out) / "metrics.json", metrics)
    importlib.import_module(REPORT_MODULE).write_report(args.out, metrics)
    print(f"wrote {Path(args.out) / 'metrics.json'} and report.md")
    return 0


def _options(args) -> dict:
    """The options a run was made with (hashed into its manifest)."""
    skip = {"out", "force", "resume", "no_progress", "command"}
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in sorted(vars(args).items())
            if not k.startswith("_") and k not in skip}


def _input_paths(args) -> list:
    return [v for k, v in vars(args).items() if isinstance(v, Path) and k != "out"]


def _with_out(args, kind: str, work) -> int:
    """Run ``work()`` under the output-directory policy (neuromorph.outdir): inputs and --out
    checked before any work, the directory marked complete (manifest.json) only at the end."""
    from neuromorph import input_checks, outdir

    out = getattr(args, "out", None)
    if out is None or getattr(args, "show_config", False):
        return work()
    input_checks.check_inputs(kind, args)
    if kind in FILE_OUTPUT:
        outdir.check_out_file(Path(out), force=args.force, inputs=_input_paths(args))
        return work()
    resume = bool(getattr(args, "resume", False))
    outdir.check_out(out, force=args.force, resume=resume, can_resume=kind in RESUMABLE, kind=kind,
                     inputs=_input_paths(args))
    run = outdir.OutputRun(Path(out), kind, force=args.force, resume=resume,
                           command=["neuromorph", *args._argv], config=_options(args))
    args._outrun = run
    run.begin()
    try:
        rc = work()
    except BaseException as exc:
        # an interrupted resumable run keeps what it finished, for --resume; anything else leaves
        # no trace (and puts back what --force was replacing)
        run.abort(keep_partial=kind in RESUMABLE and isinstance(exc, KeyboardInterrupt))
        raise
    if run._began:
        run.extra["exit_status"] = rc
        run.commit()
    return rc


@contextmanager
def _signals_interrupt():
    """SIGTERM (a batch system, a container stop) stops a command like SIGINT does."""
    def handler(signum, frame):  # noqa: ARG001
        raise Interrupted(signum)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)


def _quiet_broken_pipe() -> None:
    # the reader went away (`neuromorph targets --json | head`): say nothing more, anywhere
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def main(argv: Optional[Sequence[str]] = None) -> int:
    # headless: the CLI only writes PNG files (set before matplotlib is imported, which only the
    # commands that draw figures do)
    if "matplotlib" in sys.modules:
        sys.modules["matplotlib"].use("Agg")
    else:
        os.environ["MPLBACKEND"] = "Agg"
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_command_in(argv))
    args = parser.parse_args(argv)
    args._argv = argv
    if args.version:
        from neuromorph import __version__

        print(f"neuromorph {__version__}")
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    try:
        with _signals_interrupt():
            if args.command == "reproduce":
                return _with_out(args, "reproduce", lambda: _run_reproduce(args))
            return _with_out(args, args.command, lambda: int(args._main(args) or 0))
    except BrokenPipeError:
        _quiet_broken_pipe()
        return 128 + signal.SIGPIPE
    except _user_error_types() as exc:
        msg = exc.args[0] if (isinstance(exc, KeyError) and exc.args) else str(exc)
        msg = " ".join(str(msg).split("\n")[0].split()) if msg else type(exc).__name__
        print(f"neuromorph: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        name = signal.Signals(signum).name
        kept = " (finished work kept in --out; rerun with --resume)" if args.command in RESUMABLE and \
            getattr(args, "out", None) is not None and Path(args.out).exists() else ""
        print(f"neuromorph: interrupted ({name}){kept}", file=sys.stderr)
        return 128 + signum


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
