r"""Recurrent connectivity masks: which lateral connections Ω_ik an SCN may have.

A chip with a recurrent fan-out limit (Xylo Audio 2: 64 targets per hidden neuron,
docs/xylo_integer_update.md §1) cannot hold a dense Ω above 64 neurons.  The remedy is the
paper's Fig 7B setting: learn under a fixed connectivity mask that the plasticity respects
(masked weights stay exactly 0 through learning, :func:`neuromorph.sim.simulator.learn`'s
``rec_mask``).

Orientation is the paper's: ``mask[i, k]`` True = the connection k → i (``Omega[i, k]``) exists.
The fan-out of source neuron k is ``mask[:, k].sum()`` **including the diagonal**: the mapping
(``quantization.mapping``, method ``"scn"``) carries the self-reset Ω_kk as the chip's
subtractive reset plus a residual self-weight ``w_rec[k, k]`` that is non-zero in general, and
the fit check (``quantization.fit_check``) counts every non-zero entry of a source's row of
the chip's ``weights_rec`` — the self-connection included.  So a fan-out budget K leaves K − 1
lateral targets.

Choice (:func:`fanout_mask`): the learnt optimum is Ω* = −F Fᵀ (Brendel et al. 2020), so the
connections that matter most are the pairs with the largest |F_i·F_k|.  The mask is chosen
symmetric (k → i kept iff i → k kept), greedily over all pairs in order of |F_i·F_k|, each
neuron taking partners until its K − 1 lateral slots are full.  Symmetric because Ω* is, and
because the mapping rounds near-symmetric pairs to one integer (an asymmetric mask would let
that averaging put a weight where the mask has none).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from numba import njit


@njit(cache=True)
def _greedy_pairs(order_i, order_k, n, lateral):
    mask = np.zeros((n, n), dtype=np.bool_)
    deg = np.zeros(n, dtype=np.int64)
    full = 0
    for q in range(order_i.shape[0]):
        i = order_i[q]
        k = order_k[q]
        if deg[i] < lateral and deg[k] < lateral:
            mask[i, k] = True
            mask[k, i] = True
            deg[i] += 1
            deg[k] += 1
            if deg[i] == lateral:
                full += 1
            if deg[k] == lateral:
                full += 1
            if full >= n - 1:
                break
    for i in range(n):
        mask[i, i] = True
    return mask


def fanout_mask(F: np.ndarray, max_fanout: int) -> np.ndarray:
    """Symmetric connectivity mask with at most ``max_fanout`` targets per source (self included).

    Parameters
    ----------
    F : (N, M) encoders (paper orientation); the strength of pair (i, k) is |F_i·F_k|.
    max_fanout : K ≥ 1, the chip's recurrent fan-out limit (counts the self-connection).

    Returns
    -------
    mask : (N, N) bool, ``mask[i, k]`` = connection k → i kept; diagonal True; symmetric;
        ``mask.sum(0) <= K``.  K ≥ N gives the dense mask.
    """
    F = np.asarray(F, dtype=np.float64)
    if F.ndim != 2:
        raise ValueError(f"F must be (N, M), got shape {F.shape}")
    k = int(max_fanout)
    if k != max_fanout or k < 1:
        raise ValueError(f"max_fanout must be an integer >= 1 (it counts the self-connection), got {max_fanout!r}")
    n = F.shape[0]
    if k >= n:
        return np.ones((n, n), dtype=bool)
    iu, ku = np.triu_indices(n, 1)
    strength = np.abs(np.einsum("pm,pm->p", F[iu], F[ku]))
    # strongest first; ties broken by pair index (stable), so the mask is deterministic
    order = np.argsort(-strength, kind="stable")
    return _greedy_pairs(iu[order].astype(np.int64), ku[order].astype(np.int64), n, k - 1)


def fanout(mask_or_omega: np.ndarray) -> np.ndarray:
    """Targets per source neuron, (N,): non-zero entries of each column (self included), as the
    fit check counts the chip's ``weights_rec`` rows (the transpose)."""
    a = np.asarray(mask_or_omega)
    return (a != 0).sum(axis=0).astype(np.int64)


def apply_mask(Omega: np.ndarray, mask: Optional[np.ndarray]) -> np.ndarray:
    """``Omega`` with the masked-out entries set to exactly 0 (a copy); ``None`` = unchanged copy."""
    out = np.array(Omega, dtype=np.float64, copy=True)
    if mask is not None:
        out[~np.asarray(mask, dtype=bool)] = 0.0
    return out


def check_mask(mask: np.ndarray, n: int) -> np.ndarray:
    """Validate a user's mask: (N, N), boolean or 0/1, diagonal kept (the self-reset is part of
    the SCN).  Returns it as a C-contiguous uint8 array (what the kernel reads)."""
    m = np.asarray(mask)
    if m.shape != (n, n):
        raise ValueError(f"rec_mask must have shape (N, N) = ({n}, {n}), got {m.shape}")
    if m.dtype != bool and not np.all((m == 0) | (m == 1)):
        raise ValueError("rec_mask must be boolean (or 0/1)")
    if not np.all(np.diag(m)):
        raise ValueError("rec_mask must keep the diagonal: Omega_kk is the neuron's own reset")
    return np.ascontiguousarray(m, dtype=np.uint8)


def structural_mask(Omega: np.ndarray) -> np.ndarray:
    """The mask a masked network was learnt under: its non-zero entries plus the diagonal."""
    m = np.asarray(Omega) != 0
    np.fill_diagonal(m, True)
    return m

