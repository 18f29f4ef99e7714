"""What a person looks at after ``neuromorph train`` on a signal: the held-out signal against
its reconstruction (PNG) and a short ``report.md``."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from neuromorph.artifacts import atomic_write_text, save_figure
from neuromorph.data import RunData

#: At most this many channels and seconds of the held-out signal are drawn.
PLOT_CHANNELS = 8
PLOT_SECONDS = 3.0


def reconstruction_figure(path: Path, rd: RunData, x_hat: np.ndarray,
                          x_hat_before: Optional[np.ndarray] = None) -> Path:
    """Held-out signal (data units) and the float network's reconstruction after (and before)
    learning: one panel per channel, the first :data:`PLOT_SECONDS` s of the first held-out trial.

    Parameters
    ----------
    path : PNG file to write.
    rd : the run's data (its scaling maps network units back to the data's).
    x_hat, x_hat_before : (samples, M) reconstructions of the held-out data samples in network
        units, trials one after the other (as :func:`neuromorph.stages.train_signal.evaluate_on`).
    """
    import matplotlib.pyplot as plt

    T = rd.test.n_steps
    n = min(T, int(round(PLOT_SECONDS / rd.dt)))
    M = rd.n_channels
    show = min(M, PLOT_CHANNELS)
    t = np.arange(n) * rd.dt
    x = rd.scaling.to_data(rd.test.x[0, :n])
    xh = rd.scaling.to_data(x_hat[:n])
    fig, axes = plt.subplots(show, 1, figsize=(9, 1.5 + 1.3 * show), sharex=True, squeeze=False)
    for i, ax in enumerate(axes[:, 0]):
        ax.plot(t, x[:, i], "k", lw=1.2, label="held-out signal")
        if x_hat_before is not None:
            ax.plot(t, rd.scaling.to_data(x_hat_before[:n])[:, i], color="0.6", lw=0.8, label="before learning")
        ax.plot(t, xh[:, i], "C1", lw=1, label="after learning")
        ax.set_ylabel(rd.test.channels[i])
    axes[0, 0].legend(loc="upper right", fontsize=7, ncol=3)
    axes[0, 0].set_title(f"{rd.source}: held-out signal and float reconstruction"
                         + (f" (first {show} of {M} channels)" if show < M else ""))
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    return save_figure(fig, path)


def train_markdown(m: dict) -> str:
    """``report.md`` of a train run on a signal (``m``: its metrics)."""
    d = m["data"]
    ei = m["network"] == "ei"
    p = m["parameters"]
    size = f"{p['n_exc']} E + {p['n_inh']} I neurons (Dale's law)" if ei else f"{p['n_neurons']} neurons"
    lines = [f"# neuromorph train: {d['source']}", "",
             f"{'EI network' if ei else 'Spike coding network'} of {size}, {p['n_inputs']} signal(s), "
             f"λ = {p['lam']:g} s⁻¹, dt = {p['dt']:g} s; learnt for {m['steps']:,} steps "
             f"({m['simulated_seconds']:g} s of the looped training signal, {m['learn_seconds']:.1f} s wall).", "",
             f"Data: train {d['train_shape']} / held-out {d['test_shape']} (trials, samples, channels), split by "
             f"{d['split']}, test fraction {d['test_fraction']:g}; sample step {d['data_dt']:g} s ({d['dt_source']}), "
             f"network step {d['dt']:g} s; scaled to std {d['target_std']:g} per channel on the training part.", "",
             "## Held-out coding error (normalised: Σ Var(x − x̂) / Σ Var(x))", "",
             "| | before learning | after learning |", "|---|---|---|",
             f"| error{' (E)' if ei else ''} | {m['error_before']:.4g} | {m['error_after']:.4g} |",
             f"| mean rate{' E' if ei else ''} (Hz) | {m['rate_before_hz']:.3g} | {m['rate_after_hz']:.3g} |"]
    if ei:
        lines += [f"| error (I) | {m['error_i_before']:.4g} | {m['error_i_after']:.4g} |",
                  f"| mean rate I (Hz) | {m['rate_i_before_hz']:.3g} | {m['rate_i_after_hz']:.3g} |"]
    lines += ["", "## Per channel (after learning; RMSE in the data's units)", "",
              "| channel | error | RMSE | signal std |", "|---|---|---|---|"]
    for c, v in m["per_channel"].items():
        err = "n/a (silent)" if v["error_after"] is None else f"{v['error_after']:.4g}"
        lines.append(f"| {c} | {err} | {v['rmse_after']:.4g} | {v['std']:.4g} |")
    lines += ["", "![held-out reconstruction](reconstruction.png)", "",
              "Files: `network.npz` (learnt, with its decoder), `network_initial.npz`, `data.npz` (the split and "
              "scaling used), `metrics.json`.", ""]
    return "\n".join(lines)


def write_train_report(out: Path, m: dict) -> Path:
    return atomic_write_text(Path(out) / "report.md", train_markdown(m))
