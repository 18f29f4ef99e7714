"""Hardware target files: built-ins load with the chip's limits; every error path has one
precise message naming file, field and allowed range."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

# The repo root must be importable for the top-level ``quantization`` package; plain ``pytest``
# (unlike ``python -m pytest``) does not add it when the project is not pip-installed.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from quantization.hardware import (  # noqa: E402
    ENV_VAR,
    HardwareConfigError,
    HardwareSpec,
    list_targets,
    load_target,
    target_names,
    targets_dir,
)

REPO = Path(__file__).resolve().parent.parent
BUILTINS = ["fixed-point", "float", "xylo-audio-v2", "xylo-audio-v3", "xylo-imu"]

# Facts of the chips (rockpool 3.1.0 mappers/docs; docs/xylo_integer_update.md).
CHIPS = {
    "xylo-audio-v2": dict(part_number="SYNS61201", rockpool_module="syns61201", max_hidden=1000,
                          max_outputs=8, max_syn=2, max_fanout=64, max_recurrent_weights=None, input_projection="all",
                          input_projection_size=None, output_projection="all", output_projection_size=None),
    "xylo-audio-v3": dict(part_number="SYNS65302", rockpool_module="syns65302", max_hidden=992,
                          max_outputs=16, max_syn=2, max_fanout=1024, max_recurrent_weights=None, input_projection="first",
                          input_projection_size=128, output_projection="last", output_projection_size=128),
    "xylo-imu": dict(part_number="SYNS63300", rockpool_module="syns63300", max_hidden=496,
                     max_outputs=16, max_syn=1, max_fanout=512, max_recurrent_weights=31744, input_projection="first",
                     input_projection_size=128, output_projection="last", output_projection_size=128),
}
COMMON = dict(max_inputs=16, weight_bits=8, weight_signed=True, max_weight_shift=7, state_bits=16,
              state_saturating=True, threshold_bits=16, bias_bits=8, max_dash_mem=15, max_dash_syn=15,
              max_input_events=15, max_hidden_events=31, max_output_events=1, dt=1e-3, format_version=1,
              is_float=False)


def _raw(name: str = "xylo-audio-v2") -> dict:
    return yaml.safe_load((targets_dir() / f"{name}.yaml").read_text())


def _write(tmp_path: Path, data, fname: str = "xylo-foo.yaml") -> Path:
    p = tmp_path / fname
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return p


def _err(tmp_path: Path, data, fname: str = "xylo-foo.yaml", **ov) -> str:
    p = _write(tmp_path, data, fname)
    with pytest.raises(HardwareConfigError) as ei:
        load_target(p, **ov)
    return str(ei.value)


# --- built-ins ------------------------------------------------------------------------------
def test_builtin_names_and_dir():
    assert targets_dir() == REPO / "hardware_configs"
    assert target_names() == BUILTINS
    specs = list_targets()
    assert [s.name for s in specs] == BUILTINS  # every file's name matches its file stem
    assert all(isinstance(s, HardwareSpec) for s in specs)


@pytest.mark.parametrize("name", sorted(CHIPS))
def test_chip_limits_equal_reference(name):
    s = load_target(name)
    for k, v in {**COMMON, **CHIPS[name]}.items():
        assert getattr(s, k) == v, (name, k)
    assert s.device == name
    assert s.overridable == ("dt",)
    # derived integer ranges
    assert (s.weight_min, s.weight_max) == (-128, 127)
    assert (s.state_min, s.state_max) == (-32768, 32767)
    assert (s.threshold_min, s.threshold_max) == (-32768, 32767)
    assert (s.bias_min, s.bias_max) == (-128, 127)


def test_float_target_is_noop():
    s = load_target("float")
    assert s.is_float and s.part_number is None and s.rockpool_module is None
    assert s.weight_bits is None and s.weight_max is None and s.state_max is None
    assert s.max_hidden is None and s.max_fanout is None


def test_fixed_point_defaults_and_overrides():
    s = load_target("fixed-point")
    assert (s.weight_bits, s.state_bits, s.threshold_bits, s.max_hidden) == (8, 16, 16, None)
    s4 = load_target("fixed-point", weight_bits=4, state_bits=12, max_dash_mem=31)
    assert (s4.weight_bits, s4.weight_max, s4.weight_min, s4.state_max, s4.max_dash_mem) == (4, 7, -8, 2047, 31)
    assert s4.overrides == (("max_dash_mem", 31), ("state_bits", 12), ("weight_bits", 4))
    assert s4 != s
    json.dumps(s4.to_dict())  # provenance is JSON-able
    assert s4.to_dict()["overrides"] == {"max_dash_mem": 31, "state_bits": 12, "weight_bits": 4}


def test_spec_is_frozen():
    s = load_target("xylo-imu")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.weight_bits = 4  # type: ignore[misc]


def test_chip_dt_override_allowed_other_fields_not():
    assert load_target("xylo-audio-v2", dt=2e-3).dt == 2e-3
    with pytest.raises(HardwareConfigError) as ei:
        load_target("xylo-audio-v2", weight_bits=4)
    msg = str(ei.value)
    assert "xylo-audio-v2.yaml" in msg and "'weight_bits'" in msg and "not overridable" in msg and "dt" in msg


def test_override_out_of_range_and_unknown():
    with pytest.raises(HardwareConfigError) as ei:
        load_target("fixed-point", weight_bits=40)
    msg = str(ei.value)
    assert msg == "fixed-point.yaml: field 'weight_bits' (override) = 40 is out of range (allowed 1..32)"
    assert ei.value.field == "weight_bits"
    with pytest.raises(HardwareConfigError, match=r"fixed-point\.yaml: override unknown field 'weigth_bits'; did you mean 'weight_bits'"):
        load_target("fixed-point", weigth_bits=4)
    with pytest.raises(HardwareConfigError, match=r"field 'dt' \(override\) = -1 is out of range"):
        load_target("fixed-point", dt=-1)


# --- user files and the environment variable --------------------------------------------------
def test_user_file_from_tmp_path(tmp_path):
    raw = _raw("xylo-imu")
    raw.update(name="my-chip", max_hidden=64, max_fanout=32, input_projection_size=32, output_projection_size=32)
    p = _write(tmp_path, raw, "my-chip.yaml")
    s = load_target(p)
    assert (s.name, s.max_hidden, s.max_fanout) == ("my-chip", 64, 32)
    assert s.source == str(p)
    assert load_target(str(p)) == s  # string path works too


def test_env_var_replaces_builtin_dir(tmp_path, monkeypatch):
    raw = _raw("float")
    raw["name"] = "only-one"
    _write(tmp_path, raw, "only-one.yaml")
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    assert targets_dir() == tmp_path
    assert target_names() == ["only-one"]
    assert load_target("only-one").name == "only-one"


def test_yaml_1_1_exponent_string_accepted(tmp_path):
    # PyYAML reads "1e-3" (no dot) as a string; the loader accepts it for number fields.
    text = (targets_dir() / "xylo-audio-v2.yaml").read_text().replace("dt: 1.0e-3", "dt: 2e-3")
    assert load_target(_write(tmp_path, text)).dt == 2e-3


# --- every error path --------------------------------------------------------------------------
def test_unknown_key(tmp_path):
    raw = _raw()
    raw["weigth_bits"] = 8
    msg = _err(tmp_path, raw)
    assert msg.startswith("xylo-foo.yaml: unknown field 'weigth_bits'; did you mean 'weight_bits'?")
    assert "allowed fields:" in msg and "max_fanout" in msg


def test_missing_field(tmp_path):
    raw = _raw()
    del raw["weight_bits"]
    assert _err(tmp_path, raw) == ("xylo-foo.yaml: missing required field 'weight_bits' "
                                   "(allowed integer 1..32 (null on a float target))")


@pytest.mark.parametrize("field,value,expect", [
    ("weight_bits", "8", "xylo-foo.yaml: field 'weight_bits' = '8' has type str, expected integer (allowed integer 1..32"),
    ("weight_bits", 8.0, "xylo-foo.yaml: field 'weight_bits' = 8.0 has type float, expected integer"),
    ("weight_bits", True, "xylo-foo.yaml: field 'weight_bits' = True has type bool, expected integer"),
    ("is_float", "no", "xylo-foo.yaml: field 'is_float' = 'no' has type str, expected boolean"),
    ("dt", "fast", "xylo-foo.yaml: field 'dt' = 'fast' has type str, expected number (allowed number > 0 and <= 10)"),
    ("name", 3, "xylo-foo.yaml: field 'name' = 3 has type int, expected string"),
    ("input_projection", "some", "xylo-foo.yaml: field 'input_projection' = 'some' is not allowed (allowed one of 'all', 'first')"),
    ("weight_bits", None, "xylo-foo.yaml: field 'weight_bits' is null, but a non-float target needs a value"),
])
def test_wrong_type(tmp_path, field, value, expect):
    raw = _raw()
    raw[field] = value
    assert _err(tmp_path, raw).startswith(expect)


@pytest.mark.parametrize("field,value,allowed", [
    ("weight_bits", 40, "1..32"),
    ("weight_bits", 0, "1..32"),
    ("max_dash_mem", 32, "0..31"),
    ("max_dash_syn", -1, "0..31"),
    ("max_weight_shift", 32, "0..31"),
    ("max_hidden", 0, ">= 1"),
    ("max_inputs", -3, ">= 1"),
    ("format_version", 2, "1..1"),
])
def test_out_of_range(tmp_path, field, value, allowed):
    raw = _raw()
    raw[field] = value
    msg = _err(tmp_path, raw)
    assert msg.startswith(f"xylo-foo.yaml: field '{field}' = {value} is out of range (allowed {allowed}")


def test_exact_message_example(tmp_path):
    raw = _raw()
    raw["weight_bits"] = 40
    assert _err(tmp_path, raw) == "xylo-foo.yaml: field 'weight_bits' = 40 is out of range (allowed 1..32)"


@pytest.mark.parametrize("dt", [0, -1e-3, 11.0])
def test_dt_out_of_range(tmp_path, dt):
    raw = _raw()
    raw["dt"] = dt
    assert _err(tmp_path, raw).startswith(f"xylo-foo.yaml: field 'dt' = {dt} is out of range (allowed number > 0 and <= 10)")


def test_cross_field_projection(tmp_path):
    raw = _raw()
    raw["input_projection"] = "first"  # size still null
    msg = _err(tmp_path, raw)
    assert msg.startswith("xylo-foo.yaml: field 'input_projection_size' is null but input_projection is 'first'")
    raw = _raw("xylo-imu")
    raw["output_projection_size"] = 600
    assert "field 'output_projection_size' = 600 is out of range (allowed 1..496 = max_hidden)" in _err(tmp_path, raw)


def test_float_target_bits_must_be_null(tmp_path):
    raw = _raw("float")
    raw["weight_bits"] = 8
    assert _err(tmp_path, raw).startswith("xylo-foo.yaml: field 'weight_bits' = 8 must be null on a float target")


def test_overridable_list_checked(tmp_path):
    raw = _raw()
    raw["overridable"] = ["dt", "name"]
    assert "lists 'name', which identifies the target" in _err(tmp_path, raw)
    raw["overridable"] = ["dtt"]
    assert _err(tmp_path, raw).startswith("xylo-foo.yaml: field 'overridable' names unknown field 'dtt'")


def test_malformed_yaml(tmp_path):
    msg = _err(tmp_path, "name: [unclosed\nweight_bits: 8\n")
    assert msg.startswith("xylo-foo.yaml: malformed YAML at line ")


def test_top_level_not_mapping(tmp_path):
    assert _err(tmp_path, "- 1\n- 2\n") == "xylo-foo.yaml: top level must be a mapping of fields, got list"
    assert _err(tmp_path, "") == "xylo-foo.yaml: top level must be a mapping of fields, got NoneType"


def test_missing_file(tmp_path):
    p = tmp_path / "xylo-missing.yaml"
    with pytest.raises(HardwareConfigError) as ei:
        load_target(p)
    assert str(ei.value) == f"xylo-missing.yaml: file not found ({p})"
    assert ei.value.path == p


def test_unknown_target_name_lists_known():
    with pytest.raises(HardwareConfigError) as ei:
        load_target("xylo-audio-v9")
    msg = str(ei.value)
    assert msg.startswith("unknown hardware target 'xylo-audio-v9'")
    for n in BUILTINS:
        assert n in msg


def test_error_is_value_error():
    assert issubclass(HardwareConfigError, ValueError)


# --- layering -----------------------------------------------------------------------------------
def test_quantization_never_imports_neuromorph():
    # 1. statically: no source file mentions an import of neuromorph
    for f in (REPO / "quantization").rglob("*.py"):
        for line in f.read_text().splitlines():
            s = line.strip()
            assert not (s.startswith(("import neuromorph", "from neuromorph"))), f"{f}: {line}"
    # 2. dynamically: importing every module of the package loads no neuromorph module
    code = ("import importlib, pkgutil, sys, quantization\n"
            "for m in pkgutil.iter_modules(quantization.__path__):\n"
            "    importlib.import_module('quantization.' + m.name)\n"
            "bad = [m for m in sys.modules if m == 'neuromorph' or m.startswith('neuromorph.')]\n"
            "assert not bad, bad\n"
            "assert 'quantization.hardware' in sys.modules and 'quantization.fit_check' in sys.modules\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
