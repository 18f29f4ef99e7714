r"""Local plasticity rules of Brendel et al. 2020 — the public face of :mod:`neuromorph.sim.rules`.

Each rule is a small dataclass holding its constants and an ``enabled`` flag; its equation is
written once, as a compiled function in its own file under ``neuromorph/sim/rules/`` that the
compiled kernels and the NumPy reference both call.  ``rule.on_spike(state, k)`` applies it at a
spike of neuron ``k`` from Python.  Switching a rule off (``enabled=False``) is how the paper's
Fig 8 "manipulating plasticity" experiments are run.

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

from neuromorph.sim.rules import (DEFAULT_REGISTRY, FF_FORMS, Binding, EIRules, FeedforwardRule, LearningState,
                                  RecurrentRule, RuleRegistry, RuleSpec)

__all__ = ["DEFAULT_REGISTRY", "FF_FORMS", "Binding", "EIRules", "FeedforwardRule", "LearningState",
           "RecurrentRule", "RuleRegistry", "RuleSpec"]
