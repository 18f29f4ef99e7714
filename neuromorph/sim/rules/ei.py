r"""The four plastic pathways of the EI (Dale's law) network, Fig 4 code (``docs/authors_code.md`` §3.2).

Each pathway is one of the SCN rules (same weight equations, :mod:`ff_code` with α = 1 and
:mod:`recurrent`) followed by the clipping that keeps Dale's law:

* X→E ``F_E[k] += ε_F (b_E − F_E[k])``                                       (:func:`input_row`)
* E→I ``W_EI[k, :] ← max(0, W_EI[k, :] + ε_F (b_I − W_EI[k, :]))`` (FF rule on the E-spike trace)
* E→E ``W_EE[:, k] ← max(0, W_EE[:, k] − ε_Ω (β(V_E + μ r_E) + W_EE[:, k]))``, then the fixed
  self-reset ``W_EE[k, k] = e_self_reset`` (no μδ term)                        (:func:`recurrent_column`)
* I→I ``W_II[:, k] ← min(0, W_II[:, k] − ε_Ω (β(V_I + μ r_I) + W_II[:, k] + μ e_k))``
* I→E ``W_IE[:, k] ← min(0, W_IE[:, k] − ε_Ω (β(V_E + μ r_E) + W_IE[:, k]))``

β = 1 in the Fig 4 code (:attr:`EIRules.beta`).  :class:`EIRules` switches pathways; the kernel
receives them as the bit mask of :func:`plastic_mask`.
"""
from __future__ import annotations

from dataclasses import dataclass

from numba import njit

from neuromorph.sim.rules.ff_code import ff_code_weight
from neuromorph.sim.rules.recurrent import recurrent_weight, self_term

# plastic-pathway bits
P_XE = 1
P_EI = 2
P_EE = 4
P_IE = 8
P_II = 16


@dataclass
class EIRules:
    """The four plastic pathways of the EI network (S1 §13, Fig 4 code).

    E→I is trained with the feed-forward rule (on the E-spike trace), E→E, I→E and I→I with the
    recurrent rule.  X→E is the feed-forward rule on an input trace with leak ``ff_trace_leak``.
    Each pathway can be switched off on its own.  ``beta`` scales the voltage term of the
    recurrent rule, ``ΔW = −ε_Ω (β (V + μ r) + W)``: 1 is the Fig 4 code, 2 the paper's Eq 5
    (``2V``: a presynaptic spike turns the postsynaptic depolarisation into an equal
    hyperpolarisation, Fig 1D).
    """

    lr_ff: float = 1e-5
    lr_rec: float = 1e-4
    mu: float = 0.002
    ff_trace_leak_factor: float = 6.0
    beta: float = 1.0
    ff_XE: bool = True
    ff_EI: bool = True
    rec_EE: bool = True
    rec_IE: bool = True
    rec_II: bool = True


def plastic_mask(rules: EIRules) -> int:
    """The kernel's bit mask of plastic pathways (``P_*``) for ``rules``."""
    return ((P_XE if rules.ff_XE else 0) | (P_EI if rules.ff_EI else 0) | (P_EE if rules.rec_EE else 0)
            | (P_IE if rules.rec_IE else 0) | (P_II if rules.rec_II else 0))


@njit(cache=True, inline="always")
def input_row(W, k, b, lr, nonneg):
    """Feed-forward rule (code form, α = 1) on the row ``W[k]`` against the trace ``b``;
    ``nonneg``: clip at 0 (E→I, Dale's law), else unclipped (X→E)."""
    for j in range(W.shape[1]):
        w = ff_code_weight(W[k, j], b[j], lr, 1.0)
        if nonneg:
            W[k, j] = w if w > 0.0 else 0.0
        else:
            W[k, j] = w


@njit(cache=True, inline="always")
def recurrent_column(W, k, V, r, lr, beta, mu, excitatory, with_self):
    """Recurrent rule on the column ``W[:, k]`` of presynaptic neuron k with the targets'
    voltages ``V`` and traces ``r``; clipped at 0 from below (``excitatory``) or above;
    ``with_self``: add the μδ term on ``W[k, k]`` (I→I)."""
    for i in range(W.shape[0]):
        w = recurrent_weight(W[i, k], V[i], r[i], lr, beta, mu)
        if with_self and i == k:
            w = self_term(w, lr, mu)
        if excitatory:
            W[i, k] = w if w > 0.0 else 0.0
        else:
            W[i, k] = w if w < 0.0 else 0.0
