"""Signals to chip input events and chip read-out back to signals, from a quantize output QDIR
(``neuromorph encode``, ``neuromorph emulate --decode``).

``encode`` writes ``RASTER.npy`` — the integer input events the deployed chip expects, one row
per chip step (the network's ``dt``), (T, channels) or (trials, T, channels) — and beside it
``RASTER.json``, which records how the data file was sampled, so that a decoded estimate can be
put back on the file's own time grid: row t of ``decoded.npy`` is the chip's estimate of the
file's row t, in the file's units, exactly the ``decoded_emulated.npy`` that ``verify --data``
writes for the same file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from neuromorph.artifacts import atomic_write_bytes, atomic_write_text
from neuromorph.backends.base import Backend, backend_for_device
from neuromorph.data import Scaling
from neuromorph.quant.fakequant import QDIR_NETWORK, load_quantized
from neuromorph.stages.on_data import qdir_scaling, signal_from_file, to_user_grid

RASTER_META_FORMAT = 1


@dataclass(frozen=True)
class Chip:
    """A deployment read from QDIR: the integer network, its backend, the deployable (Xylo: the
    spec) and the data scaling (None for a run without data: identity)."""

    qdir: Path
    q: Any
    backend: Backend
    deployable: Any
    scaling: Optional[Scaling]


def load_chip(qdir: Union[str, Path]) -> Chip:
    """The deployment in ``qdir``; a FileNotFoundError / ValueError naming what is missing."""
    qdir = Path(qdir)
    if not qdir.is_dir():
        raise FileNotFoundError(f"quantization directory not found: {qdir}")
    q = load_quantized(qdir / QDIR_NETWORK)
    meta_path = qdir / "quantization.json"
    device = json.loads(meta_path.read_text()).get("device") if meta_path.is_file() else None
    backend = backend_for_device(device or q.target)
    deployable = backend.load_deployable(qdir)
    if deployable is None:
        raise ValueError(f"{qdir} holds no deployable network for {device or q.target!r} (no spec.npz): "
                         f"quantize for a Xylo target")
    return Chip(qdir, q, backend, deployable, qdir_scaling(qdir))


def encode_file(chip: Chip, data: Union[str, Path], dt: Optional[float] = None) -> tuple:
    """Input raster of a data file for ``chip`` and the sidecar metadata.

    Returns
    -------
    (raster, meta) : (ndarray int64 (T, C) or (trials, T, C), dict)
        C = the deployable's input channels (Xylo: 2 per signal dimension, ± events; a front-end
        network: the AFE's 16 event channels of the sound file).
    """
    q = chip.q
    from neuromorph.data import load_run_data

    rd = load_run_data(chip.qdir)
    if rd is not None and rd.meta.get("frontend"):  # sound through the run's audio front-end: its events
        from neuromorph.stages.frontend import frontend_user_signal

        sig = frontend_user_signal(data, rd, dt=dt)
    else:
        sig = signal_from_file(data, q.dt, q.n_inputs, chip.scaling, dt=dt)
    rasters = np.stack([chip.backend.encode(q, tr) for tr in sig.x]).astype(np.int64)
    meta = {"format_version": RASTER_META_FORMAT, "qdir": str(chip.qdir), "source": sig.source,
            "dt_network_s": sig.dt, "dt_file_s": sig.dt_user, "file_steps": int(sig.reference.shape[1]),
            "trials": int(sig.x.shape[0]), "two_d": bool(sig.two_d), "channels": list(sig.channels),
            "scaling": {"offset": sig.scaling.offset.tolist(), "scale": sig.scaling.scale.tolist()}}
    return (rasters[0] if sig.two_d else rasters), meta


def sidecar_path(raster_path: Union[str, Path]) -> Path:
    """``RASTER.json`` beside ``RASTER.npy``."""
    return Path(raster_path).with_suffix(".json")


def write_raster(path: Union[str, Path], raster: np.ndarray, meta: dict) -> None:
    path = Path(path)
    if path.suffix != ".npy":
        raise ValueError(f"--out must name a .npy file, got {path.name}")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"directory of --out not found: {path.parent}")
    atomic_write_bytes(path, lambda fh: np.save(fh, raster))
    atomic_write_text(sidecar_path(path), json.dumps(meta, indent=1) + "\n")


def read_sidecar(raster_path: Union[str, Path]) -> Optional[dict]:
    p = sidecar_path(raster_path)
    if not p.is_file():
        return None
    try:
        meta = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p}: not a raster description ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format_version") != RASTER_META_FORMAT:
        raise ValueError(f"{p}: unsupported raster description (format {meta.get('format_version') if isinstance(meta, dict) else '?'})")
    return meta


def emulate_trials(backend: Backend, deployable: Any, raster: np.ndarray) -> list:
    """The backend's emulator on each trial of ``raster`` ((T, C) or (trials, T, C)) from reset;
    one recording (all states) per trial."""
    trials = raster[None] if raster.ndim == 2 else raster
    return [backend.emulate(deployable, r, record=True) for r in trials]


def decode_recordings(chip: Chip, recordings: list, meta: Optional[dict]) -> tuple:
    """The chip's estimate from its recordings, in data units.

    With the encoder's sidecar ``meta``: on the data file's time grid and in its layout (exactly
    ``verify --data``'s ``decoded_emulated.npy``); without it: one row per chip step.

    Returns
    -------
    (decoded, where) : (ndarray, str) — ``where`` says which grid the rows are on.
    """
    q = chip.q
    y = np.stack([chip.backend.decode(q, rec) for rec in recordings])
    scaling = chip.scaling or Scaling.identity(q.n_inputs)
    if meta is None:
        out = scaling.to_data(y)
        return (out[0] if len(recordings) == 1 else out), f"one row per chip step ({q.dt:g} s)"
    if meta.get("trials") != len(recordings):
        raise ValueError(f"the raster has {len(recordings)} trial(s), its description says {meta.get('trials')}")
    sc = Scaling(np.asarray(meta["scaling"]["offset"]), np.asarray(meta["scaling"]["scale"]))
    if getattr(chip.scaling, "pca", None) is not None:
        sc = chip.scaling  # a PCA run: the scores' scaling (as recorded) and back to the M channels
    out = to_user_grid(y, q.dt, float(meta["dt_file_s"]), int(meta["file_steps"]), sc)
    return (out[0] if meta.get("two_d") else out), f"the rows of {meta['source']} ({meta['dt_file_s']:g} s)"
