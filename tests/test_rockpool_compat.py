"""Rockpool compatibility without samna: XyloSim loads, samna-only paths fail clearly, samna is
never imported (the PyPI 'samna' is a shim that runs pip when imported)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from neuromorph.backends.xylo import rockpool_compat as rc
from neuromorph.backends.xylo.spec import XyloSpec


def small_spec(device: str = "xylo-audio-v2") -> XyloSpec:
    n_syn = 1 if device == "xylo-imu" else 2
    return XyloSpec(
        weights_in=np.full((2, 3, n_syn), 60),
        weights_out=np.full((2, 1), 50),
        threshold=np.full(3, 40),
        threshold_out=[60],
        dash_syn=np.full(3, 2),
        dash_mem=np.full(3, 2),
        dash_syn_out=[2],
        dash_mem_out=[2],
        device=device,
    )


def test_real_samna_is_not_available_here() -> None:
    assert rc.samna_available() is False
    assert "samna" not in sys.modules


@pytest.mark.parametrize(
    "device,module",
    [("xylo-audio-v2", "syns61201"), ("xylo-audio-v3", "syns63300"), ("xylo-imu", "syns63300")],
)
def test_xylosim_loads_and_runs_without_samna(device: str, module: str) -> None:
    cls = rc.xylosim_class(device)
    assert cls.__module__ == f"rockpool.devices.xylo.{module}.xylo_sim"
    sim = rc.xylosim_from_spec(small_spec(device), device)
    x = np.zeros((5, 2), int)
    x[0] = 3
    out, state, rec = sim(x, record=True)
    assert out.shape == (5, 1) and state == {}
    # syn 0: 2 channels x 3 events x 60 = 360, decayed (dash 2) to 270 = V -> 270 // 40 = 6 events;
    # syn 1 (Xylo Audio) is wiped by its default dash_syn_2 = 0
    assert rec["Spikes"][0].tolist() == [6, 6, 6]
    assert out[1, 0] == 1  # hidden events reach the readout one step later
    assert "samna" not in sys.modules


def test_xylosim_from_rockpool_style_dict_drops_unknown_keys() -> None:
    kw = small_spec().to_rockpool_kwargs()
    kw["mapped_graph"] = object()  # the mapper adds this; syns61201's from_specification rejects it
    sim = rc.xylosim_from_spec(kw, "xylo-audio-v2", output_mode="Vmem")
    out, _, _ = sim(np.ones((3, 2), int))
    assert out.shape == (3, 1) and out.any()
    # an NPZ-style alias array (-1 = none) is converted to Rockpool's list of lists
    kw2 = {**small_spec().to_rockpool_kwargs(), "aliases": np.array([1, -1, -1])}
    rc.xylosim_from_spec(kw2, "xylo-audio-v2")


def test_import_xylo_module_uses_bare_packages_without_samna() -> None:
    mod = rc.import_xylo_module("syns61201")
    assert mod.__name__ == "rockpool.devices.xylo.syns61201" and hasattr(mod, "XyloSim")
    parent = sys.modules["rockpool.devices.xylo"]
    assert getattr(parent, "__neuromorph_bare__", False) and parent.__path__
    assert rc.import_xylo_module("rockpool.devices.xylo.syns63300").__name__.endswith("syns63300")
    mapper = rc.import_xylo_module("syns65302.xylo_mapper")
    assert hasattr(mapper, "mapper")
    with pytest.raises(rc.SamnaUnavailableError, match="syns65302.*cannot be imported without samna"):
        rc.import_xylo_module("syns65302")
    assert "samna" not in sys.modules


@pytest.mark.parametrize("device", ["xylo-audio-v2", "xylo-audio-v3", "xylo-imu"])
def test_config_from_spec_raises_clear_error(device: str) -> None:
    with pytest.raises(rc.SamnaUnavailableError) as err:
        rc.config_from_spec(small_spec(device), device)
    msg = str(err.value)
    assert f"config_from_spec(device={device!r}) needs SynSense's real 'samna' package" in msg
    assert "not installed" in msg and "SynSense" in msg and "shim" in msg
    assert isinstance(err.value, RuntimeError)
    assert "samna" not in sys.modules


def test_deploy_to_hardware_raises_clear_error() -> None:
    with pytest.raises(rc.SamnaUnavailableError, match=r"deploy_to_hardware\(device='xylo-imu'\) needs"):
        rc.deploy_to_hardware(small_spec("xylo-imu"), "xylo-imu")
    assert "samna" not in sys.modules


def test_unknown_device_and_bad_spec_type() -> None:
    with pytest.raises(ValueError, match="unknown Xylo device 'xylo-99'"):
        rc.xylosim_class("xylo-99")
    with pytest.raises(TypeError, match="spec must be an XyloSpec or a dict"):
        rc.xylosim_from_spec([1, 2], "xylo-audio-v2")


def test_samna_detection_never_imports_a_shim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pure-Python 'samna' (like the PyPI shim) is reported unavailable without being imported;
    one shipping a compiled extension counts as real (still not imported)."""
    pkg = tmp_path / "samna"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise RuntimeError('the samna shim was imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert importlib.util.find_spec("samna") is not None
    assert rc.samna_available() is False
    assert "samna" not in sys.modules
    (pkg / "samna.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF")
    assert rc.samna_available() is True
    assert "samna" not in sys.modules


def test_fresh_interpreter_never_imports_samna() -> None:
    """End to end in a clean process: load XyloSim for every device, hit the samna-only errors."""
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from neuromorph.backends.xylo import rockpool_compat as rc
        from neuromorph.backends.xylo.spec import XyloSpec
        for dev in ("xylo-audio-v2", "xylo-audio-v3", "xylo-imu"):
            s = XyloSpec(weights_in=np.ones((1, 2, 1), int), weights_out=np.ones((2, 1), int), device=dev)
            rc.xylosim_from_spec(s, dev)(np.ones((3, 1), int))
            try:
                rc.config_from_spec(s, dev)
            except rc.SamnaUnavailableError:
                pass
            else:
                raise SystemExit("config_from_spec did not raise")
        assert "samna" not in sys.modules, "samna was imported"
        print("OK")
        """
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=root, env=env)
    assert res.returncode == 0 and res.stdout.strip() == "OK", res.stderr[-2000:]


def test_installed_shim_is_blocked_not_run(tmp_path: Path) -> None:
    """With a shim-like 'samna' on the path, loading XyloSim must not execute it (the real shim
    would run pip); Rockpool's own samna probes then fail fast."""
    pkg = tmp_path / "samna"
    pkg.mkdir()
    marker = tmp_path / "shim_ran"
    (pkg / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise RuntimeError('shim')\n")
    code = textwrap.dedent(
        """
        import sys
        import numpy as np
        from neuromorph.backends.xylo import rockpool_compat as rc
        from neuromorph.backends.xylo.spec import XyloSpec
        assert not rc.samna_available()
        s = XyloSpec(weights_in=np.ones((1, 2, 2), int), weights_out=np.ones((2, 1), int))
        rc.xylosim_from_spec(s, "xylo-audio-v2")(np.ones((3, 1), int))
        assert sys.modules.get("samna", 0) is None
        print("OK")
        """
    )
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), str(root), env.get("PYTHONPATH")]))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=root, env=env)
    assert res.returncode == 0 and res.stdout.strip() == "OK", res.stderr[-2000:]
    assert not marker.exists()
