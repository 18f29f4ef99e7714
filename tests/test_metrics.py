"""Coding-error measures on hand-computed cases."""
import numpy as np
import pytest

from neuromorph.metrics import mean_squared_error, normalized_error, relative_rms_error


def _signal():
    # x has columns with variance 1 and 4 (means 0); x_hat is off by +1 / −1 alternately in column 0
    # and by a constant 2 in column 1
    x = np.array([[1.0, 2.0], [-1.0, -2.0], [1.0, 2.0], [-1.0, -2.0]])
    x_hat = x + np.array([[1.0, 2.0], [-1.0, 2.0], [1.0, 2.0], [-1.0, 2.0]])
    return x, x_hat


def test_mean_squared_error_hand_computed():
    x, x_hat = _signal()
    # squared errors: column 0 all 1, column 1 all 4 -> mean 2.5 (the constant bias counts)
    assert mean_squared_error(x, x_hat) == pytest.approx(2.5)
    # scales with the signal's units squared
    assert mean_squared_error(3 * x, 3 * x_hat) == pytest.approx(22.5)


def test_normalized_error_ignores_bias_and_scale():
    x, x_hat = _signal()
    # Var(err) = 1 (column 0) + 0 (constant column 1); Var(x) = 1 + 4
    assert normalized_error(x, x_hat) == pytest.approx(1.0 / 5.0)
    assert normalized_error(3 * x, 3 * x_hat) == pytest.approx(1.0 / 5.0)
    # relative RMS: mean std of the error (1, 0) over mean std of x (1, 2)
    assert relative_rms_error(x, x_hat) == pytest.approx(0.5 / 1.5)


def test_shape_mismatch_and_constant_signal_are_rejected():
    x, x_hat = _signal()
    with pytest.raises(ValueError, match="same shape"):
        mean_squared_error(x, x_hat[:, :1])
    with pytest.raises(ValueError, match="same shape"):
        normalized_error(x, x_hat[:3])
    with pytest.raises(ValueError, match="zero variance"):
        normalized_error(np.ones((4, 2)), x_hat)
