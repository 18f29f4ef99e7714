r"""Local plasticity rules of Brendel et al. 2020, as separate, switchable objects.

Each rule is a small dataclass holding its constants and an ``enabled`` flag.  The simulator
calls ``rule.on_spike(state, k)`` at every spike of neuron ``k`` (the Python reference path) or
passes the constants to its compiled kernel (the fast path, :mod:`neuromorph.sim.kernels`); both
paths are tested to give identical weights.  Switching a rule off (``enabled=False``) is how
the paper's Fig 8 "manipulating plasticity" experiments are run.

Recurrent rule (Eq 6; Eq 5 is ``beta=2, mu=0``), at a spike of presynaptic neuron k, for every
postsynaptic i, with V the post-integration, pre-reset voltage and r the filtered spike train
*before* this spike::

    ΔΩ_ik = −ε_Ω [ β (V_i + μ r_i) + Ω_ik + μ δ_ik ]

Feed-forward rule (Eq 7), at a spike of neuron k, with b the input trace (= the signal x when
its leak equals λ)::

    form="code"  (authors' Fig 2 code, default):   ΔF_k = ε_F (α b − F_k)
    form="paper" (Eq 7 as printed):                ΔF_k = ε_F (b − α F_k)

The two are the same rule after re-parameterising (paper α = 1/code α, paper ε = code ε·code α).

Correlated-input feed-forward rule (S1 Text §12): the α F_k term is replaced by α times an
online estimate of Cov(b)·F_k (running mean and cross-moment with leak ``cov_leak``)::

    ΔF_k = ε_F (b − α U_k),   U ← (1 − λ_a dt) U + λ_a dt (F(b − m))(b − m)ᵀ
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

import numpy as np

FF_FORMS = {"code": 0, "paper": 1, "correlated": 2}


@dataclass
class RecurrentRule:
    """Eq 6 (cost-aware voltage rule); ``beta=2, mu=0`` gives Eq 5. Units: dimensionless."""

    lr: float = 1e-3
    beta: float = 1.0 / 0.9
    mu: float = 0.02 / 0.9
    enabled: bool = True
    max_lateral: float = float("inf")
    """Upper bound on lateral (off-diagonal) weights after each update; 0 = inhibition only,
    which keeps an SCN stable on hardware without a spike arbiter (see ``quantization``)."""

    def on_spike(self, state: "LearningState", k: int) -> None:
        om = state.Omega
        delta = self.beta * (state.V + self.mu * state.r) + om[:, k]
        delta[k] += self.mu
        om[:, k] -= self.lr * delta
        if np.isfinite(self.max_lateral):
            col = om[:, k]
            mask = np.arange(col.size) != k
            col[mask] = np.minimum(col[mask], self.max_lateral)


@dataclass
class FeedforwardRule:
    """Eq 7 (``form="paper"``) or the authors' Fig 2 placement of α (``form="code"``), or the
    correlated-input variant (``form="correlated"``, S1 §12).

    ``trace_leak``: leak (s⁻¹) of the input trace b used by the rule; ``None`` = the network's λ,
    so b equals the signal x (Fig 2).  Fig 4 uses 6λ.  ``cov_leak``: leak (s⁻¹) of the running
    covariance estimate in the correlated form.
    """

    lr: float = 1e-4
    alpha: float = 0.18
    form: Literal["code", "paper", "correlated"] = "code"
    trace_leak: Optional[float] = None
    cov_leak: float = 0.2
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.form not in FF_FORMS:
            raise ValueError(f"FeedforwardRule.form must be one of {sorted(FF_FORMS)}, got {self.form!r}")

    def on_spike(self, state: "LearningState", k: int) -> None:
        F = state.F
        if self.form == "code":
            F[k] += self.lr * (self.alpha * state.b - F[k])
        elif self.form == "paper":
            F[k] += self.lr * (state.b - self.alpha * F[k])
        else:
            F[k] += self.lr * (state.b - self.alpha * state.U[k])


@dataclass
class LearningState:
    """What a rule may read or change at a spike (views into the simulator's state).

    F (N, M), Omega (N, N) are modified in place; V (N,), r (N,), b (M,), U (N, M) are read.
    """

    F: np.ndarray
    Omega: np.ndarray
    V: np.ndarray
    r: np.ndarray
    b: np.ndarray
    U: np.ndarray


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
