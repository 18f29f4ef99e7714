r"""Correlated-input feed-forward rule (S1 Text §12, ``FeedforwardRule(form="correlated")``).

The α F_k term of Eq 7 is replaced by α times an online estimate of Cov(b)·F_k (running mean m
and cross-moment U with rate ``cov_rate`` = λ_a dt per step)::

    ΔF_k = ε_F (b − α U_k),   m ← (1 − λ_a dt) m + λ_a dt b,
    U ← (1 − λ_a dt) U + λ_a dt (F(b − m))(b − m)ᵀ
"""
from __future__ import annotations

from numba import njit

KIND = 2


@njit(cache=True, inline="always")
def ff_correlated_weight(f, b, u, lr, alpha):
    """One weight: ``f + ε (b − α u)``."""
    return f + lr * (b - alpha * u)


@njit(cache=True, inline="always")
def update_row(F, k, b, U, p):
    """The row ``F[k]`` (M,) of spiking neuron k, against its covariance projection ``U[k]``."""
    for j in range(F.shape[1]):
        F[k, j] = ff_correlated_weight(F[k, j], b[j], U[k, j], p.lr, p.alpha)


@njit(cache=True, inline="always")
def step(F, b, U, m, p):
    """Advance the running mean ``m`` (M,) and projection ``U`` (N, M) by one step."""
    N, M = F.shape
    rate = p.cov_rate
    for j in range(M):
        m[j] = (1.0 - rate) * m[j] + rate * b[j]
    for i in range(N):
        proj = 0.0
        for j in range(M):
            proj += F[i, j] * (b[j] - m[j])
        for j in range(M):
            U[i, j] = (1.0 - rate) * U[i, j] + rate * proj * (b[j] - m[j])
