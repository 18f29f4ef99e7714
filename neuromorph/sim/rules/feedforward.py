r"""The feed-forward rule (Eq 7) and its three forms, one file each:

* ``form="code"`` (authors' Fig 2 code, default): :mod:`~neuromorph.sim.rules.ff_code`
* ``form="paper"`` (Eq 7 as printed): :mod:`~neuromorph.sim.rules.ff_paper`
* ``form="correlated"`` (S1 §12): :mod:`~neuromorph.sim.rules.ff_correlated`

:func:`update_builtin` / :func:`step_builtin` select the form by ``params.kind`` inside the
cached compiled kernel.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple, Optional

from numba import njit

from neuromorph.sim.rules import ff_code, ff_correlated, ff_paper
from neuromorph.sim.rules.learning_state import LearningState
from neuromorph.sim.rules.registry import Binding, RuleSpec

FF_FORMS = {"code": ff_code.KIND, "paper": ff_paper.KIND, "correlated": ff_correlated.KIND}


class FeedforwardParams(NamedTuple):
    """Numbers of the feed-forward rule as the kernel reads them.

    kind: form (``FF_FORMS``); lr, alpha dimensionless; cov_rate = cov_leak·dt (per step)."""

    kind: int
    lr: float
    alpha: float
    cov_rate: float


@njit(cache=True, inline="always")
def update_builtin(F, k, b, U, p):
    """The built-in form ``p.kind`` on row ``F[k]``."""
    if p.kind == ff_code.KIND:
        ff_code.update_row(F, k, b, U, p)
    elif p.kind == ff_paper.KIND:
        ff_paper.update_row(F, k, b, U, p)
    else:
        ff_correlated.update_row(F, k, b, U, p)


@njit(cache=True, inline="always")
def step_builtin(F, b, U, m, p):
    """Per-step traces of the built-in form ``p.kind`` (only the correlated form has any)."""
    if p.kind == ff_correlated.KIND:
        ff_correlated.step(F, b, U, m, p)


@njit(cache=True, inline="always")
def no_step(F, b, U, m, p):
    """Per-step hook of a feed-forward rule without running traces."""


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

    def params(self, dt: float) -> FeedforwardParams:
        """The kernel record for time step ``dt`` (s)."""
        return FeedforwardParams(FF_FORMS[self.form], float(self.lr), float(self.alpha), float(self.cov_leak * dt))

    def on_spike(self, state: LearningState, k: int) -> None:
        """Apply the rule at a spike of neuron ``k`` (the compiled update, called from Python;
        the correlated form's ``cov_rate`` is not used here)."""
        update_builtin(state.F, int(k), state.b, state.U, self.params(0.0))


def _bind(rule: FeedforwardRule, net) -> Binding:
    return Binding(params=rule.params(net.dt), update=update_builtin, step=step_builtin,
                   active=bool(rule.enabled and rule.lr > 0.0), builtin=True, trace_leak=rule.trace_leak)


SPEC = RuleSpec(FeedforwardRule, "feedforward", _bind)
