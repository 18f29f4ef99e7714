"""The quantization stage as the product runs it: learnt float SCN in, integer network, fit
check and report out (``neuromorph quantize``).

The integer arithmetic lives in the lower-layer package :mod:`quantization`; the float side
(operating statistics, fake-quant evaluation, the quantized-network file) in
:mod:`neuromorph.quant.fakequant`; sizing on the user's data in :mod:`neuromorph.quant.calibration`.

Calibration follows the data: the scales, the chip adaptation and every reported number come
from the run's training split (``RUN/data.npz``, in network units — the data layer has already
normalised it to the operating range, so a signal ×10 gives the same integer network), or from
``--calibration FILE``; the built-in white noise only for a run without data.
"""
from __future__ import annotations


import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Optional, Union

import numpy as np

from quantization.hardware import HardwareSpec
from quantization.mapping import MappingOptions, QuantizedSCN, quantization_errors

from neuromorph.stages.preflight import network_fanout, network_target, preflight
from neuromorph.artifacts import atomic_write_text, provenance, write_json
from neuromorph.backends.base import backend_for
from neuromorph.data import RUN_DATA_FILE, DataError, RunData, Scaling, load_run_data
from neuromorph.network import SCN, EINetwork, load_network
from neuromorph.quant.calibration import DEFAULT_MAX_CLIPPING, WARN_CLIPPING, operating_statistics_on, truncate_steps
from neuromorph.quant.fakequant import (QDIR_NETWORK, evaluation_signal, fake_quant_network, operating_statistics,
                                       save_quantized)
from neuromorph.sim.rng import derive_seed
from neuromorph.stages.frontend import frontend_of_run
from neuromorph.stages.on_data import (FIDELITY_FLAG_RATIO, UserSignal, input_clipping, run_emulated, run_float, signal_from_arrays,
                                       signal_from_file, user_error, warn_stderr)


def fit_report(q: QuantizedSCN, target: HardwareSpec) -> dict:
    """The target backend's fit check of the deployed network, as a JSON-able dict."""
    return backend_for(target).fit_check(q, target).to_dict()


def find_network(run_dir: Union[str, Path]) -> Path:
    """The learnt network file of a ``reproduce``/``train`` output directory (or the file itself)."""
    p = Path(run_dir)
    if p.is_file():
        return p
    if not p.exists():
        raise FileNotFoundError(f"run directory not found: {p}")
    cand = p / "network.npz"
    if not cand.is_file():
        raise FileNotFoundError(f"{p} holds no network.npz (expected the output of 'neuromorph reproduce' or 'train')")
    return cand


#: Steps of the calibration signal simulated for the voltage and read-out peaks.
CALIBRATION_SIM_STEPS = 200_000
#: Default relative threshold spread between neighbouring neurons on chips without a spike
#: arbiter (quant.chip_training.spread_thresholds; measured in docs/chip_fidelity.md).
DEFAULT_THRESHOLD_SPREAD = 0.3
#: Steps (learning step) of the signal the read-out is fitted on with the chip's own spikes.
READOUT_FIT_STEPS = 50_000
#: Retraining steps ``adapt_steps=None`` (auto) adds when the unretrained chip codes worse than
#: FIDELITY_FLAG_RATIO x float on the calibration signal (docs/chip_fidelity.md: 50k-400k measured).
AUTO_ADAPT_STEPS = 200_000
#: Spike costs auto retraining tries, in this order until one is within FIDELITY_FLAG_RATIO on
#: error and rate, when the rule's own spends more than FIDELITY_FLAG_RATIO x the float rate
#: (docs/chip_fidelity.md: the 200-s sensor network keeps 1.5, 0.68x error at 1.23x rate against
#: 0.22x at 3.77x with the rule's own; the built-in pipeline's network 0.1, 0.91x at 1.43x against
#: 0.62x at 1.80x; 1.5 / 0.5 / 0.2 there: 3.18x / 1.82x / 1.21x error).
AUTO_ADAPT_MUS = (1.5, 0.4, 0.1)
#: How retraining steps run on Xylo targets (``--adapt-mode``; measured in docs/chip_fidelity.md,
#: "Learning under the exact integer dynamics").
DEFAULT_ADAPT_MODE = "float"


#: Fewest steps of the calibration signal beyond the evaluated part that the read-out is fitted
#: on alone; a shorter signal fits on all of it (then overlapping what quantize reports on).
MIN_DISJOINT_FIT_STEPS = 10_000


def readout_fit_signal(x: np.ndarray, test_steps: int) -> tuple:
    """The part of the calibration signal ``x`` (trials, T, M) the chip's read-out is fitted on:
    what follows the first ``test_steps`` (the part quantize evaluates and decides ``adapt_steps``
    on), so that decision is made on spikes the decoder was not fitted to; the whole signal (up
    to :data:`READOUT_FIT_STEPS`) when less than :data:`MIN_DISJOINT_FIT_STEPS` would be left.
    Returns ``(signal (trials, T, M), disjoint)``."""
    from neuromorph.quant.calibration import as_trials

    x = as_trials(x)
    used = truncate_steps(x, test_steps)
    if used.shape[0] < x.shape[0]:  # whole trials follow the evaluated ones
        rest = x[used.shape[0]:]
    else:  # one trial longer than test_steps: its remainder (the chip starts from reset there)
        rest = x[:1, used.shape[1]:]
    if rest.shape[0] * rest.shape[1] < MIN_DISJOINT_FIT_STEPS:
        return truncate_steps(x, READOUT_FIT_STEPS), False
    return truncate_steps(rest, READOUT_FIT_STEPS), True


def run_data_of(run_dir: Union[str, Path], net) -> Optional[RunData]:
    """The run's ``data.npz`` (None when it was trained on a built-in source), checked against
    the network (channels, time step)."""
    p = Path(run_dir)
    rd = load_run_data(p.parent if p.is_file() else p)
    if rd is None:
        return None
    if rd.n_channels != net.n_inputs:
        raise DataError(f"{p}: data.npz has {rd.n_channels} channel(s), the network codes {net.n_inputs}")
    if abs(rd.dt - net.dt) > 1e-9 * net.dt:
        raise DataError(f"{p}: data.npz is sampled at dt = {rd.dt:g} s, the network steps {net.dt:g} s")
    return rd


def calibration_signal(net, rd: Optional[RunData], calibration: Optional[Union[str, Path]] = None,
                       calibration_dt: Optional[float] = None) -> Optional[UserSignal]:
    """What the scales and the chip adaptation are sized from: ``calibration`` (a data file,
    scaled with the run's scaling) if given, else the run's training split, else None (the
    built-in white noise)."""
    if calibration is not None:
        return signal_from_file(calibration, net.dt, net.n_inputs, rd.scaling if rd else None, dt=calibration_dt)
    if rd is not None:
        return signal_from_arrays(rd.train.x, rd.dt, rd.scaling, "training split of the run (data.npz)",
                                  rd.train.channels)
    return None


def quantize_run(run_dir: Union[str, Path], target_name: str, out: Union[str, Path], *, seed: int = 0,
                 mismatch: float = 0.0, method: str = "scn", rounding: str = "nearest",
                 test_steps: int = 10_000, target_overrides: Optional[dict] = None,
                 adapt: Optional[bool] = None, adapt_steps: Optional[int] = None, progress: bool = False,
                 calibration: Optional[Union[str, Path]] = None, calibration_dt: Optional[float] = None,
                 max_clipping: float = DEFAULT_MAX_CLIPPING, warn=warn_stderr, allow_unfit: bool = False,
                 chip_readout: bool = True, adapt_mu: Optional[float] = None,
                 threshold_spread: float = DEFAULT_THRESHOLD_SPREAD, leak_dash: Optional[int] = None,
                 drive_leak: Optional[str] = None,
                 adapt_mode: str = DEFAULT_ADAPT_MODE) -> dict:
    """``neuromorph quantize``: map the run's network, check the fit, measure float, fake-quant
    and emulated error on the calibration signal, write QDIR.  Returns the report dict.

    The calibration signal (input gain, voltage and read-out scales, chip adaptation, every
    number reported) is ``calibration`` (a data file) if given, else the run's training split
    (``RUN/data.npz``), else the built-in smoothed white noise.  The input clipping at the
    per-step event limit is measured on it and on the run's held-out split; above
    ``max_clipping`` a :class:`ValueError` is raised before anything is written, above
    :data:`WARN_CLIPPING` ``warn`` is called with one line.  A network whose shapes cannot fit
    the target fails before any work unless ``allow_unfit`` (then it is mapped and the fit
    report lists every violation).  ``adapt_mode``: how retraining steps run, ``"float"`` (the
    local rules under a float model of the chip's dynamics, then mapped) or ``"integer"`` (the
    rules on the mapped network under the chip's exact integer update,
    :mod:`neuromorph.quant.integer_training`)."""
    from neuromorph.quant.integer_training import ADAPT_MODES

    if adapt_mode not in ADAPT_MODES:
        raise ValueError(f"--adapt-mode must be one of {', '.join(ADAPT_MODES)}, got {adapt_mode!r}")
    if not (0.0 <= float(max_clipping) <= 1.0):
        raise ValueError(f"--max-clipping must be a fraction between 0 and 1, got {max_clipping!r}")
    net = load_network(find_network(run_dir))
    if isinstance(net, EINetwork):  # Dale's-law networks: their own stage (neuromorph/stages/ei.py)
        from neuromorph.stages.ei import quantize_ei_run

        own_dt = "dt" in (target_overrides or {}) and not _same_step((target_overrides or {})["dt"], net.dt)
        unsupported = [flag for flag, given in (("--calibration", calibration is not None), ("--mismatch", mismatch > 0),
                                                ("--set leak_dash", leak_dash is not None
                                                 or "leak_dash" in (target_overrides or {})),
                                                ("--set drive_leak=chip", drive_leak == "chip"
                                                 or (target_overrides or {}).get("drive_leak") == "chip"),
                                                (f"--set dt (a chip step other than the network's {net.dt:g} s)",
                                                 own_dt), (f"--adapt-mode {adapt_mode}", adapt_mode != DEFAULT_ADAPT_MODE))
                       if given]
        if unsupported:  # never silently ignored
            raise ValueError(f"{', '.join(unsupported)}: not available for EI networks yet (they calibrate on the "
                             f"run's training data)")
        return quantize_ei_run(net, run_dir, target_name, out, seed=seed, method=method, rounding=rounding,
                               test_steps=test_steps, target_overrides=target_overrides, adapt=adapt)
    if not isinstance(net, SCN):
        raise ValueError(f"quantize supports SCNs and EI networks, got a {type(net).__name__}")
    from neuromorph.quant.chip_step import (DRIVE_LEAK_KEY, LEAK_DASH_KEY, at_chip_step, natural_dash,
                                            resolve_chip_step, resolve_drive_leak, resolve_leak_dash, upsample,
                                            with_chip_leak)

    # the hidden membrane's dash (--set leak_dash) is a choice of its own, not a target field
    target_overrides = dict(target_overrides or {})
    if LEAK_DASH_KEY in target_overrides:
        if leak_dash is not None:
            raise ValueError(f"--set {LEAK_DASH_KEY} given twice (as an override and as leak_dash)")
        leak_dash = target_overrides.pop(LEAK_DASH_KEY)
    if DRIVE_LEAK_KEY in target_overrides:
        if drive_leak is not None:
            raise ValueError(f"--set {DRIVE_LEAK_KEY} given twice (as an override and as drive_leak)")
        drive_leak = target_overrides.pop(DRIVE_LEAK_KEY)
    drive_leak = resolve_drive_leak(drive_leak)
    max_dash = network_target(target_name, target_overrides, net.dt).max_dash_mem
    leak_given = leak_dash is not None
    if leak_given:
        leak_dash = resolve_leak_dash(leak_dash, max_dash)
    # the chip step (--set dt) is the chip's own: k chip steps per learning step (quant.chip_step);
    # with an explicit leak_dash the learnt leak need not fit the chip's dash range
    chip_dt, k = resolve_chip_step(net.dt, net.lam, target_overrides, max_dash if leak_dash is None else None)
    if "dt" in target_overrides:  # the exact step net.dt / k, not the decimal typed
        target_overrides["dt"] = chip_dt
    target = network_target(target_name, target_overrides, chip_dt)
    natural = natural_dash(net.lam, chip_dt)
    if leak_dash is None:
        leak_dash = min(natural, max_dash) if max_dash is not None else natural
    # the chip's leak λ' = 2^-dash / chip_dt (mapped_net: what the mapping sees).  The chip is driven
    # with c = ẋ + λ_d x: λ_d the learnt leak ("learnt", default) or λ' ("chip", re-derived: the
    # chip's membrane then integrates F x exactly).  The float side (adaptation, operating
    # statistics, saved network_deployed.npz) steps at λ_d, so its current is the chip's current.
    mapped_net = with_chip_leak(at_chip_step(net, chip_dt), leak_dash)
    chip_net = mapped_net if drive_leak == "chip" else at_chip_step(net, chip_dt)
    out = Path(out)
    rd = run_data_of(run_dir, net)
    fe = frontend_of_run(rd, target, calibration)  # a run on an audio front-end's events: checked here
    if not allow_unfit:  # before any work; with allow_unfit the full fit report is made instead
        preflight(target, net.n_neurons, net.n_inputs, fanout=network_fanout(net.Omega),
                  input_lines=None if fe is None else net.n_inputs * int(fe["pool"]))  # the AFE's channels
    backend = backend_for(target)
    if adapt_mode == "integer":  # refused before any work where the integer kernel has no layout
        from neuromorph.quant.integer_training import check_integer_request

        check_integer_request(net.n_neurons, target, fe)
    cal = calibration_signal(net, rd, calibration, calibration_dt)  # file errors before any work
    if fe is not None and (leak_given or drive_leak == "chip"):  # the AFE's events are fixed: never re-derived silently
        raise ValueError(f"--set {LEAK_DASH_KEY} / {DRIVE_LEAK_KEY}=chip: a run on an audio front-end's events is "
                         f"driven by the front-end's own events at the learnt leak; drop them")
    if fe is not None and k != 1:  # the front-end's events come at the network's step; never re-timed silently
        raise ValueError(f"--set dt={chip_dt:g}: a run on an audio front-end's events runs the chip at the "
                         f"network's step ({net.dt:g} s); drop --set dt")
    if cal is None:
        c, x = evaluation_signal(net.n_inputs, test_steps, seed, net.lam, net.dt)
        ev = signal_from_arrays(x, net.dt, Scaling.identity(net.n_inputs), "built-in white noise")
    else:
        ev = signal_from_arrays(truncate_steps(cal.x, test_steps), net.dt, cal.scaling,
                                f"{cal.source}, first {min(test_steps, cal.x.shape[1])} steps")
    # silicon without the one-spike-per-step arbiter: adapt to its dynamics unless told otherwise
    adapt = (not backend.capabilities(target).one_spike_per_step) if adapt is None else bool(adapt)
    def attempt(steps: int, tmp: Path, mu: Optional[float] = adapt_mu):
        """Adapt (``steps`` of retraining with spike cost ``mu``), map, export into ``tmp``, fit the
        read-out, emulate."""
        tmp.mkdir()
        deployed = chip_net
        report = {"target": target.name, "device": target.device, "method": method, "rounding": rounding,
                  "adapted_to_chip": adapt,
                  "chip_step": {"dt_s": chip_dt, "network_dt_s": float(net.dt), "steps_per_sample": k},
                  "chip_leak": {"dash": int(leak_dash), "natural_dash": int(natural),
                                "lam_chip": float(mapped_net.lam), "tau_chip_ms": 1e3 / float(mapped_net.lam),
                                "lam_learnt": float(net.lam), DRIVE_LEAK_KEY: drive_leak,
                                "lam_drive": float(chip_net.lam)},
                  "calibration": {"source": "built-in white noise" if cal is None else cal.source,
                                  **({} if cal is None else {"steps": int(cal.x.shape[1]), "trials": int(cal.x.shape[0])}),
                                  "evaluated_on": ev.source}}
        if adapt:
            # delay-aware retraining (chip_training.adapt_to_chip): silicon has no spike arbiter
            from neuromorph.quant.chip_training import adapt_to_chip
            from neuromorph.progress import progress_bar

            with progress_bar(steps if adapt_mode == "float" else 0, "adapt to chip dynamics", progress) as upd:
                deployed = adapt_to_chip(chip_net, steps=steps if adapt_mode == "float" else 0, seed=seed, progress=upd,
                                         signal=None if cal is None else upsample(cal.x, k), steps_per_sample=k,
                                         mu=mu, threshold_spread=threshold_spread, signal_lam=float(net.lam))
            report["adapt_steps"] = steps
            report["adapt_mode"] = adapt_mode
            report["adapt_mu"] = mu  # None: the rule's own spike cost
        if cal is None:  # the white noise's current, re-derived for the chip's leak (chip_step)
            from neuromorph.quant.chip_step import rederived_current

            stats = operating_statistics(deployed, rederived_current(np.repeat(c, k, axis=0) if k > 1 else c,
                                                                     float(net.lam), deployed.lam, deployed.dt),
                                         seed, drive=backend.input_drive)
        else:
            stats = operating_statistics_on(deployed, upsample(cal.x, k), seed, drive=backend.input_drive,
                                            max_sim_steps=CALIBRATION_SIM_STEPS * k)
        opts = MappingOptions(method=method, rounding=rounding, seed=derive_seed(seed, 24),
                              input_gain=None if fe is None else fe["input_gain"])
        integer_steps = adapt and adapt_mode == "integer" and steps > 0
        if integer_steps:  # its weights keep moving on the grid: the voltage scale the headroom allows
            opts = replace(opts, full_range_rec=False)
        q = backend.map(_with_lam(deployed, mapped_net.lam), target, stats, opts)
        q.lam = float(net.lam)  # the learnt leak (reports); the chip's is q.lam_chip, from q.dash_mem
        q.steps_per_sample = k
        q.stats["drive_lam"] = float(chip_net.lam)  # the encoder's leak (backends/xylo/deploy.drive_lam)
        if q.dash_mem != leak_dash:  # the mapping derives the dash from the chip net's λ' = 2^-dash/dt
            raise RuntimeError(f"mapping chose membrane dash {q.dash_mem}, expected {leak_dash}")
        if integer_steps:  # the rules under the chip's own integer update
            from neuromorph.quant.integer_training import adapt_quantized

            q, report["integer_learning"] = adapt_quantized(q, target, backend, chip_net, steps=steps, seed=seed,
                                                            signal=None if cal is None else upsample(cal.x, k),
                                                            mu=mu, progress=progress)
        if fe is not None:
            q.stats["frontend"] = fe
            report["frontend"] = fe
        report.update(weight_bits=q.weight_bits, operating_statistics=stats)
        report["fit_check"] = backend.fit_check(q, target).to_dict()
        report.update(_clipping_report(backend, q, cal, rd, ev))
        report.update(_model_errors(net, deployed, q, ev, seed, adapt))
        report["parameters"] = quantization_errors(deployed.F, deployed.Omega, deployed.D, deployed.thresholds, q)
        report["integer"] = {"shift_in": q.shift_in, "shift_rec": q.shift_rec, "shift_out": q.shift_out,
                             "dash_mem": q.dash_mem, "dash_syn": q.dash_syn, "scale_v": q.scale_v,
                             "input_gain": q.input_gain, "scale_out": q.scale_out,
                             "expected_saturation": {"vmem_peak_fraction": stats["v_peak"] * q.scale_v / (2 ** (target.state_bits - 1) - 1)}}
        exported = backend.export(q, target, Path(tmp))  # e.g. {"spec": "spec.npz"} on Xylo
        deployable = backend.load_deployable(Path(tmp))
        if deployable is not None and chip_readout:
            # the read-out decoder fitted on the chip's own spikes (quant.chip_readout), on a
            # signal other than the one reported (white noise: another seed; data: the training split)
            from neuromorph.quant.chip_readout import fit_chip_readout

            if cal is None:
                fit_x = evaluation_signal(net.n_inputs, READOUT_FIT_STEPS, derive_seed(seed, 41), net.lam, net.dt)[1]
                fit_on = "built-in white noise, another seed"
            else:
                fit_x, disjoint = readout_fit_signal(cal.x, test_steps)
                fit_on = ("calibration signal after the evaluated steps" if disjoint else
                          "calibration signal, all of it (too short to leave out the evaluated steps)")
            q, info = fit_chip_readout(backend, q, deployable, fit_x)
            report["chip_readout"] = dict(info, fit_steps=int(fit_x.shape[0] * fit_x.shape[1]), fit_on=fit_on)
            if info.get("fitted"):
                exported = backend.export(q, target, Path(tmp))
                deployable = backend.load_deployable(Path(tmp))
        if deployable is not None:
            report.update(_emulated_report(backend, q, deployable, ev, target))
        from neuromorph.stages.on_data import fidelity_ratios

        report["chip_vs_float"] = fidelity_ratios(report["error_float"], report.get("error_emulated"),
                                                  report["rate_float_hz"], report.get("rate_emulated_hz"))
        report["readout"] = readout_range(q, target, ev.scaling, stats, report.get("emulated_readout_peak"))
        return deployed, q, report, exported

    auto = adapt_steps is None  # retrain only where the chip codes worse than FIDELITY_FLAG_RATIO x float
    with tempfile.TemporaryDirectory(prefix="neuromorph-export-") as tmp_root:
        tmp = Path(tmp_root) / "a"
        deployed, q, report, exported = attempt(0 if auto else int(adapt_steps), tmp)
        if auto and adapt:
            _check_clipping(report, max_clipping, lambda line: None)  # fail fast, before any retraining
            first = report["chip_vs_float"]
            policy = {"mode": "auto", "limit": FIDELITY_FLAG_RATIO, "retrained": False,
                      "without_retraining": {"error_ratio": first["error_ratio"], "rate_ratio": first["rate_ratio"]}}
            if first["error_ratio"] is not None and first["error_ratio"] > FIDELITY_FLAG_RATIO:
                cands = [(deployed, q, report, exported, tmp)]
                tried = []

                # the rule's own spike cost first; when that spends more than the flag's rate ratio
                # (and the user set no mu), the spike costs of AUTO_ADAPT_MUS, largest first, until one
                # is within both limits: the fewest spikes at a bounded error
                for i, mu in enumerate((adapt_mu,) + (() if adapt_mu is not None else AUTO_ADAPT_MUS)):
                    if i == 1 and (tried[0]["rate_ratio"] or 0.0) <= FIDELITY_FLAG_RATIO:
                        break
                    if i > 1 and _within_limits(tried[-1]):
                        break
                    path = Path(tmp_root) / f"b{i}"
                    d2, q2, r2, e2 = attempt(AUTO_ADAPT_STEPS, path, mu)
                    cands.append((d2, q2, r2, e2, path))
                    tried.append({"steps": AUTO_ADAPT_STEPS, "mu": mu, **{key: r2["chip_vs_float"][key]
                                                                          for key in ("error_ratio", "rate_ratio")}})
                policy["with_retraining"] = tried
                best = _auto_choice([c[2]["chip_vs_float"] for c in cands])
                deployed, q, report, exported, tmp = cands[best]
                policy["retrained"] = best > 0
                policy["chosen"] = None if best == 0 else tried[best - 1]
                shown = "; ".join(f"mu {t['mu'] if t['mu'] is not None else 'rule'}: error "
                                  f"{_ratio(t['error_ratio'])}, rate {_ratio(t['rate_ratio'])}" for t in tried)
                warn(f"chip coding error {first['error_ratio']:.2f}x float without retraining (calibration signal): "
                     f"{'kept' if policy['retrained'] else 'tried and dropped'} {AUTO_ADAPT_STEPS} steps of "
                     f"retraining under the chip's dynamics"
                     + (f" with spike cost mu {policy['chosen']['mu']}" if best > 1 else "")
                     + f" ({shown} float); --adapt-steps 0 or N, --adapt-mu decide yourself (docs/chip_fidelity.md)")
            report["adapt_policy"] = policy
        _check_clipping(report, max_clipping, warn)
        if mismatch > 0:
            from neuromorph.quant.mismatch_study import mismatch_errors

            report["mismatch"] = mismatch_errors(chip_net, q, target, upsample(ev.x, k)[0], sigma=mismatch,
                                                 n_instances=20, seed=seed)
        report["scaling"] = {"offset": ev.scaling.offset.tolist(), "scale": ev.scaling.scale.tolist()}
        report["provenance"] = provenance(seed=seed, config={"target": target.name, "method": method,
                                                             "mismatch": mismatch, "run": str(run_dir),
                                                             "calibration": None if calibration is None else str(calibration)})
        _write_qdir(out, net, deployed, q, report, exported, Path(tmp), run_dir if rd is not None else None)
    return report


def _within_limits(ratios: dict) -> bool:
    """Whether a candidate's ``chip_vs_float`` error and rate ratios are both measured and at most
    FIDELITY_FLAG_RATIO."""
    return all(ratios[key] is not None and ratios[key] <= FIDELITY_FLAG_RATIO for key in ("error_ratio", "rate_ratio"))


def _auto_choice(ratios: list) -> int:
    """Index of the candidate auto retraining keeps, from each candidate's ``chip_vs_float``
    (index 0: not retrained): the lowest error among those within FIDELITY_FLAG_RATIO on both
    error and rate; when none is, the lowest error (a precise chip that spends spikes is flagged by
    verify, an imprecise one is not usable)."""
    err = [float("inf") if r["error_ratio"] is None else r["error_ratio"] for r in ratios]
    pool = [i for i, r in enumerate(ratios) if _within_limits(r)] or range(len(ratios))
    return min(pool, key=lambda i: err[i])


def _with_lam(net: SCN, lam: float) -> SCN:
    """``net`` with leak ``lam`` (s⁻¹): the mapping takes the chip's membrane dash from it."""
    if net.lam == lam:
        return net
    out = net.copy()
    out.lam = float(lam)
    return out


def _same_step(value, dt: float) -> bool:
    try:
        return abs(float(value) - dt) <= 1e-9 * dt
    except (TypeError, ValueError):
        return False


def _clipping_report(backend, q: QuantizedSCN, cal: Optional[UserSignal], rd: Optional[RunData],
                     ev: UserSignal) -> dict:
    """Input events held back by the per-step limit, on the calibration signal and the held-out split."""
    clip = {"calibration": input_clipping(backend, q, ev.x if cal is None else cal.x)}
    if rd is not None:
        clip["held_out"] = input_clipping(backend, q, rd.test.x)
    return {"clipping": clip, "input_events_clipped_fraction": clip["calibration"]["input_events_clipped_fraction"]}


def _check_clipping(report: dict, max_clipping: float, warn) -> None:
    for part, c in report["clipping"].items():
        frac, lim = c["input_events_clipped_fraction"], c["max_events"]
        what = "calibration signal" if part == "calibration" else "run's held-out split"
        if frac > max_clipping:
            raise ValueError(f"{frac:.2%} of the input events exceed the {lim}-event per-step limit on the {what} "
                             f"(--max-clipping {max_clipping:g}); calibrate on data that spans the signal's range "
                             f"(--calibration FILE) or raise --max-clipping")
        if frac > WARN_CLIPPING:
            warn(f"{frac:.2%} of the input events exceed the {lim}-event per-step limit on the {what} "
                 f"(the encoder sends them late)")


def _model_errors(net: SCN, deployed: SCN, q: QuantizedSCN, ev: UserSignal, seed: int, adapt: bool) -> dict:
    """Float and fake-quant errors (normalised, in the data's units) and rates on ``ev``."""
    from neuromorph.sim.simulator import chip_options

    chip = chip_options(q.dash_syn, q.dt)
    k = q.steps_per_sample
    fq_net = fake_quant_network(q, deployed)
    fl = run_float(net, ev.x, seed)
    fq_ref = run_float(fq_net, ev.x, seed, steps_per_sample=k)
    fq_chip = run_float(fq_net, ev.x, seed, options=chip, steps_per_sample=k)
    err = lambda r: user_error(ev, ev.shaped(ev.to_user(r["x_hat"])))  # noqa: E731
    rep = {"error_float": err(fl), "rate_float_hz": fl["rate_hz"],
           "error_quantized_reference_dynamics": err(fq_ref), "error_quantized_chip_dynamics": err(fq_chip)}
    # the headline fake-quant number uses the dynamics the network was prepared for
    fq = fq_chip if adapt else fq_ref
    rep.update(fake_quant_dynamics="chip" if adapt else "reference", error_quantized=err(fq),
               rate_quantized_hz=fq["rate_hz"])
    if adapt:  # the adapted float network, under the chip dynamics it was adapted to
        rep["error_float_adapted_chip_dynamics"] = err(run_float(deployed, ev.x, seed, options=chip, steps_per_sample=k))
    return rep


def _emulated_report(backend, q: QuantizedSCN, deployable, ev: UserSignal, target: HardwareSpec) -> dict:
    """The chip (the backend's emulator) on the calibration signal: error, rate, saturation."""
    em = run_emulated(backend, q, deployable, ev.x)
    return {"error_emulated": user_error(ev, ev.shaped(ev.to_user(em["x_hat"]))), "rate_emulated_hz": em["rate_hz"],
            "saturation_events": em["saturation_events"], "input_events_per_step": em["input_events_per_step"],
            "emulated_readout_peak": em.get("readout_peak")}


def readout_range(q: QuantizedSCN, target: HardwareSpec, scaling: Scaling, stats: dict,
                  emulated_peak: Optional[float] = None) -> dict:
    """The read-out's full scale (the estimate at which the output state saturates) in network
    and data units, next to the peak |x̂| calibration expects and the emulator reached."""
    full = float(target.state_max) / q.scale_out
    rep = {"full_scale_network_units": full, "expected_peak_network_units": stats["x_peak"],
           "expected_peak_fraction_of_full_scale": stats["x_peak"] / full,
           "data_units": [[float(o - full * s), float(o + full * s)] for o, s in zip(scaling.offset, scaling.scale)]}
    if emulated_peak is not None:
        rep["emulated_peak_fraction_of_full_scale"] = float(emulated_peak) / float(target.state_max)
    return rep


def _write_qdir(out: Path, net: SCN, deployed: SCN, q: QuantizedSCN, report: dict, exported: dict, tmp: Path,
                run_dir: Optional[Union[str, Path]]) -> None:
    import shutil

    from neuromorph.artifacts import atomic_write
    from neuromorph.network import save_network

    out.mkdir(parents=True, exist_ok=True)
    save_network(net, out / "network_float.npz")
    save_network(deployed, out / "network_deployed.npz")
    save_quantized(q, out / QDIR_NETWORK)
    for name in exported.values():
        atomic_write(out / name, lambda t, src=tmp / name: shutil.copyfile(src, t))
    report.update(exported)
    data = out / RUN_DATA_FILE
    if run_dir is not None:  # QDIR is self-contained: verify tests on the run's held-out split
        p = Path(run_dir)
        src = (p.parent if p.is_file() else p) / RUN_DATA_FILE
        atomic_write(data, lambda t: shutil.copyfile(src, t))
    elif data.exists():
        data.unlink()  # a stale copy from an earlier run would make verify test on the wrong signal
    write_json(out / "quantization.json", report)
    atomic_write_text(out / "quantization.md", quantization_markdown(report))


def _ratio(v) -> str:
    return "n/a" if v is None else f"{v:.2f}x"


def _f(v) -> str:
    return "n/a" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))


def _fidelity_md(rep: dict) -> list:
    from neuromorph.stages.on_data import fidelity_line

    fid = rep.get("chip_vs_float")
    if not fid or fid["error_ratio"] is None:
        return []
    cs = rep.get("chip_step", {})
    return ([f"**{fidelity_line(dict(fid, flags=[]))}** (flagged above {fid['limit']:g}x); chip step "
             f"{cs.get('dt_s', 0):g} s, {cs.get('steps_per_sample', 1)} per network step.", ""]
            + [f"> **WARNING:** {flag}." for flag in fid["flags"]] + ([""] if fid["flags"] else []))


def quantization_markdown(rep: dict) -> str:
    """A short human-readable report."""
    lines = [f"# Quantization report: {rep['target']} ({rep['method']}, {rep['weight_bits']}-bit weights)", "",
             "| quantity | value |", "|---|---|",
             f"| coding error, float | {rep['error_float']:.4g} |",
             f"| coding error, quantized (fake-quant, {rep['fake_quant_dynamics']} dynamics) | {rep['error_quantized']:.4g} |",
             f"| … with the reference's one-spike arbiter | {rep['error_quantized_reference_dynamics']:.4g} |",
             f"| … with the chip's dynamics | {rep['error_quantized_chip_dynamics']:.4g} |",
             f"| ratio | {rep['error_quantized'] / rep['error_float']:.3g} |",
             f"| rate float / quantized (Hz) | {rep['rate_float_hz']:.3g} / {rep['rate_quantized_hz']:.3g} |",
             f"| coding error, emulated chip | {_f(rep.get('error_emulated'))} |",
             f"| rate emulated (Hz) | {_f(rep.get('rate_emulated_hz'))} |",
             f"| fit check | {'ok' if rep['fit_check']['ok'] else 'FAILED'} |", "",
             *_fidelity_md(rep),
             f"Calibrated on: {rep['calibration']['source']}; numbers above on: {rep['calibration']['evaluated_on']}.", "",
             "## Input events and state ranges", "", "| signal | events clipped at the limit | steps at the limit | onset events deferred |",
             "|---|---|---|---|"]
    for part, c in rep["clipping"].items():
        lines.append(f"| {part.replace('_', '-')} | {c['input_events_clipped_fraction']:.3%} | "
                     f"{c['steps_at_limit_fraction']:.3%} | {c['onset_events_deferred']:.0f} |")
    ro = rep["readout"]
    lines += ["", f"Saturation events of the emulated chip (entries at the int16 limits): {rep.get('saturation_events', 'n/a')}.",
              f"Read-out full scale ±{ro['full_scale_network_units']:.3g} (network units); expected peak "
              f"{ro['expected_peak_fraction_of_full_scale']:.1%} of it"
              + (f", emulated peak {ro['emulated_peak_fraction_of_full_scale']:.1%}" if "emulated_peak_fraction_of_full_scale" in ro else "")
              + "; in data units per channel: " + ", ".join(f"[{a:.4g}, {b:.4g}]" for a, b in ro["data_units"]) + ".", "",
              "## Per parameter class", "", "| class | relative RMS error | rounded to zero |", "|---|---|---|"]
    for k, v in rep["parameters"].items():
        if "relative_rms_error" in v:
            lines.append(f"| {k} | {v['relative_rms_error']:.3g} | {v['rounded_to_zero']} |")
    lam = rep["parameters"]["lam"]
    lines += ["", f"Membrane time constant: float {lam['tau_float_ms']:.3g} ms, chip {lam['tau_chip_ms']:.3g} ms "
                  f"(bit-shift decay); input drive computed for the "
                  f"{rep.get('chip_leak', {}).get('drive_leak', 'chip')} leak "
                  f"({rep.get('chip_leak', {}).get('lam_drive', lam['chip']):.4g} /s).", ""]
    if not rep["fit_check"]["ok"]:
        lines += ["## Fit violations", ""] + [f"- {v['message']}" for v in rep["fit_check"]["violations"]]
    if "mismatch" in rep:
        mm = rep["mismatch"]
        lines += ["", f"## Mismatch (σ = {mm['sigma']}, {mm['n_instances']} instances)", "",
                  f"error {mm['error_mean']:.4g} ± {mm['error_sd']:.2g} (mean ± sd)"]
    return "\n".join(lines) + "\n"
