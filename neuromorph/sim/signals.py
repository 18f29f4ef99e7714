"""Input signals for spike coding networks.

Conventions: a signal generator returns the **input current** ``c`` with shape (T, M)
(time steps × signal dimensions).  The represented signal is its leaky integral
``x_t = (1 - λ dt) x_{t-1} + dt c_t`` (Eq 2 of the paper, discretised as in the authors'
code), computed by :func:`leaky_integrate`.

* :func:`smoothed_white_noise` — the paper's training/test input: i.i.d. Gaussian samples
  convolved with a normalised Gaussian kernel (σ in samples), scaled by an amplitude, drawn in
  independent blocks (the code uses 1000-step blocks, each convolved with zero padding so it
  tapers at its edges).
* :func:`sine_cosine` — the Fig 2 test input (x = (sin, cos)).
* :func:`correlated_gaussian` — smoothed white noise mixed to a given covariance (Fig 3, S1 §12).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from scipy import fft as sp_fft


def check_signal(name: str, c: np.ndarray, n_inputs: Optional[int] = None) -> np.ndarray:
    """Return ``c`` as a float64 (T, M) array, or raise ``ValueError`` naming the problem."""
    arr = np.asarray(c, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (time steps, inputs), got shape {arr.shape}")
    if n_inputs is not None and arr.shape[1] != n_inputs:
        raise ValueError(f"{name} has {arr.shape[1]} input channel(s) but the network expects {n_inputs}")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} contains NaN or inf (first at step {bad[0]}, channel {bad[1]})")
    return arr


def gaussian_kernel(sigma: float, length: int = 1000) -> np.ndarray:
    """Gaussian smoothing kernel of ``length`` samples centred on ``length // 2``, summing to 1."""
    t = np.arange(1, length + 1) - length / 2
    k = np.exp(-(t ** 2) / (2.0 * sigma ** 2))
    return k / k.sum()


def smoothed_white_noise(n_steps: int, n_inputs: int, rng: np.random.Generator, *,
                         amplitude: float = 2000.0, sigma: float = 30.0,
                         block: Optional[int] = 1000, kernel_length: int = 1000) -> np.ndarray:
    """Smoothed Gaussian white noise input current, shape (n_steps, n_inputs).

    Each block of ``block`` steps (or the whole sequence if ``block`` is None) is an
    independent draw of ``N(0,1)`` samples convolved ("same" size, zero padded) with a
    Gaussian of width ``sigma`` samples, times ``amplitude``.
    """
    if n_steps <= 0 or n_inputs <= 0:
        raise ValueError(f"n_steps and n_inputs must be positive, got {n_steps}, {n_inputs}")
    k = gaussian_kernel(sigma, kernel_length)
    blen = n_steps if block is None else int(block)
    n_blocks = -(-n_steps // blen)
    white = rng.standard_normal((n_blocks, blen, n_inputs))
    out = np.empty((n_blocks, blen, n_inputs))
    out[...] = _same_convolve_blocks(white, k).transpose(0, 2, 1)
    out *= amplitude
    return out.reshape(n_blocks * blen, n_inputs)[:n_steps]


def _same_convolve_blocks(white: np.ndarray, k: np.ndarray) -> np.ndarray:
    """``fftconvolve(white, k[None, :, None], mode="same", axes=1)`` of white (B, L, M),
    returned as (B, M, L): the same FFT length, products and centring as SciPy's (bit for bit,
    ``tests/test_rng.py``), but the transforms run along contiguous rows and the kernel's
    spectrum is not broadcast through a strided layout (≈25 % less time, the training input is
    ≈1/3 of Fig 2's learning time on one core)."""
    blen = white.shape[1]
    full = blen + k.shape[0] - 1
    nfft = sp_fft.next_fast_len(full, True)
    spec = sp_fft.rfft(np.ascontiguousarray(white.transpose(0, 2, 1)), nfft, axis=2)
    spec *= sp_fft.rfft(k, nfft)
    y = sp_fft.irfft(spec, nfft, axis=2)
    start = (full - blen) // 2
    return y[:, :, start:start + blen]


def leaky_integrate(c: np.ndarray, lam: float, dt: float, x0: Optional[np.ndarray] = None) -> np.ndarray:
    """Target signal ``x_t = (1-λdt) x_{t-1} + dt c_t`` for an input current ``c`` of shape (T, M)."""
    # scipy.signal.lfilter([dt], [1, -a], c, axis=0, zi=zi) bit for bit, without importing scipy.signal
    from neuromorph.sim.leaky_filter import first_order_filter

    c = np.asarray(c, dtype=np.float64)
    a = 1.0 - lam * dt
    zi = None if x0 is None else (a * np.asarray(x0, dtype=np.float64))[None, :]
    return first_order_filter(c, a, dt, zi)


def current_for_signal(x: np.ndarray, lam: float, dt: float) -> np.ndarray:
    """Inverse of :func:`leaky_integrate`: the current ``c`` whose leaky integral is ``x`` (x_{-1}=0)."""
    x = np.asarray(x, dtype=np.float64)
    prev = np.vstack([np.zeros((1, x.shape[1])), x[:-1]])
    return (x - (1.0 - lam * dt) * prev) / dt


def sine_cosine(n_steps: int, dt: float, lam: float, *, period: float = 1.0, amplitude: float = 3.0) -> np.ndarray:
    """Input current whose signal is x(t) = amplitude·(sin 2πt/period, cos 2πt/period), shape (T, 2)."""
    t = np.arange(n_steps) * dt
    x = amplitude * np.stack([np.sin(2 * np.pi * t / period), np.cos(2 * np.pi * t / period)], axis=1)
    return current_for_signal(x, lam, dt)


def correlated_gaussian(n_steps: int, cov: np.ndarray, rng: np.random.Generator, *,
                        amplitude: float = 2000.0, sigma: float = 30.0, block: Optional[int] = 1000) -> np.ndarray:
    """Smoothed white noise whose channels have covariance ∝ ``cov`` (M, M), shape (T, M)."""
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise ValueError(f"cov must be a square (M, M) matrix, got shape {cov.shape}")
    if not np.allclose(cov, cov.T):
        raise ValueError("cov must be symmetric")
    w, v = np.linalg.eigh(cov)
    if w.min() < -1e-12 * max(1.0, w.max()):
        raise ValueError(f"cov must be positive semi-definite (smallest eigenvalue {w.min():.3g})")
    L = v * np.sqrt(np.clip(w, 0, None))
    white = smoothed_white_noise(n_steps, cov.shape[0], rng, amplitude=amplitude, sigma=sigma, block=block)
    return white @ L.T
