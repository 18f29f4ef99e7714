"""Fig 2: 20 neurons learn to represent two smoothed white-noise signals.

Parameters are the paper's (and the authors' code's): λ = 50 s⁻¹, dt = 1 ms, ε_Ω = 1e-3,
ε_F = 1e-4, α = 0.18 (code placement), β = 1/0.9, μ = 0.02/0.9, T = 0.5, voltage/threshold
noise 0.001/0.01, input amplitude 2000 with σ = 30 ms smoothing in 1000-step blocks.
Initial condition ``init="paper"`` (default): lopsided F (no neuron with a positive weight on
signal 1), zero lateral Ω with −0.5 self-resets — the paper's Fig 2 storyline.  ``init="code"``:
the authors' script's isotropic unit F and Ω ~ U[−0.2, 0] (diagonal −0.5 − U[0, 0.2]).

Evaluation (docs/authors_code.md §2.5): at exponentially spaced snapshots (steps 2, 4, …, 2^j) and on the
final weights: decoder fitted on 50 s at 0.3·A, error/rate/Var(V) on test trials at A; weight
distance to −F Fᵀ.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Optional

from neuromorph.experiments.options import count_option
from neuromorph.network import SCN
from neuromorph.sim.evaluation import EvalProtocol
from neuromorph.sim.init import SCNParams, initial_scn
from neuromorph.sim.init import default_rules  # noqa: F401  (re-exported: fig2.default_rules)
from neuromorph.sim.rng import derive_seed
from neuromorph.stages.train import BLOCK, learn_scn, train_network
from neuromorph.stages.train import snapshot_schedule, tuning_curves  # noqa: F401  (re-exported)

FULL_ITERATIONS = 14_000
QUICK_ITERATIONS = 300
N_NEURONS, N_INPUTS = 20, 2

PARAMS = {"n_neurons": N_NEURONS, "n_inputs": N_INPUTS, **asdict(SCNParams())}


def initial_network(seed: int, init: str = "paper", n_neurons: int = N_NEURONS, n_inputs: int = N_INPUTS) -> SCN:
    """The Fig 2 starting network (see module docstring for ``init``); ``seed`` is the master seed."""
    return initial_scn(derive_seed(seed, 2), init, n_neurons, n_inputs, meta={"experiment": "fig2", "init": init})


def train(seed: int, iterations: int, init: str = "paper", progress: bool = True,
          rules: Optional[tuple] = None) -> tuple:
    """Learn the Fig 2 network; returns (initial net, LearnResult)."""
    return learn_scn(seed, iterations, init, n_neurons=N_NEURONS, n_inputs=N_INPUTS, rules=rules,
                     progress=progress)


def run(out: Path, *, seed: int = 0, iterations: Optional[int] = None, quick: bool = False,
        progress: bool = True, init: str = "paper", protocol: Optional[EvalProtocol] = None) -> dict:
    """Learn, evaluate over learning, write figures and the network files; return the metrics
    (the product's train stage, :func:`neuromorph.stages.train.train_network`, on the paper's
    protocol)."""
    iterations = count_option("iterations", iterations, QUICK_ITERATIONS if quick else FULL_ITERATIONS,
                              f"{BLOCK}-step blocks")
    proto = protocol or EvalProtocol(n_trials=(3 if quick else 10))
    return train_network(out, seed=seed, iterations=iterations, init=init, protocol=proto, progress=progress,
                         n_neurons=N_NEURONS, n_inputs=N_INPUTS, experiment="fig2")
