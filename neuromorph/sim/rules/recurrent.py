r"""Recurrent rule of Brendel et al. 2020 (Eq 6; Eq 5 is ``beta=2, mu=0``), written once.

At a spike of presynaptic neuron k, for every postsynaptic i, with V the post-integration,
pre-reset voltage and r the filtered spike train *before* this spike::

    ΔΩ_ik = −ε_Ω [ β (V_i + μ r_i) + Ω_ik + μ δ_ik ]

β = 1/0.9, μ = 0.02/0.9 are the authors' Fig 2 code values; β = 2, μ = 0 the paper's Eq 5.
The same weight equation (:func:`recurrent_weight`, :func:`self_term`) serves the SCN column
update here and the EI network's recurrent pathways (:mod:`neuromorph.sim.rules.ei`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from numba import njit

from neuromorph.sim.rules.learning_state import LearningState
from neuromorph.sim.rules.registry import Binding, RuleSpec


class RecurrentParams(NamedTuple):
    """Numbers of the recurrent rule as the kernel reads them (dimensionless)."""

    lr: float
    beta: float
    mu: float
    max_lateral: float


@njit(cache=True, inline="always")
def recurrent_weight(w, v, r, lr, beta, mu):
    """One weight of Eq 6 without the self term: ``w − ε (β (v + μ r) + w)``."""
    return w - lr * (beta * (v + mu * r) + w)


@njit(cache=True, inline="always")
def self_term(w, lr, mu):
    """The μ δ_ik term of Eq 6 on the diagonal weight: ``w − ε μ``."""
    return w - lr * mu


@njit(cache=True, inline="always")
def update_column(Om, k, V, r, p):
    """Eq 6 on the column ``Om[:, k]`` (N, N) of spiking neuron k; lateral weights capped at
    ``p.max_lateral`` (the diagonal is not capped), then the self term on ``Om[k, k]``."""
    # the loop caps every entry (a select the compiler vectorises: no per-entry test of i != k)
    # and the diagonal, computed by the same expression beforehand, is then put back uncapped
    diag = recurrent_weight(Om[k, k], V[k], r[k], p.lr, p.beta, p.mu)
    cap = p.max_lateral
    for i in range(Om.shape[0]):
        w = recurrent_weight(Om[i, k], V[i], r[i], p.lr, p.beta, p.mu)
        Om[i, k] = cap if w > cap else w  # sign constraint on lateral weights (e.g. inhibition only)
    Om[k, k] = self_term(diag, p.lr, p.mu)


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

    def params(self) -> RecurrentParams:
        return RecurrentParams(float(self.lr), float(self.beta), float(self.mu), float(self.max_lateral))

    def on_spike(self, state: LearningState, k: int) -> None:
        """Apply the rule at a spike of neuron ``k`` (the compiled update, called from Python)."""
        update_column(state.Omega, int(k), state.V, state.r, self.params())


def _bind(rule: RecurrentRule, net) -> Binding:
    return Binding(params=rule.params(), update=update_column, active=bool(rule.enabled and rule.lr > 0.0),
                   builtin=True)


SPEC = RuleSpec(RecurrentRule, "recurrent", _bind)
