"""The anchor (issue 13 item 3): neuromorph's default path against Rockpool's own BPTT path on the
same 5-channel signal, 100 neurons, Xylo Audio 2, scored by the chip emulation on the held-out part.

A reduced ``benchmarks/bench_rockpool_anchor.py`` run; the numbers and the full budget are in
docs/rockpool_anchor.md.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("xylosim")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

# A tiny Rockpool path end to end: 3 Adam steps on 12 neurons, mapper, global and channel
# quantization, XyloSim; run in a child process with a marker samna first on sys.path.
TINY = r"""
import sys, numpy as np
sys.path.insert(0, sys.argv[1])
import rockpool_bptt as rb
from neuromorph.backends.xylo.emulator import emulate
from neuromorph.backends.xylo.spec import XyloSpec, hardware_violations
rng = np.random.default_rng(0)
raster = rng.integers(0, 3, size=(600, 4))
x = np.cumsum(rng.standard_normal((600, 2)), axis=0) * 0.05
for method in ("global", "channel"):
    cfg = rb.BPTTConfig(n_hidden=12, iterations=3, batch=2, window=100, warmup=10, quantize=method)
    res = rb.train(raster, x, np.ones(2), cfg, 1e-3)
    spec, scale_out = rb.to_xylo_spec(res["net"], method)
    xs = XyloSpec.from_dict(spec, device="xylo-audio-v2")
    assert hardware_violations(xs) == []
    assert (np.count_nonzero(np.asarray(spec["weights_rec"]).reshape(12, -1), axis=1) <= rb.MAX_FANOUT).all()
    assert scale_out.shape == (2,) and (scale_out > 0).all()
    em = rb.emulate(spec, raster)
    assert em["Vmem_out"].shape == (600, 2) and em["Spikes"].shape == (600, 12)
    assert np.array_equal(emulate(xs, raster, record=True).recording["Spikes"], em["Spikes"])
    assert rb.samna_config_status(spec).startswith("skipped")
print("samna in sys.modules:", sys.modules.get("samna", "absent"))
"""


def test_rockpool_path_runs_through_the_guard(tmp_path):
    from test_samna_guard import marker_env

    env, flag = marker_env(tmp_path)
    r = subprocess.run([sys.executable, "-c", TINY, str(ROOT / "benchmarks")], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert not flag.exists(), "samna was imported"
    assert "samna in sys.modules: None" in r.stdout


def test_tau_for_dash_is_the_bit_shift_decay():
    import rockpool_bptt as rb

    for d in (1, 4, 9):
        assert np.exp(-1e-3 / rb.tau_for_dash(d, 1e-3)) == pytest.approx(1 - 2.0 ** -d, rel=1e-12)


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
def test_neuromorph_codes_better_than_rockpool_bptt_at_equal_spikes_for_far_less_training():
    """The direction measured on today's default path (docs/rockpool_anchor.md, seed 0):
    neuromorph's default quantize (which retrains this network under the chip's dynamics, keeping
    the spike-cost candidate mu = 1.5) reaches emulated error 0.0082 at 12.2 Hz; Rockpool's BPTT
    network, its rate capped at neuromorph's chip rate, 0.0143 (1.75x) at 13.1 Hz -- for ~26x
    neuromorph's training CPU time.  (Before the spike-cost candidate: 0.0027 at 45.8 Hz against
    0.0079, 2.9x; before the auto retraining the direction was the reverse.)

    Reduced benchmark: only the rate-capped Rockpool variant (the full budget, 300 Adam steps:
    fewer steps leave it short of its error).  ~3.5 min on one core."""
    import rockpool_bptt as rb
    from bench_rockpool_anchor import compare

    nm, rps = compare(seed=0, n=100, cfg=rb.BPTTConfig(seed=0), rate_capped=True, only_capped=True, log=None)
    rp = rps["rate-capped"]
    assert nm["matches_xylosim"] is True
    assert rp["neuromorph_emulator_matches_xylosim"] is True  # the same chip arithmetic scores both
    assert rp["fit_violations"] == []  # Rockpool's network is a valid Xylo Audio 2 network too
    # fewer or equal spikes: neuromorph's chip rate at most Rockpool's (+2 %: measured 12.2 vs
    # 13.1 Hz, Rockpool's soft rate penalty overshoots the cap by 8 %), and the cap did its job
    # (Rockpool within 1.25x of neuromorph's rate, not its free 42 Hz)
    assert nm["rate_hz"] <= 1.02 * rp["rate_hz"], (rp["rate_hz"], nm["rate_hz"])
    assert rp["rate_hz"] <= 1.25 * nm["rate_hz"], (rp["rate_hz"], nm["rate_hz"])
    # Rockpool/neuromorph emulated error measured 1.75x (seed 0, one run: no seed spread measured
    # on this path); 1.5 asks neuromorph to stay clearly ahead, with room for a seed spread of the
    # size measured before (0.71-0.74x across seeds 0-1, about 4 %; neuromorph's own spread on
    # this network, seeds 0-2: 0.63-0.69x float, about 5 %).
    ratio = rp["error_emulated"] / nm["error_emulated"]
    assert ratio > 1.5, (rp["error_emulated"], nm["error_emulated"])
    # the price: Rockpool's BPTT measured ~120 s of CPU against neuromorph's ~4.6 s (train and
    # quantize, retraining included); 10x is far inside it
    assert rp["train_cpu_s"] > 10 * nm["train_cpu_s"], (rp["train_cpu_s"], nm["train_cpu_s"])
