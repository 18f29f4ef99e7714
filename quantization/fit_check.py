"""Does a (quantized) network fit a hardware target? Report every violation, never crash.

:func:`check_fit` compares network sizes and, when given, integer parameter arrays against a
:class:`~quantization.hardware.HardwareSpec` and returns a :class:`FitReport` listing each
violation with the field, the index, the offending value and the limit.

Array conventions (chip-side, as Rockpool's Xylo mapper/specification; *not* the paper's
``F``/``Omega`` orientation of ``neuromorph.network``):

* ``weights_in``  ``(n_inputs, n_hidden)`` or ``(n_inputs, n_hidden, n_syn)``  [input, target, syn]
* ``weights_rec`` ``(n_hidden, n_hidden)`` or ``(n_hidden, n_hidden, n_syn)``  [source, target, syn]
* ``weights_out`` ``(n_hidden, n_outputs)``                                    [source, output]
* ``thresholds``, ``biases`` ``(n_hidden,)`` (or a scalar); ``thresholds_out``, ``biases_out``
  ``(n_outputs,)`` (or a scalar)
* ``dash_mem``, ``dash_syn``: integer dashes of any shape (e.g. ``(n_hidden,)`` or
  ``(n_hidden, n_syn)``; output-neuron dashes may be concatenated); indices are reported in
  the array's own shape.

Fan-out of hidden neuron ``p`` = number of non-zero entries of ``weights_rec[p]`` (each
(target, synapse) pair counts once, as Xylo stores each as a separate sparse weight);
readout weights are a separate dense matrix on Xylo and do not count.

Element-wise checks report at most ``max_per_check`` offending elements per (array, check)
followed by one "... and N more" violation, so a wildly wrong float matrix does not produce
a million objects; :attr:`FitReport.ok` and the totals are unaffected by the cap.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np

from .fixed_point import dash_from_tau, tau_from_dash
from .hardware import HardwareSpec

__all__ = ["Violation", "FitReport", "FitError", "check_fit"]

Index = Optional[tuple[int, ...]]


def _jsonable(x: Any) -> Any:
    """Numpy scalars/arrays and tuples → plain Python for ``json.dumps``."""
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)  # JSON has no NaN/inf
    if isinstance(x, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in (x.tolist() if isinstance(x, np.ndarray) else x)]
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    return x


@dataclass(frozen=True)
class Violation:
    """One way in which the network does not fit.

    Attributes:
        field: what is violated, e.g. ``"n_hidden"``, ``"weights_rec"``, ``"fanout"``,
            ``"tau_mem"``, ``"n_syn"``, ``"input_projection"``.
        index: element index into that array (``None`` for scalars / whole-array problems).
        value: the offending value (count, integer, tau in s, ...).
        limit: the limit it violates (a number, or a ``(lo, hi)`` range).
        message: one self-contained human-readable line.
    """

    field: str
    index: Index
    value: Any
    limit: Any
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "index": None if self.index is None else [int(i) for i in self.index],
            "value": _jsonable(self.value),
            "limit": _jsonable(self.limit),
            "message": self.message,
        }


@dataclass
class FitReport:
    """Result of :func:`check_fit`.

    Attributes:
        target: the target's name.
        violations: every violation found (element-wise ones capped, see module docstring).
    """

    target: str
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """``True`` iff nothing is violated."""
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict: ``{"target", "ok", "n_violations", "violations": [...]}``."""
        return {
            "target": self.target,
            "ok": self.ok,
            "n_violations": len(self.violations),
            "violations": [v.to_dict() for v in self.violations],
        }

    def summary(self) -> str:
        """One line per violation, or a single "fits" line."""
        if self.ok:
            return f"{self.target}: network fits (no violations)"
        return "\n".join(f"{self.target}: {v.message}" for v in self.violations)

    def raise_if_failed(self) -> None:
        """Raise :class:`FitError` (carrying this report) if there is any violation."""
        if not self.ok:
            raise FitError(self)

    def __str__(self) -> str:
        return self.summary()


class FitError(ValueError):
    """The network does not fit its target; ``.report`` holds the :class:`FitReport`."""

    def __init__(self, report: FitReport):
        n = len(report.violations)
        super().__init__(f"network does not fit {report.target} ({n} violation{'s' if n != 1 else ''}):\n"
                         + report.summary())
        self.report = report


# -----------------------------------------------------------------------------------------
class _Checker:
    def __init__(self, spec: HardwareSpec, max_per_check: int):
        self.spec = spec
        self.cap = max_per_check
        self.v: list[Violation] = []

    def add(self, fld: str, index: Index, value: Any, limit: Any, message: str) -> None:
        self.v.append(Violation(fld, index, value, limit, message))

    def guard(self, what: str, fn: Callable[[], None]) -> None:
        """Run one check; an unexpected exception becomes a violation instead of a crash."""
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - the contract is "never crash"
            self.add(what, None, None, None, f"{what}: could not be checked ({type(e).__name__}: {e})")

    def elementwise(self, fld: str, arr: np.ndarray, bad: np.ndarray, limit: Any,
                    fmt: Callable[[tuple[int, ...], Any], str]) -> None:
        """Add one violation per True entry of ``bad`` (capped)."""
        idx = np.argwhere(bad)
        for k, ix in enumerate(idx):
            if k == self.cap:
                rest = len(idx) - self.cap
                self.add(fld, None, int(len(idx)), limit,
                         f"{fld}: ... and {rest} more element(s) with the same problem ({len(idx)} in total)")
                break
            t = tuple(int(i) for i in ix)
            val = arr[t].item() if arr.ndim else arr.item()
            self.add(fld, t, val, limit, fmt(t, val))


def _idx(name: str, t: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(str(i) for i in t)}]" if t else name


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _as_array(name: str, x: Any) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {a.dtype}")
    return a


def _count(ck: _Checker, name: str, value: Any, limit: Optional[int], what: str) -> Optional[int]:
    """Check a size; returns it as int (or None if unusable)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        ck.add(name, None, value, limit, f"{name} = {value!r} is not a non-negative integer")
        return None
    n = int(value)
    if limit is not None and n > limit:
        ck.add(name, None, n, limit,
               f"{name} = {n} exceeds the {ck.spec.name} limit of {limit} {what} (over by {n - limit})")
    return n


def _check_int_array(ck: _Checker, name: str, a: np.ndarray, lo: Optional[int], hi: Optional[int],
                     what: str) -> None:
    """Finite, integral (integer targets) and within [lo, hi]."""
    if a.dtype.kind == "f":
        nonfin = ~np.isfinite(a)
        if nonfin.any():
            ck.elementwise(name, a, nonfin, "finite", lambda t, v: f"{_idx(name, t)} = {v} is not finite")
        if ck.spec.is_float:
            return
        fin = np.where(nonfin, 0.0, a)
        nonint = fin != np.trunc(fin)
        if nonint.any():
            ck.elementwise(name, a, nonint, "integer",
                           lambda t, v: f"{_idx(name, t)} = {v:g} is not an integer (quantize first)")
        a = np.where(nonfin | nonint, 0, fin)
    if ck.spec.is_float or lo is None or hi is None:
        return
    ai = a.astype(np.float64)  # float64 comparison is exact for any int up to 2**53
    bad = (ai < lo) | (ai > hi)
    if bad.any():
        orig = np.asarray(a)
        ck.elementwise(name, orig, bad, (lo, hi),
                       lambda t, v: f"{_idx(name, t)} = {_num(v)} is out of range (allowed {lo}..{hi}, {what})")


def _shape_ok(ck: _Checker, name: str, a: np.ndarray, allowed: list[tuple[int, ...]], desc: str) -> bool:
    if a.shape in allowed:
        return True
    ck.add(f"{name}.shape", None, tuple(a.shape), desc,
           f"{name} has shape {tuple(a.shape)}, expected {desc}")
    return False


def recurrent_total_message(total: int, limit: int, n_hidden: int, *, fixed: int = 0, per_neuron: int = 0,
                            detail: str = "") -> str:
    """The message of a network over the target's total of non-zero recurrent weights.

    ``fixed`` weights (e.g. a relay layout's) and ``per_neuron`` extra targets of each of the
    ``n_hidden`` neurons are kept; the remedy is the fan-out K per neuron with
    ``n_hidden · (K + per_neuron) + fixed ≤ limit``; ``detail`` says how ``total`` is made up."""
    k = (int(limit) - int(fixed)) // max(int(n_hidden), 1) - int(per_neuron)
    fix = "learn under a sparser mask" + (f" (train --max-fanout {k})" if k >= 1 else "")
    return (f"recurrent_weights: {total} non-zero recurrent weights{detail} > {limit} in total "
            f"(over by {total - limit}); "
            f"{fix} or use fewer neurons")


def check_fit(
    spec: HardwareSpec,
    n_inputs: int,
    n_hidden: int,
    n_outputs: int,
    *,
    weights_in: Optional[Any] = None,
    weights_rec: Optional[Any] = None,
    weights_out: Optional[Any] = None,
    thresholds: Optional[Any] = None,
    dash_mem: Optional[Any] = None,
    dash_syn: Optional[Any] = None,
    n_syn: int = 1,
    taus: Optional[Union[Mapping[str, Any], Any]] = None,
    dt: Optional[float] = None,
    thresholds_out: Optional[Any] = None,
    biases: Optional[Any] = None,
    biases_out: Optional[Any] = None,
    weight_shifts: Optional[Mapping[str, int]] = None,
    max_per_check: int = 20,
) -> FitReport:
    """Check a network against ``spec`` and report every violation.

    Args:
        spec: the hardware target.
        n_inputs, n_hidden, n_outputs: network sizes (counts).
        weights_in, weights_rec, weights_out: integer weights (shapes in module docstring);
            checked for shape, finiteness, integrality and ``[spec.weight_min, spec.weight_max]``;
            ``weights_rec`` also for fan-out, ``weights_in``/``weights_out`` for the
            input/output projection (first/last ``*_projection_size`` hidden neurons).
        thresholds, thresholds_out: integer thresholds, must be ``1..spec.threshold_max``
            (a threshold <= 0 is storable but makes the neuron fire its maximum event count
            whenever V >= threshold, so it is reported too).
        dash_mem, dash_syn: integer dashes, ``0..spec.max_dash_mem`` / ``0..spec.max_dash_syn``.
        n_syn: synaptic states per hidden neuron the network uses (``<= spec.max_syn``).
        taus: time constants [s] to be expressed by bit-shift decay: a mapping
            ``{"tau_mem": ..., "tau_syn": ..., ...}`` of scalars/arrays (names containing
            ``"syn"`` use the synaptic dash range, others the membrane range), or one
            scalar/array checked against the membrane range under the name ``"taus"``.
        dt: time step [s] for the tau conversion; default ``spec.dt``.
        biases, biases_out: integer biases, ``[spec.bias_min, spec.bias_max]``.
        weight_shifts: ``{"in": k, "rec": k, "out": k}`` left shifts, ``0..spec.max_weight_shift``.
        max_per_check: cap on element-wise violations listed per (array, check).

    Returns:
        A :class:`FitReport`; never raises for bad inputs (they become violations).
        On a float target (``spec.is_float``) only sizes, shapes and finiteness are checked.
    """
    ck = _Checker(spec, max(1, int(max_per_check)))
    s = spec

    # --- sizes -----------------------------------------------------------------------------
    ni = _count(ck, "n_inputs", n_inputs, s.max_inputs, "input channels")
    nh = _count(ck, "n_hidden", n_hidden, s.max_hidden, "hidden neurons")
    no = _count(ck, "n_outputs", n_outputs, s.max_outputs, "output neurons")
    ns = _count(ck, "n_syn", n_syn, s.max_syn, "synaptic state(s) per hidden neuron")
    if ns == 0:
        ck.add("n_syn", None, 0, 1, "n_syn = 0: a hidden neuron needs at least 1 synaptic state")
        ns = None

    w_desc = "int8" if s.weight_bits == 8 else f"{s.weight_bits}-bit"

    def weights(name: str, x: Any, rows: Optional[int], cols: Optional[int], syn_axis: bool) -> Optional[np.ndarray]:
        """Shape + value checks; returns the array only if its shape matches the sizes."""
        a = _as_array(name, x)
        if rows is not None and cols is not None:
            allowed = [(rows, cols)]
            desc = f"({rows}, {cols})"
            if syn_axis and ns is not None:
                allowed.append((rows, cols, ns))
                desc += f" or ({rows}, {cols}, {ns}) [n_syn = {ns}]"
            shape_ok = _shape_ok(ck, name, a, allowed, desc)
        else:
            shape_ok = False  # sizes unusable: values are still checked, structure is not
        _check_int_array(ck, name, a, s.weight_min, s.weight_max, f"{w_desc} weights")
        # Fan-out and projection checks index by neuron, so they need the declared shape.
        return a if shape_ok else None

    # --- weights, fan-out, projections -------------------------------------------------------
    if weights_rec is not None:
        def rec() -> None:
            a = weights("weights_rec", weights_rec, nh, nh, True)
            if a is None or a.ndim < 2:
                return
            nz = np.nan_to_num(a.astype(np.float64)) != 0
            total = int(nz.sum())
            if s.max_recurrent_weights is not None and total > s.max_recurrent_weights:
                ck.add("recurrent_weights", None, total, s.max_recurrent_weights,
                       recurrent_total_message(total, s.max_recurrent_weights, int(a.shape[0])))
            if s.max_fanout is None:
                return
            fan = nz.reshape(a.shape[0], -1).sum(axis=1)
            bad = fan > s.max_fanout
            lim = s.max_fanout
            ck.elementwise("fanout", fan, bad, lim,
                           lambda t, v: f"fanout: hidden neuron {t[0]} has {v} non-zero outgoing recurrent "
                                        f"synapses > limit {lim} (over by {v - lim})")
        ck.guard("weights_rec", rec)

    if weights_in is not None:
        def win() -> None:
            a = weights("weights_in", weights_in, ni, nh, True)
            if a is None or s.input_projection != "first" or a.ndim < 2:
                return
            size = int(s.input_projection_size)  # type: ignore[arg-type]
            nz = np.nan_to_num(a.astype(np.float64)) != 0
            receives = nz.reshape(a.shape[0], a.shape[1], -1).any(axis=(0, 2))
            n_recv = int(receives.sum())
            if n_recv > size:
                ck.add("input_projection", None, n_recv, size,
                       f"input_projection: {n_recv} hidden neurons receive input weights, but {s.name} "
                       f"connects inputs only to the first {size} hidden neurons (IEN)")
            bad = receives & (np.arange(receives.size) >= size)
            hint = "reorder hidden neurons so input-receiving ones come first" if n_recv <= size else "too many input-receiving neurons"
            ck.elementwise("input_projection", receives.astype(np.int64), bad, size,
                           lambda t, v: f"input_projection: hidden neuron {t[0]} receives input weights but only "
                                        f"hidden neurons 0..{size - 1} can ({hint})")
        ck.guard("weights_in", win)

    if weights_out is not None:
        def wout() -> None:
            a = weights("weights_out", weights_out, nh, no, False)
            if a is None or s.output_projection != "last" or a.ndim != 2:
                return
            size = int(s.output_projection_size)  # type: ignore[arg-type]
            nz = np.nan_to_num(a.astype(np.float64)) != 0
            feeds = nz.any(axis=1)
            n_feed = int(feeds.sum())
            first_ok = max(a.shape[0] - size, 0)
            if n_feed > size:
                ck.add("output_projection", None, n_feed, size,
                       f"output_projection: {n_feed} hidden neurons have readout weights, but {s.name} "
                       f"reads out only the last {size} hidden neurons (OEN)")
            bad = feeds & (np.arange(feeds.size) < first_ok)
            hint = "reorder hidden neurons so readout ones come last" if n_feed <= size else "too many readout neurons"
            ck.elementwise("output_projection", feeds.astype(np.int64), bad, size,
                           lambda t, v: f"output_projection: hidden neuron {t[0]} has readout weights but only "
                                        f"hidden neurons {first_ok}..{a.shape[0] - 1} (the last {size}) can ({hint})")
        ck.guard("weights_out", wout)

    # --- per-neuron integer parameters -------------------------------------------------------
    def vector(name: str, x: Any, n: Optional[int], lo: Optional[int], hi: Optional[int], what: str,
               positive: bool = False) -> None:
        a = _as_array(name, x)
        if a.ndim != 0 and n is not None:
            _shape_ok(ck, name, a, [(n,)], f"({n},) or a scalar")  # values are checked regardless
        _check_int_array(ck, name, a, lo, hi, what)
        if positive and not s.is_float:
            af = np.nan_to_num(a.astype(np.float64), nan=1.0)
            # elements below the storable minimum were already reported as out of range
            bad = (af <= 0) & (af >= (lo if lo is not None else -np.inf))
            ck.elementwise(name, a, bad, (1, hi),
                           lambda t, v: f"{_idx(name, t)} = {_num(v)} is not positive (allowed 1..{hi}): a neuron "
                                        f"with threshold <= 0 fires its maximum event count whenever V >= threshold")

    t_desc = f"int{s.threshold_bits}" if s.threshold_bits else ""
    b_desc = f"int{s.bias_bits}" if s.bias_bits else ""
    if thresholds is not None:
        ck.guard("thresholds", lambda: vector("thresholds", thresholds, nh, s.threshold_min, s.threshold_max,
                                              t_desc, positive=True))
    if thresholds_out is not None:
        ck.guard("thresholds_out", lambda: vector("thresholds_out", thresholds_out, no, s.threshold_min,
                                                  s.threshold_max, t_desc, positive=True))
    if biases is not None:
        ck.guard("biases", lambda: vector("biases", biases, nh, s.bias_min, s.bias_max, b_desc))
    if biases_out is not None:
        ck.guard("biases_out", lambda: vector("biases_out", biases_out, no, s.bias_min, s.bias_max, b_desc))
    if dash_mem is not None:
        ck.guard("dash_mem", lambda: _check_int_array(ck, "dash_mem", _as_array("dash_mem", dash_mem), 0,
                                                      s.max_dash_mem, "bit-shift decay dash"))
    if dash_syn is not None:
        ck.guard("dash_syn", lambda: _check_int_array(ck, "dash_syn", _as_array("dash_syn", dash_syn), 0,
                                                      s.max_dash_syn, "bit-shift decay dash"))
    if weight_shifts is not None:
        def shifts() -> None:
            if not isinstance(weight_shifts, Mapping):
                raise TypeError("weight_shifts must be a mapping like {'in': 0, 'rec': 0, 'out': 0}")
            for k, val in weight_shifts.items():
                _check_int_array(ck, f"weight_shift_{k}", np.asarray(val), 0, s.max_weight_shift, "left bit-shift")
        ck.guard("weight_shifts", shifts)

    # --- time constants ------------------------------------------------------------------------
    if taus is not None:
        def tau_check() -> None:
            step = float(s.dt if dt is None else dt)
            if not (math.isfinite(step) and step > 0):
                ck.add("dt", None, step, "> 0", f"dt = {step!r} must be a finite number > 0 s")
                return
            items = taus.items() if isinstance(taus, Mapping) else [("taus", taus)]
            for name, val in items:
                dmax = s.max_dash_syn if "syn" in str(name) else s.max_dash_mem
                a = np.asarray(val, dtype=np.float64)
                invalid = ~np.isfinite(a) | (a <= 0)
                if invalid.any():
                    ck.elementwise(str(name), a, invalid, "> 0",
                                   lambda t, v, n=name: f"{_idx(str(n), t)} = {v:g} s is not a valid time constant (must be finite and > 0)")
                if dmax is None:
                    continue
                safe = np.where(invalid, step, a)
                need = dash_from_tau(safe, step)  # exact exponential form, nearest integer dash
                bad = ~invalid & (need > dmax)
                if bad.any():
                    hi_tau = float(tau_from_dash(dmax, step))
                    cut = float(tau_from_dash(dmax + 0.5, step))
                    ck.elementwise(str(name), a, bad, (0.0, hi_tau),
                                   lambda t, v, n=name, nd=need: (
                                       f"{_idx(str(n), t)} = {v:g} s is not expressible by bit-shift decay at "
                                       f"dt = {step:g} s: needs dash {int(nd[t] if nd.ndim else nd)} > max {dmax}; "
                                       f"representable tau is 0..{hi_tau:.6g} s (dash 0..{dmax}; taus up to "
                                       f"{cut:.6g} s round to dash {dmax})"))
        ck.guard("taus", tau_check)

    return FitReport(target=s.name, violations=ck.v)
