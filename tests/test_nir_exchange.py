"""NIR exchange: float SCN and Xylo spec <-> NIR graphs, files, and Rockpool's from_nir.

The dynamics tests run the exported graphs under the module's documented NIR convention
(forward Euler, back edges delayed one step) with a small interpreter written here. They check
that the mapping formulas reproduce the SCN simulator and the Xylo neuron recursion.
"""
from __future__ import annotations

import warnings

import nir
import numpy as np
import pytest

from neuromorph.backends import nir as nx
from neuromorph.backends.nir import (NIRExportError, NIRFileError, NIRImportError,
                                     NIRRockpoolError, load_nir, nir_to_scn, save_nir, scn_to_nir)
from neuromorph.backends.xylo.nir import nir_to_xylo_spec, to_rockpool, xylo_spec_to_nir
from neuromorph.backends.xylo.rockpool_compat import import_rockpool
from neuromorph.network import SCN
from neuromorph.sim.simulator import SimOptions, simulate

ARRAYS = ("F", "Omega", "D", "thresholds")
SCALARS = ("lam", "dt", "v_noise", "t_noise")


# --------------------------------------------------------------------------- fixtures / helpers
def make_scn(n: int = 6, m: int = 2, seed: int = 0) -> SCN:
    """A small SCN with irrational-ish scalars, so inexact float inverses would show up."""
    rng = np.random.default_rng(seed)
    F = rng.standard_normal((n, m))
    T = np.sum(F**2, axis=1) / 2 + 0.013
    return SCN(F=F, Omega=-F @ F.T - 0.001 * np.eye(n), D=0.3 * F.T, thresholds=T, lam=37.0, dt=7e-4,
               v_noise=0.003, t_noise=0.021, meta={"trained": "fig2", "epochs": [1, 2]})


def assert_scn_equal(a: SCN, b: SCN) -> None:
    for k in ARRAYS:
        assert np.array_equal(getattr(a, k), getattr(b, k)), k
    for k in SCALARS:
        assert getattr(a, k) == getattr(b, k), k
    assert a.meta == b.meta


def make_spec(n_syn: int, seed: int = 0, n_in: int = 3, n_hid: int = 7, n_ien: int = 5, n_oen: int = 4,
              n_out: int = 2) -> dict:
    """A random integer Xylo spec with Nien < Nhid, Noen < Nhid, shifts and an alias."""
    rng = np.random.default_rng(seed)
    i8 = lambda *s: rng.integers(-128, 128, s).astype(np.int8)  # noqa: E731
    i32 = lambda lo, hi, n: rng.integers(lo, hi, n).astype(np.int32)  # noqa: E731
    return dict(weights_in=i8(n_in, n_ien, n_syn), weights_rec=i8(n_hid, n_hid, n_syn), weights_out=i8(n_oen, n_out),
                threshold=i32(200, 3000, n_hid), threshold_out=i32(200, 3000, n_out),
                dash_mem=i32(0, 6, n_hid), dash_mem_out=i32(0, 6, n_out), dash_syn=i32(0, 6, n_hid),
                dash_syn_2=i32(0, 6, n_hid), dash_syn_out=i32(0, 6, n_out), bias=i32(-50, 50, n_hid),
                bias_out=i32(-50, 50, n_out), weight_shift_in=1, weight_shift_rec=2, weight_shift_out=0,
                aliases=[[3]] + [[] for _ in range(n_hid - 1)], dt=1e-3, device="xylo-audio-v2")


def assert_spec_equal(given: dict, back: dict) -> None:
    assert list(back) == list(given)
    for k, v in given.items():
        if isinstance(v, np.ndarray):
            assert back[k].dtype == v.dtype and back[k].shape == v.shape and np.array_equal(back[k], v), k
        elif isinstance(v, np.generic):  # numpy scalars come back as the Python scalar
            assert back[k] == v and type(back[k]) is type(v.item()), (k, back[k], v)
        else:
            assert back[k] == v and type(back[k]) is type(v), (k, back[k], v)


def euler_run(graph: nir.NIRGraph, order: list[str], x: np.ndarray, dt: float, record: list[str]) -> dict:
    """The public reference interpreter, checked to evaluate the nodes in the order the test expects."""
    got, back = nx.evaluation_order(graph)
    assert [n for n in got if n in order] == order, got
    assert all(b in ("lif", "syn_0", "syn_1") for _, b in back) and back, back  # only the recurrent loops
    return nx.run_graph(graph, x, dt, record=record)


# --------------------------------------------------------------------------- float SCN
def test_scn_layout_and_formulas():
    net = make_scn()
    g = scn_to_nir(net)
    n, m = net.F.shape
    assert {k: type(v).__name__ for k, v in g.nodes.items()} == {
        "input": "Input", "F": "Linear", "lif": "LIF", "Omega": "Linear", "D": "Linear", "readout": "LI",
        "output": "Output"}
    assert set(g.edges) == {("input", "F"), ("F", "lif"), ("lif", "Omega"), ("Omega", "lif"), ("lif", "D"),
                            ("D", "readout"), ("readout", "output")}
    lif, ro = g.nodes["lif"], g.nodes["readout"]
    assert g.nodes["F"].weight.shape == (n, m) and np.array_equal(g.nodes["F"].weight, net.dt * net.F)
    assert np.array_equal(lif.tau, np.full(n, 1 / net.lam)) and np.array_equal(lif.r, lif.tau / net.dt)
    assert np.array_equal(lif.v_threshold, net.thresholds) and not lif.v_leak.any()
    W = g.nodes["Omega"].weight
    off = ~np.eye(n, dtype=bool)
    assert W.shape == (n, n) and np.array_equal(W[off], net.Omega[off])  # recurrent weights verbatim
    assert np.allclose(np.diag(W), np.diag(net.Omega) + (1 - net.lam * net.dt) * net.thresholds, rtol=0, atol=1e-15)
    assert np.array_equal(g.nodes["D"].weight, net.D) and ro.tau.shape == (m,)
    assert np.array_equal(ro.tau, np.full(m, 1 / net.lam)) and np.array_equal(ro.r, ro.tau / net.dt)
    md = g.metadata
    assert (md["format"], md["format_version"], md["kind"]) == ("neuromorph-nir", 1, "SCN")
    assert (md["dt"], md["lam"], md["v_noise"], md["t_noise"]) == (net.dt, net.lam, net.v_noise, net.t_noise)


def test_scn_round_trip_in_memory_is_exact():
    net = make_scn(n=40, m=3)
    back = nir_to_scn(scn_to_nir(net))
    assert_scn_equal(net, back)
    # dt*F is not exactly invertible in float: the metadata copy is what makes this lossless
    assert not np.array_equal(scn_to_nir(net).nodes["F"].weight / net.dt, net.F)


def test_scn_round_trip_via_file(tmp_path):
    net = make_scn(seed=3)
    g = scn_to_nir(net)
    p = save_nir(g, tmp_path / "scn.nir")
    assert [q.name for q in tmp_path.iterdir()] == ["scn.nir"]  # no temp file left behind
    assert_scn_equal(net, nir_to_scn(load_nir(p)))
    nir.write(tmp_path / "plain.nir", g)  # the plain nir API keeps everything as well
    back = nir_to_scn(nir.read(tmp_path / "plain.nir"))
    assert_scn_equal(net, back)
    assert np.abs(back.Omega).sum() == np.abs(net.Omega).sum()  # recurrent weights survive the file


def test_scn_nir_dynamics_match_simulator():
    """Euler run of the graph == SCN simulator without arbiter and noise (what NIR can express)."""
    net = make_scn(n=8, m=2, seed=5)
    net.v_noise = net.t_noise = 0.0
    rng = np.random.default_rng(1)
    c = 400 * np.sin(np.linspace(0, 6, 600))[:, None] * rng.standard_normal((1, 2)) + 50
    rec = simulate(net, c, seed=0, record=("spikes", "V", "r"), options=SimOptions(one_spike=False))
    res = euler_run(scn_to_nir(net), ["input", "F", "lif", "Omega", "D", "readout", "output"], c, net.dt,
                    ["lif", "lif.v", "readout"])
    assert rec.spikes.sum() > 50  # the comparison is not vacuous
    assert np.array_equal(res["lif"], rec.spikes.astype(np.float64))
    assert np.allclose(res["lif.v"], rec.V, rtol=0, atol=1e-9)
    assert np.allclose(res["readout"], rec.r @ net.D.T, rtol=0, atol=1e-9)


def test_scn_import_without_metadata_and_edited_graph():
    net = make_scn()
    g = scn_to_nir(net)
    g.metadata = {}  # a foreign SCN-shaped graph: nodes only
    back = nir_to_scn(g)
    assert np.allclose(back.F, net.F, rtol=1e-14) and np.allclose(back.Omega, net.Omega, rtol=0, atol=1e-14)
    assert back.lam == pytest.approx(net.lam, rel=1e-15) and back.dt == pytest.approx(net.dt, rel=1e-15)
    assert (back.v_noise, back.t_noise, back.meta) == (0.0, 0.0, {})
    g = scn_to_nir(net)
    g.nodes["F"].weight = 2 * g.nodes["F"].weight  # edited after export: the node wins over metadata
    g.nodes["D"].weight = -g.nodes["D"].weight
    back = nir_to_scn(g)
    assert np.allclose(back.F, 2 * net.F, rtol=1e-14) and np.array_equal(back.D, -net.D)
    assert np.array_equal(back.Omega, net.Omega)


def _scn_graph_without(kind: str):
    g = scn_to_nir(make_scn())
    n = g.nodes["lif"].tau.size
    if kind == "node":
        del g.nodes["Omega"]
        g.edges = [e for e in g.edges if "Omega" not in e]
    elif kind == "type":
        lif = g.nodes["lif"]
        g.nodes["lif"] = nir.CubaLIF(tau_syn=lif.tau, tau_mem=lif.tau, r=lif.r, v_leak=lif.v_leak,
                                     v_threshold=lif.v_threshold)
    elif kind == "edge":
        g.edges = [e for e in g.edges if e != ("Omega", "lif")]
    elif kind == "extra_edge":
        g.edges = g.edges + [("F", "D")]
    elif kind == "shape":
        g.nodes["Omega"] = nir.Linear(weight=np.zeros((n, n + 1)))
    elif kind == "tau":
        g.nodes["lif"].tau = g.nodes["lif"].tau * np.linspace(1, 2, n)
    elif kind == "leak":
        g.nodes["lif"].v_leak = np.ones(n)
    elif kind == "version":
        g.metadata["format_version"] = 99
    elif kind == "kind":
        g.metadata["kind"] = "XyloSpec"
    return g


@pytest.mark.parametrize("kind, message", [
    ("node", "SCN graph is missing node 'Omega' (nir.Linear"),
    ("type", "SCN graph node 'lif' must be nir.LIF (SCN membrane, (N,)), got nir.CubaLIF"),
    ("edge", "SCN graph is missing edge Omega -> lif"),
    ("extra_edge", "SCN graph has unexpected edge(s) [('F', 'D')]"),
    ("shape", "SCN graph: Omega.weight has shape (6, 7), expected (6, 6)"),
    ("tau", "lif.tau must be the same for all neurons"),
    ("leak", "lif.v_leak must be 0"),
    ("version", "unsupported neuromorph NIR format_version 99"),
    ("kind", "metadata kind is 'XyloSpec', expected 'SCN'"),
])
def test_scn_import_errors(kind, message):
    with pytest.raises(NIRImportError) as ei:
        nir_to_scn(_scn_graph_without(kind))
    assert message in str(ei.value)
    assert isinstance(ei.value, ValueError)


def test_scn_import_rejects_non_graphs_and_xylo_graphs():
    with pytest.raises(NIRImportError, match="expected a nir.NIRGraph for an SCN, got Linear"):
        nir_to_scn(nir.Linear(weight=np.eye(2)))
    with pytest.raises(NIRImportError, match="metadata kind is 'XyloSpec'"):
        nir_to_scn(xylo_spec_to_nir(make_spec(1)))


# --------------------------------------------------------------------------- Xylo spec
@pytest.mark.parametrize("n_syn", [1, 2])
def test_xylo_round_trip_exact(n_syn, tmp_path):
    spec = make_spec(n_syn, seed=n_syn)
    g = xylo_spec_to_nir(spec)
    assert_spec_equal(spec, nir_to_xylo_spec(g))
    back = nir_to_xylo_spec(load_nir(save_nir(g, tmp_path / "x.nir")))
    assert_spec_equal(spec, back)
    assert np.abs(back["weights_rec"].astype(int)).sum() == np.abs(spec["weights_rec"].astype(int)).sum()


def test_xylo_round_trip_rockpool_kwargs_form_and_defaults(tmp_path):
    """2-D weights (Nsyn=1), aliases=None and a minimal dict (Rockpool defaults) come back as given."""
    full = make_spec(1, seed=4)
    rp = dict(full, weights_in=full["weights_in"][:, :, 0], weights_rec=full["weights_rec"][:, :, 0], aliases=None,
              weight_shift_rec=np.int64(3), dt=0.002)
    assert_spec_equal(rp, nir_to_xylo_spec(load_nir(save_nir(xylo_spec_to_nir(rp), tmp_path / "a.nir"))))
    minimal = {"weights_in": np.ones((2, 3), np.int8), "weights_out": np.ones((3, 1), np.int8), "weights_rec": None,
               "aliases": np.array([-1, 2, -1], np.int32)}
    g = xylo_spec_to_nir(minimal)
    assert_spec_equal(minimal, nir_to_xylo_spec(load_nir(save_nir(g, tmp_path / "m.nir"))))
    assert np.array_equal(g.nodes["lif"].tau_mem, np.full(3, 1e-3))  # defaults: dash 0, dt 1e-3
    assert not g.nodes["w_rec"].weight.any()


def test_xylo_layout_and_formulas():
    s = make_spec(1)
    g = xylo_spec_to_nir(s)
    assert {k: type(v).__name__ for k, v in g.nodes.items()} == {
        "input": "Input", "w_in": "Linear", "lif": "CubaLIF", "w_rec": "Linear", "w_out": "Linear",
        "readout": "CubaLIF", "output": "Output"}
    assert set(g.edges) == {("input", "w_in"), ("w_in", "lif"), ("lif", "w_rec"), ("w_rec", "lif"),
                            ("lif", "w_out"), ("w_out", "readout"), ("readout", "output")}
    lif, dt = g.nodes["lif"], s["dt"]
    assert np.array_equal(lif.tau_syn, dt * 2.0 ** s["dash_syn"])
    assert np.array_equal(lif.tau_mem, dt * 2.0 ** s["dash_mem"])
    assert np.array_equal(lif.w_in, 2.0 ** s["dash_syn"] - 1) and np.array_equal(lif.r, 2.0 ** s["dash_mem"])
    assert np.array_equal(lif.v_leak, s["bias"] * 2.0 ** s["dash_mem"])
    assert np.array_equal(lif.v_threshold, s["threshold"])
    assert np.array_equal(np.log2(lif.tau_mem / dt), s["dash_mem"])  # Rockpool mapper's inverse is exact
    w_in, w_rec, w_out = (g.nodes[k].weight for k in ("w_in", "w_rec", "w_out"))
    assert w_in.shape == (7, 3) and np.array_equal(w_in[:5], s["weights_in"][:, :, 0].T * 2.0) and not w_in[5:].any()
    assert np.array_equal(w_rec, s["weights_rec"][:, :, 0].T * 4.0)
    assert np.abs(w_rec).sum() == 4 * np.abs(s["weights_rec"].astype(int)).sum()
    assert w_out.shape == (2, 7) and np.array_equal(w_out[:, 3:], s["weights_out"].T) and not w_out[:, :3].any()
    g2 = xylo_spec_to_nir(make_spec(2))
    assert {k: type(v).__name__ for k, v in g2.nodes.items()} == {
        "input": "Input", "w_in_0": "Linear", "syn_0": "LI", "w_rec_0": "Linear", "w_in_1": "Linear", "syn_1": "LI",
        "w_rec_1": "Linear", "lif": "LIF", "w_out": "Linear", "readout": "CubaLIF", "output": "Output"}
    assert ("lif", "w_rec_1") in g2.edges and ("w_rec_1", "syn_1") in g2.edges and ("syn_1", "lif") in g2.edges
    assert g2.metadata["n_syn"] == 2 and g2.metadata["kind"] == "XyloSpec"


def xylo_float_reference(s: dict, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Xylo neuron recursion in float: Isyn = β(Isyn + in), V = αV + ΣIsyn + bias, binary v > θ.

    Hidden → readout in the same step (NIR has no delay on that edge; documented).
    """
    w_in = s["weights_in"].astype(float) * 2.0 ** s["weight_shift_in"]
    w_rec = s["weights_rec"].astype(float) * 2.0 ** s["weight_shift_rec"]
    w_out = s["weights_out"].astype(float) * 2.0 ** s["weight_shift_out"]
    n_hid, n_syn, n_ien = w_rec.shape[0], w_rec.shape[2], w_in.shape[1]
    dashes = [s["dash_syn"], s["dash_syn_2"]][:n_syn]
    beta = [1 - 2.0 ** -d for d in dashes]
    alpha = 1 - 2.0 ** -s["dash_mem"]
    bo, ao = 1 - 2.0 ** -s["dash_syn_out"], 1 - 2.0 ** -s["dash_mem_out"]
    I = np.zeros((n_syn, n_hid))
    V, z, Io, Vo = np.zeros(n_hid), np.zeros(n_hid), 0.0, 0.0
    zs, zos = [], []
    for t in range(x.shape[0]):
        for q in range(n_syn):
            inp = np.zeros(n_hid)
            inp[:n_ien] = x[t] @ w_in[:, :, q]
            I[q] = beta[q] * (I[q] + inp + z @ w_rec[:, :, q])
        V = alpha * V + I.sum(0) + s["bias"]
        z = (V > s["threshold"]).astype(float)
        V = V - z * s["threshold"]
        Io = bo * (Io + z[n_hid - w_out.shape[0]:] @ w_out)
        Vo = ao * Vo + Io + s["bias_out"]
        zo = (Vo > s["threshold_out"]).astype(float)
        Vo = Vo - zo * s["threshold_out"]
        zs.append(z)
        zos.append(zo)
    return np.array(zs), np.array(zos)


@pytest.mark.parametrize("n_syn", [1, 2])
def test_xylo_nir_dynamics_match_float_xylo_neuron(n_syn):
    s = make_spec(n_syn, seed=7)
    s["dash_syn"] = np.maximum(s["dash_syn"], 1)  # dash 0 wipes the synapse; keep the test non-trivial
    s["dash_syn_2"] = np.maximum(s["dash_syn_2"], 1)
    s["dash_syn_out"] = np.maximum(s["dash_syn_out"], 1)
    s["threshold_out"] = np.array([40, 60], np.int32)
    x = np.random.default_rng(2).integers(0, 4, (300, 3)).astype(float)
    g = xylo_spec_to_nir(s)
    order = ["input", "w_in", "lif", "w_rec", "w_out", "readout"] if n_syn == 1 else \
        ["input", "w_in_0", "w_in_1", "syn_0", "syn_1", "lif", "w_rec_0", "w_rec_1", "w_out", "readout"]
    res = euler_run(g, order, x, s["dt"], ["lif", "readout"])
    z_ref, zo_ref = xylo_float_reference(s, x)
    assert z_ref.sum() > 20 and zo_ref.sum() > 0
    assert np.array_equal(res["lif"], z_ref) and np.array_equal(res["readout"], zo_ref)


def test_xylo_import_errors():
    g = xylo_spec_to_nir(make_spec(1))
    g.nodes["w_rec"].weight[0, 1] += 1.0  # edited after export
    with pytest.raises(NIRImportError, match=r"w_rec.weight disagrees with the integer spec stored in the metadata"):
        nir_to_xylo_spec(g)
    g = xylo_spec_to_nir(make_spec(2))
    g.metadata = {}
    with pytest.raises(NIRImportError, match="Xylo graph has no neuromorph metadata"):
        nir_to_xylo_spec(g)
    g = xylo_spec_to_nir(make_spec(2))
    del g.nodes["syn_1"]
    with pytest.raises(NIRImportError, match=r"Xylo \(Nsyn=2\) graph is missing node 'syn_1' \(nir.LI"):
        nir_to_xylo_spec(g)
    with pytest.raises(NIRImportError, match="metadata kind is 'SCN', expected 'XyloSpec'"):
        nir_to_xylo_spec(scn_to_nir(make_scn()))


@pytest.mark.parametrize("change, message", [
    ({"weights_in": np.full((3, 5, 1), 0.5)}, "weights_in: values must be integers"),
    ({"weights_in": np.zeros((3, 5, 3), np.int8)}, "Nsyn 1 or 2, got (3, 5, 3)"),
    ({"weights_rec": np.zeros((7, 6, 1), np.int8)}, "weights_rec: expected shape (Nhid, Nhid, 1)"),
    ({"threshold": np.ones(4, np.int32)}, "threshold: expected shape (7,), got (4,)"),
    ({"dash_mem": -np.ones(7, np.int32)}, "dash_mem: values must be >= 0"),
    ({"wieghts_out": 1}, "wieghts_out: unknown Xylo spec key"),
    ({"weights_out": None}, "weights_out: required key is missing"),
    ({"aliases": [[1, 2]] + [[]] * 6}, "aliases: neuron 0 has 2 targets"),
])
def test_xylo_export_errors(change, message):
    with pytest.raises(NIRExportError) as ei:
        xylo_spec_to_nir(dict(make_spec(1), **change))
    assert message in str(ei.value)


# --------------------------------------------------------------------------- files
def test_load_nir_errors(tmp_path):
    with pytest.raises(NIRFileError, match="NIR file not found: .*nope.nir"):
        load_nir(tmp_path / "nope.nir")
    bad = tmp_path / "bad.nir"
    bad.write_bytes(b"this is not HDF5")
    with pytest.raises(NIRFileError, match="bad.nir: not a readable NIR file"):
        load_nir(bad)
    import h5py
    with h5py.File(tmp_path / "empty.h5", "w") as f:
        f.create_dataset("x", data=1)
    with pytest.raises(NIRFileError, match="not a readable NIR file"):
        load_nir(tmp_path / "empty.h5")
    assert issubclass(NIRFileError, NIRImportError)


def test_save_nir_is_atomic(tmp_path):
    p = save_nir(scn_to_nir(make_scn()), tmp_path / "net.nir")
    before = p.read_bytes()
    g = scn_to_nir(make_scn(seed=9))
    g.metadata["unwritable"] = object()  # h5py cannot store this: the write fails half-way
    with pytest.raises(TypeError):
        save_nir(g, p)
    assert p.read_bytes() == before and [q.name for q in tmp_path.iterdir()] == ["net.nir"]


# --------------------------------------------------------------------------- Rockpool
def test_to_rockpool_keeps_recurrent_weights():
    import torch
    s = make_spec(1, seed=11)
    net = to_rockpool(xylo_spec_to_nir(s))
    hid = net.hidden
    assert type(hid).__name__ == "LIFTorch" and hid._has_rec
    want = s["weights_rec"][:, :, 0].astype(np.float64) * 2 ** s["weight_shift_rec"]
    got = hid.w_rec.detach().numpy().astype(np.float64)
    assert np.array_equal(got, want) and np.abs(got).sum() == np.abs(want).sum() > 0
    assert np.array_equal(net.w_in.weight.detach().numpy()[:, :5], s["weights_in"][:, :, 0] * 2.0)
    assert hid.dt == s["dt"] and net.readout.dt == s["dt"]
    assert np.allclose(hid.tau_mem.detach().numpy().ravel(), s["dt"] * 2.0 ** s["dash_mem"])
    assert np.array_equal(hid.bias.detach().numpy(), s["bias"]) and float(hid.max_spikes_per_dt) == 31
    out, _ = net(torch.ones(1, 20, 3))
    assert out.shape == (1, 20, 2) and torch.isfinite(out).all()
    assert net.as_graph() is not None  # what Rockpool's Xylo mapper consumes


def test_rockpool_from_nir_on_flat_graph_drops_the_loop():
    """Why to_rockpool nests the loop: from_nir on our flat graph ignores lif→w_rec→lif in a call."""
    import torch
    from_nir = import_rockpool("rockpool.nn.modules").from_nir  # through the samna guard
    g = xylo_spec_to_nir(make_spec(1, seed=12))
    cut = nir.NIRGraph(nodes=dict(g.nodes), edges=[e for e in g.edges if e != ("w_rec", "lif")])
    x = torch.ones(1, 30, 3) * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flat, no_loop = from_nir(g), from_nir(cut)
    assert not flat.lif._has_rec
    assert torch.equal(flat(x)[0], no_loop(x)[0])


def test_to_rockpool_refusals():
    from_nir = import_rockpool("rockpool.nn.modules").from_nir  # through the samna guard
    g = scn_to_nir(make_scn())
    with pytest.raises(NIRRockpoolError, match="cannot represent the float SCN"):
        to_rockpool(g)
    with warnings.catch_warnings():  # reason (2) in the message, as Rockpool really fails
        warnings.simplefilter("ignore")
        with pytest.raises(AttributeError, match="tau_mem"):
            from_nir(g)
    with pytest.raises(NIRRockpoolError, match="cannot represent Nsyn = 2"):
        to_rockpool(xylo_spec_to_nir(make_spec(2)))
    with pytest.raises(NIRImportError, match="expects a graph written by scn_to_nir or xylo_spec_to_nir"):
        to_rockpool(nir.NIRGraph.from_list(nir.Linear(weight=np.eye(2))))
    assert nx.graph_kind(g) == "SCN"
