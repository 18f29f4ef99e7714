"""The backend boundary: registry, capabilities read from the YAMLs (checked against Rockpool
3.1.0's own sources), a new Xylo-shaped target from one YAML, and the fixed-point backend
through the quantize stage."""
from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from quantization.hardware import load_target, target_names, targets_dir

from neuromorph.backends.base import (Backend, BackendError, BackendRegistry, Capabilities, backend_for,
                                      backend_for_device, known_devices, signed_pair_fit)
from neuromorph.backends.fixed_point import FixedPointBackend
from neuromorph.backends.xylo.backend import XyloBackend
from neuromorph.backends.xylo.spec import XyloSpec, hardware_violations
from neuromorph.network import SCN, save_network
from neuromorph.quant.fakequant import (evaluation_signal, fake_quant_network, operating_statistics,
                                       quantize_network, signal_error)


def toy_scn(n: int = 8, m: int = 2, seed: int = 0) -> SCN:
    """A code-initialised SCN (F = Dᵀ, Ω = −DᵀD, T = |d|²/2): no learning needed."""
    rng = np.random.default_rng(seed)
    D = rng.normal(0.0, 0.1, (m, n))
    return SCN(F=D.T.copy(), Omega=-D.T @ D, D=D, thresholds=0.5 * np.sum(D**2, axis=0), lam=10.0, dt=1e-3)


# ----------------------------------------------------------------------------------- registry
def test_every_builtin_target_has_its_backend():
    want = {"xylo-audio-v2": XyloBackend, "xylo-audio-v3": XyloBackend, "xylo-imu": XyloBackend,
            "fixed-point": FixedPointBackend}
    for name in target_names():
        b = backend_for(load_target(name))
        assert isinstance(b, Backend) and load_target(name).device in b.devices
        if name in want:
            assert type(b) is want[name]
    assert backend_for(load_target("float")).name == "float"
    assert known_devices() == sorted(["fixed-point", "float", "xylo-audio-v2", "xylo-audio-v3", "xylo-imu"])


def test_unknown_device_error_names_device_and_known_ones():
    with pytest.raises(BackendError) as ei:
        backend_for_device("loihi-2")
    msg = str(ei.value)
    assert "'loihi-2'" in msg and "xylo-imu" in msg and "fixed-point" in msg and "register_backend" in msg


def test_register_new_family_and_refuse_clash():
    class Toy(FixedPointBackend):
        name = "toy"
        devices = ("toy-chip",)

    reg = BackendRegistry(modules=("neuromorph.backends.fixed_point",))
    toy = Toy()
    reg.register(toy)
    assert reg.for_device("toy-chip") is toy and reg.devices() == ["fixed-point", "toy-chip"]

    class Clash(Toy):
        devices = ("fixed-point",)

    with pytest.raises(BackendError, match="device 'fixed-point' is already served by backend 'fixed-point'"):
        reg.register(Clash())
    with pytest.raises(BackendError, match="no backend for device 'xylo-imu' \\(known devices: fixed-point, toy-chip\\)"):
        reg.for_device("xylo-imu")  # a registry only knows the modules it was given


# ------------------------------------------------------------------------------- capabilities
# Hand-checked against rockpool 3.1.0 (site-packages/rockpool/devices/xylo):
#   syns61201/xylo_mapper.py  mapper(max_hidden_neurons=1000, max_output_neurons=8), 2 synapses
#   syns65302/xylo_mapper.py  mapper(max_hidden_neurons=992), le_16_output_channels (> 16 raises),
#                             le_128_input/output_expansion_neurons; syns65302/xylo_samna.py 128 IEN/OEN
#   syns63300/xylo_mapper.py  mapper(max_hidden_neurons=496, max_output_neurons=16), 1 synapse
#   fan-outs 64 / 1024 / 512: docs/xylo_integer_update.md (limits table)
CAPS = {
    "xylo-audio-v2": dict(synapses_per_neuron=2, max_inputs=16, max_hidden=1000, max_outputs=8, input_neurons=1000,
                          output_neurons=1000, recurrent_fanout=64),
    "xylo-audio-v3": dict(synapses_per_neuron=2, max_inputs=16, max_hidden=992, max_outputs=16, input_neurons=128,
                          output_neurons=128, recurrent_fanout=1024),
    "xylo-imu": dict(synapses_per_neuron=1, max_inputs=16, max_hidden=496, max_outputs=16, input_neurons=128,
                     output_neurons=128, recurrent_fanout=512),
    "fixed-point": dict(synapses_per_neuron=2, max_inputs=None, max_hidden=None, max_outputs=None, input_neurons=None,
                        output_neurons=None, recurrent_fanout=None),
}


@pytest.mark.parametrize("name", sorted(CAPS))
def test_capabilities_read_from_yaml(name):
    t = load_target(name)
    caps = backend_for(t).capabilities(t)
    assert isinstance(caps, Capabilities) and caps.device == t.device
    for k, v in CAPS[name].items():
        assert getattr(caps, k) == v, k
    chip = name.startswith("xylo")
    assert caps.reset == "subtractive" and caps.recurrent and caps.ei_networks and caps.integer  # quantization/ei_mapping.py
    assert caps.one_spike_per_step is (not chip)  # silicon has no arbiter: quantize adapts by default


def test_yaml_limits_equal_rockpool_sources():
    """The numbers in the YAMLs are those of Rockpool's own mappers (not a copied table)."""
    from neuromorph.backends.xylo.rockpool_compat import import_xylo_module

    for name, mod in (("xylo-audio-v2", "syns61201"), ("xylo-audio-v3", "syns65302"), ("xylo-imu", "syns63300")):
        mapper = import_xylo_module(f"{mod}.xylo_mapper")
        defaults = inspect.signature(mapper.mapper).parameters
        t = load_target(name)
        assert defaults["max_hidden_neurons"].default == t.max_hidden, name
        if name != "xylo-audio-v3":
            assert defaults["max_output_neurons"].default == t.max_outputs, name
    # XA3: the mapper allocates from 32 output IDs, but its DRC refuses more than 16 output channels
    xa3 = import_xylo_module("syns65302.xylo_mapper")
    assert inspect.signature(xa3.mapper).parameters["max_output_neurons"].default == 32
    assert "len(graph.output_nodes) > 16" in inspect.getsource(xa3.le_16_output_channels)
    assert load_target("xylo-audio-v3").max_outputs == 16
    # weight bit-shift: the XA2 CTRL1 decoder reads 3-bit fields -> 0..7 on every Xylo YAML
    import importlib.util  # read as text: the module itself imports samna

    rp = Path(importlib.util.find_spec("rockpool").submodule_search_locations[0])
    src = (rp / "devices" / "xylo" / "syns61201" / "xa2_devkit_utils.py").read_text()
    assert "inp_w_bitshift = value[4:7].uint" in src
    assert {load_target(n).max_weight_shift for n in ("xylo-audio-v2", "xylo-audio-v3", "xylo-imu")} == {7}


def test_spec_limits_come_from_the_yaml():
    from neuromorph.backends.xylo import spec as spec_mod

    assert not hasattr(spec_mod, "DEVICE_LIMITS")
    # 17 outputs on XA3: over the YAML's 16 (the old in-code table said 32)
    s = XyloSpec(weights_in=np.ones((2, 4, 2), int), weights_out=np.ones((4, 17), int), device="xylo-audio-v3")
    assert hardware_violations(s) == ["xylo-audio-v3: output neurons 17 > 16"]


# ---------------------------------------------------------------- a Xylo-shaped target, one YAML
def _toy_yaml(tmp_path: Path) -> Path:
    raw = yaml.safe_load((targets_dir() / "xylo-audio-v2.yaml").read_text())
    # dense toy networks: lift the fan-out limit, so only the neuron count can bind
    raw.update(name="xylo-a2-500", description="Xylo Audio 2 with 500 hidden neurons", max_hidden=500, max_fanout=None)
    p = tmp_path / "xylo-a2-500.yaml"
    p.write_text(yaml.safe_dump(raw))
    return p


def _quantized(net: SCN, target):
    c, _ = evaluation_signal(net.n_inputs, 300, 0, net.lam, net.dt)
    return quantize_network(net, target, operating_statistics(net, c, 0))


def test_new_xylo_shaped_target_needs_no_code(tmp_path):
    t = load_target(_toy_yaml(tmp_path))
    b = backend_for(t)
    assert isinstance(b, XyloBackend) and b.capabilities(t).max_hidden == 500
    ok = b.fit_check(_quantized(toy_scn(n=400), t), t)
    assert ok.ok, ok.summary()
    bad = b.fit_check(_quantized(toy_scn(n=600), t), t)
    assert [v.field for v in bad.violations] == ["n_hidden"]
    assert bad.violations[0].value == 600 and bad.violations[0].limit == 500
    # the same network fits the built-in XA2 (1000 hidden): the limit came from the toy YAML
    xa2 = load_target("xylo-audio-v2")
    assert [v.field for v in b.fit_check(_quantized(toy_scn(n=600), xa2), xa2).violations if v.field == "n_hidden"] == []
    spec = XyloSpec(weights_in=np.ones((2, 600, 2), int), weights_out=np.ones((600, 1), int))
    assert hardware_violations(spec, t) == ["xylo-audio-v2: hidden neurons 600 > 500",
                                            "xylo-audio-v2: input-expansion neurons (Nien) 600 > 500",
                                            "xylo-audio-v2: output-expansion neurons (Noen) 600 > 500"]
    assert hardware_violations(spec) == []  # against the device's built-in target


# ------------------------------------------------------------------ the fixed-point backend
def test_operating_statistics_uses_the_backends_drive():
    net = toy_scn()
    c, _ = evaluation_signal(net.n_inputs, 300, 0, net.lam, net.dt)
    u_peak = float(np.abs(c * net.dt).max())
    ident = operating_statistics(net, c, 0, drive=lambda u, d: u)
    assert ident["input_peak"] == u_peak
    xylo = operating_statistics(net, c, 0, drive=XyloBackend().input_drive)
    assert operating_statistics(net, c, 0) == xylo  # the default is the integer cores' pre-emphasis
    assert xylo["input_peak"] > u_peak  # pre-emphasis (G = 1, a = 1/2) amplifies a changing drive


def test_fixed_point_backend_through_quantize(tmp_path):
    from neuromorph.stages.quantize import quantize_run

    net = toy_scn(n=10)
    save_network(net, tmp_path / "network.npz")
    rep = quantize_run(tmp_path, "fixed-point", tmp_path / "q", test_steps=1000, target_overrides={"weight_bits": 4})
    files = sorted(p.name for p in (tmp_path / "q").iterdir())
    assert "spec.npz" not in files and "spec" not in rep  # no deployable for this family
    assert rep["device"] == "fixed-point" and rep["weight_bits"] == 4 and rep["adapted_to_chip"] is False
    assert rep["fit_check"]["ok"] and rep["fit_check"]["target"] == "fixed-point"
    # the report's numbers are those of the backend's pieces called directly
    t = load_target("fixed-point", weight_bits=4)
    b = backend_for(t)
    c, x = evaluation_signal(net.n_inputs, 1000, 0, net.lam, net.dt)
    stats = operating_statistics(net, c, 0, drive=b.input_drive)
    assert rep["operating_statistics"] == stats
    from quantization.mapping import MappingOptions
    from neuromorph.sim.rng import derive_seed

    q = b.map(net, t, stats, MappingOptions(seed=derive_seed(0, 24)))
    assert rep["fit_check"] == signed_pair_fit(q, t).to_dict()
    assert rep["error_quantized"] == signal_error(fake_quant_network(q, net), x, 0)["error"]
    assert json.loads((tmp_path / "q" / "quantization.json").read_text())["target"] == "fixed-point"


def test_float_target_has_a_backend_that_refuses_mapping():
    t = load_target("float")
    with pytest.raises(BackendError, match="float reference"):
        backend_for(t).map(toy_scn(), t, {})
