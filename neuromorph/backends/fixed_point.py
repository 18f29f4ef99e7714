"""The generic ``fixed-point`` target as its own backend: the worked example of "a new chip
family is one module (or folder) plus one YAML" (docs/backends.md).

The integer network is evaluated by *fake-quant*: its dequantized weights and the chip leak run in
the float simulator (:func:`neuromorph.quant.fakequant.fake_quant_network`), so there is no
deployable file, no emulator and no reference simulator; ``verify`` reports fake-quant only.
The fit check is the one of a core fed by ± event channel pairs (the number formats of the YAML;
its size limits are null, i.e. unlimited, unless overridden).
"""
from __future__ import annotations

import numpy as np

from quantization.encoding import pre_emphasis
from quantization.fit_check import FitReport
from quantization.hardware import HardwareSpec
from quantization.mapping import QuantizedSCN

from neuromorph.backends.base import Backend, signed_pair_fit


class FixedPointBackend(Backend):
    """Xylo-like integer core with parameterised widths and no size limits (``fixed-point.yaml``)."""

    name = "fixed-point"
    devices = ("fixed-point",)

    def input_drive(self, u: np.ndarray, dash_syn: int) -> np.ndarray:
        """The same bit-shift input synapse as the Xylo cores, so the gain is sized alike."""
        return pre_emphasis(u, dash_syn)

    def fit_check(self, q: QuantizedSCN, target: HardwareSpec) -> FitReport:
        return signed_pair_fit(q, target)


BACKENDS = (FixedPointBackend(),)
