"""The main job: learn → quantize → deploy → emulate/verify → one report.

Each stage writes its own sub-directory of ``out`` (``train/``, ``quantize/``, ``deploy/``,
``verify/``) which is also what the stage's own command would produce, and the pipeline adds
``report.md`` and ``summary.json`` at the top.

Each stage is computed into a temporary sibling and renamed into place with its manifest
(:func:`neuromorph.outdir.run_stage`), so an interrupted pipeline leaves only finished stages;
``resume=True`` reuses every finished stage made under the same config sections.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from neuromorph.artifacts import atomic_write_text, provenance, write_json
from neuromorph.config import dump_config, tri_state
from neuromorph.backends.reference_worker import ReferenceWorker
from neuromorph.outdir import run_stage
from neuromorph.parallel import second_core
from neuromorph.progress import progress_bar
from neuromorph.stages.deploy import deploy
from neuromorph.stages.quantize import quantize_run
from neuromorph.stages.train import prepare_training, run_train
from neuromorph.stages.verify import verify


def _read_json(name: str):
    return lambda d: json.loads((Path(d) / name).read_text(encoding="utf-8"))


def _fit_or_fail(qrep: dict) -> dict:
    if not qrep["fit_check"]["ok"]:  # a user error: the pipeline stops before deploying it
        from neuromorph.input_checks import FitFailure, fit_message

        raise FitFailure("quantize.target: " + fit_message(qrep["fit_check"]))
    return qrep


def run_pipeline(cfg: dict, out: Path, progress: bool = True, resume: bool = False) -> dict:
    """Run every stage under ``cfg``; returns the summary (also written to summary.json).

    The train stage's input (config combinations, the data file) is checked before ``out`` is
    created, so a bad config or file leaves nothing behind.  ``resume``: reuse the stages of
    ``out`` that finished under the same config sections."""
    out = Path(out)
    prepared = prepare_training(cfg)
    if prepared.plan.network != "scn":
        raise ValueError(f"pipeline: train.network = {prepared.plan.network} cannot be quantized within the pipeline "
                         f"yet (its summary covers SCNs); run 'neuromorph train', 'quantize' and 'verify' one by one")
    out.mkdir(parents=True, exist_ok=True)
    q = cfg["quantize"]
    seed = int(cfg["seed"])
    times = {}
    # what each stage depends on: a finished stage is reused by resume only if these are unchanged
    deps = {"train": {k: cfg[k] for k in ("seed", "data", "train")},
            "quantize": {k: cfg[k] for k in ("seed", "data", "train", "quantize")}}
    deps["verify"] = dict(deps["quantize"], verify=cfg["verify"])
    # Rockpool's XyloSim (verify's reference, ~3.6 CPU s to import) is imported by a second process
    # on the second core while this one trains; one core: imported in-process when verify needs it
    reference = ReferenceWorker() if bool(cfg["verify"]["xylosim"]) and second_core() else None
    try:
        return _stages(cfg, out, progress, resume, prepared, deps, q, seed, times, reference)
    finally:
        if reference is not None:
            reference.close()


def _stages(cfg, out, progress, resume, prepared, deps, q, seed, times, reference) -> dict:
    with progress_bar(4, "pipeline", progress, unit="stage") as step:
        t0 = time.perf_counter()
        # a stage is reused only while everything upstream was reused too
        train, resume = run_stage(out / "train", "train", lambda d: run_train(cfg, d, progress, prepared=prepared),
                                  _read_json("metrics.json"), config=deps["train"], resume=resume)
        times["train"] = time.perf_counter() - t0
        step(1)
        t0 = time.perf_counter()
        qrep, resume = run_stage(out / "quantize", "quantize", lambda d: _fit_or_fail(
            quantize_run(out / "train", q["target"], d, seed=seed, mismatch=float(q["mismatch"]),
                         method=q["method"], rounding=q["rounding"], adapt=tri_state(q["adapt"]),
                         adapt_steps=None if q["adapt_steps"] is None else int(q["adapt_steps"]),
                         leak_dash=q.get("leak_dash"), drive_leak=q.get("drive_leak"), progress=progress)),
            _read_json("quantization.json"), config=deps["quantize"], resume=resume)
        if not resume:
            for stale in ("deploy", "verify"):  # made from an earlier quantize: never mixed in
                if (out / stale).is_dir():
                    import shutil

                    shutil.rmtree(out / stale)
        times["quantize"] = time.perf_counter() - t0
        step(1)
        t0 = time.perf_counter()
        dep = None
        if (out / "quantize" / "spec.npz").is_file():
            dep, _ = run_stage(out / "deploy", "deploy", lambda d: deploy(out / "quantize", d),
                               _read_json("deploy.json"), config=deps["quantize"], resume=resume)
        times["deploy"] = time.perf_counter() - t0
        step(1)
        t0 = time.perf_counter()
        ver, _ = run_stage(out / "verify", "verify", lambda d: verify(
            out / "quantize", d, seed=seed, test_steps=int(cfg["verify"]["test_steps"]),
            with_xylosim=bool(cfg["verify"]["xylosim"]),
            reference_factory=None if reference is None else reference.factory), _read_json("verify.json"),
            config=deps["verify"],
            resume=resume)
        times["verify"] = time.perf_counter() - t0
        step(1)
    summary = {
        "target": qrep["target"],
        "error_float": ver["error_float"],
        "error_fake_quant": ver["error_fake_quant"],
        "error_emulated": ver.get("error_emulated"),
        "rate_float_hz": ver.get("rate_float_hz"),
        "rate_emulated_hz": ver.get("rate_emulated_hz"),
        "chip_vs_float": ver.get("chip_vs_float"),
        "emulator_matches_xylosim": ver.get("emulator_matches_xylosim"),
        "training": {**{k: train[k] for k in ("error_before", "error_after", "rate_before_hz", "rate_after_hz",
                                              "weight_distance", "steps")},
                     **({"data_source": train["data"]["source"]} if "data" in train else {})},
        "fit_ok": qrep["fit_check"]["ok"],
        "adapted_to_chip": qrep["adapted_to_chip"],
        "hardware_violations": dep["hardware_violations"] if dep else None,
        "stage_seconds": times,
        "wall_seconds": sum(times.values()),
        "config": cfg,
        "provenance": provenance(seed=seed, config=cfg),
    }
    write_json(out / "summary.json", summary)
    atomic_write_text(out / "config.yaml", dump_config(cfg))
    atomic_write_text(out / "report.md", pipeline_markdown(summary, qrep, ver))
    return summary


def _fidelity_md(fid) -> list:
    from neuromorph.stages.on_data import fidelity_line

    if not fid or fid.get("error_ratio") is None:
        return []
    return ([f"**{fidelity_line(dict(fid, flags=[]))}** (flagged above {fid['limit']:g}x)", ""]
            + [f"> **WARNING:** {flag}." for flag in fid["flags"]] + ([""] if fid["flags"] else []))


def pipeline_markdown(s: dict, qrep: dict, ver: dict) -> str:
    def f(v):
        return "n/a" if v is None else (f"{v:.4g}" if isinstance(v, float) else str(v))

    m = s["emulator_matches_xylosim"]
    tr = s["training"]
    return "\n".join([
        f"# neuromorph pipeline report ({s['target']})", "",
        f"Config hash `{s['provenance'].get('config_sha256', '')[:12]}`, seed {s['config']['seed']}, "
        f"neuromorph {s['provenance']['neuromorph']}; wall time {s['wall_seconds']:.1f} s.", "",
        "## 1. Learning (local plasticity, Brendel et al. 2020)", "",
        f"{tr['steps']:,} steps: coding error {tr['error_before']:.3g} → {tr['error_after']:.3g}, "
        f"rate {tr['rate_before_hz']:.3g} → {tr['rate_after_hz']:.3g} Hz, distance of Ω to −FFᵀ "
        f"{tr['weight_distance']:.3g}"
        + (f" (on {tr['data_source']}, held-out part; details: `train/report.md`)." if tr.get("data_source") else "."),
        "",
        "![reconstruction after learning](train/reconstruction.png)" if tr.get("data_source")
        else "![learning curves](train/learning_curves.png)", "",
        "## 2. Quantization and deployment", "",
        f"Target {s['target']}, {qrep['weight_bits']}-bit weights, method {qrep['method']}; fit check "
        f"{'passed' if s['fit_ok'] else 'FAILED'}; adapted to the chip's dynamics: {s['adapted_to_chip']}. "
        "Details: `quantize/quantization.md`, artefacts in `deploy/`.", "",
        "## 3. Verification on one test signal", "",
        "| model | coding error | rate (Hz) |", "|---|---|---|",
        f"| float reference | {f(s['error_float'])} | {f(s.get('rate_float_hz'))} |",
        f"| fake-quant ({ver['fake_quant_dynamics']} dynamics) | {f(s['error_fake_quant'])} | |",
        f"| emulated chip (bit-exact) | {f(s['error_emulated'])} | {f(s.get('rate_emulated_hz'))} |", "",
        *_fidelity_md(s.get("chip_vs_float")),
        f"**Emulator vs Rockpool XyloSim: {'identical, spike for spike and state for state' if m else ('not run' if m is None else 'DIFFERENT')}.**", "",
        "![reconstruction](verify/reconstruction.png)", ""])
