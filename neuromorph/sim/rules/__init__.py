r"""Local plasticity rules of Brendel et al. 2020, one file per rule, each update written once.

Every rule file holds the rule's dataclass (its constants and an ``enabled`` flag), its
compiled (``@njit(cache=True, inline="always")``) update and its :class:`RuleSpec`.  The numba
kernels (:mod:`neuromorph.sim.kernels`, :mod:`neuromorph.sim.ei_kernels`) and the NumPy
reference (:mod:`neuromorph.sim.reference_numpy`) call these same functions, so a rule's
equation exists in one place.

=================================  =====================================================
file                               rule
=================================  =====================================================
``recurrent.py``                   Eq 6 (β form; Eq 5 is ``beta=2, mu=0``), :class:`RecurrentRule`
``feedforward.py``                 :class:`FeedforwardRule`, selects one of the three forms:
``ff_code.py``                     ``ΔF_k = ε (α b − F_k)`` (authors' Fig 2 code)
``ff_paper.py``                    ``ΔF_k = ε (b − α F_k)`` (Eq 7 as printed)
``ff_correlated.py``               ``ΔF_k = ε (b − α U_k)`` with running Cov(b)·F (S1 §12)
``ei.py``                          :class:`EIRules`, the EI network's clipped pathway variants
``registry.py``                    :class:`RuleSpec`, :class:`Binding`, :class:`RuleRegistry`
=================================  =====================================================

Adding a rule: one file plus its registration
---------------------------------------------
Write the dataclass, a compiled update with the pathway's signature and a ``RuleSpec``::

    # my_decay.py
    from dataclasses import dataclass
    from typing import NamedTuple
    from numba import njit
    from neuromorph.sim.rules.registry import Binding, RuleSpec

    class DecayParams(NamedTuple):
        rate: float

    @njit(cache=True, inline="always")
    def decay_column(Om, k, V, r, p):          # recurrent signature: change Om[:, k]
        for i in range(Om.shape[0]):
            Om[i, k] *= 1.0 - p.rate

    @dataclass
    class DecayRule:
        rate: float = 1e-3

    SPEC = RuleSpec(DecayRule, "recurrent",
                    lambda rule, net: Binding(DecayParams(rule.rate), decay_column))

and register it: add ``my_decay.SPEC`` to :data:`DEFAULT_REGISTRY` below (or, without touching
the package, ``learn(net, src, n, rules=(DecayRule(),), registry=DEFAULT_REGISTRY.with_rule(SPEC))``).
The kernel runs it at every spike; a rule that is not built in is compiled into the kernel on
first use in a process (the built-in ones load from numba's cache).  ``tests/test_rules.py``
runs such a rule through :func:`~neuromorph.sim.simulator.learn` and the NumPy reference.
"""
from __future__ import annotations

from neuromorph.sim.rules import feedforward, recurrent
from neuromorph.sim.rules.ei import EIRules
from neuromorph.sim.rules.feedforward import FF_FORMS, FeedforwardParams, FeedforwardRule
from neuromorph.sim.rules.learning_state import LearningState
from neuromorph.sim.rules.recurrent import RecurrentParams, RecurrentRule
from neuromorph.sim.rules.registry import PATHWAYS, Binding, RuleRegistry, RuleSpec

#: The paper's SCN rules (the registry :func:`~neuromorph.sim.simulator.learn` dispatches on).
DEFAULT_REGISTRY = RuleRegistry([recurrent.SPEC, feedforward.SPEC])

__all__ = ["Binding", "DEFAULT_REGISTRY", "EIRules", "FF_FORMS", "FeedforwardParams", "FeedforwardRule",
           "LearningState", "PATHWAYS", "RecurrentParams", "RecurrentRule", "RuleRegistry", "RuleSpec"]
