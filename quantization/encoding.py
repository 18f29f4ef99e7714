"""Analog signals ↔ the chip's event channels.

Input: a signed per-step input ``u = dt·c`` (T, M) becomes event counts on ± channel pairs
(channel ``2j`` carries the positive part of dimension j, ``2j+1`` the negative part) with a
first-order sigma-delta modulator: the running quantisation error is fed back, so the events
deliver ``g·u`` with an error that never accumulates beyond ±½ event, and at most
``max_events`` per channel per step.  Output: the read-out neurons' membrane in integer units
divided by the read-out scale.
"""
from __future__ import annotations

import numpy as np


def encode_signed_events(u: np.ndarray, gain: float, max_events: int = 15) -> np.ndarray:
    """Sigma-delta encode ``u`` (T, M) at ``gain`` events per unit into counts (T, 2M) int64."""
    u = np.asarray(u, dtype=np.float64)
    if u.ndim != 2:
        raise ValueError(f"u must be (time steps, dimensions), got shape {u.shape}")
    if not np.all(np.isfinite(u)):
        raise ValueError("input contains NaN or inf")
    if not (np.isfinite(gain) and gain > 0):
        raise ValueError(f"gain must be > 0, got {gain}")
    T, M = u.shape
    out = np.zeros((T, 2 * M), dtype=np.int64)
    err = np.zeros(M)
    target = gain * u
    for t in range(T):
        want = target[t] + err
        n = np.clip(np.floor(want + 0.5), -max_events, max_events)
        err = want - n
        out[t, 0::2] = np.where(n > 0, n, 0)
        out[t, 1::2] = np.where(n < 0, -n, 0)
    return out


def decode_signed_events(counts: np.ndarray, gain: float) -> np.ndarray:
    """Inverse of :func:`encode_signed_events` (up to its quantisation): (T, 2M) → (T, M)."""
    counts = np.asarray(counts)
    return (counts[:, 0::2] - counts[:, 1::2]) / gain


def saturation_fraction(counts: np.ndarray, max_events: int = 15) -> float:
    """Fraction of channel-steps at the event limit (where the encoder clips)."""
    counts = np.asarray(counts)
    return float((counts >= max_events).mean()) if counts.size else 0.0


def pre_emphasis(u: np.ndarray, dash_syn: int) -> np.ndarray:
    """Per-step drive that cancels a bit-shift input synapse's low-pass (T, M) → (T, M).

    With ``a = 1 − 2^−dash_syn`` the synapse maps events e to ``Isyn_t = a (Isyn_{t−1} + W e_t)``;
    sending ``G (u_t / a − u_{t−1})`` (``G = 2^dash_syn − 1``, the synapse's total gain folded
    into W) gives ``Isyn_t ∝ u_t``: no lag, no smoothing. ``u_{−1} = 0``.
    """
    a = 1.0 - 2.0 ** (-int(dash_syn))
    G = 2.0 ** int(dash_syn) - 1.0
    prev = np.vstack([np.zeros((1, u.shape[1])), u[:-1]])
    return G * (u / a - prev)
