"""The speed table of issue 16 in one run: every row side by side with its anchor, plus µs/step
of SCN learning at N = 20, 100, 375, 1000 at realistic rates in both spike modes.

Rows: Fig 2 learning (full protocol, N = 20); ``reproduce fig2`` end to end (a child process:
learn, evaluate, figures); SCN learning N = 1000, M = 3 against the per-step NumPy reference;
EI learning (Fig 4, 300 E + 75 I); ``neuromorph pipeline`` on the built-in config (child
process); the Xylo emulator against XyloSim (single instance and a batch of 64, quiet and busy).
The SCN N = 1000 and EI rows are also run on the opt-in counter noise stream (ratio to the default
serial stream), and the noise generator's ns per sample is printed for both streams.
Times are wall seconds (``time.perf_counter``) and, for in-process rows, CPU seconds of this
process (``time.process_time``), which a shared machine disturbs less.  Anchors are the numbers
quoted in the issue (the authors' code is not run here).

``--baseline DIR`` also runs the in-process rows on another checkout (a child process with
``PYTHONPATH=DIR``, alternated with this tree, ``--repeats`` times) and prints the ratio per row.

Run:  OPENBLAS_NUM_THREADS=1 taskset -c 0 python benchmarks/bench_speed_table.py [--quick]
      [--baseline /path/to/other/checkout] [--skip emulator,pipeline,reproduce]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # last: a PYTHONPATH checkout (--baseline's child) comes first

# spike-mode benchmarks: input amplitude per N chosen so the networks fire at realistic rates
# (measured rates are printed).  One-spike mode caps the population at one spike a step, i.e.
# 1000/N Hz per neuron at dt = 1 ms: N = 375 and 1000 run at that cap.
AMPLITUDE = {"one": {20: 2000.0, 100: 4000.0, 375: 30000.0, 1000: 30000.0},
             "chip": {20: 1000.0, 100: 3500.0, 375: 12000.0, 1000: 25000.0}}
SIZES = (20, 100, 375, 1000)


def _timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def _scn(n: int, m: int, inhibition_only: bool = False):
    from neuromorph.network import SCN

    rng = np.random.default_rng(0)
    F = rng.standard_normal((n, m))
    F /= np.linalg.norm(F, axis=1, keepdims=True)
    Om = -(F @ F.T) - 0.02 * np.eye(n)
    if inhibition_only:  # chip dynamics have no arbiter: lateral excitation would run away
        off = ~np.eye(n, dtype=bool)
        Om[off] = np.minimum(Om[off], 0.0)
    return SCN(F=F, Omega=Om, D=F.T.copy(), thresholds=0.5)


def scn_learning(n: int, m: int, amplitude: float, steps: int, mode: str = "one") -> dict:
    """µs/step of ``learn`` (input made beforehand, compile excluded) and the rate reached."""
    from neuromorph.sim.plasticity import FeedforwardRule, RecurrentRule
    from neuromorph.sim.simulator import block_noise_source, chip_options, learn

    chip = mode == "chip"
    net = _scn(n, m, inhibition_only=chip)
    rules = (RecurrentRule(max_lateral=0.0 if chip else float("inf")), FeedforwardRule())
    opts = chip_options() if chip else None
    c = block_noise_source(m, 1, amplitude=amplitude)(0, steps)
    src = lambda s, k: c[s:s + k]  # noqa: E731
    learn(net, src, steps, seed=1, rules=rules, options=opts)  # compile (both Omega layouts) / load cache
    wall, cpu, res = _timed(lambda: learn(net, src, steps, seed=1, rules=rules, options=opts))
    return {"us_wall": wall / steps * 1e6, "us_cpu": cpu / steps * 1e6,
            "rate_hz": res.total_spikes / (steps * n * net.dt)}


def scn_numpy(n: int, m: int, amplitude: float, steps: int) -> float:
    """µs/step of the per-step NumPy reference (neuromorph.sim.reference_numpy)."""
    from neuromorph.sim.plasticity import FeedforwardRule, RecurrentRule
    from neuromorph.sim.reference_numpy import learn_numpy
    from neuromorph.sim.rng import make_state
    from neuromorph.sim.simulator import block_noise_source

    c = block_noise_source(m, 1, amplitude=amplitude)(0, steps)
    wall, _, _ = _timed(lambda: learn_numpy(_scn(n, m), c, make_state(1), (RecurrentRule(), FeedforwardRule())))
    return wall / steps * 1e6


def fig2_learning(iterations: int) -> dict:
    from neuromorph.experiments import fig2

    fig2.train(0, 20, progress=False)  # compile / load cache
    wall, cpu, _ = _timed(lambda: fig2.train(0, iterations, progress=False))
    return {"s_wall": wall, "s_cpu": cpu, "steps": iterations * 1000}


def ei_learning(steps: int) -> dict:
    from neuromorph.sim.ei_simulator import learn_ei
    from neuromorph.sim.init import initial_ei_network
    from neuromorph.sim.simulator import block_noise_source

    net = initial_ei_network(seed=1)
    c = block_noise_source(3, 1)(0, steps)
    src = lambda a, L: c[a:a + L]  # noqa: E731
    learn_ei(net, src, 2000, seed=1)
    wall, cpu, res = _timed(lambda: learn_ei(net, src, steps, seed=0, chunk=steps))
    return {"us_wall": wall / steps * 1e6, "us_cpu": cpu / steps * 1e6,
            "rate_E_hz": res.total_spikes_E / (steps * net.dt * net.n_exc)}


def fig2_parts(steps: int) -> dict:
    """What one core spends on the Fig 2 learning row, part by part, per step: making the input
    (the protocol's smoothed-noise blocks), the kernel on input made beforehand, and the kernel
    with the voltage and threshold noise switched off (what the noise draws cost)."""
    import dataclasses

    from neuromorph.sim.init import SCNParams, default_rules, initial_scn
    from neuromorph.sim.simulator import block_noise_source, learn

    p = SCNParams()
    net = initial_scn(1, "paper", 20, 2, p)
    src = block_noise_source(2, 1, amplitude=p.amplitude, sigma=p.sigma, block=1000)
    t_in, _, c = _timed(lambda: src(0, steps))
    pre = lambda s, k: c[s:s + k]  # noqa: E731
    quiet = dataclasses.replace(net, v_noise=0.0, t_noise=0.0)
    out = {"input_us": t_in / steps * 1e6}
    for name, n in (("kernel_us", net), ("no_noise_us", quiet)):
        learn(n, pre, 20_000, seed=3, rules=default_rules(p))  # compile / load cache
        _, cpu, res = _timed(lambda: learn(n, pre, steps, seed=3, rules=default_rules(p)))
        out[name] = cpu / steps * 1e6
        out[name.replace("_us", "_hz")] = res.total_spikes / (steps * 20 * n.dt)
    return out


def no_noise_rows(quick: bool) -> dict:
    """The SCN N = 1000 and EI rows again with every noise σ set to 0 (µs/step, CPU), and the EI
    row on zero input (no spikes): the parts of each row that are not the noise draws."""
    import dataclasses

    from neuromorph.sim.ei_simulator import learn_ei
    from neuromorph.sim.init import initial_ei_network
    from neuromorph.sim.plasticity import FeedforwardRule, RecurrentRule
    from neuromorph.sim.simulator import block_noise_source, learn

    out = {}
    steps = 4000 if quick else 20_000
    net = dataclasses.replace(_scn(1000, 3), v_noise=0.0, t_noise=0.0)
    c = block_noise_source(3, 1, amplitude=2000.0)(0, steps)
    src = lambda s, k: c[s:s + k]  # noqa: E731
    rules = (RecurrentRule(), FeedforwardRule())
    learn(net, src, 200, seed=1, rules=rules)
    _, cpu, res = _timed(lambda: learn(net, src, steps, seed=1, rules=rules))
    out["scn1000_no_noise"] = {"us_cpu": cpu / steps * 1e6, "rate_hz": res.total_spikes / (steps * 1000 * net.dt)}
    steps = 20_000 if quick else 100_000
    ei = initial_ei_network(seed=1)
    c = block_noise_source(3, 1)(0, steps)
    for name, netx, cc, kw in (("ei_no_noise", dataclasses.replace(ei, v_noise_I=0.0, t_noise=0.0), c, {"v_noise_E": 0.0}),
                               ("ei_silent", ei, np.zeros_like(c), {}),
                               ("ei_silent_no_noise", dataclasses.replace(ei, v_noise_I=0.0, t_noise=0.0),
                                np.zeros_like(c), {"v_noise_E": 0.0})):
        srcx = lambda a, L, cc=cc: cc[a:a + L]  # noqa: E731
        learn_ei(netx, srcx, 2000, seed=1, **kw)
        _, cpu, res = _timed(lambda: learn_ei(netx, srcx, steps, seed=0, chunk=steps, **kw))
        out[name] = {"us_cpu": cpu / steps * 1e6, "rate_E_hz": res.total_spikes_E / (steps * ei.dt * ei.n_exc)}
    return out


def child_imports(env_path: str) -> float:
    """Wall seconds a fresh process spends importing what ``reproduce fig2`` imports before its
    first step (the command line, the Fig 2 experiment, the simulator's compiled kernels from the
    numba cache, matplotlib's pyplot)."""
    code = ("import neuromorph.cli, neuromorph.plots, matplotlib.pyplot; from neuromorph.experiments import fig2; "
            "fig2.train(0, 1, progress=False)")  # one 1000-step block: loads the kernels' numba cache
    env = dict(os.environ, PYTHONPATH=env_path, MPLBACKEND="Agg")
    best = np.inf
    for _ in range(2):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def generator_ns() -> dict:
    """ns per standard-normal sample of each noise stream (blocks of 10^5, best of 20)."""
    try:
        from neuromorph.sim.rng import STREAMS, fill_normal_scaled, make_state
    except ImportError:  # a checkout from before the counter stream
        return {}
    out = np.empty(100_000)
    res = {}
    for stream in STREAMS:
        s = make_state(1, stream)
        fill_normal_scaled(s, out, out.size, 1.0)
        best = np.inf
        for _ in range(20):
            t0 = time.perf_counter()
            fill_normal_scaled(s, out, out.size, 1.0)
            best = min(best, time.perf_counter() - t0)
        res[stream] = best / out.size * 1e9
    return res


def child_command(args: list, env_path: str) -> float:
    """Wall seconds of ``python -c 'neuromorph.cli.main()' ARGS`` with ``PYTHONPATH=env_path``."""
    env = dict(os.environ, PYTHONPATH=env_path, MPLBACKEND="Agg")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", "import sys; from neuromorph.cli import main; sys.exit(main())",
                           *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return wall


def emulator_rows(quick: bool) -> list:
    """(case, XyloSim steps/s, emulator steps/s) for single quiet/busy and a batch of 64."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_emulator as be

    from neuromorph.backends.xylo import rockpool_compat as rc
    from neuromorph.backends.xylo.emulator import BatchedSpec, emulate

    rng = np.random.default_rng(0)
    t_emu, t_batch, n_ref = (2000, 300, 8) if quick else (10000, 1000, 16)
    rows = []
    for regime, params in be.REGIMES.items():
        spec = be.make_spec(1, **params)
        t_x = 300 if regime == "quiet" else 100
        x = be.poisson(rng, (max(t_emu, t_x), be.N_IN))
        bs = BatchedSpec.from_specs(spec)
        emulate(bs, x[:5])
        sim = rc.xylosim_from_spec(spec)  # built once: its construction is not the simulation
        xs = t_x / be.best_of(lambda: (sim.reset_state(), sim(x[:t_x])), 2)
        es = t_emu / be.best_of(lambda: emulate(bs, x[:t_emu]), 2)
        rows.append((f"single, {regime}", xs, es))
        specs = [be.mismatch(spec, 100 + b) for b in range(64)]
        bb = BatchedSpec.from_specs(specs)
        xb = be.poisson(rng, (64, t_batch, be.N_IN))
        emulate(bb, xb[:, :5])
        eb1 = 64 * t_batch / be.best_of(lambda: emulate(bb, xb, parallel=False), 2)
        eb = 64 * t_batch / be.best_of(lambda: emulate(bb, xb, parallel=True), 2)
        t_ref = 100 if regime == "quiet" else 40
        t_sim = 0.0
        for b in range(n_ref):
            sim = rc.xylosim_from_spec(specs[b])
            t0 = time.perf_counter()
            sim(xb[b, :t_ref])
            t_sim += time.perf_counter() - t0
        x_rate = n_ref * t_ref / t_sim
        rows.append((f"batch of 64, {regime}, one thread", x_rate, eb1))
        rows.append((f"batch of 64, {regime}, every core", x_rate, eb))
    return rows


def in_process_rows(quick: bool) -> dict:
    """The rows measured in this process (the ones ``--baseline`` compares)."""
    out = {"fig2": fig2_learning(1400 if quick else 14_000),
           "scn1000": scn_learning(1000, 3, 2000.0, 4000 if quick else 20_000),
           "ei": ei_learning(20_000 if quick else 100_000)}
    try:
        from neuromorph.sim.rng import noise_stream
    except ImportError:  # a checkout from before the counter stream (--baseline)
        noise_stream = None
    out["generator"] = generator_ns()
    out["fig2_parts"] = fig2_parts(400_000 if quick else 2_000_000)
    out.update(no_noise_rows(quick))
    if noise_stream is not None:
        # the same two rows on the counter stream (a different draw of the same noise)
        with noise_stream("counter"):
            out["scn1000_counter"] = scn_learning(1000, 3, 2000.0, 4000 if quick else 20_000)
            out["ei_counter"] = ei_learning(20_000 if quick else 100_000)
    for mode in ("one", "chip"):
        for n in SIZES:
            steps = {20: 200_000, 100: 100_000, 375: 40_000, 1000: 20_000}[n] // (10 if quick else 1)
            out[f"{mode}{n}"] = scn_learning(n, 3, AMPLITUDE[mode][n], steps, mode)
    return out


def _median_rows(runs: list) -> dict:
    keys = runs[0].keys()
    return {k: {f: float(np.median([r[k][f] for r in runs])) for f in runs[0][k]} for k in keys}


def _child_rows(path: str, quick: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        js = Path(tmp) / "rows.json"
        env = dict(os.environ, PYTHONPATH=path)
        if Path(path).resolve() != ROOT:  # another checkout: keep its numba cache out of its tree
            env["NUMBA_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / "neuromorph-baseline-numba")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--rows-json", str(js)] + (["--quick"] if quick else [])
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        return json.loads(js.read_text())


def print_bounds(rows, fig2_steps, w_repro, w_pipe, stage_s, emu, imports_s) -> None:
    """What bounds each row, from the parts measured in this run (CPU µs per step on this core)."""
    fp = rows["fig2_parts"]
    print("\nWhat bounds each row (parts measured in this run; CPU time, µs per step unless stated)")
    k_s, in_s = fp["kernel_us"] * fig2_steps * 1e-6, fp["input_us"] * fig2_steps * 1e-6
    print(f"  Fig 2 learning: input {fp['input_us']:.3f} + kernel {fp['kernel_us']:.3f} "
          f"({fp['kernel_hz']:.1f} Hz; without noise {fp['no_noise_us']:.3f} at {fp['no_noise_hz']:.1f} Hz) "
          f"= {in_s:.2f} s + {k_s:.2f} s over {fig2_steps / 1e6:.0f} M steps; the noise draws are "
          f"{fp['kernel_us'] - fp['no_noise_us']:.3f} µs/step of it")
    if imports_s is not None:
        f2 = rows["fig2"]["s_wall"]
        if w_repro is not None:
            print(f"  reproduce fig2: {w_repro:.2f} s = start-up and imports {imports_s:.2f} s + learning "
                  f"{f2:.2f} s + evaluation, figures and files {w_repro - imports_s - f2:.2f} s")
        if w_pipe is not None and stage_s:
            print(f"  pipeline: {w_pipe:.2f} s = stages " + ", ".join(f"{k} {v:.2f}" for k, v in stage_s.items())
                  + f" s + start-up, imports and writing the summary {w_pipe - sum(stage_s.values()):.2f} s")
    s, q = rows["scn1000"], rows["scn1000_no_noise"]
    print(f"  SCN N = 1000: {s['us_cpu']:.2f}, without noise {q['us_cpu']:.2f} ({q['rate_hz']:.2f} Hz): the noise "
          f"draws are {s['us_cpu'] - q['us_cpu']:.2f}")
    e, eq, es, esq = rows["ei"], rows["ei_no_noise"], rows["ei_silent"], rows["ei_silent_no_noise"]
    print(f"  EI 300 E + 75 I: {e['us_cpu']:.2f}, without noise {eq['us_cpu']:.2f} ({eq['rate_E_hz']:.1f} Hz E); "
          f"on zero input (no spikes) {es['us_cpu']:.2f}, and without noise {esq['us_cpu']:.2f}")
    g = rows.get("generator", {})
    if g:
        print("  noise generator alone: " + ", ".join(f"{k} {v:.2f} ns" for k, v in g.items()) + " per sample")
    single = {case.split(", ")[1]: es_ for case, _, es_ in emu if case.startswith("single")}
    for case, _, es_ in emu:
        if case.startswith("batch"):
            regime = case.split(", ")[1]
            print(f"  emulator {case}: {es_:.3g} instance-steps/s = {es_ / single[regime]:.2f}x the single "
                  f"instance's {single[regime]:.3g} steps/s")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter runs (a smoke test; the table's rows are shorter too)")
    ap.add_argument("--baseline", default=None, help="another checkout to compare the in-process rows with")
    ap.add_argument("--repeats", type=int, default=1, help="alternated repeats with --baseline (medians reported)")
    ap.add_argument("--skip", default="", help="comma list of emulator, pipeline, reproduce")
    ap.add_argument("--rows-json", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rows_json:  # child mode: the in-process rows of whatever neuromorph PYTHONPATH gives
        Path(args.rows_json).write_text(json.dumps(in_process_rows(args.quick)))
        return
    skip = {s for s in args.skip.split(",") if s}
    bad = skip - {"emulator", "pipeline", "reproduce"}
    if bad:
        ap.error(f"--skip: unknown row(s) {sorted(bad)}; choose from emulator, pipeline, reproduce")
    base_runs, runs = [], []
    for _ in range(max(1, args.repeats)):
        runs.append(_child_rows(str(ROOT), args.quick) if args.baseline else in_process_rows(args.quick))
        if args.baseline:
            base_runs.append(_child_rows(args.baseline, args.quick))
    rows = _median_rows(runs)
    base = _median_rows(base_runs) if base_runs else None

    def vs(key, field):
        if base is None:
            return ""
        return f"  (baseline {base[key][field]:.3g}, ratio {rows[key][field] / base[key][field]:.2f})"

    its = 1400 if args.quick else 14_000
    f2 = rows["fig2"]
    print("issue 16 speed table (one run)" + (" — QUICK: shortened rows" if args.quick else ""))
    print(f"{'work':58s} {'now':>24s}   anchor / goal")
    print(f"{'Fig 2 learning, ' + str(its) + ' blocks (N = 20)':58s} {f2['s_wall']:7.2f} s ({f2['s_cpu']:.2f} s cpu)"
          f"   compiled loop 19-21 s, Octave 650 s (full protocol) / ≤ 2.0 s" + vs("fig2", "s_cpu"))
    stage_s, w_repro, w_pipe = None, None, None
    with tempfile.TemporaryDirectory() as tmp:
        if "reproduce" not in skip:
            w = child_command(["reproduce", "fig2", "--seed", "0", "--out", str(Path(tmp) / "fig2")]
                              + (["--quick"] if args.quick else []), str(ROOT))
            w_repro = w
            print(f"{'reproduce fig2' + (' --quick' if args.quick else '') + ', end to end (child process)':58s} "
                  f"{w:7.2f} s wall              — / ≤ 5 s")
        if "pipeline" not in skip:
            w = child_command(["pipeline", "--out", str(Path(tmp) / "pipe")], str(ROOT))
            print(f"{'neuromorph pipeline (built-in config, child process)':58s} {w:7.2f} s wall              "
                  f"— / ≤ 5 s")
            w_pipe = w
            stage_s = json.loads((Path(tmp) / "pipe" / "summary.json").read_text()).get("stage_seconds", {})
    s = rows["scn1000"]
    ref = scn_numpy(1000, 3, 2000.0, 300 if args.quick else 1500)
    print(f"{'SCN learning N = 1000, M = 3 (' + format(s['rate_hz'], '.2f') + ' Hz)':58s} {s['us_wall']:7.2f} µs/step "
          f"({s['us_cpu']:.2f} cpu)   NumPy per-step {ref:.1f} µs/step = {ref / s['us_wall']:.1f}x / ≤ 3 µs/step"
          + vs("scn1000", "us_cpu"))
    if "scn1000_counter" in rows:
        sc = rows["scn1000_counter"]
        print(f"{'  same, counter noise stream (' + format(sc['rate_hz'], '.2f') + ' Hz)':58s} {sc['us_wall']:7.2f} µs/step "
              f"({sc['us_cpu']:.2f} cpu)   {s['us_cpu'] / sc['us_cpu']:.2f}x the serial stream (cpu)")
    e = rows["ei"]
    hours = e["us_wall"] * 2 ** 20 * 1000 / 3.6e9
    print(f"{'EI learning 300 E + 75 I (' + format(e['rate_E_hz'], '.1f') + ' Hz E)':58s} {e['us_wall']:7.2f} µs/step "
          f"({e['us_cpu']:.2f} cpu)   full Fig 4 ≈ {hours:.2f} h; authors ≈ 100 µs/step = {100 / e['us_wall']:.0f}x"
          f" / ≤ 1.0 µs/step" + vs("ei", "us_cpu"))
    if "ei_counter" in rows:
        ec = rows["ei_counter"]
        print(f"{'  same, counter noise stream (' + format(ec['rate_E_hz'], '.1f') + ' Hz E)':58s} {ec['us_wall']:7.2f} µs/step "
              f"({ec['us_cpu']:.2f} cpu)   {e['us_cpu'] / ec['us_cpu']:.2f}x the serial stream (cpu)")
    if rows.get("generator"):
        g = rows["generator"]
        print(f"{'noise generator, ns per normal sample (blocks of 10^5)':58s} "
              + ", ".join(f"{k} {v:.2f}" for k, v in g.items()))
    emu = emulator_rows(args.quick) if "emulator" not in skip else []
    for case, xs, es in emu:
        goal = "≥ 20x" if case.startswith("single") else "≥ 100x"
        print(f"{'emulator vs XyloSim, ' + case:58s} {es / xs:7.1f}x              "
              f"XyloSim {xs:.3g} steps/s, emulator {es:.3g} / {goal}")
    print_bounds(rows, its * 1000, w_repro, w_pipe, stage_s, emu, None if args.baseline else child_imports(str(ROOT)))
    print("\nSCN learning µs/step (M = 3, rules on; input made beforehand), one-spike arbiter | chip dynamics "
          "(chip_options: several spikes a step, inhibition-only lateral weights)")
    print(f"{'N':>6s} {'one-spike µs':>13s} {'cpu':>7s} {'rate Hz':>8s} | {'chip µs':>8s} {'cpu':>7s} {'rate Hz':>8s}")
    for n in SIZES:
        a, b = rows[f"one{n}"], rows[f"chip{n}"]
        print(f"{n:6d} {a['us_wall']:13.3f} {a['us_cpu']:7.3f} {a['rate_hz']:8.2f} | {b['us_wall']:8.3f} "
              f"{b['us_cpu']:7.3f} {b['rate_hz']:8.2f}" + (f"   baseline cpu {base[f'one{n}']['us_cpu']:.3f} | "
                                                           f"{base[f'chip{n}']['us_cpu']:.3f}" if base else ""))


if __name__ == "__main__":
    main()
