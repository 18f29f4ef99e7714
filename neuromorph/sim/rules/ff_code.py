r"""Feed-forward rule, the authors' Fig 2 code placement of α (``FeedforwardRule(form="code")``).

At a spike of neuron k, with b the input trace (= the signal x when its leak equals λ)::

    ΔF_k = ε_F (α b − F_k)

Also the EI network's X→E and E→I rules with α = 1 (:mod:`neuromorph.sim.rules.ei`).
"""
from __future__ import annotations

from numba import njit

KIND = 0


@njit(cache=True, inline="always")
def ff_code_weight(f, b, lr, alpha):
    """One weight: ``f + ε (α b − f)``."""
    return f + lr * (alpha * b - f)


@njit(cache=True, inline="always")
def update_row(F, k, b, U, p):
    """The row ``F[k]`` (M,) of spiking neuron k (``U`` unused)."""
    for j in range(F.shape[1]):
        F[k, j] = ff_code_weight(F[k, j], b[j], p.lr, p.alpha)
