"""A backend's reference simulator (Rockpool's XyloSim) in a second process, imported early.

Importing XyloSim costs about 3.6 CPU seconds (Rockpool imports torch); the pipeline needs it
only in its last stage. :class:`ReferenceWorker` forks a process at the pipeline's start that does
this import on the second core while the first one trains, then runs the reference simulations it
is sent. It calls the same ``backend.reference_simulator(deployable)(raster)`` as the in-process
path, so the results are the same arrays; an error there (e.g. Rockpool missing) is re-raised in
the caller as the same exception.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

__all__ = ["ReferenceWorker"]


def _serve(conn, warm_device: str) -> None:
    try:  # the import this process exists for; a failure is reported at the first request
        from neuromorph.backends.xylo.rockpool_compat import xylosim_class

        xylosim_class(warm_device)
    except Exception:  # noqa: BLE001
        pass
    run = None
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        try:
            if msg[0] == "build":  # ("build", backend, deployable): one simulator, reset before each run
                run = msg[1].reference_simulator(msg[2])
                conn.send(("ok", run is not None))
            else:  # ("run", raster)
                conn.send(("ok", run(msg[1])))
        except BaseException as exc:  # noqa: BLE001  (re-raised by the caller)
            try:
                conn.send(("error", exc))
            except Exception:  # noqa: BLE001  (an exception that does not pickle)
                conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


class ReferenceWorker:
    """Forked reference-simulator process (see module docstring); use as a context manager.

    ``factory(backend, deployable)`` has the signature of ``backend.reference_simulator`` and
    returns a callable ``raster -> recording dict`` that runs in the worker."""

    def __init__(self, warm_device: str = "xylo-audio-v2") -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, warm_device), daemon=True)
        self._proc.start()
        child.close()

    def _ask(self, msg: tuple) -> Any:
        self._conn.send(msg)
        status, value = self._conn.recv()
        if status != "ok":
            raise value
        return value

    def factory(self, backend: Any, deployable: Any) -> Optional[Callable]:
        """Build the simulator in the worker (its errors are raised here, as in-process ones would
        be) and return the runner."""
        if not self._ask(("build", backend, deployable)):
            return None
        return lambda raster: self._ask(("run", raster))

    def close(self) -> None:
        if self._proc is None:
            return
        try:
            self._conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.terminate()
        self._conn.close()
        self._proc = None

    def __enter__(self) -> "ReferenceWorker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
