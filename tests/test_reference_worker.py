"""ReferenceWorker: the reference simulator run in a forked, pre-imported process gives the same
recordings as the in-process one, and its errors reach the caller as the same exception."""
import numpy as np
import pytest

from neuromorph.backends.base import backend_for_device
from neuromorph.backends.reference_worker import ReferenceWorker
from test_xylo_vs_rockpool import case


def test_worker_equals_in_process_reference() -> None:
    backend = backend_for_device("xylo-audio-v2")
    with ReferenceWorker() as worker:
        for k in range(3):
            spec, x = case("xa2", 300 + k)
            local = backend.reference_simulator(spec)
            remote = worker.factory(backend, spec)
            for _ in range(2):  # twice: both start from reset
                a, b = local(x), remote(x)
                assert a.keys() == b.keys()
                for key in a:
                    assert np.array_equal(a[key], b[key]), key


class _Broken:
    name = "broken"

    def reference_simulator(self, deployable):
        raise ImportError("no simulator here")


def test_worker_reraises_build_errors() -> None:
    with ReferenceWorker() as worker:
        with pytest.raises(ImportError, match="no simulator here"):
            worker.factory(_Broken(), None)
