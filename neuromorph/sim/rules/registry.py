r"""The rule registry: which compiled update trains which pathway of an SCN.

A rule is a plain dataclass (its constants) plus a :class:`RuleSpec` that says which weights it
trains (``pathway``: ``"feedforward"`` = the row ``F[k]`` of the spiking neuron k,
``"recurrent"`` = the column ``Omega[:, k]``) and how to turn the dataclass into a
:class:`Binding`: a parameter record (a ``NamedTuple`` of numbers, which numba accepts) and
the compiled functions the kernel calls.  Compiled-function signatures by pathway::

    feedforward:  update(F, k, b, U, p)      at a spike of k: change F[k, :]
                  step(F, b, U, m, p)        every learning step (running traces; may do nothing)
    recurrent:    update(Om, k, V, r, p)     at a spike of k: change Om[:, k]

with F (N, M), Om (N, N), b (M,) input trace, U (N, M), m (M,) correlated-form traces, V (N,)
pre-reset voltage, r (N,) filtered spikes before this spike, p the rule's parameter record.

:class:`RuleRegistry` is immutable: :data:`neuromorph.sim.rules.DEFAULT_REGISTRY` holds the
paper's rules, ``registry.with_rule(spec)`` returns a new registry with one more rule (pass it
to ``learn(..., registry=...)``).  Built-in bindings (``builtin=True``) are dispatched by the
integer ``kind`` in their record inside the cached compiled kernel; any other binding's
functions are handed to a kernel compiled for them on first use (same step code).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping, NamedTuple, Optional, Sequence

PATHWAYS = ("feedforward", "recurrent")


@dataclass(frozen=True)
class Binding:
    """A rule bound to one network: what the kernel needs.

    Parameters
    ----------
    params : NamedTuple
        The rule's numbers (learning rate, …) as numba reads them.
    update : numba dispatcher
        Per-spike update (signature by pathway, see the module docstring).
    step : numba dispatcher or None
        Per-step hook of a feed-forward rule (running traces); None = nothing to do.
    active : bool
        False = the pathway is frozen (rule disabled or zero learning rate): no update, no
        grid rounding.
    builtin : bool
        True = dispatched by ``params.kind`` inside the cached kernel.
    trace_leak : float or None
        Leak (s⁻¹) of the feed-forward input trace b; None = the network's λ.
    """

    params: NamedTuple
    update: Callable
    step: Optional[Callable] = None
    active: bool = True
    builtin: bool = False
    trace_leak: Optional[float] = None


@dataclass(frozen=True)
class RuleSpec:
    """Registration of one rule type.

    Parameters
    ----------
    rule_type : type
        The rule's dataclass.
    pathway : str
        ``"feedforward"`` or ``"recurrent"``.
    bind : callable
        ``bind(rule, net) -> Binding`` (``net``: the :class:`~neuromorph.network.SCN`).
    """

    rule_type: type
    pathway: str
    bind: Callable[[Any, Any], Binding]

    def __post_init__(self) -> None:
        if self.pathway not in PATHWAYS:
            raise ValueError(f"pathway must be one of {PATHWAYS}, got {self.pathway!r}")


class RuleRegistry:
    """Immutable mapping rule type → :class:`RuleSpec`."""

    def __init__(self, specs: Sequence[RuleSpec] = ()) -> None:
        self._specs: Mapping[type, RuleSpec] = MappingProxyType({s.rule_type: s for s in specs})

    def with_rule(self, spec: RuleSpec) -> "RuleRegistry":
        """A new registry holding this one's rules and ``spec`` (replacing one of the same type)."""
        return RuleRegistry([s for t, s in self._specs.items() if t is not spec.rule_type] + [spec])

    def spec(self, rule: Any) -> RuleSpec:
        """The registration of ``rule``'s type; TypeError if it has none."""
        try:
            return self._specs[type(rule)]
        except KeyError:
            raise TypeError(f"unsupported rule object(s) for an SCN: [{rule!r}] "
                            f"(registered: {sorted(t.__name__ for t in self._specs)})") from None

    def bind(self, rules: Sequence[Any], net: Any) -> dict:
        """``{pathway: Binding}`` for ``rules`` (at most one per pathway; the first wins, as
        before the registry)."""
        out: dict = {}
        for rule in rules:
            spec = self.spec(rule)
            out.setdefault(spec.pathway, spec.bind(rule, net))
        return out

    def __contains__(self, rule_type: type) -> bool:
        return rule_type in self._specs

    def __iter__(self):
        return iter(self._specs.values())
