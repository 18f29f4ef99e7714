r"""Networks from other tools in: a recurrent LIF/CubaLIF NIR graph that neuromorph did not write,
mapped onto a Xylo target, fit-checked, and verified against its own NIR semantics.

What is read (:func:`parse_graph`; nested sub-graphs are flattened first,
:func:`neuromorph.backends.nir.flatten_graph`, and Input/Output pass-through nodes skipped)::

    Input -> Linear|Affine(bias 0) -> hidden (LIF | CubaLIF) -> Linear -> readout (LI | LIF | CubaLIF) -> Output
                                      hidden -> Linear -> hidden   (optional recurrent loop)

This is what Rockpool's ``to_nir`` (plus its recurrent weights, :func:`from_rockpool`), snnTorch's
and norse's exports of a one-hidden-layer recurrent network, and a graph written by hand with
``nir`` look like. Parameters may differ per neuron. ``dt`` is not part of NIR: it comes from the
caller, else the graph metadata ``dt``, else ``tau/r`` when that is one value for every neuron
(``r = tau/dt`` is how Euler-discretised models export, :mod:`neuromorph.backends.nir`), but never
from ``r = 1`` (the continuous-time convention, where ``tau/r`` is just ``tau``). An ``Affine``'s
bias is a constant input: Xylo's synapses have none, so it is folded into the neuron's ``v_leak``
(exact for LIF and LI, equal once the synaptic current has settled for CubaLIF; reported).

Mapping to the Xylo neuron (:func:`to_xylo_float`), under the reference interpreter's reading
(:func:`neuromorph.backends.nir.run_graph`, forward Euler): a CubaLIF's current
``i ← (1-dt/τ_s) i + (dt/τ_s) w_in u`` is Xylo's ``Isyn ← β (Isyn + W e)`` with
``β = 1 - 2^-dash_syn``, ``dash_syn = round(log2(τ_s/dt))``; the membrane
``v ← (1-dt/τ_m) v + (dt/τ_m)(v_leak + r i)`` is ``V ← α V + Isyn + bias`` with
``dash_mem = round(log2(τ_m/dt))``. In Xylo units ``Isyn = k i`` with ``k = (dt/τ_m) r``, so the
float Xylo weights are ``W k (dt/τ_s) w_in / β``, ``bias = (dt/τ_m) v_leak`` and the thresholds
unchanged. A LIF has no synaptic current, but every Xylo input passes through one: it gets
``dash_syn = 1`` and weights ``W k``, so each event injects the same total charge, spread over
a few steps (an approximation; the report says so). An LI readout becomes a Xylo output neuron
that never fires, read through its membrane.

Integer mapping (:func:`quantize_float`): ``method="global"`` scales all hidden weights,
thresholds and biases by one factor (Rockpool's ``global_quantize``), ``"channel"`` by one factor
per neuron (``channel_quantize``; exact for the dynamics, because a neuron's membrane is linear in
its inputs and only its threshold crossing matters). Factors put the largest weight at 127 and
use a weight shift (0..``max_weight_shift``) where the int16 thresholds leave room. An SCN-shaped
graph (:func:`neuromorph.backends.nir.nir_to_scn` accepts it) is instead imported as an SCN and
quantized SCN-aware by :func:`neuromorph.stages.quantize.quantize_run`.

Verification (:func:`neuromorph.stages.nir_model.verify_nir`; the stage functions, ``quantize_nir``
and ``verify_nir``, live in the stage layer): the float graph under :func:`~neuromorph.backends.nir.run_graph`
and the emulated chip (and Rockpool's XyloSim) get the same input event raster (``--data``, an
``.npy`` of non-negative integer counts (T, Nin), or a default Bernoulli raster); reported are the
hidden spike agreement, the readout correlation, and both rates.

Calibration: the weight shift is chosen so that the membranes the graph reaches on the input
(the same raster) stay within int16 with a factor 2 of headroom.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import nir
import numpy as np

from neuromorph.backends.nir import NIRImportError, flatten_graph, run_graph

__all__ = ["ForeignNetwork", "parse_graph", "to_xylo_float", "quantize_float", "state_peaks",
           "default_raster", "load_raster", "from_rockpool", "from_snntorch", "NIR_MODEL_FILE"]

NIR_MODEL_FILE = "model.nir"
NEVER_FIRE = 32767  # int16 maximum: an LI readout's output neuron never crosses it
_NEURONS = (nir.LIF, nir.CubaLIF)


@dataclass
class ForeignNetwork:
    """A one-hidden-layer recurrent network read from a NIR graph (float, NIR units).

    ``w_in`` (Nhid, Nin), ``w_rec`` (Nhid, Nhid) [post, pre], ``w_out`` (Nout, Nhid); ``hidden`` and
    ``readout`` hold the node's parameters as float arrays (``kind`` "LIF"/"CubaLIF"/"LI"), with
    the biases of ``Affine`` weight nodes folded into ``v_leak`` (``notes`` says so).
    """

    w_in: np.ndarray
    w_rec: np.ndarray
    w_out: np.ndarray
    hidden: dict[str, Any]
    readout: dict[str, Any]
    dt: float
    names: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the reading approximated (biases folded)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.w_in.shape[1], self.w_in.shape[0], self.w_out.shape[0])


def _params(node: Any, n: int, name: str) -> dict[str, Any]:
    kind = type(node).__name__
    keys = {"LI": ("tau", "r", "v_leak"), "LIF": ("tau", "r", "v_leak", "v_threshold"),
            "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "w_in")}[kind]
    out: dict[str, Any] = {"kind": kind}
    for k in keys:
        a = np.asarray(getattr(node, k), np.float64)  # arrays, or torch tensors as norse writes them
        if a.size not in (1, n):
            raise NIRImportError(f"node {name!r}: {k} has shape {a.shape}, expected ({n},)")
        v = np.broadcast_to(a.reshape(-1), (n,)).copy()
        if not np.all(np.isfinite(v)):
            raise NIRImportError(f"node {name!r}: {k} holds non-finite values")
        out[k] = v
    if "tau_mem" in out:
        out["tau"] = out["tau_mem"]
    for k in ("tau", "tau_syn"):
        if k in out and np.any(out[k] <= 0):
            raise NIRImportError(f"node {name!r}: {k} must be > 0")
    return out


def _weight(node: Any, name: str) -> np.ndarray:
    return np.asarray(node.weight, np.float64)


def _bias(node: Any, n: int, name: str) -> np.ndarray:
    """An ``Affine``'s bias as (n,) floats (zeros for ``Linear``)."""
    if not isinstance(node, nir.Affine):
        return np.zeros(n)
    b = np.asarray(node.bias, np.float64)
    if b.size not in (1, n) or not np.all(np.isfinite(b)):
        raise NIRImportError(f"node {name!r}: Affine bias of shape {b.shape} (expected ({n},), finite)")
    return np.broadcast_to(b.reshape(-1), (n,)).copy()


def _fold_bias(p: dict[str, Any], b: np.ndarray, role: str, names: list[str], notes: list[str]) -> None:
    """Fold a constant synaptic input ``b`` (the bias of the Affine nodes ``names`` feeding the
    ``role`` neuron) into the neuron's ``v_leak``: Xylo synapses have no bias, its neurons have.

    The membrane sees ``r b`` (LIF, LI: exact at every step) or, through the synaptic current,
    ``r w_in b`` once that current has settled (CubaLIF: equal after a few ``tau_syn``; the
    graph's current starts at 0, the chip's bias acts from the first step)."""
    if not np.any(b != 0):
        return
    p["v_leak"] = p["v_leak"] + p["r"] * (p["w_in"] if p["kind"] == "CubaLIF" else 1.0) * b
    how = ("from the first step instead of rising with the synaptic current (tau_syn)"
           if p["kind"] == "CubaLIF" else "exact")
    notes.append(f"bias of {', '.join(repr(n) for n in names)} folded into the {role} neurons' v_leak ({how})")


def parse_graph(graph: nir.NIRGraph, dt: Optional[float] = None) -> ForeignNetwork:
    """Read a recurrent LIF/CubaLIF graph (layout: module docstring).

    Raises
    ------
    NIRImportError
        Another layout (the message names the node or edge), unsupported node types, shapes
        that do not fit, or no way to tell ``dt``.
    """
    if not isinstance(graph, nir.NIRGraph):
        raise NIRImportError(f"expected a nir.NIRGraph, got {type(graph).__name__}")
    g = flatten_graph(graph)
    succ: dict[str, list[str]] = {n: [] for n in g.nodes}
    for a, b in g.edges:
        succ[str(a)].append(str(b))

    def skip_io(n: str) -> list[str]:  # successors, looking through nested Input/Output pass-throughs
        out = []
        for m in succ[n]:
            if isinstance(g.nodes[m], (nir.Input, nir.Output)) and succ[m]:
                out += skip_io(m)
            else:
                out.append(m)
        return out

    top_in = [n for n, v in graph.nodes.items() if isinstance(v, nir.Input)]
    if len(top_in) != 1:
        raise NIRImportError(f"the graph needs exactly one Input node, found {top_in}")
    neurons = [n for n, v in g.nodes.items() if isinstance(v, _NEURONS)]
    lin = (nir.Linear, nir.Affine)
    nxt = skip_io(top_in[0])
    if len(nxt) != 1 or not isinstance(g.nodes[nxt[0]], lin):
        raise NIRImportError(f"Input must feed one Linear/Affine node (the input weights), feeds {nxt}")
    w_in_name = nxt[0]
    hid = skip_io(w_in_name)
    if len(hid) != 1 or not isinstance(g.nodes[hid[0]], _NEURONS):
        raise NIRImportError(f"the input weights {w_in_name!r} must feed one LIF/CubaLIF node (the hidden "
                             f"layer), feed {hid}")
    hidden = hid[0]
    rec, outs = None, []
    for m in skip_io(hidden):
        node = g.nodes[m]
        if isinstance(node, lin) and skip_io(m) == [hidden]:
            if rec is not None:
                raise NIRImportError(f"hidden node {hidden!r} has two recurrent loops ({rec!r}, {m!r})")
            rec = m
        elif isinstance(node, lin):
            outs.append(m)
        else:
            raise NIRImportError(f"hidden node {hidden!r} feeds nir.{type(node).__name__} {m!r}; expected "
                                 "Linear nodes (recurrent weights and readout weights)")
    if len(outs) != 1:
        raise NIRImportError(f"hidden node {hidden!r} must feed exactly one readout Linear, feeds {outs}")
    w_out_name = outs[0]
    ro = skip_io(w_out_name)
    if len(ro) != 1 or not isinstance(g.nodes[ro[0]], (nir.LI, nir.LIF, nir.CubaLIF)):
        raise NIRImportError(f"the readout weights {w_out_name!r} must feed one LI/LIF/CubaLIF node, feed {ro}")
    readout = ro[0]
    extra = sorted(set(neurons) - {hidden, readout})
    if extra:
        raise NIRImportError(f"more than one hidden layer ({[hidden] + extra}); Xylo runs one recurrent "
                             "population: merge the layers into one recurrent weight matrix first")
    w_in = _weight(g.nodes[w_in_name], w_in_name)
    n_hid = w_in.shape[0]
    w_rec = _weight(g.nodes[rec], rec) if rec else np.zeros((n_hid, n_hid))
    w_out = _weight(g.nodes[w_out_name], w_out_name)
    if w_rec.shape != (n_hid, n_hid):
        raise NIRImportError(f"recurrent weights {rec!r} have shape {w_rec.shape}, expected ({n_hid}, {n_hid})")
    if w_out.ndim != 2 or w_out.shape[1] != n_hid:
        raise NIRImportError(f"readout weights {w_out_name!r} have shape {w_out.shape}, expected (Nout, {n_hid})")
    hp = _params(g.nodes[hidden], n_hid, hidden)
    rp = _params(g.nodes[readout], w_out.shape[0], readout)
    notes: list[str] = []
    b_hid = _bias(g.nodes[w_in_name], n_hid, w_in_name) + (_bias(g.nodes[rec], n_hid, rec) if rec else 0.0)
    _fold_bias(hp, b_hid, "hidden", [k for k in (w_in_name, rec) if k and isinstance(g.nodes[k], nir.Affine)], notes)
    _fold_bias(rp, _bias(g.nodes[w_out_name], w_out.shape[0], w_out_name), "readout", [w_out_name], notes)
    if dt is None:
        meta_dt = (getattr(graph, "metadata", None) or {}).get("dt")
        if meta_dt is not None:
            dt = float(np.asarray(meta_dt))
        elif np.all(hp["r"] == 1):
            # r = 1 is the continuous-time convention (norse, sinabs, spyx): tau/r is then tau itself
            raise NIRImportError("cannot tell the time step: NIR has no dt, the graph metadata has no 'dt' and "
                                 "r = 1 (tau/r is not the step); give it with --dt")
        else:
            ratio = hp["tau"] / hp["r"]
            if np.allclose(ratio, ratio[0], rtol=1e-9, atol=0):
                dt = float(ratio[0])
            else:
                raise NIRImportError("cannot tell the time step: NIR has no dt, the graph metadata has no 'dt' "
                                     "and tau/r differs between neurons; give it with --dt")
    if not np.isfinite(dt) or dt <= 0:
        raise NIRImportError(f"dt must be a positive number of seconds, got {dt}")
    return ForeignNetwork(w_in=w_in, w_rec=w_rec, w_out=w_out, hidden=hp, readout=rp, dt=float(dt), notes=notes,
                          names={"input": top_in[0], "w_in": w_in_name, "hidden": hidden, "w_rec": rec or "",
                                 "w_out": w_out_name, "readout": readout})


def _dash(tau: np.ndarray, dt: float, what: str) -> np.ndarray:
    d = np.round(np.log2(tau / dt)).astype(np.int64)
    if np.any(d < 0) or np.any(d > 15):
        raise NIRImportError(f"{what}: tau/dt = {np.min(tau / dt):.3g}..{np.max(tau / dt):.3g} needs a bit-shift "
                             f"decay outside 0..15 (Xylo's 4-bit dash); rescale tau or dt")
    return d


def to_xylo_float(net: ForeignNetwork) -> dict[str, Any]:
    """Float Xylo parameters of ``net`` (formulas: module docstring); weights in Xylo's
    ``[pre, post]`` orientation, ``dash_*`` integers, ``dash_rounding`` the largest relative
    change of a time constant that rounding to ``dt·2^dash`` causes."""
    dt = net.dt
    out: dict[str, Any] = {"approximations": list(net.notes)}
    rel = []
    for role, p, w_keys in (("hidden", net.hidden, ("w_in", "w_rec")), ("readout", net.readout, ("w_out",))):
        tau_m = p["tau"]
        dm = _dash(tau_m, dt, f"{role} tau_mem")
        k = (dt / tau_m) * p["r"]
        if p["kind"] == "CubaLIF":
            ds = _dash(p["tau_syn"], dt, f"{role} tau_syn")
            beta = 1.0 - 2.0 ** -ds
            if np.any(ds == 0):
                raise NIRImportError(f"{role}: tau_syn = dt gives dash_syn 0, which wipes Xylo's synaptic current")
            gain = k * (dt / p["tau_syn"]) * p["w_in"] / beta
            rel.append(np.max(np.abs(dt * 2.0 ** ds / p["tau_syn"] - 1)))
        else:
            ds = np.ones_like(dm)
            gain = k
            out["approximations"].append(f"{role} is nir.{p['kind']} (no synaptic current): Xylo filters its "
                                         "input with dash_syn = 1, same charge per event spread over steps")
        rel.append(np.max(np.abs(dt * 2.0 ** dm / tau_m - 1)))
        out[f"{role}_dash_mem"], out[f"{role}_dash_syn"] = dm, ds
        out[f"{role}_bias"] = (dt / tau_m) * p["v_leak"]
        out[f"{role}_threshold"] = p.get("v_threshold", np.full(tau_m.shape, np.inf))
        for wk in w_keys:
            out[wk] = (getattr(net, wk) * gain[:, None]).T  # rows are post neurons: scale by the post's gain
    out["dash_rounding"] = float(max(rel))
    if out["dash_rounding"] > 1e-9:
        out["approximations"].append(f"time constants rounded to dt*2^dash (largest relative change "
                                     f"{out['dash_rounding']:.3g})")
    return out


def _scales(w_post: np.ndarray, thr: np.ndarray, bias: np.ndarray, per_neuron: bool, max_shift: int,
            peak: Optional[np.ndarray] = None, w_max: int = 127, s_max: int = 32767) -> tuple[np.ndarray, int]:
    """Scale factor(s) and weight shift: largest weight -> ``w_max`` (before the shift); thresholds,
    biases and the calibrated state peaks ``peak`` (Xylo units, per neuron; times ``2^shift``)
    within int16, so the states do not saturate on the calibration input."""
    a = np.max(np.abs(w_post), axis=0) if per_neuron else np.full(w_post.shape[1], np.max(np.abs(w_post)))
    if not np.all(a > 0):
        a = np.where(a > 0, a, 1.0)
    s = w_max / a
    st = np.maximum(np.abs(np.where(np.isfinite(thr), thr, 0)), np.abs(bias))
    if peak is not None:
        st = np.maximum(st, peak)
    best = 0
    for k in range(max_shift + 1):
        if np.all(st * s * 2 ** k <= s_max):
            best = k
    need = st * s * 2 ** best
    shrink = np.where(need > s_max, s_max / np.maximum(need, 1e-300), 1.0)  # even shift 0 overflows
    s = s * shrink
    if not per_neuron:
        s = np.full_like(s, s.min())
    return s, best


def state_peaks(graph: nir.NIRGraph, net: ForeignNetwork, raster: np.ndarray) -> dict[str, np.ndarray]:
    """Per-neuron peaks of |membrane| and |synaptic current| (Xylo units, float) of the graph under
    :func:`~neuromorph.backends.nir.run_graph` on ``raster``: what the integer states must hold."""
    names = net.names
    rec = run_graph(graph, raster.astype(np.float64), net.dt,
                    record=[f"{names['hidden']}.v", names["readout"] if net.readout["kind"] == "LI"
                            else f"{names['readout']}.v"])
    out = {}
    for role, key in (("hidden", f"{names['hidden']}.v"),
                      ("readout", names["readout"] if net.readout["kind"] == "LI" else f"{names['readout']}.v")):
        out[role] = np.max(np.abs(rec[key]), axis=0) if rec[key].size else np.zeros(0)
    return out


def quantize_float(xf: dict[str, Any], method: str, max_shift: int, n_syn: int, device: str,
                   peaks: Optional[dict[str, np.ndarray]] = None) -> tuple[Any, dict]:
    """Integer :class:`~neuromorph.backends.xylo.spec.XyloSpec` of ``to_xylo_float``'s output.

    ``peaks`` (:func:`state_peaks`) bounds the weight shift so the membranes stay within int16
    with a factor 2 of headroom. Returns the spec and the per-class relative RMS weight errors
    (rounding)."""
    from neuromorph.backends.xylo.spec import XyloSpec

    if method not in ("global", "channel"):
        raise ValueError(f"method must be 'global' or 'channel' for a NIR graph, got {method!r} "
                         "('scn' needs an SCN-shaped graph)")
    per = method == "channel"
    w_in, w_rec, w_out = xf["w_in"], xf["w_rec"], xf["w_out"]
    pk = peaks or {}
    s_h, sh_h = _scales(np.concatenate([w_in, w_rec], 0), xf["hidden_threshold"], xf["hidden_bias"], per, max_shift,
                        2 * pk["hidden"] if "hidden" in pk else None)
    s_o, sh_o = _scales(w_out, xf["readout_threshold"], xf["readout_bias"], per, max_shift,
                        2 * pk["readout"] if "readout" in pk else None)
    q = lambda w, s: np.clip(np.round(w * s), -128, 127).astype(np.int8)  # noqa: E731 (|w s| <= 127)
    qi, qr, qo = q(w_in, s_h), q(w_rec, s_h), q(w_out, s_o)
    thr_h = np.clip(np.round(xf["hidden_threshold"] * s_h * 2 ** sh_h), 1, 32767)
    thr_o = np.where(np.isfinite(xf["readout_threshold"]),
                     np.clip(np.round(np.nan_to_num(xf["readout_threshold"], posinf=0) * s_o * 2 ** sh_o), 1, 32767),
                     NEVER_FIRE)
    bias_h = np.round(xf["hidden_bias"] * s_h * 2 ** sh_h)
    bias_o = np.round(xf["readout_bias"] * s_o * 2 ** sh_o)
    # one weight shift for input and recurrent weights (their common scale), one for the readout
    n_hid, n_out = w_rec.shape[0], w_out.shape[1]
    wi = np.zeros(qi.shape + (n_syn,), np.int8)
    wr = np.zeros(qr.shape + (n_syn,), np.int8)
    wi[:, :, 0] = qi
    wr[:, :, n_syn - 1] = qr  # recurrent on the last synapse, as neuromorph's own layout
    dsyn = xf["hidden_dash_syn"]
    spec = XyloSpec(weights_in=wi, weights_rec=wr, weights_out=qo, threshold=thr_h, threshold_out=thr_o,
                    dash_mem=xf["hidden_dash_mem"], dash_syn=dsyn, dash_syn_2=dsyn,
                    dash_mem_out=xf["readout_dash_mem"], dash_syn_out=xf["readout_dash_syn"],
                    bias=bias_h, bias_out=bias_o, weight_shift_in=sh_h, weight_shift_rec=sh_h,
                    weight_shift_out=sh_o, dt=xf["dt"], device=device)

    def rel(w, qw, s):
        ref = w * s
        nrm = np.sqrt(np.mean(ref ** 2))
        return float(np.sqrt(np.mean((qw - ref) ** 2)) / nrm) if nrm > 0 else 0.0

    errs = {"w_in": rel(w_in, qi, s_h), "w_rec": rel(w_rec, qr, s_h), "w_out": rel(w_out, qo, s_o)}
    return spec, {"relative_rms_error": errs, "n_hidden": int(n_hid), "n_outputs": int(n_out),
                  "weight_shift_hidden": int(sh_h), "weight_shift_out": int(sh_o)}


# --------------------------------------------------------------------------- inputs
def default_raster(n_in: int, steps: int, seed: int, p: float = 0.1) -> np.ndarray:
    """Bernoulli input events (T, Nin): each channel fires with probability ``p`` per step."""
    from neuromorph.sim.rng import derive_seed

    rng = np.random.default_rng(derive_seed(seed, 31))
    return (rng.random((steps, n_in)) < p).astype(np.int64)


def load_raster(path: Union[str, Path], n_in: int) -> np.ndarray:
    """A user's input raster: ``.npy`` of non-negative integer event counts (T, Nin)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--data: input raster not found: {path}")
    try:
        x = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(f"--data {path}: not a plain .npy array ({exc})") from None
    if x.ndim != 2 or x.shape[1] != n_in:
        raise ValueError(f"--data {path}: expected shape (time steps, {n_in}) for the graph's {n_in} inputs, "
                         f"got {x.shape}")
    if x.dtype.kind not in "iub" and (not np.all(np.isfinite(x)) or np.any(x != np.round(x))):
        raise ValueError(f"--data {path}: the chip takes integer event counts per step; got non-integers")
    if np.any(x < 0) or np.any(x > 15):
        raise ValueError(f"--data {path}: event counts must lie in 0..15 (Xylo clips above 15), "
                         f"found {x.min()}..{x.max()}")
    return x.astype(np.int64)


def from_rockpool(module: Any) -> nir.NIRGraph:
    """NIR graph of a Rockpool ``Sequential(LinearTorch, LIFTorch(has_rec=True), LinearTorch,
    LIFTorch)`` *with* its recurrent weights: Rockpool 3.1.0's ``to_nir`` writes the layers but
    no recurrent node (docs/interop.md), so the loop ``lif -> w_rec -> lif`` is added here from
    ``LIFTorch.w_rec`` ([pre, post] in Rockpool, [post, pre] in NIR)."""
    from neuromorph.backends.xylo.rockpool_compat import import_rockpool

    to_nir = import_rockpool("rockpool.nn.modules").to_nir
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = to_nir(module)
    rec = [(name, mod) for name, mod in module.modules().items() if getattr(mod, "_has_rec", False)]
    if len(rec) > 1:
        raise NIRImportError(f"{len(rec)} recurrent layers; Xylo runs one recurrent population")
    if rec:
        name, mod = rec[0]
        lif_nodes = [k for k, v in g.nodes.items() if isinstance(v, _NEURONS)]
        idx = list(module.modules()).index(name)
        spiking = [k for k in module.modules() if hasattr(module.modules()[k], "tau_mem")]
        node = lif_nodes[spiking.index(name)] if len(lif_nodes) == len(spiking) else None
        if node is None:
            raise NIRImportError(f"cannot find the NIR node of Rockpool layer {name!r} (index {idx})")
        w = mod.w_rec.detach().cpu().numpy().astype(np.float64)
        w = w[:, :, 0] if w.ndim == 3 else w
        g.nodes[f"{node}_rec"] = nir.Linear(weight=w.T)
        g.edges = list(g.edges) + [(node, f"{node}_rec"), (f"{node}_rec", node)]
    return g


class _Nir104ForSnntorch:
    """``nir`` as snnTorch 1.0.0's exporter sees it, minus the ``v_reset`` keyword it passes to
    ``nir.LIF``/``nir.CubaLIF``: that argument exists from nir 1.0.5 on, the project (for Rockpool
    3.1.0) pins nir <= 1.0.4, where those constructors raise ``TypeError`` on it."""

    def __getattr__(self, name: str) -> Any:
        value = getattr(nir, name)
        if name in ("LIF", "CubaLIF"):
            def make(*args: Any, v_reset: Any = None, **kwargs: Any) -> Any:
                return value(*args, **kwargs)
            return make
        return value


def from_snntorch(module: Any, sample_data: Any) -> nir.NIRGraph:
    """NIR graph of an snnTorch network by snnTorch's own ``export_to_nir``, run so that it works
    with nir 1.0.4 (the ``v_reset`` it writes is dropped; :class:`_Nir104ForSnntorch`).

    What the graph then means (docs/interop.md): snnTorch writes ``dt = 1e-4``, ``r = tau/dt``,
    ``w_in = tau_syn/dt`` from its decays ``beta``/``alpha``, so under the reference interpreter the
    dynamics are snnTorch's (``syn = alpha syn + input``, ``mem = beta mem + syn``) with the
    time step read as 1e-4 s (only the decays per step matter on the chip). Its
    ``v_reset = 0`` is dropped: snnTorch's default reset subtracts the threshold, as nir 1.0.4's
    LIF does (snnTorch subtracts it one step later, undecayed). ``RLeaky``/``RSynaptic`` export as
    a nested recurrent sub-graph, ``torch.nn.Linear`` with a bias as ``Affine`` (folded into
    ``v_leak`` by :func:`parse_graph`).
    """
    import snntorch.export_nir as sx

    real = sx.nir
    sx.nir = _Nir104ForSnntorch()
    try:
        return sx.export_to_nir(module, sample_data)
    finally:
        sx.nir = real
