"""The quantization stage as the product runs it: learnt float SCN in, integer network, fit
check and report out (``neuromorph quantize``).

The integer arithmetic lives in the lower-layer package :mod:`quantization`; the float side
(operating statistics, fake-quant evaluation, the quantized-network file) in
:mod:`neuromorph.quant.fakequant`.
"""
from __future__ import annotations


from pathlib import Path
from typing import Optional, Union

from quantization.hardware import HardwareSpec, load_target
from quantization.mapping import MappingOptions, QuantizedSCN, quantization_errors

from neuromorph.artifacts import atomic_write_text, provenance, write_json
from neuromorph.backends.base import backend_for
from neuromorph.network import SCN, load_network
from neuromorph.sim.rng import derive_seed
from neuromorph.quant.fakequant import (QDIR_NETWORK, evaluation_signal, fake_quant_network, operating_statistics,
                                       save_quantized, signal_error)


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


def quantize_run(run_dir: Union[str, Path], target_name: str, out: Union[str, Path], *, seed: int = 0,
                 mismatch: float = 0.0, method: str = "scn", rounding: str = "nearest",
                 test_steps: int = 10_000, target_overrides: Optional[dict] = None,
                 adapt: Optional[bool] = None, adapt_steps: int = 400_000, progress: bool = False) -> dict:
    """``neuromorph quantize``: map the run's network, check the fit, measure float and
    fake-quant error on a common test signal, write QDIR.  Returns the report dict."""
    net = load_network(find_network(run_dir))
    if not isinstance(net, SCN):
        raise ValueError("quantize supports SCNs without Dale's law (Figs 2, 3, 5 networks)")
    target = load_target(target_name, **(target_overrides or {}))
    if target.is_float:
        raise ValueError(f"target {target.name!r} is the float reference; choose a chip or 'fixed-point'")
    if abs(target.dt - net.dt) > 1e-12:
        target = load_target(target_name, **dict(target_overrides or {}, dt=net.dt))
    out = Path(out)
    from neuromorph.stages.preflight import network_fanout, preflight

    preflight(target, net.n_neurons, net.n_inputs, fanout=network_fanout(net.Omega))  # before any work
    backend = backend_for(target)
    c, x = evaluation_signal(net.n_inputs, test_steps, seed, net.lam, net.dt)
    # silicon without the one-spike-per-step arbiter: adapt to its dynamics unless told otherwise
    adapt = (not backend.capabilities(target).one_spike_per_step) if adapt is None else bool(adapt)
    deployed = net
    report = {"target": target.name, "device": target.device, "method": method, "rounding": rounding,
              "adapted_to_chip": adapt}
    if adapt:
        # delay-aware retraining (chip_training.adapt_to_chip): silicon has no spike arbiter
        from neuromorph.quant.chip_training import adapt_to_chip
        from neuromorph.progress import progress_bar

        with progress_bar(adapt_steps, "adapt to chip dynamics", progress) as upd:
            deployed = adapt_to_chip(net, steps=adapt_steps, seed=seed, progress=upd)
        report["adapt_steps"] = adapt_steps
    stats = operating_statistics(deployed, c, seed, drive=backend.input_drive)
    opts = MappingOptions(method=method, rounding=rounding, seed=derive_seed(seed, 24))
    q = backend.map(deployed, target, stats, opts)
    report.update(weight_bits=q.weight_bits, operating_statistics=stats)
    report["fit_check"] = backend.fit_check(q, target).to_dict()
    fl = signal_error(net, x, seed)
    report["error_float"] = fl["error"]
    report["rate_float_hz"] = fl["rate_hz"]
    from neuromorph.sim.simulator import chip_options

    fq_ref = signal_error(fake_quant_network(q, net), x, seed)
    fq_chip = signal_error(fake_quant_network(q, net), x, seed, options=chip_options(q.dash_syn, q.dt))
    report["error_quantized_reference_dynamics"] = fq_ref["error"]
    report["error_quantized_chip_dynamics"] = fq_chip["error"]
    # the headline fake-quant number uses the dynamics the network was prepared for
    fq = fq_chip if adapt else fq_ref
    report["fake_quant_dynamics"] = "chip" if adapt else "reference"
    report["error_quantized"] = fq["error"]
    report["rate_quantized_hz"] = fq["rate_hz"]
    if adapt:  # the adapted float network, under the chip dynamics it was adapted to
        report["error_float_adapted_chip_dynamics"] = signal_error(deployed, x, seed,
                                                                   options=chip_options(q.dash_syn, q.dt))["error"]
    report["parameters"] = quantization_errors(deployed.F, deployed.Omega, deployed.D, deployed.thresholds, q)
    report["integer"] = {"shift_in": q.shift_in, "shift_rec": q.shift_rec, "shift_out": q.shift_out,
                         "dash_mem": q.dash_mem, "dash_syn": q.dash_syn, "scale_v": q.scale_v,
                         "input_gain": q.input_gain, "scale_out": q.scale_out,
                         "expected_saturation": {"vmem_peak_fraction": stats["v_peak"] * q.scale_v / (2 ** (target.state_bits - 1) - 1)}}
    if mismatch > 0:
        from neuromorph.quant.mismatch_study import mismatch_errors

        report["mismatch"] = mismatch_errors(net, q, target, x, sigma=mismatch, n_instances=20, seed=seed)
    report["provenance"] = provenance(seed=seed, config={"target": target.name, "method": method,
                                                         "mismatch": mismatch, "run": str(run_dir)})
    out.mkdir(parents=True, exist_ok=True)
    from neuromorph.network import save_network

    save_network(net, out / "network_float.npz")
    save_network(deployed, out / "network_deployed.npz")
    save_quantized(q, out / QDIR_NETWORK)
    report.update(backend.export(q, target, out))  # e.g. {"spec": "spec.npz"} on Xylo
    write_json(out / "quantization.json", report)
    atomic_write_text(out / "quantization.md", quantization_markdown(report))
    return report


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
             f"| fit check | {'ok' if rep['fit_check']['ok'] else 'FAILED'} |", "",
             "## Per parameter class", "", "| class | relative RMS error | rounded to zero |", "|---|---|---|"]
    for k, v in rep["parameters"].items():
        if "relative_rms_error" in v:
            lines.append(f"| {k} | {v['relative_rms_error']:.3g} | {v['rounded_to_zero']} |")
    lam = rep["parameters"]["lam"]
    lines += ["", f"Membrane time constant: float {lam['tau_float_ms']:.3g} ms, chip {lam['tau_chip_ms']:.3g} ms "
                  f"(bit-shift decay; the input encoder compensates by driving the chip's own leak).", ""]
    if not rep["fit_check"]["ok"]:
        lines += ["## Fit violations", ""] + [f"- {v['message']}" for v in rep["fit_check"]["violations"]]
    if "mismatch" in rep:
        mm = rep["mismatch"]
        lines += ["", f"## Mismatch (σ = {mm['sigma']}, {mm['n_instances']} instances)", "",
                  f"error {mm['error_mean']:.4g} ± {mm['error_sd']:.2g} (mean ± sd)"]
    return "\n".join(lines) + "\n"
