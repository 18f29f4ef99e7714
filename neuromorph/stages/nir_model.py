"""Stages for a network from another tool (``neuromorph quantize MODEL.nir``, ``verify``,
``deploy``): the mapping and the reference semantics are :mod:`neuromorph.backends.nir_import`
and :func:`neuromorph.backends.nir.run_graph`; docs/interop.md has the measured numbers."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from neuromorph.backends.nir import NIRImportError, graph_kind, load_nir, run_graph
from neuromorph.backends.nir_import import (NIR_MODEL_FILE, default_raster, load_raster, parse_graph, quantize_float,
                                            state_peaks, to_xylo_float)

__all__ = ["quantize_nir", "verify_nir"]


def quantize_nir(model: Union[str, Path], target_name: str, out: Union[str, Path], *, method: Optional[str] = None,
                 dt: Optional[float] = None, target_overrides: Optional[dict] = None, seed: int = 0,
                 data: Optional[Union[str, Path]] = None, calibration_steps: int = 2000,
                 **scn_kwargs: Any) -> dict:
    """``neuromorph quantize MODEL.nir --target ...``: map a foreign NIR graph onto a Xylo target.

    An SCN-shaped graph goes through the SCN path (:func:`~neuromorph.stages.quantize.quantize_run`
    on the imported SCN, ``method`` as given, ``scn`` by default there). Any other recurrent
    LIF/CubaLIF graph is mapped with ``method`` ``"global"`` or ``"channel"`` (``None`` or
    ``"scn"``, the command's default, mean ``"global"`` there; the report's ``method_note`` says
    so, since the SCN-aware scales need an SCN); QDIR gets
    ``spec.npz`` (+ ``spec.meta.json``), ``model.nir`` (the graph), ``quantization.json`` and
    ``quantization.md``. The weight shift is sized on the graph's state peaks under
    :func:`~neuromorph.backends.nir.run_graph` on ``data`` (an input raster ``.npy``) or a default
    Bernoulli raster of ``calibration_steps`` steps. Returns the report.
    """
    from quantization.hardware import load_target

    from neuromorph.artifacts import atomic_write, atomic_write_text, provenance, write_json
    from neuromorph.backends.base import backend_for
    from neuromorph.backends.nir import nir_to_scn

    model, out = Path(model), Path(out)
    graph = load_nir(model)
    target = load_target(target_name, **(target_overrides or {}))
    try:
        scn = nir_to_scn(graph) if graph_kind(graph) in (None, "SCN") else None
    except NIRImportError:
        scn = None
    if scn is not None:  # SCN-aware: the project's own path
        import tempfile

        from neuromorph.network import save_network
        from neuromorph.stages.quantize import quantize_run

        with tempfile.TemporaryDirectory() as tmp:
            save_network(scn, Path(tmp) / "network.npz")
            rep = quantize_run(tmp, target_name, out, seed=seed, method=method or "scn",
                               target_overrides=target_overrides, **scn_kwargs)
        rep["source"] = {"nir": str(model), "imported_as": "SCN"}
        write_json(out / "quantization.json", rep)
        return rep
    if target.device not in ("xylo-audio-v2", "xylo-audio-v3", "xylo-imu"):
        raise ValueError(f"--target {target.name}: importing a NIR graph maps onto a Xylo device; "
                         f"{target.device!r} is not one")
    note = None
    if method in (None, "scn"):
        note = ("not an SCN-shaped graph: the SCN-aware scales do not apply; mapped with the global "
                "method" if method == "scn" else None)
        method = "global"
    net = parse_graph(graph, dt)
    calib = load_raster(data, net.shape[0]) if data is not None else default_raster(net.shape[0], calibration_steps, seed)
    spec, xf, qerr = map_graph(graph, net, target, method, calib)
    qerr["calibration"] = {"input": str(data) if data is not None else
                           f"default Bernoulli raster, {calibration_steps} steps, p = 0.1",
                           "peak_membrane": qerr.pop("peak_membrane")}
    from neuromorph.backends.xylo.spec import hardware_violations

    violations = hardware_violations(spec, target)
    report: dict[str, Any] = {
        "target": target.name, "device": target.device, "method": method, "method_note": note, "source": {
            "nir": str(model), "imported_as": ("recurrent " if net.names["w_rec"] else "feed-forward ") + net.hidden["kind"], "nodes": net.names},
        "dt": net.dt, "shape": {"n_in": spec.n_in, "n_hidden": spec.n_hidden, "n_out": spec.n_out},
        "hidden_neuron": net.hidden["kind"], "readout_neuron": net.readout["kind"],
        "approximations": xf["approximations"], "quantization": qerr,
        "fit_check": {"ok": not violations, "violations": [{"message": v} for v in violations]},
        "spec": "spec.npz",
    }
    report["provenance"] = provenance(seed=seed, config={"target": target.name, "method": method, "model": str(model)})
    out.mkdir(parents=True, exist_ok=True)
    from neuromorph.backends.xylo.spec import save_spec

    save_spec(spec, out / "spec.npz", metadata={"target": target.name, "source": "nir", "model": model.name})
    atomic_write(out / NIR_MODEL_FILE, lambda tmp: shutil.copyfile(model, tmp))
    backend_for(target)  # the target has a backend (Xylo): fail here, not in verify
    write_json(out / "quantization.json", report)
    atomic_write_text(out / "quantization.md", _quantize_md(report))
    return report


def map_graph(graph: Any, net: Any, target: Any, method: str, calibration: np.ndarray) -> tuple[Any, dict, dict]:
    """Integer Xylo spec of a parsed foreign graph (no files written).

    Parameters
    ----------
    graph : nir.NIRGraph
        The graph ``net`` was parsed from (its :func:`run_graph` run sizes the weight shift).
    net : ForeignNetwork
        :func:`~neuromorph.backends.nir_import.parse_graph` of ``graph``.
    target : quantization.hardware.HardwareSpec
        A Xylo target (its device, synapse count and largest weight shift are used).
    method : str
        ``"global"`` or ``"channel"``.
    calibration : ndarray, shape (T, Nin)
        Input events the state peaks are measured on.

    Returns
    -------
    spec, xf, errors
        The :class:`~neuromorph.backends.xylo.spec.XyloSpec`, the float Xylo parameters
        (:func:`~neuromorph.backends.nir_import.to_xylo_float`) and the rounding report
        (:func:`~neuromorph.backends.nir_import.quantize_float`, plus ``peak_membrane``).
    """
    xf = to_xylo_float(net)
    xf["dt"] = net.dt
    n_syn = 2 if (target.max_syn or 1) >= 2 else 1
    peaks = state_peaks(graph, net, calibration)
    spec, qerr = quantize_float(xf, method, int(target.max_weight_shift if target.max_weight_shift is not None
                                                else 7), n_syn, target.device, peaks)
    qerr["peak_membrane"] = float(peaks["hidden"].max(initial=0.0))
    return spec, xf, qerr


def reference_run(graph: Any, net: Any, raster: np.ndarray) -> dict[str, np.ndarray]:
    """The graph's NIR semantics on ``raster``: hidden spikes (T, Nhid) under ``"hidden"`` and the
    readout trace (T, Nout) under ``"readout"``: an LI readout's state, else the membrane after
    the step's reset (what the chip records as ``Vmem_out``; the pre-reset value would differ
    from it by a threshold at every output spike)."""
    names = net.names
    ref = run_graph(graph, raster.astype(np.float64), net.dt,
                    record=[names["hidden"], names["readout"], f"{names['readout']}.v"])
    ro = ref[names["readout"]] if net.readout["kind"] == "LI" else \
        ref[f"{names['readout']}.v"] - net.readout["v_threshold"] * ref[names["readout"]]
    out = {"hidden": ref[names["hidden"]], "readout": ro}
    if net.readout["kind"] != "LI":
        out["output_spikes"] = ref[names["readout"]]
    return out


def _corr(a: np.ndarray, b: np.ndarray) -> Optional[float]:
    return float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else None


def compare_with_graph(ref: dict[str, np.ndarray], rec: dict, dt: float) -> dict[str, Any]:
    """Chip recording ``rec`` (emulator: ``Spikes``, ``Vmem_out``) against :func:`reference_run`'s
    ``ref``: hidden spike agreement (fraction of equal (step, neuron) entries, the chip's event
    counts read as 0/1), rates (Hz per hidden neuron), per-neuron spike-count correlation and the
    readout correlation per output (None where a trace is constant)."""
    z_ref, z_chip = ref["hidden"], np.asarray(rec["Spikes"], np.float64)
    steps, n_hid = z_ref.shape
    sec = steps * dt
    ro_ref, ro_chip = ref["readout"], np.asarray(rec["Vmem_out"], np.float64)
    return {
        "test_steps": int(steps),
        "spike_agreement": float(np.mean(z_ref == np.minimum(z_chip, 1))),
        "rate_nir_hz": float(z_ref.sum() / (sec * n_hid)), "rate_chip_hz": float(z_chip.sum() / (sec * n_hid)),
        "rate_correlation_per_neuron": _corr(z_ref.sum(0), z_chip.sum(0)),
        "readout_correlation": [_corr(ro_ref[:, k], ro_chip[:, k]) for k in range(ro_ref.shape[1])],
    }


def _quantize_md(rep: dict) -> str:
    e = rep["quantization"]["relative_rms_error"]
    lines = [f"# Quantization report: {rep['source']['nir']} -> {rep['target']} ({rep['method']})", "",
             f"- imported as: {rep['source']['imported_as']} -> {rep['readout_neuron']} readout, "
             f"{rep['shape']['n_in']} inputs, {rep['shape']['n_hidden']} hidden, {rep['shape']['n_out']} outputs, "
             f"dt = {rep['dt']:g} s",
             f"- weight rounding (relative RMS): input {e['w_in']:.3g}, recurrent {e['w_rec']:.3g}, "
             f"readout {e['w_out']:.3g}",
             f"- fit check: {'ok' if rep['fit_check']['ok'] else 'FAILED'}"]
    lines += [f"  - {v['message']}" for v in rep["fit_check"]["violations"]]
    lines += [f"- approximation: {a}" for a in rep["approximations"]]
    lines += ["", "Run `neuromorph verify QDIR --out DIR` to compare the chip with the graph's NIR semantics."]
    return "\n".join(lines) + "\n"


def verify_nir(qdir: Union[str, Path], out: Union[str, Path], *, seed: int = 0, test_steps: int = 2000,
               data: Optional[Union[str, Path]] = None, with_xylosim: bool = True) -> dict:
    """``neuromorph verify`` of a QDIR made from a foreign NIR graph: the graph under
    :func:`~neuromorph.backends.nir.run_graph` versus the emulated chip (and XyloSim), same input
    events. Writes ``verify.json`` and ``report.md``; returns the result."""
    from neuromorph.artifacts import atomic_write_text, provenance, write_json
    from neuromorph.backends.base import backend_for_device
    from neuromorph.backends.xylo.spec import load_spec
    from neuromorph.stages.verify import compare_with_reference

    qdir, out = Path(qdir), Path(out)
    rep = json.loads((qdir / "quantization.json").read_text())
    graph = load_nir(qdir / NIR_MODEL_FILE)
    net = parse_graph(graph, rep.get("dt"))
    spec = load_spec(qdir / "spec.npz")
    raster = load_raster(data, spec.n_in) if data is not None else default_raster(spec.n_in, test_steps, seed)
    t0 = time.perf_counter()
    ref = reference_run(graph, net, raster)
    ref_s = time.perf_counter() - t0
    backend = backend_for_device(spec.device)
    rec = backend.emulate(spec, raster, record=True)
    steps = raster.shape[0]
    cmp_graph = compare_with_graph(ref, rec, net.dt)
    corr = cmp_graph["readout_correlation"]
    res: dict[str, Any] = {
        "target": rep.get("target"), "device": spec.device, "source": rep.get("source"),
        "input": str(data) if data is not None else "default Bernoulli raster (p = 0.1 per channel and step)",
        "input_events_per_step": float(raster.sum() / steps), **cmp_graph, "nir_reference_seconds": ref_s,
    }
    if net.readout["kind"] != "LI":
        res["output_events_nir"] = int(ref["output_spikes"].sum())
        res["output_events_chip"] = int(rec["output"].sum())
    reference = backend.reference_simulator(spec) if with_xylosim else None
    if reference is not None:
        cmp = compare_with_reference(reference, raster, rec)
        res["emulator_matches_xylosim"] = cmp["matches"]
        res["xylosim_differences"] = cmp["differences"]
    else:
        res["emulator_matches_xylosim"] = None
    res["provenance"] = provenance(seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "verify.json", res)
    m = res["emulator_matches_xylosim"]
    lines = [f"# Verification report: {rep['source']['nir']} on {spec.device}", "",
             f"Input: {res['input']}, {steps} steps.", "",
             "| quantity | value |", "|---|---|",
             f"| hidden spike agreement (steps x neurons equal) | {res['spike_agreement']:.4g} |",
             f"| rate, NIR reference / chip (Hz) | {res['rate_nir_hz']:.4g} / {res['rate_chip_hz']:.4g} |",
             f"| per-neuron spike-count correlation | {res['rate_correlation_per_neuron']} |",
             f"| readout membrane correlation, per output | {', '.join('n/a' if c is None else f'{c:.3g}' for c in corr)} |",
             f"| emulator == Rockpool XyloSim | {'yes' if m else ('not run' if m is None else 'NO: ' + str(res['xylosim_differences']))} |",
             ""]
    atomic_write_text(out / "report.md", "\n".join(lines))
    return res
