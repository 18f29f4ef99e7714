"""Independent pieces of work on several local processes (``reproduce --workers``).

Each piece carries its own seed, so the results do not depend on the number of workers or on the
order in which the pieces finish.  Distributed sweeps over many machines belong to
:mod:`neuromorph.stages.study` (Dask); this is for one machine's cores.
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Optional, Sequence


def map_in_processes(fn: Callable, args: Sequence[tuple], workers: int = 1,
                     on_done: Optional[Callable[[int], None]] = None) -> list:
    """``[fn(*a) for a in args]``, computed by ``workers`` processes (1: in this process).

    ``fn`` must be a module-level function (it is pickled).  ``on_done(1)`` is called as each
    piece finishes (a progress bar's update).  Results come back in the order of ``args``."""
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    tick = on_done or (lambda n: None)
    if workers == 1 or len(args) <= 1:
        out = []
        for a in args:
            out.append(fn(*a))
            tick(1)
        return out
    out: list = [None] * len(args)
    with ProcessPoolExecutor(max_workers=min(workers, len(args))) as pool:
        futures = {pool.submit(fn, *a): i for i, a in enumerate(args)}
        for f in as_completed(futures):
            out[futures[f]] = f.result()
            tick(1)
    return out
