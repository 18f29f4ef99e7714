"""The compiled leaky integral equals SciPy's ``lfilter`` bit for bit (it replaced it in
``signals.leaky_integrate`` to keep ``scipy.signal``'s 0.5 s import out of every process)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import lfilter

from neuromorph.sim.leaky_filter import first_order_filter
from neuromorph.sim.signals import leaky_integrate


@pytest.mark.parametrize("with_state", [False, True])
def test_equals_lfilter_bit_for_bit(with_state: bool) -> None:
    rng = np.random.default_rng(3)
    for _ in range(40):  # lengths, channels, scales and decays spread over many orders of magnitude
        T, M = int(rng.integers(1, 2000)), int(rng.integers(1, 5))
        c = rng.standard_normal((T, M)) * 10 ** rng.uniform(-3, 4)
        lam, dt = rng.uniform(0.1, 100), 10 ** rng.uniform(-5, -2)
        a = 1.0 - lam * dt
        if with_state:
            x0 = rng.standard_normal(M)
            ref, _ = lfilter([dt], [1.0, -a], c, axis=0, zi=(a * x0)[None, :])
            got = leaky_integrate(c, lam, dt, x0=x0)
        else:
            ref = lfilter([dt], [1.0, -a], c, axis=0)
            got = leaky_integrate(c, lam, dt)
        assert got.dtype == np.float64 and got.shape == c.shape
        np.testing.assert_array_equal(got, ref)


def test_one_dimensional_input_and_non_finite_values_as_scipy() -> None:
    c = np.array([1.0, np.inf, 2.0, -3.0])
    ref = lfilter([1e-3], [1.0, -0.9], c, axis=0)
    np.testing.assert_array_equal(first_order_filter(c, 0.9, 1e-3), ref)  # inf then NaN, as SciPy
    x = np.random.default_rng(0).standard_normal(50)
    np.testing.assert_array_equal(first_order_filter(x, 0.99, 1e-4), lfilter([1e-4], [1.0, -0.99], x))
    with pytest.raises(ValueError, match="zi has 2 channel"):
        first_order_filter(np.zeros((5, 3)), 0.9, 1e-3, np.zeros((1, 2)))


def test_any_gain_as_the_chip_readout_uses_it() -> None:
    # chip_readout.output_traces: lfilter([a], [1, -a], s) then lfilter([1], [1, -b], .) on spike counts
    rng = np.random.default_rng(5)
    s = rng.poisson(0.3, (3000, 7)).astype(np.float64)
    for dash in range(0, 9):
        a = 1.0 - 2.0 ** -dash
        g = rng.uniform(-3, 3)
        np.testing.assert_array_equal(first_order_filter(s, a, a), lfilter([a], [1.0, -a], s, axis=0))
        np.testing.assert_array_equal(first_order_filter(s, a, g), lfilter([g], [1.0, -a], s, axis=0))
        np.testing.assert_array_equal(first_order_filter(s, a, 1.0), lfilter([1.0], [1.0, -a], s, axis=0))
