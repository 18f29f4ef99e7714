"""The :class:`Signal` record and what is done to a user's signal before a network sees it.

A signal is what the network must represent, x(t): shape (trials, T, M) — trials of T samples
of M channels, sampled every ``dt`` seconds.  The network is driven by the current
``c = dx/dt + λx`` computed from it (:func:`neuromorph.sim.signals.current_for_signal`), so a
signal is never "played" into the network as raw input.

Operating range.  A spike coding network codes well when its signal is of the size it was
built for: its thresholds (0.5 for unit-norm encoders) set the step of the code, so a signal
100× too small is represented by a handful of spikes, and one 100× too large makes every neuron
fire every step.  :func:`fit_scaling` therefore maps each channel of the user's training data
to zero mean and the standard deviation :data:`OPERATING_STD` of the built-in white-noise
signal the paper's networks are trained on; the scale is kept, so errors and decoded outputs
can be given back in the data's own units (``x_data = x_net · scale + offset``).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Optional, Sequence

import numpy as np

# Per-channel standard deviation of the built-in evaluation signal (smoothed white noise,
# amplitude 2000, Gaussian width 30 steps, leaky-integrated with λ = 50 s⁻¹ at dt = 1 ms):
# measured 3.54–3.65 over 6 channels of 2·10⁵ steps (seed 0).  User signals are scaled to it.
OPERATING_STD = 3.6

# The same for the EI network of the paper's Fig 4 (its input: amplitude 2000, width 30 steps,
# λ = 50 s⁻¹ at its step dt = 0.1 ms): measured 1.77–1.81 over 3 channels of 2·10⁵ steps (seed 0).
OPERATING_STD_EI = 1.8

BUILTIN_SOURCES = ("white-noise", "sine-cosine", "correlated-gaussian")

# Shortest part of a split that still gives a meaningful error estimate (steps): 10 leak time
# constants of the default network (τ = 20 ms at dt = 1 ms).
MIN_PART_STEPS = 200


class DataError(ValueError):
    """A data file or signal the user gave that cannot be used (one line, exit status 2)."""


@dataclass(frozen=True)
class Signal:
    """A sampled multichannel signal.

    Attributes
    ----------
    x : ndarray, shape (trials, T, M), float64
        The samples; finite.
    dt : float
        Sample step (s).
    source : str
        Where it came from (file name or built-in source name), for messages and provenance.
    channels : tuple of str
        One name per channel (CSV header, or ``x1 … xM``).
    dt_source : str
        ``"file"`` (the file stated it), ``"flag"`` (``--dt``), ``"assumed"`` (the network's step,
        because neither said) or ``"builtin"``.
    """

    x: np.ndarray
    dt: float
    source: str = "signal"
    channels: tuple = ()
    dt_source: str = "file"
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        x = np.asarray(self.x)
        if x.ndim != 3:
            raise DataError(f"{self.source}: signal must have shape (trials, T, M), got {x.shape}")
        if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
            raise DataError(f"{self.source}: signal must be real numbers, got dtype {x.dtype}")
        x = np.ascontiguousarray(x, dtype=np.float64)
        bad = ~np.isfinite(x)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise DataError(f"{self.source}: {int(bad.sum())} non-finite value(s) (NaN or inf), first at "
                            f"(trial, step, channel) = {first}")
        if x.shape[1] < 2 or x.shape[2] < 1 or x.shape[0] < 1:
            raise DataError(f"{self.source}: need at least 2 samples of at least 1 channel, got shape {x.shape}")
        if not (isinstance(self.dt, (int, float)) and np.isfinite(self.dt) and self.dt > 0):
            raise DataError(f"{self.source}: sample step dt must be a positive number of seconds, got {self.dt!r}")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "dt", float(self.dt))
        chans = tuple(self.channels) or tuple(f"x{i + 1}" for i in range(x.shape[2]))
        if len(chans) != x.shape[2]:
            raise DataError(f"{self.source}: {len(chans)} channel names for {x.shape[2]} channels")
        object.__setattr__(self, "channels", chans)

    @property
    def n_trials(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_steps(self) -> int:
        """Samples per trial."""
        return int(self.x.shape[1])

    @property
    def n_channels(self) -> int:
        return int(self.x.shape[2])

    @property
    def duration_s(self) -> float:
        """Total duration over all trials (s)."""
        return self.n_trials * self.n_steps * self.dt

    def with_x(self, x: np.ndarray, **changes) -> "Signal":
        return replace(self, x=x, **changes)


def resample(sig: Signal, dt: float) -> Signal:
    """``sig`` sampled every ``dt`` seconds instead of ``sig.dt``.

    Rational ratios (up to denominators of 1000) use polyphase filtering
    (:func:`scipy.signal.resample_poly`, which low-passes before decimating, so no aliasing);
    others fall back to linear interpolation.  Returns ``sig`` unchanged when the steps agree.

    Parameters
    ----------
    sig : Signal
    dt : float
        New sample step (s).
    """
    if not (np.isfinite(dt) and dt > 0):
        raise DataError(f"network time step must be > 0 s, got {dt!r}")
    if abs(sig.dt - dt) <= 1e-9 * dt:
        return sig
    ratio = sig.dt / dt  # output samples per input sample
    frac = Fraction(ratio).limit_denominator(1000)
    meta = dict(sig.meta, resampled_from_dt=sig.dt)
    if abs(float(frac) - ratio) <= 1e-9 * ratio:
        from scipy.signal import resample_poly

        y = resample_poly(sig.x, frac.numerator, frac.denominator, axis=1)
    else:
        t_in = np.arange(sig.n_steps) * sig.dt
        n_out = int(np.floor((sig.n_steps - 1) * sig.dt / dt + 1e-9)) + 1
        t_out = np.arange(n_out) * dt
        y = np.stack([np.stack([np.interp(t_out, t_in, tr[:, m]) for m in range(sig.n_channels)], axis=1)
                      for tr in sig.x])
    if y.shape[1] < 2:
        raise DataError(f"{sig.source}: resampled to dt = {dt:g} s the signal has {y.shape[1]} sample(s); "
                        f"it is shorter than two network steps")
    return replace(sig, x=y, dt=float(dt), meta=meta)


def split_signal(sig: Signal, test_fraction: float = 0.2) -> tuple:
    """Split off the last ``test_fraction`` as held-out data.

    With several trials and at least one whole trial in each part, whole trials are held out
    (the last ones); otherwise every trial is cut in time, its last ``test_fraction`` held out.

    Returns
    -------
    (train, test, how) : (Signal, Signal, str)
        ``how`` is ``"trials"`` or ``"time"``.
    """
    f = float(test_fraction)
    if not 0.0 < f < 1.0:
        raise DataError(f"test fraction must be between 0 and 1 (exclusive), got {test_fraction!r}")
    k = int(round(sig.n_trials * f))
    if sig.n_trials >= 2 and 1 <= k < sig.n_trials:
        return sig.with_x(sig.x[:-k]), sig.with_x(sig.x[-k:]), "trials"
    n_test = int(round(sig.n_steps * f))
    n_train = sig.n_steps - n_test
    if min(n_test, n_train) < MIN_PART_STEPS:
        raise DataError(f"{sig.source}: {sig.n_steps} samples per trial are too few to hold out {f:.0%} "
                        f"(each part needs >= {MIN_PART_STEPS} steps of {sig.dt:g} s)")
    return sig.with_x(sig.x[:, :n_train]), sig.with_x(sig.x[:, n_train:]), "time"


@dataclass(frozen=True)
class Scaling:
    """Per-channel affine map between the data's units and the network's:
    ``x_net = (x_data − offset) / scale``.

    Attributes
    ----------
    offset, scale : ndarray, shape (M,)
        In the data's units; ``scale > 0``.
    """

    offset: np.ndarray
    scale: np.ndarray

    def __post_init__(self) -> None:
        for name, v in (("offset", self.offset), ("scale", self.scale)):
            if np.asarray(v).dtype.kind not in "biuf":
                raise DataError(f"scaling {name} must be real numbers, got dtype {np.asarray(v).dtype}")
        off = np.atleast_1d(np.asarray(self.offset, dtype=np.float64))
        sc = np.atleast_1d(np.asarray(self.scale, dtype=np.float64))
        if off.shape != sc.shape or off.ndim != 1:
            raise DataError(f"scaling offset {off.shape} and scale {sc.shape} must be equal 1-D shapes")
        if not (np.all(np.isfinite(off)) and np.all(np.isfinite(sc)) and np.all(sc > 0)):
            raise DataError("scaling offset must be finite and scale finite and > 0")
        object.__setattr__(self, "offset", off)
        object.__setattr__(self, "scale", sc)

    @classmethod
    def identity(cls, n_channels: int) -> "Scaling":
        return cls(np.zeros(n_channels), np.ones(n_channels))

    def to_network(self, x: np.ndarray) -> np.ndarray:
        """Data units → network units (any leading shape, channels last)."""
        return (np.asarray(x, dtype=np.float64) - self.offset) / self.scale

    def to_data(self, x_net: np.ndarray) -> np.ndarray:
        """Network units → data units (any leading shape, channels last)."""
        return np.asarray(x_net, dtype=np.float64) * self.scale + self.offset


def fit_scaling(train: Signal, target_std: float = OPERATING_STD, center: bool = True) -> Scaling:
    """The :class:`Scaling` that gives every channel of ``train`` zero mean (if ``center``) and
    standard deviation ``target_std`` in network units.  A constant channel cannot be scaled and
    is an error naming it."""
    x = train.x.reshape(-1, train.n_channels)
    sd = x.std(axis=0)
    flat = np.flatnonzero(~(sd > 1e-12 * np.maximum(1.0, np.abs(x).max(axis=0))))
    if flat.size:
        names = ", ".join(train.channels[i] for i in flat[:5])
        raise DataError(f"{train.source}: channel(s) {names} are constant in the training part; "
                        f"a network cannot code a signal without variation (drop them)")
    offset = x.mean(axis=0) if center else np.zeros(train.n_channels)
    return Scaling(offset, sd / float(target_std))


def builtin_signal(name: str, n_channels: int, n_steps: int, dt: float, lam: float, seed: int,
                   n_trials: int = 1) -> Signal:
    """A built-in named source, as the signal x (trials, T, M) it makes the network represent.

    Parameters
    ----------
    name : {"white-noise", "sine-cosine", "correlated-gaussian"}
        Smoothed white noise (the paper's Fig 2 input, amplitude 2000, width 30 steps); a sine
        and a cosine of period 1 s (M = 2 only); white noise mixed to pairwise correlation 0.5.
    n_channels, n_steps, n_trials : int
    dt : float
        Sample step (s).
    lam : float
        Leak (s⁻¹) with which the input current is integrated into the signal.
    seed : int
    """
    from neuromorph.sim.signals import correlated_gaussian, leaky_integrate, sine_cosine, smoothed_white_noise

    if name not in BUILTIN_SOURCES:
        raise DataError(f"unknown built-in source {name!r}; choose one of {', '.join(BUILTIN_SOURCES)} or give a data file")
    rng = np.random.default_rng(seed)
    trials = []
    for _ in range(int(n_trials)):
        if name == "white-noise":
            c = smoothed_white_noise(n_steps, n_channels, rng, block=None)
        elif name == "sine-cosine":
            if n_channels != 2:
                raise DataError(f"built-in source 'sine-cosine' has 2 channels, asked for {n_channels}")
            c = sine_cosine(n_steps, dt, lam)
        else:
            cov = 0.5 * np.eye(n_channels) + 0.5 * np.ones((n_channels, n_channels))
            c = correlated_gaussian(n_steps, cov, rng, block=None)
        trials.append(leaky_integrate(c, lam, dt))
    return Signal(np.stack(trials), dt, source=f"built-in:{name}", dt_source="builtin")


def concat_trials(sig: Signal) -> np.ndarray:
    """All trials one after the other, shape (trials·T, M) (for decoders fitted on all data)."""
    return sig.x.reshape(-1, sig.n_channels)


def channel_names(n: int, given: Optional[Sequence[str]] = None) -> tuple:
    return tuple(given) if given else tuple(f"x{i + 1}" for i in range(n))
