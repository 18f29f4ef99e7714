"""Run configuration: one YAML file describes a pipeline run (train → quantize → verify).

Unknown sections or keys, and values of the wrong type, raise :class:`ConfigError` naming the
file and the key; missing keys take the built-in defaults (``configs/default.yaml``).
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Optional, Union

import yaml

DEFAULT_PATH = Path(__file__).parent / "configs" / "default.yaml"

#: The spellings of a three-way switch (config values and command-line choices), in the order
#: :func:`tri_state` documents them.
TRI_STATE_CHOICES = ("auto", "on", "off")

#: Built-in signal sources of ``data.source``: the paper's Fig 2 protocol or a named signal of
#: :data:`neuromorph.data.BUILTIN_SOURCES` (listed here so reading a config imports no data code).
DATA_SOURCES = ("fig2", "white-noise", "sine-cosine", "correlated-gaussian")
#: The rules ``train.learn`` may name.
LEARNABLE = ("recurrent", "feedforward")

_CHOICES = {("train", "experiment"): ("fig2",), ("train", "init"): ("auto", "paper", "code"),
            ("train", "network"): ("scn", "ei"), ("data", "source"): DATA_SOURCES,
            ("quantize", "method"): ("scn", "global", "channel"), ("quantize", "rounding"): ("nearest", "stochastic"),
            ("quantize", "adapt"): TRI_STATE_CHOICES,
            ("quantize", "drive_leak"): ("learnt", "chip")}  # quant.chip_step.DRIVE_LEAKS
_POSITIVE = {("train", "iterations"), ("verify", "test_steps"),
             ("data", "dt"), ("data", "channels"), ("data", "source_seconds"),
             ("train", "neurons"), ("train", "neurons_e"), ("train", "neurons_i"), ("train", "leak"), ("train", "dt"),
             ("train", "thresholds"), ("train", "beta"), ("train", "alpha"), ("train", "lr_rec"), ("train", "lr_ff"),
             ("train", "steps"), ("train", "seconds"), ("train", "max_channels")}
_NON_NEGATIVE = {("train", "mu"), ("quantize", "adapt_steps")}
#: Keys whose default is null (the network kind decides): the type a value must have.
_NULLABLE = {("data", "file"): "text", ("data", "dt"): float,
             ("train", "neurons"): int, ("train", "neurons_e"): int, ("train", "neurons_i"): int,
             ("train", "dt"): float, ("train", "thresholds"): float, ("train", "mu"): float, ("train", "beta"): float,
             ("train", "alpha"): float, ("train", "lr_rec"): float, ("train", "lr_ff"): float,
             ("train", "steps"): int, ("train", "seconds"): float, ("train", "fanout"): int,
             ("train", "target"): "text", ("train", "max_channels"): int,
             ("data", "frontend"): "text", ("quantize", "adapt_steps"): int, ("quantize", "leak_dash"): int}


class ConfigError(ValueError):
    """A malformed run configuration."""


def tri_state(value: str) -> Optional[bool]:
    """The flag a three-way switch stands for.

    Parameters
    ----------
    value : str
        One of :data:`TRI_STATE_CHOICES`.

    Returns
    -------
    bool or None
        ``None`` for ``"auto"`` (the callee decides, e.g. adaptation on for Xylo targets),
        ``True`` for ``"on"``, ``False`` for ``"off"``.

    Raises
    ------
    ValueError
        For any other value.
    """
    if value == "auto":
        return None
    if value in ("on", "off"):
        return value == "on"
    raise ValueError(f"expected one of {list(TRI_STATE_CHOICES)}, got {value!r}")


def default_config() -> dict:
    return yaml.safe_load(DEFAULT_PATH.read_text())


def load_config(path: Optional[Union[str, Path]] = None, overrides: Optional[dict] = None) -> dict:
    """The default config updated by the file at ``path`` (if any) and ``overrides`` (dotted keys)."""
    cfg = default_config()
    name = "default"
    if path is not None:
        p = Path(path)
        name = str(p)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            user = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(user, dict):
            raise ConfigError(f"{p}: top level must be a mapping of sections")
        _merge(cfg, user, name)
    for key, value in (overrides or {}).items():
        sec, _, k = key.partition(".")
        _merge(cfg, {sec: {k: value}} if k else {sec: value}, "command line")
    _validate(cfg, name)
    _validate_target(cfg, name)
    return cfg


def _validate_target(cfg: dict, name: str) -> None:
    """quantize.target must name a target now, not after training (its own message, prefixed
    with the config key)."""
    from quantization.hardware import load_target

    target = cfg["quantize"]["target"]
    if not isinstance(target, str) or not target:
        raise ConfigError(f"{name}: quantize.target must be a target name or YAML path, got {target!r}")
    try:
        spec = load_target(target)
    except (ValueError, OSError) as exc:
        raise ConfigError(f"{name}: quantize.target: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    dash = cfg["quantize"].get("leak_dash")
    hi = 15 if spec.max_dash_mem is None else int(spec.max_dash_mem)
    if dash is not None and not 1 <= int(dash) <= hi:  # before training, not after
        raise ConfigError(f"{name}: quantize.leak_dash = {dash}: the chip's membrane dash must be 1..{hi}")


def _merge(cfg: dict, user: dict, name: str) -> None:
    for sec, val in user.items():
        if sec not in cfg:
            raise ConfigError(f"{name}: unknown section {sec!r} (allowed: {sorted(cfg)})")
        if isinstance(cfg[sec], dict):
            if not isinstance(val, dict):
                raise ConfigError(f"{name}: section {sec!r} must be a mapping")
            for k, v in val.items():
                if k not in cfg[sec]:
                    raise ConfigError(f"{name}: unknown key {sec}.{k} (allowed: {sorted(cfg[sec])})")
                cfg[sec][k] = v
        else:
            cfg[sec] = val


def _validate(cfg: dict, name: str) -> None:
    ref = default_config()
    for sec, body in ref.items():
        if isinstance(body, dict):
            for k, dv in body.items():
                v = cfg[sec][k]
                if dv is None:
                    if v is not None:
                        _check_nullable(name, sec, k, v)
                    continue
                if isinstance(dv, list):
                    _check_learn(name, sec, k, v)
                    continue
                if isinstance(dv, bool) and not isinstance(v, bool):
                    raise ConfigError(f"{name}: {sec}.{k} must be true or false, got {v!r}")
                if isinstance(dv, (int, float)) and not isinstance(dv, bool):
                    if isinstance(v, bool) or not isinstance(v, (int, float)):
                        raise ConfigError(f"{name}: {sec}.{k} must be a number, got {v!r}")
                    if (sec, k) in _POSITIVE and v <= 0:
                        raise ConfigError(f"{name}: {sec}.{k} must be > 0, got {v}")
                    if isinstance(dv, int) and not isinstance(dv, bool) and float(v) != int(v):
                        raise ConfigError(f"{name}: {sec}.{k} must be an integer, got {v}")
                if (sec, k) in _CHOICES and v not in _CHOICES[(sec, k)]:
                    raise ConfigError(f"{name}: {sec}.{k} = {v!r} is not one of {list(_CHOICES[(sec, k)])}")
        elif not isinstance(cfg[sec], int) or isinstance(cfg[sec], bool):
            raise ConfigError(f"{name}: {sec} must be an integer, got {cfg[sec]!r}")
    tf = cfg["data"]["test_fraction"]
    if not 0 < tf < 1:
        raise ConfigError(f"{name}: data.test_fraction must be between 0 and 1 (exclusive), got {tf}")
    if cfg["quantize"]["mismatch"] < 0:
        raise ConfigError(f"{name}: quantize.mismatch must be >= 0, got {cfg['quantize']['mismatch']}")


def _check_nullable(name: str, sec: str, k: str, v) -> None:
    """A value given for a key whose default is null: of its type (:data:`_NULLABLE`) and range."""
    kind = _NULLABLE[(sec, k)]
    if kind == "text":
        if not isinstance(v, str) or not v.strip():
            raise ConfigError(f"{name}: {sec}.{k} must be a file path (text) or null, got {v!r}")
        return
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{name}: {sec}.{k} must be a number or null, got {v!r}")
    if kind is int and float(v) != int(v):
        raise ConfigError(f"{name}: {sec}.{k} must be an integer, got {v}")
    if (sec, k) in _POSITIVE and not v > 0:
        raise ConfigError(f"{name}: {sec}.{k} must be > 0, got {v}")
    if (sec, k) in _NON_NEGATIVE and not v >= 0:
        raise ConfigError(f"{name}: {sec}.{k} must be >= 0, got {v}")


def _check_learn(name: str, sec: str, k: str, v) -> None:
    """``train.learn``: a non-empty list of distinct names of :data:`LEARNABLE`."""
    if not isinstance(v, list) or not v or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"{name}: {sec}.{k} must be a non-empty list of {list(LEARNABLE)}, got {v!r}")
    bad = [x for x in v if x not in LEARNABLE]
    if bad:
        raise ConfigError(f"{name}: {sec}.{k} names {bad[0]!r}, not one of {list(LEARNABLE)}")
    if len(set(v)) != len(v):
        raise ConfigError(f"{name}: {sec}.{k} names a rule twice: {v}")


def dump_config(cfg: dict) -> str:
    return yaml.safe_dump(copy.deepcopy(cfg), sort_keys=False)
