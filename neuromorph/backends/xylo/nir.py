r"""NIR exchange, Xylo half: the quantized Xylo spec as a NIR graph and back, losslessly, and
Rockpool's import of it (:func:`to_rockpool`). The discretisation convention, the metadata
format and the error types are those of the generic half, :mod:`neuromorph.backends.nir`.

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

Rockpool
--------
:func:`to_rockpool` loads a Nsyn = 1 Xylo graph with ``rockpool.nn.modules.from_nir``,
restructured the way Rockpool recognises a recurrent layer (see its docstring). It refuses the
float SCN and Nsyn = 2 graphs with :class:`NIRRockpoolError`, which says why.
"""
from __future__ import annotations

import warnings
from typing import Any, Mapping

import nir
import numpy as np

from neuromorph.backends.nir import (FORMAT_NAME, FORMAT_VERSION, KIND_SCN, NIRExportError, NIRImportError,
                                     NIRRockpoolError, _arr, _check_layout, _graph_meta, _io_shape, _scalar,
                                     graph_kind, nir_to_scn)

__all__ = ["KIND_XYLO", "xylo_spec_to_nir", "nir_to_xylo_spec", "to_rockpool", "export_variants", "SNNTORCH_DT"]

KIND_XYLO = "XyloSpec"


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
        from neuromorph.backends.xylo.rockpool_compat import import_rockpool

        torch = import_rockpool("torch")
        from_nir = import_rockpool("rockpool.nn.modules").from_nir
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


# --------------------------------------------------------------------------- consumer variants
#: Time step snnTorch's NIR import assumes (snntorch 1.0.0 ``import_nir``: ``dt = 1e-4``).
SNNTORCH_DT = 1e-4


def _variant_meta(full: Mapping[str, Any], variant: str, dt: float, reset: str) -> dict[str, Any]:
    # no neuromorph "format" key: a variant is a plain graph for other tools (and imports as one)
    return {"dt": float(dt), "variant": variant, "reset": reset,
            "derived_from": "neuromorph Xylo spec (docs/interop.md)"}


def _one_synapse_params(full: Mapping[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """Node parameters of the Nsyn = 1 layout; a Nsyn = 2 spec merges its two synapses, which is
    exact when they decay alike (``dash_syn == dash_syn_2``, neuromorph's own layout)."""
    params = _xylo_node_params(full)
    if full["n_syn"] == 1:
        return params
    if not np.array_equal(full["dash_syn"], full["dash_syn_2"]):
        raise NIRExportError("one-synapse variant: dash_syn and dash_syn_2 differ, so the two synaptic currents "
                             "cannot be merged into one CubaLIF current")
    return {"w_in": {"weight": params["w_in_0"]["weight"] + params["w_in_1"]["weight"]},
            "w_rec": {"weight": params["w_rec_0"]["weight"] + params["w_rec_1"]["weight"]},
            "lif": _cuba_params(full["dash_syn"], full["dash_mem"], full["bias"], full["threshold"], full["dt"]),
            "w_out": params["w_out"], "readout": params["readout"]}


def _flat_graph(full: Mapping[str, Any], p: Mapping[str, Mapping[str, np.ndarray]], lin: type) -> nir.NIRGraph:
    layout, edges = _xylo_layout(1)

    def mk(name: str) -> Any:
        if lin is nir.Affine and name.startswith("w_"):
            w = p[name]["weight"]
            return nir.Affine(weight=w, bias=np.zeros(w.shape[0]))
        return layout[name][0](**p[name])

    nodes = {n: mk(n) for n in layout if n not in ("input", "output")}
    nodes["input"] = nir.Input(input_type=np.array([full["n_in"]]))
    nodes["output"] = nir.Output(output_type=np.array([full["n_out"]]))
    return nir.NIRGraph(nodes=nodes, edges=edges)


def _snntorch_graph(full: Mapping[str, Any], p: Mapping[str, Mapping[str, np.ndarray]]) -> nir.NIRGraph:
    """snnTorch's conventions: dt = 1e-4 (so tau scales by 1e-4/dt), ``r = tau_mem/dt``,
    ``w_in = tau_syn/dt`` (input gain 1), no ``v_leak``, one threshold per layer (each neuron's
    incoming weights are divided by its threshold: exact, the membrane is linear in them), and the
    recurrent layer as a nested Input-CubaLIF-Linear-Output sub-graph. The Xylo synapse's input
    factor β is folded into the weights. snnTorch resets to zero, Xylo subtracts."""
    if np.any(full["bias"] != 0) or np.any(full["bias_out"] != 0):
        raise NIRExportError("snntorch variant: snnTorch's CubaLIF import has no v_leak; the spec has biases")
    s = SNNTORCH_DT

    def cuba(dash_syn: np.ndarray, dash_mem: np.ndarray) -> nir.CubaLIF:
        ts, tm = s * 2.0 ** dash_syn, s * 2.0 ** dash_mem
        return nir.CubaLIF(tau_syn=ts, tau_mem=tm, r=tm / s, w_in=ts / s, v_leak=np.zeros(ts.size),
                           v_threshold=np.ones(ts.size))

    beta = 1.0 - 2.0 ** -full["dash_syn"].astype(np.float64)
    beta_o = 1.0 - 2.0 ** -full["dash_syn_out"].astype(np.float64)
    thr = full["threshold"].astype(np.float64)
    thr_o = full["threshold_out"].astype(np.float64)
    if np.any(thr <= 0) or np.any(thr_o <= 0):
        raise NIRExportError("snntorch variant: thresholds must be > 0 to be normalised to 1")
    g_h, g_o = (beta / thr)[:, None], (beta_o / thr_o)[:, None]
    n_hid = full["n_hid"]
    hidden = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([n_hid])), "lif": cuba(full["dash_syn"], full["dash_mem"]),
               "w_rec": nir.Linear(weight=p["w_rec"]["weight"] * g_h),
               "output": nir.Output(output_type=np.array([n_hid]))},
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([full["n_in"]])),
               "w_in": nir.Linear(weight=p["w_in"]["weight"] * g_h), "hidden": hidden,
               "w_out": nir.Linear(weight=p["w_out"]["weight"] * g_o),
               "readout": cuba(full["dash_syn_out"], full["dash_mem_out"]),
               "output": nir.Output(output_type=np.array([full["n_out"]]))},
        edges=[("input", "w_in"), ("w_in", "hidden"), ("hidden", "w_out"), ("w_out", "readout"),
               ("readout", "output")])


def export_variants(spec: Any) -> dict[str, nir.NIRGraph]:
    """Graphs of a Xylo spec in the forms other tools load (docs/interop.md has the matrix).

    ``one_synapse`` (Nsyn = 2 specs only; Nsyn = 1 is the default graph): the two synaptic
    currents merged into one CubaLIF, flat loop ``lif -> w_rec -> lif`` (norse). ``affine``: the
    same with ``Affine`` (zero bias) in place of ``Linear`` (sinabs maps only Affine).
    ``rockpool``: nested recurrent sub-graph in Rockpool's conventions (:func:`to_rockpool`).
    ``snntorch``: snnTorch's conventions (:func:`_snntorch_graph`), written only when the spec
    has no biases. Variants carry ``metadata = {"dt", "variant", "reset", "derived_from"}`` and
    no neuromorph format key; their meaning is :func:`neuromorph.backends.nir.run_graph` with
    that ``dt`` and reset (Xylo: subtractive; snnTorch: to zero, its own convention).
    Variants whose conditions the spec does not meet are left out.
    """
    kw = spec.to_rockpool_kwargs() if hasattr(spec, "to_rockpool_kwargs") else dict(spec)
    full = _xylo_full(kw)
    out: dict[str, nir.NIRGraph] = {}
    try:
        p = _one_synapse_params(full)
    except NIRExportError:
        return out
    dt = full["dt"]
    if full["n_syn"] == 2:
        out["one_synapse"] = _flat_graph(full, p, nir.Linear)
        out["one_synapse"].metadata = _variant_meta(full, "one_synapse", dt, "subtract")
    out["affine"] = _flat_graph(full, p, nir.Affine)
    out["affine"].metadata = _variant_meta(full, "affine", dt, "subtract")
    out["rockpool"] = _rockpool_graph(full, p)
    out["rockpool"].metadata = _variant_meta(full, "rockpool", dt, "subtract")
    try:
        out["snntorch"] = _snntorch_graph(full, p)
        out["snntorch"].metadata = _variant_meta(full, "snntorch", SNNTORCH_DT, "zero")
    except NIRExportError:
        pass
    return out
