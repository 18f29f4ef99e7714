"""Mismatch instances of a quantized SCN evaluated in the float simulator (fake-quant)."""
from __future__ import annotations

import numpy as np

from quantization.hardware import HardwareSpec
from quantization.mapping import QuantizedSCN
from quantization.mismatch import mismatch_instances

from neuromorph.network import SCN
from neuromorph.quant.fakequant import fake_quant_network, signal_error


def mismatch_errors(net: SCN, q: QuantizedSCN, target: HardwareSpec, x: np.ndarray, *, sigma, n_instances: int, seed: int,
                    stats: dict = None) -> dict:
    """Fake-quant coding error over mismatch instances: mean, sd and the list.

    ``target`` is the target ``q`` was mapped onto; its formats bound the varied values
    (:func:`quantization.mismatch.mismatch_instances`)."""
    errs = [signal_error(fake_quant_network(qi, net), x, seed)["error"]
            for qi in mismatch_instances(q, sigma, n_instances, seed, target=target)]
    return {"sigma": sigma, "n_instances": n_instances, "error_mean": float(np.mean(errs)),
            "error_sd": float(np.std(errs, ddof=1)) if len(errs) > 1 else 0.0, "errors": errs}
