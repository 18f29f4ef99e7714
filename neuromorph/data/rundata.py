"""The data a training run used, kept beside its network (``RUN/data.npz``).

Downstream stages read it instead of inventing a signal: ``quantize`` calibrates on the
training part, ``verify`` tests on the held-out part, and both report errors in the network's
units and — through the stored :class:`Scaling` — in the data's own units.

File layout (NumPy ``.npz``, no pickles): ``x_train`` (trials, T₁, M) and ``x_test``
(trials, T₂, M) in *network* units, ``offset`` and ``scale`` (M,) with
``x_data = x_net · scale + offset``, ``dt`` (s), and ``__meta__`` (JSON: format version, source,
channel names, split, how dt was known, resampling).  A run on its signal's first K principal
components (``train --max-channels K``, :mod:`neuromorph.data.pca`) adds ``pca_components``
(K, M), ``pca_mean`` (M,), ``pca_explained_variance`` (K,), ``pca_total_variance`` and
``x_test_original`` (trials, T₂, M: the held-out part in the data's units and channels); the
``x_*`` arrays and the scaling are then those of the K scores, and ``__meta__`` adds
``pca_channels`` (the M original names).
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from neuromorph.artifacts import atomic_write
from neuromorph.data.pca import PCA, ProjectedScaling, fit_pca, load_pca, pca_arrays, project_signal
from neuromorph.data.signal import OPERATING_STD, DataError, Scaling, Signal, fit_scaling, resample, split_signal

RUN_DATA_FILE = "data.npz"
RUN_DATA_FORMAT = 1


@dataclass(frozen=True)
class RunData:
    """Training and held-out signal of a run, in network units, with their scaling.

    Attributes
    ----------
    train, test : Signal
        Shapes (trials, T, M), sampled at the network's ``dt``, in network units.
    scaling : Scaling
        ``x_data = x_net · scale + offset``.
    split : str
        ``"trials"`` or ``"time"`` (see :func:`neuromorph.data.signal.split_signal`).
    test_fraction : float
    pca : PCA or None
        The components the signal was projected on (``train --max-channels``); ``train``,
        ``test`` and ``scaling`` are then those of the K scores.
    test_original : ndarray (trials, T₂, M) or None
        With ``pca``: the held-out part in the data's units and original channels.
    """

    train: Signal
    test: Signal
    scaling: Scaling
    split: str = "time"
    test_fraction: float = 0.2
    meta: dict = field(default_factory=dict)
    pca: Optional[PCA] = None
    test_original: Optional[np.ndarray] = None

    @property
    def data_scaling(self):
        """Network units → the data's units and channels: :attr:`scaling`, or with a PCA the
        :class:`~neuromorph.data.pca.ProjectedScaling` back to the M original channels."""
        return self.scaling if self.pca is None else ProjectedScaling(self.scaling, self.pca)

    @property
    def dt(self) -> float:
        return self.train.dt

    @property
    def n_channels(self) -> int:
        return self.train.n_channels

    @property
    def source(self) -> str:
        return self.train.source


def prepare_run_data(sig: Signal, dt: float, *, test_fraction: float = 0.2, center: bool = True,
                     target_std: float = OPERATING_STD, max_channels: Optional[int] = None) -> RunData:
    """Resample ``sig`` to the network step ``dt``, hold out the last ``test_fraction`` and
    scale both parts with the scaling fitted on the training part only (so the held-out error
    is an honest estimate).  With ``max_channels`` K, both parts are first replaced by their
    scores on the training part's first K principal components (:mod:`neuromorph.data.pca`)."""
    r = resample(sig, dt)
    train, test, how = split_signal(r, test_fraction)
    pca = original = None
    if max_channels is not None:
        pca = fit_pca(train.x.reshape(-1, train.n_channels), max_channels, train.channels, sig.source)
        original = test.x
        train, test = project_signal(train, pca), project_signal(test, pca)
    sc = fit_scaling(train, target_std, center)
    meta = {"dt_source": sig.dt_source, "data_dt": sig.dt, "center": bool(center), "target_std": float(target_std),
            **sig.meta}
    return RunData(train.with_x(sc.to_network(train.x)), test.with_x(sc.to_network(test.x)), sc, how,
                   float(test_fraction), meta, pca, original)


def save_run_data(path: Union[str, Path], rd: RunData) -> Path:
    """Write ``rd`` to ``path`` (a file, or a run directory that receives ``data.npz``) atomically."""
    p = Path(path)
    if p.is_dir():
        p = p / RUN_DATA_FILE
    meta = {"format_version": RUN_DATA_FORMAT, "source": rd.source, "channels": list(rd.train.channels),
            "split": rd.split, "test_fraction": rd.test_fraction, **rd.meta}
    arrays = {"x_train": rd.train.x, "x_test": rd.test.x, "offset": rd.scaling.offset, "scale": rd.scaling.scale,
              "dt": np.float64(rd.dt)}
    if rd.pca is not None:
        meta["pca_channels"] = list(rd.pca.channels)
        arrays.update(pca_arrays(rd.pca), x_test_original=rd.test_original)
    arrays["__meta__"] = np.array(json.dumps(meta, default=str))

    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    return atomic_write(p, write)


def load_run_data(path: Union[str, Path], required: bool = False) -> Optional[RunData]:
    """Read a run's ``data.npz`` (``path`` is the file or the run directory).

    Returns None when a run directory has no data file (a run on a built-in source) unless
    ``required``; a damaged file is always a :class:`DataError`."""
    p = Path(path)
    if p.is_dir():
        p = p / RUN_DATA_FILE
    if not p.is_file():
        if required:
            raise DataError(f"{p.parent} holds no {RUN_DATA_FILE} (the run was not trained on a data file); "
                            f"pass --data FILE")
        return None
    from neuromorph.arrayfile import check_npz

    check_npz(p, error=DataError)  # damaged headers, sizes beyond the data: refused before np.load
    try:
        with np.load(p, allow_pickle=False) as z:
            need = ("x_train", "x_test", "offset", "scale", "dt", "__meta__")
            missing = [k for k in need if k not in z.files]
            if missing:
                raise DataError(f"{p}: not a run data file (missing {', '.join(missing)})")
            meta = json.loads(str(z["__meta__"]))
            if not isinstance(meta, dict) or meta.get("format_version") != RUN_DATA_FORMAT:
                raise DataError(f"{p}: unsupported run data format {meta.get('format_version') if isinstance(meta, dict) else meta!r}")
            dt = float(z["dt"])
            chans = tuple(meta.get("channels") or ())
            src = str(meta.get("source", p.name))
            train = Signal(z["x_train"], dt, source=src, channels=chans, dt_source="file")
            test = Signal(z["x_test"], dt, source=src, channels=chans, dt_source="file")
            sc = Scaling(z["offset"], z["scale"])
            pca = load_pca({k: z[k] for k in z.files if k.startswith("pca_")}, meta.get("pca_channels") or ())
            original = z["x_test_original"] if pca is not None else None
    except DataError:
        raise
    except (ValueError, OSError, EOFError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        raise DataError(f"{p}: truncated or damaged run data file ({exc})") from None
    if not (train.n_channels == test.n_channels == sc.offset.size):
        raise DataError(f"{p}: channel counts disagree (train {train.n_channels}, test {test.n_channels}, "
                        f"scaling {sc.offset.size})")
    if pca is not None and (pca.k != sc.offset.size or original is None or original.shape[:2] != test.x.shape[:2]
                            or original.shape[2] != pca.m):
        raise DataError(f"{p}: PCA arrays disagree with the data ({pca.k} components, {sc.offset.size} channels, "
                        f"held-out original {None if original is None else original.shape})")
    rest = {k: v for k, v in meta.items()
            if k not in ("format_version", "source", "channels", "split", "test_fraction", "pca_channels")}
    return RunData(train, test, sc, str(meta.get("split", "time")), float(meta.get("test_fraction", 0.2)), rest,
                   pca, None if original is None else np.asarray(original, dtype=np.float64))
