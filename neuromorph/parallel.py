"""Independent pieces of work on several local processes (``reproduce --workers``), and one piece
of work in the background while the caller goes on (:func:`in_background`: figures).

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


class Background:
    """``fn(*args)`` computed in a forked child process while the caller goes on (see
    :func:`in_background`); :meth:`join` waits for it and re-raises its error in the caller."""

    def __init__(self, fn: Callable, args: tuple) -> None:
        self._proc = self._conn = None
        self._error: Optional[str] = None
        if not second_core():
            fn(*args)  # one core: nothing to overlap with, so no process to start
            return
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        recv, send = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_child, args=(send, fn, args), daemon=True)
        self._proc.start()
        send.close()
        self._conn = recv

    def wait(self) -> None:
        """Wait for the child without raising (the caller is already failing)."""
        try:
            self.join()
        except RuntimeError:
            pass

    def join(self) -> None:
        """Wait for the child; raise ``RuntimeError`` with its traceback if it failed."""
        if self._proc is None:
            return
        try:
            msg = self._conn.recv() if self._conn.poll(None) else "no report"
        except EOFError:
            msg = "the worker process ended without a report"
        self._proc.join()
        self._conn.close()
        self._proc = None
        if msg != "ok":
            raise RuntimeError(f"background work {msg}")


def _child(send, fn: Callable, args: tuple) -> None:
    try:
        fn(*args)
        send.send("ok")
    except BaseException:  # noqa: BLE001  (reported to the parent, which re-raises)
        import traceback

        send.send("failed:\n" + traceback.format_exc())
    finally:
        send.close()


def second_core() -> bool:
    """Whether this process may run on more than one CPU and can fork (Linux)."""
    import multiprocessing
    import os

    if not hasattr(os, "fork") or os.environ.get("NEUROMORPH_NO_FORK"):
        return False
    if multiprocessing.current_process().daemon:  # a pool's worker may not start processes
        return False
    try:
        return len(os.sched_getaffinity(0)) > 1
    except AttributeError:  # no affinity call (macOS): fall back to the CPU count
        return (os.cpu_count() or 1) > 1


def in_background(fn: Callable, *args) -> Background:
    """Start ``fn(*args)`` (output to files only; its return value is dropped) in a forked process
    when a second CPU is available, else run it now. Call ``.join()`` before using its files.

    Used to draw figures while the caller computes the next result: the child inherits the
    parent's imports and data (fork), so starting it costs milliseconds, not a re-import."""
    return Background(fn, args)
