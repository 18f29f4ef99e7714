"""Snapshots evaluated while learning runs (stages.train._learn_evaluating): the same numbers as
evaluating them afterwards, and failures on either side end both."""
import threading
import time

import numpy as np
import pytest

from neuromorph.sim.evaluation import EvalProtocol
from neuromorph.stages import train as train_mod

SMALL = EvalProtocol(decoder_steps=4000, test_steps=2000, n_trials=2)


def _run(tmp_path, name, monkeypatch, concurrent):
    monkeypatch.setattr(train_mod, "second_core", lambda: concurrent)
    out = tmp_path / name
    metrics = train_mod.train_network(out, seed=3, iterations=40, protocol=SMALL, progress=False)
    return metrics, (out / "network.npz").read_bytes()


def test_concurrent_evaluation_gives_the_sequential_numbers(tmp_path, monkeypatch):
    seq, net_seq = _run(tmp_path, "seq", monkeypatch, False)
    con, net_con = _run(tmp_path, "con", monkeypatch, True)
    assert net_seq == net_con
    for key in ("error_before", "error_after", "rate_before_hz", "rate_after_hz", "v_var_after", "weight_distance"):
        assert con[key] == seq[key], key
    assert con["learning_curve"] == seq["learning_curve"]
    assert len(con["learning_curve"]["step"]) == 16  # 15 snapshots (2 … 2^15 ≤ 40 000) and the end


def test_an_error_in_learning_is_raised_in_the_caller():
    def learn_fn(on_snapshot):
        on_snapshot(2, np.zeros((2, 2)), np.zeros((2, 2)))
        raise FloatingPointError("weights became non-finite at step 4")

    with pytest.raises(FloatingPointError, match="non-finite at step 4"):
        train_mod._learn_evaluating(learn_fn, lambda *a, workers: None, concurrent=True)
    assert not any(t.name == "neuromorph-learning" and t.is_alive() for t in threading.enumerate())


def test_an_error_while_evaluating_stops_learning():
    calls = []

    def learn_fn(on_snapshot):
        for step in range(1, 2001):
            calls.append(step)
            on_snapshot(step, None, None)
            time.sleep(0.001)
        return "finished"

    def evaluate_fn(step, F, Om, workers):
        raise ValueError("evaluation failed")

    with pytest.raises(ValueError, match="evaluation failed"):
        train_mod._learn_evaluating(learn_fn, evaluate_fn, concurrent=True)
    n = len(calls)
    time.sleep(0.1)
    # the learning thread stops at its next snapshot (a few at most were in flight), far from 2000
    assert len(calls) <= n + 2 < 100
    assert not any(t.name == "neuromorph-learning" and t.is_alive() for t in threading.enumerate())


def test_sequential_mode_leaves_every_evaluation_to_the_caller():
    out, seconds, done = train_mod._learn_evaluating(lambda: "net", None, concurrent=False)
    assert (out, done) == ("net", {}) and seconds >= 0.0
