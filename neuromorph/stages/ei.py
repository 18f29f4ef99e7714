"""The quantize and verify stages for EI (Dale's law) networks.

``neuromorph quantize`` and ``neuromorph verify`` delegate here when the run holds an
:class:`~neuromorph.network.EINetwork` (one dispatch line each in ``stages/quantize.py`` and
``stages/verify.py``). The QDIR has the SCN layout — ``network_float.npz``,
``network_deployed.npz``, ``quantized.npz`` (the integer block network, E first then I, with
``stats["ei"]``), the backend's deployable (``spec.npz`` on Xylo), ``quantization.json`` and
``quantization.md`` — so ``deploy``, ``emulate`` and the backends need nothing new.

Signals: the run's own data (``RUN/data.npz``: training part for calibration and adaptation,
held-out part for the errors) when there is one, else the reference's Fig 4 input (smoothed white
noise, A = 2000, σ = 30 samples).

Dynamics: the float network is scored under its reference dynamics
(:func:`~neuromorph.sim.ei_simulator.simulate_ei`); the deployed network under the chip's
(:func:`neuromorph.quant.ei.ei_signal_error` with ``dynamics="chip"``) when it was adapted —
the headline fake-quant number then uses chip dynamics, as on the SCN path.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

from quantization.ei_mapping import dale_check, ei_block_arrays, layout_of
from quantization.mapping import MappingOptions, quantization_errors

from neuromorph.stages.preflight import network_target
from neuromorph.artifacts import atomic_write_text, provenance, write_json
from neuromorph.backends.base import BackendError, backend_for, backend_for_device
from neuromorph.metrics import normalized_error
from neuromorph.network import EINetwork, load_network, save_network
from neuromorph.quant.ei import adapt_ei_to_chip, ei_operating_statistics, ei_signal_error, fake_quant_ei
from neuromorph.quant.fakequant import QDIR_NETWORK, evaluation_signal, load_quantized, save_quantized
from neuromorph.sim.rng import derive_seed

#: steps of the built-in calibration signal (the reference's 4 s decoder fit at dt = 0.1 ms)
CALIBRATION_STEPS = 40_000


def _signals(run_dir: Optional[Path], net: EINetwork, seed: int, test_steps: int) -> tuple:
    """(x_calibration (T, M), x_test (T, M), source) — the run's data when it has a data file."""
    if run_dir is not None and Path(run_dir).is_dir():
        from neuromorph.data.rundata import load_run_data

        rd = load_run_data(run_dir)
        if rd is not None:
            if rd.n_channels != net.n_inputs:
                raise ValueError(f"{run_dir}/data.npz has {rd.n_channels} channels, the network {net.n_inputs} inputs")
            return (np.concatenate(list(rd.train.x), axis=0), rd.test.x[0], "run data (train / held-out split)")
    _, x_cal = evaluation_signal(net.n_inputs, max(CALIBRATION_STEPS, test_steps), derive_seed(seed, 51), net.lam,
                                 net.dt)
    _, x_test = evaluation_signal(net.n_inputs, test_steps, seed, net.lam, net.dt)
    return x_cal, x_test, "built-in smoothed white noise (A = 2000, sigma = 30 samples)"


def _rates(ev: dict) -> dict:
    return {"rate_hz": ev["rate_hz"], "rate_E_hz": ev["rate_E_hz"], "rate_I_hz": ev["rate_I_hz"]}


def quantize_ei_run(net: EINetwork, run_dir: Union[str, Path, None], target_name: str, out: Union[str, Path], *,
                    seed: int = 0, method: str = "scn", rounding: str = "nearest", test_steps: int = 10_000,
                    target_overrides: Optional[dict] = None, adapt: Optional[bool] = None) -> dict:
    """``neuromorph quantize`` for an EI network: adapt (if the chip needs it), map, fit-check
    (Dale's law included), measure float and fake-quant error and E/I rates, write QDIR.

    ``adapt``: ``None`` = adapt when the target has no one-spike-per-step arbiter (silicon; the
    EI network's refractory period has no chip counterpart, see :mod:`neuromorph.quant.ei`).
    Returns the report dict (also ``quantization.json``).
    """
    target = network_target(target_name, target_overrides, net.dt)
    backend = backend_for(target)
    caps = backend.capabilities(target)
    if not caps.ei_networks:
        raise ValueError(f"target {target.name!r} does not take EI (Dale's law) networks "
                         f"(its YAML says ei_networks: false)")
    out = Path(out)
    x_cal, x, source = _signals(Path(run_dir) if run_dir is not None else None, net, seed, test_steps)
    adapt = (not caps.one_spike_per_step) if adapt is None else bool(adapt)
    report: dict = {"target": target.name, "device": target.device, "method": method, "rounding": rounding,
                    "network_kind": "EINetwork", "adapted_to_chip": adapt, "signal": source,
                    "run": None if run_dir is None else str(Path(run_dir).resolve()),
                    "test_steps": int(x.shape[0])}
    opts = MappingOptions(method=method, rounding=rounding, seed=derive_seed(seed, 24))
    deployed = net
    if adapt:
        ad = adapt_ei_to_chip(net, x_cal, seed=seed, dash_syn=opts.dash_syn)
        deployed = ad.network
        report["adaptation"] = ad.to_dict()
    dyn = "chip" if adapt else "reference"
    from neuromorph.sim.signals import current_for_signal

    stats = ei_operating_statistics(deployed, current_for_signal(x_cal, net.lam, net.dt), seed, opts.dash_syn,
                                    drive=backend.input_drive, dynamics=dyn)
    q = backend.map_ei(deployed, target, stats, opts)
    report.update(weight_bits=q.weight_bits, operating_statistics=stats, ei=q.stats["ei"])
    report["fit_check"] = backend.fit_check(q, target).to_dict()
    report["dale"] = q.stats["dale"]
    fl = ei_signal_error(net, x, seed, "reference")
    report["error_float"] = fl["error"]
    report.update({k.replace("rate", "rate_float"): v for k, v in _rates(fl).items()})
    fq_net = fake_quant_ei(q, net)
    fq_ref = ei_signal_error(fq_net, x, seed, "reference")
    fq_chip = ei_signal_error(fq_net, x, seed, "chip", q.dash_syn)
    report["error_quantized_reference_dynamics"] = fq_ref["error"]
    report["error_quantized_chip_dynamics"] = fq_chip["error"]
    fq = fq_chip if adapt else fq_ref
    report["fake_quant_dynamics"] = dyn
    report["error_quantized"] = fq["error"]
    report.update({k.replace("rate", "rate_quantized"): v for k, v in _rates(fq).items()})
    chip_fl = ei_signal_error(net, x, seed, "chip", q.dash_syn)
    report["error_float_chip_dynamics"] = chip_fl["error"]
    report["rate_float_chip_dynamics_hz"] = chip_fl["rate_hz"]
    if adapt:
        ev = ei_signal_error(deployed, x, seed, "chip", q.dash_syn)
        report["error_float_adapted_chip_dynamics"] = ev["error"]
        report.update({k.replace("rate", "rate_float_adapted"): v for k, v in _rates(ev).items()})
    blk = ei_block_arrays(deployed.F_E, deployed.W_EE, deployed.W_EI, deployed.W_IE, deployed.W_II, deployed.D_E,
                          deployed.T_E, deployed.T_I)
    report["parameters"] = quantization_errors(blk["F"], blk["Omega"], blk["D"], blk["thresholds"], q)
    report["integer"] = {"shift_in": q.shift_in, "shift_rec": q.shift_rec, "shift_out": q.shift_out,
                         "dash_mem": q.dash_mem, "dash_syn": q.dash_syn, "scale_v": q.scale_v,
                         "input_gain": q.input_gain, "scale_out": q.scale_out,
                         "expected_saturation": {"vmem_peak_fraction": stats["v_peak"] * q.scale_v
                                                 / (2 ** (target.state_bits - 1) - 1)}}
    report["provenance"] = provenance(seed=seed, config={"target": target.name, "method": method,
                                                         "run": None if run_dir is None else str(run_dir)})
    out.mkdir(parents=True, exist_ok=True)
    save_network(net, out / "network_float.npz")
    save_network(deployed, out / "network_deployed.npz")
    save_quantized(q, out / QDIR_NETWORK)
    report.update(backend.export(q, target, out))
    write_json(out / "quantization.json", report)
    atomic_write_text(out / "quantization.md", ei_quantization_markdown(report))
    return report


def ei_quantization_markdown(rep: dict) -> str:
    """A short human-readable report of :func:`quantize_ei_run`."""
    def f(v):
        return "n/a" if v is None else f"{v:.4g}"

    ei = rep["ei"]
    d = rep["dale"]
    lines = [f"# Quantization report (EI network): {rep['target']} ({rep['method']}, {rep['weight_bits']}-bit weights)",
             "", f"Hidden neurons: {ei['n_exc']} E then {ei['n_inh']} I ({ei['order']}); read-out from E only. "
                 f"Signal: {rep['signal']}.", "",
             "| model | dynamics | coding error | rate E / I (Hz) |", "|---|---|---|---|",
             f"| float | reference | {f(rep['error_float'])} | {f(rep['rate_float_E_hz'])} / {f(rep['rate_float_I_hz'])} |",
             f"| float | chip | {f(rep['error_float_chip_dynamics'])} | {f(rep['rate_float_chip_dynamics_hz'])} (all) |"]
    if rep["adapted_to_chip"]:
        lines.append(f"| float, adapted (E self-reset {rep['adaptation']['e_self_reset']:.3g}, no refractory period) "
                     f"| chip | {f(rep['error_float_adapted_chip_dynamics'])} | "
                     f"{f(rep['rate_float_adapted_E_hz'])} / {f(rep['rate_float_adapted_I_hz'])} |")
    lines += [f"| fake-quant | {rep['fake_quant_dynamics']} | {f(rep['error_quantized'])} | "
              f"{f(rep['rate_quantized_E_hz'])} / {f(rep['rate_quantized_I_hz'])} |",
              f"| fake-quant | reference | {f(rep['error_quantized_reference_dynamics'])} | |",
              f"| fake-quant | chip | {f(rep['error_quantized_chip_dynamics'])} | |", "",
              f"Fit check: {'ok' if rep['fit_check']['ok'] else 'FAILED'}. Dale's law: "
              f"{'kept' if d['ok'] else 'BROKEN'}; weights rounded to 0 per pathway: {d['rounded_to_zero']}.", ""]
    if not rep["fit_check"]["ok"]:
        lines += ["## Fit violations", ""] + [f"- {v['message']}" for v in rep["fit_check"]["violations"]]
    return "\n".join(lines) + "\n"


def verify_ei(qdir: Path, out: Path, *, compare: Callable, seed: int = 0, test_steps: int = 10_000,
              with_xylosim: bool = True, x: Optional[np.ndarray] = None) -> dict:
    """``neuromorph verify`` for an EI QDIR: float / fake-quant / emulated error and E/I rates,
    Dale's law re-checked on the stored integers, emulator == reference simulator.

    ``x`` (T, M): test signal; default the run's held-out data if the QDIR's run had a data file,
    else the built-in signal of ``test_steps`` steps. ``compare(reference, raster, recording)``:
    the state-by-state comparison of ``stages/verify.py`` (passed in, so the two stages share it
    without importing each other)."""
    q = load_quantized(qdir / QDIR_NETWORK)
    lay = layout_of(q)
    qmeta = json.loads((qdir / "quantization.json").read_text()) if (qdir / "quantization.json").is_file() else {}
    ref = load_network(qdir / "network_float.npz")
    deployed = load_network(qdir / "network_deployed.npz")
    if not isinstance(ref, EINetwork) or not isinstance(deployed, EINetwork):
        raise ValueError(f"{qdir}: network_float.npz / network_deployed.npz are not EI networks")
    run = qmeta.get("run")
    if x is None:
        _, x, source = _signals(Path(run) if run else None, ref, seed, test_steps)
    else:
        source = "given signal"
    out.mkdir(parents=True, exist_ok=True)
    res: dict = {"target": q.target, "network_kind": "EINetwork", "ei": lay.to_dict(), "signal": source,
                 "test_steps": int(x.shape[0]), "seed": seed}
    blk = ei_block_arrays(deployed.F_E, deployed.W_EE, deployed.W_EI, deployed.W_IE, deployed.W_II, deployed.D_E,
                          deployed.T_E, deployed.T_I)
    res["dale"] = dale_check(q, lay, blk["Omega"], blk["thresholds"]).to_dict()
    fl = ei_signal_error(ref, x, seed, "reference")
    res["error_float"] = fl["error"]
    res.update({k.replace("rate", "rate_float"): v for k, v in _rates(fl).items()})
    fq_net = fake_quant_ei(q, ref)
    adapted = bool(qmeta.get("adapted_to_chip", False))
    fq_ref = ei_signal_error(fq_net, x, seed, "reference")
    fq_chip = ei_signal_error(fq_net, x, seed, "chip", q.dash_syn)
    res["error_fake_quant_reference_dynamics"] = fq_ref["error"]
    res["error_fake_quant_chip_dynamics"] = fq_chip["error"]
    res["fake_quant_dynamics"] = "chip" if adapted else "reference"
    fq = fq_chip if adapted else fq_ref
    res["error_fake_quant"] = fq["error"]
    res.update({k.replace("rate", "rate_fake_quant"): v for k, v in _rates(fq).items()})
    try:
        backend = backend_for_device(qmeta.get("device") or q.target)
    except BackendError:
        backend = None
    deployable = backend.load_deployable(qdir) if backend is not None else None
    xh = None
    if deployable is not None:
        raster = backend.encode(q, x)
        t0 = time.perf_counter()
        rec = backend.emulate(deployable, raster, record=True)
        res["emulator_seconds"] = time.perf_counter() - t0
        xh = backend.decode(q, rec)
        res["error_emulated"] = normalized_error(x, xh)
        spikes = np.asarray(rec["Spikes"], dtype=np.float64)
        dur = x.shape[0] * q.dt
        e, i = lay.index("E"), lay.index("I")
        res["rate_emulated_hz"] = float(spikes.sum() / (dur * q.n_neurons))
        res["rate_emulated_E_hz"] = float(spikes[:, e].sum() / (dur * lay.n_exc))
        res["rate_emulated_I_hz"] = float(spikes[:, i].sum() / (dur * lay.n_inh))
        # the encoder clips at the per-step event limit: count the channel-steps at that limit
        res["input_events_clipped_fraction"] = float(np.mean(raster >= q.max_input_events))
        res["saturation_events"] = backend.saturation_counts(rec)
        rate_em = spikes.sum(0) / dur
        rate_fq = np.concatenate([fq_chip["rates_E"], fq_chip["rates_I"]])
        res["rate_difference_hz"] = {"mean_abs": float(np.abs(rate_em - rate_fq).mean()),
                                     "max_abs": float(np.abs(rate_em - rate_fq).max())}
        reference = backend.reference_simulator(deployable) if with_xylosim else None
        if reference is not None:
            cmp = compare(reference, raster, rec)
            res["emulator_matches_xylosim"] = cmp["matches"]
            res["xylosim_differences"] = cmp["differences"]
            res["xylosim_seconds"] = cmp["xylosim_seconds"]
        else:
            res["emulator_matches_xylosim"] = None
        np.save(out / "decoded_emulated.npy", xh)
    else:
        res["error_emulated"] = None
        res["emulator_matches_xylosim"] = None
        res["note"] = f"target {q.target!r} has no emulator; fake-quant only"
    res["provenance"] = provenance(seed=seed)
    write_json(out / "verify.json", res)
    atomic_write_text(out / "report.md", ei_verify_markdown(res))
    return res


def ei_verify_markdown(res: dict) -> str:
    def f(v):
        return "n/a" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))

    d = res["dale"]
    m = res.get("emulator_matches_xylosim")
    lines = [f"# Verification report (EI network): {res['target']}", "",
             f"{res['ei']['n_exc']} E + {res['ei']['n_inh']} I hidden neurons; signal: {res['signal']}.", "",
             "| model | coding error | rate E / I (Hz) |", "|---|---|---|",
             f"| float (reference dynamics) | {f(res['error_float'])} | {f(res['rate_float_E_hz'])} / {f(res['rate_float_I_hz'])} |",
             f"| fake-quant ({res['fake_quant_dynamics']} dynamics) | {f(res['error_fake_quant'])} | "
             f"{f(res['rate_fake_quant_E_hz'])} / {f(res['rate_fake_quant_I_hz'])} |",
             f"| emulated chip | {f(res.get('error_emulated'))} | {f(res.get('rate_emulated_E_hz'))} / "
             f"{f(res.get('rate_emulated_I_hz'))} |", "",
             f"**Dale's law:** {'kept' if d['ok'] else 'BROKEN: ' + '; '.join(p['message'] for p in d['problems'])}; "
             f"rounded to 0: {d['rounded_to_zero']}.",
             f"**Emulator vs reference simulator:** "
             f"{'identical' if m else ('not run' if m is None else 'DIFFERENT: ' + str(res.get('xylosim_differences')))}"]
    return "\n".join(lines) + "\n"
