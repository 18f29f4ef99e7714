"""Xylo SNN-core network specification in Rockpool's format, with validation and NPZ file I/O.

The keys are exactly those taken by Rockpool's ``XyloSim.from_specification`` (syns61201 /
syns63300), so a spec round-trips to Rockpool unchanged (:meth:`XyloSpec.to_rockpool_kwargs`).

Shapes (``Nsyn`` = synaptic states per hidden neuron, 1 for Xylo IMU, 1 or 2 for Xylo Audio):

=================== ======================== ========================================= ============
key                 shape                    meaning                                   range
=================== ======================== ========================================= ============
``weights_in``      (Nin, Nien, Nsyn)        input channel -> first Nien hidden        int8
``weights_rec``     (Nhid, Nhid, Nsyn)       hidden -> hidden (one step later)         int8
``weights_out``     (Noen, Nout)             LAST Noen hidden -> output neurons        int8
``threshold``       (Nhid,)                  hidden firing threshold                   int16
``threshold_out``   (Nout,)                  output firing threshold                   int16
``dash_mem``        (Nhid,)                  Vmem bit-shift decay                      0..15
``dash_syn``        (Nhid,)                  Isyn (synapse 0) bit-shift decay          0..15
``dash_syn_2``      (Nhid,)                  Isyn2 (synapse 1) bit-shift decay         0..15
``dash_mem_out``    (Nout,)                  output Vmem decay                         0..15
``dash_syn_out``    (Nout,)                  output Isyn decay                         0..15
``bias``            (Nhid,)                  added to dV every step                    int16
``bias_out``        (Nout,)                  output bias                               int16
``weight_shift_*``  scalar                   left shift of in / rec / out weights      0..15
``aliases``         (Nhid,)                  alias target per hidden neuron, -1 none   -1..Nhid-1
``dt``              scalar (s)               time step                                 > 0
=================== ======================== ========================================= ============

Defaults for absent keys are what ``XyloSim.from_specification`` really uses (rockpool 3.1.0):
``weights_rec`` 0, all dashes **0** (its docstring says 1, the code uses 0), thresholds 0, biases 0,
shifts 0, no aliases, ``dt`` 1e-3. Ranges are those xylosim accepts (its C++ types: int8 weights,
int16 thresholds and biases); dashes are 4-bit on the chip. Shifts: xylosim computes ``w << k`` and
narrows it to int16 (so ``k >= 9`` can wrap); a spec accepts 0..15 so that XyloSim's behaviour can be
studied, while the chips' 3-bit shift fields (0..7, ``max_weight_shift`` in the target YAML) are a
fit-check limit (:func:`quantization.fit_check.check_fit`). The chip's *size* limits are not part of
a spec's validity either: :func:`hardware_violations` reads them from the target's
:class:`~quantization.hardware.HardwareSpec` (``hardware_configs/<device>.yaml`` by default).

File format (``save_spec``/``load_spec``, format version 2): ``spec.npz`` holds exactly the keyword
arguments of Rockpool's ``XyloSim.from_specification`` as plain arrays (nothing pickled; scalars
0-d; ``aliases`` (Nhid, 1) or absent), so ``XyloSim.from_specification(**np.load("spec.npz"))``
works; the metadata ``{"format": "neuromorph-xylo-spec", "format_version": 2, "device": ...,
<user metadata>}`` is ``spec.meta.json`` beside it. ``load_spec`` also reads plain Rockpool NPZs
(device given by the caller) and version-1 files (metadata in an NPZ entry ``__meta__``).
"""

from __future__ import annotations

import functools
import json
import os
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from neuromorph.artifacts import atomic_write

if TYPE_CHECKING:
    from quantization.hardware import HardwareSpec

__all__ = [
    "SpecError",
    "XyloSpec",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "save_spec",
    "load_spec",
    "meta_path",
    "rockpool_arrays",
    "as_spec",
    "hardware_violations",
]

FORMAT_NAME = "neuromorph-xylo-spec"
FORMAT_VERSION = 2  # 1: metadata in an NPZ entry __meta__ (still read)

INT8 = (-128, 127)
INT16 = (-32768, 32767)
DASH = (0, 15)
SHIFT = (0, 15)

# Keys of Rockpool spec dicts that are not part of the network (mapper output); ignored on input.
_IGNORED_KEYS = frozenset({"mapped_graph"})


class SpecError(ValueError):
    """Invalid Xylo specification or spec file; the message names the key, shape or range."""


def _as_int_array(key: str, value: Any, dtype: type, lim: tuple[int, int]) -> np.ndarray:
    """Convert ``value`` to an integer array, refusing non-integral or out-of-range values."""
    arr = np.asarray(value)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.round(arr)):
            raise SpecError(f"{key}: values must be integers (round/quantize first), got non-integral floats")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise SpecError(f"{key}: expected an integer array, got dtype {arr.dtype}")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < lim[0] or hi > lim[1]:
            raise SpecError(f"{key}: values must lie in {lim[0]}..{lim[1]}, found {lo}..{hi}")
    return arr.astype(dtype)


def _shape_err(key: str, got: tuple[int, ...], want: str) -> SpecError:
    return SpecError(f"{key}: expected shape {want}, got {tuple(got)}")


@dataclass(eq=False)
class XyloSpec:
    """One Xylo SNN-core network (Rockpool spec keys), validated on construction.

    Arrays are stored as integer numpy arrays: weights ``int8`` (3-D ``(.., .., Nsyn)`` for the input
    and recurrent weights), per-neuron parameters ``int32``, ``aliases`` ``int32`` with -1 = none.
    Construct with :meth:`from_dict` (or keyword arguments; absent keys take Rockpool's defaults).
    ``device`` is not a Rockpool key; it is recorded in spec files and used by the compat module.
    """

    weights_in: np.ndarray
    weights_out: np.ndarray
    weights_rec: np.ndarray | None = None
    threshold: np.ndarray | None = None
    threshold_out: np.ndarray | None = None
    dash_mem: np.ndarray | None = None
    dash_mem_out: np.ndarray | None = None
    dash_syn: np.ndarray | None = None
    dash_syn_2: np.ndarray | None = None
    dash_syn_out: np.ndarray | None = None
    bias: np.ndarray | None = None
    bias_out: np.ndarray | None = None
    weight_shift_in: int = 0
    weight_shift_rec: int = 0
    weight_shift_out: int = 0
    aliases: Any = None
    dt: float = 1e-3
    device: str = field(default="xylo-audio-v2")

    def __post_init__(self) -> None:
        self._normalise()

    # ------------------------------------------------------------------ sizes
    @property
    def n_in(self) -> int:
        """Number of input channels Nin."""
        return int(self.weights_in.shape[0])

    @property
    def n_ien(self) -> int:
        """Number of hidden neurons receiving input (the first Nien)."""
        return int(self.weights_in.shape[1])

    @property
    def n_hidden(self) -> int:
        """Number of hidden neurons Nhid."""
        return int(self.weights_rec.shape[0])

    @property
    def n_oen(self) -> int:
        """Number of hidden neurons feeding the readout (the last Noen)."""
        return int(self.weights_out.shape[0])

    @property
    def n_out(self) -> int:
        """Number of output neurons Nout."""
        return int(self.weights_out.shape[1])

    @property
    def n_syn(self) -> int:
        """Synaptic states per hidden neuron (1 or 2)."""
        return int(self.weights_in.shape[2])

    @property
    def shape(self) -> tuple[int, int, int]:
        """(Nin, Nhid, Nout)."""
        return (self.n_in, self.n_hidden, self.n_out)

    # ------------------------------------------------------------- validation
    def _normalise(self) -> None:
        """Fill defaults, convert dtypes and validate everything (raises :class:`SpecError`)."""
        from neuromorph.backends.xylo.rockpool_compat import DEVICES  # light module, no rockpool import

        if self.device not in DEVICES:  # the Xylo devices; limits of each come from its YAML
            raise SpecError(f"device: unknown Xylo device {self.device!r}; expected one of {sorted(DEVICES)}")
        if self.weights_in is None or self.weights_out is None:
            raise SpecError("weights_in and weights_out are required")

        w_in = _as_int_array("weights_in", self.weights_in, np.int8, INT8)
        if w_in.ndim == 2:
            w_in = w_in[:, :, None]
        if w_in.ndim != 3 or w_in.shape[2] not in (1, 2):
            raise _shape_err("weights_in", w_in.shape, "(Nin, Nien) or (Nin, Nien, Nsyn) with Nsyn in {1, 2}")
        n_in, n_ien, n_syn = w_in.shape

        if self.weights_rec is None:
            n_hid = n_ien  # Rockpool: RSN = IEN when weights_rec is absent
            w_rec = np.zeros((n_hid, n_hid, n_syn), np.int8)
        else:
            w_rec = _as_int_array("weights_rec", self.weights_rec, np.int8, INT8)
            if w_rec.ndim == 2:
                w_rec = w_rec[:, :, None]
            if w_rec.ndim != 3 or w_rec.shape[0] != w_rec.shape[1] or w_rec.shape[2] not in (1, 2):
                raise _shape_err("weights_rec", w_rec.shape, "(Nhid, Nhid) or (Nhid, Nhid, Nsyn)")
            n_hid = w_rec.shape[0]
            if w_rec.shape[2] != n_syn:
                raise SpecError(
                    f"weights_rec: Nsyn={w_rec.shape[2]} differs from weights_in Nsyn={n_syn} "
                    f"(shapes {w_rec.shape} vs {w_in.shape})"
                )
        if n_ien > n_hid:
            raise SpecError(f"weights_in: Nien={n_ien} exceeds Nhid={n_hid} (weights_in {w_in.shape})")
        if n_hid == 0:
            raise SpecError("weights_rec: the network needs at least one hidden neuron")
        if n_syn > 1:  # every device has >= 1 synapse state, so only Nsyn 2 can exceed it
            max_syn = _device_target(self.device).max_syn
            if max_syn is not None and n_syn > max_syn:
                count = "one synapse" if max_syn == 1 else f"{max_syn} synapses"
                raise SpecError(f"weights_in: {self.device} has {count} per neuron (Nsyn={max_syn}), "
                                f"got Nsyn={n_syn}")

        w_out = _as_int_array("weights_out", self.weights_out, np.int8, INT8)
        if w_out.ndim != 2 or w_out.shape[0] > n_hid:
            raise _shape_err("weights_out", w_out.shape, f"(Noen, Nout) with Noen <= Nhid={n_hid}")
        n_out = w_out.shape[1]

        def vec(key: str, n: int, lim: tuple[int, int], label: str) -> np.ndarray:
            val = getattr(self, key)
            if val is None:
                return np.zeros(n, np.int32)
            arr = _as_int_array(key, val, np.int32, lim)
            if arr.shape != (n,):
                raise _shape_err(key, arr.shape, f"({label},) = ({n},)")
            return arr

        self.weights_in, self.weights_rec, self.weights_out = w_in, w_rec, w_out
        self.threshold = vec("threshold", n_hid, INT16, "Nhid")
        self.threshold_out = vec("threshold_out", n_out, INT16, "Nout")
        self.dash_mem = vec("dash_mem", n_hid, DASH, "Nhid")
        self.dash_syn = vec("dash_syn", n_hid, DASH, "Nhid")
        self.dash_syn_2 = vec("dash_syn_2", n_hid, DASH, "Nhid")
        self.dash_mem_out = vec("dash_mem_out", n_out, DASH, "Nout")
        self.dash_syn_out = vec("dash_syn_out", n_out, DASH, "Nout")
        self.bias = vec("bias", n_hid, INT16, "Nhid")
        self.bias_out = vec("bias_out", n_out, INT16, "Nout")
        for key in ("weight_shift_in", "weight_shift_rec", "weight_shift_out"):
            arr = _as_int_array(key, self.__dict__[key], np.int64, SHIFT)
            if arr.ndim != 0:
                raise _shape_err(key, arr.shape, "() (a scalar)")
            setattr(self, key, int(arr))
        self.aliases = _normalise_aliases(self.aliases, n_hid)
        try:
            dt = float(np.asarray(self.dt))
        except (TypeError, ValueError):
            raise SpecError(f"dt: expected a positive number of seconds, got {self.dt!r}") from None
        if not np.isfinite(dt) or dt <= 0:
            raise SpecError(f"dt: expected a positive number of seconds, got {dt}")
        self.dt = dt

    def validate(self) -> None:
        """Re-check a spec whose arrays were edited in place after construction (raises
        :class:`SpecError`); the spec itself is not modified."""
        XyloSpec(**{f.name: getattr(self, f.name) for f in fields(self)})

    # ---------------------------------------------------------- conversions
    @classmethod
    def from_dict(cls, d: Mapping[str, Any], device: str | None = None) -> "XyloSpec":
        """Build from a dict of Rockpool spec keys (e.g. ``mapper`` + ``channel_quantize`` output).

        ``mapped_graph`` is ignored; any other unknown key raises :class:`SpecError`.
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names - _IGNORED_KEYS)
        if unknown:
            raise SpecError(f"{unknown[0]}: unknown spec key (allowed: {sorted(names - {'device'})})")
        kw = {k: v for k, v in d.items() if k in names}
        if device is not None:
            kw["device"] = device
        if "weights_in" not in kw or "weights_out" not in kw:
            missing = "weights_in" if "weights_in" not in kw else "weights_out"
            raise SpecError(f"{missing}: required key is missing")
        return cls(**kw)

    def to_rockpool_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for Rockpool's ``XyloSim.from_specification``.

        Input/recurrent weights are 2-D when Nsyn == 1 (what Xylo IMU's tools expect), aliases a
        list of lists (``[]`` = none) or ``None`` when no neuron has an alias.
        """
        squeeze = self.n_syn == 1
        has_alias = bool(np.any(self.aliases >= 0))
        return dict(
            weights_in=self.weights_in[:, :, 0] if squeeze else self.weights_in,
            weights_rec=self.weights_rec[:, :, 0] if squeeze else self.weights_rec,
            weights_out=self.weights_out,
            threshold=self.threshold,
            threshold_out=self.threshold_out,
            dash_mem=self.dash_mem,
            dash_mem_out=self.dash_mem_out,
            dash_syn=self.dash_syn,
            dash_syn_2=self.dash_syn_2,
            dash_syn_out=self.dash_syn_out,
            bias=self.bias,
            bias_out=self.bias_out,
            weight_shift_in=self.weight_shift_in,
            weight_shift_rec=self.weight_shift_rec,
            weight_shift_out=self.weight_shift_out,
            aliases=[[int(a)] if a >= 0 else [] for a in self.aliases] if has_alias else None,
            dt=self.dt,
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        """All fields as plain numeric numpy arrays (scalars 0-d), as written to spec files."""
        out: dict[str, np.ndarray] = {}
        for f in fields(self):
            if f.name == "device":
                continue
            val = getattr(self, f.name)
            out[f.name] = np.asarray(val, dtype=np.float64 if f.name == "dt" else None)
        return out

    def copy(self) -> "XyloSpec":
        """Deep copy."""
        return XyloSpec(**{k: np.array(v) for k, v in self.to_arrays().items()}, device=self.device)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, XyloSpec) or other.device != self.device:
            return False
        a, b = self.to_arrays(), other.to_arrays()
        return all(a[k].shape == b[k].shape and np.array_equal(a[k], b[k]) for k in a)


def _normalise_aliases(aliases: Any, n_hid: int) -> np.ndarray:
    """Aliases -> int32 (Nhid,) with one target per neuron, -1 for none.

    Accepts ``None``, Rockpool's list of lists (each empty or one target), or a 1-D int array.
    """
    if aliases is None:
        return np.full(n_hid, -1, np.int32)
    if isinstance(aliases, np.ndarray) and aliases.ndim == 1 and aliases.dtype.kind in "iuf":
        arr = _as_int_array("aliases", aliases, np.int32, (-1, max(n_hid - 1, -1)))
    else:
        try:
            items = list(aliases)
        except TypeError:
            raise SpecError(f"aliases: expected None, a list of lists or an int array, got {aliases!r}") from None
        arr = np.full(len(items), -1, np.int32)
        for j, a in enumerate(items):
            if np.ndim(a) == 0:
                targets = [] if a is None or int(a) < 0 else [int(a)]
            else:
                targets = [int(t) for t in np.asarray(a).ravel()]
            if len(targets) > 1:
                raise SpecError(f"aliases: neuron {j} has {len(targets)} targets; Xylo allows at most one")
            if targets:
                if not 0 <= targets[0] < n_hid:
                    raise SpecError(f"aliases: neuron {j} targets {targets[0]}, outside 0..{n_hid - 1}")
                arr[j] = targets[0]
    if arr.shape != (n_hid,):
        raise _shape_err("aliases", arr.shape, f"(Nhid,) = ({n_hid},)")
    return arr


def device_target(device: str) -> "HardwareSpec":
    """The built-in target of a Xylo device (``hardware_configs/<device>.yaml``): the limits a
    spec's ``device`` stands for when no other target is given. Loaded once per process and
    configs directory (a spec is validated often; the YAML is 2-3 ms to parse)."""
    from quantization.hardware import targets_dir

    return _cached_device_target(device, str(targets_dir()))


@functools.lru_cache(maxsize=32)
def _cached_device_target(device: str, configs_dir: str) -> "HardwareSpec":
    from quantization.hardware import load_target

    return load_target(device)


_device_target = device_target


def hardware_violations(spec: XyloSpec, target: "HardwareSpec | None" = None) -> list[str]:
    """Size limits of the target that the spec exceeds (empty list = fits).

    Parameters
    ----------
    spec : XyloSpec
        The network.
    target : HardwareSpec, optional
        The target whose limits apply; default the built-in target of ``spec.device``
        (``hardware_configs/<device>.yaml``).

    Returns
    -------
    list of str
        One ``"<device>: <what> <got> > <limit>"`` line per exceeded limit. XyloSim and the emulator
        run any size; only samna/the chip enforce these. Fan-out counts the non-zero recurrent
        weights leaving each hidden neuron over both synapses; unlimited (null) limits never bind.
    """
    t = target if target is not None else _device_target(spec.device)
    n_ien = t.max_hidden if t.input_projection == "all" else t.input_projection_size
    n_oen = t.max_hidden if t.output_projection == "all" else t.output_projection_size
    fan_out = int(np.count_nonzero(spec.weights_rec, axis=(1, 2)).max()) if spec.n_hidden else 0
    checks = [
        ("input channels", spec.n_in, t.max_inputs),
        ("hidden neurons", spec.n_hidden, t.max_hidden),
        ("output neurons", spec.n_out, t.max_outputs),
        ("synapses per neuron", spec.n_syn, t.max_syn),
        ("input-expansion neurons (Nien)", spec.n_ien, n_ien),
        ("output-expansion neurons (Noen)", spec.n_oen, n_oen),
        ("recurrent fan-out", fan_out, t.max_fanout),
    ]
    return [f"{spec.device}: {what} {got} > {mx}" for what, got, mx in checks if mx is not None and got > mx]


# ------------------------------------------------------------------------------ file I/O
def meta_path(path: str | os.PathLike) -> Path:
    """The metadata file beside a spec NPZ: ``spec.npz`` -> ``spec.meta.json`` (any other name
    gets ``.meta.json`` appended)."""
    path = Path(path)
    stem = path.name[:-4] if path.name.endswith(".npz") else path.name
    return path.with_name(stem + ".meta.json")


def rockpool_arrays(spec: XyloSpec) -> dict[str, np.ndarray]:
    """The spec as plain arrays that ``XyloSim.from_specification`` accepts as keyword arguments.

    Exactly :meth:`XyloSpec.to_rockpool_kwargs`, with scalars as 0-d arrays and ``aliases`` as an
    int array of shape (Nhid, 1) (every neuron has one alias target) or left out (none has one;
    Rockpool's default). These are what ``np.load`` gives back, so
    ``XyloSim.from_specification(**np.load("spec.npz"))`` rebuilds the network (xylosim 0.1.3
    takes 0-d arrays for its int/float arguments and any rectangular nested sequence for
    ``aliases``, but not a 1-D array).

    Raises
    ------
    SpecError
        Some neurons have an alias and others not: Rockpool wants a ragged list of lists, which a
        plain (unpickled) NPZ cannot hold.
    """
    kw = spec.to_rockpool_kwargs()
    aliases = kw.pop("aliases")
    out: dict[str, np.ndarray] = {}
    for k, v in kw.items():
        out[k] = np.asarray(v, dtype=np.float64 if k == "dt" else None)
    if aliases is not None:
        if not all(len(a) == 1 for a in aliases):
            some = [j for j, a in enumerate(aliases) if a][:5]
            raise SpecError(
                f"aliases: neurons {some} have an alias target and others none; Rockpool's "
                "from_specification takes aliases only as a ragged list of lists, which a plain NPZ "
                "(no pickle) cannot hold. Give every hidden neuron one target or none, or keep the "
                "spec in Python (XyloSpec)")
        out["aliases"] = np.asarray(aliases, dtype=np.int32).reshape(len(aliases), 1)
    return out


def save_spec(spec: XyloSpec, path: str | os.PathLike, metadata: dict[str, Any] | None = None) -> Path:
    """Write ``spec`` to ``path`` (NPZ, no pickles) and its metadata beside it; returns ``path``.

    The NPZ holds exactly Rockpool's ``from_specification`` keyword arguments
    (:func:`rockpool_arrays`), so ``XyloSim.from_specification(**np.load(path))`` works. The
    metadata goes to :func:`meta_path` (``spec.meta.json``): ``{"format": "neuromorph-xylo-spec",
    "format_version": 2, "device": ..., <metadata>}``; ``metadata`` must be JSON-serialisable and
    may not use the reserved keys ``format``, ``format_version`` and ``device``. Both files are
    written through :func:`neuromorph.artifacts.atomic_write` (no half-written file, no temporary
    left behind); everything is validated before either is touched. ``np.savez`` would append
    ``.npz`` to a name without it; we write through a file object, so ``path`` is used verbatim.
    """
    if not isinstance(spec, XyloSpec):
        raise TypeError(f"save_spec expects an XyloSpec, got {type(spec).__name__}")
    meta = dict(metadata or {})
    reserved = {"format", "format_version", "device"} & set(meta)
    if reserved:
        raise SpecError(f"metadata: keys {sorted(reserved)} are reserved")
    meta.update(format=FORMAT_NAME, format_version=FORMAT_VERSION, device=spec.device)
    try:
        meta_json = json.dumps(meta, sort_keys=True, indent=1)
    except (TypeError, ValueError) as e:
        raise SpecError(f"metadata: not JSON-serialisable ({e})") from None

    arrays = rockpool_arrays(spec)
    path = Path(path)
    if not path.parent.is_dir():  # a spec goes into an existing directory; a typo is not silently created
        raise FileNotFoundError(f"directory does not exist: {path.parent}")

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())

    atomic_write(path, write)
    atomic_write(meta_path(path), lambda tmp: Path(tmp).write_text(meta_json + "\n", encoding="utf-8"))
    return path


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    from neuromorph.arrayfile import check_npz

    check_npz(path, error=SpecError)  # damaged headers, sizes beyond the data: refused before np.load
    try:
        with np.load(path, allow_pickle=False) as npz:
            raw: dict[str, np.ndarray] = {}
            for k in list(npz.files):
                try:
                    raw[k] = npz[k]
                except ValueError as e:  # object arrays need pickle: refuse
                    raise SpecError(f"{path}: entry {k!r} is not a plain numeric array ({e})") from None
    except SpecError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise SpecError(f"{path}: not a readable NPZ spec file ({type(e).__name__}: {e})") from None
    return raw


def _check_meta(meta: Any, where: str, versions: tuple[int, ...]) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise SpecError(f"{where} is not a JSON object")
    if meta.get("format") != FORMAT_NAME:
        raise SpecError(f"{where}: format is {meta.get('format')!r}, expected {FORMAT_NAME!r}")
    if meta.get("format_version") not in versions:
        raise SpecError(
            f"{where}: unsupported format_version {meta.get('format_version')!r} "
            f"(this neuromorph reads version{'s' if len(versions) > 1 else ''} "
            f"{', '.join(map(str, versions))})"
        )
    return meta


def load_spec(
    path: str | os.PathLike, return_metadata: bool = False, device: str | None = None
) -> XyloSpec | tuple[XyloSpec, dict]:
    """Read a spec NPZ (never unpickles anything).

    Three layouts are read:

    * neuromorph's (format version 2): an NPZ of Rockpool keys plus ``spec.meta.json`` beside it
      (:func:`save_spec`);
    * a plain Rockpool NPZ: ``from_specification`` keys only, no metadata file; ``device`` names
      the chip (default ``"xylo-audio-v2"``);
    * neuromorph's version 1: metadata in an NPZ entry ``__meta__``, ``aliases`` as one int per
      hidden neuron (-1 none).

    Absent keys take Rockpool's defaults; everything is validated. Returns the spec, or
    ``(spec, meta)`` when ``return_metadata`` (for a plain Rockpool NPZ ``meta`` is
    ``{"device": ..., "format": None}``).

    Raises:
        FileNotFoundError: no file at ``path``.
        SpecError: unreadable NPZ or metadata, unsupported ``format_version``, pickled/unknown
            entries, ``device`` contradicting the metadata, or invalid values/shapes (the message
            names the key).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Xylo spec file not found: {path}")
    raw = _read_npz(path)
    mpath = meta_path(path)
    if "__meta__" in raw:  # version 1: metadata inside the NPZ
        try:
            meta = json.loads(str(raw.pop("__meta__")))
        except ValueError:
            raise SpecError(f"{path}: __meta__ is not a JSON object") from None
        meta = _check_meta(meta, f"{path}: __meta__", (1,))
    elif mpath.is_file():
        try:
            meta = json.loads(mpath.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise SpecError(f"{mpath}: not a JSON object") from None
        meta = _check_meta(meta, str(mpath), (FORMAT_VERSION,))
    else:  # a plain Rockpool spec NPZ
        meta = {"format": None, "device": device or "xylo-audio-v2"}
    if device is not None and meta.get("device", device) != device:
        raise SpecError(f"{path}: device {device!r} was asked for, but its metadata says "
                        f"{meta.get('device')!r} ({mpath.name if mpath.is_file() else '__meta__'})")
    d: dict[str, Any] = dict(raw)
    for k in ("weight_shift_in", "weight_shift_rec", "weight_shift_out", "dt"):
        if k in d and d[k].ndim != 0:
            raise _shape_err(k, d[k].shape, "() (a scalar)")
    spec = XyloSpec.from_dict(d, device=meta.get("device", "xylo-audio-v2"))
    return (spec, meta) if return_metadata else spec


def as_spec(obj: Any, device: str | None = None) -> XyloSpec:
    """An :class:`XyloSpec` from what a user holds: an ``XyloSpec`` (returned as is), a dict of
    Rockpool keys (Rockpool's ``mapper`` + ``global_quantize``/``channel_quantize`` output, an
    ``np.load`` result), or the path of a spec NPZ (:func:`load_spec`).

    ``device`` names the chip of a dict or a plain Rockpool NPZ (default ``"xylo-audio-v2"``);
    for an ``XyloSpec`` it must agree with the spec's own device.
    """
    if isinstance(obj, XyloSpec):
        if device is not None and device != obj.device:
            raise SpecError(f"device: the spec is for {obj.device!r}, not {device!r}")
        return obj
    if isinstance(obj, (str, os.PathLike)):
        return load_spec(obj, device=device)  # type: ignore[return-value]
    if isinstance(obj, Mapping) or hasattr(obj, "files"):  # dict or NpzFile
        d = {k: obj[k] for k in (obj.files if hasattr(obj, "files") else obj.keys())}
        return XyloSpec.from_dict(d, device=device or d.get("device") or "xylo-audio-v2")
    raise TypeError(f"expected an XyloSpec, a dict of Rockpool spec keys or a spec file path, "
                    f"got {type(obj).__name__}")
