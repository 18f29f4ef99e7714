"""Figures of a learning run (matplotlib, written atomically as PNG; the CLI selects the Agg
backend, notebooks keep their inline backend): learning curves, spike rasters and the panels the
train stage writes."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import matplotlib.pyplot as plt  # noqa: E402  (the CLI selects the headless Agg backend)
import numpy as np  # noqa: E402

from neuromorph.artifacts import save_figure  # noqa: E402
from neuromorph.network import SCN  # noqa: E402
from neuromorph.sim.signals import sine_cosine  # noqa: E402
from neuromorph.sim.simulator import simulate  # noqa: E402


def learning_curves(curve: dict, title: str = "") -> plt.Figure:
    """Log-log error, rate, Var(V) and weight distance against learning time.

    Parameters
    ----------
    curve : lists ``time_s`` (s) and any of ``error``, ``rate_hz`` (Hz), ``v_var``,
        ``weight_distance``, one entry per snapshot.
    title : figure title.
    """
    keys = [("error", "normalised error"), ("rate_hz", "mean rate (Hz)"), ("v_var", "Var(V)"),
            ("weight_distance", "distance Ω to −FFᵀ")]
    keys = [k for k in keys if k[0] in curve]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.0))
    t = np.asarray(curve["time_s"], dtype=float)
    t = np.where(t > 0, t, np.nan)
    for ax, (k, lab) in zip(np.atleast_1d(axes), keys):
        ax.loglog(t, curve[k], "o-", ms=3)
        ax.set_xlabel("learning time (s)")
        ax.set_ylabel(lab)
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def raster(ax, spikes: np.ndarray, dt: float, color: str = "k") -> None:
    """Spike raster of ``spikes`` (T, N) on ``ax``; time axis in seconds (step ``dt`` s)."""
    t, n = np.nonzero(spikes)
    ax.plot(t * dt, n, "|", color=color, ms=3)
    ax.set_ylabel("neuron")
    ax.set_xlim(0, spikes.shape[0] * dt)


LEARNING_TITLE = "Fig 2: learning"  #: default title of the learning-curve figure


def training_figures(out: Path, *, net0: SCN, net: SCN, curve: dict, seed: int,
                     tuning: Optional[Callable] = None, title: str = LEARNING_TITLE) -> None:
    """The train stage's panels (the paper's Fig 2): learning curves, F in the plane, Ω vs
    −FFᵀ, sine/cosine reconstruction and rasters before/after, tuning curves.

    Parameters
    ----------
    out : directory receiving learning_curves.png, feedforward_weights.png,
        recurrent_vs_optimal.png, reconstruction_and_rasters.png (and tuning_curves.png).
    net0, net : the network before and after learning (2 input signals: F is drawn in the plane).
    curve : the learning curve (see :func:`learning_curves`).
    seed : noise seed of the example simulations.
    tuning : ``tuning(net, seed) -> (angles in degrees (A,), rates in Hz (A, N))``; None: no
        tuning-curve figure.
    title : title of the learning-curve figure.
    """
    out = Path(out)
    save_figure(learning_curves(curve, title), out / "learning_curves.png")
    network_figures(out, net0=net0, net=net, seed=seed, tuning=tuning)


def network_figures(out: Path, *, net0: SCN, net: SCN, seed: int, tuning: Optional[Callable] = None) -> None:
    """The panels of :func:`training_figures` that need only the two networks (all but the
    learning curves): feedforward_weights.png, recurrent_vs_optimal.png,
    reconstruction_and_rasters.png and, with ``tuning``, tuning_curves.png."""
    out = Path(out)
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
    for ax, n, lab in zip(axes, (net0, net), ("before", "after")):
        for f in n.F:
            ax.arrow(0, 0, f[0], f[1], head_width=0.04, length_includes_head=True, color="C0")
        lim = 1.2 * max(1.0, np.abs(n.F).max())
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.axhline(0, color="0.8", lw=0.5)
        ax.axvline(0, color="0.8", lw=0.5)
        ax.set_title(f"feed-forward weights F ({lab})")
    save_figure(fig, out / "feedforward_weights.png")

    fig, axes = plt.subplots(1, 2, figsize=(7, 3.3))
    for ax, n, lab in zip(axes, (net0, net), ("before", "after")):
        G = -(n.F @ n.F.T)
        ax.plot(G.ravel(), n.Omega.ravel(), ".", ms=3)
        ax.set_xlabel("−F Fᵀ")
        ax.set_ylabel("Ω")
        ax.set_title(lab)
    save_figure(fig, out / "recurrent_vs_optimal.png")

    T = 2000
    c = sine_cosine(T, net.dt, net.lam, period=1.0, amplitude=3.0)
    fig, axes = plt.subplots(3, 2, figsize=(10, 7), sharex=True, gridspec_kw={"height_ratios": [1, 1, 1.2]})
    for col, (n, lab) in enumerate(((net0, "before"), (net, "after"))):
        rec = simulate(n, c, seed=seed, record=("r", "spikes"))
        xh = rec.r @ n.D.T
        tt = np.arange(T) * n.dt
        for d in range(2):
            axes[d, col].plot(tt, rec.x[:, d], "k", lw=1, label="x")
            axes[d, col].plot(tt, xh[:, d], "C1", lw=1, label="x̂")
            axes[d, col].set_ylabel(f"x{d + 1}")
        axes[0, col].set_title(f"sine/cosine reconstruction ({lab})")
        axes[0, col].legend(loc="upper right", fontsize=7)
        raster(axes[2, col], rec.spikes, n.dt)
        axes[2, col].set_xlabel("time (s)")
    save_figure(fig, out / "reconstruction_and_rasters.png")

    if tuning is not None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
        for ax, n, lab in zip(axes, (net0, net), ("before", "after")):
            ang, rates = tuning(n, seed)
            ax.plot(ang, rates, lw=1)
            ax.set_xlabel("input direction (deg)")
            ax.set_title(f"tuning curves ({lab})")
        axes[0].set_ylabel("rate (Hz)")
        save_figure(fig, out / "tuning_curves.png")
