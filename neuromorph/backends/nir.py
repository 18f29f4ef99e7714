r"""NIR exchange: the float SCN and the quantized Xylo spec as NIR graphs, and back, losslessly.

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

Xylo spec (:func:`xylo_spec_to_nir` / :func:`nir_to_xylo_spec`)
---------------------------------------------------------------
Input: a plain dict with Rockpool's ``XyloSim.from_specification`` keys (integer-valued numpy
arrays). Absent keys take Rockpool's defaults, as in ``backends/xylo/spec.py``: no recurrent
weights, all dashes, thresholds, biases and shifts 0, no aliases, ``dt`` 1e-3. ``mapped_graph``
is ignored and ``device`` (a string) is kept. Per step the Xylo neuron does
``Isyn_s = β_s (Isyn_s + in_s)``, ``V = α V + Σ_s Isyn_s + bias``, then a subtractive reset by
the threshold, with ``β = 1 - 2^-dash_syn`` and ``α = 1 - 2^-dash_mem``. The Euler-exact NIR
values are:

* ``tau_syn = dt 2^dash_syn``, ``w_in = 2^dash_syn - 1``, so that ``(dt/tau_syn) w_in = β``;
* ``tau_mem = dt 2^dash_mem``, ``r = 2^dash_mem`` (so that ``(dt/tau_mem) r = 1``);
* ``v_leak = bias 2^dash_mem``, ``v_threshold = threshold``.

``tau = dt 2^dash`` is also the inverse of Rockpool's mapper (``dash = log2(tau/dt)``).
Weights are ``W 2^weight_shift`` (float). ``weights_in`` (Nin, Nien, Nsyn) feeds the *first*
Nien hidden neurons, so the Linear is (Nhid, Nin) with zero rows after Nien. ``weights_out``
(Noen, Nout) is read from the *last* Noen hidden neurons, so the Linear is (Nout, Nhid) with
zero columns in front.

* Nsyn = 1: ``input → w_in → lif (CubaLIF) → w_rec → lif``; ``lif → w_out → readout (CubaLIF) → output``.
* Nsyn = 2: CubaLIF has one synaptic current, so the two currents are explicit LI nodes. The
  layout is ``input → w_in_s → syn_s (LI) → lif (LIF)`` and ``lif → w_rec_s → syn_s`` for s = 0, 1,
  plus ``lif → w_out → readout (CubaLIF) → output``. Each ``syn_s`` has ``tau = dt 2^dash``,
  ``r = 2^dash - 1`` and ``v_leak = 0``; ``lif`` has the membrane values above.

*What NIR cannot express* (the integers in metadata are exact; the floats are their ideal):
integer bit-shift decay (floor, at least 1 per step), int16 saturation, up to 31 events per step
(NIR: at most 1; the output neurons do emit at most 1), ``V >= θ`` versus NIR's ``v > θ``, the
clipping of input counts at 15, aliases, and the one-step hidden→readout latency. A ``nir.Delay``
node could carry that latency, but Rockpool cannot import Delay.

Metadata: ``kind = "XyloSpec"``, ``n_syn``, ``spec_keys`` (the keys given, comma-separated),
``none_keys`` (keys given as None), ``spec`` (every given array and scalar as-is, so dtype and
shape survive), ``aliases`` (int (Nhid,), -1 = none), ``aliases_dtype`` and ``aliases_form``
(``none``/``lists``/``array``), ``device``. Import requires this metadata and checks that the node
parameters equal those recomputed from it. A mismatch raises :class:`NIRImportError`, because
the integers cannot be recovered from edited floats.

Files and Rockpool
------------------
:func:`save_nir` writes atomically (temporary file, then ``os.replace``). :func:`load_nir` raises
:class:`NIRFileError` for a missing or unreadable file. :func:`to_rockpool` loads a Nsyn = 1 Xylo
graph with ``rockpool.nn.modules.from_nir``, restructured the way Rockpool recognises a recurrent
layer (see its docstring). It refuses the float SCN and Nsyn = 2 graphs with
:class:`NIRRockpoolError`, which says why.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import nir
import numpy as np

from neuromorph.artifacts import atomic_write, json_default
from neuromorph.network import SCN, NetworkShapeError

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
    "xylo_spec_to_nir",
    "nir_to_xylo_spec",
    "save_nir",
    "load_nir",
    "to_rockpool",
]

FORMAT_NAME = "neuromorph-nir"
FORMAT_VERSION = 1
KIND_SCN = "SCN"
KIND_XYLO = "XyloSpec"


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


def _xylo_layout(n_syn: int) -> tuple[dict[str, tuple[type, str]], list[tuple[str, str]]]:
    """Node table and edge list of the Xylo graph for ``n_syn`` synapses per hidden neuron."""
    if n_syn == 1:
        nodes = {
            "input": (nir.Input, "input channels, (Nin,)"),
            "w_in": (nir.Linear, "input weights, (Nhid, Nin)"),
            "lif": (nir.CubaLIF, "hidden neurons, (Nhid,)"),
            "w_rec": (nir.Linear, "recurrent weights, (Nhid, Nhid)"),
            "w_out": (nir.Linear, "readout weights, (Nout, Nhid)"),
            "readout": (nir.CubaLIF, "output neurons, (Nout,)"),
            "output": (nir.Output, "output events, (Nout,)"),
        }
        edges = [("input", "w_in"), ("w_in", "lif"), ("lif", "w_rec"), ("w_rec", "lif"),
                 ("lif", "w_out"), ("w_out", "readout"), ("readout", "output")]
        return nodes, edges
    nodes = {"input": (nir.Input, "input channels, (Nin,)")}
    edges: list[tuple[str, str]] = []
    for s in range(n_syn):
        nodes[f"w_in_{s}"] = (nir.Linear, f"input weights of synapse {s}, (Nhid, Nin)")
        nodes[f"syn_{s}"] = (nir.LI, f"synaptic current {s}, (Nhid,)")
        nodes[f"w_rec_{s}"] = (nir.Linear, f"recurrent weights of synapse {s}, (Nhid, Nhid)")
        edges += [("input", f"w_in_{s}"), (f"w_in_{s}", f"syn_{s}"), (f"syn_{s}", "lif"),
                  ("lif", f"w_rec_{s}"), (f"w_rec_{s}", f"syn_{s}")]
    nodes["lif"] = (nir.LIF, "hidden membranes, (Nhid,)")
    nodes["w_out"] = (nir.Linear, "readout weights, (Nout, Nhid)")
    nodes["readout"] = (nir.CubaLIF, "output neurons, (Nout,)")
    nodes["output"] = (nir.Output, "output events, (Nout,)")
    edges += [("lif", "w_out"), ("w_out", "readout"), ("readout", "output")]
    return nodes, edges


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
    """``"SCN"`` / ``"XyloSpec"`` for a graph written by this module, else ``None``."""
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


# --------------------------------------------------------------------------- Xylo spec
_XYLO_HID_KEYS = ("threshold", "dash_mem", "dash_syn", "dash_syn_2", "bias")
_XYLO_OUT_KEYS = ("threshold_out", "dash_mem_out", "dash_syn_out", "bias_out")
_XYLO_SHIFT_KEYS = ("weight_shift_in", "weight_shift_rec", "weight_shift_out")
_XYLO_KEYS = ("weights_in", "weights_rec", "weights_out") + _XYLO_HID_KEYS + _XYLO_OUT_KEYS + \
    _XYLO_SHIFT_KEYS + ("aliases", "dt", "device")
_XYLO_IGNORED = frozenset({"mapped_graph"})


def _int_valued(key: str, value: Any, nonneg: bool = False) -> np.ndarray:
    """``value`` as float64 after checking it is finite and integral (what the chip stores)."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise NIRExportError(f"{key}: expected numbers, got {value!r}") from None
    if not np.all(np.isfinite(a)) or not np.array_equal(a, np.round(a)):
        raise NIRExportError(f"{key}: values must be integers (quantize first)")
    if nonneg and np.any(a < 0):
        raise NIRExportError(f"{key}: values must be >= 0, got min {a.min():g}")
    return a


def _aliases_array(aliases: Any, n_hid: int) -> tuple[np.ndarray, str]:
    """Aliases -> (int64 (Nhid,) target or -1, form tag) for storage; Xylo allows one target."""
    if aliases is None:
        return np.full(n_hid, -1, np.int64), "none"
    if isinstance(aliases, np.ndarray) and aliases.ndim == 1 and aliases.dtype.kind in "iuf":
        arr, form = _int_valued("aliases", aliases).astype(np.int64), "array"
    else:
        arr, form = np.full(len(aliases), -1, np.int64), "lists"
        for j, a in enumerate(aliases):
            t = [] if a is None else [int(x) for x in np.atleast_1d(np.asarray(a)).ravel()]
            if len(t) > 1:
                raise NIRExportError(f"aliases: neuron {j} has {len(t)} targets; Xylo allows at most one")
            arr[j] = t[0] if t else -1
    if arr.shape != (n_hid,) or np.any(arr < -1) or np.any(arr >= n_hid):
        raise NIRExportError(f"aliases: expected one target in -1..{n_hid - 1} per hidden neuron "
                             f"(Nhid = {n_hid}), got {arr.tolist()}")
    return arr, form


def _xylo_full(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Validated float64 view of a spec with Rockpool's defaults filled in (for the NIR parameters).

    Weights become 3-D ``(.., .., Nsyn)``; per-neuron keys (Nhid,) / (Nout,); shifts ints; dt float.
    """
    unknown = sorted(set(spec) - set(_XYLO_KEYS) - _XYLO_IGNORED)
    if unknown:
        raise NIRExportError(f"{unknown[0]}: unknown Xylo spec key (known: {sorted(_XYLO_KEYS)})")
    if spec.get("device") is not None and not isinstance(spec["device"], str):
        raise NIRExportError(f"device: expected a device name string, got {spec['device']!r}")
    for k in ("weights_in", "weights_out"):
        if spec.get(k) is None:
            raise NIRExportError(f"{k}: required key is missing")
    w_in = _int_valued("weights_in", spec["weights_in"])
    if w_in.ndim == 2:
        w_in = w_in[:, :, None]
    if w_in.ndim != 3 or w_in.shape[2] not in (1, 2):
        raise NIRExportError(f"weights_in: expected shape (Nin, Nien[, Nsyn]) with Nsyn 1 or 2, got {w_in.shape}")
    n_in, n_ien, n_syn = w_in.shape
    if spec.get("weights_rec") is None:
        w_rec = np.zeros((n_ien, n_ien, n_syn))  # Rockpool: Nhid = Nien without recurrent weights
    else:
        w_rec = _int_valued("weights_rec", spec["weights_rec"])
        if w_rec.ndim == 2:
            w_rec = w_rec[:, :, None]
    if w_rec.ndim != 3 or w_rec.shape[0] != w_rec.shape[1] or w_rec.shape[2] != n_syn:
        raise NIRExportError(f"weights_rec: expected shape (Nhid, Nhid, {n_syn}) (Nsyn of weights_in), "
                             f"got {w_rec.shape}")
    n_hid = w_rec.shape[0]
    if n_ien > n_hid:
        raise NIRExportError(f"weights_in: feeds {n_ien} hidden neurons but there are only Nhid = {n_hid}")
    w_out = _int_valued("weights_out", spec["weights_out"])
    if w_out.ndim != 2 or w_out.shape[0] > n_hid:
        raise NIRExportError(f"weights_out: expected shape (Noen, Nout) with Noen <= Nhid = {n_hid}, got {w_out.shape}")
    n_out = w_out.shape[1]
    full: dict[str, Any] = {"weights_in": w_in, "weights_rec": w_rec, "weights_out": w_out,
                            "n_in": n_in, "n_ien": n_ien, "n_hid": n_hid, "n_out": n_out, "n_syn": n_syn}
    for keys, size in ((_XYLO_HID_KEYS, n_hid), (_XYLO_OUT_KEYS, n_out)):
        for k in keys:
            v = spec.get(k)
            a = np.zeros(size) if v is None else _int_valued(k, v, nonneg=k.startswith("dash"))
            try:
                full[k] = np.broadcast_to(a, (size,)).astype(np.float64)
            except ValueError:
                raise NIRExportError(f"{k}: expected shape ({size},), got {a.shape}") from None
    for k in _XYLO_SHIFT_KEYS:
        a = _int_valued(k, 0 if spec.get(k) is None else spec[k], nonneg=True)
        if a.ndim != 0:
            raise NIRExportError(f"{k}: expected a scalar, got shape {a.shape}")
        full[k] = int(a)
    dt = spec.get("dt", 1e-3)
    try:
        full["dt"] = float(np.asarray(1e-3 if dt is None else dt))
    except (TypeError, ValueError):
        raise NIRExportError(f"dt: expected seconds > 0, got {dt!r}") from None
    if not np.isfinite(full["dt"]) or full["dt"] <= 0:
        raise NIRExportError(f"dt: expected seconds > 0, got {full['dt']}")
    full["aliases"], full["aliases_form"] = _aliases_array(spec.get("aliases"), n_hid)
    return full


def _cuba_params(dash_syn: np.ndarray, dash_mem: np.ndarray, bias: np.ndarray, thr: np.ndarray,
                 dt: float) -> dict[str, np.ndarray]:
    """Euler-exact CubaLIF parameters of Xylo neurons (module docstring)."""
    return {"tau_syn": dt * 2.0 ** dash_syn, "w_in": 2.0 ** dash_syn - 1.0,
            "tau_mem": dt * 2.0 ** dash_mem, "r": 2.0 ** dash_mem,
            "v_leak": bias * 2.0 ** dash_mem, "v_threshold": thr.copy()}


def _xylo_node_params(full: Mapping[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """node name -> {parameter: float64 array} of the Xylo graph (used for export *and* checking)."""
    n_in, n_ien, n_hid, n_out, n_syn, dt = (full[k] for k in ("n_in", "n_ien", "n_hid", "n_out", "n_syn", "dt"))
    s_in, s_rec, s_out = (2.0 ** full[k] for k in _XYLO_SHIFT_KEYS)
    noen = full["weights_out"].shape[0]
    w_out = np.zeros((n_out, n_hid))
    w_out[:, n_hid - noen:] = full["weights_out"].T * s_out  # readout taps the LAST Noen neurons
    p: dict[str, dict[str, np.ndarray]] = {
        "w_out": {"weight": w_out},
        "readout": _cuba_params(full["dash_syn_out"], full["dash_mem_out"], full["bias_out"],
                                full["threshold_out"], dt),
    }
    w_ins, w_recs = [], []
    for s in range(n_syn):
        w = np.zeros((n_hid, n_in))
        w[:n_ien, :] = full["weights_in"][:, :, s].T * s_in  # input reaches the FIRST Nien neurons
        w_ins.append(w)
        w_recs.append(full["weights_rec"][:, :, s].T * s_rec)  # spec is [pre, post]; NIR is [post, pre]
    if n_syn == 1:
        p["w_in"] = {"weight": w_ins[0]}
        p["w_rec"] = {"weight": w_recs[0]}
        p["lif"] = _cuba_params(full["dash_syn"], full["dash_mem"], full["bias"], full["threshold"], dt)
        return p
    dm = full["dash_mem"]
    p["lif"] = {"tau": dt * 2.0 ** dm, "r": 2.0 ** dm, "v_leak": full["bias"] * 2.0 ** dm,
                "v_threshold": full["threshold"].copy()}
    for s, key in enumerate(("dash_syn", "dash_syn_2")):
        d = full[key]
        p[f"w_in_{s}"] = {"weight": w_ins[s]}
        p[f"w_rec_{s}"] = {"weight": w_recs[s]}
        p[f"syn_{s}"] = {"tau": dt * 2.0 ** d, "r": 2.0 ** d - 1.0, "v_leak": np.zeros(n_hid)}
    return p


def xylo_spec_to_nir(spec: Mapping[str, Any]) -> nir.NIRGraph:
    """Export a quantized Xylo network (Rockpool spec dict) as a NIR graph.

    Args:
        spec: ``weights_in`` (Nin, Nien[, Nsyn]), ``weights_rec`` (Nhid, Nhid[, Nsyn]),
            ``weights_out`` (Noen, Nout), per-neuron ``threshold``/``dash_*``/``bias`` (Nhid,),
            ``*_out`` (Nout,), scalar ``weight_shift_*``, ``aliases``, ``dt`` [s]; integer-valued.
            Absent keys take Rockpool's defaults.

    Returns:
        ``nir.NIRGraph`` (layout: module docstring) whose metadata holds the given spec values
        verbatim, for a lossless :func:`nir_to_xylo_spec`.

    Raises:
        NIRExportError: unknown key, inconsistent shapes, non-integral values, Nsyn not 1 or 2.
    """
    full = _xylo_full(spec)
    n_syn = full["n_syn"]
    params = _xylo_node_params(full)
    layout, edges = _xylo_layout(n_syn)
    nodes: dict[str, Any] = {}
    for name, (cls, _) in layout.items():
        if name == "input":
            nodes[name] = nir.Input(input_type=np.array([full["n_in"]]))
        elif name == "output":
            nodes[name] = nir.Output(output_type=np.array([full["n_out"]]))
        else:
            nodes[name] = cls(**params[name])
    stored: dict[str, Any] = {}
    for k, v in spec.items():
        if k in _XYLO_IGNORED or k in ("aliases", "device") or v is None:
            continue
        stored[k] = np.array(v)  # verbatim: dtype and shape survive h5py
    keys = [k for k in spec if k not in _XYLO_IGNORED]
    none_keys = [k for k in keys if spec[k] is None and k != "aliases"]  # explicit None = default
    metadata: dict[str, Any] = {
        "format": FORMAT_NAME, "format_version": FORMAT_VERSION, "kind": KIND_XYLO,
        "n_syn": int(n_syn), "spec_keys": ",".join(keys), "none_keys": ",".join(none_keys), "spec": stored,
        "aliases": full["aliases"], "aliases_form": full["aliases_form"] if "aliases" in spec else "absent",
    }
    if "aliases" in spec and isinstance(spec["aliases"], np.ndarray):
        metadata["aliases_dtype"] = str(spec["aliases"].dtype)
    if isinstance(spec.get("device"), str):
        metadata["device"] = spec["device"]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def nir_to_xylo_spec(graph: nir.NIRGraph) -> dict[str, Any]:
    """Import a graph written by :func:`xylo_spec_to_nir`; returns the spec dict exactly as given.

    The same keys come back. Arrays keep their dtype and shape, scalars come back as Python
    int/float, and ``aliases`` keeps its form (None, list of lists or int array).

    Raises:
        NIRImportError: not our Xylo graph (metadata missing or wrong kind/version), missing or
            extra nodes or edges, or node parameters that disagree with the integer spec in the
            metadata (the graph was edited after export).
    """
    what = "Xylo"
    if not isinstance(graph, nir.NIRGraph):
        raise NIRImportError(f"expected a nir.NIRGraph for a {what} spec, got {type(graph).__name__}")
    meta = _graph_meta(graph, KIND_XYLO, required=True, what=what)
    n_syn = _scalar(meta.get("n_syn"))
    if n_syn not in (1, 2):
        raise NIRImportError(f"{what} graph: metadata n_syn must be 1 or 2, got {n_syn!r}")
    layout, edges = _xylo_layout(int(n_syn))
    _check_layout(graph, layout, edges, f"{what} (Nsyn={n_syn})")
    stored = meta.get("spec")
    if not isinstance(stored, Mapping):
        raise NIRImportError(f"{what} graph: metadata has no 'spec' block")
    keys = [k for k in str(_scalar(meta.get("spec_keys", ""))).split(",") if k]
    none_keys = set(k for k in str(_scalar(meta.get("none_keys", ""))).split(",") if k)
    spec: dict[str, Any] = {}
    for k in keys:
        if k in none_keys:
            spec[k] = None
        elif k == "aliases":
            form = _scalar(meta.get("aliases_form"))
            arr = np.asarray(meta.get("aliases"), dtype=np.int64)
            if form == "none":
                spec[k] = None
            elif form == "lists":
                spec[k] = [[int(a)] if a >= 0 else [] for a in arr]
            else:
                spec[k] = arr.astype(str(_scalar(meta.get("aliases_dtype", "int64"))))
        elif k == "device":
            if "device" not in meta:
                raise NIRImportError(f"{what} graph: metadata lists key 'device' but has no value for it")
            spec[k] = _scalar(meta["device"])
        elif k in stored:
            v = np.asarray(stored[k])
            spec[k] = v.item() if v.ndim == 0 and k in _XYLO_SHIFT_KEYS + ("dt",) else v
        else:
            raise NIRImportError(f"{what} graph: metadata lists key {k!r} but 'spec' has no value for it")
    try:
        full = _xylo_full(spec)
    except NIRExportError as exc:
        raise NIRImportError(f"{what} graph: the spec stored in its metadata is invalid: {exc}") from None
    if full["n_syn"] != n_syn:
        raise NIRImportError(f"{what} graph: metadata n_syn = {n_syn} but the stored weights have "
                             f"Nsyn = {full['n_syn']}")
    # Cross-check every node parameter against what the stored integers produce.
    if _io_shape(graph.nodes["input"], "input") != (full["n_in"],) or \
            _io_shape(graph.nodes["output"], "output") != (full["n_out"],):
        raise NIRImportError(f"{what} graph: input/output shapes do not match the stored spec "
                             f"(Nin = {full['n_in']}, Nout = {full['n_out']})")
    for name, params in _xylo_node_params(full).items():
        node = graph.nodes[name]
        for p, want in params.items():
            got = _arr(node, p)
            if got.shape != want.shape:
                raise NIRImportError(f"{what} graph: {name}.{p} has shape {got.shape}, expected {want.shape} "
                                     "from the integer spec in the metadata")
            if not np.array_equal(got, want):
                raise NIRImportError(f"{what} graph: {name}.{p} disagrees with the integer spec stored in "
                                     "the metadata (edited after export?); re-export from the spec instead")
    return spec


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


# --------------------------------------------------------------------------- Rockpool
_ROCKPOOL_SCN_REASON = (
    "Rockpool's from_nir cannot represent the float SCN: (1) its recurrent neuron (LIFTorch, built "
    "only from a nested CubaLIF+Linear sub-graph) always filters input through a synaptic current "
    "(Isyn = exp(-dt/tau_syn)*(Isyn + input), which persists into later steps), so the SCN's "
    "instantaneous input dt*F*c and one-step recurrent kick Omega*o cannot be expressed; (2) "
    "rockpool 3.1.0 crashes on nir.LIF (it reads node.tau_mem, which nir.LIF does not have); "
    "(3) it imports nir.LI as ExpSynTorch with tau truncated to whole seconds (tau.int()), "
    "so the read-out filter tau = 1/lam < 1 s becomes 0. Quantize to a Xylo spec and export "
    "that with xylo_spec_to_nir instead.")


def _rockpool_graph(full: Mapping[str, Any], params: Mapping[str, Mapping[str, np.ndarray]]) -> nir.NIRGraph:
    """Our Nsyn=1 Xylo graph rewritten into the form and parameter conventions Rockpool's importer reads.

    * The recurrent loop is a nested 4-node sub-graph (Input, CubaLIF, Linear, Output): the only
      recurrent form rockpool 3.1.0 turns into ``LIFTorch(has_rec=True)``. A flat loop becomes a
      separate LinearTorch that nirtorch applies only across calls.
    * Rockpool takes ``dt = min(tau_mem / (1 + r))`` and ``bias = v_leak`` (added to V each step),
      so ``r = tau_mem/dt - 1`` and ``v_leak = bias``. Its update ``Isyn = β(Isyn + in)``,
      ``V = αV + Isyn + bias`` already has Xylo's input gain (w_in is ignored), with
      ``α, β = exp(-dt/tau)`` in place of ``1 - 2^-dash``, and ``tau = dt 2^dash`` maps back to the
      same dash in Rockpool's Xylo mapper.
    """
    dt = full["dt"]

    def cuba(p: Mapping[str, np.ndarray], bias: np.ndarray) -> nir.CubaLIF:
        return nir.CubaLIF(tau_syn=p["tau_syn"], tau_mem=p["tau_mem"], r=p["tau_mem"] / dt - 1.0,
                           v_leak=np.array(bias, np.float64), v_threshold=p["v_threshold"])

    n_hid, n_in, n_out = full["n_hid"], full["n_in"], full["n_out"]
    hidden = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([n_hid])), "lif": cuba(params["lif"], full["bias"]),
               "w_rec": nir.Linear(weight=params["w_rec"]["weight"]),
               "output": nir.Output(output_type=np.array([n_hid]))},
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([n_in])), "w_in": nir.Linear(weight=params["w_in"]["weight"]),
               "hidden": hidden, "w_out": nir.Linear(weight=params["w_out"]["weight"]),
               "readout": cuba(params["readout"], full["bias_out"]),
               "output": nir.Output(output_type=np.array([n_out]))},
        edges=[("input", "w_in"), ("w_in", "hidden"), ("hidden", "w_out"), ("w_out", "readout"),
               ("readout", "output")])


def to_rockpool(graph: nir.NIRGraph) -> Any:
    """Load one of our NIR graphs into Rockpool via ``rockpool.nn.modules.from_nir`` (torch).

    Works for Xylo graphs with Nsyn = 1. The result is nirtorch's ``GraphExecutor`` with modules
    ``w_in`` (LinearTorch), ``hidden`` (``LIFTorch(has_rec=True)``, ``w_rec`` = the recurrent
    weights ``weights_rec[:, :, 0] * 2^weight_shift_rec`` as (pre, post), in float32), ``w_out`` (LinearTorch) and
    ``readout`` (LIFTorch). Call it as ``out, state = net(x)`` with ``x`` shaped (batch, T, Nin).
    Its ``as_graph()`` method feeds Rockpool's Xylo mapper. ``max_spikes_per_dt`` is set to Xylo's
    31 (hidden) and 1 (readout), because NIR has no field for it. ``dt`` is set to the spec's
    value. The float dynamics are Rockpool's: ``exp(-dt/tau)`` decays, not Xylo's integer bit
    shifts, and a threshold of 0 (the spec default) makes Rockpool's spike count NaN.

    Raises:
        NIRRockpoolError: the float SCN graph or a Nsyn = 2 graph (the message says what Rockpool
            lacks), torch/Rockpool not installed, or Rockpool did not keep the recurrent weights.
        NIRImportError: not a graph written by this module.
    """
    kind = graph_kind(graph)
    if kind == KIND_SCN:
        nir_to_scn(graph)  # validate first, so a broken graph reports its real problem
        raise NIRRockpoolError(_ROCKPOOL_SCN_REASON)
    if kind != KIND_XYLO:
        raise NIRImportError("to_rockpool expects a graph written by scn_to_nir or xylo_spec_to_nir "
                             f"(metadata format {FORMAT_NAME!r}); for other graphs call "
                             "rockpool.nn.modules.from_nir directly")
    full = _xylo_full(nir_to_xylo_spec(graph))
    if full["n_syn"] != 1:
        raise NIRRockpoolError(
            "Rockpool's from_nir cannot represent Nsyn = 2: it builds LIFTorch with one synaptic "
            "current per neuron from a CubaLIF (two-synapse LIFTorch has input size 2*Nhid, which "
            "NIR's CubaLIF cannot express and Rockpool's to_nir also refuses).")
    try:
        import torch
        from rockpool.nn.modules import from_nir
    except ImportError as exc:  # torch is an optional dependency
        raise NIRRockpoolError(f"to_rockpool needs torch, nir, nirtorch and rockpool: {exc}") from None
    rp_graph = _rockpool_graph(full, _xylo_node_params(full))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # nirtorch.load's deprecation notice
        net = from_nir(rp_graph)
    hidden = getattr(net, "hidden", None)
    want = _xylo_node_params(full)["w_rec"]["weight"].T.astype(np.float32)
    w_rec = getattr(hidden, "w_rec", None)
    if not (bool(getattr(hidden, "_has_rec", False)) and w_rec is not None
            and np.array_equal(w_rec.detach().cpu().numpy(), want)):
        raise NIRRockpoolError("Rockpool's from_nir did not keep the recurrent weights "
                               f"(hidden module: {type(hidden).__name__}); this rockpool version is unsupported")
    # Rockpool infers dt as min(tau_mem / (1 + r)); for a one-neuron layer that passes through a
    # float32 tensor (0.01 -> 0.0099999998), and its mapper wants one dt everywhere: set it exactly.
    net.hidden.dt = full["dt"]
    net.readout.dt = full["dt"]
    net.hidden.max_spikes_per_dt = torch.tensor(31.0)  # Xylo: <= 31 events per hidden neuron per step
    net.readout.max_spikes_per_dt = torch.tensor(1.0)  # Xylo: <= 1 event per output neuron per step
    return net
