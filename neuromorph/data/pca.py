"""Fewer channels than the signal has: its first K principal components (``train --max-channels K``).

A chip takes at most so many signal dimensions (Xylo: 16 input lines = 8 signed channels on
Xylo Audio 2, 8 outputs there), and a network codes K dimensions better with the same neurons
than M > K.  So a signal x (M channels) can be replaced by its scores on the K directions of
largest variance of the *training* part::

    z = (x − mean) · Vᵀ          (…, K)   V: (K, M), orthonormal rows
    x̃ = z · V + mean             (…, M)   the best rank-K affine reconstruction of x

The network is trained, quantized and verified on z; :class:`ProjectedScaling` takes its
estimate back to the M original channels in the data's units, so ``verify`` reports (and writes)
the reconstruction of the user's own channels.  The error then has two parts: what the network
loses coding z, and what the K components cannot hold (the *floor*, ``1 − variance
explained``, on the training part; measured again on the held-out part).

The fit is NumPy's SVD of the centred training samples (no iteration, no randomness).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from neuromorph.data.signal import DataError, Scaling, Signal


@dataclass(frozen=True)
class PCA:
    """Principal components of a training signal.

    Attributes
    ----------
    mean : ndarray (M,)
        Training mean per channel, data units.
    components : ndarray (K, M)
        The K leading right singular vectors (orthonormal rows), largest variance first; the
        sign of each is fixed so its largest-magnitude entry is positive (reproducible files).
    explained_variance : ndarray (K,)
        Variance of the training scores along each component (data units²).
    total_variance : float
        Σ of the training channels' variances (data units²).
    channels : tuple of str
        The M original channel names.
    """

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    total_variance: float
    channels: tuple = ()

    @property
    def k(self) -> int:
        return int(self.components.shape[0])

    @property
    def m(self) -> int:
        return int(self.components.shape[1])

    @property
    def variance_explained(self) -> float:
        """Fraction of the training variance the K components hold (0..1)."""
        return float(np.sum(self.explained_variance) / self.total_variance)

    def project(self, x: np.ndarray) -> np.ndarray:
        """Data (…, M) → scores (…, K)."""
        return (np.asarray(x, dtype=np.float64) - self.mean) @ self.components.T

    def reconstruct(self, z: np.ndarray) -> np.ndarray:
        """Scores (…, K) → data (…, M)."""
        return np.asarray(z, dtype=np.float64) @ self.components + self.mean

    def pc_names(self) -> tuple:
        return tuple(f"pc{i + 1}" for i in range(self.k))

    def to_dict(self) -> dict:
        """Summary for metrics and reports (no arrays but the per-component fractions)."""
        return {"k": self.k, "m": self.m, "channels": list(self.channels),
                "variance_explained": self.variance_explained,
                "component_variance_fraction": [float(v / self.total_variance) for v in self.explained_variance]}


def check_max_channels(k, m: int, source: str = "signal") -> int:
    """``k`` as an int in 1..M, else a :class:`DataError` naming ``train.max_channels (--max-channels)``."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise DataError(f"train.max_channels (--max-channels) must be an integer >= 1, got {k!r}")
    if k > m:
        raise DataError(f"train.max_channels (--max-channels) = {k} > the {m} channel(s) of {source}; "
                        f"give at most {m} (or drop the flag)")
    return int(k)


def fit_pca(x: np.ndarray, k: int, channels: Sequence[str] = (), source: str = "signal") -> PCA:
    """The first ``k`` principal components of samples ``x`` (n, M) (data units).

    Raises
    ------
    DataError
        ``k`` outside 1..M, or a signal whose first ``k`` components include one of zero
        variance (nothing to code along it).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise DataError(f"{source}: PCA needs samples of shape (n, M), got {x.shape}")
    k = check_max_channels(k, x.shape[1], source)
    mean = x.mean(axis=0)
    xc = x - mean
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    var = s ** 2 / x.shape[0]
    total = float(np.var(x, axis=0).sum())
    comps = vt[:k].copy()
    # a sign convention, so the same data always writes the same components
    flip = np.sign(comps[np.arange(k), np.argmax(np.abs(comps), axis=1)])
    comps *= flip[:, None]
    if total <= 0 or var[k - 1] <= 1e-12 * total:
        raise DataError(f"{source}: only {int(np.sum(var > 1e-12 * max(total, 1e-300)))} direction(s) of the signal "
                        f"vary; train.max_channels (--max-channels) = {k} asks for more")
    names = tuple(channels) if channels else tuple(f"x{i + 1}" for i in range(x.shape[1]))
    return PCA(mean, comps, var[:k].copy(), total, names)


def project_signal(sig: Signal, pca: PCA) -> Signal:
    """``sig`` (trials, T, M) as its K component scores, channels ``pc1 … pcK``."""
    return sig.with_x(pca.project(sig.x), channels=pca.pc_names())


class ProjectedScaling:
    """Network units (K scores, scaled) ↔ the M original channels in data units.

    Duck-types :class:`~neuromorph.data.signal.Scaling` where a signal is taken to or from the
    user's units: ``to_network`` (…, M) → (…, K), ``to_data`` (…, K) → (…, M).  ``offset`` and
    ``scale`` are those of the K scores (what the chip's encoder sees)."""

    def __init__(self, scaling: Scaling, pca: PCA):
        if scaling.offset.size != pca.k:
            raise DataError(f"scaling has {scaling.offset.size} channels, the PCA {pca.k} components")
        self.scaling = scaling
        self.pca = pca

    @property
    def offset(self) -> np.ndarray:
        return self.scaling.offset

    @property
    def scale(self) -> np.ndarray:
        return self.scaling.scale

    @property
    def n_data_channels(self) -> int:
        return self.pca.m

    def to_network(self, x: np.ndarray) -> np.ndarray:
        return self.scaling.to_network(self.pca.project(x))

    def to_data(self, x_net: np.ndarray) -> np.ndarray:
        return self.pca.reconstruct(self.scaling.to_data(x_net))


def _nerr(x: np.ndarray, y: np.ndarray) -> float:
    x = x.reshape(-1, x.shape[-1])
    y = y.reshape(-1, y.shape[-1])
    return float(np.sum(np.var(x - y, axis=0)) / np.sum(np.var(x, axis=0)))


def pca_report(ps: ProjectedScaling, x_net: np.ndarray, estimates_net: dict, reference: np.ndarray) -> dict:
    """What the K-dimensional coding costs, for ``verify``.

    Parameters
    ----------
    ps : the run's projected scaling.
    x_net : (trials, T, K) the coded scores in network units (the models' input).
    estimates_net : name → (trials, T, K) model estimates in network units.
    reference : (…, M) the tested signal in the data's units (its own grid).

    Returns
    -------
    dict: ``k``, ``m``, ``variance_explained`` (training part), ``variance_explained_test``
    (1 − the floor), ``error_floor`` (normalised error of the best rank-K reconstruction of
    ``reference``: no network can do better on the M channels), and ``error_<name>_pc``: the
    normalised error of each estimate in the K-space (the scores in PC units).
    """
    z = ps.scaling.to_data(x_net)
    rec = ps.pca.reconstruct(ps.pca.project(reference))
    floor = _nerr(np.asarray(reference, dtype=np.float64), rec)
    out = {**ps.pca.to_dict(), "variance_explained_test": 1.0 - floor, "error_floor": floor}
    for name, y in estimates_net.items():
        out[f"error_{name}_pc"] = _nerr(z, ps.scaling.to_data(y))
    return out


def load_pca(arrays: dict, channels: Sequence[str]) -> Optional[PCA]:
    """The :class:`PCA` stored in a run data file's arrays (``pca_*``), or None."""
    if "pca_components" not in arrays:
        return None
    comps = np.asarray(arrays["pca_components"], dtype=np.float64)
    mean = np.asarray(arrays["pca_mean"], dtype=np.float64)
    ev = np.asarray(arrays["pca_explained_variance"], dtype=np.float64)
    total = float(arrays["pca_total_variance"])
    if comps.ndim != 2 or mean.shape != (comps.shape[1],) or ev.shape != (comps.shape[0],) or not total > 0:
        raise DataError(f"PCA arrays of inconsistent shapes: components {comps.shape}, mean {mean.shape}, "
                        f"variances {ev.shape}")
    return PCA(mean, comps, ev, total, tuple(channels))


def pca_arrays(pca: PCA) -> dict:
    """The arrays :func:`load_pca` reads."""
    return {"pca_components": pca.components, "pca_mean": pca.mean, "pca_explained_variance": pca.explained_variance,
            "pca_total_variance": np.float64(pca.total_variance)}
