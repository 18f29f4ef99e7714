"""The user's own signal end to end, through the command line only: train on a multichannel
file (.npy and .csv), quantize for every Xylo target, verify on the held-out part.

What must hold on every target: the fit check passes, the emulator equals XyloSim spike for
spike, ``decoded_emulated.npy`` reproduces the reported ``error_emulated``, and at most 0.1 % of
the input events are held back by the chip's per-step limit.  The same for an EI network on
Xylo Audio 2.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from neuromorph.data.examples import sensor_example
from neuromorph.metrics import normalized_error

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("xylo-audio-v2", "xylo-audio-v3", "xylo-imu")
# the chip/float bounds of issue 13 (>= 100 neurons, >= 4 channels, every Xylo target): measured
# with the defaults (inhibition-only adaptation, threshold spread 0.3, the learnt leak's drive,
# read-out and output filter fitted on the chip's spikes; docs/chip_fidelity.md) error ratio
# 0.60/0.60/0.59 and rate ratio 1.10/1.10/1.10 on XA2/XA3/IMU (seed 0); driven at the chip's own
# leak the rate ratio was 1.34, before that (400k-step retraining) 4.6.  The bound is 1.5
# on both; the rate's is held at 1.3 here so the drive's saving cannot silently go (1.34 fails it).
MAX_RATIO = 1.5
MAX_RATE_RATIO = 1.3


def cli(*args) -> subprocess.CompletedProcess:
    extra = ["--no-progress"] if args[0] == "train" else []
    p = subprocess.run([sys.executable, "-m", "neuromorph.cli", *map(str, args), *extra], capture_output=True,
                       text=True, cwd=ROOT)
    assert p.returncode == 0, (args, p.stderr[-2000:])
    return p


def signal(T: int = 40_000, seed: int = 0) -> np.ndarray:
    """The provided 5-channel example in mixed units and offsets (a sensor recording's shape)."""
    return sensor_example(T, seed=seed)[0]


def check_verify(v: Path, data: np.ndarray) -> dict:
    rep = json.loads((v / "verify.json").read_text())
    assert rep["emulator_matches_xylosim"] is True
    assert rep["input_events_clipped_fraction"] <= 1e-3
    dec = np.load(v / "decoded_emulated.npy")
    assert dec.shape == data.shape
    # the reported error is the decoded file's error against the held-out rows, in data units
    assert normalized_error(data, dec) == pytest.approx(rep["error_emulated"], rel=1e-9)
    return rep


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("own")
    x = signal()
    np.save(d / "sig.npy", x)
    np.savetxt(d / "sig.csv", x, delimiter=",", header="a,b,c,d,e", comments="")
    return d, x


@pytest.mark.parametrize("suffix", [".npy", ".csv"])
def test_scn_on_own_data_all_xylo_targets(files, tmp_path, suffix):
    d, x = files
    run = tmp_path / "run"
    # Xylo Audio 2 allows 64 recurrent targets per neuron: learn under that mask (fits all three)
    cli("train", "--data", d / f"sig{suffix}", "--dt", "0.001", "--neurons", "100", "--max-fanout", "64",
        "--seconds", "30", "--seed", "0", "--out", run)
    m = json.loads((run / "metrics.json").read_text())
    assert m["error_after"] < m["error_before"]
    held = x[-int(round(0.2 * len(x))):]  # the default held-out part: the last 20 %
    np.save(tmp_path / "held.npy", held)
    errors = {}
    for t in TARGETS:
        q = tmp_path / f"q-{t}"
        cli("quantize", run, "--target", t, "--out", q)
        qrep = json.loads((q / "quantization.json").read_text())
        assert qrep["fit_check"]["ok"], qrep["fit_check"]["violations"][:3]
        v = tmp_path / f"v-{t}"
        cli("verify", q, "--data", tmp_path / "held.npy", "--dt", "0.001", "--out", v)
        rep = check_verify(v, held)
        errors[t] = rep["error_emulated"]
        assert rep["chip_vs_float"]["error_ratio"] <= MAX_RATIO, (t, rep["chip_vs_float"])
        assert rep["chip_vs_float"]["rate_ratio"] <= MAX_RATE_RATIO, (t, rep["chip_vs_float"])
    # the chip codes the signal: an estimate with no information would have normalised error >= 1
    assert max(errors.values()) < 0.2, errors


def test_ei_on_own_data_xylo_audio_2(files, tmp_path):
    d, x = files
    run = tmp_path / "run"
    cli("train", "--data", d / "sig.npy", "--dt", "0.001", "--network", "ei", "--neurons-e", "40", "--neurons-i",
        "10", "--seconds", "20", "--seed", "0", "--out", run)
    q = tmp_path / "q"
    cli("quantize", run, "--target", "xylo-audio-v2", "--out", q)
    assert json.loads((q / "quantization.json").read_text())["fit_check"]["ok"]
    v = tmp_path / "v"
    cli("verify", q, "--out", v)  # the run's own held-out split
    rep = json.loads((v / "verify.json").read_text())
    assert rep["emulator_matches_xylosim"] is True
    assert rep["input_events_clipped_fraction"] <= 1e-3
    assert rep["dale"]["ok"] is True  # no weight changed sign in quantization
