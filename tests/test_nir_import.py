"""Networks from other tools in: recurrent LIF/CubaLIF NIR graphs neuromorph did not write go
through ``quantize`` -> ``deploy`` -> ``verify``; the emulator equals XyloSim and the chip tracks
the graph's NIR semantics (neuromorph.backends.nir.run_graph)."""
from __future__ import annotations

import json
import warnings

import nir
import numpy as np
import pytest

from neuromorph.backends.nir import NIRImportError, run_graph, save_nir
from neuromorph.backends.nir_import import parse_graph
from neuromorph.cli import main


def hand_graph(seed: int = 0, w: float = 0.1, wr: float = 0.05, n_in: int = 4, n: int = 20, m: int = 2,
               dt: float = 1e-3, readout: str = "LI") -> nir.NIRGraph:
    """A recurrent CubaLIF network written with ``nir`` directly (no neuromorph metadata)."""
    rng = np.random.default_rng(seed)
    ts, tm = 4 * dt, 16 * dt
    ro = (nir.LI(tau=np.full(m, 0.02), r=np.full(m, 20.0), v_leak=np.zeros(m)) if readout == "LI" else
          nir.CubaLIF(tau_syn=np.full(m, ts), tau_mem=np.full(m, tm), r=np.full(m, tm / dt), v_leak=np.zeros(m),
                      v_threshold=np.full(m, 0.5), w_in=np.full(m, ts / dt)))
    return nir.NIRGraph(nodes={
        "input": nir.Input(input_type=np.array([n_in])),
        "fc": nir.Linear(weight=rng.normal(0, w, (n, n_in))),
        "lif": nir.CubaLIF(tau_syn=np.full(n, ts), tau_mem=np.full(n, tm), r=np.full(n, tm / dt), v_leak=np.zeros(n),
                           v_threshold=rng.uniform(0.8, 1.2, n), w_in=np.full(n, ts / dt)),
        "rec": nir.Linear(weight=rng.normal(0, wr, (n, n))),
        "ro": nir.Linear(weight=rng.normal(0, 0.5, (m, n))),
        "li": ro, "output": nir.Output(output_type=np.array([m]))},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "ro"), ("ro", "li"),
               ("li", "output")])


def pipeline(model, tmp_path, target, extra=()):
    q, d, v = tmp_path / "q", tmp_path / "d", tmp_path / "v"
    assert main(["quantize", str(model), "--target", target, "--out", str(q), *extra]) == 0
    assert main(["deploy", str(q), "--out", str(d)]) == 0
    assert main(["verify", str(q), "--out", str(v), "--steps", "2000"]) == 0
    res = json.loads((v / "verify.json").read_text())
    print(f"IMPORT {model.name} -> {target}: spike agreement {res['spike_agreement']:.4f}, rate NIR/chip "
          f"{res['rate_nir_hz']:.4g}/{res['rate_chip_hz']:.4g} Hz, readout correlation "
          f"{[round(c, 3) for c in res['readout_correlation'] if c is not None]}, emulator == XyloSim "
          f"{res['emulator_matches_xylosim']}")
    return json.loads((q / "quantization.json").read_text()), res, d


@pytest.mark.parametrize("target, method", [("xylo-audio-v2", "global"), ("xylo-imu", "channel")])
def test_hand_written_graph_quantize_deploy_verify(target, method, tmp_path):
    model = save_nir(hand_graph(), tmp_path / "hand.nir")
    rep, res, d = pipeline(model, tmp_path, target, ["--method", method])
    assert rep["source"]["imported_as"] == "recurrent CubaLIF" and rep["method"] == method and rep["fit_check"]["ok"]
    assert res["emulator_matches_xylosim"] is True
    # measured (seed 0, 2000 steps): agreement 0.95, rates 35.6 / 37.1 Hz, readout correlation 0.93 / 0.90
    # (global); the bounds leave room for the other method and target, not for a broken mapping
    # (a wrong gain or sign gives correlations < 0.2 and rates off by > 2x)
    assert res["spike_agreement"] > 0.9
    assert 0.7 < res["rate_chip_hz"] / res["rate_nir_hz"] < 1.4 and res["rate_nir_hz"] > 10
    assert min(res["readout_correlation"]) > 0.7
    for f in ("spec.npz", "spec.meta.json", "model.nir", "network_quantized.nir"):
        assert (d / f).is_file(), f


def test_rockpool_lif_torch_network_in(tmp_path):
    """A recurrent network trained (briefly) with Rockpool's LIFTorch, exported through
    ``from_rockpool`` (Rockpool's to_nir plus the recurrent weights it leaves out)."""
    from neuromorph.backends.nir_import import from_rockpool
    from neuromorph.backends.xylo.rockpool_compat import import_rockpool

    torch = import_rockpool("torch")
    rm = import_rockpool("rockpool.nn.modules")
    Sequential = import_rockpool("rockpool.nn.combinators").Sequential
    torch.manual_seed(0)
    dt = 1e-3
    net = Sequential(rm.LinearTorch((4, 20)), rm.LIFTorch(20, has_rec=True, tau_mem=0.016, tau_syn=0.004, dt=dt),
                     rm.LinearTorch((20, 2)), rm.LIFTorch(2, tau_mem=0.016, tau_syn=0.004, dt=dt))
    with torch.no_grad():  # start in a regime that spikes sparsely
        net[0].weight.mul_(0.3)
        net[1].w_rec.mul_(0.05)
    rng = np.random.default_rng(0)
    x = torch.tensor((rng.random((1, 200, 4)) < 0.1).astype(np.float32))
    tgt = torch.tensor(np.sin(np.linspace(0, 6, 400)).reshape(1, 200, 2).astype(np.float32))
    opt = torch.optim.Adam([p for n, p in net.named_parameters() if n.endswith(("weight", "w_rec"))], lr=1e-3)
    losses = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(5):  # tiny: the point is a network Rockpool trained, not a good one
            _, _, rec = net(x, record=True)
            loss = ((rec["3_LIFTorch"]["vmem"] - tgt) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss))
    assert np.isfinite(losses).all()
    g = from_rockpool(net)
    g.metadata = {"dt": dt}  # Rockpool's r is not tau/dt; the time step the network was trained with
    assert any(isinstance(v, nir.Linear) and v.weight.shape == (20, 20) for v in g.nodes.values())
    f = parse_graph(g)
    assert f.dt == dt and np.array_equal(f.w_rec, net[1].w_rec.detach().numpy().astype(np.float64).T)
    model = save_nir(g, tmp_path / "rockpool.nir")
    rep, res, _ = pipeline(model, tmp_path, "xylo-audio-v2")
    assert res["emulator_matches_xylosim"] is True and rep["fit_check"]["ok"]
    assert res["rate_nir_hz"] > 1 and res["spike_agreement"] > 0.9
    assert 0.5 < res["rate_chip_hz"] / res["rate_nir_hz"] < 2


def test_scn_graph_goes_the_scn_way(tmp_path):
    """An SCN-shaped graph without neuromorph metadata is imported as an SCN, quantized SCN-aware."""
    from tests.test_nir_exchange import make_scn
    from neuromorph.backends.nir import scn_to_nir

    net = make_scn(n=6, m=2)
    net.lam, net.dt = 50.0, 1e-3
    g = scn_to_nir(net)
    g.metadata = {}
    model = save_nir(g, tmp_path / "scn.nir")
    assert main(["quantize", str(model), "--target", "fixed-point", "--adapt", "off", "--out", str(tmp_path / "q")]) in (0, 1)
    rep = json.loads((tmp_path / "q" / "quantization.json").read_text())
    assert rep["source"]["imported_as"] == "SCN" and rep["method"] == "scn" and "error_quantized" in rep


def test_import_failures_are_one_line(tmp_path, capsys):
    g = hand_graph()
    g.nodes["extra"] = nir.LIF(tau=np.ones(20), r=np.ones(20), v_leak=np.zeros(20), v_threshold=np.ones(20))
    g.edges = g.edges + [("lif", "extra")]
    bad = save_nir(g, tmp_path / "bad.nir")
    assert main(["quantize", str(bad), "--target", "xylo-audio-v2", "--out", str(tmp_path / "q")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hidden node 'lif' feeds nir.LIF 'extra'" in err
    assert not (tmp_path / "q").exists()
    slow = hand_graph()
    slow.nodes["lif"].tau_mem = np.full(20, 1e-3 * 2 ** 17)
    slow.nodes["lif"].r = slow.nodes["lif"].tau_mem / 1e-3
    p = save_nir(slow, tmp_path / "slow.nir")
    assert main(["quantize", str(p), "--target", "xylo-imu", "--out", str(tmp_path / "q2")]) == 2
    assert "hidden tau_mem: tau/dt = 1.31e+05..1.31e+05 needs a bit-shift decay outside 0..15" in capsys.readouterr().err
    with pytest.raises(NIRImportError, match="cannot tell the time step"):
        g = hand_graph()
        g.nodes["lif"].r = g.nodes["lif"].r * np.linspace(1, 2, 20)
        parse_graph(g)
    assert main(["verify", str(tmp_path), "--out", str(tmp_path / "v"), "--data", "x.npy"]) == 2


def test_reference_interpreter_reset_modes():
    g = hand_graph(w=0.3)
    x = (np.random.default_rng(1).random((300, 4)) < 0.2).astype(float)
    sub = run_graph(g, x, 1e-3, record=["lif"])["lif"]
    zero = run_graph(g, x, 1e-3, record=["lif"], reset="zero")["lif"]
    assert sub.sum() > 100 and not np.array_equal(sub, zero)
    with pytest.raises(ValueError, match="reset must be 'subtract' or 'zero'"):
        run_graph(g, x, 1e-3, reset="none")
