"""Point functions of robustness studies (``neuromorph study``): ``f(params, seed) -> metrics``.

``quantization_point`` learns an SCN (Fig 2 protocol; cached per worker process, so a sweep
over quantization parameters trains each network once), quantizes it for the requested target
and evaluates the fake-quant model under the requested perturbations.

Parameters (all optional): ``n_neurons`` (20), ``iterations`` (learning blocks of 1000 steps,
300), ``target`` ("fixed-point"), ``weight_bits`` (8), ``state_bits`` (16), ``method`` ("scn"),
``mismatch`` (relative σ, 0), ``delay`` (recurrent delay in steps, 1), ``syn_tau`` (s, 0),
``sparsity`` (fraction of the smallest lateral weights removed, 0), ``noise`` (voltage noise
std per step, the network's own if absent), ``dynamics`` ("reference" | "chip").
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np
from quantization.hardware import load_target
from quantization.mapping import MappingOptions
from quantization.mismatch import mismatch_instances

from neuromorph import __version__
from neuromorph.network import NetworkFileError, load_network, save_network
from neuromorph.quant.chip_training import refit_decoder
from neuromorph.quant.fakequant import (evaluation_signal, fake_quant_network, operating_statistics, quantize_network,
                                        signal_error)
from neuromorph.sim.init import default_rules, initial_scn
from neuromorph.sim.rng import derive_seed
from neuromorph.sim.simulator import SimOptions, block_noise_source, chip_options, learn

KNOWN = {"n_neurons", "iterations", "target", "weight_bits", "state_bits", "method", "mismatch", "delay",
         "syn_tau", "sparsity", "noise", "dynamics", "test_steps", "init"}


def cache_dir() -> Path:
    """Where learnt study networks are kept between tasks and worker processes
    (``$NEUROMORPH_CACHE`` or ``~/.cache/neuromorph``); learning is deterministic under its key,
    so a cached network is exactly what a fresh run would learn."""
    return Path(os.environ.get("NEUROMORPH_CACHE", Path.home() / ".cache" / "neuromorph")) / "networks"


@lru_cache(maxsize=16)
def _trained(n_neurons: int, iterations: int, seed: int, init: str):
    path = cache_dir() / f"fig2-v{__version__}-n{n_neurons}-it{iterations}-s{seed}-{init}.npz"
    if path.is_file():
        try:
            return load_network(path)
        except NetworkFileError:
            pass  # a damaged cache entry is simply recomputed
    net0 = initial_scn(derive_seed(seed, 2), init, n_neurons, 2, meta={"experiment": "fig2", "init": init})
    src = block_noise_source(net0.n_inputs, derive_seed(seed, 1))
    res = learn(net0, src, iterations * 1000, rules=default_rules(), seed=derive_seed(seed, 3))
    net = refit_decoder(res.network, seed)
    try:
        save_network(net, path)  # atomic: concurrent workers may race, never corrupt
    except OSError:
        pass
    return net


def quantization_point(params: dict, seed: int) -> dict:
    """Coding error of the float and the quantized network for one study point."""
    unknown = set(params) - KNOWN
    if unknown:
        raise ValueError(f"unknown parameter(s) {sorted(unknown)} for a quantization point (known: {sorted(KNOWN)})")
    n = int(params.get("n_neurons", 20))
    net = _trained(n, int(params.get("iterations", 300)), int(seed) % (2**31), str(params.get("init", "code")))
    net = net.copy()
    sparsity = float(params.get("sparsity", 0.0))
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must lie in [0, 1), got {sparsity}")
    if sparsity > 0:
        off = ~np.eye(n, dtype=bool)
        w = np.abs(net.Omega[off])
        cut = np.quantile(w, sparsity)
        Om = net.Omega.copy()
        Om[off & (np.abs(Om) <= cut)] = 0.0
        net.Omega = Om
    if "noise" in params:
        net.v_noise = float(params["noise"])
    steps = int(params.get("test_steps", 10_000))
    c, x = evaluation_signal(net.n_inputs, steps, seed, net.lam, net.dt)
    if params.get("dynamics", "reference") == "chip":
        opts = chip_options(1, net.dt)
    else:
        opts = SimOptions(delay=int(params.get("delay", 1)), syn_tau=float(params.get("syn_tau", 0.0)))
    out = {"error_float": signal_error(net, x, seed, options=opts)["error"]}
    name = params.get("target", "fixed-point")
    if name == "float":
        out.update(error_quantized=out["error_float"], rate_hz=signal_error(net, x, seed, options=opts)["rate_hz"])
        return out
    overrides = {}
    if name == "fixed-point":
        overrides = {"weight_bits": int(params.get("weight_bits", 8)), "state_bits": int(params.get("state_bits", 16))}
    target = load_target(name, **overrides)
    q = quantize_network(net, target, operating_statistics(net, c, seed),
                         MappingOptions(method=str(params.get("method", "scn"))))
    sigma = float(params.get("mismatch", 0.0))
    if sigma > 0:
        q = mismatch_instances(q, sigma, 1, seed, target=target)[0]
    ev = signal_error(fake_quant_network(q, net), x, seed, options=opts)
    out.update(error_quantized=ev["error"], rate_hz=ev["rate_hz"])
    return out

