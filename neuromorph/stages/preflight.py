"""Before any work: will an N-neuron, M-signal SCN fit the target, and under which fan-out?

:func:`preflight` is the shapes-only fit check (:func:`quantization.fit_shapes.check_shapes`)
with the target backend's layout (Xylo Audio 3 / IMU: relay neurons above the 128-neuron
projection, :mod:`neuromorph.backends.xylo.relays`); it raises
:class:`~quantization.fit_shapes.ShapeFitError` (a ``ValueError``: the CLI prints one line and
exits 2) naming every limit that fails, by how much, and what to change.  ``train --target``,
``quantize`` and ``pipeline`` call it before training, adaptation or mapping.
"""
from __future__ import annotations

from typing import Optional

from quantization.fit_shapes import ShapeFitError, check_shapes
from quantization.hardware import HardwareSpec, load_target

from neuromorph.backends.base import backend_for


def network_target(target_name: str, overrides: Optional[dict], dt: float) -> HardwareSpec:
    """The target a network is quantized for: ``target_name`` with ``overrides``, running at the
    network's step ``dt`` (the chip's clock follows the network); the float reference is refused."""
    target = load_target(target_name, **(overrides or {}))
    if target.is_float:
        raise ValueError(f"target {target.name!r} is the float reference; choose a chip or 'fixed-point'")
    if abs(target.dt - dt) > 1e-12:
        target = load_target(target_name, **dict(overrides or {}, dt=dt))
    return target


def layout(target: HardwareSpec, n_neurons: int, n_signals: int) -> dict:
    """The backend's layout numbers: relay neurons, fan-out they add to a coding neuron, the
    relays' own fan-out, whether the projections are relayed (all 0/False for a direct layout)."""
    fn = getattr(backend_for(target), "relay_layout", None)
    if fn is None:
        return {"relay_neurons": 0, "relay_fanout": 0, "relay_own_fanout": 0, "projection_relayed": False}
    return fn(n_neurons, n_signals, target)


def preflight(target: HardwareSpec, n_neurons: int, n_signals: int, fanout: Optional[int] = None,
              input_lines: Optional[int] = None) -> dict:
    """Raise :class:`ShapeFitError` if the shapes cannot fit ``target``; else return the layout.
    ``input_lines``: the unsigned event channels of an audio front-end network (None: 2M ± pairs)."""
    lay = layout(target, n_neurons, n_signals)
    if input_lines is not None and lay["relay_neurons"]:  # the AFE's channels drive the coding neurons directly
        raise ValueError(f"{target.name}: a network on an audio front-end's events is mapped without relay "
                         f"neurons; {n_neurons} neurons need them on this chip (use fewer neurons, --neurons)")
    fan = n_neurons if fanout is None else int(fanout)
    # an input relay reaches every coding neuron (and itself): it can be the binding fan-out
    own = lay["relay_own_fanout"] - lay["relay_fanout"]
    rep = check_shapes(target, n_neurons, n_signals, fanout=max(fan, own), relay_neurons=lay["relay_neurons"],
                       relay_fanout=lay["relay_fanout"], projection_relayed=lay["projection_relayed"],
                       relay_weights=relay_weights(lay, n_signals), coding_fanout=fan, input_lines=input_lines)
    if not rep.ok:
        raise ShapeFitError(rep)
    return lay


def relay_weights(lay: dict, n_signals: int) -> int:
    """Non-zero recurrent weights in the input relays' rows of a layout: 2M relays, each with
    ``relay_own_fanout`` targets (every coding neuron and itself); 0 without input relays."""
    return 2 * int(n_signals) * int(lay["relay_own_fanout"]) if lay["relay_own_fanout"] else 0


def fanout_for(target: HardwareSpec, n_neurons: int, n_signals: int) -> Optional[int]:
    """The fan-out to learn under for ``target`` (None = dense fits): the per-neuron limit
    less the relays' targets, and, on a target with a total of recurrent weights (Xylo IMU),
    the largest K with ``N · (K + relay targets) + relay weights ≤ total``."""
    if target.max_fanout is None and target.max_recurrent_weights is None:
        return None
    lay = layout(target, n_neurons, n_signals)
    ks = []
    if target.max_fanout is not None:
        ks.append(int(target.max_fanout) - lay["relay_fanout"])
    if target.max_recurrent_weights is not None:
        ks.append((int(target.max_recurrent_weights) - relay_weights(lay, n_signals)) // max(n_neurons, 1)
                  - lay["relay_fanout"])
    k = min(ks)
    return k if k < n_neurons else None


def train_fanout(train_cfg: dict, *, n_neurons: int, n_signals: int,
                 input_lines: Optional[int] = None) -> Optional[int]:
    """The train section's fan-out: ``fanout`` if set, else the target's (``target``), after the
    shapes-only check of that target with the mask's fan-out."""
    fan = train_cfg.get("fanout")
    if fan is not None and (isinstance(fan, bool) or not isinstance(fan, int) or fan < 1):
        raise ValueError(f"train.fanout (--max-fanout) must be an integer >= 1 (targets per neuron, self "
                         f"included), got {fan!r}")
    tname = train_cfg.get("target")
    if tname is None:
        return fan
    target = load_target(tname)
    if fan is None:
        fan = fanout_for(target, n_neurons, n_signals)
    preflight(target, n_neurons, n_signals, fanout=fan, input_lines=input_lines)
    return fan


def network_fanout(omega) -> int:
    """Largest recurrent fan-out of a learnt Ω (self included), as the fit check counts it."""
    import numpy as np

    return int((np.asarray(omega) != 0).sum(axis=0).max())
