"""The ``float`` reference target as a backend: nothing to quantize, deploy or emulate.

It exists so that every target, the baseline included, resolves through the registry
(``neuromorph targets``); the quantize stage refuses float targets before it asks for a mapping.
"""
from __future__ import annotations

from quantization.fit_check import FitReport
from quantization.hardware import HardwareSpec
from quantization.mapping import QuantizedSCN

from neuromorph.backends.base import Backend, BackendError


class FloatReferenceBackend(Backend):
    """The float simulator itself (``float.yaml``)."""

    name = "float"
    devices = ("float",)

    def map(self, net, target: HardwareSpec, stats: dict, options=None) -> QuantizedSCN:
        raise BackendError(f"target {target.name!r} is the float reference; choose a chip or 'fixed-point'")

    def fit_check(self, q: QuantizedSCN, target: HardwareSpec) -> FitReport:
        return FitReport(target=target.name)  # no limits


BACKENDS = (FloatReferenceBackend(),)
