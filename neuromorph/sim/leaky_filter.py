"""The first-order recursion ``y_t = a y_{t-1} + g c_t`` as a compiled loop, bit for bit SciPy's ``lfilter``.

:func:`neuromorph.sim.signals.leaky_integrate` used ``scipy.signal.lfilter([dt], [1, -a], c,
axis=0, zi=...)``; importing ``scipy.signal`` costs about 0.5 s per process, more than every
call of the filter in a ``reproduce fig2`` run together (the chip readout's output traces,
:mod:`neuromorph.quant.chip_readout`, use it too).  SciPy's filter (direct form II
transposed, coefficients padded to ``b = [g, 0]``, ``a = [1, -a]``, divided by ``a[0] = 1``,
which is exact) computes, per channel,

    y_t = z + g * c_t
    z   = c_t * 0 - y_t * (-a)

with ``z`` starting at 0 or at the given ``zi``.  The loop below performs these operations in
this order, without contraction into fused multiply-adds (numba's default), so it returns the
same floating-point numbers (``tests/test_leaky_filter.py`` compares it with ``lfilter``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["first_order_filter"]


@njit(cache=True)
def _filter(c, a, gain, z0, out):
    T, M = c.shape
    neg_a = -a
    for m in range(M):
        z = z0[m]
        for t in range(T):
            x = c[t, m]
            y = z + gain * x
            out[t, m] = y
            z = x * 0.0 - y * neg_a  # SciPy's last delay: x * b[1] - y * a[1] (b[1] = 0 keeps NaN/inf as SciPy does)
    return out


def first_order_filter(c: np.ndarray, a: float, gain: float, zi: np.ndarray | None = None) -> np.ndarray:
    """``lfilter([gain], [1.0, -a], c, axis=0, zi=zi)``'s output (without the final state).

    Parameters
    ----------
    c : numpy.ndarray
        (T, M) or (T,) float64 input current, per step.
    a : float
        Decay per step (dimensionless; ``1 - λ dt`` for a leaky integral).
    gain : float
        Input gain (``dt`` in s for a leaky integral).
    zi : numpy.ndarray or None
        (1, M) (or (M,)) initial delay state; SciPy's ``zi`` (``a * x_{-1}`` for a leaky integral).

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``c``.
    """
    c = np.asarray(c, dtype=np.float64)
    c2 = np.ascontiguousarray(c.reshape(c.shape[0], -1))
    z0 = np.zeros(c2.shape[1]) if zi is None else np.ascontiguousarray(np.asarray(zi, np.float64).reshape(-1))
    if z0.shape[0] != c2.shape[1]:
        raise ValueError(f"zi has {z0.shape[0]} channel(s), c has {c2.shape[1]}")
    return _filter(c2, float(a), float(gain), z0, np.empty_like(c2)).reshape(c.shape)
