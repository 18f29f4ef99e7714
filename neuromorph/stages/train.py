"""The train stage: learn a network with the local plasticity rules, evaluate it and write what
``neuromorph quantize`` reads.

Two protocols, chosen by the run config (:func:`neuromorph.stages.train_plan.plan_training`):
a signal — the user's data file (``data.file``) or a named built-in signal — learnt by an SCN
or an EI network (:mod:`neuromorph.stages.train_signal`), or, by default, the paper's Fig 2
protocol described next.

The Fig 2 protocol (docs/authors_code.md §2): smoothed white-noise input in
blocks of :data:`BLOCK` steps, the Fig 2 code's rules, weight snapshots at steps 2, 4, …, 2^J.
Each snapshot and the final network are evaluated (docs/authors_code.md §2.5): decoder fitted on
50 s at 0.3·A, error/rate/Var(V) on test trials at A, weight distance to −F Fᵀ.

Files written into the stage's directory: ``network.npz`` (the learnt SCN, with the decoder of
the final evaluation), ``network_initial.npz``, the PNG figures of
:func:`neuromorph.plots.training_figures`, and (by :func:`run_train`) ``metrics.json``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Optional

import numpy as np

from neuromorph.artifacts import provenance, write_json
from neuromorph.config import ConfigError
from neuromorph.metrics import angular_gaps_deg, predicted_recurrent, weight_distance
from neuromorph.network import SCN, save_network
from neuromorph.artifacts import save_figure
from neuromorph.parallel import in_background, second_core
from neuromorph.plots import LEARNING_TITLE, learning_curves, network_figures
from neuromorph.progress import progress_bar
from neuromorph.sim.evaluation import EvalProtocol, evaluate
from neuromorph.data import RunData, builtin_signal, load_signal
from neuromorph.sim.init import SCNParams, default_rules, initial_scn
from neuromorph.sim.rng import derive_seed
from neuromorph.sim.simulator import LearnResult, block_noise_source, learn, simulate
from neuromorph.stages.preflight import train_fanout
from neuromorph.stages.train_plan import TrainPlan, plan_training
from neuromorph.stages.train_report import write_train_report
from neuromorph.stages.train_signal import run_data, train_on_signal

BLOCK = 1000  # steps per input block (one learning "iteration")
QUICK_TRIALS = 3  # test trials per evaluation in the pipeline's quick protocol (the paper's: 10)


def snapshot_schedule(n_steps: int) -> list:
    """Steps 2, 4, 8, …, 2^J ≤ n_steps (the reference's snapshot times)."""
    out, s = [], 2
    while s <= n_steps:
        out.append(s)
        s *= 2
    return out


def initial_network(seed: int, init: str = "paper", n_neurons: int = 20, n_inputs: int = 2,
                    params: SCNParams = SCNParams(), experiment: str = "fig2") -> SCN:
    """The network :func:`learn_scn` starts from (arguments as there): its initial weights use the
    seed's derived stream 2."""
    return initial_scn(derive_seed(seed, 2), init, n_neurons, n_inputs, params,
                       meta={"experiment": experiment, "init": init})


def learn_scn(seed: int, iterations: int, init: str = "paper", *, n_neurons: int = 20, n_inputs: int = 2,
              params: SCNParams = SCNParams(), rules: Optional[tuple] = None, progress: bool = True,
              experiment: str = "fig2", max_fanout: Optional[int] = None,
              on_snapshot=None, net0: Optional[SCN] = None) -> tuple[SCN, LearnResult]:
    """Learn an SCN from its initial condition on the Fig 2 input.

    Parameters
    ----------
    seed : master seed; the initial weights, the input and the noise use derived streams 2, 1, 3.
    iterations : number of input blocks of :data:`BLOCK` steps.
    init : "paper" | "code" (see :func:`neuromorph.sim.init.initial_scn`).
    n_neurons, n_inputs : N and M.
    params : neuron, plasticity and input parameters.
    rules : (RecurrentRule, FeedforwardRule); default :func:`neuromorph.sim.init.default_rules`.
    progress : show a progress bar.
    experiment : name recorded in the network's metadata and the progress bar.
    max_fanout : learn under a connectivity mask with at most this many recurrent targets per
        neuron, self included (:func:`neuromorph.sim.connectivity.learn_with_fanout`); None = dense.
    on_snapshot : called as ``on_snapshot(step, F, Omega)`` with each snapshot as it is taken.
    net0 : the initial network when the caller has built it already (:func:`initial_network` with
        these arguments); None = built here.

    Returns
    -------
    (initial network, LearnResult with snapshots at :func:`snapshot_schedule`)
    """
    if int(iterations) != iterations or iterations < 1:
        raise ValueError(f"iterations must be a positive number of {BLOCK}-step blocks, got {iterations!r}")
    if net0 is None:
        net0 = initial_network(seed, init, n_neurons, n_inputs, params, experiment)
    n_steps = int(iterations) * BLOCK
    src = block_noise_source(net0.n_inputs, derive_seed(seed, 1), amplitude=params.amplitude, sigma=params.sigma,
                             block=BLOCK)
    with progress_bar(n_steps, f"{experiment} learning", progress) as upd:
        if max_fanout is not None and max_fanout < net0.n_neurons:
            from neuromorph.sim.masked_learning import learn_with_fanout

            res = learn_with_fanout(net0, src, n_steps, int(max_fanout), rules=rules or default_rules(params),
                                    seed=derive_seed(seed, 3), snapshot_steps=snapshot_schedule(n_steps),
                                    progress=upd, on_snapshot=on_snapshot)
        else:
            res = learn(net0, src, n_steps, rules=rules or default_rules(params), seed=derive_seed(seed, 3),
                        snapshot_steps=snapshot_schedule(n_steps), progress=upd, on_snapshot=on_snapshot)
    return net0, res


def tuning_curves(net: SCN, seed: int, n_angles: int = 36, magnitude: float = 3.0, steps: int = 1000) -> tuple:
    """Firing rate (Hz) of each neuron for constant signals x = magnitude·(cos θ, sin θ).

    Parameters
    ----------
    net : a network with 2 inputs.
    seed : noise seed (one generator for all angles, in order).
    n_angles : number of directions θ, evenly spaced over 360°.
    magnitude : |x| (signal units).
    steps : simulated steps per direction.

    Returns
    -------
    (angles in degrees (A,), rates in Hz (A, N)).  The input current holding x constant is λx.
    """
    angles = np.linspace(0, 360, n_angles, endpoint=False)
    rates = np.zeros((n_angles, net.n_neurons))
    g = np.random.default_rng(seed)
    for a, th in enumerate(np.radians(angles)):
        x = magnitude * np.array([np.cos(th), np.sin(th)])
        c = np.tile(net.lam * x, (steps, 1))
        c[0] = x / net.dt  # start at x rather than integrating up to it
        rec = simulate(net, c, seed=g, record=())
        rates[a] = rec.counts / (steps * net.dt)
    return angles, rates


def train_network(out: Path, *, seed: int, iterations: int, init: str = "paper",
                  protocol: Optional[EvalProtocol] = None, progress: bool = True, n_neurons: int = 20,
                  n_inputs: int = 2, params: SCNParams = SCNParams(), experiment: str = "fig2",
                  rules: Optional[tuple] = None, max_fanout: Optional[int] = None) -> dict:
    """Learn (:func:`learn_scn`), evaluate every snapshot, write the networks and figures.

    Parameters
    ----------
    out : output directory (created).
    seed, iterations, init, n_neurons, n_inputs, params, experiment, rules : as :func:`learn_scn`.
    protocol : evaluation protocol (default: ``EvalProtocol()``, 10 test trials).
    progress : show progress bars.

    Returns
    -------
    metrics : dict (errors, rates, Var(V) and weight distance before/after, the learning curve,
        learnt-structure statistics, parameters, wall times, figure names).  Not written here.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    proto = protocol or EvalProtocol()
    eval_seed = derive_seed(seed, 4)
    net0 = initial_network(seed, init, n_neurons, n_inputs, params, experiment)

    def evaluated_snapshot(step: int, F: np.ndarray, Om: np.ndarray, workers=None) -> tuple:
        net = SCN(F=F, Omega=Om, D=np.zeros_like(net0.D), thresholds=net0.thresholds, lam=net0.lam, dt=net0.dt,
                  v_noise=net0.v_noise, t_noise=net0.t_noise)
        return step, net, evaluate(net, seed=eval_seed, protocol=proto, workers=workers)

    # Every snapshot's evaluation uses the same seed and nothing else, so their order and timing
    # are free.  With a second core the snapshots are evaluated as learning takes them (learning
    # in a thread: its kernel releases the GIL), then the last; then the network figures (which
    # need only the first and last decoders) are drawn in a second process while this one
    # evaluates any snapshot still left.
    (_, res), learn_seconds, done = _learn_evaluating(
        partial(learn_scn, seed, iterations, init, n_neurons=n_neurons, n_inputs=n_inputs, params=params,
                rules=rules, progress=progress, experiment=experiment, max_fanout=max_fanout, net0=net0),
        evaluated_snapshot, concurrent=second_core())
    curve = {"time_s": [], "step": [], "error": [], "rate_hz": [], "v_var": [], "weight_distance": []}
    snaps = list(res.snapshots) + [(res.n_steps, res.network.F, res.network.Omega)]

    def evaluated(i: int) -> tuple:
        return evaluated_snapshot(*snaps[i])

    with progress_bar(len(snaps), f"{experiment} evaluation", progress, unit="snapshot") as upd:
        upd(len(done))
        for i in sorted({0, len(snaps) - 1} - set(done)):
            done[i] = evaluated(i)
            upd(1)
        final = res.network
        final.D = done[len(snaps) - 1][2]["D"]
        initial = done[0][1]
        initial.D = done[0][2]["D"]
        figures = in_background(partial(network_figures, out, net0=initial, net=final, seed=seed,
                                        tuning=tuning_curves))
        try:
            for i in range(1, len(snaps) - 1):
                if i not in done:
                    done[i] = evaluated(i)
                    upd(1)
        except BaseException:
            figures.wait()  # no figure is left being written into a directory that is discarded
            raise
    evals = [done[i] for i in range(len(snaps))]
    for (step, F, Om), (_, net, ev) in zip(snaps, evals):
        curve["time_s"].append(step * net0.dt)
        curve["step"].append(int(step))
        curve["error"].append(ev["error"])
        curve["rate_hz"].append(ev["rate_hz"])
        curve["v_var"].append(ev["v_var"])
        curve["weight_distance"].append(weight_distance(Om, predicted_recurrent(F)))
    first, last = evals[0], evals[-1]
    save_network(final, out / "network.npz")
    save_network(initial, out / "network_initial.npz")
    gaps = angular_gaps_deg(final.F)
    Gs = -(final.F @ final.F.T)
    off = ~np.eye(final.n_neurons, dtype=bool)
    metrics = {
        "experiment": experiment,
        "init": init,
        "iterations": int(iterations),
        "steps": int(res.n_steps),
        "simulated_seconds": res.n_steps * net0.dt,
        "error_before": first[2]["error"],
        "error_after": last[2]["error"],
        "rate_before_hz": first[2]["rate_hz"],
        "rate_after_hz": last[2]["rate_hz"],
        "v_var_before": first[2]["v_var"],
        "v_var_after": last[2]["v_var"],
        "weight_distance_before": curve["weight_distance"][0],
        "weight_distance": curve["weight_distance"][-1],
        "omega_offdiag_corr_with_minus_FFt": float(np.corrcoef(final.Omega[off], Gs[off])[0, 1]),
        "decoder_corr_with_F": float(np.corrcoef(final.D.ravel(), final.F.T.ravel())[0, 1]),
        "max_angular_gap_deg": float(gaps.max()),
        "neurons_with_positive_F1": int((final.F[:, 0] > 0).sum()),
        "learn_seconds": learn_seconds,
        "wall_seconds": time.perf_counter() - t0,
        "learning_curve": curve,
        "parameters": {"n_neurons": n_neurons, "n_inputs": n_inputs, **asdict(params)},
        "max_fanout": max_fanout,
        "fanout_max_learnt": int((final.Omega != 0).sum(axis=0).max()),
        "evaluation": {"decoder_steps": proto.decoder_steps, "decoder_amplitude": proto.decoder_amplitude,
                       "test_steps": proto.test_steps, "n_trials": proto.n_trials},
    }
    save_figure(learning_curves(curve, LEARNING_TITLE), out / "learning_curves.png")
    figures.join()
    metrics["wall_seconds"] = time.perf_counter() - t0
    metrics["figures"] = sorted(p.name for p in out.glob("*.png"))
    return metrics


def _learn_evaluating(learn_fn, evaluate_fn, *, concurrent: bool) -> tuple:
    """Run ``learn_fn(on_snapshot=...)`` and evaluate its snapshots with ``evaluate_fn(step, F, Omega,
    workers=1)`` while it learns, when ``concurrent`` (learning in a thread; this thread evaluates
    each snapshot as it arrives, one trial at a time so that learning keeps a core).

    Returns ``(learn_fn's result, learning wall seconds, {snapshot index: evaluation})``; without
    ``concurrent`` the dict is empty (every evaluation is left to the caller).  An error in
    learning is raised here; an error or interrupt here stops learning at its next snapshot.
    """
    import queue
    import threading

    t0 = time.perf_counter()
    if not concurrent:
        out = learn_fn()
        return out, time.perf_counter() - t0, {}
    arrived: queue.Queue = queue.Queue()
    stop = threading.Event()
    box: dict = {}

    def on_snapshot(step, F, Om):
        if stop.is_set():
            raise KeyboardInterrupt("learning stopped: its caller failed")
        arrived.put((step, F, Om))

    def run():
        try:
            box["out"] = learn_fn(on_snapshot=on_snapshot)
        except BaseException as exc:  # noqa: BLE001 — handed to the caller's thread
            box["error"] = exc
        finally:
            box["seconds"] = time.perf_counter() - t0
            arrived.put(None)

    worker = threading.Thread(target=run, name="neuromorph-learning", daemon=True)
    worker.start()
    done: dict = {}
    try:
        while (item := arrived.get()) is not None:
            if "error" not in box:
                done[len(done)] = evaluate_fn(*item, workers=1)
    except BaseException:
        stop.set()
        raise
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["out"], box["seconds"], done


#: Every file a train run writes (either protocol): removed from the output directory before a
#: new run's files move in, so no file of an earlier run is left beside them.
TRAIN_OUTPUTS = ("network.npz", "network_initial.npz", "data.npz", "metrics.json", "report.md", "reconstruction.png",
                 "learning_curves.png", "feedforward_weights.png", "recurrent_vs_optimal.png",
                 "reconstruction_and_rasters.png", "tuning_curves.png")


@dataclass(frozen=True)
class PreparedTraining:
    """A checked train run: its plan and, for a signal, the data it will learn (in network units).

    Everything that can fail on the user's input has failed by the time one exists."""

    plan: TrainPlan
    data: Optional[RunData] = None


def prepare_training(cfg: dict) -> PreparedTraining:
    """Check ``cfg`` (:func:`plan_training`) and read, resample, split and scale its signal.

    Raises :class:`~neuromorph.config.ConfigError` or :class:`~neuromorph.data.DataError` (one
    line each) before anything is learnt or written."""
    plan = plan_training(cfg)
    fe = cfg["data"].get("frontend")
    if fe is None and cfg["data"]["frontend_noise"] is not True:
        raise ConfigError("data.frontend_noise (--frontend-ideal) applies to a --frontend run; give --frontend")
    if plan.protocol == "fig2" and fe is None:
        return PreparedTraining(plan)
    if fe is not None:  # sound through a chip's audio front-end (neuromorph/stages/frontend.py)
        from neuromorph.stages.frontend import check_frontend_request, frontend_run_data

        check_frontend_request(str(fe), plan.file, plan.network, cfg["train"].get("target"), dt=plan.dt)
        rd, _ = frontend_run_data(str(fe), plan.file, dt=plan.dt, lam=plan.params.lam,
                                  test_fraction=plan.test_fraction, seed=plan.seed, data_dt=plan.data_dt,
                                  noise=bool(cfg["data"]["frontend_noise"]))
        return PreparedTraining(plan, rd)
    if plan.file is not None:
        sig = load_signal(plan.file, dt=plan.data_dt, default_dt=plan.dt)
    else:
        sig = builtin_signal(plan.source, plan.n_inputs, int(round(plan.source_seconds / plan.dt)), plan.dt,
                             plan.params.lam, derive_seed(plan.seed, 1))
    return PreparedTraining(plan, run_data(plan, sig))


def _publish(staging: Path, out: Path) -> None:
    """Move the files of ``staging`` into ``out``, removing :data:`TRAIN_OUTPUTS` of earlier runs."""
    out.mkdir(parents=True, exist_ok=True)
    for name in TRAIN_OUTPUTS:
        (out / name).unlink(missing_ok=True)
    for f in sorted(staging.iterdir()):
        os.replace(f, out / f.name)


def run_train(cfg: dict, out: Path, progress: bool = True, prepared: Optional[PreparedTraining] = None) -> dict:
    """The stage under a run config (its ``seed``, ``data`` and ``train`` sections).

    The fig2 protocol runs as :func:`train_network` with the quick evaluation protocol
    (:data:`QUICK_TRIALS` test trials); a signal as
    :func:`neuromorph.stages.train_signal.train_on_signal` plus ``report.md``.  Either writes
    ``metrics.json`` (the metrics plus ``config`` and ``provenance``).  The files are made in a
    staging directory beside ``out`` and moved in only when all are written: a run that fails
    leaves ``out`` as it was.

    Parameters
    ----------
    cfg : a config of :func:`neuromorph.config.load_config`.
    out : output directory.
    progress : show progress bars.
    prepared : the result of :func:`prepare_training` for ``cfg`` (done here if None).

    Returns
    -------
    metrics : dict (as written to ``metrics.json``).
    """
    out = Path(out)
    prep = prepared or prepare_training(cfg)
    plan = prep.plan
    # shapes-only fit check of train.target first (exit 2 before any work) and the fan-out to learn under
    fe = None if prep.data is None else prep.data.meta.get("frontend")  # inputs: the AFE's event channels
    fan = train_fanout(cfg["train"], n_neurons=plan.n_neurons or (plan.n_e + plan.n_i),
                       n_signals=prep.data.n_channels if prep.data is not None else (plan.n_inputs or 2),
                       input_lines=None if not fe else prep.data.n_channels * int(fe["pool"]))
    made = [p for p in (out.parent, *out.parent.parents) if not p.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    ok = False
    try:
        if plan.protocol == "fig2":
            rules = None
            if set(plan.learn) != {"recurrent", "feedforward"}:
                rules = tuple(r for r, name in zip(default_rules(plan.params), ("recurrent", "feedforward"))
                              if name in plan.learn)
            metrics = train_network(staging, seed=plan.seed, iterations=plan.iterations, init=plan.init,
                                    protocol=EvalProtocol(n_trials=QUICK_TRIALS), progress=progress,
                                    n_neurons=plan.n_neurons, n_inputs=2, params=plan.params,
                                    experiment=cfg["train"]["experiment"], rules=rules,
                                    max_fanout=fan)
        else:
            metrics = train_on_signal(staging, plan, prep.data, progress, max_fanout=fan)
        if prep.data is not None and prep.data.meta.get("frontend"):
            metrics["data"]["frontend"] = prep.data.meta["frontend"]
        metrics["config"] = cfg
        metrics["provenance"] = provenance(seed=cfg["seed"], config=cfg)
        write_json(staging / "metrics.json", metrics)
        if plan.protocol != "fig2":
            write_train_report(staging, metrics)
        _publish(staging, out)
        ok = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not ok:
            for p in made:  # parents this call created (innermost first)
                try:
                    p.rmdir()
                except OSError:
                    break
    return metrics
