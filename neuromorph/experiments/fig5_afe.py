"""Figs 5–6 through Xylo Audio 2's own front-end (``neuromorph reproduce fig5 --frontend xylo-audio-v2``).

The product's stages in a row, on sound: the eSpeak NG corpus of :mod:`neuromorph.sim.speech`
is written as a WAV file, learnt through the AFE (``train --frontend``: 16 AFE channels as 8
bands, the events low-pass filtered by the chip's leak), quantized for Xylo Audio 2 and
verified on the emulated chip (emulator == Rockpool XyloSim) on the held-out speech.

Fig 6 on the chip: a "non-speech" sound (two pure tones at AFE centre frequencies, switched on
and off) is coded by the speech network, then by a network trained on speech with the new
sound mixed in, both deployed; the chip's coding error on the new sound before and after is
the comparison.  Deviation from the paper: the second network is learnt from the same start
as the first (the product's ``train`` starts from its initial network), not by continuing to
learn from the speech network.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import numpy as np
from scipy.io import wavfile

from neuromorph.config import load_config
from neuromorph.sim.speech import speech_corpus
from neuromorph.stages.quantize import quantize_run
from neuromorph.stages.train import run_train
from neuromorph.stages.verify import verify

#: (full, quick): seconds of speech, network size, learning seconds, chip-adaptation steps
FULL = {"speech_s": 20.0, "neurons": 100, "learn_s": 60.0, "adapt_steps": 100_000}
QUICK = {"speech_s": 6.0, "neurons": 40, "learn_s": 20.0, "adapt_steps": 10_000}
#: AFE channels of the non-speech tones (centres 2226 Hz and 3418 Hz)
PROBE_CHANNELS = (10, 11)


def non_speech(fs: int, seconds: float, seed: int) -> np.ndarray:
    """Bursts of two pure tones at the AFE centres of :data:`PROBE_CHANNELS`, 0.3 s on, 0.3 s off."""
    from neuromorph.backends.xylo.afe import CENTRES_HZ

    t = np.arange(int(seconds * fs)) / fs
    gate = (np.floor(t / 0.3) % 2 == 1).astype(float)
    rng = np.random.default_rng(seed)
    ph = rng.uniform(0, 2 * np.pi, len(PROBE_CHANNELS))
    y = sum(np.sin(2 * np.pi * CENTRES_HZ[c] * t + p) for c, p in zip(PROBE_CHANNELS, ph))
    return 0.3 * y * gate


def _write(path: Path, y: np.ndarray, fs: int) -> Path:
    wavfile.write(path, fs, (np.clip(y, -1, 1) * 32767).astype(np.int16))
    return path


def _chain(out: Path, wav: Path, p: dict, seed: int, noise: bool, progress: bool, probe: Optional[Path]) -> dict:
    cfg = load_config(None, {"data.file": str(wav), "data.frontend": "xylo-audio-v2", "data.frontend_noise": noise,
                             "train.neurons": p["neurons"], "train.seconds": p["learn_s"], "seed": seed,
                             # learnt under the chip's fan-out limit (64 targets per neuron on Xylo Audio 2)
                             "train.target": "xylo-audio-v2"})
    m = run_train(cfg, out / "run", progress=progress)
    q = quantize_run(out / "run", "xylo-audio-v2", out / "q", seed=seed, adapt_steps=p["adapt_steps"],
                     progress=progress, warn=None)
    v = verify(out / "q", out / "verify", seed=seed, warn=None)
    res = {"train_error_before": m["error_before"], "train_error_after": m["error_after"],
           "error_float": v["error_float"], "error_chip": v["error_emulated"], "rate_float_hz": v["rate_float_hz"],
           "rate_chip_hz": v["rate_emulated_hz"], "emulator_matches_xylosim": v["emulator_matches_xylosim"],
           "fit_ok": q["fit_check"]["ok"],
           "per_channel": [{"channel": c["channel"], "error_float": c["error_float"], "error_chip": c["error_emulated"]}
                           for c in v["channels"]],
           "afe_events_per_second": m["data"]["frontend"]["events_per_second"],
           "afe_seconds": m["data"]["frontend"]["afe_seconds"], "audio_seconds": m["data"]["frontend"]["audio_seconds"]}
    if probe is not None:
        pv = verify(out / "q", out / "verify_probe", seed=seed, data=probe, warn=None)
        res["probe"] = {"error_float": pv["error_float"], "error_chip": pv["error_emulated"],
                        "rate_chip_hz": pv["rate_emulated_hz"], "emulator_matches_xylosim": pv["emulator_matches_xylosim"]}
    return res


def run(out: Path, *, seed: int = 0, quick: bool = False, progress: bool = True, frontend: str = "xylo-audio-v2") -> dict:
    """Speech through the AFE onto Xylo Audio 2, and the Fig 6 retraining on the chip."""
    from neuromorph.stages.frontend import check_frontend_request

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    check_frontend_request(frontend, "speech.wav", "scn", None)
    if frontend != "xylo-audio-v2":  # its chains, step and fan-out limit are Xylo Audio 2's
        from neuromorph.config import ConfigError

        raise ConfigError(f"--frontend {frontend}: reproduce fig5 runs through xylo-audio-v2 only; train "
                          f"--frontend {frontend} runs a sound file through it")
    p = QUICK if quick else FULL
    noise = not quick  # the quick protocol simulates ideal filters (about 5x faster AFE)
    t0 = time.perf_counter()
    utts = speech_corpus(seed, p["speech_s"])
    fs = utts[0].fs
    speech = np.concatenate([u.wave for u in utts])
    speech_wav = _write(out / "speech.wav", speech, fs)
    probe_wav = _write(out / "non_speech.wav", non_speech(fs, 3.0, seed + 1), fs)
    # speech with the new sound mixed in: every other 2 s of speech carries the tone bursts
    ns = non_speech(fs, speech.size / fs, seed + 2)
    mask = (np.floor(np.arange(speech.size) / fs / 2.0) % 2 == 1)
    mixed_wav = _write(out / "speech_and_non_speech.wav", speech + ns * mask, fs)
    sp = _chain(out / "speech", speech_wav, p, seed, noise, progress, probe_wav)
    rt = _chain(out / "retrained", mixed_wav, p, seed, noise, progress, probe_wav)
    m = {"experiment": "fig5-frontend", "frontend": frontend, "quick": quick, "seed": seed,
         "protocol": {**p, "afe_noise": noise, "probe_channels": list(PROBE_CHANNELS)},
         "speech": sp, "retrained": rt,
         "non_speech_chip_error_before": sp["probe"]["error_chip"], "non_speech_chip_error_after": rt["probe"]["error_chip"],
         "non_speech_chip_error_ratio": sp["probe"]["error_chip"] / rt["probe"]["error_chip"],
         "wall_seconds": time.perf_counter() - t0}
    m["checks"] = {"speech_fit_ok": bool(sp["fit_ok"]),
                   "emulator_matches_xylosim": bool(sp["emulator_matches_xylosim"] and rt["emulator_matches_xylosim"]),
                   "learning_lowers_speech_error": bool(sp["train_error_after"] < sp["train_error_before"]),
                   "retraining_lowers_non_speech_chip_error": bool(rt["probe"]["error_chip"] < sp["probe"]["error_chip"])}
    return m
