"""neuromorph train [CONFIG] [--data FILE ...] --out RUN"""
from __future__ import annotations

import argparse
from pathlib import Path

HELP = "learn a network on your signal (or the paper's Fig 2 protocol) with local plasticity"
DESCRIPTION = """Learn a spike coding network with the local plasticity rules of Brendel et al. 2020.

With --data FILE (.npy, .npz, .csv, .wav; shapes (T,), (T, M) or (trials, T, M)) the network
learns your M-channel signal: it is resampled to the network step, its last --test-fraction is
held out, it is scaled to the network's operating range, and the training part is looped for
--steps/--seconds of learning. The decoder is fitted on the training part; errors and rates are
reported on the held-out part. Without --data the config's data.source decides (default: the
paper's Fig 2 protocol, 20 neurons, 2 white-noise signals).

Every flag is a key of the run config (shown in brackets); flags override CONFIG, keys left out
take the built-in defaults ('neuromorph pipeline --show-config' prints them).

RUN receives network.npz (the learnt network, with its decoder), network_initial.npz,
metrics.json, report.md and PNG figures, and data.npz (the split and scaling used) for a
signal; it is the input of 'neuromorph quantize'. Guide: docs/your_own_data.md."""

#: flag destination -> config key
FLAG_KEYS = {"data": "data.file", "dt": "data.dt", "test_fraction": "data.test_fraction",
             "network": "train.network", "neurons": "train.neurons", "neurons_e": "train.neurons_e",
             "neurons_i": "train.neurons_i", "steps": "train.steps", "seconds": "train.seconds", "max_fanout": "train.fanout",
             "target": "train.target", "seed": "seed",
             "max_channels": "train.max_channels",
             "frontend": "data.frontend", "frontend_noise": "data.frontend_noise"}


def add_arguments(p) -> None:
    p.add_argument("config", type=Path, nargs="?", help="YAML run config (default: built in)")
    p.add_argument("--out", required=True, type=Path, metavar="RUN", help="run directory (created)")
    p.add_argument("--data", type=Path, metavar="FILE", help="your signal: .npy, .npz, .csv or .wav [data.file]")
    p.add_argument("--dt", type=float, metavar="SECONDS",
                   help="sample step of FILE if the file does not state it (default: the network step) [data.dt]")
    p.add_argument("--test-fraction", type=float, metavar="F",
                   help="held-out part of the signal, 0 < F < 1 (default 0.2) [data.test_fraction]")
    p.add_argument("--network", choices=("scn", "ei"), help="scn, or ei: E and I populations with Dale's law "
                                                           "[train.network]")
    p.add_argument("--neurons", type=int, metavar="N", help="SCN size (default 100; fig2: 20) [train.neurons]")
    p.add_argument("--neurons-e", type=int, metavar="NE", help="EI: excitatory neurons (default 100) [train.neurons_e]")
    p.add_argument("--neurons-i", type=int, metavar="NI", help="EI: inhibitory neurons (default 25) [train.neurons_i]")
    p.add_argument("--steps", type=int, metavar="K", help="learning length in network steps [train.steps]")
    p.add_argument("--seconds", type=float, metavar="S",
                   help="learning length in simulated seconds (default 200) [train.seconds]")
    p.add_argument("--seed", type=int, help="master seed; the same seed gives the same files [seed]")
    p.add_argument("--max-fanout", type=int, metavar="K",
                   help="learn under a connectivity mask with at most K recurrent targets per neuron, self "
                        "included (Xylo Audio 2 allows 64) [train.fanout]")
    p.add_argument("--target", metavar="NAME_OR_YAML",
                   help="train for this chip: check that the network's shapes fit it before any work "
                        "(exit 2 with the failing limit otherwise) and learn under its fan-out limit [train.target]")
    p.add_argument("--max-channels", type=int, metavar="K",
                   help="code the signal's first K principal components (fitted on the training part); verify "
                        "decodes back to the M original channels [train.max_channels]")
    p.add_argument("--frontend", metavar="DEVICE",
                   help="a .wav FILE goes through this chip's audio front-end (xylo-audio-v2, or xylo-audio-v3 "
                        "with train.dt a whole number of 20.48 us AFE clocks, e.g. 0.001024): the network "
                        "learns its 16 event channels (v2: as 8 bands) and the deployed chip takes the events "
                        "directly [data.frontend]")
    p.add_argument("--frontend-ideal", dest="frontend_noise", action="store_const", const=False,
                   help="simulate the front-end without its analog noise, offsets and mismatch (about 5x "
                        "faster) [data.frontend_noise = false]")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def overrides(args: argparse.Namespace) -> dict:
    """The config keys the flags set (dotted), for :func:`neuromorph.config.load_config`."""
    out = {}
    for dest, k in FLAG_KEYS.items():
        v = getattr(args, dest, None)
        if v is not None:
            out[k] = str(v) if isinstance(v, Path) else v
    return out


def main(args) -> int:
    from neuromorph.config import load_config
    from neuromorph.stages.train import run_train

    cfg = load_config(args.config, overrides(args))
    m = run_train(cfg, args.out, progress=not args.no_progress)
    where = "held-out " if m.get("experiment") == "signal" else ""
    print(f"{where}error {m['error_before']:.3g} -> {m['error_after']:.3g}, rate {m['rate_before_hz']:.3g} -> "
          f"{m['rate_after_hz']:.3g} Hz; wrote {args.out}")
    return 0
