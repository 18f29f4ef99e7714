"""Rockpool 3.1.0 compatibility layer for the Xylo devices, safe without SynSense's ``samna``.

Why this module exists
----------------------
* ``import rockpool.devices.xylo`` fails in rockpool 3.1.0 when the real ``samna`` is absent: the
  ``syns65302`` sub-package imports ``afe_samna_pdm`` and ``syns63300.power_cycles_model`` outside
  its ``try/except``, so *every* ``rockpool.devices.xylo.*`` import raises ``ModuleNotFoundError``.
* The ``samna`` distribution on PyPI is a tiny shim that runs ``pip install`` against an external
  index **when imported**. So we must never import ``samna`` unless it is the real binary package.

What it does
------------
* :func:`samna_available` detects the real samna from installed files only (no import). If only
  the shim is installed, :func:`import_xylo_module` blocks it (``sys.modules["samna"] = None``) so
  Rockpool's own ``import samna`` attempts fail at once instead of running pip.
* :func:`import_xylo_module` imports ``rockpool.devices.xylo.<name>``. Without samna it first
  registers *bare* package objects (correct ``__path__``, ``__init__`` not executed) for
  ``rockpool.devices.xylo`` (and ``syns65302`` when a sub-module of it is asked for), so the
  samna-free sub-packages (``syns61201``, ``syns63300``) import normally.
* :func:`xylosim_class` / :func:`xylosim_from_spec` build Rockpool's ``XyloSim`` (C++ ``xylosim``).
* :func:`config_from_spec` / :func:`deploy_to_hardware` need samna; without it they raise
  :class:`SamnaUnavailableError` with instructions.

Device names: ``"xylo-audio-v2"`` (SYNS61201), ``"xylo-audio-v3"`` (SYNS65302; its simulator *is*
the generic syns63300 ``XyloSim``), ``"xylo-imu"`` (SYNS63300).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import inspect
import os
import sys
from types import ModuleType
from typing import Any, Mapping

import numpy as np

__all__ = [
    "DEVICES",
    "SamnaUnavailableError",
    "samna_available",
    "import_xylo_module",
    "import_rockpool",
    "xylosim_class",
    "xylosim_from_spec",
    "config_from_spec",
    "deploy_to_hardware",
]

_XYLO_PKG = "rockpool.devices.xylo"

#: device name -> (simulator sub-package, hardware/config sub-package)
DEVICES: dict[str, tuple[str, str]] = {
    "xylo-audio-v2": ("syns61201", "syns61201"),
    "xylo-audio-v3": ("syns63300", "syns65302"),
    "xylo-imu": ("syns63300", "syns63300"),
}

_INSTALL_HINT = (
    "The real 'samna' is a binary package distributed by SynSense (see "
    "https://pypi.org/project/samna/ and https://synsense.gitlab.io/samna/ for supported "
    "platforms); install it on a machine with access to SynSense's package index "
    "(pip install samna --index-url <SynSense index>) and connect a Xylo HDK. The PyPI 'samna' "
    "wheel is only a ~2-15 kB shim that runs pip at import time; do not install it in CI."
)


class SamnaUnavailableError(RuntimeError):
    """Raised when an operation needs SynSense's real ``samna`` package and it is not installed."""


# --------------------------------------------------------------------------------------------
# samna detection (never imports samna)
# --------------------------------------------------------------------------------------------
_BINARY_SUFFIXES = (".so", ".pyd", ".dylib")


def _has_binary(paths: list[str]) -> bool:
    """True when any file below ``paths`` is a compiled extension (real samna ships a big one)."""
    for root in paths:
        if os.path.isfile(root):
            if root.endswith(_BINARY_SUFFIXES) or ".so." in root:
                return True
            continue
        for dirpath, _dirs, files in os.walk(root):
            if any(f.endswith(_BINARY_SUFFIXES) or ".so." in f for f in files):
                return True
    return False


def samna_available() -> bool:
    """Whether SynSense's real ``samna`` is installed, decided without importing it.

    ``importlib.util.find_spec`` on a top-level name only locates the package; it does not execute
    it. The PyPI shim is pure Python (``py3-none-any``); the real samna ships a compiled extension
    module. So: real iff the package is found *and* it (or its distribution record) contains a
    compiled binary. An already-imported ``samna`` module (e.g. imported by the user) counts as
    available only if it exposes ``__version__``, which the shim never reaches.
    """
    if "samna" in sys.modules:  # imported already, or blocked (None) by _block_samna_shim
        return hasattr(sys.modules["samna"], "__version__")
    try:
        spec = importlib.util.find_spec("samna")
    except (ImportError, ValueError):
        return False
    if spec is None:
        return False
    paths: list[str] = list(spec.submodule_search_locations or [])
    if spec.origin and spec.origin not in ("namespace", "built-in", "frozen"):
        paths.append(spec.origin)
    if _has_binary(paths):
        return True
    # Fall back to the installed distribution's file list (covers binaries placed beside the package).
    try:
        files = importlib.metadata.distribution("samna").files or []
    except importlib.metadata.PackageNotFoundError:
        return False
    return any(str(f).endswith(_BINARY_SUFFIXES) or ".so." in str(f) for f in files)


# --------------------------------------------------------------------------------------------
# Importing rockpool.devices.xylo sub-packages
# --------------------------------------------------------------------------------------------
def _register_bare_package(fullname: str) -> ModuleType:
    """Put a package object for ``fullname`` in ``sys.modules`` without running its ``__init__``.

    The object carries the real ``__path__``/``__spec__``, so its sub-modules and sub-packages are
    found and imported normally; only the (samna-dependent) ``__init__`` body is skipped.
    """
    existing = sys.modules.get(fullname)
    if existing is not None:
        return existing
    parent_name, _, child = fullname.rpartition(".")
    parent = importlib.import_module(parent_name)
    spec = importlib.machinery.PathFinder.find_spec(fullname, parent.__path__)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"cannot locate package {fullname!r} (is rockpool==3.1.0 installed?)")
    module = importlib.util.module_from_spec(spec)  # sets __path__, __file__, __spec__; no exec
    module.__doc__ = f"Bare package registered by neuromorph (samna absent): {fullname}.__init__ skipped."
    module.__neuromorph_bare__ = True  # type: ignore[attr-defined]
    sys.modules[fullname] = module
    setattr(parent, child, module)
    return module


def _block_samna_shim() -> None:
    """Make ``import samna`` fail fast when only the PyPI shim is installed.

    Rockpool imports ``samna`` in several places (``rockpool.utilities.backend_management`` even at
    ``import rockpool``) and catches the failure; with the shim installed each attempt would run pip
    first. A ``None`` entry in ``sys.modules`` makes those imports raise ``ImportError`` at once. Only
    done when a non-real samna is installed; with no samna at all nothing is touched.
    """
    if "samna" in sys.modules:
        return
    try:
        found = importlib.util.find_spec("samna") is not None
    except (ImportError, ValueError):
        return
    if found and not samna_available():
        sys.modules["samna"] = None  # type: ignore[assignment]


def import_xylo_module(name: str) -> ModuleType:
    """Import ``rockpool.devices.xylo.<name>`` (e.g. ``"syns61201"``, ``"syns63300"``,
    ``"syns65302.xylo_mapper"``), working around rockpool 3.1.0's import bug when samna is absent.

    Raises:
        SamnaUnavailableError: for ``"syns65302"`` itself without samna (its ``__init__`` needs
            samna); import one of its sub-modules instead.
        ImportError: if rockpool / the sub-module cannot be found.
    """
    name = name.removeprefix(_XYLO_PKG + ".")
    fullname = f"{_XYLO_PKG}.{name}"
    _block_samna_shim()
    if samna_available():
        return importlib.import_module(fullname)
    if fullname in sys.modules and not getattr(sys.modules[fullname], "__neuromorph_bare__", False):
        return sys.modules[fullname]
    _register_bare_package(_XYLO_PKG)
    parts = name.split(".")
    if parts[0] == "syns65302":
        if len(parts) == 1:
            raise SamnaUnavailableError(
                f"'{fullname}' cannot be imported without samna (its __init__ imports samna); import a "
                "sub-module such as 'syns65302.xylo_mapper' or use device 'xylo-audio-v3' with "
                f"xylosim_class(). {_INSTALL_HINT}"
            )
        _register_bare_package(f"{_XYLO_PKG}.syns65302")
    return importlib.import_module(fullname)


def import_rockpool(name: str) -> ModuleType:
    """Import any Rockpool module (e.g. ``"rockpool.nn.modules"``, which imports torch and
    Rockpool's backend management) with the PyPI ``samna`` shim blocked first.

    Every neuromorph path that imports Rockpool's torch or device modules goes through this
    function or :func:`import_xylo_module` (``tests/test_samna_guard.py`` checks it). Device
    sub-packages (``rockpool.devices.xylo.*``) are routed to :func:`import_xylo_module`.
    """
    if name == _XYLO_PKG or name.startswith(_XYLO_PKG + "."):
        return import_xylo_module(name.removeprefix(_XYLO_PKG).lstrip(".") or "syns61201")
    _block_samna_shim()
    return importlib.import_module(name)


def _device_modules(device: str) -> tuple[str, str]:
    try:
        return DEVICES[device]
    except KeyError:
        raise ValueError(f"unknown Xylo device {device!r}; expected one of {sorted(DEVICES)}") from None


def xylosim_class(device: str) -> type:
    """Rockpool's ``XyloSim`` class for ``device`` (``"xylo-audio-v2" | "xylo-audio-v3" | "xylo-imu"``).

    Raises:
        ImportError: when the C++ ``xylosim`` package is missing (Rockpool then exports a shim).
    """
    sim_pkg, _ = _device_modules(device)
    cls = import_xylo_module(sim_pkg).XyloSim
    if not hasattr(cls, "from_specification"):
        raise ImportError(f"Rockpool's XyloSim for {device!r} is unavailable: pip install xylosim>=0.1.3")
    return cls


def _rockpool_kwargs(spec: Any) -> dict[str, Any]:
    """Spec (``XyloSpec`` or dict of Rockpool keys) -> plain dict of Rockpool keyword arguments."""
    if hasattr(spec, "to_rockpool_kwargs"):
        return dict(spec.to_rockpool_kwargs())
    if not isinstance(spec, Mapping):
        raise TypeError(f"spec must be an XyloSpec or a dict of Rockpool keys, got {type(spec).__name__}")
    kw = dict(spec)
    al = kw.get("aliases")
    if isinstance(al, np.ndarray) and al.ndim == 1:  # NPZ form: one target per neuron, -1 = none
        kw["aliases"] = [[int(a)] if a >= 0 else [] for a in al]
    return kw


def _filter_kwargs(func: Any, kw: dict[str, Any]) -> dict[str, Any]:
    """Keep only the named parameters of ``func`` (drops e.g. the mapper's ``mapped_graph``)."""
    params = inspect.signature(func).parameters
    named = {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return {k: v for k, v in kw.items() if k in named}


def xylosim_from_spec(spec: Any, device: str = "xylo-audio-v2", output_mode: str = "Spike") -> Any:
    """Build Rockpool's ``XyloSim`` via ``XyloSim.from_specification(**kwargs)``.

    Args:
        spec: an :class:`~neuromorph.backends.xylo.spec.XyloSpec` or a dict with Rockpool's spec keys
            (e.g. a mapper + quantizer output); keys ``from_specification`` does not take are dropped.
        device: ``"xylo-audio-v2" | "xylo-audio-v3" | "xylo-imu"``.
        output_mode: ``"Spike" | "Vmem" | "Isyn"`` (what ``evolve`` returns as output).

    Returns:
        A Rockpool ``XyloSim`` module: ``out, state, rec = sim(raster (T, Nin), record=True)``.
    """
    cls = xylosim_class(device)
    kw = _filter_kwargs(cls.from_specification, _rockpool_kwargs(spec))
    kw["output_mode"] = output_mode
    return cls.from_specification(**kw)


def _require_samna(what: str) -> None:
    if not samna_available():
        raise SamnaUnavailableError(
            f"{what} needs SynSense's real 'samna' package, which is not installed (the Rockpool "
            f"XyloSim simulator and neuromorph's emulator work without it). {_INSTALL_HINT}"
        )


def config_from_spec(spec: Any, device: str = "xylo-audio-v2") -> tuple[Any, bool, str]:
    """Rockpool's ``config_from_specification`` for ``device``: ``(samna config, is_valid, message)``.

    Maps the spec key ``bias`` onto Rockpool's ``bias_hidden`` argument, and for Xylo Audio 2 pads
    ``weights_out`` (Noen, Nout) with zero rows so it covers all hidden neurons (the spec maps its
    rows onto the last Noen hidden neurons, as ``XyloSim.from_specification`` does).

    Raises:
        SamnaUnavailableError: when the real samna is absent (checked before importing anything).
    """
    _, hw_pkg = _device_modules(device)
    _require_samna(f"config_from_spec(device={device!r})")
    kw = _rockpool_kwargs(spec)
    if "bias" in kw:
        kw["bias_hidden"] = kw.pop("bias")
    if hw_pkg == "syns61201":
        w_out = np.asarray(kw["weights_out"])
        n_hid = np.shape(kw["weights_rec"])[0] if kw.get("weights_rec") is not None else w_out.shape[0]
        if w_out.shape[0] < n_hid:
            pad = np.zeros((n_hid - w_out.shape[0], w_out.shape[1]), w_out.dtype)
            kw["weights_out"] = np.concatenate([pad, w_out], axis=0)
    func = import_xylo_module(hw_pkg).config_from_specification
    kw = _filter_kwargs(func, kw)
    return func(**kw)


def deploy_to_hardware(
    spec: Any, device: str = "xylo-audio-v2", hdk: Any = None, dt: float = 1e-3, output_mode: str = "Spike"
) -> Any:
    """Configure a connected Xylo HDK from ``spec``; returns Rockpool's ``XyloSamna`` module.

    Args:
        spec: as for :func:`xylosim_from_spec`.
        device: ``"xylo-audio-v2" | "xylo-audio-v3" | "xylo-imu"``.
        hdk: a samna HDK node; ``None`` takes the first one found by ``find_xylo_hdks()``.
        dt: time step in seconds.
        output_mode: ``"Spike" | "Vmem" | "Isyn"``.

    Raises:
        SamnaUnavailableError: without the real samna.
        RuntimeError: when the configuration is invalid or no HDK is connected.
    """
    _, hw_pkg = _device_modules(device)
    _require_samna(f"deploy_to_hardware(device={device!r})")
    config, is_valid, msg = config_from_spec(spec, device)
    if not is_valid:
        raise RuntimeError(f"samna rejected the Xylo configuration: {msg}")
    if hdk is None:
        hdks, _support_mods, _versions = importlib.import_module(_XYLO_PKG).find_xylo_hdks()
        if not hdks:
            raise RuntimeError("no Xylo HDK found (find_xylo_hdks() returned none)")
        hdk = hdks[0]
    return import_xylo_module(hw_pkg).XyloSamna(hdk, config, dt=dt, output_mode=output_mode)
