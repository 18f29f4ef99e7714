"""Training, quantizing and verifying on sound through Xylo Audio's front-end (``--frontend``).

``train --data SOUND.wav --frontend xylo-audio-v2`` runs the sound through Rockpool's AFE
simulation (:mod:`neuromorph.backends.xylo.afe`): 16 channels of input events per chip step.  The
network learns the signal those events encode, ``x_t = (1 − λ_chip dt) x_{t−1} + e_t`` (the
channel activity low-pass filtered by the chip's leak, as the paper's Fig 5 filters its
filterbank outputs).  The events are split in time (the last ``test_fraction`` held out) and each
part is filtered from rest, so a part replayed from the chip's reset is exactly its events.  The
network represents 8 bands on Xylo Audio 2 (neighbouring AFE channels summed: it reads out at
most 8 signals; on the chip both channels of a band carry the band's input weights) and all 16
channels on Xylo Audio 3 (``--frontend xylo-audio-v3``, :mod:`neuromorph.backends.xylo.afe3`).  The scaling into
network units is one factor for all channels and no offset (``x_net = x / s``), so
one event is ``1/s`` network units on every channel: ``quantize`` fixes the chip's event gain at
``s`` (:class:`quantization.mapping.MappingOptions` ``input_gain``) and the deployed network takes
the AFE's events unchanged on its 16 inputs.  The front-end record sits in the run's
``data.npz`` metadata (``frontend``) and in the quantized network's ``stats``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

import numpy as np

from neuromorph.config import ConfigError
from neuromorph.data import OPERATING_STD, DataError, RunData, Scaling, Signal, load_signal
from neuromorph.sim.rng import derive_seed

#: Seed stream of the simulated AFE chip (mismatch, offsets, noise) under the run's master seed.
AFE_SEED_STREAM = 7


def _afe(name: str):
    """The front-end of device ``name``, from its backend (ConfigError when there is none)."""
    from neuromorph.backends.base import BackendError, backend_for_device

    try:
        return backend_for_device(name).frontend(name)
    except BackendError as exc:
        msg = str(exc)
        raise ConfigError(msg if msg.startswith("--frontend") else f"--frontend {name!r}: {msg}") from None


def check_frontend_request(name: str, file: Optional[str], network: str, target: Optional[str],
                           dt: Optional[float] = None) -> str:
    """One-line :class:`ConfigError` for a front-end the run cannot use (``dt``: the network step,
    checked when given); ``name`` otherwise."""
    afe = _afe(name)
    if dt is not None:
        try:
            afe.check_dt(float(dt))
        except ValueError as exc:
            raise ConfigError(f"--frontend {name}: {exc}") from None
    if file is None:
        raise ConfigError(f"--frontend {name} turns sound into events; give a .wav file (--data SOUND.wav)")
    if Path(file).suffix.lower() != ".wav":
        raise ConfigError(f"--frontend {name} takes a .wav sound file; --data {Path(file).name} is not one")
    if network != "scn":
        raise ConfigError(f"--frontend {name}: only an SCN (train.network = scn) is wired to the front-end yet")
    if target is not None:
        from quantization.hardware import load_target

        dev = load_target(target).device
        if dev != name:
            raise ConfigError(f"--frontend {name} is Xylo Audio's front-end for device {name}; --target {target} "
                              f"is device {dev}")
    return name


def frontend_run_data(name: str, path: Union[str, Path], *, dt: float, lam: float, test_fraction: float,
                      seed: int, data_dt: Optional[float] = None, noise: bool = True) -> tuple:
    """Sound file → the run data a network learns from the front-end's events.

    Returns
    -------
    (RunData, info) : the split (network units, one scale for all channels, no offset) and the
        front-end record (also in ``RunData.meta["frontend"]``).
    """
    afe = _afe(name)
    sig = load_signal(path, dt=data_dt)
    if sig.n_trials != 1 or sig.n_channels != 1:
        raise DataError(f"{sig.source}: the front-end takes one microphone channel; the file has "
                        f"{sig.n_channels} channels (mix it to mono first)")
    fs = 1.0 / sig.dt
    res = afe.afe_events(sig.x[0, :, 0], fs, dt, seed=derive_seed(seed, AFE_SEED_STREAM), noise=noise)
    ev = res["events"]
    n_test = int(round(ev.shape[0] * float(test_fraction)))
    n_train = ev.shape[0] - n_test
    if min(n_test, n_train) < 100:
        raise DataError(f"{sig.source}: {ev.shape[0]} chip steps of sound are too few to hold out "
                        f"{float(test_fraction):.0%} (at least 100 steps per part)")
    lam_chip = afe.chip_leak(lam, dt)
    bands = afe.pool_bands(ev)
    x_tr = afe.frontend_signal(bands[:n_train], lam_chip, dt)
    x_te = afe.frontend_signal(bands[n_train:], lam_chip, dt)
    sd = float(x_tr.std(axis=0).sum() / np.sqrt(x_tr.shape[1]))  # rms of the channels' stds
    if not sd > 0:
        raise DataError(f"{sig.source}: the front-end produced no events in the training part (silence?)")
    # one scale for all channels: one event is 1/s network units on every input line (the chip's
    # event gain is a single number); the channels' spread of levels is kept, as in the sound
    s = sd / OPERATING_STD
    M = bands.shape[1]
    scaling = Scaling(np.zeros(M), np.full(M, s))
    chans = afe.band_names()
    info = {"name": name, "lam_chip": lam_chip, "scale": s, "input_gain": s, "pool": afe.POOL, "afe_rate_hz": res["afe_rate_hz"],
            "afe_seconds": res["seconds"], "audio_seconds": sig.duration_s, "audio_rate_hz": fs,
            "events_per_second": [float(v) for v in res["rate_hz"]], "centres_hz": list(afe.CENTRES_HZ),
            "full_scale_v": None if afe.FULL_SCALE_V is None else float(afe.FULL_SCALE_V),
            "afe_seed": derive_seed(seed, AFE_SEED_STREAM), "noise": bool(res.get("noise", noise)), "train_steps": n_train, "test_steps": n_test}
    meta = {"dt_source": "frontend", "data_dt": sig.dt, "center": False, "target_std": OPERATING_STD,
            "frontend": info, **sig.meta}
    mk = lambda x: Signal(x[None] / s, dt, source=sig.source, channels=chans, dt_source="frontend")  # noqa: E731
    return RunData(mk(x_tr), mk(x_te), scaling, "time", float(test_fraction), meta), info


def frontend_of_run(rd: Optional[RunData], target, calibration=None) -> Optional[dict]:
    """The front-end record of a run for ``quantize`` (None for other runs), checked against the
    target: a run on Xylo Audio 2's AFE events deploys on that chip only."""
    fe = None if rd is None else rd.meta.get("frontend")
    if not fe:
        return None
    if target.device != fe["name"]:
        raise ValueError(f"the run learnt the events of the {fe['name']} front-end; --target {target.name} is "
                         f"device {target.device} (quantize it for {fe['name']})")
    if calibration is not None:
        raise ValueError("--calibration: a front-end run calibrates on its own AFE events (data.npz); drop it")
    return {k: fe[k] for k in ("name", "lam_chip", "scale", "input_gain", "pool")}


def frontend_user_signal(path: Union[str, Path], rd: RunData, dt: Optional[float] = None):
    """``verify --data SOUND.wav`` on a front-end run: the sound through the run's AFE (same
    simulated chip), its events filtered from rest and scaled with the run's scaling."""
    from neuromorph.stages.on_data import signal_from_arrays

    fe = rd.meta["frontend"]
    afe = _afe(fe["name"])
    what = (f"{Path(path).name}: this network takes sound through the {fe['name']} front-end; give a mono "
            f".wav file")
    if Path(path).suffix.lower() != ".wav":
        raise DataError(what)
    sig = load_signal(path, dt=dt)
    if sig.n_trials != 1 or sig.n_channels != 1:
        raise DataError(what)
    res = afe.afe_events(sig.x[0, :, 0], 1.0 / sig.dt, rd.dt, seed=int(fe["afe_seed"]), noise=bool(fe.get("noise", True)))
    x = afe.frontend_signal(afe.pool_bands(res["events"], int(fe["pool"])), float(fe["lam_chip"]), rd.dt) \
        / float(fe["scale"])
    us = signal_from_arrays(x, rd.dt, rd.scaling, f"{Path(path).name} through the {fe['name']} front-end",
                            rd.test.channels)
    return us
