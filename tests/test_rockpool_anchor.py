"""The anchor (issue 13 item 3): neuromorph's default path against Rockpool's own BPTT path on the
same 5-channel signal, 100 neurons, Xylo Audio 2, scored by the chip emulation on the held-out part.

A reduced ``benchmarks/bench_rockpool_anchor.py`` run; the numbers and the full budget are in
docs/rockpool_anchor.md.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("xylosim")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_synaptic_event_count():
    from bench_rockpool_anchor import synaptic_events_per_s

    w_in = np.zeros((2, 3, 2), int)
    w_in[0, 0, 0] = w_in[0, 1, 1] = 5  # channel 0 reaches 2 synapses, channel 1 none
    w_rec = np.zeros((3, 3, 2), int)
    w_rec[2, 0, 0] = 1  # neuron 2 reaches one recurrent synapse
    w_out = np.array([[1], [0], [2]])  # neurons 0 and 2 reach the output
    raster = np.array([[3, 9], [1, 0]])  # 4 events on channel 0 → 8 synaptic events; channel 1's 9 → 0
    spikes = np.array([[1, 7, 0], [0, 0, 2]])  # neuron 0: 1 × 1, neuron 1: 7 × 0, neuron 2: 2 × 2
    assert synaptic_events_per_s(w_in, w_rec, w_out, raster, spikes, dt=0.5) == (8 + 1 + 4) / 1.0


@pytest.mark.slow
def test_neuromorph_codes_better_than_rockpool_bptt():
    import rockpool_bptt as rb
    from bench_rockpool_anchor import compare

    # reduced budget on both sides: neuromorph learns 20 s of signal (default 200 s), Rockpool
    # takes 60 Adam steps (the benchmark's default is in rockpool_bptt.BPTTConfig)
    cfg = rb.BPTTConfig(iterations=60, seed=0)
    nm, rp = compare(seed=0, n=100, seconds=20, cfg=cfg, log=None)
    assert nm["matches_xylosim"] is True
    assert rp["neuromorph_emulator_matches_xylosim"] is True  # the same chip arithmetic scores both
    assert rp["fit_violations"] == []  # Rockpool's network is a valid Xylo Audio 2 network too
    # Both code the signal (an estimate with no information has error >= 1).
    assert nm["error_emulated"] < 0.2 and rp["error_emulated"] < 0.5, (nm, rp)
    # The direction: neuromorph's emulated error is lower — by a wide margin (measured ratios
    # in the module docstring of docs/rockpool_anchor.md); the factor 2 asserted here is far
    # below the measured seed spread's smallest ratio, so seed noise cannot flip it.
    assert rp["error_emulated"] > 2.0 * nm["error_emulated"], (nm["error_emulated"], rp["error_emulated"])
