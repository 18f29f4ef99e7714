"""Property-based tests of every reader of user files: whatever the bytes, a loader returns a value
or raises one of the CLI's user-error types (neuromorph.cli._user_error_types: ValueError
subclasses, FileNotFoundError, ...) with a one-line message — never another exception — and
writes nothing.

Inputs per loader: a valid file of its kind, then mutated — truncated at any byte, bytes
overwritten, random bytes; for NPZ formats entries dropped, added, replaced by other dtypes
(text, complex, object arrays, NaN/inf), reshaped, or given a header claiming a huge size; for
YAML formats keys dropped/added and values replaced by random YAML.  Cases per loader:
:data:`CASES` (the whole file runs in a few seconds)."""
import io
import json
import zipfile

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neuromorph.cli import _user_error_types

CASES = 60  # examples per loader and strategy
SETTINGS = settings(max_examples=CASES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                              HealthCheck.too_slow])


# ----------------------------------------------------------------------------- valid files

def _valid_files(root):
    from neuromorph.backends.nir import save_nir, scn_to_nir
    from neuromorph.data.rundata import prepare_run_data, save_run_data
    from neuromorph.data.signal import Signal
    from neuromorph.network import save_network
    from neuromorph.quant.fakequant import operating_statistics, quantize_network, save_quantized, evaluation_signal
    from neuromorph.sim.init import initial_scn
    from quantization.hardware import load_target, targets_dir

    net = initial_scn(1, "paper", n_neurons=6, n_inputs=2)
    save_network(net, root / "network.npz")
    target = load_target("xylo-audio-v2")
    c, _ = evaluation_signal(2, 300, 0, net.lam, net.dt)
    q = quantize_network(net, target, operating_statistics(net, c, 0))
    save_quantized(q, root / "quantized.npz")
    from neuromorph.backends.base import backend_for

    backend_for(target).export(q, target, root)  # spec.npz
    (root / "config.yaml").write_text("seed: 1\ntrain:\n  iterations: 5\nquantize:\n  target: xylo-imu\n")
    (root / "target.yaml").write_text((targets_dir() / "fixed-point.yaml").read_text())
    (root / "study.yaml").write_text("name: s\nkind: toy\nsweep: {x: [0, 1]}\nrepetitions: 2\n")
    np.save(root / "signal.npy", np.random.default_rng(0).normal(size=(50, 2)))
    (root / "signal.csv").write_text("t,a,b\n" + "".join(f"{i * 0.001},{i},{-i}\n" for i in range(20)))
    sig = Signal(np.random.default_rng(1).normal(size=(1, 1200, 2)), 1e-3, source="x")
    save_run_data(root / "data.npz", prepare_run_data(sig, 1e-3))
    save_nir(scn_to_nir(net), root / "network.nir")


def _load_signal(p):
    from neuromorph.data.loaders import load_signal

    return load_signal(p, default_dt=1e-3)


def _load_run_data(p):
    from neuromorph.data.rundata import load_run_data

    return load_run_data(p, required=True)


def _load_nir(p):
    from neuromorph.backends.nir import load_nir, nir_to_scn

    return nir_to_scn(load_nir(p))


def _loader(name):
    if name == "network.npz":
        from neuromorph.network import load_network as f
    elif name == "spec.npz":
        from neuromorph.backends.xylo.spec import load_spec as f
    elif name == "quantized.npz":
        from neuromorph.quant.fakequant import load_quantized as f
    elif name == "config.yaml":
        from neuromorph.config import load_config as f
    elif name == "target.yaml":
        from quantization.hardware import load_target as f
    elif name == "study.yaml":
        from neuromorph.stages.study import load_study as f
    elif name in ("signal.npy", "signal.csv"):
        f = _load_signal
    elif name == "data.npz":
        f = _load_run_data
    else:
        f = _load_nir
    return f


NPZ = ["network.npz", "spec.npz", "quantized.npz", "data.npz"]
YAML = ["config.yaml", "target.yaml", "study.yaml"]
ALL = NPZ + YAML + ["signal.npy", "signal.csv", "network.nir"]


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    root = tmp_path_factory.mktemp("valid")
    _valid_files(root)
    return root


def check(name, path):
    """The property: a value, or a user error with a one-line message; nothing else written."""
    before = sorted(p.name for p in path.parent.iterdir())
    try:
        _loader(name)(path)
    except _user_error_types() as exc:
        msg = exc.args[0] if (isinstance(exc, KeyError) and exc.args) else str(exc)
        assert msg and "\n" not in str(msg), repr(msg)
    assert sorted(p.name for p in path.parent.iterdir()) == before


def test_valid_files_load(valid):
    for name in ALL:
        _loader(name)(valid / name)  # the fuzzing starts from files that really are valid


# ----------------------------------------------------------------------------- byte-level mutations

@pytest.mark.parametrize("name", ALL)
@SETTINGS
@given(data=st.data())
def test_mutated_bytes(valid, tmp_path_factory, name, data):
    raw = (valid / name).read_bytes()
    how = data.draw(st.sampled_from(["truncate", "overwrite", "random", "empty"]))
    if how == "truncate":
        blob = raw[:data.draw(st.integers(0, len(raw) - 1))]
    elif how == "overwrite":
        blob = bytearray(raw)
        for _ in range(data.draw(st.integers(1, 8))):
            i = data.draw(st.integers(0, len(blob) - 1))
            blob[i] = data.draw(st.integers(0, 255))
        blob = bytes(blob)
    elif how == "random":
        blob = data.draw(st.binary(max_size=512))
    else:
        blob = b""
    d = tmp_path_factory.mktemp("m")
    (d / name).write_bytes(blob)
    check(name, d / name)


# ----------------------------------------------------------------------------- NPZ structure

def _npz_entries(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _huge_npy(shape):
    """A .npy whose header claims ``shape`` but holds (almost) no data."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buf.getvalue() + b"\0" * 16


_VALUES = st.one_of(
    st.just(np.array([np.nan, np.inf])), st.just(np.array(-np.inf)), st.just(np.array("text")),
    st.just(np.array([1 + 2j])), st.just(np.array([[1, 2], [3, 4]], dtype=np.int8)),
    st.just(np.zeros((0,))), st.just(np.array(10 ** 18, dtype=np.int64)), st.just(np.array(-5)),
    st.just(np.array([{"a": 1}], dtype=object)), st.just(np.array(True)),
    st.just(np.array('{"format": 7}')), st.just(np.array("[1, 2]")),
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=6).map(np.array))


@pytest.mark.parametrize("name", NPZ)
@SETTINGS
@given(data=st.data())
def test_mutated_npz_entries(valid, tmp_path_factory, name, data):
    entries = _npz_entries(valid / name)
    keys = sorted(entries)
    raw_members = {}
    for _ in range(data.draw(st.integers(1, 3))):
        how = data.draw(st.sampled_from(["drop", "extra", "replace", "reshape", "huge"]))
        key = data.draw(st.sampled_from(keys))
        if how == "drop":
            entries.pop(key, None)
        elif how == "extra":
            entries[data.draw(st.text(min_size=1, max_size=8).filter(str.isidentifier))] = data.draw(_VALUES)
        elif how == "replace":
            entries[key] = data.draw(_VALUES)
        elif how == "reshape" and key in entries and entries[key].size > 1:
            entries[key] = entries[key].ravel()[: data.draw(st.integers(1, entries[key].size - 1))]
        elif how == "huge":
            shape = data.draw(st.sampled_from([(10 ** 12,), (2 ** 40, 2 ** 20), (3, 10 ** 15)]))
            raw_members[key] = _huge_npy(shape)
            entries.pop(key, None)
    d = tmp_path_factory.mktemp("n")
    path = d / name
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in entries.items():
            if k in raw_members:
                continue  # the huge header replaces this entry
            buf = io.BytesIO()
            np.save(buf, v, allow_pickle=True)  # object arrays need pickle: the loader must refuse them
            zf.writestr(f"{k}.npy", buf.getvalue())
        for k, blob in raw_members.items():
            zf.writestr(f"{k}.npy", blob)
    check(name, path)


# ----------------------------------------------------------------------------- YAML structure

_YAML_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 20, 10 ** 20), st.text(max_size=10),
                       st.floats(allow_nan=True, allow_infinity=True))
_YAML_ANY = st.recursive(_YAML_LEAF, lambda ch: st.one_of(st.lists(ch, max_size=4),
                                                          st.dictionaries(st.text(max_size=8), ch, max_size=4)),
                         max_leaves=10)


@pytest.mark.parametrize("name", YAML)
@SETTINGS
@given(data=st.data())
def test_mutated_yaml_documents(valid, tmp_path_factory, name, data):
    doc = yaml.safe_load((valid / name).read_text())
    how = data.draw(st.sampled_from(["drop", "extra", "replace", "whole"]))
    if how == "whole":
        doc = data.draw(_YAML_ANY)
    else:
        key = data.draw(st.sampled_from(sorted(doc)))
        if how == "drop":
            doc.pop(key)
        elif how == "extra":
            doc[data.draw(st.text(min_size=1, max_size=8))] = data.draw(_YAML_ANY)
        else:
            doc[key] = data.draw(_YAML_ANY)
    d = tmp_path_factory.mktemp("y")
    (d / name).write_text(yaml.safe_dump(doc, allow_unicode=True))
    check(name, d / name)


def test_json_manifest_reader_fuzz_sample(tmp_path):
    """The manifest reader (neuromorph.outdir) is a loader too: wrong types are incomplete runs."""
    from neuromorph.outdir import IncompleteRunError, require_complete

    for body in ([], {"complete": True}, {"complete": True, "files": []}, {"complete": "yes", "files": {}},
                 {"complete": True, "files": {"x": 3}, "kind": "train"}):
        (tmp_path / "manifest.json").write_text(json.dumps(body))
        (tmp_path / "x").write_text("1")
        with pytest.raises(IncompleteRunError):
            require_complete(tmp_path, "train")
