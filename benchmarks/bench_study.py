"""Benchmark: the study runner on a local Dask cluster, 1 vs 2 workers, and kill -9 + resume.

Study: the built-in toy kind, 200 points (x: 20 values × a: 10 values, 1 repetition), each
task burning ``--task-s`` seconds of *CPU* (default 0.2 s; CPU, not sleep, so the speed-up is
bounded by real cores as it is for real point functions).

1. Wall time of ``run_study`` with a LocalCluster of 1 and of 2 worker processes, cluster
   start-up included (fresh output directories, nothing reused).
2. Resume: ``neuromorph study`` runs in a subprocess and is killed with SIGKILL (no clean-up
   at all, like an OOM kill or a lost node) once half the tasks have finished; then the same
   command is run again.  Reports how many of the tasks finished before the kill were
   recomputed (must be 0: their point files are byte-identical afterwards) and checks that the
   killed run's worker processes did not outlive it.

Usage: python benchmarks/bench_study.py [--quick] [--task-s 0.2] [--work busy|sleep]
"""
from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy: BLAS threads distort timings

import argparse
import hashlib
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without install

from neuromorph.stages.study import run_study, summary, validate_study  # noqa: E402


def study_yaml(n_points: int, task_s: float, work: str = "busy") -> str:
    n_a = 10 if n_points >= 10 else 1
    n_x = n_points // n_a
    xs = ", ".join(f"{-1 + 2 * i / max(n_x - 1, 1):.4f}" for i in range(n_x))
    a_s = ", ".join(str(a) for a in range(1, n_a + 1))
    return (f"name: bench\nkind: toy\nbase: {{noise: 0.1, {work}: {task_s}}}\nsweep:\n  x: [{xs}]\n  a: [{a_s}]\n"
            f"repetitions: 1\nseed: 0\n")


def descendants(pid: int) -> set[int]:
    """All processes below ``pid`` (Linux /proc), to check nothing outlives a killed run."""
    out: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        for children in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                kids = [int(c) for c in children.read_text().split()]
            except OSError:
                continue
            out.update(kids)
            todo.extend(kids)
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def snapshot(points: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in points.glob("*.json")}


def timed_runs(path: Path, work: Path) -> dict[int, float]:
    walls = {}
    for n in (1, 2):
        t0 = time.perf_counter()
        df = run_study(path, work / f"w{n}", n_workers=n, progress=False)
        walls[n] = time.perf_counter() - t0
        assert (df["status"] == "ok").all(), df["error"].dropna().head()
    return walls


def kill_and_resume(path: Path, out: Path, n_tasks: int) -> dict:
    cmd = [sys.executable, "-m", "neuromorph.cli", "study", str(path), "--out", str(out), "--workers", "2",
           "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    points = out / "points"
    kids: set[int] = set()
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        kids |= descendants(proc.pid)
        if len(list(points.glob("*.json"))) >= n_tasks // 2:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        raise RuntimeError(f"study finished or failed before it could be killed: {proc.stderr.read()}")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    done = snapshot(points)
    time.sleep(3.0)  # workers notice their parent is gone through a pipe; give them a moment
    orphans = sorted(k for k in kids if alive(k))

    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    resume_wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"resume failed ({r.returncode}): {r.stderr}")
    after = snapshot(points)
    counts = summary(out)["counts"]
    return {"finished_before_kill": len(done), "recomputed_of_finished": sum(after[k] != v for k, v in done.items()),
            "computed_on_resume": counts["computed"], "reused_on_resume": counts["reused"],
            "total_ok": counts["ok"], "orphan_workers": orphans, "resume_wall_s": resume_wall}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="40 points instead of 200")
    ap.add_argument("--task-s", type=float, default=0.2, help="seconds per task (default 0.2)")
    ap.add_argument("--work", choices=["busy", "sleep"], default="busy",
                    help="busy: burn CPU (default, like real point functions); sleep: idle wait, which "
                         "isolates the runner's own scheduling overhead from CPU contention")
    args = ap.parse_args()
    n_points = 40 if args.quick else 200

    with tempfile.TemporaryDirectory(prefix="bench_study_") as tmp:
        work = Path(tmp)
        path = work / "bench.yaml"
        path.write_text(study_yaml(n_points, args.task_s, args.work))
        n_tasks = len(validate_study(__import__("yaml").safe_load(path.read_text())).tasks())
        print(f"study: {n_tasks} tasks x {args.task_s} s {'CPU' if args.work == 'busy' else 'sleep'} each (ideal serial {n_tasks * args.task_s:.1f} s); "
              f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other load skews the numbers)")
        walls = timed_runs(path, work)
        print(f"load average after: {os.getloadavg()[0]:.1f}")
        print(f"{'workers':>8s} {'wall s':>8s} {'tasks/s':>8s} {'speed-up':>8s}")
        for n, w in walls.items():
            print(f"{n:8d} {w:8.2f} {n_tasks / w:8.2f} {walls[1] / w:8.2f}")

        res = kill_and_resume(path, work / "killed", n_tasks)
        print(f"kill -9 after {res['finished_before_kill']}/{n_tasks} tasks finished; resume computed "
              f"{res['computed_on_resume']}, reused {res['reused_on_resume']}, all ok: "
              f"{res['total_ok'] == n_tasks}; resume wall {res['resume_wall_s']:.2f} s")
        print(f"finished tasks recomputed after the kill: {res['recomputed_of_finished']} "
              f"of {res['finished_before_kill']}; orphaned worker processes: {len(res['orphan_workers'])}")
        ok = (res["recomputed_of_finished"] == 0 and res["reused_on_resume"] == res["finished_before_kill"]
              and res["total_ok"] == n_tasks and not res["orphan_workers"])
        print("resume check:", "PASS" if ok else "FAIL")
        return 0 if ok else 1


if __name__ == "__main__":  # required: the local cluster's worker processes are spawned
    sys.exit(main())
