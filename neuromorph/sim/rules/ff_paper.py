r"""Feed-forward rule, Eq 7 as printed (``FeedforwardRule(form="paper")``)::

    ΔF_k = ε_F (b − α F_k)

The same rule as the code form after re-parameterising (paper α = 1/code α, paper ε = code ε·code α).
"""
from __future__ import annotations

from numba import njit

KIND = 1


@njit(cache=True, inline="always")
def ff_paper_weight(f, b, lr, alpha):
    """One weight: ``f + ε (b − α f)``."""
    return f + lr * (b - alpha * f)


@njit(cache=True, inline="always")
def update_row(F, k, b, U, p):
    """The row ``F[k]`` (M,) of spiking neuron k (``U`` unused)."""
    for j in range(F.shape[1]):
        F[k, j] = ff_paper_weight(F[k, j], b[j], p.lr, p.alpha)
