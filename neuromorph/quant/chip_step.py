"""The chip's time step as a choice of its own: ``k`` chip steps per learning step.

Xylo is clocked freely, so the integer core may step at ``chip_dt = dt / k`` while the network
was learnt at ``dt``.  The SCN is a continuous-time model (Boerlin et al. 2013, Brendel et al.
2020) that the simulator integrates with forward Euler; stepping it finer changes what the chip
gets wrong, not what it computes:

* the leak per step ``1 − λ·chip_dt`` (the membrane dash grows by ≈ log2 k), the input per step
  ``chip_dt·F c`` (so the event gain per unit of signal grows by k at the same per-step event
  limit) and the read-out's decay follow the finer step;
* a spike's effect on V (Ω, the threshold, the reset) does not depend on the step;
* the chip's own artefacts shrink with the step: the one-step latency of recurrent spikes, the
  bit-shift synapse's time constant (dash 1 ≈ 1.44 chip steps) and the number of neurons that
  cross threshold in the same step (no spike arbiter on silicon).

This module resolves and validates the chip step and moves a network onto it; the stage
(:mod:`neuromorph.stages.quantize`) resamples the signals.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from quantization.fixed_point import dash_from_tau

from neuromorph.network import SCN

#: Largest number of chip steps per learning step accepted (the emulated rasters grow by k).
MAX_STEPS_PER_SAMPLE = 64


def allowed_steps(net_dt: float, n: int = 4) -> str:
    """The first ``n`` chip steps a network stepped at ``net_dt`` allows, for messages."""
    return ", ".join(f"{net_dt / k:g}" for k in range(1, n + 1)) + f", … (= {net_dt:g}/k, k = 1..{MAX_STEPS_PER_SAMPLE})"


def resolve_chip_step(net_dt: float, lam: float, overrides: Optional[dict], max_dash_mem: Optional[int]) -> tuple:
    """The chip step and ``k`` for a network learnt at ``net_dt`` (s) with leak ``lam`` (s⁻¹).

    Parameters
    ----------
    net_dt : float
        The network's (learning) step, s.
    lam : float
        The network's leak, s⁻¹ (its membrane dash at the chip step must fit the chip).
    overrides : dict, optional
        The target overrides (``--set``); ``dt`` in it is the chip step, s.  Absent: the chip
        steps at ``net_dt``.
    max_dash_mem : int, optional
        The target's largest membrane dash (None: unlimited).

    Returns
    -------
    (float, int)
        ``chip_dt`` (s) and ``k = net_dt / chip_dt``.

    Raises
    ------
    ValueError
        One line naming ``dt``: not a positive number, not ``net_dt / k`` for an integer
        ``1 <= k <= MAX_STEPS_PER_SAMPLE``, or a step so fine that the membrane dash the leak
        needs exceeds the chip's.
    """
    if not overrides or "dt" not in overrides:
        return float(net_dt), 1
    raw = overrides["dt"]
    try:
        chip_dt = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"--set dt={raw!r}: the chip step must be a number of seconds") from None
    if not (math.isfinite(chip_dt) and chip_dt > 0):
        raise ValueError(f"--set dt={raw!r}: the chip step must be > 0 s")
    ratio = net_dt / chip_dt
    k = int(round(ratio))
    if k < 1 or abs(ratio - k) > 1e-6 * ratio or k > MAX_STEPS_PER_SAMPLE:
        raise ValueError(f"--set dt={chip_dt:g}: the chip step must divide the network's step {net_dt:g} s into an "
                         f"integer number of chip steps; allowed: {allowed_steps(net_dt)}")
    chip_dt = net_dt / k  # exactly, not the decimal the user typed
    dash = int(dash_from_tau(1.0 / lam, chip_dt))
    if max_dash_mem is not None and dash > max_dash_mem:
        kmax = max(k for k in range(1, MAX_STEPS_PER_SAMPLE + 1)
                   if int(dash_from_tau(1.0 / lam, net_dt / k)) <= max_dash_mem)
        raise ValueError(f"--set dt={chip_dt:g}: the membrane time constant {1e3 / lam:g} ms needs dash {dash} at "
                         f"that step, the chip's largest is {max_dash_mem}; the finest step allowed is "
                         f"{net_dt / kmax:g} s (k = {kmax})")
    return chip_dt, k


#: Config key (``--set leak_dash=N``) choosing the hidden neurons' membrane dash on the chip.
LEAK_DASH_KEY = "leak_dash"


#: Config key (``--set drive_leak=learnt|chip``): the leak the chip's input drive is computed for.
DRIVE_LEAK_KEY = "drive_leak"
#: ``learnt``: c = ẋ + λ x with the learnt λ (the chip's membrane leaks at λ' regardless; the
#: read-out fitted on the chip's spikes maps what it holds back to x); ``chip``: c' = ẋ + λ' x,
#: re-derived for the chip's leak (its membrane integrates F x exactly).  Measured in
#: docs/chip_fidelity.md: ``learnt`` is the better code on Xylo (default).
DRIVE_LEAKS = ("learnt", "chip")
DEFAULT_DRIVE_LEAK = "learnt"


def resolve_drive_leak(raw) -> str:
    """``raw`` (None: the default) checked against :data:`DRIVE_LEAKS`; one line naming the key."""
    if raw is None:
        return DEFAULT_DRIVE_LEAK
    if raw not in DRIVE_LEAKS:
        raise ValueError(f"--set {DRIVE_LEAK_KEY}={raw!r}: must be one of {', '.join(DRIVE_LEAKS)}")
    return str(raw)


def natural_dash(lam: float, chip_dt: float) -> int:
    """The dash nearest the network's own leak ``lam`` (s⁻¹) at ``chip_dt`` (s): today's mapping."""
    return int(dash_from_tau(1.0 / lam, chip_dt))


def resolve_leak_dash(raw, max_dash_mem: Optional[int]) -> int:
    """The user's ``leak_dash`` as an int in ``1..max_dash_mem``.

    Raises
    ------
    ValueError
        One line naming ``leak_dash`` and the allowed range: not an integer, < 1 (dash 0 wipes
        the membrane every step: no integration), or above the chip's largest membrane dash.
    """
    hi = 15 if max_dash_mem is None else int(max_dash_mem)
    if isinstance(raw, bool) or not isinstance(raw, (int, np.integer, float)) or float(raw) != int(raw):
        raise ValueError(f"--set {LEAK_DASH_KEY}={raw!r}: the membrane dash must be an integer 1..{hi}")
    d = int(raw)
    if not 1 <= d <= hi:
        raise ValueError(f"--set {LEAK_DASH_KEY}={d}: the chip's membrane dash must be 1..{hi} "
                         f"(τ_chip = chip step · 2^dash roughly)")
    return d


def with_chip_leak(net: SCN, dash: int) -> SCN:
    """``net`` with the leak the chip's membrane dash ``dash`` implements at ``net.dt``.

    SCN theory: the network tracks x with any leak λ' when it is driven by ``c' = ẋ + λ' x``;
    F, Ω and the thresholds do not depend on λ.  In the authors' discrete semantics
    ``x_t = a x_{t−1} + dt c_t`` with ``a = 1 − λ dt``, so for the chip's decay
    ``a' = 1 − 2^−dash`` the drive ``c'_t = c_t + (a − a') x_{t−1} / dt`` makes the chip's membrane
    integrate F x exactly.  Every stage computes the drive from the signal with the network's
    own ``lam`` (``current_for_signal``, the encoder's ``q.lam_chip``), so setting ``lam`` to the
    chip's rate ``2^−dash / dt`` re-derives the drive everywhere at once.  Fewer spikes at a
    slower leak: the read-out decays by λ', so holding x takes ∝ λ' spikes."""
    from quantization.fixed_point import euler_rate_from_dash

    lam = float(euler_rate_from_dash(int(dash), net.dt))
    if abs(lam - net.lam) <= 1e-12 * net.lam:
        return net
    out = net.copy()
    out.lam = lam
    out.meta = dict(out.meta, chip_leak={"dash": int(dash), "lam_chip": lam, "lam_learnt": float(net.lam)})
    return out


def at_chip_step(net: SCN, chip_dt: float) -> SCN:
    """``net`` stepped at ``chip_dt`` (same continuous-time network).

    The voltage and threshold noise are per-step standard deviations: scaled by
    ``sqrt(chip_dt / dt)`` so their accumulated variance per second stays as learnt."""
    if abs(chip_dt - net.dt) <= 1e-12 * net.dt:
        return net
    out = net.copy()
    f = math.sqrt(chip_dt / net.dt)
    out.dt, out.v_noise, out.t_noise = float(chip_dt), float(net.v_noise) * f, float(net.t_noise) * f
    out.meta = dict(net.meta, chip_step={"learning_dt": float(net.dt), "chip_dt": float(chip_dt),
                                         "k": int(round(net.dt / chip_dt))})
    return out


def upsample(x: np.ndarray, k: int) -> np.ndarray:
    """Signal (trials, T, M) at k× the rate (trials, T·k, M) by linear interpolation between
    samples, so chip step ``t·k + k − 1`` carries sample t (the signal is 0 before t = 0: rest)."""
    x = np.asarray(x, dtype=np.float64)
    if k == 1:
        return x
    prev = np.concatenate([np.zeros_like(x[:, :1]), x[:, :-1]], axis=1)
    w = (np.arange(1, k + 1) / k)[None, None, :, None]
    y = (1.0 - w) * prev[:, :, None, :] + w * x[:, :, None, :]  # exactly x at w = 1
    return y.reshape(x.shape[0], x.shape[1] * k, x.shape[2])


def downsample(y: np.ndarray, k: int) -> np.ndarray:
    """Estimate (trials, T·k, M) at the chip step → (trials, T, M) at the learning step: the
    chip step that carries sample t (``t·k + k − 1``, see :func:`upsample`)."""
    y = np.asarray(y, dtype=np.float64)
    return y if k == 1 else y[:, k - 1::k]


def upsampled_source(source, k: int):
    """An input source (``source(start, length) -> (length, M)`` current, 1/s) at k× the rate:
    each sample's current held for its k chip steps (the same signal, stepped finer)."""
    if k == 1:
        return source

    def fine(start: int, length: int) -> np.ndarray:
        a, b = start // k, (start + length - 1) // k + 1
        c = np.repeat(source(a, b - a), k, axis=0)
        off = start - a * k
        return c[off:off + length]

    return fine


def rederived_current(c: np.ndarray, lam_signal: float, lam_chip: float, dt: float) -> np.ndarray:
    """Current (T, M), 1/s, that makes a leak-``lam_chip`` integrator hold the signal a
    leak-``lam_signal`` integrator makes of ``c`` (T, M), both from rest at step ``dt`` (s):
    ``c'_t = c_t + (a − a') x_{t−1} / dt`` with ``x_t = a x_{t−1} + dt c_t``, ``a = 1 − lam_signal·dt``,
    ``a' = 1 − lam_chip·dt``."""
    from neuromorph.sim.signals import current_for_signal, leaky_integrate

    if lam_signal == lam_chip:
        return np.asarray(c, dtype=np.float64)
    return current_for_signal(leaky_integrate(c, lam_signal, dt), lam_chip, dt)


def rederived_source(source, lam_signal: float, lam_chip: float, dt: float):
    """An input source (``source(start, length)``, current 1/s) re-derived for the leak
    ``lam_chip`` (:func:`rederived_current`), for sources read in order (``learn`` reads its
    source chunk after chunk); the signal's last sample is carried between chunks."""
    if lam_signal == lam_chip:
        return source
    from neuromorph.sim.signals import leaky_integrate

    state = {"next": 0, "x": None}
    a, a2 = 1.0 - lam_signal * dt, 1.0 - lam_chip * dt

    def chip(start: int, length: int) -> np.ndarray:
        if start != state["next"]:
            raise RuntimeError(f"re-derived source read at {start}, expected {state['next']} (in order only)")
        c = np.asarray(source(start, length), dtype=np.float64)
        x = leaky_integrate(c, lam_signal, dt, x0=state["x"])
        prev = np.vstack([np.zeros((1, c.shape[1])) if state["x"] is None else state["x"][None], x[:-1]])
        state["next"], state["x"] = start + length, x[-1].copy()
        return c + (a - a2) * prev / dt

    return chip
