"""Verification of a deployment (``neuromorph verify``): the same test signal through the float
reference, the fake-quant model, the target backend's emulator and its reference simulator
(Rockpool's XyloSim for the Xylo devices), side by side.

The emulator and the reference simulator must agree exactly (every spike, every Isyn/Vmem value); any
difference makes ``verify`` exit non-zero.  Coding errors are normalised error variances
(``metrics.normalized_error``) against the signal x the input encodes.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Union

import numpy as np
from scipy.signal import lfilter

from neuromorph.artifacts import atomic_write_text, provenance, save_figure, write_json
from neuromorph.backends.base import BackendError, backend_for_device
from neuromorph.metrics import normalized_error
from neuromorph.network import load_network
from neuromorph.quant.fakequant import QDIR_NETWORK, fake_quant_network, load_quantized, signal_error, evaluation_signal
from neuromorph.sim.simulator import chip_options

def compare_with_reference(reference, raster: np.ndarray, emulated: dict) -> dict:
    """Run the backend's reference simulator on ``raster`` and compare every state it records
    with ``emulated`` (exact equality; a count of differing entries per state)."""
    t0 = time.perf_counter()
    rec = reference(raster)
    wall = time.perf_counter() - t0
    diffs = {}
    for k, a in rec.items():
        b = np.asarray(emulated[k])
        if a.shape != b.shape:
            diffs[k] = f"shape {a.shape} vs {b.shape}"
        else:
            n = int(np.count_nonzero(a != b))
            if n:
                diffs[k] = n
    return {"matches": not diffs, "differences": diffs, "xylosim_seconds": wall}


def verify(qdir: Union[str, Path], out: Union[str, Path], *, seed: int = 0, test_steps: int = 10_000,
           with_xylosim: bool = True) -> dict:
    """Verify the deployment in ``qdir`` (output of ``quantize``); write verify.json, report.md, PNGs."""
    qdir = Path(qdir)
    if not qdir.is_dir():
        raise FileNotFoundError(f"quantization directory not found: {qdir}")
    q = load_quantized(qdir / QDIR_NETWORK)
    if q.stats.get("ei"):  # an EI (Dale's law) network: neuromorph/stages/ei.py
        from neuromorph.stages.ei import verify_ei

        return verify_ei(qdir, Path(out), compare=compare_with_reference, seed=seed, test_steps=test_steps,
                         with_xylosim=with_xylosim)
    qmeta = json.loads((qdir / "quantization.json").read_text()) if (qdir / "quantization.json").is_file() else {}
    ref = load_network(qdir / "network_float.npz")
    deployed = load_network(qdir / "network_deployed.npz") if (qdir / "network_deployed.npz").is_file() else ref
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    c, x = evaluation_signal(ref.n_inputs, test_steps, seed, ref.lam, ref.dt)
    res: dict = {"target": q.target, "test_steps": test_steps, "seed": seed}
    fl = signal_error(ref, x, seed)
    res["error_float"] = fl["error"]
    res["rate_float_hz"] = fl["rate_hz"]
    fq_net = fake_quant_network(q, ref)
    chip = chip_options(q.dash_syn, q.dt)
    res["error_fake_quant_reference_dynamics"] = signal_error(fq_net, x, seed)["error"]
    res["error_fake_quant_chip_dynamics"] = signal_error(fq_net, x, seed, options=chip)["error"]
    adapted = bool(qmeta.get("adapted_to_chip", False))
    res["fake_quant_dynamics"] = "chip" if adapted else "reference"
    res["error_fake_quant"] = res["error_fake_quant_chip_dynamics" if adapted else "error_fake_quant_reference_dynamics"]
    if deployed is not ref:
        res["error_float_deployed_chip_dynamics"] = signal_error(deployed, x, seed, options=chip)["error"]
    series = {"x": x, "float": None, "fake_quant": None}
    device = (qmeta.get("device") or q.target)
    try:
        backend = backend_for_device(device)
    except BackendError:
        backend = None
    deployable = backend.load_deployable(qdir) if backend is not None else None
    if deployable is not None:
        raster = backend.encode(q, x)
        t0 = time.perf_counter()
        rec = backend.emulate(deployable, raster, record=True)
        res["emulator_seconds"] = time.perf_counter() - t0
        xh = backend.decode(q, rec)
        res["error_emulated"] = normalized_error(x, xh)
        spikes = rec["Spikes"].astype(np.float64)
        r = lfilter([1.0], [1.0, -(1.0 - q.lam_chip * q.dt)], spikes, axis=0)
        res["error_emulated_spike_decoded"] = normalized_error(x, r @ q.dequantize()["D"].T)
        res["rate_emulated_hz"] = float(spikes.sum() / (test_steps * q.dt * q.n_neurons))
        res["input_events_per_step"] = float(raster.sum() / test_steps)
        res["saturation_events"] = backend.saturation_counts(rec)
        # per-neuron rates: emulator vs the fake-quant model under chip dynamics
        from neuromorph.sim.simulator import simulate
        from neuromorph.sim.signals import current_for_signal
        from neuromorph.sim.rng import derive_seed

        sim = simulate(fq_net, current_for_signal(x, fq_net.lam, fq_net.dt), seed=derive_seed(seed, 23),
                       record=("r",), options=chip)
        rate_em = spikes.sum(0) / (test_steps * q.dt)
        rate_fq = sim.rates_hz()
        res["rate_difference_hz"] = {"mean_abs": float(np.abs(rate_em - rate_fq).mean()),
                                     "max_abs": float(np.abs(rate_em - rate_fq).max())}
        series.update(emulated=xh, rate_em=rate_em, rate_fq=rate_fq)
        reference = backend.reference_simulator(deployable) if with_xylosim else None
        if reference is not None:
            cmp = compare_with_reference(reference, raster, rec)
            res["emulator_matches_xylosim"] = cmp["matches"]
            res["xylosim_differences"] = cmp["differences"]
            res["xylosim_seconds"] = cmp["xylosim_seconds"]
        else:
            res["emulator_matches_xylosim"] = None
    else:
        res["error_emulated"] = None
        res["emulator_matches_xylosim"] = None
        res["note"] = f"target {q.target!r} has no emulator; fake-quant only"
    res["provenance"] = provenance(seed=seed)
    _figures(out, res, series, ref, fq_net, x, seed)
    write_json(out / "verify.json", res)
    atomic_write_text(out / "report.md", verify_markdown(res))
    return res


def _figures(out: Path, res: dict, series: dict, ref, fq_net, x, seed) -> None:
    import matplotlib.pyplot as plt

    from neuromorph.sim.rng import derive_seed
    from neuromorph.sim.signals import current_for_signal
    from neuromorph.sim.simulator import simulate

    T = min(2000, x.shape[0])
    tt = np.arange(T) * ref.dt
    fl = simulate(ref, current_for_signal(x[:T], ref.lam, ref.dt), seed=derive_seed(seed, 23), record=("r",))
    chip = chip_options(fq_net.meta.get("dash_syn", 1), fq_net.dt) if res["fake_quant_dynamics"] == "chip" else None
    fq = simulate(fq_net, current_for_signal(x[:T], fq_net.lam, fq_net.dt), seed=derive_seed(seed, 23), record=("r",),
                  options=chip)
    M = x.shape[1]
    fig, axes = plt.subplots(M, 1, figsize=(10, 2.4 * M), sharex=True, squeeze=False)
    for d in range(M):
        ax = axes[d, 0]
        ax.plot(tt, x[:T, d], "k", lw=1.5, label="signal x")
        ax.plot(tt, (fl.r @ ref.D.T)[:, d], lw=0.8, label=f"float ({res['error_float']:.3g})")
        ax.plot(tt, (fq.r @ fq_net.D.T)[:, d], lw=0.8, label=f"fake-quant ({res['error_fake_quant']:.3g})")
        if series.get("emulated") is not None:
            ax.plot(tt, series["emulated"][:T, d], lw=0.8, label=f"emulated chip ({res['error_emulated']:.3g})")
        ax.set_ylabel(f"x{d + 1}")
    axes[0, 0].legend(fontsize=7, loc="upper right", ncol=4)
    axes[-1, 0].set_xlabel("time (s)")
    save_figure(fig, out / "reconstruction.png")
    if series.get("rate_em") is not None:
        fig, ax = plt.subplots(figsize=(8, 3))
        idx = np.arange(series["rate_em"].size)
        ax.bar(idx - 0.2, series["rate_fq"], 0.4, label="fake-quant, chip dynamics")
        ax.bar(idx + 0.2, series["rate_em"], 0.4, label="emulator")
        ax.set_xlabel("neuron")
        ax.set_ylabel("rate (Hz)")
        ax.legend(fontsize=7)
        save_figure(fig, out / "rates.png")


def verify_markdown(res: dict) -> str:
    def f(v):
        return "n/a" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))

    lines = [f"# Verification report: {res['target']}", "",
             f"Headline fake-quant error uses the {res['fake_quant_dynamics']} dynamics: {f(res['error_fake_quant'])}.", "",
             "| model | coding error (normalised) |", "|---|---|",
             f"| float reference | {f(res['error_float'])} |",
             f"| fake-quant, reference dynamics (one-spike arbiter) | {f(res['error_fake_quant_reference_dynamics'])} |",
             f"| fake-quant, chip dynamics (no arbiter, bit-shift synapses) | {f(res['error_fake_quant_chip_dynamics'])} |",
             f"| emulated chip (output-neuron read-out) | {f(res.get('error_emulated'))} |",
             f"| emulated chip (spikes decoded off-chip) | {f(res.get('error_emulated_spike_decoded'))} |", ""]
    m = res.get("emulator_matches_xylosim")
    lines.append(f"**Emulator vs Rockpool XyloSim:** {'identical (spikes and all states)' if m else ('not run' if m is None else 'DIFFERENT: ' + str(res.get('xylosim_differences')))}")
    if "saturation_events" in res:
        lines += ["", f"Saturation events (entries at the 16-bit limits): {res['saturation_events']}",
                  f"Mean rate emulated: {f(res['rate_emulated_hz'])} Hz; per-neuron |rate difference| to the "
                  f"fake-quant chip-dynamics model: mean {f(res['rate_difference_hz']['mean_abs'])} Hz, "
                  f"max {f(res['rate_difference_hz']['max_abs'])} Hz."]
    lines += ["", "![reconstruction](reconstruction.png)", ""]
    return "\n".join(lines) + "\n"
