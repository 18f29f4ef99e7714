"""Spike coding network (SCN) data structures and their versioned file format.

Orientation follows the paper (Brendel et al. 2020), not the authors' MATLAB code:

* ``F``      (N, M)  feed-forward weights, row ``i`` = neuron ``i``'s encoding vector.
* ``Omega``  (N, N)  recurrent weights, ``Omega[i, k]`` = synapse from ``k`` onto ``i``;
  the diagonal holds the self-reset (negative).
* ``D``      (M, N)  linear decoder, ``x_hat = D @ r``.
* ``thresholds`` (N,) firing thresholds ``T_i`` (dimensionless voltage units).
* ``lam``    leak rate λ in s⁻¹ (membrane, read-out and signal filter share it).
* ``dt``     time step in s.

Voltages are dimensionless: one spike of neuron ``k`` moves ``V`` by the column
``Omega[:, k]`` and the input adds ``dt * F @ c`` per step (the code's discretisation of
Eq 1, see ``simulator.py``).

Files: ``save_network(path)`` writes one ``.npz`` holding the arrays plus a JSON metadata
string (``format``, ``format_version``, ``kind``, scalars); ``load_network`` checks both
and every shape, and raises :class:`NetworkFileError` with a message naming the problem.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Union

import numpy as np

from neuromorph.artifacts import atomic_write_bytes, json_default

FORMAT_NAME = "neuromorph-network"
FORMAT_VERSION = 1


class NetworkFileError(ValueError):
    """A network file is missing, of an unknown version, or internally inconsistent."""


class NetworkShapeError(ValueError):
    """Arrays of a network do not fit together (or contain NaN/inf)."""


def _as_f64(name: str, a: Any, ndim: int) -> np.ndarray:
    arr = np.array(a, dtype=np.float64)
    if arr.ndim != ndim:
        raise NetworkShapeError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise NetworkShapeError(f"{name} contains {bad} non-finite value(s) (NaN or inf)")
    return arr


@dataclass
class SCN:
    """A spike coding network without Dale's law (the paper's Figs 2, 3, 5).

    Attributes are documented in the module docstring; ``v_noise`` is the std of the
    Gaussian voltage noise added to every neuron every step, ``t_noise`` the std of the
    threshold noise used only in the spike-selection comparison (both dimensionless).
    """

    F: np.ndarray
    Omega: np.ndarray
    D: np.ndarray
    thresholds: np.ndarray
    lam: float = 50.0
    dt: float = 1e-3
    v_noise: float = 0.001
    t_noise: float = 0.01
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.F = _as_f64("F", self.F, 2)
        n, m = self.F.shape
        self.Omega = _as_f64("Omega", self.Omega, 2)
        if self.Omega.shape != (n, n):
            raise NetworkShapeError(f"Omega must have shape (N, N) = ({n}, {n}) to match F, got {self.Omega.shape}")
        self.D = _as_f64("D", self.D, 2)
        if self.D.shape != (m, n):
            raise NetworkShapeError(f"D must have shape (M, N) = ({m}, {n}) to match F, got {self.D.shape}")
        th = np.array(self.thresholds, dtype=np.float64)
        if th.ndim == 0:
            th = np.full(n, float(th))
        self.thresholds = _as_f64("thresholds", th, 1)
        if self.thresholds.shape != (n,):
            raise NetworkShapeError(f"thresholds must have shape (N,) = ({n},), got {self.thresholds.shape}")
        for name in ("lam", "dt", "v_noise", "t_noise"):
            v = float(getattr(self, name))
            if not np.isfinite(v) or v < 0 or (name in ("lam", "dt") and v == 0):
                raise NetworkShapeError(f"{name} must be a finite positive number, got {v}")
            setattr(self, name, v)
        if self.lam * self.dt >= 1.0:
            raise NetworkShapeError(f"lam*dt = {self.lam * self.dt:g} must be < 1 (forward-Euler leak factor 1-lam*dt)")

    @property
    def n_neurons(self) -> int:
        return self.F.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.F.shape[1]

    @property
    def decay(self) -> float:
        """One-step leak factor ``1 - lam*dt``."""
        return 1.0 - self.lam * self.dt

    def copy(self) -> "SCN":
        return replace(self, F=self.F.copy(), Omega=self.Omega.copy(), D=self.D.copy(),
                       thresholds=self.thresholds.copy(), meta=dict(self.meta))


@dataclass
class EINetwork:
    """An SCN with separate excitatory and inhibitory populations (Dale's law, Fig 4).

    Shapes (N_E excitatory, N_I inhibitory, M signals):

    * ``F_E`` (N_E, M): input → E.  I neurons receive no direct input.
    * ``W_EE`` (N_E, N_E) E→E (≥ 0 off-diagonal; diagonal = fixed E self-reset, negative).
    * ``W_EI`` (N_I, N_E) E→I (≥ 0).
    * ``W_IE`` (N_E, N_I) I→E (≤ 0).
    * ``W_II`` (N_I, N_I) I→I (≤ 0; diagonal = I self-reset).
    * ``D_E`` (M, N_E), ``D_I`` (M, N_I): decoders of each population.
    * ``T_E`` (N_E,), ``T_I`` (N_I,): thresholds.
    * ``refractory``: steps a neuron stays silent after a spike (the code uses 10).
    """

    F_E: np.ndarray
    W_EE: np.ndarray
    W_EI: np.ndarray
    W_IE: np.ndarray
    W_II: np.ndarray
    D_E: np.ndarray
    D_I: np.ndarray
    T_E: np.ndarray
    T_I: np.ndarray
    lam: float = 50.0
    dt: float = 1e-4
    v_noise_E: float = 0.001
    v_noise_I: float = 0.002
    t_noise: float = 0.02
    refractory: int = 10
    e_self_reset: float = -0.02
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.F_E = _as_f64("F_E", self.F_E, 2)
        ne, m = self.F_E.shape
        self.W_EI = _as_f64("W_EI", self.W_EI, 2)
        ni = self.W_EI.shape[0]
        expect = {"W_EE": (ne, ne), "W_EI": (ni, ne), "W_IE": (ne, ni), "W_II": (ni, ni),
                  "D_E": (m, ne), "D_I": (m, ni)}
        for name, shp in expect.items():
            arr = _as_f64(name, getattr(self, name), 2)
            if arr.shape != shp:
                raise NetworkShapeError(f"{name} must have shape {shp} (N_E={ne}, N_I={ni}, M={m}), got {arr.shape}")
            setattr(self, name, arr)
        for name, n in (("T_E", ne), ("T_I", ni)):
            th = np.array(getattr(self, name), dtype=np.float64)
            if th.ndim == 0:
                th = np.full(n, float(th))
            th = _as_f64(name, th, 1)
            if th.shape != (n,):
                raise NetworkShapeError(f"{name} must have shape ({n},), got {th.shape}")
            setattr(self, name, th)
        self.refractory = int(self.refractory)
        if self.refractory < 0:
            raise NetworkShapeError(f"refractory must be >= 0 steps, got {self.refractory}")
        if self.lam * self.dt >= 1.0:
            raise NetworkShapeError(f"lam*dt = {self.lam * self.dt:g} must be < 1")

    @property
    def n_exc(self) -> int:
        return self.F_E.shape[0]

    @property
    def n_inh(self) -> int:
        return self.W_EI.shape[0]

    @property
    def n_inputs(self) -> int:
        return self.F_E.shape[1]

    def copy(self) -> "EINetwork":
        kw = {f.name: (getattr(self, f.name).copy() if isinstance(getattr(self, f.name), np.ndarray)
                       else getattr(self, f.name)) for f in fields(self)}
        kw["meta"] = dict(self.meta)
        return EINetwork(**kw)


Network = Union[SCN, EINetwork]

_ARRAYS = {
    "SCN": ("F", "Omega", "D", "thresholds"),
    "EINetwork": ("F_E", "W_EE", "W_EI", "W_IE", "W_II", "D_E", "D_I", "T_E", "T_I"),
}
_CLASSES = {"SCN": SCN, "EINetwork": EINetwork}


def save_network(net: Network, path: Union[str, Path]) -> Path:
    """Write ``net`` to ``path`` (``.npz``; arrays + JSON metadata, atomically)."""
    kind = type(net).__name__
    arrays = {name: getattr(net, name) for name in _ARRAYS[kind]}
    scalars = {f.name: getattr(net, f.name) for f in fields(net)
               if f.name not in _ARRAYS[kind] and f.name != "meta"}
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "kind": kind,
            "scalars": scalars, "meta": net.meta}
    payload = dict(arrays)
    payload["__meta__"] = np.array(json.dumps(meta, default=json_default))
    return atomic_write_bytes(path, lambda fh: np.savez(fh, **payload))


def load_network(path: Union[str, Path]) -> Network:
    """Read a network written by :func:`save_network`.

    Raises :class:`NetworkFileError` for a missing file, a file that is not a neuromorph
    network, an unknown ``format_version`` or a missing/inconsistent array.
    """
    path = Path(path)
    if not path.is_file():
        raise NetworkFileError(f"network file not found: {path}")
    try:
        from neuromorph.arrayfile import check_npz

        check_npz(path)  # damaged headers, sizes larger than the data: refused before np.load trusts them
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as exc:  # zipfile/ValueError: not an npz
        raise NetworkFileError(f"{path}: not a readable .npz network file ({exc})") from None
    if "__meta__" not in data:
        raise NetworkFileError(f"{path}: no '__meta__' entry; not a neuromorph network file")
    try:
        meta = json.loads(str(data["__meta__"]))
    except json.JSONDecodeError as exc:
        raise NetworkFileError(f"{path}: metadata is not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise NetworkFileError(f"{path}: metadata is not a JSON object; not a neuromorph network file")
    if meta.get("format") != FORMAT_NAME:
        raise NetworkFileError(f"{path}: format is {meta.get('format')!r}, expected {FORMAT_NAME!r}")
    ver = meta.get("format_version")
    if ver != FORMAT_VERSION:
        raise NetworkFileError(f"{path}: unsupported format_version {ver!r} (this neuromorph reads version {FORMAT_VERSION})")
    kind = meta.get("kind")
    if not isinstance(kind, str) or kind not in _CLASSES:
        raise NetworkFileError(f"{path}: unknown network kind {kind!r} (known: {sorted(_CLASSES)})")
    missing = [a for a in _ARRAYS[kind] if a not in data]
    if missing:
        raise NetworkFileError(f"{path}: missing array(s) {missing} for a {kind}")
    kw = {a: data[a] for a in _ARRAYS[kind]}
    try:
        kw.update(meta.get("scalars", {}))
        kw["meta"] = meta.get("meta", {})
        return _CLASSES[kind](**kw)
    except (NetworkShapeError, TypeError, ValueError, AttributeError) as exc:
        raise NetworkFileError(f"{path}: inconsistent network: {exc}") from None
