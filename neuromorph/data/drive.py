r"""Driving a network with a stored signal: the input current that makes it represent the
user's trials, looped for learning or played once for evaluation, with smooth joins.

A network represents x(t) when it is driven by ``c = current_for_signal(x, λ, dt)``
(docs/authors_code.md §2: ``x_t = (1 − λdt) x_{t−1} + dt c_t``).  Played naively, every place
where x jumps — the start of the run (x_{−1} = 0) and each join between the end of one trial
and the start of the next — becomes a one-step current kick of size Δx/dt, which drives the
network far outside its operating range and bursts its neurons.  Instead every jump is replaced
by a *bridge*: :func:`join_steps` samples of a raised-cosine blend from the last value to the
next trial's first value (both excluded), so x is continuous and its slope bounded,
|dx/dt| ≤ π|Δx| / (2 (J + 1) dt).  The network's state is never reset: it runs through the
bridges as through any other part of the signal.

Layouts (J = join steps, K trials of T samples)::

    learning   [bridge 0→trial 1] trial 1 [bridge] trial 2 … trial K [bridge K→1] trial 1 …  (looped)
    evaluation [bridge 0→trial 1] trial 1 [bridge] trial 2 … trial K                    (played once)

The bridge samples are not data: evaluation fits decoders and measures errors on the data
samples only (:attr:`Stream.data`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neuromorph.sim.signals import current_for_signal

#: Length of a bridge in leak time constants 1/λ (2 τ = 40 ms for λ = 50 s⁻¹): long enough that
#: the slope of a typical jump (a few operating-range stds, docs: OPERATING_STD) stays within the
#: slopes of a smooth signal, short enough to be a small part of trials of seconds.
JOIN_TIME_CONSTANTS = 2.0


def join_steps(lam: float, dt: float) -> int:
    """Bridge length J (steps): :data:`JOIN_TIME_CONSTANTS` leak time constants, at least 1."""
    return max(1, int(round(JOIN_TIME_CONSTANTS / (lam * dt))))


def bridge(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """``n`` samples (n, M) of a raised-cosine blend from ``a`` to ``b``, both endpoints excluded."""
    w = 0.5 * (1.0 - np.cos(np.pi * np.arange(1, n + 1) / (n + 1)))
    return np.asarray(a, dtype=np.float64)[None, :] + w[:, None] * (np.asarray(b) - np.asarray(a))[None, :]


@dataclass(frozen=True)
class Stream:
    """A signal played once: the current, the signal it encodes, and which samples are data.

    Attributes
    ----------
    c, x : ndarray, shape (S, M)
        Input current (signal units per s) and the signal it makes the network represent.
    data : ndarray of bool, shape (S,)
        True on the user's samples, False on bridges.
    """

    c: np.ndarray
    x: np.ndarray
    data: np.ndarray


def play_once(trials: np.ndarray, lam: float, dt: float) -> Stream:
    """The evaluation layout: every trial once, each preceded by a bridge (from 0 for the first).

    Parameters
    ----------
    trials : ndarray, shape (K, T, M)
        The signal in network units.
    lam, dt : float
        Leak (s⁻¹) and step (s) of the network.
    """
    K, T, M = trials.shape
    J = join_steps(lam, dt)
    parts, mask = [], []
    prev = np.zeros(M)
    for tr in trials:
        parts += [bridge(prev, tr[0], J), tr]
        mask += [np.zeros(J, bool), np.ones(T, bool)]
        prev = tr[-1]
    x = np.concatenate(parts)
    return Stream(current_for_signal(x, lam, dt), x, np.concatenate(mask))


def looped_source(trials: np.ndarray, lam: float, dt: float):
    """The learning layout as an :data:`neuromorph.sim.loop.InputSource`: ``source(start, L)``
    returns the current of steps ``start … start + L − 1`` of the endless loop over ``trials``
    (K, T, M), deterministic and independent of how the run is chunked.

    Returns
    -------
    source : callable ``(start, L) -> c`` of shape (L, M)
    cycle_steps : int
        Steps of one pass over all trials with their bridges (K·(T + J)).
    """
    K, T, M = trials.shape
    J = join_steps(lam, dt)
    first = bridge(np.zeros(M), trials[0, 0], J)
    parts = []
    for k in range(K):
        parts += [trials[k], bridge(trials[k, -1], trials[(k + 1) % K, 0], J)]
    cycle = np.concatenate(parts)
    a = 1.0 - lam * dt
    # the cycle's current as it repeats (sample 0 follows the cycle's last sample) ...
    c_cycle = (cycle - a * np.roll(cycle, 1, axis=0)) / dt
    # ... and the lead-in from rest, whose last sample precedes the first pass
    c_first = current_for_signal(first, lam, dt)
    c_join = (cycle[0] - a * first[-1]) / dt
    C = cycle.shape[0]

    def source(start: int, length: int) -> np.ndarray:
        s = np.arange(start, start + length)
        out = np.empty((length, M))
        lead = s < J
        out[lead] = c_first[s[lead]]
        rest = ~lead
        out[rest] = c_cycle[(s[rest] - J) % C]
        out[s == J] = c_join
        return out

    return source, C
