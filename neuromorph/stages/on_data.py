"""The user's signal through the float network, the fake-quant model and the chip — and the
results back in the user's terms (``quantize`` and ``verify`` share this).

A :class:`UserSignal` holds two views of one signal: ``x`` in network units at the network's
step (what the models are driven with, trial by trial from rest) and ``reference`` in the data
file's units at the file's step (what the user compares against).  :meth:`UserSignal.to_user`
brings a model's estimate from the first view to the second: resampled back to the file's step
(row t of the result estimates the file's row t) and unscaled.  Every headline error is
``metrics.normalized_error`` of that estimate against ``reference`` — the number a user gets
from ``decoded_emulated.npy`` and their own file.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from neuromorph.data import DataError, Scaling, Signal, fit_scaling, load_signal, resample
from neuromorph.metrics import normalized_error
from neuromorph.network import SCN
from neuromorph.quant.calibration import as_trials, chip_increments, clipping
from neuromorph.sim.rng import derive_seed
from neuromorph.sim.signals import current_for_signal
from neuromorph.sim.simulator import SimOptions, simulate


def warn_stderr(msg: str) -> None:
    """One warning line on stderr (``neuromorph: warning: …``)."""
    import sys

    print(f"neuromorph: warning: {msg}", file=sys.stderr)


@dataclass(frozen=True)
class UserSignal:
    """A signal to code, in network units, with the way back to the user's file.

    Attributes
    ----------
    x : ndarray, shape (trials, T, M)
        Network units, sampled at ``dt`` (the network's step).
    reference : ndarray, shape (trials, T_user, M)
        The user's signal in data units at ``dt_user``.
    dt, dt_user : float
        Network step and the user's sample step (s).
    scaling : Scaling
        ``x_data = x_net · scale + offset``.
    source : str
        For reports: ``"held-out split of the run"``, a file name, ``"built-in white noise"``.
    two_d : bool
        The user's array was (T, M): estimates are written (T, M), not (1, T, M).
    """

    x: np.ndarray
    reference: np.ndarray
    dt: float
    dt_user: float
    scaling: Scaling
    source: str
    two_d: bool = True
    channels: tuple = ()
    notes: dict = field(default_factory=dict)

    @property
    def n_channels(self) -> int:
        return int(self.x.shape[2])

    @property
    def resampled(self) -> bool:
        return abs(self.dt - self.dt_user) > 1e-9 * self.dt

    def to_user(self, y: np.ndarray) -> np.ndarray:
        """A model's estimate (trials, T, M), network units at ``dt`` → data units at
        ``dt_user``, the shape of :attr:`reference` (row t estimates the user's row t)."""
        return to_user_grid(y, self.dt, self.dt_user, int(self.reference.shape[1]), self.scaling)

    def shaped(self, a: np.ndarray) -> np.ndarray:
        """``a`` (trials, T, M) in the user's array layout ((T, M) for a 2-D file)."""
        return a[0] if self.two_d and a.shape[0] == 1 else a

    def describe(self) -> dict:
        return {"source": self.source, "shape": list(self.shaped(self.reference).shape), "dt_s": self.dt_user,
                "network_dt_s": self.dt, "resampled": self.resampled, "network_steps": int(self.x.shape[1]),
                "trials": int(self.x.shape[0]), "channels": list(self.channels), **self.notes}


def to_user_grid(y: np.ndarray, dt: float, dt_user: float, n_user: int, scaling: Scaling) -> np.ndarray:
    """Estimate ``y`` (trials, T, M), network units at step ``dt`` → data units at ``dt_user``,
    exactly ``n_user`` rows per trial (polyphase resampling is zero-phase, so row t stays the
    estimate at time t·dt_user; it rounds the length, which is cut or padded with the last row)."""
    y = as_trials(y)
    if abs(dt - dt_user) > 1e-9 * dt:
        y = resample(Signal(y, dt, source="estimate"), dt_user).x
        if y.shape[1] >= n_user:
            y = y[:, :n_user]
        else:
            y = np.concatenate([y, np.repeat(y[:, -1:], n_user - y.shape[1], axis=1)], axis=1)
    return scaling.to_data(y)


def qdir_scaling(qdir: Union[str, Path]) -> Optional[Scaling]:
    """The data scaling of a quantize output: that of the run's ``data.npz`` copy, else the one
    quantize fitted on a ``--calibration`` file for a run without data, else None."""
    import json

    from neuromorph.data import load_run_data

    qdir = Path(qdir)
    rd = load_run_data(qdir)
    if rd is not None:
        return rd.data_scaling  # a PCA run: back to the M original channels
    p = qdir / "quantization.json"
    if p.is_file():
        sc = json.loads(p.read_text()).get("scaling")
        if sc and not (np.allclose(sc["offset"], 0) and np.allclose(sc["scale"], 1)):
            return Scaling(np.asarray(sc["offset"], dtype=np.float64), np.asarray(sc["scale"], dtype=np.float64))
    return None


def signal_from_arrays(x_net: np.ndarray, dt: float, scaling: Scaling, source: str,
                       channels: tuple = ()) -> UserSignal:
    """A signal already at the network's step in network units (a run's split, built-in noise)."""
    x = as_trials(x_net)
    return UserSignal(x, scaling.to_data(x), dt, dt, scaling, source, two_d=np.ndim(x_net) == 2 or x.shape[0] == 1,
                      channels=tuple(channels) or tuple(f"x{i + 1}" for i in range(x.shape[2])))


def held_out_signal(rd) -> UserSignal:
    """A run's held-out split (:class:`~neuromorph.data.RunData`), in the user's channels: for a
    run on K principal components the reference is the original M-channel held-out signal and
    estimates go back through the components (:class:`~neuromorph.data.pca.ProjectedScaling`)."""
    src = "held-out split of the run (data.npz)"
    if rd.pca is None:
        return signal_from_arrays(rd.test.x, rd.dt, rd.scaling, src, rd.test.channels)
    x = as_trials(rd.test.x)
    return UserSignal(x, as_trials(rd.test_original), rd.dt, rd.dt, rd.data_scaling, src,
                      two_d=np.ndim(rd.test.x) == 2 or x.shape[0] == 1, channels=tuple(rd.pca.channels))


def signal_from_file(path: Union[str, Path], dt_net: float, n_channels: int, scaling: Optional[Scaling], *,
                     dt: Optional[float] = None) -> UserSignal:
    """Load a data file (``load_signal``), scale it with the run's ``scaling`` (fitted on the file
    itself when the run has none, and said so in ``notes``) and resample it to ``dt_net``.

    Raises
    ------
    DataError
        Unreadable file, or a channel count other than the network's ``n_channels``.
    """
    sig = load_signal(path, dt=dt, default_dt=dt_net)
    want = getattr(scaling, "n_data_channels", n_channels)  # a PCA run: the M channels it was fitted on
    if sig.n_channels != want:
        pcs = f" (its {n_channels} principal components)" if want != n_channels else ""
        raise DataError(f"{Path(path).name} has {sig.n_channels} channel(s); the network codes {want}{pcs}")
    notes = {"dt_source": sig.dt_source}
    if scaling is None:
        scaling = fit_scaling(sig)
        notes["scaling"] = "fitted on this file (the run kept no data scaling)"
    else:
        notes["scaling"] = "the run's"
    x_net = resample(sig.with_x(scaling.to_network(sig.x), channels=()), dt_net).x
    two_d = _file_ndim(Path(path), sig) <= 2
    return UserSignal(x_net, sig.x, float(dt_net), sig.dt, scaling, Path(path).name, two_d=two_d,
                      channels=sig.channels, notes=notes)


def _file_ndim(path: Path, sig: Signal) -> int:
    """Dimensions of the user's array (a (1, T, M) file keeps its leading axis in the outputs)."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return int(np.load(path, mmap_mode="r", allow_pickle=False).ndim)
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as z:
            return int(z["x"].ndim)
    return 2 if sig.n_trials == 1 else 3


# ------------------------------------------------------------------------------------- models

def run_float(net: SCN, x: np.ndarray, seed: int, options: Optional[SimOptions] = None,
              steps_per_sample: int = 1) -> dict:
    """``net`` driven to represent each trial of ``x`` (trials, T, M) from rest.

    Returns ``{"x_hat": (trials, T, M), "rate_hz": mean rate, "rates_hz": (N,)}``.  Trial k's
    noise stream is ``derive_seed(seed, 23)`` for k = 0 (so one trial is exactly
    ``fakequant.signal_error``) and ``derive_seed(seed, 23, k)`` after.  ``steps_per_sample``
    k > 1: ``net`` steps at the chip step (``x``'s step / k); ``x`` is upsampled to it and the
    estimate brought back to ``x``'s step (:mod:`neuromorph.quant.chip_step`)."""
    from neuromorph.quant.chip_step import downsample, upsample

    x = upsample(as_trials(x), steps_per_sample)
    est, counts, steps = [], np.zeros(net.n_neurons), 0
    for k, tr in enumerate(x):
        s = derive_seed(seed, 23) if k == 0 else derive_seed(seed, 23, k)
        rec = simulate(net, current_for_signal(tr, net.lam, net.dt), seed=s, record=("r",), options=options)
        est.append(rec.r @ net.D.T)
        counts += rec.counts
        steps += tr.shape[0]
    rates = counts / (steps * net.dt)
    return {"x_hat": downsample(np.stack(est), steps_per_sample), "rate_hz": float(rates.mean()), "rates_hz": rates}


def input_drives(backend, q, x: np.ndarray) -> list:
    """Per trial, the drive (T·k, M) the backend's encoder event-codes for ``x`` (network units
    at the learning step; upsampled to the chip step, k = ``q.steps_per_sample``)."""
    from neuromorph.quant.chip_step import upsample

    from neuromorph.backends.xylo.deploy import drive_lam

    return [backend.input_drive(chip_increments(tr, drive_lam(q), q.dt), q.dash_syn)
            for tr in upsample(as_trials(x), q.steps_per_sample)]


def input_clipping(backend, q, x: np.ndarray) -> dict:
    """:func:`neuromorph.quant.calibration.clipping` of ``x`` through ``q``'s encoder.  A network
    driven by an audio front-end takes the AFE's events as they are (nothing is held back by an
    encoder); its report counts the (step, channel) entries at the per-step limit instead."""
    if q.stats.get("frontend") is not None:
        ev = [backend.encode(q, tr) for tr in as_trials(x)]
        entries = sum(e.size for e in ev)
        return {"input_events_clipped_fraction": 0.0,
                "steps_at_limit_fraction": sum(int((e >= q.max_input_events).sum()) for e in ev) / max(entries, 1),
                "onset_events_deferred": 0.0, "peak_wanted_events": float(max(int(e.max()) for e in ev)),
                "max_events": int(q.max_input_events)}
    return clipping(input_drives(backend, q, x), q.input_gain, q.max_input_events)


def run_emulated(backend, q, deployable, x: np.ndarray, reference=None) -> dict:
    """The chip (the backend's emulator) on each trial of ``x`` from reset.

    Returns the read-out ``x_hat`` (trials, T, M, network units), the spikes decoded off-chip
    ``x_hat_spikes``, rates, input events per step, saturation counts summed over trials and,
    with ``reference`` (the backend's reference simulator), whether it agrees state for state."""
    from neuromorph.quant.chip_step import downsample, upsample
    from neuromorph.sim.leaky_filter import first_order_filter  # lfilter bit for bit, no scipy.signal import

    k_s = q.steps_per_sample  # the chip steps k times per sample of x (upsampled here)
    x = upsample(as_trials(x), k_s)
    D = q.dequantize()["D"]
    est, est_sp, filt, sat, diffs = [], [], [], {}, {}
    counts, events, steps, wall, wall_ref = np.zeros(q.n_neurons), 0, 0, 0.0, 0.0
    rasters, peak_out = [], None
    for k, tr in enumerate(x):
        raster = backend.encode(q, tr)
        rasters.append(raster)
        t0 = time.perf_counter()
        rec = backend.emulate(deployable, raster, record=True)
        wall += time.perf_counter() - t0
        est.append(backend.decode(q, rec))
        spikes = np.asarray(rec["Spikes"], dtype=np.float64)
        if spikes.shape[1] != q.n_neurons:  # a relay layout: the coding neurons follow the 2M input relays
            lo = int((q.stats.get("relays") or {}).get("n_in", 0))
            spikes = spikes[:, lo:lo + q.n_neurons]
        r = first_order_filter(spikes, 1.0 - q.lam_chip * q.dt, 1.0)
        est_sp.append(r @ D.T)
        filt.append(downsample(r[None], k_s)[0])
        counts += spikes.sum(0)
        events += int(raster.sum())
        steps += tr.shape[0]
        if "Vmem_out" in rec:
            peak_out = max(peak_out or 0.0, float(np.abs(rec["Vmem_out"]).max()))
        for key, n in backend.saturation_counts(rec).items():
            sat[key] = sat.get(key, 0) + int(n)
        if reference is not None:
            cmp = compare_with_reference(reference, raster, rec)
            wall_ref += cmp["xylosim_seconds"]
            for key, v in cmp["differences"].items():
                diffs[f"trial {k}: {key}" if x.shape[0] > 1 else key] = v
    rates = counts / (steps * q.dt)
    out = {"x_hat": downsample(np.stack(est), k_s), "x_hat_spikes": downsample(np.stack(est_sp), k_s),
           "filtered_spikes": filt, "rate_hz": float(rates.mean()),
           "rates_hz": rates, "input_events_per_step": events / steps, "saturation_events": sat,
           "emulator_seconds": wall, "rasters": rasters, "readout_peak": peak_out}
    if reference is not None:
        out.update(matches=not diffs, differences=diffs, reference_seconds=wall_ref)
    return out


# ------------------------------------------------------------------------------------- errors

def compare_with_reference(reference, raster: np.ndarray, emulated: dict) -> dict:
    """Run the backend's reference simulator on ``raster`` and compare every state it records
    with ``emulated`` (exact equality; a count of differing entries per state)."""
    t0 = time.perf_counter()
    rec = reference(raster)
    wall = time.perf_counter() - t0
    diffs = {}
    for k, a in rec.items():
        b = np.asarray(emulated[k])
        if a.shape != b.shape:
            diffs[k] = f"shape {a.shape} vs {b.shape}"
        else:
            n = int(np.count_nonzero(a != b))
            if n:
                diffs[k] = n
    return {"matches": not diffs, "differences": diffs, "xylosim_seconds": wall}


def user_error(sig: UserSignal, y_user: np.ndarray) -> float:
    """Normalised error of an estimate in the user's layout against ``sig.reference``."""
    M = sig.reference.shape[-1]  # the user's channels (a PCA run codes fewer)
    return normalized_error(sig.reference.reshape(-1, M), np.asarray(y_user).reshape(-1, M))


def channel_errors(sig: UserSignal, estimates: dict) -> list:
    """Per channel and model: normalised error (Var(x − x̂)/Var(x)) and RMSE in data units."""
    M = sig.reference.shape[-1]
    ref = sig.reference.reshape(-1, M)
    out = []
    for m in range(M):
        row = {"channel": sig.channels[m] if m < len(sig.channels) else f"x{m + 1}"}
        for name, y in estimates.items():
            e = ref[:, m] - np.asarray(y).reshape(-1, M)[:, m]
            row[f"error_{name}"] = float(np.var(e) / np.var(ref[:, m])) if np.var(ref[:, m]) > 0 else None
            row[f"rmse_{name}"] = float(np.sqrt(np.mean(e ** 2)))
        out.append(row)
    return out


# ------------------------------------------------------------------------------ chip vs float

#: Chip/float ratio of the coding error or of the spike rate above which reports flag the chip
#: (issue 13: an SCN is worth deploying only if it codes as precisely with as few spikes).
FIDELITY_FLAG_RATIO = 1.5


def fidelity_ratios(error_float: float, error_chip: Optional[float], rate_float: float,
                    rate_chip: Optional[float], limit: float = FIDELITY_FLAG_RATIO) -> dict:
    """Chip/float ratios of the coding error and of the mean spike rate, and one flag line for
    each that exceeds ``limit`` (the rate counted as prominently as the error).

    Returns ``{"error_ratio", "rate_ratio", "limit", "flags": [str, ...]}`` (ratios None when the
    chip was not run)."""
    def ratio(a, b):
        return None if a is None or b is None or not b > 0 else float(a) / float(b)

    er, rr = ratio(error_chip, error_float), ratio(rate_chip, rate_float)
    flags = []
    if er is not None and er > limit:
        flags.append(f"chip coding error {er:.2f}x the float network's (above {limit:g}x; quantize --adapt-steps "
                     f"50000 retrains under the chip's dynamics: lower error at more spikes, docs/chip_fidelity.md)")
    if rr is not None and rr > limit:
        flags.append(f"chip spike rate {rr:.2f}x the float network's (above {limit:g}x)")
    return {"error_ratio": er, "rate_ratio": rr, "limit": float(limit), "flags": flags}


def fidelity_line(fid: dict) -> str:
    """One line for reports and the CLI: both ratios, then the flags."""
    f = lambda v: "n/a" if v is None else f"{v:.2f}x"  # noqa: E731
    line = f"chip/float: error {f(fid['error_ratio'])}, spike rate {f(fid['rate_ratio'])}"
    return line + ("" if not fid["flags"] else " -- WARNING: " + "; ".join(fid["flags"]))
