r"""NIR exchange, generic half: the float SCN as a NIR graph and back, losslessly; NIR files.

The Xylo half (the quantized Xylo spec as a NIR graph, and Rockpool import) is
:mod:`neuromorph.backends.xylo.nir`; it builds on the helpers and error types here.

NIR (Neuromorphic Intermediate Representation, ``nir`` 1.0.4, the version Rockpool 3.1.0 pins)
describes networks in *continuous time*; every simulator discretises it its own way. This module
fixes one reading and documents every formula against it:

**Discretisation convention (forward Euler, step ``dt``; neuron state updated before spiking).**
A node ``tau dv/dt = (v_leak - v) + R I`` becomes ``v_t = (1 - dt/tau) v_{t-1} + (dt/tau)(v_leak + R I_t)``;
CubaLIF first updates its current ``I_t = (1 - dt/tau_syn) I_{t-1} + (dt/tau_syn) w_in S_t`` and
the membrane then uses ``I_t``. Spikes are 0/1 per step; an edge that closes a cycle (the
recurrent loop) delivers the previous step's spikes, all other edges act within the step.

Float SCN (:func:`scn_to_nir` / :func:`nir_to_scn`)
---------------------------------------------------
SCN dynamics (``simulator.py``): ``V_t = (1-λdt) V_{t-1} + dt F c_t + Ω o_{t-1}``, no explicit
reset (Ω's negative diagonal is the reset), ``r_t = (1-λdt) r_{t-1} + o_t``, ``x̂ = D r``.

=========== ============== ===================================================================
node        NIR type       parameters (N neurons, M signals; λ in 1/s, dt in s)
=========== ============== ===================================================================
``input``   Input          shape (M,)
``F``       Linear         weight (N, M) = ``dt * F``
``lif``     LIF            tau = 1/λ, r = tau/dt, v_leak = 0, v_threshold = T   (all (N,))
``Omega``   Linear         weight (N, N) = ``Ω + diag((1-λdt) T)``  (diagonal included)
``D``       Linear         weight (M, N) = ``D``
``readout`` LI             tau = 1/λ, r = tau/dt, v_leak = 0   (all (M,)); its state is x̂
``output``  Output         shape (M,)
=========== ============== ===================================================================

Edges: ``input→F→lif``, ``lif→Omega→lif`` (the recurrent loop), ``lif→D→readout→output``.

With these values the Euler step of ``lif`` is ``v_t = (1-λdt) v_{t-1} + dt F c_t + W_Ω o_{t-1}``
and that of ``readout`` is ``y_t = (1-λdt) y_{t-1} + D o_t = D r_t`` (exact arithmetic).

*Reset.* NIR 1.0.4's LIF always resets subtractively, ``v -= v_threshold``, in the step it fires,
and it has no ``v_reset`` to switch that off. The SCN has no such reset: its reset is Ω_kk, one
step later. The ``Omega`` node therefore carries ``Ω_kk + (1-λdt) T_k`` on its diagonal. Then
NIR's ``-T_k``, decayed once, plus that extra term cancel exactly in the next step, and ``lif``
reproduces the SCN's voltage trajectory. The exact Ω (and F, whose ``dt * F`` is not exactly
invertible in floating point) are also stored in the graph metadata.

*What NIR cannot express* (kept out of the dynamics; the scalars go to metadata):

* the one-spike-per-step arbiter (the SCN fires only the neuron with the largest noisy margin);
  NIR fires every neuron above threshold, like ``SimOptions(one_spike=False)``;
* voltage noise ``v_noise`` and threshold noise ``t_noise``;
* the spike test ``V - T >= 0`` (NIR: ``v > v_threshold``; they differ only at equality);
* the timing convention itself: NIR has no ``dt``, so ``dt`` is metadata, and ``r = tau/dt``
  is a value for the Euler convention above.

Graph metadata (``graph.metadata``; nir 1.0.4 supports it on graphs and neuron nodes only, not on
Linear/Input/Output, and ``nir.write``/``nir.read`` keep it): ``format = "neuromorph-nir"``,
``format_version = 1``, ``kind = "SCN"``, ``lam``, ``dt``, ``v_noise``, ``t_noise`` (floats),
``F`` and ``Omega`` (exact float64 copies), ``meta_json`` (``SCN.meta`` as JSON).

Import policy: the graph's nodes are authoritative. A metadata copy is used only where
re-applying the export formula to it reproduces the node's values bit for bit; this makes the
round trip exact. If the graph was edited after export, the node values win. An SCN-shaped
graph without metadata also imports; then ``v_noise = t_noise = 0``. ``lam``, ``dt``, ``F`` and
``Ω`` come from ``1/tau``, ``tau/r``, ``W_F/dt`` and ``W_Ω - diag((1-λdt)T)``.

Float EI network (:func:`ei_to_nir` / :func:`nir_to_ei`)
---------------------------------------------------------
The Dale's-law network of Fig 4 (:class:`~neuromorph.network.EINetwork`): two LIF populations,
four Linear pathways, read-out from E only (as in the paper).

=========== ============== ===================================================================
node        NIR type       parameters (N_E, N_I neurons, M signals)
=========== ============== ===================================================================
``input``   Input          shape (M,)
``F_E``     Linear         weight (N_E, M) = ``dt * F_E``
``lif_E``   LIF            tau = 1/λ, r = tau/dt, v_leak = 0, v_threshold = T_E
``lif_I``   LIF            tau = 1/λ, r = tau/dt, v_leak = 0, v_threshold = T_I
``W_EE``    Linear         (N_E, N_E) = ``W_EE + diag((1-λdt) T_E)`` (E self-reset on the diagonal)
``W_IE``    Linear         (N_E, N_I) = ``W_IE``  (I → E, ≤ 0)
``W_EI``    Linear         (N_I, N_E) = ``W_EI``  (E → I, ≥ 0)
``W_II``    Linear         (N_I, N_I) = ``W_II + diag((1-λdt) T_I)``
``D_E``     Linear         (M, N_E) = ``D_E``
``readout`` LI             tau = 1/λ, r = tau/dt, v_leak = 0; its state is x̂ = D_E r_E
``output``  Output         shape (M,)
=========== ============== ===================================================================

Edges: ``input→F_E→lif_E``; ``lif_E→W_EE→lif_E``, ``lif_I→W_IE→lif_E``, ``lif_E→W_EI→lif_I``,
``lif_I→W_II→lif_I``; ``lif_E→D_E→readout→output``. In the reference's step order (E first, then
I; docs/authors_code.md §3.2) the E→I edge acts within the step — E spikes of step t reach the I
neurons at step t — and the three others close cycles (previous step's spikes). The self-resets
are cancelled against NIR's subtractive reset exactly as for the SCN. Not expressible, and kept
in metadata: the per-population one-spike arbiter, the refractory period (``refractory`` steps),
the noises, the fixed ``e_self_reset`` of learning and the I decoder ``D_I`` (not part of the
read-out). The graph's dynamics are ``simulate_ei(..., one_spike=False)`` of the network with
``refractory = 0`` and no noise (checked in ``tests/test_ei_chip.py``).

Metadata: ``kind = "EINetwork"``, ``lam``, ``dt``, ``v_noise_E``, ``v_noise_I``, ``t_noise``,
``refractory``, ``e_self_reset``, exact copies of ``F_E``, ``W_EE``, ``W_II``, ``D_I``, and
``meta_json``; the import policy is the SCN's (nodes authoritative, metadata used only where it
reproduces them bit for bit).

Files
-----
:func:`save_nir` writes atomically (:func:`neuromorph.artifacts.atomic_write`). :func:`load_nir`
raises :class:`NIRFileError` for a missing or unreadable file.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import nir
import numpy as np

from neuromorph.artifacts import atomic_write, json_default
from neuromorph.network import SCN, EINetwork, NetworkShapeError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "NIRImportError",
    "NIRFileError",
    "NIRExportError",
    "NIRRockpoolError",
    "graph_kind",
    "SCN_NODES",
    "SCN_EDGES",
    "scn_to_nir",
    "nir_to_scn",
    "EI_NODES",
    "EI_EDGES",
    "ei_to_nir",
    "nir_to_ei",
    "network_to_nir",
    "save_nir",
    "load_nir",
    "RUNNABLE",
    "flatten_graph",
    "evaluation_order",
    "run_graph",
]

FORMAT_NAME = "neuromorph-nir"
FORMAT_VERSION = 1
KIND_SCN = "SCN"
KIND_EI = "EINetwork"


class NIRImportError(ValueError):
    """A NIR graph is not one this module can turn back into an SCN / Xylo spec (message says why)."""


class NIRFileError(NIRImportError):
    """A NIR file is missing or cannot be read as a NIR graph."""


class NIRExportError(ValueError):
    """The network cannot be exported (e.g. a Xylo spec with inconsistent shapes or non-integers)."""


class NIRRockpoolError(ValueError):
    """Rockpool's ``from_nir`` cannot represent the graph (message says what is missing)."""


# --------------------------------------------------------------------------- layout tables
#: node name -> (NIR class, role) of the float-SCN graph.
SCN_NODES: dict[str, tuple[type, str]] = {
    "input": (nir.Input, "input signal c, shape (M,)"),
    "F": (nir.Linear, "feed-forward weights dt*F, (N, M)"),
    "lif": (nir.LIF, "SCN membrane, (N,)"),
    "Omega": (nir.Linear, "recurrent weights incl. diagonal, (N, N)"),
    "D": (nir.Linear, "decoder, (M, N)"),
    "readout": (nir.LI, "filtered read-out x_hat, (M,)"),
    "output": (nir.Output, "read-out, shape (M,)"),
}
#: edges of the float-SCN graph; ``lif→Omega→lif`` is the recurrent loop.
SCN_EDGES: list[tuple[str, str]] = [
    ("input", "F"), ("F", "lif"), ("lif", "Omega"), ("Omega", "lif"),
    ("lif", "D"), ("D", "readout"), ("readout", "output"),
]


def _check_layout(graph: Any, nodes: Mapping[str, tuple[type, str]], edges: list[tuple[str, str]],
                  what: str) -> None:
    """Raise :class:`NIRImportError` unless ``graph`` has exactly these nodes (types) and edges."""
    if not isinstance(graph, nir.NIRGraph):
        raise NIRImportError(f"expected a nir.NIRGraph for a {what}, got {type(graph).__name__}")
    have = set(graph.nodes)
    for name, (cls, role) in nodes.items():
        if name not in have:
            raise NIRImportError(f"{what} graph is missing node {name!r} (nir.{cls.__name__}: {role}); "
                                 f"nodes present: {sorted(have)}")
        if type(graph.nodes[name]) is not cls:
            raise NIRImportError(f"{what} graph node {name!r} must be nir.{cls.__name__} ({role}), "
                                 f"got nir.{type(graph.nodes[name]).__name__}")
    extra = sorted(have - set(nodes))
    if extra:
        raise NIRImportError(f"{what} graph has unexpected node(s) {extra}; expected exactly {list(nodes)}")
    got = {(str(a), str(b)) for a, b in graph.edges}
    for e in edges:
        if e not in got:
            raise NIRImportError(f"{what} graph is missing edge {e[0]} -> {e[1]}")
    extra_e = sorted(got - set(edges))
    if extra_e:
        raise NIRImportError(f"{what} graph has unexpected edge(s) {extra_e}")


def _arr(node: Any, attr: str) -> np.ndarray:
    return np.asarray(getattr(node, attr), dtype=np.float64)


def _shape_check(name: str, arr: np.ndarray, shape: tuple[int, ...], what: str) -> None:
    if arr.shape != shape:
        raise NIRImportError(f"{what} graph: {name} has shape {arr.shape}, expected {shape}")


def _io_shape(node: Any, key: str) -> tuple[int, ...]:
    """Shape stored in an Input/Output node as a tuple of ints."""
    t = node.input_type["input"] if key == "input" else node.output_type["output"]
    return tuple(int(v) for v in np.atleast_1d(np.asarray(t)))


# --------------------------------------------------------------------------- metadata helpers
def _scalar(v: Any) -> Any:
    """numpy scalar / 0-d array (what nir.read returns) -> Python scalar; strings unchanged."""
    if isinstance(v, bytes):
        return v.decode("utf8")
    if isinstance(v, np.ndarray) and v.ndim == 0:
        return v.item()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _graph_meta(graph: Any, kind: Optional[str], required: bool, what: str) -> dict[str, Any]:
    """Our metadata block of ``graph`` after checking format/version/kind ({} if absent and optional)."""
    meta = getattr(graph, "metadata", None) or {}
    if _scalar(meta.get("format")) != FORMAT_NAME:
        if required:
            raise NIRImportError(f"{what} graph has no neuromorph metadata (metadata['format'] = "
                                 f"{_scalar(meta.get('format'))!r}, expected {FORMAT_NAME!r}); "
                                 "it was not written by xylo_spec_to_nir")
        return {}
    ver = _scalar(meta.get("format_version"))
    if ver != FORMAT_VERSION:
        raise NIRImportError(f"{what} graph: unsupported neuromorph NIR format_version {ver!r} "
                             f"(this neuromorph reads version {FORMAT_VERSION})")
    got_kind = _scalar(meta.get("kind"))
    if kind is not None and got_kind != kind:
        raise NIRImportError(f"{what} graph: metadata kind is {got_kind!r}, expected {kind!r}")
    return dict(meta)


def graph_kind(graph: Any) -> Optional[str]:
    """``"SCN"`` / ``"EINetwork"`` / ``"XyloSpec"`` for a graph written by this module, else ``None``."""
    meta = getattr(graph, "metadata", None) or {}
    if _scalar(meta.get("format")) != FORMAT_NAME:
        return None
    return _scalar(meta.get("kind"))


# --------------------------------------------------------------------------- float SCN
def _omega_node_weight(Omega: np.ndarray, thresholds: np.ndarray, decay: float) -> np.ndarray:
    """Recurrent Linear weight: Ω plus ``decay*T`` on the diagonal, cancelling NIR's subtractive reset.

    NIR's LIF subtracts ``T_k`` in the step neuron k fires; one Euler step later that term is
    ``-decay*T_k``, so adding ``decay*T_k`` to the loop's diagonal leaves exactly the SCN's Ω_kk.
    One function for export and import so both compute the same bits.
    """
    return Omega + np.diag(decay * thresholds)


def scn_to_nir(net: SCN) -> nir.NIRGraph:
    """Export a float SCN as a NIR graph (layout and formulas: module docstring).

    Args:
        net: the SCN; F (N, M), Omega (N, N) incl. self-reset diagonal, D (M, N), thresholds (N,),
            lam [1/s], dt [s]. ``net.meta`` must be JSON-serialisable (stored as JSON).

    Returns:
        ``nir.NIRGraph`` with nodes :data:`SCN_NODES`, edges :data:`SCN_EDGES` and the exact
        arrays/scalars in ``graph.metadata``.
    """
    n, m = net.F.shape
    lam, dt = float(net.lam), float(net.dt)
    tau = 1.0 / lam
    decay = 1.0 - lam * dt  # == net.decay; spelled out so import recomputes it identically
    try:
        meta_json = json.dumps(net.meta, default=json_default)
    except TypeError as exc:
        raise NIRExportError(f"cannot store SCN.meta in NIR metadata: {exc}") from None
    lif = nir.LIF(
        tau=np.full(n, tau), r=np.full(n, tau / dt), v_leak=np.zeros(n),
        v_threshold=np.array(net.thresholds, dtype=np.float64),
        metadata={"note": "SCN membrane; NIR's subtractive reset is cancelled by the Omega "
                          "diagonal (+ (1-lam*dt)*v_threshold), see neuromorph.backends.nir"},
    )
    nodes = {
        "input": nir.Input(input_type=np.array([m])),
        "F": nir.Linear(weight=dt * net.F),
        "lif": lif,
        "Omega": nir.Linear(weight=_omega_node_weight(net.Omega, net.thresholds, decay)),
        "D": nir.Linear(weight=np.array(net.D, dtype=np.float64)),
        "readout": nir.LI(tau=np.full(m, tau), r=np.full(m, tau / dt), v_leak=np.zeros(m)),
        "output": nir.Output(output_type=np.array([m])),
    }
    metadata = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "kind": KIND_SCN,
        "lam": lam, "dt": dt, "v_noise": float(net.v_noise), "t_noise": float(net.t_noise),
        "F": np.array(net.F, dtype=np.float64), "Omega": np.array(net.Omega, dtype=np.float64),
        "meta_json": meta_json,
    }
    return nir.NIRGraph(nodes=nodes, edges=list(SCN_EDGES), metadata=metadata)


def _uniform(name: str, arr: np.ndarray, what: str) -> float:
    """The single value of ``arr`` (SCN parameters are shared by all neurons)."""
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise NIRImportError(f"{what} graph: {name} must be finite and > 0, got {arr}")
    if not np.all(arr == arr.flat[0]):
        raise NIRImportError(f"{what} graph: {name} must be the same for all neurons "
                             f"(an SCN has one leak rate and one dt), got values {np.unique(arr)}")
    return float(arr.flat[0])


def nir_to_scn(graph: nir.NIRGraph) -> SCN:
    """Import a graph written by :func:`scn_to_nir` (or any graph of that exact shape) as an SCN.

    The round trip is exact: ``np.array_equal`` holds for F, Omega, D, thresholds, and lam, dt,
    v_noise, t_noise and meta are equal.

    Raises:
        NIRImportError: missing or extra nodes or edges, wrong node types or shapes,
            non-uniform tau/r, non-zero v_leak, unknown format version, or inconsistent arrays.
    """
    what = "SCN"
    if not isinstance(graph, nir.NIRGraph):
        raise NIRImportError(f"expected a nir.NIRGraph for an SCN, got {type(graph).__name__}")
    meta = _graph_meta(graph, KIND_SCN, required=False, what=what)  # wrong kind: say so first
    _check_layout(graph, SCN_NODES, SCN_EDGES, what)
    g = graph.nodes
    m = _io_shape(g["input"], "input")
    if len(m) != 1:
        raise NIRImportError(f"{what} graph: input must be 1-D (M,), got shape {m}")
    m = m[0]
    W_F = _arr(g["F"], "weight")
    if W_F.ndim != 2 or W_F.shape[1] != m:
        raise NIRImportError(f"{what} graph: F.weight has shape {W_F.shape}, expected (N, M) with M = {m} "
                             "(the input size)")
    n = W_F.shape[0]
    lif = g["lif"]
    for p in ("tau", "r", "v_leak", "v_threshold"):
        _shape_check(f"lif.{p}", _arr(lif, p), (n,), what)
    _shape_check("Omega.weight", _arr(g["Omega"], "weight"), (n, n), what)
    _shape_check("D.weight", _arr(g["D"], "weight"), (m, n), what)
    for p in ("tau", "r", "v_leak"):
        _shape_check(f"readout.{p}", _arr(g["readout"], p), (m,), what)
    if _io_shape(g["output"], "output") != (m,):
        raise NIRImportError(f"{what} graph: output has shape {_io_shape(g['output'], 'output')}, expected ({m},)")
    for node in ("lif", "readout"):
        if np.any(_arr(g[node], "v_leak") != 0):
            raise NIRImportError(f"{what} graph: {node}.v_leak must be 0 (an SCN has no resting-potential offset)")

    tau = _uniform("lif.tau", _arr(lif, "tau"), what)
    r = _uniform("lif.r", _arr(lif, "r"), what)
    if not (np.all(_arr(g["readout"], "tau") == tau) and np.all(_arr(g["readout"], "r") == r)):
        raise NIRImportError(f"{what} graph: readout tau/r must equal lif tau/r (the SCN's read-out "
                             "shares the membrane leak λ)")
    # Exact scalars from metadata when they reproduce the node values, else from the nodes.
    lam_m, dt_m = _scalar(meta.get("lam")), _scalar(meta.get("dt"))
    lam = float(lam_m) if lam_m is not None and 1.0 / float(lam_m) == tau else 1.0 / tau
    dt = float(dt_m) if dt_m is not None and tau / float(dt_m) == r else tau / r
    T = _arr(lif, "v_threshold")

    F_meta = meta.get("F")
    if F_meta is not None and np.shape(F_meta) == W_F.shape and \
            np.array_equal(dt * np.asarray(F_meta, np.float64), W_F):
        F = np.asarray(F_meta, np.float64)
    else:
        F = W_F / dt
    decay = 1.0 - lam * dt
    W_O = _arr(g["Omega"], "weight")
    O_meta = meta.get("Omega")
    if O_meta is not None and np.shape(O_meta) == W_O.shape and \
            np.array_equal(_omega_node_weight(np.asarray(O_meta, np.float64), T, decay), W_O):
        Omega = np.asarray(O_meta, np.float64)
    else:
        Omega = W_O - np.diag(decay * T)
    meta_json = _scalar(meta.get("meta_json"))
    try:
        user_meta = json.loads(meta_json) if meta_json else {}
    except json.JSONDecodeError as exc:
        raise NIRImportError(f"{what} graph: metadata 'meta_json' is not valid JSON ({exc})") from None
    try:
        return SCN(F=F, Omega=Omega, D=_arr(g["D"], "weight"), thresholds=T, lam=lam, dt=dt,
                   v_noise=float(_scalar(meta.get("v_noise", 0.0))),
                   t_noise=float(_scalar(meta.get("t_noise", 0.0))), meta=user_meta)
    except NetworkShapeError as exc:
        raise NIRImportError(f"{what} graph does not describe a valid SCN: {exc}") from None


# --------------------------------------------------------------------------- float EI network
#: node name -> (NIR class, role) of the float-EI graph.
EI_NODES: dict[str, tuple[type, str]] = {
    "input": (nir.Input, "input signal c, shape (M,)"),
    "F_E": (nir.Linear, "feed-forward weights dt*F_E, (N_E, M)"),
    "lif_E": (nir.LIF, "excitatory membrane, (N_E,)"),
    "lif_I": (nir.LIF, "inhibitory membrane, (N_I,)"),
    "W_EE": (nir.Linear, "E->E incl. self-reset diagonal, (N_E, N_E)"),
    "W_IE": (nir.Linear, "I->E, (N_E, N_I)"),
    "W_EI": (nir.Linear, "E->I, (N_I, N_E)"),
    "W_II": (nir.Linear, "I->I incl. self-reset diagonal, (N_I, N_I)"),
    "D_E": (nir.Linear, "E decoder, (M, N_E)"),
    "readout": (nir.LI, "filtered read-out x_hat, (M,)"),
    "output": (nir.Output, "read-out, shape (M,)"),
}
#: edges of the float-EI graph; E→I acts within the step, the other pathways close cycles.
EI_EDGES: list[tuple[str, str]] = [
    ("input", "F_E"), ("F_E", "lif_E"), ("lif_E", "W_EE"), ("W_EE", "lif_E"), ("lif_I", "W_IE"), ("W_IE", "lif_E"),
    ("lif_E", "W_EI"), ("W_EI", "lif_I"), ("lif_I", "W_II"), ("W_II", "lif_I"), ("lif_E", "D_E"),
    ("D_E", "readout"), ("readout", "output"),
]


def ei_to_nir(net: EINetwork) -> nir.NIRGraph:
    """Export a float EI network as a NIR graph (layout and formulas: module docstring).

    Args:
        net: the EINetwork (F_E (N_E, M), W_EE, W_EI, W_IE, W_II, D_E, thresholds, λ [1/s], dt [s]).

    Returns:
        ``nir.NIRGraph`` with nodes :data:`EI_NODES`, edges :data:`EI_EDGES`, exact arrays and
        scalars in ``graph.metadata``.
    """
    ne, m = net.F_E.shape
    ni = net.n_inh
    lam, dt = float(net.lam), float(net.dt)
    tau = 1.0 / lam
    decay = 1.0 - lam * dt
    try:
        meta_json = json.dumps(net.meta, default=json_default)
    except TypeError as exc:
        raise NIRExportError(f"cannot store EINetwork.meta in NIR metadata: {exc}") from None

    def lif(n: int, T: np.ndarray, who: str) -> nir.LIF:
        return nir.LIF(tau=np.full(n, tau), r=np.full(n, tau / dt), v_leak=np.zeros(n),
                       v_threshold=np.array(T, dtype=np.float64),
                       metadata={"note": f"{who} membrane; NIR's subtractive reset is cancelled by the "
                                         "self-reset diagonal (+ (1-lam*dt)*v_threshold), see neuromorph.backends.nir"})

    nodes = {
        "input": nir.Input(input_type=np.array([m])),
        "F_E": nir.Linear(weight=dt * net.F_E),
        "lif_E": lif(ne, net.T_E, "excitatory"),
        "lif_I": lif(ni, net.T_I, "inhibitory"),
        "W_EE": nir.Linear(weight=_omega_node_weight(net.W_EE, net.T_E, decay)),
        "W_IE": nir.Linear(weight=np.array(net.W_IE, dtype=np.float64)),
        "W_EI": nir.Linear(weight=np.array(net.W_EI, dtype=np.float64)),
        "W_II": nir.Linear(weight=_omega_node_weight(net.W_II, net.T_I, decay)),
        "D_E": nir.Linear(weight=np.array(net.D_E, dtype=np.float64)),
        "readout": nir.LI(tau=np.full(m, tau), r=np.full(m, tau / dt), v_leak=np.zeros(m)),
        "output": nir.Output(output_type=np.array([m])),
    }
    metadata = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "kind": KIND_EI, "lam": lam, "dt": dt,
        "v_noise_E": float(net.v_noise_E), "v_noise_I": float(net.v_noise_I), "t_noise": float(net.t_noise),
        "refractory": int(net.refractory), "e_self_reset": float(net.e_self_reset),
        "F_E": np.array(net.F_E, dtype=np.float64), "W_EE": np.array(net.W_EE, dtype=np.float64),
        "W_II": np.array(net.W_II, dtype=np.float64), "D_I": np.array(net.D_I, dtype=np.float64),
        "meta_json": meta_json,
    }
    return nir.NIRGraph(nodes=nodes, edges=list(EI_EDGES), metadata=metadata)


def nir_to_ei(graph: nir.NIRGraph) -> EINetwork:
    """Import a graph written by :func:`ei_to_nir` (or any graph of that exact shape) as an EINetwork.

    The round trip is exact (``np.array_equal`` for every array, scalars and meta equal).
    Without metadata: no noise, refractory 0, ``e_self_reset`` = mean of the E diagonal,
    ``D_I`` = 0.

    Raises:
        NIRImportError: missing or extra nodes or edges, wrong node types or shapes, non-uniform
            or unequal tau/r, non-zero v_leak, unknown format version, or inconsistent arrays.
    """
    what = "EI"
    if not isinstance(graph, nir.NIRGraph):
        raise NIRImportError(f"expected a nir.NIRGraph for an EI network, got {type(graph).__name__}")
    meta = _graph_meta(graph, KIND_EI, required=False, what=what)
    _check_layout(graph, EI_NODES, EI_EDGES, what)
    g = graph.nodes
    m = _io_shape(g["input"], "input")
    if len(m) != 1:
        raise NIRImportError(f"{what} graph: input must be 1-D (M,), got shape {m}")
    m = m[0]
    W_F = _arr(g["F_E"], "weight")
    if W_F.ndim != 2 or W_F.shape[1] != m:
        raise NIRImportError(f"{what} graph: F_E.weight has shape {W_F.shape}, expected (N_E, M) with M = {m}")
    ne = W_F.shape[0]
    ni = _arr(g["lif_I"], "tau").shape[0] if _arr(g["lif_I"], "tau").ndim == 1 else -1
    if ni < 1:
        raise NIRImportError(f"{what} graph: lif_I.tau must be 1-D (N_I,)")
    for pop, n in (("lif_E", ne), ("lif_I", ni)):
        for p in ("tau", "r", "v_leak", "v_threshold"):
            _shape_check(f"{pop}.{p}", _arr(g[pop], p), (n,), what)
        if np.any(_arr(g[pop], "v_leak") != 0):
            raise NIRImportError(f"{what} graph: {pop}.v_leak must be 0")
    for name, shp in (("W_EE", (ne, ne)), ("W_IE", (ne, ni)), ("W_EI", (ni, ne)), ("W_II", (ni, ni)),
                      ("D_E", (m, ne))):
        _shape_check(f"{name}.weight", _arr(g[name], "weight"), shp, what)
    for p in ("tau", "r", "v_leak"):
        _shape_check(f"readout.{p}", _arr(g["readout"], p), (m,), what)
    if np.any(_arr(g["readout"], "v_leak") != 0):
        raise NIRImportError(f"{what} graph: readout.v_leak must be 0")
    if _io_shape(g["output"], "output") != (m,):
        raise NIRImportError(f"{what} graph: output has shape {_io_shape(g['output'], 'output')}, expected ({m},)")
    tau = _uniform("lif_E.tau", _arr(g["lif_E"], "tau"), what)
    r = _uniform("lif_E.r", _arr(g["lif_E"], "r"), what)
    for node in ("lif_I", "readout"):
        if not (np.all(_arr(g[node], "tau") == tau) and np.all(_arr(g[node], "r") == r)):
            raise NIRImportError(f"{what} graph: {node} tau/r must equal lif_E tau/r (one leak λ for both "
                                 "populations and the read-out)")
    lam_m, dt_m = _scalar(meta.get("lam")), _scalar(meta.get("dt"))
    lam = float(lam_m) if lam_m is not None and 1.0 / float(lam_m) == tau else 1.0 / tau
    dt = float(dt_m) if dt_m is not None and tau / float(dt_m) == r else tau / r
    decay = 1.0 - lam * dt
    T_E, T_I = _arr(g["lif_E"], "v_threshold"), _arr(g["lif_I"], "v_threshold")

    def exact(key: str, node_value: np.ndarray, export) -> Optional[np.ndarray]:
        v = meta.get(key)
        if v is None or np.shape(v) != node_value.shape:
            return None
        v = np.asarray(v, np.float64)
        return v if np.array_equal(export(v), node_value) else None

    F_E = exact("F_E", W_F, lambda v: dt * v)
    F_E = W_F / dt if F_E is None else F_E
    nodes_EE, nodes_II = _arr(g["W_EE"], "weight"), _arr(g["W_II"], "weight")
    W_EE = exact("W_EE", nodes_EE, lambda v: _omega_node_weight(v, T_E, decay))
    W_EE = nodes_EE - np.diag(decay * T_E) if W_EE is None else W_EE
    W_II = exact("W_II", nodes_II, lambda v: _omega_node_weight(v, T_I, decay))
    W_II = nodes_II - np.diag(decay * T_I) if W_II is None else W_II
    D_I = meta.get("D_I")
    D_I = np.asarray(D_I, np.float64) if D_I is not None and np.shape(D_I) == (m, ni) else np.zeros((m, ni))
    meta_json = _scalar(meta.get("meta_json"))
    try:
        user_meta = json.loads(meta_json) if meta_json else {}
    except json.JSONDecodeError as exc:
        raise NIRImportError(f"{what} graph: metadata 'meta_json' is not valid JSON ({exc})") from None
    e_reset = _scalar(meta.get("e_self_reset"))
    try:
        return EINetwork(F_E=F_E, W_EE=W_EE, W_EI=_arr(g["W_EI"], "weight"), W_IE=_arr(g["W_IE"], "weight"),
                         W_II=W_II, D_E=_arr(g["D_E"], "weight"), D_I=D_I, T_E=T_E, T_I=T_I, lam=lam, dt=dt,
                         v_noise_E=float(_scalar(meta.get("v_noise_E", 0.0))),
                         v_noise_I=float(_scalar(meta.get("v_noise_I", 0.0))),
                         t_noise=float(_scalar(meta.get("t_noise", 0.0))),
                         refractory=int(_scalar(meta.get("refractory", 0))),
                         e_self_reset=float(e_reset) if e_reset is not None else float(np.mean(np.diag(W_EE))),
                         meta=user_meta)
    except NetworkShapeError as exc:
        raise NIRImportError(f"{what} graph does not describe a valid EI network: {exc}") from None


def network_to_nir(net) -> nir.NIRGraph:
    """The float graph of any neuromorph network: :func:`scn_to_nir` or :func:`ei_to_nir`."""
    if isinstance(net, EINetwork):
        return ei_to_nir(net)
    if isinstance(net, SCN):
        return scn_to_nir(net)
    raise NIRExportError(f"no NIR export for a {type(net).__name__} (SCN and EINetwork are supported)")


# --------------------------------------------------------------------------- files
def save_nir(graph: nir.NIRGraph, path: Union[str, Path]) -> Path:
    """Write ``graph`` with ``nir.write`` (HDF5) atomically: temporary file beside ``path``, then rename.

    A crash mid-write leaves the old file (or none), never a half-written one.
    """
    return atomic_write(path, lambda tmp: nir.write(tmp, graph))  # h5py opens the file by name


def load_nir(path: Union[str, Path]) -> nir.NIRGraph:
    """Read a NIR file written by ``nir.write``/:func:`save_nir`.

    Raises:
        NIRFileError: the file does not exist, is not HDF5, or does not hold a NIR graph.
    """
    path = Path(path)
    if not path.is_file():
        raise NIRFileError(f"NIR file not found: {path}")
    try:
        graph = nir.read(str(path))
    except Exception as exc:  # h5py OSError (not HDF5), KeyError (no 'node'), nir's asserts/ValueErrors
        raise NIRFileError(f"{path}: not a readable NIR file ({type(exc).__name__}: {exc})") from None
    if not isinstance(graph, nir.NIRGraph):
        raise NIRFileError(f"{path}: holds a single nir.{type(graph).__name__}, not a NIR graph")
    return graph



# --------------------------------------------------------------------------- reference interpreter
#: Node types :func:`run_graph` evaluates.
RUNNABLE = (nir.Input, nir.Output, nir.Linear, nir.Affine, nir.Scale, nir.LI, nir.LIF, nir.CubaLIF)


def flatten_graph(graph: nir.NIRGraph) -> nir.NIRGraph:
    """Inline nested sub-graphs (Rockpool's and snnTorch's recurrent layers) into one flat graph.

    A sub-graph ``g`` with nodes ``input``/``lif``/... becomes nodes ``g.input``, ``g.lif``, ...;
    its Input and Output nodes stay as pass-through nodes, so edges into ``g`` go to its Input
    and edges out of ``g`` leave from its Output. Node names of a flat graph are unchanged.
    """
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    entry: dict[str, str] = {}
    exit_: dict[str, str] = {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            sub = flatten_graph(node)
            ins = [k for k, v in sub.nodes.items() if isinstance(v, nir.Input)]
            outs = [k for k, v in sub.nodes.items() if isinstance(v, nir.Output)]
            if len(ins) != 1 or len(outs) != 1:
                raise NIRImportError(f"sub-graph {name!r} must have exactly one Input and one Output node "
                                     f"(has {len(ins)} and {len(outs)})")
            for k, v in sub.nodes.items():
                nodes[f"{name}.{k}"] = v
            edges += [(f"{name}.{a}", f"{name}.{b}") for a, b in sub.edges]
            entry[name], exit_[name] = f"{name}.{ins[0]}", f"{name}.{outs[0]}"
        else:
            nodes[name] = node
    for a, b in graph.edges:
        a, b = str(a), str(b)
        edges.append((exit_.get(a, a), entry.get(b, b)))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=dict(getattr(graph, "metadata", {}) or {}))


def evaluation_order(graph: nir.NIRGraph) -> tuple[list[str], set[tuple[str, str]]]:
    """Node order of :func:`run_graph` and its back edges.

    Each node's depth is its shortest path from an Input node (breadth first). An edge that does
    not go one level deeper (``depth[b] <= depth[a]``) closes a cycle: it is a *back edge* and
    delivers the previous step's value (the recurrent loops). The remaining edges strictly
    increase the depth, so ordering by depth puts every node after its forward predecessors.
    Nodes no Input reaches come last and read only previous-step values.
    """
    succ: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for a, b in graph.edges:
        succ[str(a)].append(str(b))
    depth = {n: 0 for n, v in graph.nodes.items() if isinstance(v, nir.Input)}
    frontier = list(depth)
    while frontier:
        nxt = []
        for n in frontier:
            for m in succ[n]:
                if m not in depth:
                    depth[m] = depth[n] + 1
                    nxt.append(m)
        frontier = nxt
    far = max(depth.values(), default=0) + 1
    d = {n: depth.get(n, far) for n in graph.nodes}
    back = {(str(a), str(b)) for a, b in graph.edges if d[str(b)] <= d[str(a)]}
    order = sorted(graph.nodes, key=lambda n: d[n])  # stable: graph order within a level
    return order, back


def run_graph(graph: nir.NIRGraph, x: np.ndarray, dt: float, record: Optional[list[str]] = None,
              reset: str = "subtract") -> dict[str, np.ndarray]:
    r"""Run a NIR graph on ``x`` under neuromorph's reading of NIR (module docstring): the
    reference every export and import of this project is defined by.

    Forward Euler with step ``dt``: ``LI``: ``v ← (1-dt/τ) v + (dt/τ)(v_leak + r u)``; ``LIF``: the
    same, then spike ``z = v > v_threshold`` and reset (``v -= v_threshold·z``, or ``v = 0`` where
    ``z`` with ``reset="zero"``); ``CubaLIF``: first ``i ← (1-dt/τ_syn) i + (dt/τ_syn) w_in u``,
    then the LIF step with ``u = i``. ``Linear``/``Affine``/``Scale`` act within the step. Nodes
    run in :func:`evaluation_order`; an edge closing a cycle (a back edge there) delivers its
    source's previous-step output. Spikes are 0/1 per step (no arbiter, no noise). Nested sub-graphs are flattened first
    (:func:`flatten_graph`).

    Parameters
    ----------
    graph : nir.NIRGraph
    x : ndarray, shape (T, Nin)
        Input per step (for a graph with one Input node).
    dt : float
        Time step in seconds.
    record : list of str, optional
        Nodes whose per-step output to return (spiking nodes also as ``"<name>.v"``, the
        pre-reset membrane); default every Output node.
    reset : ``"subtract"`` or ``"zero"``

    Returns
    -------
    dict of name -> ndarray (T, size)
    """
    if reset not in ("subtract", "zero"):
        raise ValueError(f"reset must be 'subtract' or 'zero', got {reset!r}")
    g = flatten_graph(graph)
    for name, node in g.nodes.items():
        if not isinstance(node, RUNNABLE):
            raise NIRImportError(f"node {name!r} is nir.{type(node).__name__}; the reference interpreter "
                                 f"runs {', '.join(c.__name__ for c in RUNNABLE)}")
    inputs = [n for n, v in g.nodes.items() if isinstance(v, nir.Input)]
    if len(inputs) != 1:
        raise NIRImportError(f"the graph needs exactly one top-level Input node, found {inputs}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (time steps, inputs), got shape {x.shape}")
    order, back = evaluation_order(g)
    record = list(record) if record is not None else [n for n, v in graph.nodes.items() if isinstance(v, nir.Output)]
    preds = {n: [str(a) for a, b in g.edges if str(b) == n] for n in g.nodes}
    fwd = {n: [a for a in preds[n] if (a, n) not in back] for n in g.nodes}
    bwd = {n: [a for a in preds[n] if (a, n) in back] for n in g.nodes}
    p = {n: {k: np.asarray(getattr(v, k), np.float64) for k in ("tau", "tau_syn", "tau_mem", "r", "v_leak",
                                                                 "v_threshold", "w_in", "weight", "bias",
                                                                 "scale") if hasattr(v, k)}
         for n, v in g.nodes.items()}
    state: dict[str, dict[str, Any]] = {n: {} for n in g.nodes}
    prev: dict[str, Any] = {}
    out: dict[str, list] = {k: [] for k in record}
    for t in range(x.shape[0]):
        cur: dict[str, Any] = {}
        for name in order:
            node, q, st = g.nodes[name], p[name], state[name]
            if isinstance(node, nir.Input):
                cur[name] = x[t]
                continue
            u = sum([cur[a] for a in fwd[name]] + [prev.get(a, 0.0) for a in bwd[name]], 0.0)
            if isinstance(node, (nir.Linear, nir.Affine)):
                cur[name] = q["weight"] @ u if np.ndim(u) else q["weight"] @ np.zeros(q["weight"].shape[1])
                if isinstance(node, nir.Affine):
                    cur[name] = cur[name] + q["bias"]
            elif isinstance(node, nir.Scale):
                cur[name] = q["scale"] * u
            elif isinstance(node, nir.Output):
                cur[name] = u
            elif isinstance(node, nir.LI):
                tau = q["tau"]
                st["v"] = (1 - dt / tau) * st.get("v", 0.0) + (dt / tau) * (q["v_leak"] + q["r"] * u)
                cur[name] = st["v"]
            else:  # LIF / CubaLIF
                if isinstance(node, nir.CubaLIF):
                    ts = q["tau_syn"]
                    st["i"] = (1 - dt / ts) * st.get("i", 0.0) + (dt / ts) * (q["w_in"] * u)
                    u, tau = st["i"], q["tau_mem"]
                else:
                    tau = q["tau"]
                v = (1 - dt / tau) * st.get("v", 0.0) + (dt / tau) * (q["v_leak"] + q["r"] * u)
                # scalar parameters (one value for the whole layer, as snnTorch writes them) broadcast
                v = np.broadcast_to(v, np.broadcast_shapes(np.shape(v), q["v_threshold"].shape))
                z = (v > q["v_threshold"]).astype(np.float64)
                if f"{name}.v" in out:
                    out[f"{name}.v"].append(np.array(v))
                st["v"] = v - q["v_threshold"] * z if reset == "subtract" else np.where(z > 0, 0.0, v)
                cur[name] = z
        for k in record:
            if k in cur:
                out[k].append(np.array(cur[k], dtype=np.float64))
        prev = cur
    return {k: np.array(v) for k, v in out.items()}
