"""Example signals for notebooks, tests and benchmarks: what a user's recording looks like."""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

# channel scales and offsets in mixed units, as a sensor board's channels would have
_SCALE = np.array([3.0, 0.2, 50.0, 1.0, 7.0])
_OFFSET = np.array([1.0, -2.0, 100.0, 0.0, 5.0])


def multichannel_example(n_steps: int = 40_000, seed: int = 0) -> tuple[np.ndarray, float]:
    """A smooth 5-channel signal in mixed units and offsets (the shape of a sensor recording).

    Gaussian-smoothed white noise (width 40 samples = 40 ms), one scale and offset per channel.

    Parameters
    ----------
    n_steps : int
        Number of samples T.
    seed : int
        Seed of the noise (``numpy.random.default_rng``).

    Returns
    -------
    x : ndarray, shape (T, 5), float64
        The signal, in the channels' own units.
    dt : float
        Its sample step (s): 1 ms.
    """
    rng = np.random.default_rng(seed)
    x = gaussian_filter1d(rng.standard_normal((int(n_steps), _SCALE.size)), 40, axis=0)
    return x * _SCALE + _OFFSET, 1e-3
