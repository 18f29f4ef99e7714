"""What a ``train`` run will do, resolved from its config before any work: which protocol
(the paper's Fig 2, or learning on a signal), which network, how long, with which rules.

:func:`plan_training` checks every combination of keys (a flag is a key: ``--neurons`` is
``train.neurons``) and raises :class:`~neuromorph.config.ConfigError` with one line naming the
keys and flags when they contradict each other, and :class:`~neuromorph.data.DataError` when the
data file cannot be read — so a run that would fail fails before it learns or writes anything.
Keys left at null take the defaults of the network kind (:data:`SCN_DEFAULTS`,
:data:`EI_DEFAULTS`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from neuromorph.config import ConfigError, default_config
from neuromorph.sim.init import SCNParams
from neuromorph.sim.rules.ei import EIRules

FIG2_BLOCK = 1000  # steps per input block of the fig2 protocol (stages.train.BLOCK)

#: Defaults of an SCN learning a signal (the keys' null).  N = 100 codes a 6-channel signal to a
#: normalised error below 0.01 after 200 s (docs/your_own_data.md gives the measurement).
SCN_DEFAULTS = {"neurons": 100, "dt": 1e-3, "seconds": 200.0}
#: Defaults of an EI network: the reference's Fig 4 step and rules (docs/authors_code.md §3),
#: 100 E and 25 I neurons (the reference's 4:1).
EI_DEFAULTS = {"neurons_e": 100, "neurons_i": 25, "dt": 1e-4, "seconds": 200.0}
FIG2_NEURONS = 20

_FLAGS = {"train.neurons": "--neurons", "train.neurons_e": "--neurons-e", "train.neurons_i": "--neurons-i",
          "train.steps": "--steps", "train.seconds": "--seconds", "train.network": "--network",
          "data.file": "--data", "data.dt": "--dt", "data.test_fraction": "--test-fraction",
          "train.max_channels": "--max-channels"}


def key(name: str) -> str:
    """``train.neurons (--neurons)``: a key as messages name it, with its flag if it has one."""
    return f"{name} ({_FLAGS[name]})" if name in _FLAGS else name


@dataclass(frozen=True)
class TrainPlan:
    """A resolved ``train`` run.

    Attributes
    ----------
    protocol : "fig2" (fresh smoothed-noise blocks, the paper's evaluation) or "signal"
        (a data file or a named built-in signal, looped; errors on its held-out part).
    network : "scn" or "ei".
    n_neurons : SCN size N (0 for EI); n_e, n_i : EI sizes (0 for an SCN).
    n_inputs : M (fig2 and built-in signals; a file's M is known once it is read).
    init : SCN start, "paper" or "code" ("reference" for EI).
    params : SCN neuron and plasticity parameters (λ, dt, threshold, rates, α, β, μ); for EI
        the neuron fields λ, dt and threshold are used.
    ei_rules : EI plasticity (rates, μ, β, pathway switches); None for an SCN.
    learn : the rules that learn, subset of ("recurrent", "feedforward").
    n_steps : learning steps; iterations : fig2 blocks (0 otherwise).
    file, data_dt, source, source_seconds, test_fraction, center : the data keys.
    seed : master seed.
    max_channels : code the signal's first K principal components (None: all channels).
    """

    protocol: str
    network: str
    n_neurons: int
    n_e: int
    n_i: int
    n_inputs: Optional[int]
    init: str
    params: SCNParams
    ei_rules: Optional[EIRules]
    learn: tuple
    n_steps: int
    iterations: int
    file: Optional[str]
    data_dt: Optional[float]
    source: str
    source_seconds: float
    test_fraction: float
    center: bool
    seed: int
    max_channels: Optional[int] = None

    @property
    def dt(self) -> float:
        return self.params.dt


def _given(cfg: dict, ref: dict, dotted: str) -> bool:
    """Whether the config sets ``dotted`` to something other than the built-in default."""
    sec, k = dotted.split(".")
    return cfg[sec][k] != ref[sec][k]


def plan_training(cfg: dict) -> TrainPlan:
    """Resolve and cross-check a validated run config (see module docstring).

    Parameters
    ----------
    cfg : dict
        A config returned by :func:`neuromorph.config.load_config`.

    Returns
    -------
    TrainPlan

    Raises
    ------
    ConfigError
        For keys that contradict each other or do not apply to the chosen protocol/network.
    """
    ref = default_config()
    t, d = cfg["train"], cfg["data"]
    given = lambda k: _given(cfg, ref, k)  # noqa: E731
    net = t["network"]
    has_file = d["file"] is not None
    protocol = "signal" if has_file or d["source"] != "fig2" else "fig2"

    def fail(msg: str) -> None:
        raise ConfigError(msg)

    # --- which data
    if has_file:
        for k in ("data.source", "data.channels", "data.source_seconds"):
            if given(k):
                fail(f"{key(k)} describes a built-in signal, but {key('data.file')} gives a file; drop one of them")
    elif given("data.dt"):
        fail(f"{key('data.dt')} is the sample step of a data file, and no file is given ({key('data.file')})")
    if protocol == "fig2":
        for k in ("data.test_fraction", "data.center"):
            if given(k):
                fail(f"{key(k)} applies to a signal; the fig2 protocol tests on fresh noise "
                     f"(give {key('data.file')} or a data.source)")
        if given("data.channels") and d["channels"] != 2:
            fail(f"data.channels = {d['channels']}: the fig2 protocol codes 2 signals; for M signals set "
                 f"data.source to white-noise or correlated-gaussian")
        if net == "ei":
            fail(f"{key('train.network')} = ei learns a signal; give {key('data.file')} or set data.source to "
                 f"white-noise, sine-cosine or correlated-gaussian (the fig2 protocol trains an SCN)")
    if not has_file and d["source"] == "sine-cosine" and d["channels"] != 2:
        fail(f"data.source sine-cosine has 2 channels, data.channels asks for {d['channels']}")
    kmax = t.get("max_channels")
    if kmax is not None:
        if protocol == "fig2":
            fail(f"{key('train.max_channels')} projects a signal onto its principal components; the fig2 protocol "
                 f"codes 2 fresh noise signals (give {key('data.file')} or a data.source)")
        if net == "ei":
            fail(f"{key('train.max_channels')} applies to an SCN (train.network = scn); an EI network codes the "
                 f"signal's channels as they are (reduce them before training)")
        if not has_file and kmax > int(d["channels"]):
            fail(f"{key('train.max_channels')} = {kmax} > data.channels = {d['channels']} of the built-in signal")
    if given("train.iterations") and protocol != "fig2":
        fail(f"train.iterations is the fig2 protocol's length; a signal's is {key('train.steps')} or "
             f"{key('train.seconds')}")

    # --- which network
    if net == "scn":
        for k in ("train.neurons_e", "train.neurons_i"):
            if t[k.split('.')[1]] is not None:
                fail(f"{key(k)} sizes an EI population; an SCN (train.network = scn) takes {key('train.neurons')}")
        n = int(t["neurons"]) if t["neurons"] is not None else (FIG2_NEURONS if protocol == "fig2"
                                                                 else SCN_DEFAULTS["neurons"])
        n_e = n_i = 0
    else:
        if t["neurons"] is not None:
            fail(f"{key('train.neurons')} sizes an SCN; an EI network (train.network = ei) takes "
                 f"{key('train.neurons_e')} and {key('train.neurons_i')}")
        if (t["neurons_e"] is None) != (t["neurons_i"] is None):
            gave = "train.neurons_e" if t["neurons_e"] is not None else "train.neurons_i"
            other = "train.neurons_i" if gave == "train.neurons_e" else "train.neurons_e"
            fail(f"{key(gave)} is given without {key(other)}; an EI network needs both sizes")
        n = 0
        n_e = int(t["neurons_e"] if t["neurons_e"] is not None else EI_DEFAULTS["neurons_e"])
        n_i = int(t["neurons_i"] if t["neurons_i"] is not None else EI_DEFAULTS["neurons_i"])
        if t["init"] not in ("auto",):
            fail(f"train.init = {t['init']} is an SCN start; an EI network starts from the reference's Fig 4 "
                 f"network (train.init = auto)")
        if t["alpha"] is not None:
            fail("train.alpha is the SCN feed-forward rule's α; the EI rules have none (α = 1)")
    init = t["init"] if t["init"] != "auto" else ("paper" if protocol == "fig2" else "code")
    if net == "ei":
        init = "reference"

    # --- neuron and plasticity parameters
    dt = float(t["dt"]) if t["dt"] is not None else (EI_DEFAULTS["dt"] if net == "ei" else SCNParams().dt)
    lam = float(t["leak"])
    if lam * dt >= 1.0:
        fail(f"train.leak × train.dt = {lam:g} × {dt:g} = {lam * dt:g} must be < 1 (the leak factor 1 − λdt)")
    learn = tuple(t["learn"])
    sp = SCNParams()
    over = {"lam": lam, "dt": dt}
    for name, field_ in (("thresholds", "threshold"), ("mu", "mu"), ("beta", "beta"), ("alpha", "alpha"),
                         ("lr_rec", "lr_rec"), ("lr_ff", "lr_ff")):
        if t[name] is not None and net == "scn":
            over[field_] = float(t[name])
    if t["thresholds"] is not None:
        over["threshold"] = float(t["thresholds"])
    # keep the exact default dataclass when nothing changes (the fig2 results must not move)
    params = replace(sp, **{k: v for k, v in over.items() if getattr(sp, k) != v})
    ei_rules = None
    if net == "ei":
        er = EIRules()
        ei_rules = replace(er, lr_ff=float(t["lr_ff"]) if t["lr_ff"] is not None else er.lr_ff,
                           lr_rec=float(t["lr_rec"]) if t["lr_rec"] is not None else er.lr_rec,
                           mu=float(t["mu"]) if t["mu"] is not None else er.mu,
                           beta=float(t["beta"]) if t["beta"] is not None else er.beta,
                           ff_XE="feedforward" in learn, ff_EI="feedforward" in learn,
                           rec_EE="recurrent" in learn, rec_IE="recurrent" in learn, rec_II="recurrent" in learn)

    # --- duration
    if t["steps"] is not None and t["seconds"] is not None:
        fail(f"{key('train.steps')} and {key('train.seconds')} both set the learning length; give one")
    iterations = 0
    if t["steps"] is not None:
        n_steps = int(t["steps"])
    elif t["seconds"] is not None:
        n_steps = int(round(float(t["seconds"]) / dt))
        if n_steps < 1:
            fail(f"{key('train.seconds')} = {t['seconds']:g} is shorter than one network step ({dt:g} s)")
    elif protocol == "fig2":
        n_steps = int(t["iterations"]) * FIG2_BLOCK
    else:
        n_steps = int(round((EI_DEFAULTS if net == "ei" else SCN_DEFAULTS)["seconds"] / dt))
    if protocol == "fig2":
        if t["steps"] is not None or t["seconds"] is not None:
            if given("train.iterations"):
                fail(f"train.iterations and {key('train.steps')}/{key('train.seconds')} both set the fig2 "
                     f"learning length; give one")
            if n_steps % FIG2_BLOCK:
                fail(f"the fig2 protocol learns in blocks of {FIG2_BLOCK} steps; {n_steps} steps "
                     f"({key('train.steps')}/{key('train.seconds')}) is not a whole number of blocks")
        iterations = n_steps // FIG2_BLOCK

    n_inputs = None if has_file else (2 if protocol == "fig2" else int(d["channels"]))
    return TrainPlan(protocol=protocol, network=net, n_neurons=n, n_e=n_e, n_i=n_i, n_inputs=n_inputs, init=init,
                     params=params, ei_rules=ei_rules, learn=learn, n_steps=n_steps, iterations=iterations,
                     file=d["file"], data_dt=None if d["dt"] is None else float(d["dt"]), source=d["source"],
                     source_seconds=float(d["source_seconds"]), test_fraction=float(d["test_fraction"]),
                     center=bool(d["center"]), seed=int(cfg["seed"]),
                     max_channels=None if kmax is None else int(kmax))
