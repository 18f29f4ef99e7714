"""The chip's integer arithmetic, each rule defined once (numba scalar + NumPy array wrapper).

Everything that *mimics what the integer core computes* lives here; what turns real numbers
into chip integers (rounding, quantizers, dash ↔ τ) lives in :mod:`quantization.fixed_point`.
Each primitive is one ``@njit(cache=True, inline="always")`` scalar function, callable from
other numba kernels (the Xylo emulator, the SCN simulator kernel) where numba inlines it, plus
an ``*_array`` wrapper for NumPy arrays that validates its arguments and broadcasts through a
numba ufunc built from the *same* scalar function — so kernels, quantizer and tests cannot drift
apart. The rules are those of ``docs/xylo_integer_update.md``, matched bit-exactly against
Rockpool's xylosim.

====================================  ==================================================================
scalar (njit)                         rule
====================================  ==================================================================
``saturate(x, bits)``                 clamp to ``[-2**(bits-1), 2**(bits-1) - 1]`` (saturating adders)
``wrap(x, bits)``                     two's-complement narrowing (C++ storing into ``int16_t``)
``bitshift_decrement(v, dash)``       ``D(v, dash) = v >> dash``, but at least 1 when ``v > 0``
``bitshift_decayed(v, dash)``         state after one decay step, ``v - D(v, dash)``
``shift_weight(w, shift, bits)``      effective weight ``wrap(w << shift, bits)``
``grid_round(w, offset, q, qm, u)``   stochastic rounding onto the grid ``q·n`` given a uniform ``u``
====================================  ==================================================================

This module never imports ``neuromorph`` (in particular no random generator: ``grid_round``
takes its uniform sample as an argument).
"""
from __future__ import annotations

from typing import Union

import numpy as np
from numba import njit, vectorize

from .fixed_point import _check_bits

__all__ = [
    "saturate",
    "wrap",
    "bitshift_decrement",
    "bitshift_decayed",
    "shift_weight",
    "grid_round",
    "saturate_array",
    "wrap_array",
    "bitshift_decrement_array",
    "bitshift_decayed_array",
    "shift_weight_array",
    "grid_round_array",
]

ArrayLike = Union[np.ndarray, float, int, list]

#: Largest shift / dash the wrappers accept: ``v >> 62`` and ``1 << 62`` are exact in int64.
MAX_SHIFT = 62


# =============================================================================================
# Scalar primitives (numba; inlined into the kernels that call them)
# =============================================================================================
@njit(cache=True, inline="always")
def saturate(x: int, bits: int) -> int:
    """Clamp ``x`` to the signed ``bits``-bit range, as the chip's saturating adders do.

    Parameters
    ----------
    x : int
        Integer value (int64 range).
    bits : int
        Width including the sign bit (16: -32768..32767).

    Returns
    -------
    int
        ``min(max(x, -2**(bits-1)), 2**(bits-1) - 1)``.
    """
    hi = (1 << (bits - 1)) - 1
    lo = -(1 << (bits - 1))
    if x > hi:
        return hi
    if x < lo:
        return lo
    return x


@njit(cache=True, inline="always")
def wrap(x: int, bits: int) -> int:
    """Two's-complement narrowing of ``x`` to ``bits`` bits (keep the low bits, reinterpret signed).

    Xylo uses it where xylosim stores a wider C++ ``int`` into an ``int16_t`` without saturating:
    the reset ``V - threshold`` and shifted weights (16 bit: ``100 << 9 = 51200 → -14336``).

    Parameters
    ----------
    x : int
        Integer value (int64 range).
    bits : int
        Target width including the sign bit.

    Returns
    -------
    int
        The unique value in ``[-2**(bits-1), 2**(bits-1) - 1]`` congruent to ``x`` mod ``2**bits``.
    """
    half = 1 << (bits - 1)
    return ((x + half) & ((half << 1) - 1)) - half


@njit(cache=True, inline="always")
def bitshift_decrement(v: int, dash: int) -> int:
    """Decrement ``D(v, dash)`` of one bit-shift decay step (what is *subtracted* from the state).

    ``v >> dash`` (arithmetic shift = floor division by ``2**dash``), except that a positive
    ``v`` whose shift is 0 decays by 1, so a positive state always moves toward 0. Negative
    ``v`` already gives ``<= -1`` under floor; zero gives 0. At dash 1: ``D(3) = 1``,
    ``D(-3) = -2`` (the rounding is asymmetric).

    Parameters
    ----------
    v : int
        State (Isyn or Vmem).
    dash : int
        Shift, ``0 <= dash <= 62``.

    Returns
    -------
    int
        The decrement; the decayed state is :func:`bitshift_decayed`.
    """
    r = v >> dash
    if r == 0 and v > 0:
        return 1
    return r


@njit(cache=True, inline="always")
def bitshift_decayed(v: int, dash: int) -> int:
    """State after one bit-shift decay step: ``v - bitshift_decrement(v, dash)``.

    Never grows in magnitude (no saturation needed); ``dash = 0`` gives 0 (memoryless). From
    100 at dash 1: 50, 25, 13, 7, 4, 2, 1, 0.

    Parameters
    ----------
    v : int
        State (Isyn or Vmem).
    dash : int
        Shift, ``0 <= dash <= 62``.

    Returns
    -------
    int
        The decayed state.
    """
    return v - bitshift_decrement(v, dash)


@njit(cache=True, inline="always")
def shift_weight(w: int, shift: int, bits: int) -> int:
    """Effective weight the chip adds per event: ``wrap(w << shift, bits)``.

    Parameters
    ----------
    w : int
        Stored integer weight.
    shift : int
        Left shift of the weight class, ``>= 0``.
    bits : int
        Width the shifted weight is narrowed to (Xylo: 16, the state width).

    Returns
    -------
    int
        The narrowed shifted weight (16 bit: ``100 << 9 → -14336``).
    """
    return wrap(w << shift, bits)


@njit(cache=True, inline="always")
def grid_round(w: float, offset: float, q: float, q_max: float, u: float) -> float:
    """Stochastically round ``w + offset`` onto the grid ``q·n`` (``|n| <= q_max``), minus ``offset``.

    ``n = floor(v) + [u < v - floor(v)]`` with ``v = (w + offset) / q``, then clipped to
    ``±q_max``. With ``u`` uniform on [0, 1) the result is unbiased (``E = w`` inside the range),
    so learning updates much smaller than one grid step still move a weight on average
    (quantization-aware local learning). ``offset`` shifts the grid (e.g. the diagonal of Ω,
    whose integer part is ``w_kk - θ_k``).

    Parameters
    ----------
    w : float
        Real value.
    offset : float
        Grid offset, in ``w``'s units.
    q : float
        Grid step, > 0, in ``w``'s units.
    q_max : float
        Largest grid index magnitude (127 for 8-bit weights).
    u : float
        Uniform sample in [0, 1); the caller draws it (the SCN kernel: ``uniform(rng_state)``).

    Returns
    -------
    float
        ``n·q - offset``.
    """
    v = (w + offset) / q
    n = np.floor(v)
    if u < v - n:
        n += 1.0
    if n > q_max:
        n = q_max
    elif n < -q_max:
        n = -q_max
    return n * q - offset


# =============================================================================================
# Array wrappers: validation, then a ufunc of the scalar primitive (broadcasting as NumPy does)
# =============================================================================================
class _LazyUfunc:
    """A numba ufunc of a scalar primitive, built (or loaded from numba's cache) on its first call.

    Building all six at import cost about 0.5 s in every process that imports this module, which
    most of them (the simulator, the command line) only do for the scalar functions."""

    def __init__(self, signature: str, fn) -> None:
        self._signature, self._fn, self._ufunc = signature, fn, None

    def __call__(self, *args):
        if self._ufunc is None:
            self._ufunc = vectorize([self._signature], cache=True)(self._fn)
        return self._ufunc(*args)


def _lazy_ufunc(signature: str):
    return lambda fn: _LazyUfunc(signature, fn)


@_lazy_ufunc("int64(int64, int64)")
def _saturate_u(x, bits):
    return saturate(x, bits)


@_lazy_ufunc("int64(int64, int64)")
def _wrap_u(x, bits):
    return wrap(x, bits)


@_lazy_ufunc("int64(int64, int64)")
def _decrement_u(v, dash):
    return bitshift_decrement(v, dash)


@_lazy_ufunc("int64(int64, int64)")
def _decayed_u(v, dash):
    return bitshift_decayed(v, dash)


@_lazy_ufunc("int64(int64, int64, int64)")
def _shift_weight_u(w, shift, bits):
    return shift_weight(w, shift, bits)


@_lazy_ufunc("float64(float64, float64, float64, float64, float64)")
def _grid_round_u(w, offset, q, q_max, u):
    return grid_round(w, offset, q, q_max, u)


def _integers(x: ArrayLike, name: str) -> np.ndarray:
    """``x`` as int64, refusing non-integral or non-numeric values."""
    a = np.asarray(x)
    if a.dtype.kind == "f":
        if not np.all(np.isfinite(a)) or np.any(a != np.trunc(a)):
            raise ValueError(f"{name} must hold integers; round first")
    elif a.dtype.kind not in "iub":
        raise ValueError(f"{name} must hold integers, got dtype {a.dtype}")
    return a.astype(np.int64)


def _shifts(x: ArrayLike, name: str) -> np.ndarray:
    a = _integers(x, name)
    if np.any(a < 0) or np.any(a > MAX_SHIFT):
        raise ValueError(f"{name} must lie in 0..{MAX_SHIFT}")
    return a


def saturate_array(x: ArrayLike, bits: int) -> np.ndarray:
    """Array form of :func:`saturate`.

    Parameters
    ----------
    x : array_like
        Integer values, any shape (floats must be integral).
    bits : int
        Width including sign, 1..62.

    Returns
    -------
    numpy.ndarray
        int64, same shape.
    """
    return _saturate_u(_integers(x, "x"), _check_bits(bits))


def wrap_array(x: ArrayLike, bits: int) -> np.ndarray:
    """Array form of :func:`wrap`.

    Parameters
    ----------
    x : array_like
        Integer values, any shape.
    bits : int
        Width including sign, 1..62.

    Returns
    -------
    numpy.ndarray
        int64, same shape.
    """
    return _wrap_u(_integers(x, "x"), _check_bits(bits))


def bitshift_decrement_array(v: ArrayLike, dash: ArrayLike) -> np.ndarray:
    """Array form of :func:`bitshift_decrement`.

    Parameters
    ----------
    v : array_like
        Integer states, any shape.
    dash : array_like
        Integer shifts 0..62, broadcastable to ``v`` (e.g. one per neuron).

    Returns
    -------
    numpy.ndarray
        int64 decrements, broadcast shape.
    """
    return _decrement_u(_integers(v, "v"), _shifts(dash, "dash"))


def bitshift_decayed_array(v: ArrayLike, dash: ArrayLike) -> np.ndarray:
    """Array form of :func:`bitshift_decayed`.

    Parameters
    ----------
    v : array_like
        Integer states, any shape.
    dash : array_like
        Integer shifts 0..62, broadcastable to ``v`` (e.g. one per neuron).

    Returns
    -------
    numpy.ndarray
        int64 decayed states, broadcast shape.
    """
    return _decayed_u(_integers(v, "v"), _shifts(dash, "dash"))


def shift_weight_array(w: ArrayLike, shift: ArrayLike, bits: int) -> np.ndarray:
    """Array form of :func:`shift_weight`.

    Parameters
    ----------
    w : array_like
        Integer weights, any shape (``|w| < 2**(62 - shift)``).
    shift : array_like
        Left shift(s) 0..62, broadcastable to ``w``.
    bits : int
        Width the shifted weights are narrowed to, 1..62.

    Returns
    -------
    numpy.ndarray
        int64 effective weights, broadcast shape.
    """
    return _shift_weight_u(_integers(w, "w"), _shifts(shift, "shift"), _check_bits(bits))


def grid_round_array(w: ArrayLike, offset: ArrayLike, q: ArrayLike, q_max: float, u: ArrayLike) -> np.ndarray:
    """Array form of :func:`grid_round`.

    Parameters
    ----------
    w, offset : array_like
        Real values and grid offsets (same units), broadcastable.
    q : array_like
        Grid step(s), > 0.
    q_max : float
        Largest grid index magnitude, >= 0.
    u : array_like
        Uniform samples in [0, 1), broadcastable to ``w`` (one per element for independent rounding).

    Returns
    -------
    numpy.ndarray
        float64, broadcast shape.
    """
    qa = np.asarray(q, dtype=np.float64)
    if not np.all(np.isfinite(qa)) or np.any(qa <= 0):
        raise ValueError("grid step q must be finite and > 0")
    if not (np.isfinite(q_max) and q_max >= 0):
        raise ValueError(f"q_max = {q_max!r} must be finite and >= 0")
    ua = np.asarray(u, dtype=np.float64)
    if np.any(ua < 0) or np.any(ua >= 1):
        raise ValueError("u must lie in [0, 1)")
    return _grid_round_u(np.asarray(w, dtype=np.float64), np.asarray(offset, dtype=np.float64), qa,
                         float(q_max), ua)
