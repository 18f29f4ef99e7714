"""Hardware target descriptions: what a chip (or a study's generic fixed-point model) allows.

A target is a YAML file in the top-level ``hardware_configs/`` directory (or any user file)
that is loaded into a frozen :class:`HardwareSpec`. Every file is validated on load; any
problem raises :class:`HardwareConfigError` with one message naming the file, the field
and the allowed values, e.g.::

    xylo-foo.yaml: field 'weight_bits' = 40 is out of range (allowed 1..32)

Built-in targets (``list_targets()``):

* ``xylo-audio-v2`` (SYNS61201), ``xylo-audio-v3`` (SYNS65302), ``xylo-imu`` (SYNS63300):
  the Xylo SNN cores, limits from Rockpool 3.1.0's device packages and
  docs/xylo_integer_update.md (each YAML line cites its source).
* ``fixed-point``: a generic Xylo-like integer core whose widths are parameters
  (``load_target("fixed-point", weight_bits=4)``), for bit-width studies.
* ``float``: the float reference, a no-op target (``is_float=True``, no limits).

File format (``format_version: 1``): a flat mapping of the :class:`HardwareSpec` field
names plus ``overridable`` (the fields that ``load_target(..., **overrides)`` may change).
Count limits may be ``null`` (= unlimited); bit widths may be ``null`` only on a float
target (where they must be). This module deliberately does not use jsonschema (not a
declared dependency of the project): the table-driven checks below produce exactly one
precise message per problem, which is what a user editing a YAML needs.

This package is a lower layer: it never imports ``neuromorph``.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import yaml

__all__ = [
    "FORMAT_VERSION",
    "ENV_VAR",
    "HardwareConfigError",
    "HardwareSpec",
    "load_target",
    "list_targets",
    "targets_dir",
    "target_names",
]

#: The only file format version this loader understands.
FORMAT_VERSION = 1
#: Environment variable that, when set, replaces the built-in ``hardware_configs/`` directory.
ENV_VAR = "NEUROMORPH_HARDWARE_CONFIGS"


class HardwareConfigError(ValueError):
    """A hardware target file (or an override) is missing, malformed or out of range.

    Attributes:
        path: the file concerned (``None`` if not file-specific).
        field: the offending field name (``None`` for file-level problems).
    """

    def __init__(self, message: str, *, path: Optional[Path] = None, field: Optional[str] = None):
        super().__init__(message)
        self.path = path
        self.field = field


@dataclass(frozen=True)
class HardwareSpec:
    """Limits and number formats of one hardware target (immutable).

    ``None`` in a count limit means "unlimited"; ``None`` in a bit width means "float"
    (only on ``is_float`` targets). Units are given per field.

    Identity / backend:
        name: target name, e.g. ``"xylo-audio-v2"``.
        description: one human-readable line.
        part_number: chip part number (``"SYNS61201"``) or ``None`` for generic targets.
        device: emulator/backend device name the ``backends`` layer dispatches on.
        rockpool_module: ``rockpool.devices.xylo.<module>`` (``"syns61201"``) or ``None``.
        is_float: ``True`` for the float reference (no quantization at all).
        format_version: file format version (always :data:`FORMAT_VERSION`).
        dt: simulation/hardware time step [s].

    Network size (counts):
        max_inputs: input channels.
        max_hidden: hidden neurons.
        max_outputs: output (readout) neurons.
        max_syn: synaptic states (Isyn, Isyn2, ...) per hidden neuron.
        max_fanout: max non-zero outgoing recurrent synapses of one hidden neuron, counting
            each (target neuron, synapse) pair once.
        max_recurrent_weights: max non-zero recurrent (hidden → hidden) weights of the whole
            network, counted as :attr:`max_fanout` counts them, summed over all hidden neurons
            (the chip's recurrent weight memory; ``None`` = no total beyond the fan-out).
        input_projection: ``"all"`` (inputs may reach every hidden neuron) or ``"first"``
            (only the first ``input_projection_size`` hidden neurons, Xylo's IENs).
        input_projection_size: number of input-expansion neurons, ``None`` when ``"all"``.
        output_projection: ``"all"`` or ``"last"`` (only the last
            ``output_projection_size`` hidden neurons feed the readout, Xylo's OENs).
        output_projection_size: number of output-expansion neurons, ``None`` when ``"all"``.

    Number formats (bits):
        weight_bits: width of W_in, W_rec, W_out.
        weight_signed: two's complement weights (all Xylo chips: ``True``).
        max_weight_shift: largest left bit-shift applied to a weight class (min is 0).
        state_bits: width of Isyn and Vmem (two's complement).
        state_saturating: ``True`` if state additions clamp instead of wrapping.
        threshold_bits: width of the (signed) firing threshold.
        bias_bits: width of the (signed) per-neuron bias.
        max_dash_mem: largest membrane bit-shift decay ``dash`` (min is 0).
        max_dash_syn: largest synaptic bit-shift decay ``dash`` (min is 0).

    Events (per time step):
        max_input_events: events per input channel per step (more are clipped).
        max_hidden_events: events one hidden neuron can emit per step.
        max_output_events: events one output neuron can emit per step.

    Dynamics and network classes (what a backend declares in its capabilities):
        reset: how a hidden neuron resets after an event: ``"subtractive"`` (V -= threshold per
            event, the Xylo cores and the SCN's Ω-diagonal reset) or ``"to_zero"``.
        recurrent: ``True`` if the target takes recurrent (hidden -> hidden) weights.
        ei_networks: ``True`` if the target takes separate excitatory / inhibitory populations
            obeying Dale's law (the Fig 4 networks).
        one_spike_per_step: ``True`` if the target's dynamics keep the SCN's one-spike-per-step
            arbiter (the float simulator); ``False`` on silicon, where every neuron above
            threshold fires in the same step. ``False`` makes ``quantize`` adapt by default.

    Provenance:
        overridable: fields that ``load_target(..., **overrides)`` may change.
        overrides: the overrides applied at load, as sorted ``(field, value)`` pairs.
        source: the file this spec was loaded from (``None`` if built in code).
    """

    name: str
    description: str
    part_number: Optional[str]
    device: str
    rockpool_module: Optional[str]
    is_float: bool
    format_version: int
    dt: float
    max_inputs: Optional[int]
    max_hidden: Optional[int]
    max_outputs: Optional[int]
    max_syn: Optional[int]
    max_fanout: Optional[int]
    max_recurrent_weights: Optional[int]
    input_projection: str
    input_projection_size: Optional[int]
    output_projection: str
    output_projection_size: Optional[int]
    weight_bits: Optional[int]
    weight_signed: bool
    max_weight_shift: Optional[int]
    state_bits: Optional[int]
    state_saturating: bool
    threshold_bits: Optional[int]
    bias_bits: Optional[int]
    max_dash_mem: Optional[int]
    max_dash_syn: Optional[int]
    max_input_events: Optional[int]
    max_hidden_events: Optional[int]
    max_output_events: Optional[int]
    reset: str
    recurrent: bool
    ei_networks: bool
    one_spike_per_step: bool
    overridable: tuple[str, ...] = ()
    overrides: tuple[tuple[str, Any], ...] = ()
    source: Optional[str] = field(default=None, compare=False)

    # -- derived integer ranges (None on a float target) -------------------------------
    @property
    def weight_max(self) -> Optional[int]:
        """Largest integer weight: ``2**(weight_bits-1) - 1`` (127 for int8)."""
        if self.weight_bits is None:
            return None
        return (1 << (self.weight_bits - 1)) - 1 if self.weight_signed else (1 << self.weight_bits) - 1

    @property
    def weight_min(self) -> Optional[int]:
        """Smallest integer weight the hardware stores: ``-2**(weight_bits-1)`` (-128 for int8).

        Our quantizer only emits the symmetric range ``±weight_max`` (as Rockpool's
        quantizers do: a sign-symmetric grid keeps ``-w`` representable whenever ``w`` is),
        but a fit check accepts everything the chip can hold.
        """
        if self.weight_bits is None:
            return None
        return -(1 << (self.weight_bits - 1)) if self.weight_signed else 0

    @property
    def state_max(self) -> Optional[int]:
        """Largest Isyn/Vmem value (32767 for 16 bit); states saturate here."""
        return None if self.state_bits is None else (1 << (self.state_bits - 1)) - 1

    @property
    def state_min(self) -> Optional[int]:
        """Smallest Isyn/Vmem value (-32768 for 16 bit)."""
        return None if self.state_bits is None else -(1 << (self.state_bits - 1))

    @property
    def threshold_max(self) -> Optional[int]:
        """Largest threshold (32767 for int16)."""
        return None if self.threshold_bits is None else (1 << (self.threshold_bits - 1)) - 1

    @property
    def threshold_min(self) -> Optional[int]:
        """Smallest storable threshold (-32768 for int16; useful thresholds are >= 1)."""
        return None if self.threshold_bits is None else -(1 << (self.threshold_bits - 1))

    @property
    def bias_max(self) -> Optional[int]:
        """Largest bias (127 for int8)."""
        return None if self.bias_bits is None else (1 << (self.bias_bits - 1)) - 1

    @property
    def bias_min(self) -> Optional[int]:
        """Smallest bias (-128 for int8)."""
        return None if self.bias_bits is None else -(1 << (self.bias_bits - 1))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of all fields (tuples become lists), for run provenance."""
        d = dataclasses.asdict(self)
        d["overridable"] = list(self.overridable)
        d["overrides"] = {k: v for k, v in self.overrides}
        return d


# -----------------------------------------------------------------------------------------
# Field table: the single source of truth for the file format.
# kind: "int" | "float" | "str" | "bool" | "choice"; lo/hi inclusive; nullable: "no" |
# "yes" (count limit, None = unlimited) | "float" (must be null iff is_float).
# -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Field:
    kind: str
    lo: Optional[float] = None
    hi: Optional[float] = None
    nullable: str = "no"
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        """The allowed values, as they appear in error messages."""
        if self.kind == "choice":
            s = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind == "int":
            s = f"integer {_range(self.lo, self.hi)}"
        elif self.kind == "float":
            s = f"number > {_fmt(self.lo)}" + (f" and <= {_fmt(self.hi)}" if self.hi is not None else "")
        elif self.kind == "bool":
            s = "true or false"
        else:
            s = "non-empty string"
        if self.nullable == "yes":
            s += ", or null for unlimited"
        elif self.nullable == "str":
            s += " or null"
        elif self.nullable == "float":
            s += " (null on a float target)"
        return s


def _range(lo: Optional[float], hi: Optional[float]) -> str:
    """'1..32', or '>= 1' when there is no upper bound."""
    return f">= {_fmt(lo)}" if hi is None else f"{_fmt(lo)}..{_fmt(hi)}"


def _fmt(x: Optional[float]) -> str:
    if x is None:
        return "inf"
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)



_FIELDS: dict[str, _Field] = {
    "format_version": _Field("int", FORMAT_VERSION, FORMAT_VERSION),
    "name": _Field("str"),
    "description": _Field("str"),
    "part_number": _Field("str", nullable="str"),
    "device": _Field("str"),
    "rockpool_module": _Field("str", nullable="str"),
    "is_float": _Field("bool"),
    # dt [s]: strictly positive; the 10 s upper bound is far above any SNN step but catches
    # unit mix-ups such as "dt: 1000" meant as 1000 µs.
    "dt": _Field("float", 0.0, 10.0),
    "max_inputs": _Field("int", 1, None, nullable="yes"),
    "max_hidden": _Field("int", 1, None, nullable="yes"),
    "max_outputs": _Field("int", 1, None, nullable="yes"),
    "max_syn": _Field("int", 1, 8, nullable="yes"),
    "max_fanout": _Field("int", 1, None, nullable="yes"),
    "max_recurrent_weights": _Field("int", 1, None, nullable="yes"),
    "input_projection": _Field("choice", choices=("all", "first")),
    "input_projection_size": _Field("int", 1, None, nullable="str"),
    "output_projection": _Field("choice", choices=("all", "last")),
    "output_projection_size": _Field("int", 1, None, nullable="str"),
    "weight_bits": _Field("int", 1, 32, nullable="float"),
    "weight_signed": _Field("bool"),
    "max_weight_shift": _Field("int", 0, 31, nullable="float"),
    "state_bits": _Field("int", 2, 64, nullable="float"),
    "state_saturating": _Field("bool"),
    "threshold_bits": _Field("int", 1, 32, nullable="float"),
    "bias_bits": _Field("int", 1, 32, nullable="float"),
    "max_dash_mem": _Field("int", 0, 31, nullable="float"),
    "max_dash_syn": _Field("int", 0, 31, nullable="float"),
    "max_input_events": _Field("int", 1, None, nullable="yes"),
    "max_hidden_events": _Field("int", 1, None, nullable="yes"),
    "max_output_events": _Field("int", 1, None, nullable="yes"),
    "reset": _Field("choice", choices=("subtractive", "to_zero")),
    "recurrent": _Field("bool"),
    "ei_networks": _Field("bool"),
    "one_spike_per_step": _Field("bool"),
}
# Keys allowed in a file but not HardwareSpec data fields.
_META_KEYS = ("overridable",)
_ALLOWED_KEYS = tuple(_FIELDS) + _META_KEYS
# Fields a file may never declare overridable (identity of the target).
_NEVER_OVERRIDABLE = frozenset({"format_version", "name", "is_float", "part_number", "rockpool_module", "device"})

# PyYAML implements YAML 1.1, where "1e-3" (no dot) is a *string*; accept such strings for
# number fields instead of failing on an innocent-looking dt.
_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _label(path: Optional[Path]) -> str:
    return path.name if path is not None else "<hardware spec>"


def _err(path: Optional[Path], fld: Optional[str], msg: str) -> HardwareConfigError:
    return HardwareConfigError(f"{_label(path)}: {msg}", path=path, field=fld)


def _check_value(path: Optional[Path], name: str, value: Any, is_float_target: bool, where: str = "") -> Any:
    """Type- and range-check one value; returns it normalised (int/float/str/bool/None)."""
    f = _FIELDS[name]
    q = f"field '{name}'{where}"
    if value is None:
        if f.nullable in ("yes", "str"):
            return None
        if f.nullable == "float" and is_float_target:
            return None
        if f.nullable == "float":
            raise _err(path, name, f"{q} is null, but a non-float target needs a value (allowed {f.describe()})")
        raise _err(path, name, f"{q} is null (allowed {f.describe()})")
    if f.nullable == "float" and is_float_target:
        raise _err(path, name, f"{q} = {value!r} must be null on a float target (is_float: true has no integer formats)")
    if f.kind == "bool":
        if not isinstance(value, bool):
            raise _err(path, name, f"{q} = {value!r} has type {type(value).__name__}, expected boolean (allowed {f.describe()})")
        return value
    if f.kind in ("str", "choice"):
        if not isinstance(value, str) or not value.strip():
            raise _err(path, name, f"{q} = {value!r} has type {type(value).__name__}, expected string (allowed {f.describe()})")
        if f.kind == "choice" and value not in f.choices:
            raise _err(path, name, f"{q} = {value!r} is not allowed (allowed {f.describe()})")
        return value
    if f.kind == "int":
        # bool is an int subclass in Python; "weight_bits: true" is a typo, not 1.
        if isinstance(value, bool) or not isinstance(value, int):
            raise _err(path, name, f"{q} = {value!r} has type {type(value).__name__}, expected integer (allowed {f.describe()})")
        if (f.lo is not None and value < f.lo) or (f.hi is not None and value > f.hi):
            raise _err(path, name, f"{q} = {value!r} is out of range (allowed {_range(f.lo, f.hi)})")
        return int(value)
    # float
    if isinstance(value, str) and _FLOAT_RE.match(value.strip()):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _err(path, name, f"{q} = {value!r} has type {type(value).__name__}, expected number (allowed {f.describe()})")
    v = float(value)
    if not math.isfinite(v) or (f.lo is not None and v <= f.lo) or (f.hi is not None and v > f.hi):
        raise _err(path, name, f"{q} = {value!r} is out of range (allowed {f.describe()})")
    return v


def _unknown_key_msg(key: Any, allowed: tuple[str, ...]) -> str:
    hint = difflib.get_close_matches(str(key), allowed, n=1)
    did = f"; did you mean '{hint[0]}'?" if hint else ""
    return f"unknown field {str(key)!r}{did} (allowed fields: {', '.join(allowed)})"


def _build_spec(raw: Any, path: Optional[Path], overrides: Mapping[str, Any]) -> HardwareSpec:
    """Validate a parsed YAML document plus overrides and build the spec."""
    if not isinstance(raw, dict):
        raise _err(path, None, f"top level must be a mapping of fields, got {type(raw).__name__}")
    # 1. unknown keys (first, so a typo is reported as a typo, not as a missing field)
    for key in raw:
        if key not in _ALLOWED_KEYS:
            raise _err(path, str(key), _unknown_key_msg(key, _ALLOWED_KEYS))
    # 2. missing required fields (every data field is required: explicit null is the way to
    #    say "unlimited", so a forgotten limit never silently becomes unlimited)
    for name, f in _FIELDS.items():
        if name not in raw:
            raise _err(path, name, f"missing required field '{name}' (allowed {f.describe()})")
    # 3. types and ranges; is_float first because it decides nullability of the bit widths
    is_float = _check_value(path, "is_float", raw["is_float"], False)
    values: dict[str, Any] = {"is_float": is_float}
    for name in _FIELDS:
        if name != "is_float":
            values[name] = _check_value(path, name, raw[name], is_float)
    # 4. the overridable list
    ov_list = raw.get("overridable", [])
    if ov_list is None:
        ov_list = []
    if not isinstance(ov_list, list) or not all(isinstance(x, str) for x in ov_list):
        raise _err(path, "overridable", f"field 'overridable' = {ov_list!r} must be a list of field names")
    for x in ov_list:
        if x not in _FIELDS:
            raise _err(path, "overridable", f"field 'overridable' names {_unknown_key_msg(x, tuple(_FIELDS))}")
        if x in _NEVER_OVERRIDABLE:
            raise _err(path, "overridable", f"field 'overridable' lists {x!r}, which identifies the target and cannot be overridden")
    # 5. overrides: same checks, tagged so the message says where the value came from
    for key, val in overrides.items():
        if key not in _FIELDS:
            raise _err(path, key, "override " + _unknown_key_msg(key, tuple(_FIELDS)))
        if key not in ov_list:
            allowed = ", ".join(ov_list) if ov_list else "none"
            raise _err(path, key, f"field '{key}' is not overridable for target {values['name']!r} (overridable: {allowed})")
        values[key] = _check_value(path, key, val, is_float, where=" (override)")
    # 6. cross-field consistency
    _check_cross(path, values)
    return HardwareSpec(
        **values,
        overridable=tuple(ov_list),
        overrides=tuple(sorted(overrides.items())),
        source=str(path) if path is not None else None,
    )


def _check_cross(path: Optional[Path], v: dict[str, Any]) -> None:
    for side, sel in (("input", "first"), ("output", "last")):
        proj, size = v[f"{side}_projection"], v[f"{side}_projection_size"]
        if proj == sel and size is None:
            raise _err(path, f"{side}_projection_size",
                       f"field '{side}_projection_size' is null but {side}_projection is {sel!r} (allowed integer 1..max_hidden)")
        if proj == "all" and size is not None:
            raise _err(path, f"{side}_projection_size",
                       f"field '{side}_projection_size' = {size} must be null when {side}_projection is 'all'")
        if size is not None and v["max_hidden"] is not None and size > v["max_hidden"]:
            raise _err(path, f"{side}_projection_size",
                       f"field '{side}_projection_size' = {size} is out of range (allowed 1..{v['max_hidden']} = max_hidden)")
    # No fan-out vs max_hidden*max_syn check: Xylo IMU's documented fan-out (512) exceeds its
    # 496 hidden neurons (it likely counts the 16 readout targets too); a fan-out limit above
    # the reachable targets is simply never binding.


# -----------------------------------------------------------------------------------------
# Locating and loading targets
# -----------------------------------------------------------------------------------------
def targets_dir() -> Path:
    """Directory of the built-in targets.

    ``$NEUROMORPH_HARDWARE_CONFIGS`` if set (lets a deployment ship its own set), else the copy
    an installed wheel ships inside this package (``quantization/hardware_configs/``), else the
    top-level ``hardware_configs/`` next to this package (``<repo>/hardware_configs``: a source
    checkout or an editable install).
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    here = Path(__file__).resolve().parent
    packaged = here / "hardware_configs"
    return packaged if packaged.is_dir() else here.parent / "hardware_configs"


def target_names() -> list[str]:
    """Names of the built-in targets (file stems in :func:`targets_dir`), sorted."""
    d = targets_dir()
    if not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("*.yaml"))


def _resolve(name_or_path: Union[str, Path]) -> tuple[Path, bool]:
    """Return (path, is_builtin). A string with a path separator or a .yaml/.yml suffix, or a
    Path object, is a file path; anything else is a built-in name."""
    if isinstance(name_or_path, Path):
        return name_or_path, False
    s = str(name_or_path)
    if os.sep in s or "/" in s or s.endswith((".yaml", ".yml")):
        return Path(s).expanduser(), False
    known = target_names()
    if s not in known:
        raise HardwareConfigError(
            f"unknown hardware target {s!r} (known targets in {targets_dir()}: {', '.join(known) or 'none'}; "
            "or give a path to a .yaml file)", path=None, field=None)
    return targets_dir() / f"{s}.yaml", True


def load_target(name_or_path: Union[str, Path], **overrides: Any) -> HardwareSpec:
    """Load and validate a hardware target.

    Args:
        name_or_path: a built-in name (``"xylo-audio-v2"``, see :func:`target_names`) or a
            path to a user YAML file (``Path``, or a string containing ``/`` or ending in
            ``.yaml``/``.yml``).
        **overrides: field values replacing the file's, allowed only for fields the file lists
            under ``overridable`` (e.g. ``load_target("fixed-point", weight_bits=4)``,
            ``load_target("xylo-imu", dt=2e-3)``). Validated like file values.

    Returns:
        The frozen :class:`HardwareSpec`.

    Raises:
        HardwareConfigError: unknown name, missing/unreadable file, malformed YAML, unknown
            key, missing field, wrong type, out-of-range value, inconsistent fields, or a
            forbidden/invalid override; the message names file, field and allowed values.
    """
    path, _ = _resolve(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HardwareConfigError(f"{path.name}: file not found ({path})", path=path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise HardwareConfigError(f"{path.name}: cannot read file ({path}): {e}", path=path) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = ""
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise HardwareConfigError(f"{path.name}: malformed YAML{where}: {problem}", path=path) from None
    return _build_spec(raw, path, overrides)


def list_targets() -> list[HardwareSpec]:
    """All built-in targets, loaded and validated, sorted by name."""
    return [load_target(n) for n in target_names()]
