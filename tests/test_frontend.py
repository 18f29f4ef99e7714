"""Sound through Xylo Audio 2's front-end (``--frontend xylo-audio-v2``): the AFE wrapper, the
event layout on the chip, and a short clip end to end through the CLI (train, quantize, verify)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.io import wavfile

from neuromorph.backends.xylo import afe

FS = 16_000


def harmonic_sound(seconds: float, f0: float = 150.0, seed: int = 0) -> np.ndarray:
    """A voiced-speech-like test sound: harmonics of a gliding f0 under a syllable envelope."""
    t = np.arange(int(seconds * FS)) / FS
    f = f0 * (1 + 0.3 * np.sin(2 * np.pi * 0.7 * t))
    phase = 2 * np.pi * np.cumsum(f) / FS
    y = sum(np.sin(k * phase) / k for k in range(1, 25))
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3.0 * t) ** 2
    y = y * env
    return 0.5 * y / np.abs(y).max()


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "neuromorph.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


def test_band_raster_carries_exactly_the_band_events():
    rng = np.random.default_rng(0)
    e16 = rng.integers(0, afe.MAX_EVENTS + 1, size=(500, 16))
    bands = afe.pool_bands(e16)
    lam, dt = afe.chip_leak(50.0, 1e-3), 1e-3
    x = afe.frontend_signal(bands, lam, dt)
    assert np.array_equal(afe.events_from_signal(x, lam, dt), bands)  # exact inverse from rest
    r = afe.raster_from_bands(bands)
    assert r.max() <= afe.MAX_EVENTS and np.array_equal(afe.pool_bands(r), bands)
    with pytest.raises(ValueError, match="not a front-end event train"):
        afe.events_from_signal(x + 0.3, lam, dt)  # an arbitrary signal is refused, not re-encoded


def test_afe_events_tone_lands_in_its_channel_and_restores_global_rng():
    t = np.arange(int(0.3 * FS)) / FS
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    res = afe.afe_events(0.5 * np.sin(2 * np.pi * 1177.0 * t), FS, 1e-3, seed=1, noise=False)
    assert np.array_equal(np.random.get_state()[1], before)
    ev = res["events"]
    assert ev.shape == (300, 16) and ev.dtype == np.int64 and ev.max() <= afe.MAX_EVENTS
    assert int(np.argmax(ev.sum(0))) == afe.CENTRES_HZ.index(1177)
    again = afe.afe_events(0.5 * np.sin(2 * np.pi * 1177.0 * t), FS, 1e-3, seed=1, noise=False)["events"]
    assert np.array_equal(ev, again)


@pytest.mark.slow  # ~75 s on 2 shared cores (three CLI runs, the AFE simulated twice)
def test_speech_clip_through_the_afe_end_to_end(tmp_path):
    """train --frontend → quantize → verify on 3 s of sound; the chip takes the AFE's events."""
    wav = tmp_path / "clip.wav"
    wavfile.write(wav, FS, (harmonic_sound(3.0) * 32767).astype(np.int16))
    r = cli("train", "--data", wav, "--frontend", "xylo-audio-v2", "--frontend-ideal", "--neurons", 30,
            "--seconds", 8, "--out", tmp_path / "run", "--no-progress", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    fe = m["data"]["frontend"]
    assert fe["name"] == "xylo-audio-v2" and fe["pool"] == 2 and len(m["data"]["channels"]) == 8
    assert m["error_after"] < m["error_before"]  # learning through the front-end helps
    # the front-end's target on a non-xylo-audio-v2 chip is refused before any work
    bad = cli("quantize", tmp_path / "run", "--target", "xylo-imu", "--out", tmp_path / "qbad", cwd=tmp_path)
    assert bad.returncode == 2 and "front-end" in bad.stderr and not (tmp_path / "qbad").exists()
    r = cli("quantize", tmp_path / "run", "--target", "xylo-audio-v2", "--adapt-steps", 5000, "--out",
            tmp_path / "q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    qrep = json.loads((tmp_path / "q" / "quantization.json").read_text())
    assert qrep["fit_check"]["ok"] and qrep["frontend"]["input_gain"] == pytest.approx(fe["scale"])
    r = cli("verify", tmp_path / "q", "--out", tmp_path / "v", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    v = json.loads((tmp_path / "v" / "verify.json").read_text())
    assert v["emulator_matches_xylosim"] is True
    assert np.isfinite(v["error_float"]) and np.isfinite(v["error_emulated"])
    # chip vs float: the chip adds 8-bit weights and a one-step input synapse the float model has
    # no counterpart for; measured 1.1x (speech, 40 neurons) to 1.6x here — 3x leaves margin and
    # still fails a broken input path (wrong gain or layout gives errors near or above 1)
    assert v["error_emulated"] < 3.0 * v["error_float"] and v["error_emulated"] < 0.5

    # the chip's input is the AFE's own events: the raster of the held-out part equals (pooled)
    # the AFE's events of that part, and the emulator gives the same states on the AFE's own
    # split of each band's events over its two channels as on the encoder's
    from neuromorph.backends.xylo.backend import XyloBackend
    from neuromorph.data import load_run_data
    from neuromorph.quant.fakequant import QDIR_NETWORK, load_quantized

    be = XyloBackend()
    q = load_quantized(tmp_path / "q" / QDIR_NETWORK)
    spec = be.load_deployable(tmp_path / "q")
    rd = load_run_data(tmp_path / "q")
    sound = wavfile.read(wav)[1] / 2.0 ** 15  # as the loader reads it
    raw = afe.afe_events(sound, FS, q.dt, seed=fe["afe_seed"], noise=False)["events"][fe["train_steps"]:]
    raster = be.encode(q, rd.test.x[0])
    assert np.array_equal(afe.pool_bands(raster), afe.pool_bands(raw))
    a, b = be.emulate(spec, raster), be.emulate(spec, raw)
    for k in ("Spikes", "Vmem", "Vmem_out"):
        assert np.array_equal(a[k], b[k]), k
    # verify --data on a file that is not sound is refused in one line
    np.save(tmp_path / "x.npy", np.zeros((100, 8)))
    r = cli("verify", tmp_path / "q", "--data", tmp_path / "x.npy", "--out", tmp_path / "v2", cwd=tmp_path)
    assert r.returncode == 2 and "front-end" in r.stderr


@pytest.mark.parametrize("args, msg", [
    (["train", "--frontend", "xylo-audio-v2"], "give a .wav file"),
    (["train", "--data", "x.npy", "--frontend", "xylo-audio-v2"], "takes a .wav sound file"),
    (["train", "--data", "clip.wav", "--frontend", "xylo-audio-v3"], "whole number of its 48828.125 Hz clocks"),
    (["train", "--data", "clip.wav", "--frontend", "xylo-imu"], "unknown front-end"),
    (["train", "--data", "clip.wav", "--frontend", "xylo-audio-v2", "--target", "xylo-imu"], "is device xylo-imu"),
    (["train", "--data", "clip.wav", "--frontend", "xylo-audio-v2", "--network", "ei"], "only an SCN"),
    (["train", "--data", "clip.wav", "--frontend-ideal"], "applies to a --frontend run"),
    (["reproduce", "fig2", "--frontend", "xylo-audio-v2"], "not an option of fig2"),
    (["reproduce", "fig5", "--quick", "--frontend", "xylo-audio-v3"], "runs through xylo-audio-v2 only"),
])
def test_frontend_user_errors_exit_2_before_any_work(tmp_path, monkeypatch, capsys, args, msg):
    from neuromorph.cli import main

    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((2000, 1)))
    wavfile.write(tmp_path / "clip.wav", FS, (harmonic_sound(0.5) * 32767).astype(np.int16))
    assert main([*args, "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # ~100 s on 2 shared cores: two train/quantize/verify chains and four AFE runs
def test_reproduce_fig5_frontend_quick(tmp_path):
    from neuromorph.sim.speech import espeak_available

    if not espeak_available():
        pytest.skip("espeak-ng not installed (CI installs it with apt)")
    r = cli("reproduce", "fig5", "--frontend", "xylo-audio-v2", "--quick", "--out", tmp_path / "f5", "--no-progress",
            cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "f5" / "metrics.json").read_text())
    assert m["experiment"] == "fig5-frontend" and m["checks"]["emulator_matches_xylosim"] and m["checks"]["speech_fit_ok"]
    for part in ("speech", "retrained"):
        assert np.isfinite(m[part]["error_float"]) and np.isfinite(m[part]["error_chip"])
        assert len(m[part]["per_channel"]) == 8
    # Fig 6 on the chip: learning the new sound lowers the chip's error on it (measured 66x in
    # the quick protocol, seed 0; a factor 2 is required)
    assert m["non_speech_chip_error_before"] > 2 * m["non_speech_chip_error_after"]


# --- Xylo Audio 3 (digital AFE, neuromorph/backends/xylo/afe3.py) ------------------------------------

from neuromorph.backends.xylo import afe3  # noqa: E402

DT3 = 50 / afe3.AFE_RATE_HZ  # 1.024 ms: 50 AFE clocks per chip step (Rockpool's default raster period)


def test_afe3_centres_are_the_pole_angles_of_rockpools_filters():
    from neuromorph.backends.xylo.rockpool_compat import import_xylo_module

    bank = import_xylo_module("syns65302.afe.digital_filterbank").ChipButterworth()
    got = []
    for bd in bank.bd_list:
        s = 2.0 ** (bd.B_af + bd.B_b)  # the recursive part's coefficients are a1/s, a2/s
        got.append(round(float(np.arccos(-bd.a1 / s / (2 * np.sqrt(bd.a2 / s))) * afe3.AFE_RATE_HZ / (2 * np.pi))))
    assert tuple(got) == afe3.CENTRES_HZ


def test_afe3_events_tone_lands_in_its_channel_deterministically():
    """0.3 s tone at a filter centre (≈ 1 s of simulation on 2 shared cores)."""
    t = np.arange(int(0.3 * FS)) / FS
    tone = 0.5 * np.sin(2 * np.pi * 1056.0 * t)
    np.random.seed(5)
    before = np.random.get_state()[1].copy()
    res = afe3.afe_events(tone, FS, DT3)
    assert np.array_equal(np.random.get_state()[1], before)
    ev = res["events"]
    assert ev.shape == (int(0.3 / DT3), 16) and ev.dtype == np.int64
    assert 0 <= ev.min() and ev.max() <= afe3.MAX_EVENTS
    assert int(np.argmax(ev.sum(0))) == afe3.CENTRES_HZ.index(1056)
    # divisive normalisation holds a channel near AFE_RATE_HZ / 63 ≈ 775 events/s (Rockpool's
    # default rate scale, "slightly more than 1 event per 63 clocks"): measured 783/s (1.01x);
    # a rate-scale shift one bit off would halve or double it, outside 0.7x … 1.3x
    assert 0.7 < res["rate_hz"].max() / (afe3.AFE_RATE_HZ / 63) < 1.3
    assert np.array_equal(afe3.afe_events(tone, FS, DT3)["events"], ev)  # digital: no noise, same events
    silent = afe3.afe_events(np.zeros_like(tone), FS, DT3)["events"]
    assert silent.sum() < ev.sum() / 10
    with pytest.raises(ValueError, match="train.dt = 0.001 s"):
        afe3.afe_events(tone, FS, 1e-3)  # 48.8 clocks: not a raster period the chip has


@pytest.mark.slow  # ~26 s on 2 shared cores (three CLI runs, the AFE simulated twice at ~2.5 s per s of sound)
def test_speech_clip_through_the_xylo_audio_3_afe_end_to_end(tmp_path):
    """train --frontend xylo-audio-v3 → quantize → verify on 3 s of sound; all 16 channels."""
    wav = tmp_path / "clip.wav"
    wavfile.write(wav, FS, (harmonic_sound(3.0) * 32767).astype(np.int16))
    cfg = tmp_path / "dt.yaml"
    cfg.write_text(f"train:\n  dt: {DT3!r}\n")
    r = cli("train", cfg, "--data", wav, "--frontend", "xylo-audio-v3", "--target", "xylo-audio-v3", "--neurons", 30,
            "--seconds", 8, "--out", tmp_path / "run", "--no-progress", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    fe = m["data"]["frontend"]
    assert fe["name"] == "xylo-audio-v3" and fe["pool"] == 1 and len(m["data"]["channels"]) == 16
    assert fe["noise"] is False
    assert m["error_after"] < m["error_before"]
    bad = cli("quantize", tmp_path / "run", "--target", "xylo-audio-v2", "--out", tmp_path / "qbad", cwd=tmp_path)
    assert bad.returncode == 2 and "front-end" in bad.stderr and not (tmp_path / "qbad").exists()
    r = cli("quantize", tmp_path / "run", "--target", "xylo-audio-v3", "--adapt-steps", 5000, "--out",
            tmp_path / "q", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    qrep = json.loads((tmp_path / "q" / "quantization.json").read_text())
    assert qrep["fit_check"]["ok"] and qrep["frontend"]["input_gain"] == pytest.approx(fe["scale"])
    r = cli("verify", tmp_path / "q", "--out", tmp_path / "v", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    v = json.loads((tmp_path / "v" / "verify.json").read_text())
    assert v["emulator_matches_xylosim"] is True
    # measured here: float 0.051, chip 0.053 (1.03x); the same 3x / 0.5 bounds as the v2 test
    assert v["error_emulated"] < 3.0 * v["error_float"] and v["error_emulated"] < 0.5

    # the chip's input raster of the held-out part is the AFE's own events, unchanged
    from neuromorph.backends.xylo.backend import XyloBackend
    from neuromorph.data import load_run_data
    from neuromorph.quant.fakequant import QDIR_NETWORK, load_quantized

    be = XyloBackend()
    q = load_quantized(tmp_path / "q" / QDIR_NETWORK)
    rd = load_run_data(tmp_path / "q")
    sound = wavfile.read(wav)[1] / 2.0 ** 15
    raw = afe3.afe_events(sound, FS, q.dt)["events"][fe["train_steps"]:]
    assert np.array_equal(be.encode(q, rd.test.x[0]), raw)
