"""Checks a command makes on its inputs before the first expensive step, and the fit-failure path.

Each check names what the user typed (the flag, the key, the file) and ends in a ``ValueError``
subclass, reported by the CLI as one line with exit status 2 (docs/backends.md for the limits the
fit check applies).  :func:`check_inputs` is called by ``neuromorph.cli`` for every command
before ``--out`` is touched; the others are called by the command modules at their edges.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from neuromorph.outdir import IncompleteRunError, read_manifest, require_complete, require_file_complete

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"

#: ``quantize --set`` keys the quantize stage does not act on (the target accepts them, the
#: result would not change): field -> why.  (``dt`` is acted on: the chip step,
#: :mod:`neuromorph.quant.chip_step`.)
IGNORED_BY_QUANTIZE = {
    "state_bits": "the fake-quant model does not simulate the state width (the emulator of a Xylo device does, "
                  "at the device's own width)",
    "state_saturating": "the fake-quant model does not simulate state saturation",
    "max_hidden_events": "the fake-quant model does not limit hidden events per step",
    "max_output_events": "the fake-quant model does not limit output events per step",
}

#: violations shown in the one-line fit-failure message (the rest are in the report)
FIT_SHOWN = 3


class FitFailure(ValueError):
    """The network does not fit the target (a user error: choose a bigger target or a smaller network)."""


class InputFileError(ValueError):
    """A user file that is not what the command reads."""


# ------------------------------------------------------------------------------ files

def load_npy(path: Union[str, Path], flag: str) -> np.ndarray:
    """Read a plain numeric ``.npy`` array given with ``flag``.

    Raises
    ------
    FileNotFoundError
        no such file.
    InputFileError
        a text file (CSV), another binary, an NPZ, pickled objects or a truncated file — the
        message says which, and what to pass instead.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{flag} {p}: file not found")
    if not p.is_file():
        raise InputFileError(f"{flag} {p} is a directory; pass a .npy array file")
    with open(p, "rb") as fh:
        head = fh.read(64)
    if head.startswith(_ZIP_MAGIC):
        raise InputFileError(f"{flag} {p.name} is an .npz archive; pass a single .npy array (np.save)")
    if not head.startswith(_NPY_MAGIC):
        try:
            head.decode("utf-8")
            text = True
        except UnicodeDecodeError:
            text = False
        if text:
            raise InputFileError(f"{flag} {p.name} is a text file; pass a .npy array, e.g. "
                                 f"np.save('{p.stem}.npy', np.loadtxt('{p.name}', delimiter=','))")
        raise InputFileError(f"{flag} {p.name} is not a NumPy .npy file (no .npy header); pass a .npy array")
    from neuromorph.arrayfile import ArrayFileError, check_npy

    try:
        check_npy(p)
        a = np.load(p, allow_pickle=False)
    except ArrayFileError as exc:
        raise InputFileError(f"{flag} {exc}") from None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise InputFileError(f"{flag} {p.name} holds Python objects (dtype object); pass a numeric array") from None
        raise InputFileError(f"{flag} {p.name}: damaged .npy file ({str(exc).splitlines()[0]})") from None
    except (OSError, EOFError) as exc:
        raise InputFileError(f"{flag} {p.name}: truncated or damaged .npy file ({type(exc).__name__})") from None
    if a.dtype.kind not in "biuf":
        raise InputFileError(f"{flag} {p.name} has dtype {a.dtype}; pass real numbers")
    return a


def check_event_counts(raster: np.ndarray, limit: Optional[int], *, clip: bool, flag: str = "--input",
                       name: str = "raster") -> tuple[np.ndarray, int, int]:
    """Refuse (or with ``clip`` clip) event counts above the chip's per-channel, per-step limit.

    Parameters
    ----------
    raster : (T, M) or (trials, T, M) non-negative integer event counts.
    limit : the target's ``max_input_events`` (None: unlimited).
    clip : clip instead of refusing.

    Returns
    -------
    (raster, entries clipped, events removed)
    """
    if limit is None:
        return raster, 0, 0
    over = raster > limit
    n = int(over.sum())
    if not n:
        return raster, 0, 0
    if not clip:
        idx = tuple(int(i) for i in np.argwhere(over)[0])
        where = ", ".join(f"{k} {i}" for k, i in zip(("trial", "step", "channel")[-len(idx):], idx))
        raise InputFileError(f"{flag} {name}: {n} entries exceed the chip's {limit} events per channel per step "
                             f"(first: {where}, {int(raster[idx])} events); lower them or pass "
                             "--clip to clip them")
    removed = int((raster[over] - limit).sum())
    return np.minimum(raster, limit), n, removed


# ------------------------------------------------------------------------------ stage inputs

def _network_files(d: Path) -> list[str]:
    return sorted(p.name for p in d.glob("*network*.npz") if p.is_file())


def check_run_input(run: Union[str, Path]) -> None:
    """``quantize RUN``: a finished train/reproduce directory holding network.npz, or a network file."""
    p = Path(run)
    if not p.exists():
        raise FileNotFoundError(f"run directory not found: {p}")
    if p.is_file():
        require_file_complete(p)
        return
    try:
        m = require_complete(p, ("train", "reproduce"), what="run directory")
    except IncompleteRunError:
        m = read_manifest(p) if (p / "manifest.json").is_file() else None
        if m is not None and m.get("kind") == "pipeline" and (p / "train").is_dir():
            raise IncompleteRunError(f"{p} is a pipeline run; its network is in {p / 'train'}: pass that") from None
        raise
    if not (p / "network.npz").is_file():
        nets = _network_files(p)
        what = f"'reproduce {m['figure']}'" if m.get("figure") else _kind_text(m.get("kind"))
        if nets:
            raise InputFileError(f"{p} ({what} run) holds no network.npz but {', '.join(nets)}: pass one of "
                                 f"these files, e.g. {p / nets[0]}")
        raise InputFileError(f"{p} ({what} run) holds no network.npz")


def _kind_text(kind: Any) -> str:
    return f"'{kind}'"


def qdir_report(qdir: Path) -> dict:
    """The QDIR's quantization.json ({} when absent or unreadable — the stage reports that)."""
    try:
        rep = json.loads((qdir / "quantization.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return rep if isinstance(rep, dict) else {}


def check_qdir(qdir: Union[str, Path], *, allow_unfit: bool, command: str) -> None:
    """``verify``/``deploy QDIR``: a finished quantize directory whose network fits its target
    (unless ``--allow-unfit``)."""
    q = Path(qdir)
    require_complete(q, "quantize", what="quantization directory")
    fit = qdir_report(q).get("fit_check")
    if isinstance(fit, dict) and fit.get("ok") is False and not allow_unfit:
        raise FitFailure(f"{q}: the network does not fit {fit.get('target', 'its target')} "
                         f"({fit.get('n_violations', len(fit.get('violations', [])))} violations, "
                         f"see {q / 'quantization.md'}); pass --allow-unfit to {command} it anyway")


def fit_message(fit: dict, where: str = "") -> str:
    """One line: the target, how many violations, the first :data:`FIT_SHOWN` of them."""
    vs = fit.get("violations", [])
    shown = "; ".join(v.get("message", str(v)) for v in vs[:FIT_SHOWN])
    more = f"; … {len(vs) - FIT_SHOWN} more" if len(vs) > FIT_SHOWN else ""
    return f"the network does not fit {fit.get('target', 'the target')} ({len(vs)} violations): {shown}{more}{where}"


# ------------------------------------------------------------------------------ command options

def check_quantize_options(args) -> None:
    """``quantize`` options that would be ignored or are out of range, named as typed."""
    steps = getattr(args, "adapt_steps", None)
    if steps is not None and steps < 0:
        raise ValueError(f"--adapt-steps must be >= 0 time steps, got {steps} (0: no retraining)")
    mu = getattr(args, "adapt_mu", None)
    if mu is not None:
        if not mu >= 0:  # also NaN
            raise ValueError(f"--adapt-mu must be a spike cost >= 0, got {mu:g}")
        if steps == 0 or getattr(args, "adapt", "auto") == "off":  # never silently ignored
            raise ValueError("--adapt-mu sets the spike cost of retraining, but "
                             + ("--adapt-steps 0" if steps == 0 else "--adapt off") + " retrains nothing; drop one")
    mode = getattr(args, "adapt_mode", None)
    if mode is not None:
        from neuromorph.quant.integer_training import ADAPT_MODES

        if mode not in ADAPT_MODES:  # one line (an argparse choice would print the whole usage)
            raise ValueError(f"--adapt-mode must be one of {', '.join(ADAPT_MODES)}, got {mode!r}")
    for item in getattr(args, "set", []) or []:
        key = item.split("=", 1)[0].strip()
        if key in IGNORED_BY_QUANTIZE:
            raise ValueError(f"--set {key}: not a quantize setting ({IGNORED_BY_QUANTIZE[key]})")


def after_quantize(rep: dict, args) -> None:
    """The fit-failure path of ``quantize``, called with the stage's report.

    With ``--report-only`` the output is cut down to the report.  A network that does not fit is
    a user error (nothing kept but, with ``--report-only``, the report) unless ``--allow-unfit``.
    """
    import sys

    run = getattr(args, "_outrun", None)
    report_only = bool(getattr(args, "report_only", False))
    if report_only and run is not None:
        run.prune_to({"quantization.json", "quantization.md"})
        run.kind = "quantize-report"
    fit = rep.get("fit_check", {})
    if fit.get("ok", True):
        return
    if getattr(args, "allow_unfit", False):
        print(f"neuromorph: warning: {fit_message(fit)}", file=sys.stderr)
        return
    if report_only and run is not None:
        run.commit()
        raise FitFailure(fit_message(fit, f"; the full report: {Path(args.out) / 'quantization.md'}"))
    raise FitFailure(fit_message(fit, "; nothing written (pass --report-only to write the full report)"))


def check_inputs(command: str, args) -> None:
    """Every input check that can run before ``--out`` is touched, per command."""
    if command == "quantize":
        check_quantize_options(args)
        check_run_input(args.run_dir)
    elif command in ("verify", "deploy"):
        check_qdir(args.qdir, allow_unfit=bool(getattr(args, "allow_unfit", False)), command=command)
    elif command == "emulate":
        if Path(args.spec).is_file():
            require_file_complete(args.spec)
    elif command == "study":
        from neuromorph.stages.study_nir import resolve_study  # a study file, or MODEL.nir with its options

        resolve_study(args.study, target=getattr(args, "target", None), method=getattr(args, "method", None),
                      dt=getattr(args, "dt", None), data=getattr(args, "data", None))
    elif command == "pipeline":
        from neuromorph.config import load_config

        ov = {k: v for k, v in (("seed", getattr(args, "seed", None)), ("quantize.target", getattr(args, "target", None)))
              if v is not None}
        load_config(args.config, ov)


__all__ = ["FitFailure", "IGNORED_BY_QUANTIZE", "InputFileError", "after_quantize", "check_event_counts",
           "check_inputs", "check_qdir", "check_quantize_options", "check_run_input", "fit_message", "load_npy"]
