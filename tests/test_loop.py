"""The learning loop shared by the SCN and EI simulators (``neuromorph.sim.loop``)."""
import numpy as np
import pytest

from neuromorph.sim.loop import record_mask, run_chunks, snapshot_schedule


def test_schedule_splits_at_chunks_and_snapshots():
    bounds, snaps = snapshot_schedule(10, 4, [0, 3, 3, 10, 11, -1])
    assert bounds == [0, 3, 4, 8, 10]
    assert snaps == [0, 3, 10]
    with pytest.raises(ValueError, match="chunk"):
        snapshot_schedule(10, 0, [])
    with pytest.raises(ValueError, match="n_steps"):
        snapshot_schedule(-1, 4, [])


def test_run_chunks_calls_in_order_and_covers_every_step_once():
    events = []
    src = lambda a, n: np.arange(a, a + n, dtype=float)[:, None]  # noqa: E731
    run_chunks(src, 10, 1, lambda a, c: events.append(("run", a, c[:, 0].tolist())), chunk=4,
               snapshot_steps=[3, 10], snapshot=lambda s: events.append(("snap", s)),
               check=lambda s: events.append(("check", s)), progress=lambda n: events.append(("prog", n)))
    runs = [e for e in events if e[0] == "run"]
    assert sum((e[2] for e in runs), []) == list(range(10))
    assert [e for e in events if e[0] == "snap"] == [("snap", 3), ("snap", 10)]
    assert events.index(("snap", 3)) == events.index(("run", 3, [3.0])) - 1
    assert events[-1] == ("snap", 10)
    assert sum(e[1] for e in events if e[0] == "prog") == 10


def test_prefetch_calls_the_source_in_order_from_one_thread():
    """prefetch=True makes the next chunk while the current one runs: the source still sees the
    same calls in the same order (one worker thread), advance the same chunks."""
    import threading

    def run(prefetch):
        calls, runs = [], []

        def src(a, n):
            calls.append((a, n, threading.get_ident()))
            return np.arange(a, a + n, dtype=float)[:, None]

        run_chunks(src, 23, 1, lambda a, c: runs.append((a, c[:, 0].tolist())), chunk=5,
                   snapshot_steps=[7], prefetch=prefetch)
        return calls, runs

    seq_calls, seq_runs = run(False)
    pre_calls, pre_runs = run(True)
    assert [c[:2] for c in pre_calls] == [c[:2] for c in seq_calls] and pre_runs == seq_runs
    assert len({c[2] for c in pre_calls}) == 1 and pre_calls[0][2] != threading.get_ident()
    with pytest.raises(ValueError, match="source returned 2 steps, expected 5"):
        run_chunks(lambda a, n: np.zeros((2, 1)), 10, 1, lambda a, c: None, chunk=5, prefetch=True)


def test_run_chunks_rejects_a_source_of_the_wrong_length():
    with pytest.raises(ValueError, match="source returned 2 steps, expected 5"):
        run_chunks(lambda a, n: np.zeros((2, 1)), 5, 1, lambda a, c: None)


def test_record_mask():
    bits = {"a": 1, "b": 4}
    assert record_mask(("a", "b"), bits) == 5 and record_mask((), bits) == 0
    with pytest.raises(ValueError, match=r"cannot record 'c'; choose from \('a', 'b'\)"):
        record_mask(("c",), bits)
