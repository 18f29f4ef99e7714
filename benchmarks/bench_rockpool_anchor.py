"""neuromorph's default path against Rockpool's own BPTT path, on one signal, one chip, one run.

The job: code a 5-channel signal (``neuromorph.data.examples.sensor_example``, 40 s at
1 ms) with N = 100 hidden neurons on Xylo Audio 2 and read it back out; both are scored on the
held-out last 20 % by the chip emulation, with the same metric (``neuromorph.metrics.normalized_error``
in the data's units, as ``neuromorph verify`` reports it).

(a) neuromorph, through its command line: ``train --data sig.npy --neurons 100 --max-fanout 64``,
    ``quantize --target xylo-audio-v2``, ``verify --data held.npy`` (emulator == XyloSim checked by verify).
(b) Rockpool, as a Xylo user trains today (``benchmarks/rockpool_bptt.py``): LinearTorch → LIFTorch
    (recurrent, fan-out ≤ 64) → LinearTorch → LIFTorch output membranes, BPTT with surrogate
    gradients on the reconstruction error, ``mapper`` → ``global_quantize``/``channel_quantize`` →
    ``XyloSim``.  Same signal, same dt (1 ms), same N, and the same input events: the raster that
    (a)'s encoder sends the chip, so the two differ only in the network and how it was trained.

Printed side by side with ratios (Rockpool / neuromorph): emulated coding error, hidden spikes
per second per neuron, synaptic events per second (input events × their non-zero fan-out plus
hidden events × their non-zero recurrent and output fan-out), training wall time (neuromorph:
train + quantize, whose chip adaptation is a retraining; Rockpool: BPTT + mapping/quantization).
Nothing is stored: both sides are computed in the run.

Run:  OPENBLAS_NUM_THREADS=1 taskset -c 0 python benchmarks/bench_rockpool_anchor.py [--quick]
      [--seed S] [--iterations K] [--quantize global|channel] [--json FILE]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rockpool_bptt as rb  # noqa: E402

from neuromorph.backends.base import backend_for_device  # noqa: E402
from neuromorph.backends.xylo.emulator import emulate as nm_emulate  # noqa: E402
from neuromorph.backends.xylo.spec import XyloSpec, hardware_violations, load_spec  # noqa: E402
from neuromorph.data import load_run_data  # noqa: E402
from neuromorph.data.examples import sensor_example  # noqa: E402
from neuromorph.metrics import normalized_error  # noqa: E402
from neuromorph.quant.fakequant import QDIR_NETWORK, load_quantized  # noqa: E402

TARGET = "xylo-audio-v2"
# loss added per 100 % of rate above the cap: 0.05 is ~10× the coding loss the free network reaches,
# so the cap holds (a 10 % excess costs as much as the whole coding error)
RATE_PENALTY = 0.05


def synaptic_events_per_s(weights_in, weights_rec, weights_out, raster, spikes, dt: float) -> float:
    """Synaptic events per second on the chip: every input event reaches each non-zero input
    weight of its channel, every hidden event each non-zero recurrent and output weight of its
    neuron (both synapses counted).  Spec arrays in Rockpool's layout; raster (T, Nin), spikes (T, N)."""
    fan_in = np.count_nonzero(np.reshape(weights_in, (np.shape(weights_in)[0], -1)), axis=1)
    w_rec = np.reshape(weights_rec, (np.shape(weights_rec)[0], -1))
    fan_hid = np.count_nonzero(w_rec, axis=1) + np.count_nonzero(np.asarray(weights_out), axis=1)
    events = np.asarray(raster, dtype=np.float64).sum(0) @ fan_in + np.asarray(spikes, np.float64).sum(0) @ fan_hid
    return float(events / (len(raster) * dt))


def cli(*args) -> None:
    from neuromorph.cli import main

    rc = main([str(a) for a in args])
    if rc:
        raise SystemExit(f"neuromorph {args[0]} failed with exit status {rc}")


def run_neuromorph(work: Path, n: int, seed: int, seconds) -> dict:
    """(a): train, quantize, verify through the CLI; then the chip's spikes for the event counts."""
    t0, c0 = time.perf_counter(), time.process_time()
    extra = ["--seconds", seconds] if seconds else []
    cli("train", "--data", work / "sig.npy", "--dt", "0.001", "--neurons", n, "--max-fanout", rb.MAX_FANOUT,
        "--seed", seed, "--out", work / "run", "--no-progress", *extra)
    t_train = time.perf_counter() - t0
    cli("quantize", work / "run", "--target", TARGET, "--seed", seed, "--out", work / "q")
    t_quant = time.perf_counter() - t0 - t_train
    cpu = time.process_time() - c0
    cli("verify", work / "q", "--data", work / "held.npy", "--dt", "0.001", "--seed", seed, "--out", work / "v")
    rep = json.loads((work / "v" / "verify.json").read_text())
    q = load_quantized(work / "q" / QDIR_NETWORK)
    spec = load_spec(work / "q" / "spec.npz")
    rd = load_run_data(work / "q")
    be = backend_for_device(TARGET)
    raster = be.encode(q, rd.test.x[0])
    rec = be.emulate(spec, raster)
    # the chip run here is verify's: its decoded error must be the reported one
    err = normalized_error(rd.scaling.to_data(rd.test.x[0]), rd.scaling.to_data(be.decode(q, rec)))
    assert abs(err - rep["error_emulated"]) <= 1e-9 * max(1.0, err), (err, rep["error_emulated"])
    return {"error_float": rep["error_float"], "error_emulated": rep["error_emulated"],
            "error_emulated_spike_decoded": rep["error_emulated_spike_decoded"],
            "rate_hz": rep["rate_emulated_hz"], "rate_float_hz": rep["rate_float_hz"],
            "syn_events_per_s": synaptic_events_per_s(spec.weights_in, spec.weights_rec, spec.weights_out, raster,
                                                      rec["Spikes"], q.dt),
            "input_events_per_s": float(raster.sum() / (len(raster) * q.dt)),
            "train_s": t_train + t_quant, "train_cpu_s": cpu, "train_only_s": t_train, "quantize_s": t_quant,
            "matches_xylosim": rep["emulator_matches_xylosim"], "q": q, "rd": rd, "be": be}


def decode_rockpool(vmem_out: np.ndarray, scale_out: np.ndarray, lag: int) -> np.ndarray:
    """Output membranes (T, M) in float units, shifted ``lag`` steps earlier (the chip delivers
    input and hidden events a step later than LIFTorch's Euler update)."""
    v = np.asarray(vmem_out, dtype=np.float64) / scale_out
    return np.vstack([v[lag:], np.repeat(v[-1:], lag, axis=0)]) if lag else v


def run_rockpool(nm: dict, cfg: rb.BPTTConfig, log=print) -> dict:
    """(b): BPTT on the same input events, then Rockpool's mapping, quantization and XyloSim."""
    q, rd, be = nm["q"], nm["rd"], nm["be"]
    x_tr, x_te = rd.train.x[0], rd.test.x[0]
    r_tr, r_te = be.encode(q, x_tr), be.encode(q, x_te)
    res = rb.train(r_tr, x_tr, rd.scaling.scale ** 2, cfg, q.dt, log=log)
    t0, c0 = time.perf_counter(), time.process_time()
    spec, scale_out = rb.to_xylo_spec(res["net"], cfg.quantize)
    t_map, c_map = time.perf_counter() - t0, time.process_time() - c0
    xspec = XyloSpec.from_dict(spec, device=TARGET)  # checks every integer range of the format
    violations = hardware_violations(xspec)
    v_float, s_float = rb.float_readout(res["net"], r_te)
    em_tr = rb.emulate(spec, r_tr)
    em = rb.emulate(spec, r_te)
    # neuromorph's emulator on Rockpool's spec, spike for spike (the standard both sides are held to)
    nm_rec = nm_emulate(xspec, r_te, record=True).recording
    same = bool(np.array_equal(np.asarray(nm_rec["Spikes"]), em["Spikes"]))
    # the readout lag is chosen on the training part, never on the test part
    data_tr, data_te = rd.scaling.to_data(x_tr), rd.scaling.to_data(x_te)
    lag = min(range(4), key=lambda k: normalized_error(data_tr, rd.scaling.to_data(
        decode_rockpool(em_tr["Vmem_out"], scale_out, k))))
    err = normalized_error(data_te, rd.scaling.to_data(decode_rockpool(em["Vmem_out"], scale_out, lag)))
    # the other Rockpool quantizer on the same trained network (same lag): what the choice costs
    other = "channel" if cfg.quantize == "global" else "global"
    spec_o, scale_o = rb.to_xylo_spec(res["net"], other)
    err_o = normalized_error(data_te, rd.scaling.to_data(decode_rockpool(rb.emulate(spec_o, r_te)["Vmem_out"],
                                                                          scale_o, lag)))
    return {"error_float": normalized_error(data_te, rd.scaling.to_data(v_float)), "error_emulated": err,
            "rate_hz": float(em["Spikes"].sum() / (em["Spikes"].size * q.dt)),
            "rate_float_hz": float(s_float.mean() / q.dt),
            "syn_events_per_s": synaptic_events_per_s(spec["weights_in"], spec["weights_rec"], spec["weights_out"],
                                                      r_te, em["Spikes"], q.dt),
            "input_events_per_s": float(r_te.sum() / (len(r_te) * q.dt)),
            "train_s": res["seconds"] + t_map, "train_cpu_s": res["cpu_seconds"] + c_map, "bptt_s": res["seconds"], "map_quantize_s": t_map,
            f"error_emulated_{other}_quantize": err_o, "readout_lag_steps": lag, "fit_violations": violations, "neuromorph_emulator_matches_xylosim": same,
            "samna_config": rb.samna_config_status(spec), "final_loss": res["loss"][-1]}


ROWS = (("emulated coding error", "error_emulated", "{:.4f}"),
        ("float coding error", "error_float", "{:.4f}"),
        ("hidden spikes / s / neuron (chip)", "rate_hz", "{:.1f}"),
        ("synaptic events / s (chip)", "syn_events_per_s", "{:.3g}"),
        ("input events / s", "input_events_per_s", "{:.3g}"),
        ("training wall time (s)", "train_s", "{:.1f}"),
        ("training CPU time (s)", "train_cpu_s", "{:.1f}"))


def table(nm: dict, rps: dict) -> str:
    """One row per quantity: neuromorph, then each Rockpool variant with its ratio to neuromorph."""
    head = f"{'':34s} {'neuromorph':>10s}" + "".join(f" {name:>22s} {'ratio':>6s}" for name in rps)
    lines = [head]
    for label, key, fmt in ROWS:
        a = nm[key]
        row = f"{label:34s} {fmt.format(a):>10s}"
        for rp in rps.values():
            row += f" {fmt.format(rp[key]):>22s} {rp[key] / a:>5.2f}×"
        lines.append(row)
    return "\n".join(lines)


def compare(seed: int = 0, n: int = 100, n_steps: int = 40_000, seconds=None, cfg: rb.BPTTConfig = None,
            rate_capped: bool = True, only_capped: bool = False, log=print) -> tuple[dict, dict]:
    """Both paths on ``sensor_example(n_steps, seed)``.

    Returns neuromorph's results and a dict of Rockpool variants: ``"free"`` (no activity
    regulariser) and, with ``rate_capped``, ``"rate-capped"`` (trained with its rate capped at
    neuromorph's emulated rate: the comparison at equal spikes); ``only_capped`` skips ``"free"``."""
    cfg = cfg or rb.BPTTConfig(n_hidden=n, seed=seed)
    x, _dt = sensor_example(n_steps, seed=seed)
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        np.save(work / "sig.npy", x)
        np.save(work / "held.npy", x[-int(round(0.2 * len(x))):])  # train's default held-out part
        nm = run_neuromorph(work, n, seed, seconds)
        rps = {} if only_capped and rate_capped else {"free": run_rockpool(nm, cfg, log=log)}
        if rate_capped:
            capped = dataclasses.replace(cfg, rate_penalty=cfg.rate_penalty or RATE_PENALTY,
                                         rate_target_hz=nm["rate_hz"])
            rps["rate-capped"] = run_rockpool(nm, capped, log=log)
    for k in ("q", "rd", "be"):
        nm.pop(k)
    return nm, rps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter training on both sides (smoke run)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--neurons", type=int, default=100)
    ap.add_argument("--iterations", type=int, default=None, help="Rockpool Adam steps (default: BPTTConfig)")
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--rate-penalty", type=float, default=None, help=f"for the rate-capped variant ({RATE_PENALTY})")
    ap.add_argument("--no-rate-capped", action="store_true", help="skip the Rockpool variant trained at neuromorph's rate")
    ap.add_argument("--quantize", choices=("global", "channel"), default="global")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    cfg = rb.BPTTConfig(n_hidden=args.neurons, seed=args.seed, quantize=args.quantize)
    if args.quick:
        cfg.iterations = 40
    for name in ("iterations", "lr", "rate_penalty"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    print(f"signal: sensor_example (5 channels, 40 s at 1 ms, seed {args.seed}); N = {args.neurons}; "
          f"{TARGET}; Rockpool budget: {cfg.iterations} Adam steps × {cfg.batch} windows × {cfg.window} steps, "
          f"lr {cfg.lr}, {cfg.quantize}_quantize")
    nm, rps = compare(args.seed, args.neurons, seconds=20 if args.quick else None, cfg=cfg,
                      rate_capped=not args.no_rate_capped)
    print(table(nm, {f"Rockpool BPTT {k}": v for k, v in rps.items()}))
    print(f"neuromorph: emulator == XyloSim {nm['matches_xylosim']}; spike-decoded error "
          f"{nm['error_emulated_spike_decoded']:.4f}; float rate {nm['rate_float_hz']:.1f} Hz; "
          f"train {nm['train_only_s']:.1f} s + quantize {nm['quantize_s']:.1f} s")
    for name, rp in rps.items():
        print(f"Rockpool {name}: neuromorph emulator == XyloSim on its spec {rp['neuromorph_emulator_matches_xylosim']}; "
              f"fit {'ok' if not rp['fit_violations'] else rp['fit_violations']}; readout lag {rp['readout_lag_steps']} "
              f"step(s); {', '.join(f'{k} {v:.4f}' for k, v in rp.items() if k.endswith('_quantize'))}; "
              f"float error {rp['error_float']:.4f}, rate {rp['rate_float_hz']:.1f} Hz; BPTT {rp['bptt_s']:.1f} s "
              f"+ map/quantize {rp['map_quantize_s']:.2f} s; {rp['samna_config']}")
    if args.json:
        args.json.write_text(json.dumps({"neuromorph": nm, "rockpool": rps, "config": vars(cfg)}, indent=1,
                                        default=str))


if __name__ == "__main__":
    main()
