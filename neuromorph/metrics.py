"""Metrics of coding quality, spiking statistics and learnt structure.

Conventions: time series are (T, N) or (T, M); decoders D are (M, N) with x̂ = D r.
"""
from __future__ import annotations

from typing import Optional

import numpy as np


def optimal_decoder(r: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Least-squares decoder D (M, N) minimising Σ_t ‖x_t − D r_t‖² (no intercept, no
    regularisation; the reference's MATLAB ``x/r``).  r (T, N), x (T, M)."""
    r = np.asarray(r, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if r.ndim != 2 or x.ndim != 2 or r.shape[0] != x.shape[0]:
        raise ValueError(f"r (T, N) and x (T, M) must share T; got {r.shape} and {x.shape}")
    sol, *_ = np.linalg.lstsq(r, x, rcond=None)
    return sol.T


def normalized_error(x: np.ndarray, x_hat: np.ndarray) -> float:
    """Σ_m Var_t(x_m − x̂_m) / Σ_m Var_t(x_m): the reference's normalised error variance
    (a constant bias is not penalised).  Both (T, M)."""
    x = np.asarray(x, dtype=np.float64)
    x_hat = np.asarray(x_hat, dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {x.shape} and {x_hat.shape}")
    den = np.var(x, axis=0).sum()
    if den == 0:
        raise ValueError("signal has zero variance; the normalised error is undefined")
    return float(np.var(x - x_hat, axis=0).sum() / den)


def mean_squared_error(x: np.ndarray, x_hat: np.ndarray) -> float:
    """mean_{t,m} (x − x̂)²: the paper's "mean-square error between input signal and signal
    estimate", in the signal's units squared (unlike :func:`normalized_error` it depends on the
    signal's scale, and a constant bias counts).  Both (T, M)."""
    x = np.asarray(x, dtype=np.float64)
    x_hat = np.asarray(x_hat, dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"x and x_hat must have the same shape, got {x.shape} and {x_hat.shape}")
    return float(np.mean((x - x_hat) ** 2))


def relative_rms_error(x: np.ndarray, x_hat: np.ndarray) -> float:
    """mean_m std_t(x̂ − x) / mean_m std_t(x): the Fig 5 code's relative RMS error."""
    return float(np.std(x_hat - x, axis=0).mean() / np.std(x, axis=0).mean())


def mean_rate_hz(spike_count: float, n_neurons: int, duration_s: float) -> float:
    """Population mean firing rate in Hz."""
    return float(spike_count) / (n_neurons * duration_s)


def voltage_variance(V: np.ndarray) -> float:
    """Mean over neurons of the temporal variance of the membrane potential V (T, N)."""
    return float(np.var(V, axis=0).mean())


def fano_factor(counts: np.ndarray, min_mean: float = 1.0) -> float:
    """Mean Fano factor over neurons. ``counts`` (trials, N): spike counts per trial.

    Neurons with mean count ≤ ``min_mean`` are excluded (as in the reference); NaN if none left.
    """
    counts = np.asarray(counts, dtype=np.float64)
    mu = counts.mean(axis=0)
    keep = mu > min_mean
    if not keep.any():
        return float("nan")
    return float((counts[:, keep].var(axis=0, ddof=1) / mu[keep]).mean())


def isi_cv(spikes_per_trial: list, n_neurons: int, min_spikes: int = 3) -> float:
    """Mean coefficient of variation of inter-spike intervals.

    ``spikes_per_trial``: list of (T, N) 0/1 rasters; ISIs of each neuron are pooled over trials.
    """
    cvs = []
    for i in range(n_neurons):
        isis = []
        for sp in spikes_per_trial:
            t = np.flatnonzero(sp[:, i])
            if t.size > 1:
                isis.append(np.diff(t))
        if isis:
            d = np.concatenate(isis).astype(np.float64)
            if d.size >= min_spikes:
                cvs.append(d.std() / d.mean())
    return float(np.mean(cvs)) if cvs else float("nan")


def weight_distance(Omega: np.ndarray, target: np.ndarray) -> float:
    """Scale-invariant distance ‖Ω − s*G‖² / ‖Ω‖² with s* = ⟨Ω, G⟩/⟨G, G⟩ (Frobenius, diagonal
    included), as in the reference.  G is the predicted optimum, e.g. −F Fᵀ or −F D."""
    Omega = np.asarray(Omega, dtype=np.float64)
    G = np.asarray(target, dtype=np.float64)
    s = np.sum(Omega * G) / np.sum(G * G)
    return float(np.sum((Omega - s * G) ** 2) / np.sum(Omega ** 2))


def predicted_recurrent(F: np.ndarray, D: Optional[np.ndarray] = None) -> np.ndarray:
    """The optimal recurrent structure: −F Fᵀ (N, N), or −F D when a decoder D (M, N) is given."""
    F = np.asarray(F, dtype=np.float64)
    return -(F @ F.T) if D is None else -(F @ D)


def ei_balance(I_E: np.ndarray, I_I: np.ndarray) -> dict:
    """EI balance of synaptic currents (T, N): correlation over time between E and −I per neuron
    (mean), and the mean ratio of net to excitatory current (0 = perfect cancellation).

    Currents are low-pass filtered by nothing here; pass filtered currents for smooth traces.
    """
    I_E = np.asarray(I_E, dtype=np.float64)
    I_I = np.asarray(I_I, dtype=np.float64)
    corrs = []
    for i in range(I_E.shape[1]):
        a, b = I_E[:, i], -I_I[:, i]
        if a.std() > 0 and b.std() > 0:
            corrs.append(np.corrcoef(a, b)[0, 1])
    e_mean = I_E.mean(axis=0)
    net = (I_E + I_I).mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(e_mean > 0, np.abs(net) / e_mean, np.nan)
    return {"ei_correlation": float(np.mean(corrs)) if corrs else float("nan"),
            "net_to_excitation": float(np.nanmean(ratio)) if np.isfinite(ratio).any() else float("nan")}


def angular_gaps_deg(F: np.ndarray) -> np.ndarray:
    """For a 2-D input space: sorted gaps (degrees) between neighbouring directions of F's rows."""
    F = np.asarray(F, dtype=np.float64)
    if F.shape[1] != 2:
        raise ValueError("angular gaps need F with 2 columns (2-D inputs)")
    ang = np.sort(np.degrees(np.arctan2(F[:, 1], F[:, 0])) % 360.0)
    return np.diff(np.concatenate([ang, ang[:1] + 360.0]))
