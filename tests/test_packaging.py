"""What a wheel ships: every package directory, the run configs, the studies and the built-in
hardware targets (``hardware_configs/``, mapped to ``quantization.hardware_configs``).

The wheel itself is built and installed non-editable by ``.ci/run``; these tests check the
declarations it is built from, and that the target lookup finds the wheel's copy.
"""
from __future__ import annotations

import importlib.util
import shutil
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
MAPPED = "quantization.hardware_configs"


def _package_dirs() -> set[str]:
    """Dotted names of the directories under neuromorph/ and quantization/ that hold code or data."""
    out = set()
    for top in ("neuromorph", "quantization"):
        for d in [ROOT / top, *sorted((ROOT / top).rglob("*"))]:
            if d.is_dir() and d.name != "__pycache__" and any(
                    f.suffix in (".py", ".yaml") for f in d.iterdir() if f.is_file()):
                out.add(".".join(d.relative_to(ROOT).parts))
    return out


def test_every_package_directory_is_listed():
    listed = set(SETUPTOOLS["packages"])
    on_disk = _package_dirs()
    assert "neuromorph.sim" in on_disk and "neuromorph.configs" in on_disk  # the walk finds something
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    assert listed - on_disk == {MAPPED}, "listed packages without a directory"


def test_hardware_configs_are_package_data():
    assert SETUPTOOLS["package-dir"][MAPPED] == "hardware_configs"
    assert SETUPTOOLS["package-data"][MAPPED] == ["*.yaml"]
    assert sorted((ROOT / "hardware_configs").glob("*.yaml"))  # the one copy, at the top level
    assert not (ROOT / "quantization" / "hardware_configs").exists()  # ... and no duplicate
    for pattern in SETUPTOOLS["package-data"]["neuromorph"]:
        assert sorted((ROOT / "neuromorph").glob(pattern)), pattern


def test_target_lookup_finds_the_wheels_copy(tmp_path, monkeypatch):
    # lay out quantization/ as a wheel installs it: hardware.py with hardware_configs/ inside
    pkg = tmp_path / "site" / "quantization"
    shutil.copytree(ROOT / "quantization", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "hardware_configs", pkg / "hardware_configs")
    monkeypatch.delenv("NEUROMORPH_HARDWARE_CONFIGS", raising=False)
    spec = importlib.util.spec_from_file_location("_wheel_quantization_hardware", pkg / "hardware.py")
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, mod)  # dataclasses look their module up
    spec.loader.exec_module(mod)
    assert mod.targets_dir() == (pkg / "hardware_configs").resolve()
    assert mod.target_names() == sorted(p.stem for p in (ROOT / "hardware_configs").glob("*.yaml"))
    # without the packaged copy it falls back to the source-checkout layout next to the package
    shutil.rmtree(pkg / "hardware_configs")
    assert mod.targets_dir() == (tmp_path / "site" / "hardware_configs").resolve()
