"""The chip-backend boundary: one interface every chip family implements, its declared
capabilities, and the registry that finds the backend of a target (docs/backends.md).

A *target* is a YAML file in ``hardware_configs/`` loaded into a
:class:`quantization.hardware.HardwareSpec`; its ``device`` field names the backend that
serves it. The stages (quantize, deploy, verify) and the commands only talk to
:class:`Backend`; everything chip-specific lives in one folder per family
(``backends/xylo/``, ``backends/fixed_point.py``, ``backends/float_reference.py``).

Data that crosses the boundary:

* ``net``: the float :class:`neuromorph.network.SCN`;
* ``q``: the integer network :class:`quantization.mapping.QuantizedSCN`;
* a *deployable*: what the chip runs (a ``XyloSpec`` for Xylo), written by :meth:`Backend.export`
  and read back by :meth:`Backend.load_deployable`;
* a *recording*: a dict of per-step arrays with at least ``"Spikes"`` (T, N hidden events).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from quantization.fit_check import FitReport
from quantization.hardware import HardwareSpec
from quantization.mapping import MappingOptions, QuantizedSCN

__all__ = ["Capabilities", "Backend", "BackendError", "BackendRegistry", "register_backend", "backend_for",
           "backend_for_device", "known_devices", "default_registry", "signed_pair_fit"]

#: Modules of the built-in backends; each defines ``BACKENDS``, a tuple of :class:`Backend`.
BUILTIN_BACKEND_MODULES = ("neuromorph.backends.xylo.backend", "neuromorph.backends.fixed_point",
                           "neuromorph.backends.float_reference")


class BackendError(ValueError):
    """No backend serves a device, or a backend cannot do what was asked (message says which)."""


@dataclass(frozen=True)
class Capabilities:
    """What a target can hold, read from its YAML (``None`` = unlimited).

    Attributes
    ----------
    device : str
        The backend device name (YAML ``device``).
    synapses_per_neuron : int or None
        Synaptic states per hidden neuron (``max_syn``).
    max_inputs, max_hidden, max_outputs : int or None
        Input channels, hidden neurons, output neurons.
    input_neurons : int or None
        How many hidden neurons can receive input weights (``input_projection_size``, or
        ``max_hidden`` when the projection is ``"all"``).
    output_neurons : int or None
        How many hidden neurons can drive the outputs (``output_projection_size`` or ``max_hidden``).
    recurrent_fanout : int or None
        Non-zero recurrent weights leaving one hidden neuron (``max_fanout``).
    reset : str
        ``"subtractive"`` or ``"to_zero"``.
    recurrent : bool
        Takes hidden → hidden weights.
    ei_networks : bool
        Takes Dale's-law excitatory/inhibitory networks.
    one_spike_per_step : bool
        Keeps the SCN's one-spike-per-step arbiter; ``False`` makes quantize adapt by default.
    integer : bool
        ``False`` for the float reference.
    """

    device: str
    synapses_per_neuron: Optional[int]
    max_inputs: Optional[int]
    max_hidden: Optional[int]
    max_outputs: Optional[int]
    input_neurons: Optional[int]
    output_neurons: Optional[int]
    recurrent_fanout: Optional[int]
    reset: str
    recurrent: bool
    ei_networks: bool
    one_spike_per_step: bool
    integer: bool

    @classmethod
    def from_target(cls, target: HardwareSpec) -> "Capabilities":
        """The capabilities a target's YAML declares."""
        proj_in = target.max_hidden if target.input_projection == "all" else target.input_projection_size
        proj_out = target.max_hidden if target.output_projection == "all" else target.output_projection_size
        return cls(device=target.device, synapses_per_neuron=target.max_syn, max_inputs=target.max_inputs,
                   max_hidden=target.max_hidden, max_outputs=target.max_outputs, input_neurons=proj_in,
                   output_neurons=proj_out, recurrent_fanout=target.max_fanout, reset=target.reset,
                   recurrent=target.recurrent, ei_networks=target.ei_networks,
                   one_spike_per_step=target.one_spike_per_step, integer=not target.is_float)


class Backend(ABC):
    """One chip family. Subclasses set :attr:`name` and :attr:`devices` and implement the
    abstract methods; the optional ones default to "not available".

    Attributes
    ----------
    name : str
        Family name, e.g. ``"xylo"``.
    devices : tuple of str
        The YAML ``device`` values this backend serves.
    """

    name: str = ""
    devices: tuple[str, ...] = ()

    # ---------------------------------------------------------------- declared limits
    def capabilities(self, target: HardwareSpec) -> Capabilities:
        """The target's capabilities (from its YAML)."""
        return Capabilities.from_target(target)

    # ---------------------------------------------------------------- quantization
    def input_drive(self, u: np.ndarray, dash_syn: int) -> np.ndarray:
        """The transform the input encoder applies to the per-step drive ``u = dt·c`` (T, M)
        before event coding; the operating statistics size the input gain for it. Default: the
        identity (no input synapse to compensate)."""
        return u

    def map(self, net: Any, target: HardwareSpec, stats: dict,
            options: Optional[MappingOptions] = None) -> QuantizedSCN:
        """Integer network of ``net`` for ``target``, scaled by the operating statistics
        ``stats`` (``neuromorph.quant.fakequant.operating_statistics``)."""
        from neuromorph.quant.fakequant import quantize_network

        return quantize_network(net, target, stats, options)

    def map_ei(self, net: Any, target: HardwareSpec, stats: dict,
               options: Optional[MappingOptions] = None) -> QuantizedSCN:
        """Integer block network (E first, then I) of an EI network ``net``
        (:func:`neuromorph.quant.ei.quantize_ei_network`; ``stats`` from
        :func:`neuromorph.quant.ei.ei_operating_statistics`)."""
        from neuromorph.quant.ei import quantize_ei_network

        return quantize_ei_network(net, target, stats, options)

    @abstractmethod
    def fit_check(self, q: QuantizedSCN, target: HardwareSpec) -> FitReport:
        """Every limit of ``target`` the integer network violates, as the chip would see it
        (:func:`signed_pair_fit` for a core fed by ± event channel pairs)."""

    # ---------------------------------------------------------------- deployable
    def export(self, q: QuantizedSCN, target: HardwareSpec, out_dir: Path) -> dict[str, str]:
        """Write the deployable of ``q`` into ``out_dir``; returns ``{role: file name}``
        (merged into the quantization report). Default: nothing to write."""
        return {}

    def load_deployable(self, qdir: Path) -> Any:
        """The deployable written by :meth:`export` into ``qdir``, or ``None`` if there is none."""
        return None

    def deploy(self, qdir: Path, out: Path, *, hardware: bool = False) -> dict:
        """Write the deployment artefacts of ``qdir`` into ``out``; returns a summary."""
        raise BackendError(f"backend {self.name!r} has no deployment artefacts")

    # ---------------------------------------------------------------- running it
    def frontend(self, device: str) -> Any:
        """The audio front-end of ``device`` (an object with ``afe_events``, ``frontend_signal``,
        ``pool_bands``, … as :mod:`neuromorph.backends.xylo.afe`); BackendError if it has none."""
        raise BackendError(f"--frontend {device}: backend {self.name!r} has no audio front-end")

    def encode(self, q: QuantizedSCN, x: np.ndarray) -> np.ndarray:
        """Input events (T, channels) that make the chip represent signal ``x`` (T, M)."""
        raise BackendError(f"backend {self.name!r} has no input encoder")

    def decode(self, q: QuantizedSCN, recording: dict) -> np.ndarray:
        """x̂ (T, M) from a recording, aligned with the input signal."""
        raise BackendError(f"backend {self.name!r} has no read-out decoder")

    def emulate(self, deployable: Any, raster: np.ndarray, record: bool = True) -> dict:
        """Run the deployable on ``raster``; returns the recording (``"output"`` always, the
        internal states when ``record``)."""
        raise BackendError(f"backend {self.name!r} has no emulator")

    def reference_simulator(self, deployable: Any) -> Optional[Callable[[np.ndarray], dict]]:
        """An independent simulator to compare the emulator with: ``raster -> recording`` of the
        states both record; ``None`` when the family has none."""
        return None

    def saturation_counts(self, recording: dict) -> dict:
        """Entries per recorded state at the state range's limits (empty: not tracked)."""
        return {}


def signed_pair_fit(q: QuantizedSCN, target: HardwareSpec) -> FitReport:
    """Fit check of ``q`` as deployed on a core fed by ± event channel pairs.

    The input encoder (:mod:`quantization.encoding`) sends signal dimension j on channels
    ``2j`` (positive part) and ``2j+1`` (negative part), so the core sees ``2M`` inputs with
    weights ``+w_in`` and ``−w_in``; N hidden neurons, M outputs, one synaptic state checked.
    """
    from quantization.ei_mapping import dale_violations
    from quantization.fit_check import check_fit

    n, m = q.n_neurons, q.n_inputs
    w_in = np.zeros((2 * m, n), dtype=np.int64)
    w_in[0::2] = q.w_in.T
    w_in[1::2] = -q.w_in.T
    rep = check_fit(target, 2 * m, n, m, weights_in=w_in, weights_rec=q.w_rec.T, weights_out=q.w_out.T,
                    thresholds=q.threshold, dash_mem=np.full(n, q.dash_mem), dash_syn=np.full(n, q.dash_syn),
                    n_syn=1, weight_shifts={"in": q.shift_in, "rec": q.shift_rec, "out": q.shift_out},
                    taus=np.array([1.0 / q.lam]), dt=q.dt)
    rep.violations.extend(dale_violations(q))  # EI networks (stats["ei"]): Dale's law on the integers
    return rep


@dataclass
class BackendRegistry:
    """Backends keyed by device name. Built-in backends are loaded on first lookup, so a
    registry costs no imports until it is used."""

    modules: tuple[str, ...] = BUILTIN_BACKEND_MODULES
    _by_device: dict[str, Backend] = field(default_factory=dict)
    _loaded: bool = False

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for mod in self.modules:
                for b in import_module(mod).BACKENDS:
                    self.register(b)

    def register(self, backend: Backend) -> None:
        """Serve ``backend.devices`` with ``backend``; a device served by another backend is refused."""
        if not backend.devices:
            raise BackendError(f"backend {backend.name!r} declares no devices")
        for d in backend.devices:
            have = self._by_device.get(d)
            if have is not None and have is not backend:
                raise BackendError(f"device {d!r} is already served by backend {have.name!r}")
        for d in backend.devices:
            self._by_device[d] = backend

    def for_device(self, device: str) -> Backend:
        """The backend serving ``device``; :class:`BackendError` names the device and the known ones."""
        self._load()
        try:
            return self._by_device[device]
        except KeyError:
            raise BackendError(f"no backend for device {device!r} (known devices: {', '.join(self.devices())}); "
                               "register one with neuromorph.backends.base.register_backend") from None

    def devices(self) -> list[str]:
        """Known device names, sorted."""
        self._load()
        return sorted(self._by_device)


_DEFAULT = BackendRegistry()


def default_registry() -> BackendRegistry:
    """The process-wide registry (the one plug-in point that holds state: user backends
    register into it once at start-up)."""
    return _DEFAULT


def register_backend(backend: Backend, registry: Optional[BackendRegistry] = None) -> Backend:
    """Register ``backend`` for its devices (in the default registry unless one is given)."""
    registry = registry or _DEFAULT
    registry._load()  # built-ins first, so a clash with them is reported
    registry.register(backend)
    return backend


def backend_for_device(device: str, registry: Optional[BackendRegistry] = None) -> Backend:
    """The backend serving the YAML ``device`` name."""
    return (registry or _DEFAULT).for_device(device)


def backend_for(target: HardwareSpec, registry: Optional[BackendRegistry] = None) -> Backend:
    """The backend serving ``target`` (keyed by its YAML ``device`` field)."""
    return backend_for_device(target.device, registry)


def known_devices(registry: Optional[BackendRegistry] = None) -> list[str]:
    """Device names with a backend, sorted."""
    return (registry or _DEFAULT).devices()
