"""Device mismatch: seeded instances of a network with multiplicative Gaussian variation.

Each parameter class varies as ``p · (1 + σ_class ξ)``, ξ ~ N(0, 1) i.i.d. per element and per
instance (Rockpool's ``mismatch_generator`` uses the same form).  Xylo is digital, so its
"mismatch" is variation of the *values* a deployment ends up with (e.g. per-device
calibration, or analog front ends), applied to the float parameters and then re-quantized with
the nominal network's scales (:func:`mismatch_instances`).  All instances are drawn at once
(vectorised, leading axis = instance).  σ = 0 reproduces the nominal network exactly.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Union

import numpy as np

from .fixed_point import qmax, round_nearest
from .mapping import QuantizedSCN

CLASSES = ("F", "Omega", "thresholds", "lam")


def sigma_per_class(sigma: Union[float, Mapping[str, float]]) -> dict:
    """Normalise σ: a number applies to every class; a mapping names classes (others 0)."""
    if isinstance(sigma, Mapping):
        unknown = set(sigma) - set(CLASSES)
        if unknown:
            raise ValueError(f"unknown mismatch class(es) {sorted(unknown)}; known: {list(CLASSES)}")
        out = {k: float(sigma.get(k, 0.0)) for k in CLASSES}
    else:
        out = {k: float(sigma) for k in CLASSES}
    for k, v in out.items():
        if not np.isfinite(v) or v < 0:
            raise ValueError(f"mismatch sigma for {k} must be >= 0, got {v}")
    return out


def mismatch_instances(q: QuantizedSCN, sigma, n: int, seed: int) -> list:
    """``n`` device instances of ``q``: every stored value varies as ``v·(1 + σ_class ξ)`` and is
    rounded back onto the chip's grid (weights clipped to the weight range, thresholds ≥ 1); the
    leak varies in rate and is re-expressed as the nearest bit-shift dash.  Classes: ``F``
    (input weights), ``Omega`` (recurrent weights), ``thresholds``, ``lam``.  All instances are
    drawn in one vectorised call; σ = 0 returns exact copies of ``q``."""
    if n < 1:
        raise ValueError(f"number of instances must be >= 1, got {n}")
    sig = sigma_per_class(sigma)
    rng = np.random.default_rng(seed)
    m = qmax(q.weight_bits)

    def vary(a, s):
        a = np.asarray(a, dtype=np.float64)
        return a[None] * (1.0 + s * rng.standard_normal((n,) + a.shape))

    w_in = np.clip(round_nearest(vary(q.w_in, sig["F"])), -m, m).astype(np.int64)
    w_rec = np.clip(round_nearest(vary(q.w_rec, sig["Omega"])), -m, m).astype(np.int64)
    theta = np.clip(round_nearest(vary(q.threshold, sig["thresholds"])), 1, 32767).astype(np.int64)
    lam = vary(np.asarray(q.lam_chip), sig["lam"])
    dash = np.where(sig["lam"] > 0,
                    np.clip(round_nearest(-np.log2(np.clip(lam * q.dt, 1e-12, 1.0))), 0, 15), q.dash_mem).astype(int)
    return [replace(q, w_in=w_in[i], w_rec=w_rec[i], threshold=theta[i], dash_mem=int(dash[i]),
                    dash_mem_out=int(dash[i]), stats=dict(q.stats, mismatch_instance=i))
            for i in range(n)]
