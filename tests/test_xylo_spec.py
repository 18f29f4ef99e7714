"""XyloSpec validation, Rockpool defaults/conversion, and the NPZ spec file format."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from neuromorph.backends.xylo import spec as spec_mod
from neuromorph.backends.xylo.spec import (
    FORMAT_NAME,
    FORMAT_VERSION,
    SpecError,
    XyloSpec,
    hardware_violations,
    load_spec,
    save_spec,
)


def full_spec(n_syn: int = 2, device: str = "xylo-audio-v2", seed: int = 0) -> XyloSpec:
    rng = np.random.default_rng(seed)
    n_in, N, n_out = 3, 6, 2
    shape_in = (n_in, 4, n_syn)
    return XyloSpec(
        weights_in=rng.integers(-128, 128, shape_in),
        weights_rec=rng.integers(-128, 128, (N, N, n_syn)),
        weights_out=rng.integers(-128, 128, (4, n_out)),
        threshold=rng.integers(-32768, 32768, N),
        threshold_out=rng.integers(0, 1000, n_out),
        dash_mem=rng.integers(0, 16, N),
        dash_mem_out=rng.integers(0, 16, n_out),
        dash_syn=rng.integers(0, 16, N),
        dash_syn_2=rng.integers(0, 16, N),
        dash_syn_out=rng.integers(0, 16, n_out),
        bias=rng.integers(-32768, 32768, N),
        bias_out=rng.integers(-100, 100, n_out),
        weight_shift_in=1,
        weight_shift_rec=2,
        weight_shift_out=15,
        aliases=[[1], [], [5], [], [], [0]],
        dt=2e-3,
        device=device,
    )


def tmp_files(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


# ----------------------------------------------------------------------- defaults & conversion
def test_defaults_are_rockpool_from_specification_defaults() -> None:
    s = XyloSpec.from_dict({"weights_in": np.ones((2, 3, 2), int), "weights_out": np.ones((3, 1), int)})
    assert s.shape == (2, 3, 1) and s.n_syn == 2 and s.n_ien == 3 and s.n_oen == 3
    assert s.weights_rec.shape == (3, 3, 2) and not s.weights_rec.any()
    for k in ("threshold", "dash_mem", "dash_syn", "dash_syn_2", "bias"):
        assert getattr(s, k).tolist() == [0, 0, 0], k  # XyloSim's code uses 0 (not the docstring's 1)
    for k in ("threshold_out", "dash_mem_out", "dash_syn_out", "bias_out"):
        assert getattr(s, k).tolist() == [0], k
    assert (s.weight_shift_in, s.weight_shift_rec, s.weight_shift_out) == (0, 0, 0)
    assert s.aliases.tolist() == [-1, -1, -1] and s.dt == 1e-3 and s.device == "xylo-audio-v2"
    assert s.weights_in.dtype == np.int8 and s.threshold.dtype == np.int32


def test_to_rockpool_kwargs() -> None:
    s = full_spec()
    kw = s.to_rockpool_kwargs()
    assert kw["aliases"] == [[1], [], [5], [], [], [0]]
    assert kw["weights_in"].shape == (3, 4, 2) and kw["dt"] == 2e-3 and kw["weight_shift_out"] == 15
    assert "device" not in kw
    s1 = full_spec(n_syn=1, device="xylo-imu")
    kw1 = s1.to_rockpool_kwargs()
    assert kw1["weights_in"].shape == (3, 4) and kw1["weights_rec"].shape == (6, 6)  # 2-D for Nsyn 1
    assert XyloSpec(weights_in=[[1]], weights_out=[[1]]).to_rockpool_kwargs()["aliases"] is None
    # round trip through the Rockpool form, also ignoring the mapper's ``mapped_graph``
    again = XyloSpec.from_dict({**kw, "mapped_graph": object()}, device=s.device)
    assert again == s


def test_from_dict_accepts_integral_floats_and_lists() -> None:
    s = XyloSpec.from_dict({"weights_in": np.array([[3.0, -4.0]]), "weights_out": [[1], [2]], "threshold": [10.0, 20]})
    assert s.weights_in[:, :, 0].tolist() == [[3, -4]] and s.threshold.tolist() == [10, 20]


def test_validate_catches_in_place_edits() -> None:
    s = full_spec()
    s.validate()
    s.dash_mem[0] = 16
    with pytest.raises(SpecError, match="dash_mem: values must lie in 0..15"):
        s.validate()
    assert s.dash_mem[0] == 16  # validate() does not modify the spec


def test_copy_and_equality() -> None:
    s = full_spec()
    c = s.copy()
    assert c == s and c is not s
    c.threshold[0] += 1
    assert c != s
    assert s != "not a spec"


def test_hardware_violations() -> None:
    assert hardware_violations(full_spec()) == []
    big = XyloSpec(weights_in=np.ones((17, 600, 1), int), weights_out=np.ones((600, 1), int), device="xylo-imu")
    msgs = hardware_violations(big)
    assert "xylo-imu: input channels 17 > 16" in msgs and "xylo-imu: hidden neurons 600 > 496" in msgs
    assert any("Nien" in m for m in msgs) and any("Noen" in m for m in msgs)


# ----------------------------------------------------------------------- validation errors
BASE = dict(weights_in=np.zeros((2, 3, 2), int), weights_out=np.zeros((3, 1), int))


@pytest.mark.parametrize(
    "update,message",
    [
        ({"weights_in": np.full((2, 3, 2), 128)}, r"weights_in: values must lie in -128..127, found 128..128"),
        ({"weights_rec": np.full((3, 3, 2), -129)}, r"weights_rec: values must lie in -128..127"),
        ({"weights_out": np.full((3, 1), 300)}, r"weights_out: values must lie in -128..127"),
        ({"threshold": [0, 0, 40000]}, r"threshold: values must lie in -32768..32767, found 0..40000"),
        ({"threshold_out": [-40000]}, r"threshold_out: values must lie in -32768..32767"),
        ({"dash_mem": [0, 16, 0]}, r"dash_mem: values must lie in 0..15"),
        ({"dash_syn": [-1, 0, 0]}, r"dash_syn: values must lie in 0..15"),
        ({"dash_syn_2": [0, 0, 99]}, r"dash_syn_2: values must lie in 0..15"),
        ({"dash_mem_out": [16]}, r"dash_mem_out: values must lie in 0..15"),
        ({"dash_syn_out": [16]}, r"dash_syn_out: values must lie in 0..15"),
        ({"bias": [0, 0, 32768]}, r"bias: values must lie in -32768..32767"),
        ({"bias_out": [-32769]}, r"bias_out: values must lie in -32768..32767"),
        ({"weight_shift_in": 16}, r"weight_shift_in: values must lie in 0..15"),
        ({"weight_shift_rec": -1}, r"weight_shift_rec: values must lie in 0..15"),
        ({"weight_shift_out": [1, 2]}, r"weight_shift_out: expected shape \(\) \(a scalar\), got \(2,\)"),
        ({"threshold": [1.5, 0, 0]}, r"threshold: values must be integers"),
        ({"threshold": ["a", "b", "c"]}, r"threshold: expected an integer array, got dtype <U1"),
        ({"threshold": [1, 2]}, r"threshold: expected shape \(Nhid,\) = \(3,\), got \(2,\)"),
        ({"bias_out": [1, 2]}, r"bias_out: expected shape \(Nout,\) = \(1,\), got \(2,\)"),
        ({"dash_syn": np.zeros((3, 1), int)}, r"dash_syn: expected shape \(Nhid,\)"),
        ({"weights_in": np.zeros((2, 3, 3), int)}, r"weights_in: expected shape \(Nin, Nien\) or"),
        ({"weights_in": np.zeros(5, int)}, r"weights_in: expected shape"),
        ({"weights_rec": np.zeros((3, 4, 2), int)}, r"weights_rec: expected shape \(Nhid, Nhid\)"),
        ({"weights_rec": np.zeros((3, 3, 1), int)}, r"weights_rec: Nsyn=1 differs from weights_in Nsyn=2"),
        ({"weights_rec": np.zeros((2, 2, 2), int)}, r"weights_in: Nien=3 exceeds Nhid=2"),
        ({"weights_out": np.zeros((4, 1), int)}, r"weights_out: expected shape \(Noen, Nout\) with Noen <= Nhid=3"),
        ({"weights_out": np.zeros(3, int)}, r"weights_out: expected shape"),
        ({"aliases": [[1, 2], [], []]}, r"aliases: neuron 0 has 2 targets; Xylo allows at most one"),
        ({"aliases": [[], [3], []]}, r"aliases: neuron 1 targets 3, outside 0..2"),
        ({"aliases": [[], []]}, r"aliases: expected shape \(Nhid,\) = \(3,\), got \(2,\)"),
        ({"aliases": np.array([0, 5, -1])}, r"aliases: values must lie in -1..2"),
        ({"aliases": 7}, r"aliases: expected None, a list of lists or an int array"),
        ({"dt": 0.0}, r"dt: expected a positive number of seconds, got 0.0"),
        ({"dt": "fast"}, r"dt: expected a positive number of seconds"),
        ({"device": "xylo-9000"}, r"device: unknown Xylo device 'xylo-9000'"),
        ({"device": "xylo-imu"}, r"weights_in: xylo-imu has one synapse per neuron \(Nsyn=1\), got Nsyn=2"),
        ({"weights_in": np.zeros((2, 0, 2), int), "weights_rec": np.zeros((0, 0, 2), int),
          "weights_out": np.zeros((0, 1), int)}, r"at least one hidden neuron"),  # fmt: skip
    ],
)
def test_validation_errors_name_key_shape_and_range(update: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        XyloSpec.from_dict({**BASE, **update})


def test_from_dict_unknown_and_missing_keys() -> None:
    with pytest.raises(SpecError, match=r"weights_hidden: unknown spec key"):
        XyloSpec.from_dict({**BASE, "weights_hidden": 1})
    with pytest.raises(SpecError, match=r"weights_out: required key is missing"):
        XyloSpec.from_dict({"weights_in": BASE["weights_in"]})
    with pytest.raises(SpecError, match=r"weights_in: required key is missing"):
        XyloSpec.from_dict({"weights_out": BASE["weights_out"]})
    with pytest.raises(SpecError, match="weights_in and weights_out are required"):
        XyloSpec(weights_in=None, weights_out=BASE["weights_out"])
    assert issubclass(SpecError, ValueError)


# ----------------------------------------------------------------------- file I/O
def file_spec(n_syn: int = 2, device: str = "xylo-audio-v2", seed: int = 0, aliases: object = "all") -> XyloSpec:
    """full_spec with aliases a plain NPZ can hold: every neuron one target ("all") or none (None)."""
    s = full_spec(n_syn, device, seed)
    s.aliases = np.array([1, 0, 5, 2, 3, 4], np.int32) if aliases == "all" else np.full(6, -1, np.int32)
    return s


@pytest.mark.parametrize("n_syn,device", [(2, "xylo-audio-v2"), (1, "xylo-imu"), (2, "xylo-audio-v3")])
def test_round_trip(tmp_path: Path, n_syn: int, device: str) -> None:
    s = file_spec(n_syn=n_syn, device=device)
    path = save_spec(s, tmp_path / "net.npz", metadata={"author": "test", "accuracy": 0.93})
    loaded, meta = load_spec(path, return_metadata=True)
    assert loaded == s and loaded.device == device and loaded.n_syn == n_syn
    assert meta == {"author": "test", "accuracy": 0.93, "device": device, "format": FORMAT_NAME,
                    "format_version": FORMAT_VERSION}  # fmt: skip
    assert load_spec(path) == s
    assert tmp_files(tmp_path) == ["net.meta.json", "net.npz"]  # atomic writes leave no temporary file


@pytest.mark.parametrize("aliases", ["all", None])
def test_file_holds_exactly_from_specification_kwargs(tmp_path: Path, aliases: object) -> None:
    path = save_spec(file_spec(aliases=aliases), tmp_path / "s.npz")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    assert all(a.dtype.kind in "iuf" for a in arrays.values())  # nothing pickled / object-typed
    keys = set(file_spec().to_rockpool_kwargs()) - ({"aliases"} if aliases is None else set())
    assert set(arrays) == keys  # no __meta__ or other entry Rockpool would reject
    if aliases == "all":
        assert arrays["aliases"].tolist() == [[1], [0], [5], [2], [3], [4]]
    assert arrays["weight_shift_out"].shape == () and arrays["dt"].shape == ()
    meta = json.loads((tmp_path / "s.meta.json").read_text())
    assert meta["format"] == FORMAT_NAME and meta["format_version"] == 2 and meta["device"] == "xylo-audio-v2"


def test_mixed_aliases_are_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"aliases: neurons \[0, 2, 5\] have an alias target and others none"):
        save_spec(full_spec(), tmp_path / "s.npz")
    assert tmp_files(tmp_path) == []


def test_path_without_suffix_is_used_verbatim(tmp_path: Path) -> None:
    path = save_spec(file_spec(), tmp_path / "spec_file")
    assert path.name == "spec_file" and tmp_files(tmp_path) == ["spec_file", "spec_file.meta.json"]
    assert load_spec(path) == file_spec()


def test_load_fills_defaults_plain_rockpool_npz(tmp_path: Path) -> None:
    path = tmp_path / "minimal.npz"
    np.savez(path, weights_in=np.ones((2, 3), np.int8), weights_out=np.ones((3, 2), np.int8))
    s, meta = load_spec(path, return_metadata=True)  # no metadata: Xylo Audio 2 by default
    assert s.device == "xylo-audio-v2" and meta == {"format": None, "device": "xylo-audio-v2"}
    s = load_spec(path, device="xylo-imu")
    assert s.device == "xylo-imu" and s.n_syn == 1 and s.dash_mem.tolist() == [0, 0, 0]
    assert s.aliases.tolist() == [-1, -1, -1] and s.dt == 1e-3


def test_load_reads_version_1_files(tmp_path: Path) -> None:
    """Files written before format 2 (metadata in an NPZ entry, aliases -1 = none) still load."""
    path = tmp_path / "old.npz"
    s = full_spec(device="xylo-audio-v3")
    meta = {"format": FORMAT_NAME, "format_version": 1, "device": "xylo-audio-v3", "target": "t"}
    np.savez(path, **s.to_arrays(), __meta__=np.array(json.dumps(meta)))
    back, m = load_spec(path, return_metadata=True)
    assert back == s and m == meta


def test_device_must_agree_with_metadata(tmp_path: Path) -> None:
    path = save_spec(file_spec(device="xylo-imu", n_syn=1), tmp_path / "s.npz")
    assert load_spec(path, device="xylo-imu").device == "xylo-imu"
    with pytest.raises(SpecError, match="device 'xylo-audio-v2' was asked for, but its metadata says 'xylo-imu'"):
        load_spec(path, device="xylo-audio-v2")


def test_failed_write_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_spec(file_spec(seed=1), tmp_path / "net.npz")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(spec_mod.np, "savez", boom)
    with pytest.raises(OSError, match="disk full"):
        save_spec(file_spec(seed=2), path)
    assert path.read_bytes() == before and tmp_files(tmp_path) == ["net.meta.json", "net.npz"]


def test_save_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"metadata: keys \['format'\] are reserved"):
        save_spec(file_spec(), tmp_path / "a.npz", metadata={"format": "x"})
    with pytest.raises(SpecError, match="metadata: not JSON-serialisable"):
        save_spec(file_spec(), tmp_path / "a.npz", metadata={"x": object()})
    with pytest.raises(TypeError, match="expects an XyloSpec"):
        save_spec({"weights_in": 1}, tmp_path / "a.npz")  # type: ignore[arg-type]
    assert tmp_files(tmp_path) == []


def write_npz(path: Path, meta: dict | str | None, **arrays) -> Path:
    if meta is not None:
        arrays["__meta__"] = np.array(meta if isinstance(meta, str) else json.dumps(meta))
    np.savez(path, **arrays)
    return path


GOOD_META = {"format": FORMAT_NAME, "format_version": 1, "device": "xylo-audio-v2"}
W = dict(weights_in=np.ones((2, 3, 2), np.int8), weights_out=np.ones((3, 1), np.int8))


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="Xylo spec file not found"):
        load_spec(tmp_path / "missing.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(SpecError, match="not a readable NPZ spec file"):
        load_spec(tmp_path / "junk.npz")
    with pytest.raises(SpecError, match="__meta__ is not a JSON object"):
        load_spec(write_npz(tmp_path / "badjson.npz", "{not json", **W))
    with pytest.raises(SpecError, match="format is 'other', expected 'neuromorph-xylo-spec'"):
        load_spec(write_npz(tmp_path / "fmt.npz", {**GOOD_META, "format": "other"}, **W))
    with pytest.raises(SpecError, match=r"unsupported format_version 2 \(this neuromorph reads version 1\)"):
        load_spec(write_npz(tmp_path / "v2.npz", {**GOOD_META, "format_version": 2}, **W))
    write_npz(tmp_path / "m.npz", None, **W)
    (tmp_path / "m.meta.json").write_text('{"format": "neuromorph-xylo-spec", "format_version": 9}')
    with pytest.raises(SpecError, match=r"m.meta.json: unsupported format_version 9 \(this neuromorph reads version 2\)"):
        load_spec(tmp_path / "m.npz")
    (tmp_path / "m.meta.json").write_text("[1, 2")
    with pytest.raises(SpecError, match=r"m.meta.json: not a JSON object"):
        load_spec(tmp_path / "m.npz")
    with pytest.raises(SpecError, match=r"threshold: expected shape \(Nhid,\) = \(3,\), got \(4,\)"):
        load_spec(write_npz(tmp_path / "shape.npz", None, threshold=np.zeros(4, np.int32), **W))
    with pytest.raises(SpecError, match=r"weight_shift_in: expected shape \(\) \(a scalar\), got \(1,\)"):
        load_spec(write_npz(tmp_path / "scalar.npz", None, weight_shift_in=np.zeros(1, int), **W))
    with pytest.raises(SpecError, match="extra: unknown spec key"):
        load_spec(write_npz(tmp_path / "extra.npz", None, extra=np.zeros(1), **W))
    with pytest.raises(SpecError, match="weights_out: required key is missing"):
        load_spec(write_npz(tmp_path / "noout.npz", None, weights_in=W["weights_in"]))


def test_load_refuses_pickled_entries(tmp_path: Path) -> None:
    path = tmp_path / "pickled.npz"
    np.savez(path, aliases=np.array([[1], [], []], dtype=object), **W)
    with zipfile.ZipFile(path) as z:  # the object array really is stored as a pickle
        assert "aliases.npy" in z.namelist()
    with pytest.raises(SpecError, match="entry 'aliases' is not a plain numeric array"):
        load_spec(path)


def test_save_into_missing_directory_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        save_spec(file_spec(), tmp_path / "no_such_dir" / "x.npz")
    assert tmp_files(tmp_path) == []
    assert not os.path.exists(tmp_path / "no_such_dir")
