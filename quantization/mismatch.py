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

from .fixed_point import dash_from_euler_rate, round_nearest
from .hardware import HardwareSpec
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


def _check_target(q: QuantizedSCN, target: HardwareSpec) -> None:
    """The limits must be those of the target ``q`` was mapped onto."""
    if not isinstance(target, HardwareSpec):
        raise TypeError(f"target must be a HardwareSpec, got {type(target).__name__}")
    if target.is_float:
        raise ValueError(f"target {target.name!r} is the float reference: it has no integer formats")
    if target.name != q.target or target.weight_bits != q.weight_bits:
        raise ValueError(f"the network was mapped onto {q.target!r} with {q.weight_bits}-bit weights, "
                         f"not onto {target.name!r} with {target.weight_bits}-bit weights")


def mismatch_instances(q: QuantizedSCN, sigma: Union[float, Mapping[str, float]], n: int, seed: int, *,
                       target: HardwareSpec) -> list[QuantizedSCN]:
    """``n`` device instances of ``q``: every stored value varies as ``v·(1 + σ_class ξ)`` and is
    rounded back onto ``target``'s formats.

    Weights are clipped to the symmetric weight grid ``±target.weight_max`` (the quantizer's grid,
    see :mod:`quantization.fixed_point`), thresholds to ``1..target.threshold_max``; the leak varies
    in rate (the forward-Euler rate ``q.lam_chip``, the one the float model simulates) and is
    re-expressed as the nearest dash in ``0..target.max_dash_mem``. All instances are drawn in one
    vectorised call; σ = 0 returns exact copies of ``q``.

    Parameters
    ----------
    q : QuantizedSCN
        The nominal quantized network.
    sigma : float or mapping
        Relative spread per class (``F`` input weights, ``Omega`` recurrent weights,
        ``thresholds``, ``lam`` leak), see :func:`sigma_per_class`.
    n : int
        Number of instances, >= 1.
    seed : int
        Seed of the variation.
    target : HardwareSpec
        The target ``q`` was mapped onto (same name and weight width); its formats bound the
        varied values.

    Returns
    -------
    list of QuantizedSCN
        ``n`` instances; ``stats["mismatch_instance"]`` holds the index.
    """
    if n < 1:
        raise ValueError(f"number of instances must be >= 1, got {n}")
    _check_target(q, target)
    sig = sigma_per_class(sigma)
    rng = np.random.default_rng(seed)
    m = int(target.weight_max)
    w_lo = max(int(target.weight_min), -m)  # symmetric grid for signed weights, 0.. for unsigned

    def vary(a, s):
        a = np.asarray(a, dtype=np.float64)
        return a[None] * (1.0 + s * rng.standard_normal((n,) + a.shape))

    w_in = np.clip(round_nearest(vary(q.w_in, sig["F"])), w_lo, m).astype(np.int64)
    w_rec = np.clip(round_nearest(vary(q.w_rec, sig["Omega"])), w_lo, m).astype(np.int64)
    theta = np.clip(round_nearest(vary(q.threshold, sig["thresholds"])), 1, target.threshold_max).astype(np.int64)
    lam = vary(np.asarray(q.lam_chip), sig["lam"])
    dash = np.where(sig["lam"] > 0,
                    np.clip(round_nearest(dash_from_euler_rate(lam, q.dt)), 0, target.max_dash_mem),
                    q.dash_mem).astype(int)
    return [replace(q, w_in=w_in[i], w_rec=w_rec[i], threshold=theta[i], dash_mem=int(dash[i]),
                    dash_mem_out=int(dash[i]), stats=dict(q.stats, mismatch_instance=i))
            for i in range(n)]
