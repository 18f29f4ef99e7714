"""Xylo Audio's audio front-end (AFE): sound → the chip's 16 input event channels.

Xylo Audio 2 (SYNS61201) filters the microphone signal with 16 analog band-pass filters
(centres 40 Hz … 16.9 kHz, Q = 4), rectifies each band and turns it into events with an
integrate-and-fire converter; the events drive the SNN core's 16 input channels directly.
Rockpool 3.1.0 simulates it without samna (``rockpool.devices.xylo.syns61201.AFESim``, imported
here only through :mod:`~neuromorph.backends.xylo.rockpool_compat`).  :func:`afe_events` runs it
and counts its events per chip step; :func:`frontend_signal` is the signal a spike coding
network represents when those events are its input: the events low-pass filtered by the leak
the chip implements, ``x_t = (1 − λ_chip·dt)·x_{t−1} + e_t`` from rest.  With that target the
chip's input increment ``x_t − (1 − λ_chip dt) x_{t−1}`` *is* the event count, so the deployed
network takes the AFE events unchanged (docs/speech_on_xylo.md).

Conditions of Rockpool's simulation that shape this module (read in its source, 3.1.0):

* the input must be sampled at ≥ 6 × the top filter centre (16 940 Hz): the audio is resampled
  to :func:`afe_rate` (an integer number of AFE clocks per chip step, so the per-step counts are
  exact);
* the input is in volts, at most 112 mV RMS: digital full scale (±1) is mapped to
  :data:`FULL_SCALE_V` (a full-scale sine then has 112 mV RMS), a fixed gain like a microphone's;
* it reseeds NumPy's *global* generator with its ``seed`` and draws its mismatch and noise
  from it (and draws a default seed from it at import): :func:`afe_events` restores the
  caller's global state afterwards.

Xylo Audio 3's digital AFE runs through :mod:`.afe3` (same interface);
``XyloBackend.frontend`` picks the module by device name.
"""
from __future__ import annotations

import time
from fractions import Fraction
from typing import Optional

import numpy as np

from quantization.fixed_point import dash_from_tau, euler_rate_from_dash

#: Front-ends neuromorph runs, by device name (xylo-audio-v3: :mod:`.afe3`).
FRONTENDS = ("xylo-audio-v2", "xylo-audio-v3")
#: Front-ends Rockpool simulates that neuromorph does not drive (name → why): none at present.
NOT_WIRED: dict = {}
#: Channels of the Xylo Audio 2 AFE.
N_CHANNELS = 16
#: Design centre frequencies (Hz) of the 16 band-pass filters (Rockpool's ``AFESim.design_fcs``).
CENTRES_HZ = (40, 54, 77, 137, 203, 290, 428, 674, 1177, 1700, 2226, 3418, 5154, 7884, 11630, 16940)
#: Lowest AFE sample rate Rockpool accepts: 6 × the top centre frequency (Hz).
MIN_RATE_HZ = 6 * CENTRES_HZ[-1]
#: Volts at digital full scale: a full-scale sine has Rockpool's maximum input of 112 mV RMS.
FULL_SCALE_V = 0.112 * np.sqrt(2.0)
#: Most events per channel per step (Xylo Audio 2 raster limit, Rockpool ``max_spike_per_raster_period``).
MAX_EVENTS = 15


class FrontendError(ValueError):
    """A front-end that cannot serve the request (unknown, not wired, or its simulator missing)."""


def mono_audio(audio) -> np.ndarray:
    """``audio`` as a finite float64 mono signal (shape (T,)), else one-line ValueError; shared
    by both Xylo Audio front-ends."""
    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim != 1:
        raise ValueError(f"the AFE takes one audio channel, got shape {audio.shape}")
    if not np.all(np.isfinite(audio)):
        raise ValueError("audio contains NaN or inf")
    return audio


def check_frontend(name: str) -> str:
    """``name`` if neuromorph runs it (xylo-audio-v2: and Rockpool's simulator imports); else :class:`FrontendError`."""
    if name in NOT_WIRED:
        raise FrontendError(f"--frontend {name}: {NOT_WIRED[name]}")
    if name not in FRONTENDS:
        raise FrontendError(f"--frontend {name!r}: unknown front-end (available: {', '.join(FRONTENDS)})")
    if name != "xylo-audio-v2":  # its own module checks its simulator (backend.XyloBackend.frontend)
        return name
    try:
        _afe_class()
    except ImportError as exc:
        raise FrontendError(f"--frontend {name}: Rockpool's AFE simulation is not available ({exc}); "
                            f"install rockpool==3.1.0") from None
    return name


def check_dt(dt: float) -> None:
    """Any chip step suits this AFE: :func:`afe_rate` picks whole clocks per step."""


def _afe_class():
    from neuromorph.backends.xylo.rockpool_compat import import_xylo_module

    return import_xylo_module("syns61201").AFESim


def afe_rate(dt: float) -> float:
    """The AFE sample rate (Hz) used for chip step ``dt``: the fewest whole clocks per step that
    reach :data:`MIN_RATE_HZ`."""
    clocks = int(np.ceil(MIN_RATE_HZ * dt - 1e-9))
    return clocks / dt


def chip_leak(lam: float, dt: float) -> float:
    """The leak (s⁻¹) the chip implements for a network of leak ``lam``: ``2^−dash_mem / dt`` with
    the dash the quantizer picks (:func:`quantization.fixed_point.dash_from_tau`)."""
    return float(euler_rate_from_dash(int(dash_from_tau(1.0 / lam, dt)), dt))


def afe_events(audio: np.ndarray, fs: float, dt: float, *, seed: int = 0, noise: bool = True) -> dict:
    """Run Rockpool's Xylo Audio 2 AFE simulation on ``audio`` and count its events per step.

    Parameters
    ----------
    audio : ndarray, shape (S,)
        Mono sound, digital full scale ±1 (mapped to :data:`FULL_SCALE_V` volts).
    fs : float
        Sample rate of ``audio`` (Hz).
    dt : float
        Chip step (s); one output row per step.
    seed : int
        Seed of the simulated chip's mismatch, offsets and noise (Rockpool's ``seed``).
    noise : bool
        Simulate the analog noise, offsets and mismatch (Rockpool's defaults); False = ideal filters.

    Returns
    -------
    dict
        ``events`` (T, 16) int64 counts per step (≤ :data:`MAX_EVENTS`), ``afe_rate_hz``,
        ``seconds`` (simulation wall time), ``centres_hz`` (the simulated chip's centres after
        mismatch), ``rate_hz`` (16,) mean events per second per channel.
    """
    audio = mono_audio(audio)
    rate = afe_rate(dt)
    frac = Fraction(rate / fs).limit_denominator(10_000)
    from scipy.signal import resample_poly

    x = resample_poly(audio, frac.numerator, frac.denominator) if frac != 1 else audio
    # Rockpool reseeds the global generator (and draws from it when its module is first imported,
    # for a default argument): give the caller's state back afterwards
    state = np.random.get_state()
    try:
        AFESim = _afe_class()
        t0 = time.perf_counter()
        afe = AFESim(fs=int(round(rate)), raster_period=dt, max_spike_per_raster_period=MAX_EVENTS,
                     add_noise=noise, add_offset=noise, add_mismatch=noise, seed=int(seed) % (2 ** 32 - 1))
        spikes, _, _ = afe(x)
        seconds = time.perf_counter() - t0
        centres = np.asarray(afe.fcs, dtype=np.float64)
    finally:
        np.random.set_state(state)
    # events per chip step: the sum over the step's whole clocks, at most MAX_EVENTS (the raster
    # limit of the chip's input; Rockpool's ``AFESim.raster`` does the same with a cumulative sum)
    clocks = int(round(rate * dt))
    n_steps = int(np.floor(audio.size / fs / dt + 1e-9))
    sp = np.asarray(spikes, dtype=np.int64)[: n_steps * clocks]
    if sp.shape[0] < n_steps * clocks:
        sp = np.vstack([sp, np.zeros((n_steps * clocks - sp.shape[0], N_CHANNELS), np.int64)])
    counts = np.minimum(sp.reshape(n_steps, clocks, N_CHANNELS).sum(1), MAX_EVENTS)
    return {"events": counts, "afe_rate_hz": rate, "seconds": seconds, "centres_hz": centres,
            "rate_hz": counts.sum(0) / max(n_steps * dt, dt)}


def frontend_signal(events: np.ndarray, lam_chip: float, dt: float, x0: Optional[np.ndarray] = None) -> np.ndarray:
    """The signal the events encode: ``x_t = (1 − λ_chip dt) x_{t−1} + e_t`` (events), from ``x0``
    (default rest).  ``events`` (T, C) → (T, C) float64."""
    from scipy.signal import lfilter

    e = np.asarray(events, dtype=np.float64)
    a = 1.0 - lam_chip * dt
    zi = None if x0 is None else (a * np.asarray(x0, dtype=np.float64))[None, :]
    if zi is None:
        return lfilter([1.0], [1.0, -a], e, axis=0)
    y, _ = lfilter([1.0], [1.0, -a], e, axis=0, zi=zi)
    return y


#: AFE channels pooled into one represented band: Xylo Audio 2 reads out at most 8 signals, so the
#: network represents 8 bands, each the sum of two neighbouring AFE channels; on the chip both
#: channels of a band project the band's input weights, so every AFE event reaches the network.
POOL = 2


def pool_bands(events: np.ndarray, pool: int = POOL) -> np.ndarray:
    """Events (T, 16) → band events (T, 16 / pool): neighbouring channels summed."""
    e = np.asarray(events)
    return e.reshape(e.shape[0], -1, pool).sum(axis=2)


def band_names(pool: int = POOL) -> tuple:
    """Channel names of the pooled bands, e.g. ``"afe0-1_40-54Hz"``."""
    c = CENTRES_HZ
    return tuple(f"afe{i}-{i + pool - 1}_{c[i]}-{c[i + pool - 1]}Hz" for i in range(0, N_CHANNELS, pool))


def raster_from_bands(n: np.ndarray, pool: int = POOL) -> np.ndarray:
    """A chip input raster (T, 16) carrying band counts ``n`` (T, 16 / pool): each band's events
    on its first channel up to :data:`MAX_EVENTS`, the rest on the next.  The two channels of a
    band have the same weights, so the core integrates exactly what the AFE's own split of the
    events gives it (``tests/test_frontend.py`` checks the emulator on both)."""
    n = np.asarray(n, dtype=np.int64)
    out = np.zeros((n.shape[0], n.shape[1] * pool), dtype=np.int64)
    rest = n.copy()
    for k in range(pool):
        take = np.minimum(rest, MAX_EVENTS)
        out[:, k::pool] = take
        rest = rest - take
    if np.any(rest > 0):  # more events than the band's channels carry: refuse rather than drop
        raise ValueError(f"a band count exceeds {pool} × {MAX_EVENTS} events per step")
    return out


def events_from_signal(x: np.ndarray, lam_chip: float, dt: float, tol: float = 1e-6,
                       max_events: int = POOL * MAX_EVENTS) -> np.ndarray:
    """Inverse of :func:`frontend_signal` from rest: the event counts (T, C) int64 of a front-end
    signal ``x`` (T, C, event units).  Raises ValueError when ``x`` is not such a signal (an
    increment farther than ``tol`` from a whole count in 0 … ``max_events``): the chip's input
    is the AFE's events, not a re-encoding of an arbitrary signal."""
    x = np.asarray(x, dtype=np.float64)
    prev = np.vstack([np.zeros((1, x.shape[1])), x[:-1]])
    u = x - (1.0 - lam_chip * dt) * prev
    n = np.rint(u)
    # float64 leaky sums of counts ≤ 30 stay within ~1e-12 of whole numbers (relative 2^-52 of
    # a state below 30/(λdt) ≈ 480): tol = 1e-6 leaves a margin of 10^6 and still refuses any
    # other signal
    bad = (np.abs(u - n) > tol) | (n < 0) | (n > max_events)
    if np.any(bad):
        t, c = np.argwhere(bad)[0]
        raise ValueError(f"the signal is not a front-end event train (step {t}, channel {c}: increment {u[t, c]:.6g}); "
                         f"a front-end network is driven by the AFE's events only")
    return n.astype(np.int64)
