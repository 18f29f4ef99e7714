"""The learning loop both network kinds share: input sources, chunking, snapshot schedule,
record masks, progress, and the simulator protocol the experiments compare networks through.

:func:`run_chunks` drives a run of ``n_steps`` steps as chunks of at most ``chunk`` steps, split
further at the snapshot steps, so 10⁷-step protocols never hold their whole input in memory and
snapshots land exactly.  The network-specific work comes in as callbacks: ``advance(start, c)``
simulates one chunk, ``snapshot(step)`` copies the weights, ``check(step)`` validates them.
"""
from __future__ import annotations

from typing import Callable, Iterable, Mapping, Optional, Protocol, Sequence

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from neuromorph.sim.signals import check_signal

InputSource = Callable[[int, int], np.ndarray]
"""``source(start_step, n_steps) -> c`` of shape (n_steps, M): a deterministic chunk provider."""


class Simulator(Protocol):
    """A frozen network run on an input: ``sim(c, rng) -> {"x": (T, M), "spikes": {pop: (T, N)},
    "r": {pop: (T, N)}}`` with c (T, M) the input current and rng a ``np.random.Generator``."""

    def __call__(self, c: np.ndarray, rng: np.random.Generator) -> dict: ...


def record_mask(record: Iterable[str], bits: Mapping[str, int]) -> int:
    """OR of the kernel's record ``bits`` for the names in ``record``.

    Parameters
    ----------
    record : iterable of str
        Names asked for.
    bits : mapping
        Name → bit of the kernel's record mask (its keys, in order, are what can be recorded).

    Returns
    -------
    int
        The mask; ValueError naming the choices for an unknown name.
    """
    mask = 0
    for name in record:
        if name not in bits:
            raise ValueError(f"cannot record {name!r}; choose from {tuple(bits)}")
        mask |= bits[name]
    return mask


def snapshot_schedule(n_steps: int, chunk: int, snapshot_steps: Sequence[int]) -> tuple:
    """Chunk boundaries and snapshot steps of a run.

    Parameters
    ----------
    n_steps : int
        Steps of the run (≥ 0).
    chunk : int
        Largest chunk (steps, > 0).
    snapshot_steps : sequence of int
        Steps before which the weights are copied; those outside [0, n_steps] are dropped.

    Returns
    -------
    (bounds, snaps) : (list of int, list of int)
        Sorted boundaries from 0 to ``n_steps`` (chunk starts, snapshot steps, the end) and the
        sorted distinct snapshot steps.
    """
    n_steps = int(n_steps)
    if n_steps < 0:
        raise ValueError(f"n_steps must be >= 0, got {n_steps}")
    if int(chunk) <= 0:
        raise ValueError(f"chunk must be a positive number of steps, got {chunk}")
    snaps = sorted({int(s) for s in snapshot_steps if 0 <= int(s) <= n_steps})
    bounds = sorted(set(list(range(0, n_steps, int(chunk))) + snaps + [n_steps]))
    return bounds, snaps


def run_chunks(source: InputSource, n_steps: int, n_inputs: int, advance: Callable[[int, np.ndarray], None], *,
               chunk: int = 100_000, snapshot_steps: Sequence[int] = (),
               snapshot: Optional[Callable[[int], None]] = None, check: Optional[Callable[[int], None]] = None,
               progress: Optional[Callable[[int], None]] = None, prefetch: bool = False) -> None:
    """Drive a run chunk by chunk.

    Parameters
    ----------
    source : InputSource
        ``source(start, L)`` → (L, M) input current; ``start`` counts from this run's first step.
    n_steps : int
        Steps to run.
    n_inputs : int
        M, checked against every chunk.
    advance : callable
        ``advance(start, c)`` simulates the chunk ``c`` (L, M) that begins at step ``start``.
    chunk : int
        Largest chunk in steps.
    snapshot_steps : sequence of int
        ``snapshot(s)`` is called before step ``s`` is simulated (so it sees the weights after s
        steps); steps outside [0, n_steps] are ignored, repeats taken once.
    snapshot, check, progress : callable, optional
        ``check(end)`` after each chunk (raise to stop, e.g. on non-finite weights);
        ``progress(L)`` with the number of steps just done.
    prefetch : bool
        Make the next chunk's input in a worker thread while ``advance`` runs (the kernels release
        the GIL: input generation and simulation then use two cores).  ``source`` is still called
        once per chunk, in order, from that one thread, so the run is the same.
    """
    bounds, snaps = snapshot_schedule(n_steps, chunk, snapshot_steps)
    spans = list(zip(bounds[:-1], bounds[1:]))
    pool = ThreadPoolExecutor(max_workers=1) if prefetch and len(spans) > 1 else None
    try:
        _run_spans(source, spans, snaps, n_inputs, advance, snapshot, check, progress, pool)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _run_spans(source, spans, snaps, n_inputs, advance, snapshot, check, progress, pool) -> None:
    """The loop of :func:`run_chunks`; with ``pool`` (one worker thread) the next chunk's input is
    made while this one is simulated.  Every ``source`` call then runs in that one thread, in the
    same order, so the input is the same."""
    si = 0
    ahead = pool.submit(source, *_span_args(spans[0])) if pool is not None else None
    for n, (a, b) in enumerate(spans):
        while si < len(snaps) and snaps[si] == a:
            if snapshot is not None:
                snapshot(snaps[si])
            si += 1
        if pool is not None:
            raw = ahead.result()
            ahead = pool.submit(source, *_span_args(spans[n + 1])) if n + 1 < len(spans) else None
        else:
            raw = source(a, b - a)
        c = check_signal("input current c", raw, n_inputs)
        if c.shape[0] != b - a:
            raise ValueError(f"source returned {c.shape[0]} steps, expected {b - a}")
        advance(a, c)
        if check is not None:
            check(b)
        if progress is not None:
            progress(b - a)
    while si < len(snaps):
        if snapshot is not None:
            snapshot(snaps[si])
        si += 1


def _span_args(span: tuple) -> tuple:
    return span[0], span[1] - span[0]
