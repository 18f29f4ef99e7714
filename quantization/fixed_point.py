"""Real numbers → chip integers: rounding, quantizers, dash ↔ time constant, in one place.

Everything that turns a real number into a chip integer lives here (in the spirit of
nengo-loihi's ``discretize.py``); what the chip then *computes* with those integers
(saturation, wrapping, bit-shift decay, shifted weights, stochastic grid rounding) lives in
:mod:`quantization.chip_arith`, so that the quantizer, the emulator, the simulator kernel and
the tests agree on one definition of each operation.

Conventions:

* Integer results are ``np.int64`` arrays (wide enough for any ≤32-bit format plus shifts).
* ``bits`` always counts the sign bit. The *quantizer* range is symmetric,
  ``±(2**(bits-1) - 1)`` (±127 for 8 bit), like Rockpool's ``global_quantize`` /
  ``channel_quantize``: a sign-symmetric grid keeps ``-w`` representable whenever ``w`` is,
  so the quantization error is sign-independent. *Saturation* of states uses the full two's
  complement range ``[-2**(bits-1), 2**(bits-1) - 1]`` because that is what the hardware does.
* Time constants: the Xylo bit-shift decay multiplies a state by ``1 - 2**-dash`` per step
  (for large states). Two conversions exist, named for the model they match:

  - **exact exponential** (:func:`dash_continuous`, :func:`dash_from_tau`,
    :func:`tau_from_dash`, :func:`effective_tau`): ``1 - 2**-dash = exp(-dt/tau)``,

        dash(tau) = -log2(1 - exp(-dt/tau))        tau(dash) = -dt / ln(1 - 2**-dash)

    Used wherever a *time constant* is given (the mapper's membrane dash for ``tau = 1/λ``,
    the fit check of requested taus). It is also what Rockpool's
    ``LIFTorch(leak_mode="bitshifts")`` uses, so a network trained in dash space maps onto
    the same integers.
  - **forward Euler** (:func:`dash_from_euler_rate`, :func:`euler_rate_from_dash`):
    ``1 - 2**-dash = 1 - λ·dt``, i.e. ``λ = 2**-dash / dt``. Used where a *leak rate* of the
    forward-Euler float model must reproduce the chip's per-step factor exactly: the leak a
    quantized network implements (``QuantizedSCN.lam_chip``, simulated by the float model as
    ``1 - λdt``) and its inverse when mismatch perturbs that rate.

  Rockpool's mapper instead uses the large-tau approximation ``dash = log2(tau/dt)``. It
  agrees with the exact form for ``tau >> dt`` (they differ by ≈ dt/(2·tau·ln2) dash units)
  but not near ``tau ≈ dt``: for ``tau = dt`` it gives dash 0, which *wipes* the state every
  step, while the exact one gives 0.66 → dash 1 (decay ½ vs e⁻¹ ≈ 0.37).
"""
from __future__ import annotations

from typing import Optional, Union

import numpy as np

__all__ = [
    "round_nearest",
    "round_stochastic",
    "quantize",
    "qmax",
    "dash_continuous",
    "dash_from_tau",
    "tau_from_dash",
    "effective_tau",
    "dash_from_euler_rate",
    "euler_rate_from_dash",
    "split_weight_shift",
    "stochastic_rounding",
]

ArrayLike = Union[np.ndarray, float, int, list]


def _finite(x: ArrayLike, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        bad = int(a.size - np.count_nonzero(np.isfinite(a)))
        raise ValueError(f"{name} contains {bad} non-finite value(s) (NaN or inf); cannot quantize")
    return a


def _check_bits(bits: int) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)) or not 1 <= int(bits) <= 62:
        raise ValueError(f"bits = {bits!r} must be an integer in 1..62")
    return int(bits)


def qmax(bits: int) -> int:
    """Largest magnitude of the symmetric signed quantizer grid: ``2**(bits-1) - 1`` (127 for 8)."""
    return (1 << (_check_bits(bits) - 1)) - 1


def round_nearest(x: ArrayLike) -> np.ndarray:
    """Round to the nearest integer, halves **away from zero** (0.5 → 1, -0.5 → -1, 2.5 → 3).

    Why not ``np.round``: numpy rounds halves to even (0.5 → 0, 1.5 → 2, 2.5 → 2), which is
    unbiased on average but makes the result depend on the parity of the neighbour — a weight
    of exactly 2.5 and one of 3.5 would round in opposite directions. Half-away-from-zero is
    sign-symmetric (``round(-x) == -round(x)``, matching the symmetric integer grid) and is
    the convention of C's ``round`` and most fixed-point hardware tool chains; exact halves are
    rare for scaled float weights, so the bias is negligible in practice.

    Args:
        x: real values, any shape.
    Returns:
        float64 array of integral values, same shape.
    """
    a = np.asarray(x, dtype=np.float64)
    t = np.trunc(a)
    # x - trunc(x) is exact in binary floating point, so |frac| >= 0.5 is an exact half test
    # (unlike floor(|x| + 0.5), which rounds 0.49999999999999994 up).
    frac = a - t
    return t + np.sign(a) * (np.abs(frac) >= 0.5)


def round_stochastic(x: ArrayLike, rng: np.random.Generator) -> np.ndarray:
    """Unbiased stochastic rounding: ``floor(x) + Bernoulli(x - floor(x))``.

    ``E[round_stochastic(x)] = x`` exactly, so rounding errors do not accumulate a bias over
    many small updates (the reason it is used for quantization-aware learning).

    Args:
        x: real values, any shape.
        rng: a ``numpy.random.Generator`` (explicit, for reproducibility).
    Returns:
        float64 array of integral values, same shape.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    a = np.asarray(x, dtype=np.float64)
    fl = np.floor(a)
    return fl + (rng.random(a.shape) < (a - fl))


def quantize(
    x: ArrayLike,
    scale: ArrayLike,
    bits: int,
    rounding: str = "nearest",
    rng: Optional[np.random.Generator] = None,
) -> tuple[np.ndarray, int]:
    """Map real values onto the symmetric signed ``bits``-bit grid: ``clip(round(x*scale))``.

    Args:
        x: real values, any shape (e.g. float weights).
        scale: integer units per real unit, a positive scalar or an array broadcastable to
            ``x`` (per-channel scales).
        bits: width including sign; the result lies in ``[-(2**(bits-1)-1), 2**(bits-1)-1]``.
        rounding: ``"nearest"`` (:func:`round_nearest`) or ``"stochastic"``
            (:func:`round_stochastic`, needs ``rng``).
        rng: random generator for stochastic rounding.

    Returns:
        ``(q, n_clipped)``: ``q`` an int64 array of ``x``'s broadcast shape; ``n_clipped`` the
        number of elements whose *rounded* value fell outside the grid and was clipped (so
        127.4 at 8 bit is not clipped, 127.6 is).

    Raises:
        ValueError: non-finite ``x``/``scale``, non-positive ``scale``, bad ``bits`` or
            ``rounding``, or stochastic rounding without ``rng``.
    """
    m = qmax(bits)
    a = _finite(x, "x")
    s = _finite(scale, "scale")
    if np.any(s <= 0):
        raise ValueError("scale must be > 0 everywhere")
    y = a * s
    if rounding == "nearest":
        r = round_nearest(y)
    elif rounding == "stochastic":
        if rng is None:
            raise ValueError("rounding='stochastic' needs rng (a numpy.random.Generator)")
        r = round_stochastic(y, rng)
    else:
        raise ValueError(f"rounding = {rounding!r} must be 'nearest' or 'stochastic'")
    n_clipped = int(np.count_nonzero(np.abs(r) > m))
    return np.clip(r, -m, m).astype(np.int64), n_clipped


def dash_continuous(tau: ArrayLike, dt: float) -> np.ndarray:
    """Real-valued dash whose decay factor ``1 - 2**-dash`` equals ``exp(-dt/tau)`` exactly.

    ``dash = -log2(1 - exp(-dt/tau))``; ``expm1`` keeps it accurate for ``tau >> dt``.

    Args:
        tau: time constants [s], > 0, any shape.
        dt: time step [s], > 0.
    Returns:
        float64 array, same shape (>= 0; large tau gives ≈ log2(tau/dt)).
    """
    t = _finite(tau, "tau")
    if np.any(t <= 0):
        raise ValueError("tau must be > 0 (a time constant of 0 has no bit-shift equivalent)")
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt = {dt!r} must be a finite number > 0")
    return -np.log2(-np.expm1(-dt / t))


def dash_from_tau(tau: ArrayLike, dt: float) -> np.ndarray:
    """Nearest integer dash for time constant(s) ``tau`` (see module docstring for the formula).

    Rounds :func:`dash_continuous` to the nearest integer (halves away from zero), i.e. the
    nearest in log-decay space, which keeps the *relative* error of ``1 - factor`` (the
    per-step leak) within a factor √2. No clipping to a chip's dash range: that is a fit
    question (:func:`quantization.fit_check.check_fit` reports it).

    Args:
        tau: time constants [s], > 0, any shape.
        dt: time step [s].
    Returns:
        int64 array, same shape.
    """
    return round_nearest(dash_continuous(tau, dt)).astype(np.int64)


def tau_from_dash(dash: ArrayLike, dt: float) -> np.ndarray:
    """Time constant [s] whose exponential decay per step equals ``1 - 2**-dash``.

    Inverse of :func:`dash_continuous`: ``tau = -dt / ln(1 - 2**-dash)``; accepts real dash
    (useful when learning in dash space). ``dash = 0`` gives ``tau = 0`` (memoryless).

    Args:
        dash: non-negative dash value(s), any shape.
        dt: time step [s].
    Returns:
        float64 array of tau [s], same shape.
    """
    d = _finite(dash, "dash")
    if np.any(d < 0):
        raise ValueError("dash must be >= 0")
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt = {dt!r} must be a finite number > 0")
    with np.errstate(divide="ignore"):
        # log1p(-1) = -inf → tau = 0 for dash 0, the memoryless limit.
        return -dt / np.log1p(-np.exp2(-d))


def effective_tau(dash: ArrayLike, dt: float) -> np.ndarray:
    """Effective time constant [s] of the chip's *integer* dash (≈ ``2**dash * dt`` for dash ≥ 3).

    Same formula as :func:`tau_from_dash` but only for integer dashes, because that is what
    the hardware holds. It describes the exponential regime; near zero the "at least 1 per
    step" rule of :func:`quantization.chip_arith.bitshift_decrement` makes the tail decay
    linearly (faster than tau says).

    Args:
        dash: non-negative integer dash value(s), any shape.
        dt: time step [s].
    Returns:
        float64 array of tau [s], same shape (0 for dash 0).
    """
    d = np.asarray(dash)
    if d.dtype.kind == "f" and (not np.all(np.isfinite(d)) or np.any(d != np.trunc(d))):
        raise ValueError("effective_tau expects integer dash values; use tau_from_dash for real dash")
    return tau_from_dash(d, dt)


def dash_from_euler_rate(lam: ArrayLike, dt: float) -> np.ndarray:
    """Real-valued dash whose per-step leak ``2**-dash`` equals the forward-Euler leak ``λ·dt``.

    ``dash = -log2(λ·dt)``, with ``λ·dt`` clipped to ``[1e-12, 1]`` first: a rate above
    ``1/dt`` (a forward-Euler step that overshoots zero) maps to dash 0, the memoryless chip
    neuron, and a rate ``<= 0`` (no leak, e.g. a large negative mismatch sample) to dash
    ``-log2(1e-12) ≈ 39.9``, beyond every chip's dash range (the target file format allows at
    most 31), so the caller's clip to the target's range turns it into the slowest leak.

    Parameters
    ----------
    lam : array_like
        Leak rate(s) λ [1/s], any shape.
    dt : float
        Time step [s], > 0.

    Returns
    -------
    numpy.ndarray
        float64 dash values, same shape, in ``[0, 39.87]``; round and clip to the target.
    """
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt = {dt!r} must be a finite number > 0")
    lam_dt = np.asarray(lam, dtype=np.float64) * dt
    if np.any(np.isnan(lam_dt)):
        raise ValueError("lam contains NaN")
    return -np.log2(np.clip(lam_dt, 1e-12, 1.0))


def euler_rate_from_dash(dash: ArrayLike, dt: float) -> np.ndarray:
    """Forward-Euler leak rate λ [1/s] the chip's dash implements: ``1 - λ·dt = 1 - 2**-dash``.

    Parameters
    ----------
    dash : array_like
        Non-negative dash value(s), any shape.
    dt : float
        Time step [s], > 0.

    Returns
    -------
    numpy.ndarray or float
        ``2**-dash / dt`` [1/s], same shape (``1/dt`` for dash 0).
    """
    d = np.asarray(dash)
    if np.any(d < 0):
        raise ValueError("dash must be >= 0")
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt = {dt!r} must be a finite number > 0")
    return 2.0 ** (-d) / dt


def split_weight_shift(
    w_float_scaled: ArrayLike,
    bits: int,
    max_shift: int,
    rounding: str = "nearest",
    rng: Optional[np.random.Generator] = None,
) -> tuple[np.ndarray, int, int]:
    """Represent real weights ``w`` (already in state units) as ``q << shift`` with ``q`` in bits.

    Xylo adds ``W << k`` to Isyn, with one left shift ``k`` per weight class (input, recurrent,
    readout). Weights whose magnitude exceeds the ``bits`` grid therefore fit as a coarser
    ``bits``-bit integer plus a shift. The shift chosen is the **smallest** ``s`` in
    ``0..max_shift`` such that ``round(w / 2**s)`` fits ``±(2**(bits-1)-1)``: every extra
    shift bit doubles the step size, so the smallest fitting shift keeps the most precision.
    If even ``max_shift`` does not fit, ``max_shift`` is used and the overflow is clipped
    (reported in ``n_clipped``).

    Args:
        w_float_scaled: real weights in integer state units (what should be added to Isyn).
        bits: weight width including sign.
        max_shift: largest allowed shift (Xylo: 7).
        rounding, rng: as in :func:`quantize`.

    Returns:
        ``(q, shift, n_clipped)``: int64 weights (same shape), the shift, and the number of
        clipped elements. ``q * 2**shift`` approximates ``w_float_scaled``.
    """
    if isinstance(max_shift, bool) or not isinstance(max_shift, (int, np.integer)) or max_shift < 0:
        raise ValueError(f"max_shift = {max_shift!r} must be an integer >= 0")
    m = qmax(bits)
    a = _finite(w_float_scaled, "w_float_scaled")
    peak = float(np.max(np.abs(a))) if a.size else 0.0
    shift = int(max_shift)
    for s in range(int(max_shift) + 1):
        # Decide with deterministic rounding so the chosen shift does not depend on the rng.
        if peak == 0.0 or float(np.max(np.abs(round_nearest(a / 2.0**s)))) <= m:
            shift = s
            break
    q, n_clipped = quantize(a, 2.0**-shift, bits, rounding=rounding, rng=rng)
    return q, shift, n_clipped


def stochastic_rounding(
    w: ArrayLike,
    scale: ArrayLike,
    bits: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Fake-quantize for quantization-aware learning: stochastic round onto the grid, back to reals.

    Returns ``clip(round_stochastic(w*scale), ±qmax) / scale`` as float64: values the chip can
    represent, expressed in ``w``'s units, with ``E[result] = w`` inside the range. A learner
    keeps float "shadow" weights and uses this in the forward pass (or as the update rule's
    rounding), so small updates survive quantization on average instead of always rounding
    back to the same integer.

    Args:
        w: real weights, any shape.
        scale: positive scalar or broadcastable array (integer units per real unit).
        bits: width including sign.
        rng: ``numpy.random.Generator``.
    Returns:
        float64 array, broadcast shape.
    """
    q, _ = quantize(w, scale, bits, rounding="stochastic", rng=rng)
    return q / np.asarray(scale, dtype=np.float64)
