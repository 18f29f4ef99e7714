"""Provided example signals for tutorials, tests and benchmarks, in a user's units (not the network's)."""
from __future__ import annotations

import numpy as np


def multichannel_example(n_channels: int = 6, seconds: float = 60.0, dt: float = 1e-3, seed: int = 0) -> tuple:
    """A smooth, correlated multichannel signal, as a sensor might give it.

    Every channel mixes three slow latent sources (Gaussian-smoothed white noise, width 40 ms)
    with its own faster component (width 15 ms), and sits on its own offset and scale — so a
    network sees it only after ``neuromorph`` has rescaled it, and errors come back in these
    units.

    Parameters
    ----------
    n_channels : int
        M ≥ 1.
    seconds : float
        Length (s).
    dt : float
        Sample step (s).
    seed : int

    Returns
    -------
    (x, dt) : (ndarray (T, M), float)
        T = round(seconds / dt) samples; dt as given.
    """
    from scipy.ndimage import gaussian_filter1d

    if int(n_channels) != n_channels or n_channels < 1:
        raise ValueError(f"n_channels must be a positive integer, got {n_channels!r}")
    if not (seconds > 0 and dt > 0):
        raise ValueError(f"seconds and dt must be > 0, got {seconds!r}, {dt!r}")
    m = int(n_channels)
    T = int(round(seconds / dt))
    rng = np.random.default_rng(seed)
    steps = lambda s: s / 1e3 / dt  # noqa: E731  (ms -> samples)
    latent = gaussian_filter1d(rng.standard_normal((T, 3)), steps(40), axis=0)
    own = gaussian_filter1d(rng.standard_normal((T, m)), steps(15), axis=0)
    x = latent @ rng.standard_normal((3, m)) + 0.5 * own
    x /= x.std(axis=0)
    return x * rng.uniform(0.5, 5.0, m) + rng.uniform(-10.0, 10.0, m), float(dt)


# channel scales and offsets in mixed units, as a sensor board's channels would have
_SCALE = np.array([3.0, 0.2, 50.0, 1.0, 7.0])
_OFFSET = np.array([1.0, -2.0, 100.0, 0.0, 5.0])


def sensor_example(n_steps: int = 40_000, seed: int = 0) -> tuple[np.ndarray, float]:
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
    from scipy.ndimage import gaussian_filter1d

    rng = np.random.default_rng(seed)
    x = gaussian_filter1d(rng.standard_normal((int(n_steps), _SCALE.size)), 40, axis=0)
    return x * _SCALE + _OFFSET, 1e-3
