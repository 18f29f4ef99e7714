"""Verification of a deployment (``neuromorph verify``): the user's test signal through the float
reference, the fake-quant model, the target backend's emulator and its reference simulator
(Rockpool's XyloSim for the Xylo devices), side by side.

The test signal is the run's held-out split (kept in QDIR as ``data.npz``) or a data file
(``--data FILE``), scaled with the run's scaling and resampled to the network's step; a run
without data is tested on the built-in white noise.  The emulator and the reference simulator
must agree exactly (every spike, every Isyn/Vmem value); any difference makes ``verify`` exit
non-zero.  Coding errors are normalised error variances (``metrics.normalized_error``) of the
decoded estimates — in the data's units, on the tested signal's own time grid — against it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

from neuromorph.artifacts import atomic_write_bytes, atomic_write_text, provenance, save_figure, write_json
from neuromorph.backends.base import BackendError, backend_for_device
from neuromorph.data import Scaling, load_run_data
from neuromorph.metrics import normalized_error
from neuromorph.network import load_network
from neuromorph.quant.calibration import WARN_CLIPPING
from neuromorph.quant.fakequant import QDIR_NETWORK, evaluation_signal, fake_quant_network, load_quantized
from neuromorph.sim.simulator import chip_options
from neuromorph.stages.on_data import (UserSignal, channel_errors, compare_with_reference, held_out_signal,  # noqa: F401
                                       input_clipping,
                                       qdir_scaling, run_emulated, run_float, signal_from_arrays, signal_from_file, user_error,
                                       warn_stderr)

def test_signal(qdir: Path, ref, data: Optional[Union[str, Path]] = None, *, dt: Optional[float] = None,
                seed: int = 0, test_steps: int = 10_000) -> UserSignal:
    """What ``verify`` tests on: ``data`` (a file, scaled with the run's scaling and resampled to
    the network's step), else the run's held-out split kept in QDIR (``data.npz``), else the
    built-in white noise (``test_steps`` steps) for a run without data."""
    rd = load_run_data(qdir)
    if data is not None and rd is not None and rd.meta.get("frontend"):  # sound through the run's AFE
        from neuromorph.stages.frontend import frontend_user_signal

        return frontend_user_signal(data, rd, dt=dt)
    if data is not None:
        return signal_from_file(data, ref.dt, ref.n_inputs, qdir_scaling(qdir), dt=dt)
    if rd is not None:
        return held_out_signal(rd)  # a PCA run: the M original channels
    _, x = evaluation_signal(ref.n_inputs, test_steps, seed, ref.lam, ref.dt)
    return signal_from_arrays(x, ref.dt, Scaling.identity(ref.n_inputs), "built-in white noise")


def verify(qdir: Union[str, Path], out: Union[str, Path], *, seed: int = 0, test_steps: int = 10_000,
           with_xylosim: bool = True, data: Optional[Union[str, Path]] = None, data_dt: Optional[float] = None,
           warn=warn_stderr, reference_factory: Optional[Callable] = None) -> dict:
    """Verify the deployment in ``qdir`` (output of ``quantize``) on the user's signal.

    Writes verify.json, report.md, reconstruction.png (and rates.png), ``decoded_float.npy``,
    ``decoded_fake_quant.npy``, ``decoded_emulated.npy`` (chip's estimate) and ``signal.npy``
    (the signal they estimate): data units, the shape and time step of the tested signal — row t
    of a decoded array estimates row t of ``signal.npy`` (= the ``data`` file when given).
    Headline errors are ``normalized_error(signal, decoded)`` of exactly those arrays.
    ``reference_factory(backend, deployable)``: builds the reference simulator instead of
    ``backend.reference_simulator`` (the pipeline's pre-imported worker process)."""
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
    sig = test_signal(qdir, ref, data, dt=data_dt, seed=seed, test_steps=test_steps)  # bad input: before any work
    out = Path(out)
    steps = int(sig.x.shape[0] * sig.x.shape[1])
    res: dict = {"target": q.target, "test_steps": steps, "seed": seed, "signal": sig.describe(),
                 "chip_step": {"dt_s": float(q.dt), "network_dt_s": float(ref.dt),
                               "steps_per_sample": int(q.steps_per_sample)}}
    k = q.steps_per_sample  # chip steps per step of the learnt network (signals upsampled k×)
    fq_net = fake_quant_network(q, deployed)
    chip = chip_options(q.dash_syn, q.dt)
    adapted = bool(qmeta.get("adapted_to_chip", False))
    runs = {"float": run_float(ref, sig.x, seed),
            "fake_quant_reference": run_float(fq_net, sig.x, seed, steps_per_sample=k),
            "fake_quant_chip": run_float(fq_net, sig.x, seed, options=chip, steps_per_sample=k)}
    decoded = {k: sig.shaped(sig.to_user(v["x_hat"])) for k, v in runs.items()}
    res["error_float"] = user_error(sig, decoded["float"])
    res["rate_float_hz"] = runs["float"]["rate_hz"]
    res["error_fake_quant_reference_dynamics"] = user_error(sig, decoded["fake_quant_reference"])
    res["error_fake_quant_chip_dynamics"] = user_error(sig, decoded["fake_quant_chip"])
    res["fake_quant_dynamics"] = "chip" if adapted else "reference"
    fq_key = "fake_quant_chip" if adapted else "fake_quant_reference"
    res["error_fake_quant"] = user_error(sig, decoded[fq_key])
    res["rate_fake_quant_hz"] = runs[fq_key]["rate_hz"]
    if deployed is not ref:
        dep = run_float(deployed, sig.x, seed, options=chip, steps_per_sample=k)
        res["error_float_deployed_chip_dynamics"] = user_error(sig, sig.shaped(sig.to_user(dep["x_hat"])))
    try:
        backend = backend_for_device(qmeta.get("device") or q.target)
    except BackendError:
        backend = None
    deployable = backend.load_deployable(qdir) if backend is not None else None
    estimates = {"float": decoded["float"], "fake_quant": decoded[fq_key]}
    series = {}
    if deployable is not None:
        make_reference = reference_factory or (lambda b, d: b.reference_simulator(d))
        reference = make_reference(backend, deployable) if with_xylosim else None
        em = run_emulated(backend, q, deployable, sig.x, reference)
        decoded["emulated"] = estimates["emulated"] = sig.shaped(sig.to_user(em["x_hat"]))
        res["emulator_seconds"] = em["emulator_seconds"]
        res["error_emulated"] = user_error(sig, decoded["emulated"])
        res["error_emulated_spike_decoded"] = user_error(sig, sig.shaped(sig.to_user(em["x_hat_spikes"])))
        res["rate_emulated_hz"] = em["rate_hz"]
        res["input_events_per_step"] = em["input_events_per_step"]
        res["saturation_events"] = em["saturation_events"]
        clip = input_clipping(backend, q, sig.x)
        res["input_events_clipped_fraction"] = clip["input_events_clipped_fraction"]
        res["input_clipping"] = clip
        # per-neuron rates: emulator vs the fake-quant model under chip dynamics
        rate_em, rate_fq = em["rates_hz"], runs["fake_quant_chip"]["rates_hz"]
        res["rate_difference_hz"] = {"mean_abs": float(np.abs(rate_em - rate_fq).mean()),
                                     "max_abs": float(np.abs(rate_em - rate_fq).max())}
        series.update(rate_em=rate_em, rate_fq=rate_fq)
        if reference is not None:
            res["emulator_matches_xylosim"] = em["matches"]
            res["xylosim_differences"] = em["differences"]
            res["xylosim_seconds"] = em["reference_seconds"]
        else:
            res["emulator_matches_xylosim"] = None
        if warn is not None and clip["input_events_clipped_fraction"] > WARN_CLIPPING:
            warn(f"{clip['input_events_clipped_fraction']:.2%} of the input events exceed the "
                 f"{clip['max_events']}-event per-step limit on {sig.source} (the encoder sends them late)")
    else:
        res["error_emulated"] = None
        res["emulator_matches_xylosim"] = None
        res["note"] = f"target {q.target!r} has no emulator; fake-quant only"
    from neuromorph.stages.on_data import fidelity_ratios

    res["chip_vs_float"] = fidelity_ratios(res["error_float"], res.get("error_emulated"), res["rate_float_hz"],
                                           res.get("rate_emulated_hz"))
    res["channels"] = channel_errors(sig, estimates)
    res["errors_network_units"] = {k: normalized_error(sig.x.reshape(-1, sig.n_channels),
                                                       runs[r]["x_hat"].reshape(-1, sig.n_channels))
                                   for k, r in (("float", "float"), ("fake_quant", fq_key))}
    if deployable is not None:
        res["errors_network_units"]["emulated"] = normalized_error(sig.x.reshape(-1, sig.n_channels),
                                                                   em["x_hat"].reshape(-1, sig.n_channels))
    if getattr(sig.scaling, "pca", None) is not None:  # K principal components: what coding them costs
        from neuromorph.data.pca import pca_report

        nets = {"float": runs["float"]["x_hat"], "fake_quant": runs[fq_key]["x_hat"]}
        if deployable is not None:
            nets["emulated"] = em["x_hat"]
        res["pca"] = pca_report(sig.scaling, sig.x, nets, sig.reference)
    res["provenance"] = provenance(seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    _write_arrays(out, sig, decoded)
    _figures(out, res, series, sig, decoded)
    write_json(out / "verify.json", res)
    atomic_write_text(out / "report.md", verify_markdown(res))
    return res


def _write_arrays(out: Path, sig: UserSignal, decoded: dict) -> None:
    def save(name: str, a: np.ndarray) -> None:
        atomic_write_bytes(out / name, lambda fh: np.save(fh, np.asarray(a, dtype=np.float64)))

    save("signal.npy", sig.shaped(sig.reference))
    save("decoded_float.npy", decoded["float"])
    save("decoded_fake_quant.npy", decoded["fake_quant_chip" if "emulated" in decoded else "fake_quant_reference"])
    if "emulated" in decoded:
        save("decoded_emulated.npy", decoded["emulated"])
    elif (out / "decoded_emulated.npy").exists():
        (out / "decoded_emulated.npy").unlink()  # stale: this target has no emulator


def _figures(out: Path, res: dict, series: dict, sig: UserSignal, decoded: dict) -> None:
    """The user's signal against the float and the chip's estimate (data units, first 2 s of
    the first trial); per-neuron rates emulator vs fake-quant."""
    import matplotlib.pyplot as plt

    ref = sig.reference[0]
    first = lambda a: np.asarray(a)[0] if np.ndim(a) == 3 else np.asarray(a)  # noqa: E731
    T = min(ref.shape[0], max(2, int(round(2.0 / sig.dt_user))))
    tt = np.arange(T) * sig.dt_user
    M = ref.shape[1]
    fig, axes = plt.subplots(M, 1, figsize=(10, 2.2 * M), sharex=True, squeeze=False)
    for d in range(M):
        ax = axes[d, 0]
        ax.plot(tt, ref[:T, d], "k", lw=1.5, label="your signal")
        ax.plot(tt, first(decoded["float"])[:T, d], lw=0.8, label=f"float ({res['error_float']:.3g})")
        if "emulated" in decoded:
            ax.plot(tt, first(decoded["emulated"])[:T, d], lw=0.8, label=f"emulated chip ({res['error_emulated']:.3g})")
        else:
            ax.plot(tt, first(decoded["fake_quant_reference"])[:T, d], lw=0.8,
                    label=f"fake-quant ({res['error_fake_quant']:.3g})")
        ax.set_ylabel(sig.channels[d] if d < len(sig.channels) else f"x{d + 1}")
    axes[0, 0].legend(fontsize=7, loc="upper right", ncol=3)
    axes[0, 0].set_title(f"{sig.source}: normalised error in brackets", fontsize=9)
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


def _fidelity_lines(res: dict) -> list:
    """The chip/float error and rate ratios, each flag as a warning line of its own."""
    from neuromorph.stages.on_data import fidelity_line

    fid = res.get("chip_vs_float")
    if not fid or fid["error_ratio"] is None:
        return []
    out = [f"**{fidelity_line(dict(fid, flags=[]))}** (flagged above {fid['limit']:g}x)", ""]
    return out + [f"> **WARNING:** {flag}." for flag in fid["flags"]] + ([""] if fid["flags"] else [])


def verify_markdown(res: dict) -> str:
    def f(v):
        return "n/a" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))

    sg = res["signal"]
    lines = [f"# Verification report: {res['target']}", "",
             f"Tested on {sg['source']}: shape {tuple(sg['shape'])}, dt {sg['dt_s']:g} s"
             + (f" (resampled to the network's {sg['network_dt_s']:g} s and back)" if sg["resampled"] else "")
             + ". Errors are normalised (Var(x − x̂) / Var(x), summed over channels) in the data's units.", "",
             *_fidelity_lines(res),
             f"Headline fake-quant error uses the {res['fake_quant_dynamics']} dynamics: {f(res['error_fake_quant'])}.", "",
             "| model | coding error (normalised) | rate (Hz) |", "|---|---|---|",
             f"| float reference | {f(res['error_float'])} | {f(res['rate_float_hz'])} |",
             f"| fake-quant, reference dynamics (one-spike arbiter) | {f(res['error_fake_quant_reference_dynamics'])} | |",
             f"| fake-quant, chip dynamics (no arbiter, bit-shift synapses) | {f(res['error_fake_quant_chip_dynamics'])} | |",
             f"| emulated chip (output-neuron read-out) | {f(res.get('error_emulated'))} | {f(res.get('rate_emulated_hz'))} |",
             f"| emulated chip (spikes decoded off-chip) | {f(res.get('error_emulated_spike_decoded'))} | |", "",
             f"Chip step {res['chip_step']['dt_s']:g} s ({res['chip_step']['steps_per_sample']} per step of the "
             f"learnt network).", ""]
    if "pca" in res:
        pc = res["pca"]
        lines += [f"The network codes the signal's first {pc['k']} principal components ({pc['variance_explained']:.2%} "
                  f"of the training variance); the errors above are of the {pc['m']} original channels, whose "
                  f"best rank-{pc['k']} reconstruction already has error {f(pc['error_floor'])}. Errors of the "
                  f"{pc['k']} scores: float {f(pc['error_float_pc'])}, fake-quant {f(pc['error_fake_quant_pc'])}, "
                  f"emulated {f(pc.get('error_emulated_pc'))}.", ""]
    if "input_events_clipped_fraction" in res:
        lines += [f"Input events held back by the per-step limit: {res['input_events_clipped_fraction']:.3%}.", ""]
    keys = [k for k in ("float", "fake_quant", "emulated") if f"error_{k}" in res["channels"][0]]
    lines += ["| channel | " + " | ".join(f"error {k} | RMSE {k}" for k in keys) + " |",
              "|---|" + "---|---|" * len(keys)]
    for ch in res["channels"]:
        lines.append(f"| {ch['channel']} | " + " | ".join(f"{f(ch['error_' + k])} | {f(ch['rmse_' + k])}" for k in keys) + " |")
    lines.append("")
    m = res.get("emulator_matches_xylosim")
    lines.append(f"**Emulator vs Rockpool XyloSim:** {'identical (spikes and all states)' if m else ('not run' if m is None else 'DIFFERENT: ' + str(res.get('xylosim_differences')))}")
    if "saturation_events" in res:
        lines += ["", f"Saturation events (entries at the 16-bit limits): {res['saturation_events']}",
                  f"Mean rate emulated: {f(res['rate_emulated_hz'])} Hz; per-neuron |rate difference| to the "
                  f"fake-quant chip-dynamics model: mean {f(res['rate_difference_hz']['mean_abs'])} Hz, "
                  f"max {f(res['rate_difference_hz']['max_abs'])} Hz."]
    lines += ["", "![reconstruction](reconstruction.png)", ""]
    return "\n".join(lines) + "\n"
