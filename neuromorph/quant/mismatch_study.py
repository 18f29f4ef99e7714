"""Mismatch instances of a quantized SCN evaluated in the float simulator (fake-quant)."""
from __future__ import annotations

from typing import Mapping, Union

import numpy as np

from quantization.hardware import HardwareSpec
from quantization.mapping import QuantizedSCN
from quantization.mismatch import mismatch_instances

from neuromorph.network import SCN
from neuromorph.quant.fakequant import fake_quant_network, signal_error


def mismatch_errors(net: SCN, q: QuantizedSCN, target: HardwareSpec, x: np.ndarray, *,
                    sigma: Union[float, Mapping[str, float]], n_instances: int, seed: int) -> dict:
    """Fake-quant coding error of ``q`` over seeded device-mismatch instances.

    Parameters
    ----------
    net : SCN
        The float network ``q`` was quantized from (supplies the noise levels of the fake-quant
        simulation).
    q : QuantizedSCN
        The nominal integer network.
    target : HardwareSpec
        The target ``q`` was mapped onto; its formats bound the varied values
        (:func:`quantization.mismatch.mismatch_instances`).
    x : ndarray, shape (T, M)
        The signal the network should represent (signal units, one row per time step).
    sigma : float or mapping
        Relative mismatch σ (dimensionless): one number for every parameter class, or a
        mapping class -> σ (see :func:`quantization.mismatch.sigma_per_class`).
    n_instances : int
        Number of mismatch instances (>= 1).
    seed : int
        Seed of both the instances and the evaluation simulation.

    Returns
    -------
    dict
        ``sigma``, ``n_instances``, ``error_mean`` and ``error_sd`` (normalised coding error,
        dimensionless; sd with ddof=1, 0 for a single instance) and ``errors`` (one per instance).
    """
    errs = [signal_error(fake_quant_network(qi, net), x, seed)["error"]
            for qi in mismatch_instances(q, sigma, n_instances, seed, target=target)]
    return {"sigma": sigma, "n_instances": n_instances, "error_mean": float(np.mean(errs)),
            "error_sd": float(np.std(errs, ddof=1)) if len(errs) > 1 else 0.0, "errors": errs}
