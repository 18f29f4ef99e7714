"""The robustness-study runner: schema, grid, resume, Dask scheduling, failures, CLI."""
import dataclasses
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import neuromorph
from neuromorph.stages import study as st
from neuromorph.cli import main

TOY_YAML = Path(neuromorph.__file__).parent / "studies" / "toy.yaml"


def toy(**overrides) -> dict:
    d = {"name": "t", "kind": "toy", "base": {"noise": 0.1}, "sweep": {"x": [0.0, 1.0, 2.0]},
         "repetitions": 2, "seed": 3}
    d.update(overrides)
    return d


def write(tmp_path, text: str, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def point_files(out) -> dict:
    """task id -> file content of every finished task."""
    return {p.stem: p.read_text() for p in (Path(out) / "points").glob("*.json")}


# ---------------------------------------------------------------------------------------------- schema

GOOD = "name: t\nkind: toy\nsweep:\n  x: [1, 2]\n"


@pytest.mark.parametrize("text,msg", [
    (GOOD + "sweeps: {}\n", "unknown field 'sweeps' (did you mean 'sweep'?); allowed fields: name, kind"),
    ("name: t\nsweep: {x: [1]}\n", "missing required field 'kind'"),
    ("name: t\nkind: nope\nsweep: {x: [1]}\n", "field 'kind': unknown kind 'nope'; allowed: fig7, nir, quantization, toy"),
    ("name: t\nkind: toy\nsweep: {x: 3}\n", "field 'sweep.x' must be a list of values (e.g. [1, 2, 3]), got 3"),
    ("name: t\nkind: toy\nsweep: {x: []}\n", "field 'sweep.x' must be a non-empty list of values"),
    ("name: t\nkind: toy\nsweep: {}\n", "field 'sweep' must be a non-empty mapping"),
    ("name: t\nkind: toy\nsweep: {x: [{a: 1}]}\n", "field 'sweep.x': values must be scalars"),
    ("name: t\nkind: toy\nsweep: {x: [1, 2, 1]}\n", "field 'sweep.x' lists the value 1 more than once"),
    (GOOD + "repetitions: 0\n", "field 'repetitions' must be an integer >= 1 (seeds per point), got 0"),
    (GOOD + "repetitions: '3'\n", "field 'repetitions' must be an integer >= 1"),
    (GOOD + "seed: -1\n", "field 'seed' must be an integer >= 0"),
    (GOOD + "base: {x: 1}\n", "parameter 'x' is in both 'base' and 'sweep'"),
    (GOOD + "base: {seed: 1}\n", "parameter name 'seed' is reserved"),
    (GOOD + "base: {when: 2024-01-01}\n", "field 'base.when': value must be a number, string"),
    (GOOD + "zip: [x, y]\n", "field 'zip': 'y' is not a swept parameter (swept: x)"),
    ("name: t\nkind: toy\nsweep: {x: [1, 2], y: [1]}\nzip: [x, y]\n",
     "field 'zip': parameters swept together need lists of equal length, got x: 2, y: 1"),
    ("name: t\nkind: toy\nsweep: {x: [1, 2]}\nsweep: {x: [3]}\n", "duplicated key 'sweep'"),
    ("name: t\nkind: toy\nsweep: {x: [1, 2\n", "not valid YAML (line"),
    ("- name\n- kind\n", "a study must be a mapping of fields"),
    ("", "a study must be a mapping of fields (name, kind, description, base, sweep, zip, repetitions, seed, "
         "metric), got an empty file"),
])
def test_schema_errors_name_file_field_and_allowed(tmp_path, text, msg):
    path = write(tmp_path, text)
    with pytest.raises(st.StudyError) as err:
        st.load_study(path)
    assert str(err.value).startswith(f"{path}: ")
    assert msg in str(err.value)
    assert isinstance(err.value, ValueError)  # the CLI reports ValueErrors as one line, exit 2


def test_missing_study_file(tmp_path):
    with pytest.raises(st.StudyError, match="study file not found: .*nope.yaml"):
        st.load_study(tmp_path / "nope.yaml")


def test_registered_kinds_validate_without_importing_their_module():
    # study_points may not exist yet; only using the kind needs it
    for kind in st.POINT_KINDS:
        assert st.validate_study(toy(kind=kind)).kind == kind


# ---------------------------------------------------------------------------------------------- grid


def test_grid_is_cartesian_product_in_sweep_order(tmp_path):
    s = st.load_study(write(tmp_path, "name: g\nkind: toy\nbase: {noise: 0}\nsweep:\n  x: [1, 2, 3]\n"
                                      "  sigma: [1e-3, 1.0e-2]\nrepetitions: 2\n"))
    assert s.sweep["sigma"] == [0.001, 0.01]  # 1e-3 is a float here, not PyYAML's string "1e-3"
    pts = s.points()
    assert [(p["x"], p["sigma"]) for p in pts] == [(1, 0.001), (1, 0.01), (2, 0.001), (2, 0.01), (3, 0.001), (3, 0.01)]
    assert all(p["noise"] == 0 for p in pts)
    tasks = s.tasks()
    assert len(tasks) == 12 and len({t.task_id for t in tasks}) == 12
    # repetition r has the same seed at every point (common random numbers), different across r
    assert {t.seed for t in tasks if t.repetition == 0} == {s.repetition_seed(0)}
    assert s.repetition_seed(0) != s.repetition_seed(1)


def test_zip_sweeps_params_together_and_crosses_the_rest():
    s = st.validate_study(toy(sweep={"n": [10, 20, 40], "a": [1, 2], "k": [5, 10, 20]}, zip=[["n", "k"]]))
    assert s.dimensions() == [("n", "k"), ("a",)]
    assert [(p["n"], p["k"], p["a"]) for p in s.points()] == [
        (10, 5, 1), (10, 5, 2), (20, 10, 1), (20, 10, 2), (40, 20, 1), (40, 20, 2)]
    assert st.validate_study(toy(sweep={"n": [1, 2], "k": [3, 4]}, zip=["n", "k"])).zip == (("n", "k"),)


def test_task_ids_are_stable_and_survive_extending_the_sweep():
    small = st.validate_study(toy())
    big = st.validate_study(toy(sweep={"x": [-1.0, 0.0, 1.0, 2.0, 3.0]}))
    ids_small = {t.task_id for t in small.tasks()}
    assert ids_small == {t.task_id for t in st.validate_study(toy()).tasks()}
    assert ids_small < {t.task_id for t in big.tasks()}
    assert st.task_hash("toy", {"x": 1}, 0) != st.task_hash("toy", {"x": 1}, 1)
    assert st.task_hash("toy", {"x": 1}, 0) != st.task_hash("fig7", {"x": 1}, 0)


# ---------------------------------------------------------------------------------------------- running


def test_synchronous_run_writes_table_json_figures(tmp_path):
    s = st.validate_study(toy(sweep={"x": [0.0, 1.0, 2.0], "a": [1, 3]}, base={"noise": 0.1, "center": 1.0}))
    df = st.run_study(s, tmp_path, scheduler="synchronous", progress=True)
    assert len(df) == 12 and (df["status"] == "ok").all()
    for _, row in df.iterrows():
        expect = st.toy_point({"noise": 0.1, "center": 1.0, "x": row["x"], "a": row["a"]}, row["seed"])
        assert row["loss"] == expect["loss"]
        assert row["task"] == st.task_hash("toy", {"noise": 0.1, "center": 1.0, "x": row["x"], "a": row["a"]},
                                           row["seed"])
    assert df["worker"].str.startswith("synchronous:").all()
    assert set(df["neuromorph"]) == {neuromorph.__version__}
    back = pd.read_parquet(tmp_path / "results.parquet")
    assert list(back.columns) == list(df.columns) and back["loss"].tolist() == df["loss"].tolist()
    assert len(pd.read_csv(tmp_path / "results.csv")) == 12
    info = st.summary(tmp_path)
    assert info["counts"] == {"points": 6, "repetitions": 2, "tasks": 12, "reused": 0, "computed": 12, "ok": 12,
                              "error": 0}
    assert info["scheduler"]["mode"] == "synchronous" and info["metric"] == "loss"
    assert info["study"]["sweep"] == s.sweep and "config_sha256" in info["provenance"]
    assert sorted(info["figures"]) == ["fig_loss_vs_a.png", "fig_loss_vs_x.png"]
    assert all((tmp_path / f).stat().st_size > 1000 for f in info["figures"])
    assert len(point_files(tmp_path)) == 12

    # another plotted metric: nothing recomputed, and the old metric's figures do not linger
    st.run_study(dataclasses.replace(s, metric="distance"), tmp_path, scheduler="synchronous",
                 progress=False)
    info = st.summary(tmp_path)
    assert info["counts"]["reused"] == 12
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["fig_distance_vs_a.png", "fig_distance_vs_x.png"]


CALLS: list = []
STOP_AFTER: list = [None]


def counting_point(params: dict, seed: int) -> dict:
    """Records every call; raises KeyboardInterrupt (like Ctrl-C) on call number STOP_AFTER."""
    CALLS.append((params["x"], seed))
    if STOP_AFTER[0] is not None and len(CALLS) >= STOP_AFTER[0]:
        raise KeyboardInterrupt
    return {"value": params["x"] * 2.0}


@pytest.fixture
def counting_kind(monkeypatch):
    monkeypatch.setitem(st.POINT_KINDS, "counting", f"{__name__}:counting_point")
    CALLS.clear()
    STOP_AFTER[0] = None
    yield
    CALLS.clear()
    STOP_AFTER[0] = None


def test_resume_after_interruption_recomputes_nothing_finished(tmp_path, counting_kind):
    s = st.validate_study(toy(kind="counting", base={}, sweep={"x": [1, 2, 3, 4]}, repetitions=2))
    STOP_AFTER[0] = 5
    with pytest.raises(KeyboardInterrupt):
        st.run_study(s, tmp_path, scheduler="synchronous", progress=False)
    done = point_files(tmp_path)
    assert len(done) == 4  # the 5th was interrupted in flight and left nothing behind

    CALLS.clear()
    STOP_AFTER[0] = None
    df = st.run_study(s, tmp_path, scheduler="synchronous", progress=False)
    assert len(CALLS) == 4  # only the 4 unfinished tasks ran
    assert (df["status"] == "ok").all() and df["value"].tolist() == [2.0, 2.0, 4.0, 4.0, 6.0, 6.0, 8.0, 8.0]
    after = point_files(tmp_path)
    assert all(after[k] == v for k, v in done.items())  # finished results untouched
    assert st.summary(tmp_path)["counts"]["reused"] == 4

    # extending the sweep runs only the new point; a corrupted file is recomputed, not trusted
    CALLS.clear()
    victim = sorted(after)[0]
    (tmp_path / "points" / f"{victim}.json").write_text("{truncated")
    bigger = st.validate_study(toy(kind="counting", base={}, sweep={"x": [1, 2, 3, 4, 5]}, repetitions=2))
    df = st.run_study(bigger, tmp_path, scheduler="synchronous", progress=False)
    assert len(df) == 10 and len(CALLS) == 3
    assert st.summary(tmp_path)["counts"] == {"points": 5, "repetitions": 2, "tasks": 10, "reused": 7,
                                              "computed": 3, "ok": 10, "error": 0}


def test_failing_points_are_recorded_and_retried_on_resume(tmp_path):
    s = st.validate_study(toy(sweep={"x": [0.0, 1.0], "fail": [False, True]}))
    df = st.run_study(s, tmp_path, scheduler="synchronous", progress=False)
    bad = df[df["status"] == "error"]
    assert len(bad) == 4 and bad["fail"].all() and bad["loss"].isna().all()
    assert (bad["error"] == "RuntimeError: toy point asked to fail (fail=True)").all()
    assert df.loc[df["status"] == "ok", "error"].isna().all()
    rec = json.loads((tmp_path / "points" / f"{bad['task'].iloc[0]}.json").read_text())
    assert "Traceback" in rec["traceback"] and "toy_point" in rec["traceback"]
    info = st.summary(tmp_path)
    assert info["counts"]["error"] == 4 and info["figures"] == ["fig_loss_vs_x.png"]  # no plot vs a boolean
    st.run_study(s, tmp_path, scheduler="synchronous", progress=False)
    assert st.summary(tmp_path)["counts"]["reused"] == 4 and st.summary(tmp_path)["counts"]["computed"] == 4


def bad_metrics_point(params: dict, seed: int) -> dict:
    return {"x": 1.0} if params["x"] > 0 else {"m": [1, 2]}


def test_metrics_that_do_not_fit_the_table_are_point_errors(tmp_path, monkeypatch):
    monkeypatch.setitem(st.POINT_KINDS, "bad", f"{__name__}:bad_metrics_point")
    df = st.run_study(toy(kind="bad", base={}, sweep={"x": [0, 1]}, repetitions=1), tmp_path,
                      scheduler="synchronous", progress=False)
    assert (df["status"] == "error").all()
    assert df["error"].str.contains("metric 'm' must be a scalar").any()
    assert df["error"].str.contains("metric 'x' collides with a parameter").any()


def test_unloadable_kind_fails_before_running(tmp_path, monkeypatch):
    monkeypatch.setitem(st.POINT_KINDS, "ghost", "neuromorph.no_such_module:point")
    with pytest.raises(st.StudyError, match=r"kind 'ghost' needs neuromorph.no_such_module:point, which cannot be "
                                            r"loaded \(ModuleNotFoundError"):
        st.run_study(toy(kind="ghost"), tmp_path / "out", scheduler="synchronous", progress=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kwargs,msg", [
    (dict(scheduler="nonsense"), "scheduler must be 'synchronous' or a Dask scheduler address"),
    (dict(scheduler="synchronous", n_workers=2), "applies only to the local cluster"),
    (dict(n_workers=0), "number of workers must be an integer >= 1, got 0"),
])
def test_bad_scheduler_arguments(tmp_path, kwargs, msg):
    with pytest.raises(st.StudyError, match=msg):
        st.run_study(toy(), tmp_path, progress=False, **kwargs)


def test_unreachable_scheduler_is_a_quick_clear_error(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    addr = f"tcp://127.0.0.1:{port}"
    t0 = time.perf_counter()
    with pytest.raises(st.StudyError) as err:
        st.run_study(toy(), tmp_path, scheduler=addr, progress=False, connect_timeout=1.0)
    assert time.perf_counter() - t0 < 10
    assert f"cannot reach the Dask scheduler at {addr} within 1 s" in str(err.value)
    assert f"dask worker {addr}" in str(err.value)


def test_local_cluster_two_workers_then_resume_synchronously(tmp_path):
    s = st.validate_study(toy(sweep={"x": [0.0, 1.0, 2.0], "fail": [False, True]},
                              base={"noise": 0.1, "sleep": 0.15}))
    df = st.run_study(s, tmp_path, n_workers=2, progress=False)
    assert len(df) == 12 and (df["status"] == "ok").sum() == 6
    assert list(df["task"]) == [t.task_id for t in s.tasks()]  # grid order, not completion order
    workers = set(df["worker"])
    assert len(workers) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in workers)
    ok = df[df["status"] == "ok"]
    for _, row in ok.iterrows():  # worker processes compute what this process would
        assert row["loss"] == st.toy_point({"noise": 0.1, "x": row["x"]}, row["seed"])["loss"]
    assert (ok["wall_s"] >= 0.15).all()
    info = st.summary(tmp_path)
    assert info["scheduler"]["mode"] == "local" and info["scheduler"]["n_workers"] == 2
    assert info["scheduler"]["address"].startswith("tcp://127.0.0.1:")

    before = point_files(tmp_path)
    df2 = st.run_study(s, tmp_path, scheduler="synchronous", progress=False)
    assert st.summary(tmp_path)["counts"]["reused"] == 6  # only the failed ones ran again
    after = point_files(tmp_path)
    assert all(after[t] == before[t] for t in ok["task"])
    assert df2.loc[df2["status"] == "ok", "worker"].tolist() == ok["worker"].tolist()


def test_existing_scheduler_is_used_and_left_running(tmp_path):
    from distributed import Client, LocalCluster

    # threads instead of processes: starts in well under a second; the runner only sees an address
    with LocalCluster(n_workers=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        addr = cluster.scheduler_address
        df = st.run_study(toy(), tmp_path, scheduler=addr, progress=False)
        assert (df["status"] == "ok").all() and len(df) == 6
        assert set(df["worker"]) == set(cluster.scheduler_info["workers"])
        assert st.summary(tmp_path)["scheduler"] == {"mode": "remote", "address": addr, "n_workers": 1}
        with Client(addr, set_as_default=False) as c:  # not ours to shut down: still serving
            assert c.submit(sum, [1, 2]).result(timeout=10) == 3


# ---------------------------------------------------------------------------------------------- CLI


def test_cli_runs_packaged_example_and_resumes(tmp_path, capsys):
    s = st.load_study(TOY_YAML)
    assert s.kind == "toy" and len(s.tasks()) == 30
    args = ["study", str(TOY_YAML), "--out", str(tmp_path), "--scheduler", "synchronous", "--no-progress"]
    assert main(args) == 0
    assert "30 tasks (0 reused, 30 computed, 0 failed)" in capsys.readouterr().out
    assert main(args) == 2  # an existing run is neither merged into nor silently continued
    assert "pass --force to replace it or --resume to continue it" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 0
    assert "30 tasks (30 reused, 0 computed, 0 failed)" in capsys.readouterr().out


def test_cli_exit_codes_for_errors(tmp_path, capsys):
    bad = write(tmp_path, "name: t\nkind: toy\nsweep: {x: []}\n")
    assert main(["study", str(bad), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"neuromorph: error: {bad}: field 'sweep.x'")
    assert main(["study", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o")]) == 2
    assert "study file not found" in capsys.readouterr().err
    failing = write(tmp_path, "name: f\nkind: toy\nsweep: {fail: [false, true]}\n", "f.yaml")
    assert main(["study", str(failing), "--out", str(tmp_path / "f"), "--scheduler", "synchronous",
                 "--no-progress"]) == 1
    assert "first error: RuntimeError: toy point asked to fail" in capsys.readouterr().out


def test_cli_help_and_user_error_in_a_real_process(tmp_path):
    r = subprocess.run([sys.executable, "-m", "neuromorph.cli", "study", "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for phrase in ("Resume", "not recomputed", "dask scheduler", "dask worker", "--scheduler tcp://"):
        assert phrase in r.stdout, phrase
    bad = write(tmp_path, "name: t\nkind: toy\nsweep: {x: [1]}\nrepetitions: 0\n")
    r = subprocess.run([sys.executable, "-m", "neuromorph.cli", "study", str(bad), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == (f"neuromorph: error: {bad}: field 'repetitions' must be an integer >= 1 "
                                f"(seeds per point), got 0")
