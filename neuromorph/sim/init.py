"""Initial networks: where learning starts, for any number of neurons N and input signals M.

* :func:`unit_encoders` — Gaussian feed-forward rows normalised to unit length (isotropic).
* :func:`paper_start` — the paper's Fig 2 storyline: lopsided F (no neuron has a positive weight
  on signal 1), no lateral weights, self-resets −0.5 (docs/authors_code.md §2.7).
* :func:`code_start` — the authors' Fig 2 script: unit F, Ω off-diagonal ~ U[−0.2, 0], diagonal
  −0.5 − U[0, 0.2] (docs/authors_code.md §2.1; how it differs from the paper: §9).
* :func:`initial_scn` — either start by name (``init="paper" | "code"``).
* :func:`default_rules` — the Fig 2 code's plasticity rules.
* :func:`initial_ei_network` — the authors' Fig 4 start of the EI network with Dale's law
  (docs/authors_code.md §3.1).

Each initialiser draws from ``np.random.default_rng(seed)`` in a fixed order (F first, then Ω),
so a given seed always gives the same network; callers derive ``seed`` for their own stream.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from neuromorph.network import EINetwork, SCN
from neuromorph.sim.plasticity import FeedforwardRule, RecurrentRule

INITS = ("paper", "code")


@dataclass(frozen=True)
class SCNParams:
    """Neuron, plasticity and training-input parameters of an SCN learning run; the defaults are
    the paper's and the authors' Fig 2 code's (docs/authors_code.md §2.1).

    Attributes
    ----------
    lam : leak rate λ (1/s).
    dt : time step (s).
    threshold : spike threshold (dimensionless voltage).
    v_noise, t_noise : std of the voltage noise per step and of the threshold noise.
    lr_rec, lr_ff : learning rates ε_Ω of the recurrent and ε_F of the feed-forward rule.
    alpha : the feed-forward rule's α (code placement).
    beta, mu : the recurrent rule's β and the cost μ.
    amplitude : amplitude of the smoothed white-noise input current (signal units per second).
    sigma : Gaussian smoothing of that input (time steps).
    """

    lam: float = 50.0
    dt: float = 1e-3
    threshold: float = 0.5
    v_noise: float = 0.001
    t_noise: float = 0.01
    lr_rec: float = 1e-3
    lr_ff: float = 1e-4
    alpha: float = 0.18
    beta: float = 1 / 0.9
    mu: float = 0.02 / 0.9
    amplitude: float = 2000.0
    sigma: float = 30.0


def _check_size(n_neurons: int, n_inputs: int) -> None:
    if n_neurons <= 0 or n_inputs <= 0:
        raise ValueError(f"n_neurons and n_inputs must be positive, got {n_neurons}, {n_inputs}")


def unit_encoders(rng: np.random.Generator, n_neurons: int, n_inputs: int, *, lopsided: bool = False) -> np.ndarray:
    """Random feed-forward weights F (n_neurons, n_inputs) with unit-length rows.

    Parameters
    ----------
    rng : generator; one ``standard_normal((n_neurons, n_inputs))`` draw is taken from it.
    n_neurons, n_inputs : N and M.
    lopsided : make every weight on signal 1 non-positive (the paper's Fig 2 start).

    Returns
    -------
    F : (n_neurons, n_inputs) float64, each row of norm 1.
    """
    F = rng.standard_normal((n_neurons, n_inputs))
    if lopsided:
        F[:, 0] = -np.abs(F[:, 0])
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    return F


def _scn(F: np.ndarray, Om: np.ndarray, params: SCNParams, meta: Optional[dict]) -> SCN:
    p = params
    return SCN(F=F, Omega=Om, D=np.zeros((F.shape[1], F.shape[0])), thresholds=p.threshold, lam=p.lam, dt=p.dt,
               v_noise=p.v_noise, t_noise=p.t_noise, meta=dict(meta or {}))


def paper_start(seed, n_neurons: int = 20, n_inputs: int = 2, params: SCNParams = SCNParams(),
                meta: Optional[dict] = None) -> SCN:
    """The paper's Fig 2 start: lopsided unit F, Ω = −0.5·I (self-resets only), decoder 0.

    Parameters
    ----------
    seed : anything ``np.random.default_rng`` accepts (a Generator is used as is).
    n_neurons, n_inputs : N and M.
    params : neuron parameters (threshold, λ, dt, noise); the plasticity fields are not used.
    meta : the network's metadata.

    Returns
    -------
    SCN with F (N, M), Ω (N, N), D = 0 (M, N).
    """
    _check_size(n_neurons, n_inputs)
    F = unit_encoders(np.random.default_rng(seed), n_neurons, n_inputs, lopsided=True)
    return _scn(F, -0.5 * np.eye(n_neurons), params, meta)


def code_start(seed, n_neurons: int = 20, n_inputs: int = 2, params: SCNParams = SCNParams(),
               meta: Optional[dict] = None) -> SCN:
    """The authors' Fig 2 script's start: unit F, Ω off-diagonal ~ U[−0.2, 0], diagonal
    −0.5 − U[0, 0.2], decoder 0.  Parameters and return value as :func:`paper_start`; F is
    drawn before Ω."""
    _check_size(n_neurons, n_inputs)
    rng = np.random.default_rng(seed)
    F = unit_encoders(rng, n_neurons, n_inputs)
    Om = -0.2 * rng.random((n_neurons, n_neurons))
    Om[np.diag_indices(n_neurons)] -= 0.5
    return _scn(F, Om, params, meta)


def initial_scn(seed, init: str = "paper", n_neurons: int = 20, n_inputs: int = 2,
                params: SCNParams = SCNParams(), meta: Optional[dict] = None) -> SCN:
    """:func:`paper_start` (``init="paper"``) or :func:`code_start` (``init="code"``)."""
    if init == "paper":
        return paper_start(seed, n_neurons, n_inputs, params, meta)
    if init == "code":
        return code_start(seed, n_neurons, n_inputs, params, meta)
    raise ValueError(f"init must be 'paper' or 'code', got {init!r}")


def default_rules(params: SCNParams = SCNParams()) -> tuple:
    """The Fig 2 code's rules: (RecurrentRule(ε_Ω, β, μ), FeedforwardRule(ε_F, α, form="code"))."""
    p = params
    return (RecurrentRule(lr=p.lr_rec, beta=p.beta, mu=p.mu),
            FeedforwardRule(lr=p.lr_ff, alpha=p.alpha, form="code"))


def initial_ei_network(n_e: int = 300, n_i: int = 75, m: int = 3, seed=0) -> EINetwork:
    """The reference's initial EI network (docs/authors_code.md §3.1).

    F_E (n_e, m): Gaussian rows normalised to unit length; thresholds T_E = ‖F_i‖²/2 = 0.5,
    T_I = 0.5; E→I: I neuron j receives 0.5 from every E neuron k with k mod n_i = j (for 300/75:
    E neurons j, j+75, j+150, j+225); E→E zero except the fixed self-reset −0.02; I→I = −0.5·I;
    I→E = −0.3·(E→I)ᵀ.  Decoders start at zero (they are fitted by
    :func:`neuromorph.sim.ei_simulator.evaluate_ei`).  λ = 50 s⁻¹, dt = 0.1 ms, refractory 10
    steps, noise 0.001 (E, evaluation) / 0.002 (I) / 0.02 (threshold).

    Parameters
    ----------
    n_e, n_i : numbers of excitatory and inhibitory neurons N_E, N_I.
    m : number of input signals M.
    seed : anything ``np.random.default_rng`` accepts; F_E is its only draw.

    Returns
    -------
    EINetwork
    """
    if min(n_e, n_i, m) <= 0:
        raise ValueError(f"n_e, n_i and m must be positive, got {n_e}, {n_i}, {m}")
    F = unit_encoders(np.random.default_rng(seed), n_e, m)
    W_EI = np.zeros((n_i, n_e))
    W_EI[np.arange(n_e) % n_i, np.arange(n_e)] = 0.5
    e_reset = -0.02
    W_EE = np.diag(np.full(n_e, e_reset))
    return EINetwork(F_E=F, W_EE=W_EE, W_EI=W_EI, W_IE=-0.3 * W_EI.T, W_II=-0.5 * np.eye(n_i),
                     D_E=np.zeros((m, n_e)), D_I=np.zeros((m, n_i)), T_E=0.5 * np.sum(F ** 2, axis=1),
                     T_I=np.full(n_i, 0.5), lam=50.0, dt=1e-4, v_noise_E=0.001, v_noise_I=0.002, t_noise=0.02,
                     refractory=10, e_self_reset=e_reset, meta={"init": "reference Fig 4 (LearningDale.m)"})
