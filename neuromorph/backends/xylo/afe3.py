"""Xylo Audio 3's audio front-end (AFE): sound → the chip's 16 input event channels.

Xylo Audio 3 (SYNS65302) has a *digital* front-end: 14-bit audio samples at the AFE clock
(:data:`AFE_RATE_HZ` = 50 MHz / 1024 ≈ 48.8 kHz) pass 16 fixed-point band-pass filters (centres
≈ 104 Hz … 16.9 kHz), a spike generator with divisive normalisation (each band fires at a rate
set by its power relative to a low-passed running average) and a raster that sums each channel's
events over ``dt × AFE_RATE_HZ`` whole clocks per chip step, at most 15 per step.  Being integer
logic it has no noise, offsets or mismatch: the same sound always gives the same events.

Rockpool 3.1.0 simulates this path in ``rockpool.devices.xylo.syns65302`` (``AFESimExternal``:
resample → 14-bit quantise → ``ChipButterworth`` → ``DivisiveNormalization`` → ``Raster``), and it
imports without samna through :mod:`~neuromorph.backends.xylo.rockpool_compat`.  Its composite
module does not run here, for two reasons read in its source and checked with numpy 2.4 and no jax:

* ``AFESimExternal()`` cannot be built: its ``AudioQuantizer`` casts a shape-(1,) parameter with
  ``int()``, which numpy ≥ 2.4 refuses (``TypeError: only 0-dimensional arrays can be converted``);
* the pure-Python paths (taken without jax) of ``ChipButterworth.evolve`` and
  ``DivisiveNormalization.evolve`` cast their input to float (``Module._auto_batch``) and then
  fail their own integer checks (``ValueError`` … ``not of type int``, ``TypeError`` on ``>>``).

So :func:`afe_events` runs the same stages through their integer kernels: Rockpool's
``ResampleAudio`` (linear interpolation, as ``AFESimExternal`` does), the 14-bit quantisation
``int(x · 2^13)`` (Rockpool's ``AudioQuantizer`` formula, saturated at the 14-bit range as an ADC
does: Rockpool would raise on a sample of exactly ±1), ``ChipButterworth._filter`` per band and
``divisive_normalization.py_spike_gen`` — each on the signal preceded by its time reversal, as
the ``evolve`` methods do — and Rockpool's ``Raster``.  The settings are Rockpool's defaults for
``AFESimExternal``.  The wrappers ``frontend_signal``, ``chip_leak``, ``events_from_signal`` and
``raster_from_bands`` are those of the Xylo Audio 2 path (:mod:`.afe`): Xylo Audio 3 reads out up
to 16 signals, so the network represents all 16 channels (``POOL = 1``).
"""
from __future__ import annotations

import time
import warnings

import numpy as np

from neuromorph.backends.xylo.afe import (chip_leak, events_from_signal, frontend_signal,  # noqa: F401  (same maths)
                                          mono_audio)

#: Channels of the Xylo Audio 3 AFE.
N_CHANNELS = 16
#: AFE clock (Hz): Rockpool's ``AUDIO_SAMPLING_RATE`` = 50 MHz / (64 · 16).
AFE_RATE_HZ = 50_000_000 / 1024
#: Most events per channel per step (Rockpool ``MAX_SPIKES_INPUT``; the chip's input limit).
MAX_EVENTS = 15
#: Bits of the audio samples entering the filter bank (Rockpool ``NUM_BITS_PDM_ADC``).
AUDIO_BITS = 14
#: Centre frequencies (Hz) of the 16 filters: the pole angle of each section's recursive part,
#: ``θ = arccos(−a1 / (2√a2))``, × AFE_RATE_HZ / 2π, with a1, a2 read from Rockpool's
#: ``ChipButterworth`` coefficients (rounded to 1 Hz; ``tests/test_frontend.py`` recomputes them).
CENTRES_HZ = (104, 134, 199, 275, 385, 535, 751, 1056, 1482, 2079, 2918, 4098, 5763, 8131, 11564, 16932)
#: The input is digital (full scale ±1 = the 14-bit range), not volts.
FULL_SCALE_V = None
#: Xylo Audio 3 reads out 16 signals: every AFE channel is one represented band.
POOL = 1
#: Rockpool's ``AFESimExternal`` defaults: rate scale 2^6 − 2^0 = 63 clocks per event at full
#: normalised power (≈ 775 events/s), low-pass window 2^12 clocks (84 ms), EPS 1.
DN_BITSHIFT = (6, 0)
DN_LOW_PASS_BITSHIFT = 12
DN_EPS = 1


def _rp(name: str):
    from neuromorph.backends.xylo.rockpool_compat import import_xylo_module

    return import_xylo_module(f"syns65302.{name}")


def check_available() -> None:
    """ImportError when Rockpool's Xylo Audio 3 AFE modules do not import (samna-free)."""
    for m in ("afe.digital_filterbank", "afe.divisive_normalization", "afe.raster", "transform.resample"):
        _rp(m)


def clocks_per_step(dt: float) -> int:
    """AFE clocks per chip step ``dt``; ValueError naming ``train.dt`` unless ``dt`` is whole clocks."""
    k = int(round(dt * AFE_RATE_HZ))
    # the raster period is a whole number of clocks: 1e-9 relative leaves float rounding only
    if k < 1 or abs(k / AFE_RATE_HZ - dt) > 1e-9 * dt:
        near = max(k, 1)
        raise ValueError(f"train.dt = {dt:g} s: Xylo Audio 3's front-end delivers events every whole number of its "
                         f"{AFE_RATE_HZ:.9g} Hz clocks ({1e6 / AFE_RATE_HZ:g} µs); use train.dt = "
                         f"{near / AFE_RATE_HZ:.9g} ({near} clocks)")
    return k


def check_dt(dt: float) -> None:
    """Raise ValueError when the chip step ``dt`` is not a whole number of AFE clocks."""
    clocks_per_step(dt)


def afe_rate(dt: float) -> float:
    """The AFE sample rate (Hz): fixed by the chip, whatever ``dt``."""
    return AFE_RATE_HZ


def _with_reversal(x: np.ndarray, run) -> np.ndarray:
    """``run`` on ``x`` preceded by its time reversal, the prefix dropped (Rockpool's ``evolve``
    methods of both stages do this to start from a settled state)."""
    n = x.shape[0]
    return run(np.concatenate([x[::-1], x], axis=0))[n:]


def afe_events(audio: np.ndarray, fs: float, dt: float, *, seed: int = 0, noise: bool = True) -> dict:
    """Run Rockpool's Xylo Audio 3 AFE stages on ``audio`` and count its events per step.

    Parameters
    ----------
    audio : ndarray, shape (S,)
        Mono sound, digital full scale ±1 (the 14-bit range of the filter bank's input).
    fs : float
        Sample rate of ``audio`` (Hz).
    dt : float
        Chip step (s), a whole number of AFE clocks (:func:`clocks_per_step`); one row per step.
    seed, noise
        Accepted for the interface of :mod:`.afe`; unused: the digital AFE has no noise or
        mismatch to seed or switch off (the record says ``noise`` False).

    Returns
    -------
    dict
        ``events`` (T, 16) int64 counts per step (≤ :data:`MAX_EVENTS`), ``afe_rate_hz``,
        ``seconds`` (simulation wall time), ``centres_hz``, ``rate_hz`` (16,) mean events per
        second per channel, ``noise`` (False).
    """
    audio = mono_audio(audio)
    clocks = clocks_per_step(dt)
    fb, dn, ra = _rp("afe.digital_filterbank"), _rp("afe.divisive_normalization"), _rp("afe.raster")
    resample = _rp("transform.resample").ResampleAudio(fs_target=AFE_RATE_HZ)
    t0 = time.perf_counter()
    with warnings.catch_warnings():  # Rockpool announces every resampling with a UserWarning
        warnings.simplefilter("ignore", UserWarning)
        x = np.asarray(resample((audio, float(fs)))[0] if fs != AFE_RATE_HZ else audio, dtype=np.float64)
    top = 2 ** (AUDIO_BITS - 1)
    q = np.clip(np.trunc(x * top), -(top - 1), top - 1).astype(np.int64)
    bank = fb.ChipButterworth()
    y = _with_reversal(q, lambda s: np.asarray([bank._filter(bd, s) for bd in bank.bd_list], dtype=np.int64).T)
    gen = dn.DivisiveNormalization(shape=(N_CHANNELS, N_CHANNELS), enable_DN_channel=True,
                                   spike_rate_scale_bitshift1=DN_BITSHIFT[0], spike_rate_scale_bitshift2=DN_BITSHIFT[1],
                                   low_pass_bitshift=DN_LOW_PASS_BITSHIFT, EPS_vec=DN_EPS, fixed_threshold_vec=0,
                                   fs=AFE_RATE_HZ)
    spikes = _with_reversal(y, lambda s: dn.py_spike_gen(
        sig_in=s, mode_vec=np.asarray(gen.enable_DN_channel).astype(np.int64),
        spike_rate_scale_bitshift1=gen.spike_rate_scale_bitshift1, spike_rate_scale_bitshift2=gen.spike_rate_scale_bitshift2,
        low_pass_bitshift=gen.low_pass_bitshift, EPS_vec=gen.EPS_vec, fixed_threshold_vec=gen.fixed_threshold_vec,
        joint_normalization=gen.joint_normalization)[0])
    n_steps = int(np.floor(audio.size / fs / dt + 1e-9))
    sp = np.asarray(spikes, dtype=np.int64)[: n_steps * clocks]
    if sp.shape[0] < n_steps * clocks:  # linear resampling ends one sample early: a silent tail
        sp = np.vstack([sp, np.zeros((n_steps * clocks - sp.shape[0], N_CHANNELS), np.int64)])
    raster = ra.Raster(shape=(N_CHANNELS, N_CHANNELS), rate_downsample_factor=clocks, max_num_spikes=MAX_EVENTS,
                       fs=AFE_RATE_HZ)
    counts = np.asarray(raster(sp)[0], dtype=np.int64).reshape(n_steps, N_CHANNELS)
    seconds = time.perf_counter() - t0
    return {"events": counts, "afe_rate_hz": AFE_RATE_HZ, "seconds": seconds,
            "centres_hz": np.asarray(CENTRES_HZ, dtype=np.float64),
            "rate_hz": counts.sum(0) / max(n_steps * dt, dt), "noise": False}


def pool_bands(events: np.ndarray, pool: int = POOL) -> np.ndarray:
    """Events (T, 16) → band events (T, 16 / pool) (``pool = 1``: unchanged)."""
    e = np.asarray(events)
    return e.reshape(e.shape[0], -1, pool).sum(axis=2)


def band_names(pool: int = POOL) -> tuple:
    """Channel names, e.g. ``"afe3_0_104Hz"``."""
    c = CENTRES_HZ
    if pool == 1:
        return tuple(f"afe3_{i}_{c[i]}Hz" for i in range(N_CHANNELS))
    return tuple(f"afe3_{i}-{i + pool - 1}_{c[i]}-{c[i + pool - 1]}Hz" for i in range(0, N_CHANNELS, pool))


def raster_from_bands(n: np.ndarray, pool: int = POOL) -> np.ndarray:
    """Chip input raster (T, 16) of band counts ``n`` (T, 16 / pool) (:func:`.afe.raster_from_bands`)."""
    from neuromorph.backends.xylo.afe import raster_from_bands as rfb

    return rfb(n, pool)
