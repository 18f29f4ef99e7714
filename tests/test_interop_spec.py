"""Spec files load as Rockpool's own: the one-liner ``XyloSim.from_specification(**np.load(...))``
on every target equals ``neuromorph emulate``; ``emulate`` takes a plain Rockpool NPZ, a dict and
a Rockpool ``mapper`` output (docs/interop.md)."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from neuromorph.backends.xylo.emulator import emulate
from neuromorph.backends.xylo.rockpool_compat import import_xylo_module, xylosim_class
from neuromorph.backends.xylo.spec import SpecError, XyloSpec, save_spec
from neuromorph.cli import main

DEVICES = ("xylo-audio-v2", "xylo-audio-v3", "xylo-imu")
STATES = ("Spikes", "Vmem", "Isyn", "Vmem_out", "Isyn_out")


def active_spec(device: str, seed: int = 0) -> XyloSpec:
    """A small spec that fires (hidden and output), Nsyn as the device has."""
    rng = np.random.default_rng(seed)
    n_syn = 1 if device == "xylo-imu" else 2
    n_in, n, m = 3, 8, 2
    return XyloSpec(weights_in=rng.integers(0, 90, (n_in, n, n_syn)), weights_rec=rng.integers(-40, 40, (n, n, n_syn)),
                    weights_out=rng.integers(0, 90, (n, m)), threshold=np.full(n, 300), threshold_out=np.full(m, 200),
                    dash_mem=np.full(n, 3), dash_syn=np.full(n, 2), dash_syn_2=np.full(n, 3),
                    dash_mem_out=np.full(m, 3), dash_syn_out=np.full(m, 2), weight_shift_in=1, dt=1e-3, device=device)


def raster(n_in: int = 3, steps: int = 300) -> np.ndarray:
    return (np.random.default_rng(5).random((steps, n_in)) < 0.3).astype(np.int64)


@pytest.mark.parametrize("device", DEVICES)
def test_one_liner_equals_neuromorph_emulate(device, tmp_path):
    spec = active_spec(device)
    save_spec(spec, tmp_path / "spec.npz")
    x = raster()
    sim = xylosim_class(device).from_specification(**np.load(tmp_path / "spec.npz"))  # the promised one-liner
    out, _, rec = sim(x, record=True)
    np.save(tmp_path / "x.npy", x)
    assert main(["emulate", str(tmp_path / "spec.npz"), "--input", str(tmp_path / "x.npy"), "--record",
                 "--out", str(tmp_path / "em")]) == 0
    em = np.load(tmp_path / "em" / "record.npz")
    assert rec["Spikes"].sum() > 50 and out.sum() > 5  # not vacuous
    assert np.array_equal(out, em["output"])
    for k in STATES:
        assert np.array_equal(np.asarray(rec[k]), em[k]), k


@pytest.mark.parametrize("device", DEVICES)
def test_emulate_plain_rockpool_npz_with_device(device, tmp_path, capsys):
    spec = active_spec(device, seed=1)
    np.savez(tmp_path / "plain.npz", **{k: v for k, v in spec.to_rockpool_kwargs().items() if v is not None})
    x = raster()
    np.save(tmp_path / "x.npy", x)
    args = ["emulate", str(tmp_path / "plain.npz"), "--input", str(tmp_path / "x.npy"), "--out", str(tmp_path / "o")]
    assert main(args + ["--device", device]) == 0
    out_ref, _, _ = xylosim_class(device).from_specification(**np.load(tmp_path / "plain.npz"))(x)
    assert np.array_equal(np.load(tmp_path / "o" / "record.npz")["output"], out_ref) and out_ref.sum() > 0
    if device != "xylo-audio-v2":  # a plain NPZ names no device; a wrong one is refused where it must be
        save_spec(spec, tmp_path / "own.npz")
        capsys.readouterr()
        assert main(["emulate", str(tmp_path / "own.npz"), "--input", str(tmp_path / "x.npy"), "--device",
                     "xylo-audio-v2", "--out", str(tmp_path / "bad")]) == 2
        assert "device 'xylo-audio-v2' was asked for, but its metadata says" in capsys.readouterr().err
        assert not (tmp_path / "bad").exists()


def test_python_emulate_takes_dicts_and_npz(tmp_path):
    spec = active_spec("xylo-imu", seed=2)
    x = raster()
    ref = emulate(spec, x, record=True)
    got = emulate(spec.to_rockpool_kwargs(), x, record=True, device="xylo-imu")
    assert np.array_equal(ref.output, got.output) and np.array_equal(ref.recording["Vmem"], got.recording["Vmem"])
    save_spec(spec, tmp_path / "s.npz")
    assert np.array_equal(emulate(np.load(tmp_path / "s.npz"), x, device="xylo-imu").output, ref.output)
    assert np.array_equal(emulate(tmp_path / "s.npz", x).output, ref.output)  # device from spec.meta.json
    from neuromorph.backends.xylo.spec import as_spec

    with pytest.raises(TypeError, match="expected an XyloSpec, a dict of Rockpool spec keys or a spec file path"):
        as_spec(42)
    with pytest.raises(SpecError, match="device: the spec is for 'xylo-imu', not 'xylo-audio-v2'"):
        as_spec(spec, "xylo-audio-v2")


def test_spec_json_is_compact(tmp_path):
    from neuromorph.backends.xylo.deployment import compact_spec_json

    spec = XyloSpec(weights_in=np.ones((16, 200, 2), np.int8), weights_rec=np.ones((200, 200, 2), np.int8),
                    weights_out=np.ones((200, 8), np.int8))
    text = compact_spec_json(spec)
    d = json.loads(text)
    assert d["device"] == "xylo-audio-v2" and np.array_equal(np.array(d["spec"]["weights_rec"]), spec.weights_rec)
    assert len(text.splitlines()) == len(spec.to_rockpool_kwargs()) + 2  # one line per key
    n = sum(np.size(v) for v in spec.to_rockpool_kwargs().values() if v is not None)
    # one-digit weights in (.., .., 2) lists: "[1,1]," is 3 characters per number; the old indented
    # layout (one number per line, 6+ spaces of indent) needed more than 8
    assert len(text) < 3.1 * n


@pytest.mark.parametrize("device, quantize", [("xylo-audio-v2", "channel_quantize"), ("xylo-imu", "global_quantize")])
def test_emulate_rockpool_mapper_output(device, quantize, tmp_path):
    """A network built in Rockpool, mapped by Rockpool's own mapper and quantizer, runs in
    ``emulate`` (Python and command line) exactly as XyloSim runs it."""
    from neuromorph.backends.xylo.rockpool_compat import DEVICES, import_rockpool

    torch = import_rockpool("torch")
    rm = import_rockpool("rockpool.nn.modules")
    Sequential = import_rockpool("rockpool.nn.combinators").Sequential
    pkg = DEVICES[device][1]
    mapper_mod = import_xylo_module(f"{pkg}.xylo_mapper" if pkg != "syns61201" else "syns61201.xylo_mapper")
    quant = getattr(import_rockpool("rockpool.transform.quantize_methods"), quantize)
    torch.manual_seed(3)
    layers = [rm.LinearTorch((3, 8)), rm.LIFTorch(8, has_rec=True, dt=1e-3)]
    if device == "xylo-imu":  # Rockpool's IMU mapper needs a second hidden layer (docs/interop.md)
        layers += [rm.LinearTorch((8, 6)), rm.LIFTorch(6, dt=1e-3)]
        layers += [rm.LinearTorch((6, 2)), rm.LIFTorch(2, dt=1e-3)]
    else:
        layers += [rm.LinearTorch((8, 2)), rm.LIFTorch(2, dt=1e-3)]
    net = Sequential(*layers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = mapper_mod.mapper(net.as_graph(), weight_dtype="float", threshold_dtype="float", dash_dtype="float")
        spec.update(quant(**spec))
    x = raster(3, 200) * 3
    out_ref, _, rec = xylosim_class(device).from_specification(
        **{k: v for k, v in spec.items() if k != "mapped_graph"})(x, record=True)
    got = emulate(spec, x, record=True, device=device)
    assert np.array_equal(got.output, out_ref) and np.array_equal(got.recording["Vmem"], np.asarray(rec["Vmem"]))
    assert np.asarray(rec["Vmem"]).any()  # the network is driven


def test_mixed_aliases_cannot_go_into_a_plain_npz(tmp_path):
    spec = active_spec("xylo-audio-v2")
    spec.aliases = np.array([1, -1, -1, -1, -1, -1, -1, -1], np.int32)
    with pytest.raises(SpecError, match="aliases: neurons \\[0\\] have an alias target and others none"):
        save_spec(spec, tmp_path / "s.npz")
