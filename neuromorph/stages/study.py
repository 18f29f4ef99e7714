"""Robustness studies: a grid of parameter points × seeded repetitions, run on Dask, resumable.

A study file (YAML) says *what* to evaluate; the runner decides *where* (in-process, a local
Dask cluster, or an existing Dask scheduler) and makes the result a tidy table.

Study file schema::

    name: toy-quadratic          # required, free text (titles, study.json)
    kind: toy                    # required: a key of POINT_KINDS or 'package.module:function'
    description: ...             # optional, free text
    base: {noise: 0.1}           # optional: fixed parameters given to every point
    sweep:                       # required mapping: parameter -> non-empty list of scalar values
      x: [-2, -1, 0, 1, 2]
      a: [1, 2]
    zip: [[x, y]]                # optional: parameters swept together (equal-length lists)
                                 # instead of crossed; a single group may be written [x, y]
    repetitions: 3               # optional (default 1): seeds per point, integer >= 1
    seed: 0                      # optional (default 0): root seed, integer >= 0
    metric: loss                 # optional: metric for the figures (default: the first one)

The grid is the Cartesian product of the sweep dimensions (a zip group is one dimension).
A point function ``f(params: dict, seed: int) -> dict`` of scalar metrics is called once per
(point, repetition); if it has an attribute ``check`` (a callable taking the list of all points'
parameter dicts), that is called first, before any cluster starts, and a ValueError it raises
ends the study as invalid input.  Repetition ``r`` gets the seed ``derive_seed(seed, r)`` at *every* point:
common random numbers make differences between points free of seed-to-seed noise, and the seeds
do not depend on the grid, so extending a sweep later reuses every finished task.

Resume: each finished task is written atomically as ``out/points/<task>.json`` where ``<task>``
is a hash of (kind, params, seed).  A rerun (after a crash, a kill, or with an extended sweep)
skips every task whose file says ``ok``; tasks that ended in ``error`` are run again (the usual
reason to rerun is that the bug is fixed).
"""
from __future__ import annotations

import difflib
import hashlib
import importlib
import itertools
import json
import logging
import os
import re
import socket
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional, Union

import yaml

from neuromorph.artifacts import atomic_write, atomic_write_text, provenance, save_figure, write_json

if TYPE_CHECKING:  # pandas is imported lazily: workers only need the task wrapper
    import pandas as pd

# kind -> "module:function".  Strings, not imports: a kind whose module is missing (or needs a
# heavy stack) costs nothing until a study actually uses it, and then fails with a clear error.
POINT_KINDS: dict[str, str] = {
    "toy": "neuromorph.stages.study:toy_point",
    "quantization": "neuromorph.stages.study_points:quantization_point",
    "nir": "neuromorph.stages.study_nir:nir_point",  # a NIR graph from another tool (neuromorph study MODEL.nir)
    "fig7": "neuromorph.experiments.fig7:point",  # a reproduction's own point function, by name only
}

FIELDS = ("name", "kind", "description", "base", "sweep", "zip", "repetitions", "seed", "metric")
REQUIRED_FIELDS = ("name", "kind", "sweep")
# Columns the runner adds to every row; parameters and metrics may not reuse these names.
RESERVED_COLUMNS = ("task", "point", "repetition", "seed", "status", "error", "wall_s", "worker",
                    "neuromorph", "finished_at")
DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_LOCAL_WORKERS = 2
POINTS_DIR = "points"

_Scalar = (bool, int, float, str, type(None))


class StudyError(ValueError):
    """A study definition or run request that cannot be honoured (reported to the user as one line)."""


# --------------------------------------------------------------------------------------------
# study files


class _StudyLoader(yaml.SafeLoader):
    """SafeLoader that (a) reads ``1e-3`` as a float and (b) rejects duplicated keys.

    PyYAML follows YAML 1.1, where a float needs a dot: ``1e-3`` would silently become the
    *string* "1e-3" and a sweep over it would not be numeric.  A duplicated key (say ``x`` twice
    under ``sweep``) would silently keep the last list only.
    """


_StudyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def _construct_mapping_no_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
    loader.flatten_mapping(node)
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicated key {key!r}", key_node.start_mark)
        seen[key] = True
    return loader.construct_mapping(node, deep=True)


_StudyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping_no_duplicates)


@dataclass(frozen=True)
class Task:
    """One (point, repetition) of a study: what a worker computes."""

    task_id: str
    point: int
    repetition: int
    seed: int
    params: dict


@dataclass(frozen=True)
class Study:
    """A validated, normalised study definition (see the module docstring for the schema)."""

    name: str
    kind: str
    sweep: dict
    base: dict = field(default_factory=dict)
    repetitions: int = 1
    seed: int = 0
    zip: tuple = ()
    metric: Optional[str] = None
    description: str = ""
    source: str = field(default="<study>", compare=False)

    def dimensions(self) -> list[tuple[str, ...]]:
        """The grid's axes in sweep order: a zip group is one axis, every other parameter its own."""
        zipped = {p: g for g in self.zip for p in g}
        dims: list[tuple[str, ...]] = []
        for p in self.sweep:
            dim = zipped.get(p, (p,))
            if dim not in dims:
                dims.append(dim)
        return dims

    def points(self) -> list[dict]:
        """Full parameter dicts (base + swept values) of every grid point; the last axis varies fastest."""
        axes = [[dict(zip(dim, vals)) for vals in zip(*(self.sweep[p] for p in dim))]
                for dim in self.dimensions()]
        out = []
        for combo in itertools.product(*axes):
            params = dict(self.base)
            for part in combo:
                params.update(part)
            out.append(params)
        return out

    def repetition_seed(self, repetition: int) -> int:
        """Seed of repetition ``r`` (the same at every point: common random numbers)."""
        from neuromorph.sim.rng import derive_seed

        return derive_seed(self.seed, repetition)

    def tasks(self) -> list[Task]:
        """Every (point, repetition) with its stable task id, points in grid order."""
        seeds = [self.repetition_seed(r) for r in range(self.repetitions)]
        return [Task(task_hash(self.kind, params, seeds[r]), i, r, seeds[r], params)
                for i, params in enumerate(self.points()) for r in range(self.repetitions)]

    def to_dict(self) -> dict:
        """The normalised definition (what study.json records; loads back with ``validate_study``)."""
        d = {"name": self.name, "kind": self.kind, "description": self.description, "base": self.base,
             "sweep": self.sweep, "zip": [list(g) for g in self.zip], "repetitions": self.repetitions,
             "seed": self.seed, "metric": self.metric}
        return d


def task_hash(kind: str, params: Mapping[str, Any], seed: int) -> str:
    """Stable id of a task: 16 hex digits of SHA-256 over canonical JSON of (kind, params, seed).

    Independent of the grid position, so reordering or extending a sweep keeps the ids of the
    tasks that remain.  ``1`` and ``1.0`` are different parameters on purpose (JSON differs).
    """
    blob = json.dumps({"kind": kind, "params": dict(params), "seed": int(seed)}, sort_keys=True,
                      separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _allowed_kinds_text() -> str:
    return ", ".join(sorted(POINT_KINDS)) + ", or an import path 'package.module:function'"


def _is_json_value(v: Any) -> bool:
    if isinstance(v, _Scalar):
        return True
    if isinstance(v, list):
        return all(_is_json_value(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _is_json_value(x) for k, x in v.items())
    return False


def _canon(v: Any) -> str:
    return json.dumps(v, sort_keys=True, allow_nan=True)


def validate_study(data: Any, source: str = "<study>") -> Study:
    """Check a parsed study definition and return it normalised; raise ``StudyError`` naming
    ``source``, the offending field and what is allowed."""

    def fail(msg: str) -> StudyError:
        return StudyError(f"{source}: {msg}")

    if not isinstance(data, Mapping):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise fail(f"a study must be a mapping of fields ({', '.join(FIELDS)}), got {got}")
    for key in data:
        if key not in FIELDS:
            near = difflib.get_close_matches(str(key), FIELDS, n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            shown = f"'{key}'" if isinstance(key, str) and key.isprintable() else repr(key)  # one line, always
            raise fail(f"unknown field {shown}{hint}; allowed fields: {', '.join(FIELDS)}")
    for key in REQUIRED_FIELDS:
        if key not in data:
            raise fail(f"missing required field '{key}'")

    name = data["name"]
    if not isinstance(name, str) or not name.strip():
        raise fail(f"field 'name' must be a non-empty string, got {name!r}")
    description = data.get("description") or ""
    if not isinstance(description, str):
        raise fail(f"field 'description' must be a string, got {description!r}")

    kind = data["kind"]
    if not isinstance(kind, str) or (kind not in POINT_KINDS and not re.fullmatch(
            r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", kind)):
        raise fail(f"field 'kind': unknown kind {kind!r}; allowed: {_allowed_kinds_text()}")

    base = data.get("base") or {}
    if not isinstance(base, Mapping):
        raise fail(f"field 'base' must be a mapping of parameter: value, got {base!r}")
    for p, v in base.items():
        if not isinstance(p, str):
            raise fail(f"field 'base': parameter names must be strings, got {p!r}")
        if not _is_json_value(v):
            raise fail(f"field 'base.{p}': value must be a number, string, boolean, null, list or "
                       f"mapping of those, got {type(v).__name__} {v!r}")

    sweep = data["sweep"]
    if not isinstance(sweep, Mapping) or not sweep:
        raise fail(f"field 'sweep' must be a non-empty mapping of parameter: [values], got {sweep!r}")
    for p, values in sweep.items():
        if not isinstance(p, str):
            raise fail(f"field 'sweep': parameter names must be strings, got {p!r}")
        if not isinstance(values, list):
            raise fail(f"field 'sweep.{p}' must be a list of values (e.g. [1, 2, 3]), got {values!r}")
        if not values:
            raise fail(f"field 'sweep.{p}' must be a non-empty list of values, got []")
        for v in values:
            if not isinstance(v, _Scalar):
                raise fail(f"field 'sweep.{p}': values must be scalars (number, string, boolean, null), "
                           f"got {v!r}; put structured settings in 'base' or sweep a name that selects them")
        canon = [_canon(v) for v in values]
        dup = next((v for v, c in zip(values, canon) if canon.count(c) > 1), None)
        if len(set(canon)) != len(canon):
            raise fail(f"field 'sweep.{p}' lists the value {dup!r} more than once")
        if p in base:
            raise fail(f"parameter '{p}' is in both 'base' and 'sweep'; keep it in one of them")
    for p in [*base, *sweep]:
        if p in RESERVED_COLUMNS:
            raise fail(f"parameter name '{p}' is reserved for the results table "
                       f"({', '.join(RESERVED_COLUMNS)}); rename it")

    raw_zip = data.get("zip") or []
    if not isinstance(raw_zip, list):
        raise fail(f"field 'zip' must be a list of parameter names ([a, b]) or of such lists, got {raw_zip!r}")
    groups = [raw_zip] if raw_zip and all(isinstance(g, str) for g in raw_zip) else raw_zip
    zip_groups: list[tuple[str, ...]] = []
    zipped: set = set()
    for g in groups:
        if not isinstance(g, list) or not all(isinstance(p, str) for p in g) or len(g) < 2:
            raise fail(f"field 'zip': each group must be a list of at least two swept parameter names, got {g!r}")
        for p in g:
            if p not in sweep:
                raise fail(f"field 'zip': '{p}' is not a swept parameter (swept: {', '.join(sweep)})")
            if p in zipped:
                raise fail(f"field 'zip': parameter '{p}' appears in more than one place")
            zipped.add(p)
        lengths = {p: len(sweep[p]) for p in g}
        if len(set(lengths.values())) != 1:
            raise fail("field 'zip': parameters swept together need lists of equal length, got "
                       + ", ".join(f"{p}: {n}" for p, n in lengths.items()))
        zip_groups.append(tuple(g))
    for g in zip_groups:  # zipped tuples must be distinct too, or two points would be one task
        rows = [_canon([sweep[p][i] for p in g]) for i in range(len(sweep[g[0]]))]
        if len(set(rows)) != len(rows):
            raise fail(f"field 'zip': the group {list(g)} contains the same combination of values twice")

    reps = data.get("repetitions", 1)
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 1:
        raise fail(f"field 'repetitions' must be an integer >= 1 (seeds per point), got {reps!r}")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise fail(f"field 'seed' must be an integer >= 0, got {seed!r}")
    metric = data.get("metric")
    if metric is not None and (not isinstance(metric, str) or not metric):
        raise fail(f"field 'metric' must be the name of a metric the point function returns, got {metric!r}")

    return Study(name=name, kind=kind, sweep={p: list(v) for p, v in sweep.items()}, base=dict(base),
                 repetitions=reps, seed=seed, zip=tuple(zip_groups), metric=metric, description=description,
                 source=source)


def load_study(path: Union[str, Path]) -> Study:
    """Read and validate a study YAML file."""
    path = Path(path)
    if not path.exists():
        raise StudyError(f"study file not found: {path}")
    if not path.is_file():
        raise StudyError(f"study file is not a file: {path}")
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StudyLoader)  # noqa: S506 (safe subclass)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise StudyError(f"{path}: not valid YAML{where}: {problem}") from None
    except UnicodeDecodeError as exc:
        raise StudyError(f"{path}: not a UTF-8 text file ({exc.reason})") from None
    return validate_study(data, source=str(path))


# --------------------------------------------------------------------------------------------
# point functions


def resolve_kind(kind: str) -> str:
    """The 'module:function' target of a kind (registry name or an import path itself)."""
    return POINT_KINDS.get(kind, kind)


def import_point_function(target: str) -> Callable[[dict, int], dict]:
    """Import ``module:function``; ImportError/AttributeError propagate (callers add context)."""
    modname, _, funcname = target.partition(":")
    fn = getattr(importlib.import_module(modname), funcname)
    if not callable(fn):
        raise TypeError(f"{target} is not callable")
    return fn


_TOY_PARAMS = {"x", "a", "center", "noise", "sleep", "busy", "fail"}


def toy_point(params: dict, seed: int) -> dict:
    """Built-in cheap point function for tests and demos: a noisy quadratic.

    ``loss = a·(x − center)² + noise·ε`` with ε ~ N(0, 1) drawn from ``seed``.  Parameters
    (all optional): ``x`` (0), ``a`` (1), ``center`` (0), ``noise`` (0.1), ``sleep`` (seconds
    of idle waiting), ``busy`` (seconds of *CPU* work: honest for parallel-speed benchmarks,
    since a sleep parallelises even on one core) and ``fail`` (truthy: raise, to exercise error
    handling).  Unknown parameters raise, so a typo in a study is not silently ignored.
    """
    import numpy as np

    unknown = sorted(set(params) - _TOY_PARAMS)
    if unknown:
        raise ValueError(f"toy point: unknown parameter(s) {unknown}; known: {sorted(_TOY_PARAMS)}")
    if params.get("fail"):
        raise RuntimeError(f"toy point asked to fail (fail={params['fail']!r})")
    if params.get("sleep"):
        time.sleep(float(params["sleep"]))
    busy = float(params.get("busy", 0.0))
    if busy > 0:
        t0 = time.process_time()
        v = np.arange(2048, dtype=float)
        while time.process_time() - t0 < busy:
            v = np.sqrt(v * v + 1.0)
    x, a, center = float(params.get("x", 0.0)), float(params.get("a", 1.0)), float(params.get("center", 0.0))
    eps = float(np.random.default_rng(seed).standard_normal())
    return {"loss": a * (x - center) ** 2 + float(params.get("noise", 0.1)) * eps,
            "distance": abs(x - center), "draw": eps}


# --------------------------------------------------------------------------------------------
# executing one task (runs on a worker; must stay importable without pandas/matplotlib)


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"synchronous:{socket.gethostname()}:{os.getpid()}"


def _clean_metrics(metrics: Any, taken: Iterable[str]) -> dict:
    """Metrics as plain JSON scalars; reject shapes the tidy table cannot hold."""
    if not isinstance(metrics, Mapping):
        raise TypeError(f"point function must return a dict of scalar metrics, got {type(metrics).__name__}")
    taken = set(taken)
    out = {}
    for k, v in metrics.items():
        if not isinstance(k, str):
            raise TypeError(f"metric names must be strings, got {k!r}")
        if k in taken:
            raise ValueError(f"metric '{k}' collides with a parameter or a reserved column; rename it")
        if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:  # numpy scalar -> Python scalar
            v = v.item()
        if not isinstance(v, _Scalar):
            raise TypeError(f"metric '{k}' must be a scalar (number, string, boolean, null), got {type(v).__name__}")
        out[k] = v
    return out


def execute_task(spec: dict) -> dict:
    """Run one task and return its record; never raises for a failing point function.

    The error is kept (one-line message + traceback) so one bad point cannot kill a study.
    """
    from neuromorph import __version__

    started = time.time()
    t0 = time.perf_counter()
    traceback_text = None
    try:
        fn = import_point_function(spec["target"])
        metrics = _clean_metrics(fn(dict(spec["params"]), int(spec["seed"])),
                                 taken=[*spec["params"], *RESERVED_COLUMNS])
        status, error = "ok", None
    except Exception as exc:  # noqa: BLE001 - the point's failure is data, not a crash
        metrics, status = {}, "error"
        error = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
        traceback_text = traceback.format_exc()
    return {"task": spec["task"], "point": spec["point"], "repetition": spec["repetition"],
            "seed": spec["seed"], "kind": spec["kind"], "params": spec["params"], "status": status,
            "error": error, "metrics": metrics, "wall_s": time.perf_counter() - t0, "worker": _worker_name(),
            "neuromorph": __version__, "started_at": started, "finished_at": time.time(),
            "traceback": traceback_text}


def _lost_task_record(spec: dict, exc: BaseException, worker: str) -> dict:
    """Record for a task whose worker died or whose result could not be fetched."""
    from neuromorph import __version__

    return {"task": spec["task"], "point": spec["point"], "repetition": spec["repetition"],
            "seed": spec["seed"], "kind": spec["kind"], "params": spec["params"], "status": "error",
            "error": f"task lost ({type(exc).__name__}: {exc})".splitlines()[0][:500], "metrics": {},
            "wall_s": float("nan"), "worker": worker, "neuromorph": __version__, "started_at": None,
            "finished_at": time.time(), "traceback": None}


# --------------------------------------------------------------------------------------------
# scheduling


@dataclass
class _Executor:
    """Where tasks run: ``mode`` is 'synchronous', 'local' or 'remote'."""

    mode: str
    address: Optional[str] = None
    n_workers: Optional[int] = None
    client: Any = None
    cluster: Any = None

    def describe(self) -> dict:
        return {"mode": self.mode, "address": self.address, "n_workers": self.n_workers}

    def close(self) -> None:
        # Close the client before the cluster: the reverse order makes distributed log
        # reconnect attempts to a scheduler that is going away.
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _scheduler_mode(scheduler: Optional[str], n_workers: Optional[int]) -> str:
    """Check the scheduler arguments (before any work) and return 'local', 'synchronous' or 'remote'."""
    if n_workers is not None and (isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1):
        raise StudyError(f"the number of workers must be an integer >= 1, got {n_workers!r}")
    if scheduler in (None, "", "local"):
        return "local"
    if not isinstance(scheduler, str):
        raise StudyError(f"scheduler must be a string, got {scheduler!r}")
    if scheduler in ("synchronous", "sync"):
        if n_workers is not None:
            raise StudyError("--workers/n_workers applies only to the local cluster, not to 'synchronous'")
        return "synchronous"
    if "://" in scheduler or re.fullmatch(r"[\w.\-]+:\d+", scheduler):
        if n_workers is not None:
            raise StudyError(f"--workers/n_workers applies only to the local cluster; the scheduler at "
                             f"{scheduler} uses the workers that joined it")
        return "remote"
    raise StudyError(f"scheduler must be 'synchronous' or a Dask scheduler address like tcp://head-node:8786 "
                     f"(omit it for a local cluster), got {scheduler!r}")


def _open_executor(mode: str, scheduler: Optional[str], n_workers: Optional[int],
                   connect_timeout: float) -> _Executor:
    if mode == "synchronous":
        return _Executor("synchronous", None, 1)
    if mode == "local":
        from distributed import Client, LocalCluster

        n = DEFAULT_LOCAL_WORKERS if n_workers is None else n_workers
        # Processes, one thread each: point functions are CPU-bound Python/numba and hold the GIL.
        # Loopback only and no dashboard: nothing is exposed beyond this machine.  Logs at
        # CRITICAL only: every task's outcome (also a lost worker) is recorded in its row, and
        # what distributed logs as ERROR here is mostly shutdown races on a busy machine (a
        # heartbeat to a scheduler that is closing), which would alarm users for nothing.
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.CRITICAL)
        try:
            client = Client(cluster, set_as_default=False)
        except BaseException:
            cluster.close()
            raise
        return _Executor("local", cluster.scheduler_address, n, client, cluster)
    from distributed import Client

    try:
        client = Client(scheduler, timeout=connect_timeout, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 - OSError/TimeoutError/ValueError for bad addresses
        raise StudyError(
            f"cannot reach the Dask scheduler at {scheduler} within {connect_timeout:g} s "
            f"({type(exc).__name__}: {exc}); start one with 'dask scheduler' and workers with "
            f"'dask worker {scheduler}', or omit --scheduler to use a local cluster") from None
    n = len(client.scheduler_info().get("workers", {}))
    if n == 0:
        print(f"neuromorph study: the scheduler at {scheduler} has no workers yet; tasks wait until "
              f"'dask worker {scheduler}' joins", file=sys.stderr)
    # cluster=None: someone else's scheduler is never shut down by us, only our client closed
    return _Executor("remote", scheduler, n, client)


def _run_specs(executor: _Executor, specs: list[dict], on_result: Callable[[dict], None]) -> None:
    """Run ``specs``, calling ``on_result(record)`` as each one finishes (any order)."""
    if executor.mode == "synchronous":
        for spec in specs:
            on_result(execute_task(spec))
        return
    from distributed import as_completed

    client = executor.client
    # A per-run token in the keys: two runs sharing a scheduler never alias each other's futures.
    token = uuid.uuid4().hex[:8]
    keys = [f"neuromorph-study-{s['task']}-{token}" for s in specs]
    by_key = dict(zip(keys, specs))
    futures = client.map(execute_task, specs, key=keys, pure=False)
    try:
        # set_as_default=False means as_completed must be told which client's loop to use
        for fut in as_completed(futures, loop=client.loop):
            try:
                record = fut.result()
            except Exception as exc:  # noqa: BLE001 - worker died (KilledWorker) etc.
                record = _lost_task_record(by_key[fut.key], exc, worker="unknown")
            on_result(record)
            fut.release()
    finally:
        # On interrupt: do not leave our tasks running on a shared scheduler.
        client.cancel(futures)


# --------------------------------------------------------------------------------------------
# the runner


def _read_record(path: Path, task_id: str) -> Optional[dict]:
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # missing or unreadable: run the task (again)
    return rec if isinstance(rec, dict) and rec.get("task") == task_id else None


def _flat(v: Any) -> Any:
    # Structured base parameters go into the table as JSON text: a column must hold scalars.
    return v if isinstance(v, _Scalar) else json.dumps(v, sort_keys=True)


def _records_to_frame(study: Study, records: list[dict]) -> "pd.DataFrame":
    import pandas as pd

    params = list(study.sweep) + [p for p in study.base if p not in study.sweep]
    metric_names: list[str] = []
    for rec in records:
        for k in rec.get("metrics", {}):
            if k not in metric_names:
                metric_names.append(k)
    rows = []
    for rec in records:
        row = {"task": rec["task"], "point": rec["point"], "repetition": rec["repetition"], "seed": rec["seed"],
               "status": rec["status"]}
        row.update({p: _flat(rec["params"].get(p)) for p in params})
        row.update({m: rec.get("metrics", {}).get(m) for m in metric_names})
        row.update({"error": rec.get("error"), "wall_s": rec.get("wall_s"), "worker": rec.get("worker"),
                    "neuromorph": rec.get("neuromorph"), "finished_at": rec.get("finished_at")})
        rows.append(row)
    columns = ["task", "point", "repetition", "seed", "status", *params, *metric_names, "error", "wall_s",
               "worker", "neuromorph", "finished_at"]
    df = pd.DataFrame(rows, columns=columns)
    if len(df):
        df["finished_at"] = pd.to_datetime(df["finished_at"], unit="s", utc=True)
    return df


def _write_tables(df: "pd.DataFrame", out_dir: Path) -> None:
    import pyarrow as pa

    pq_df = df.copy()
    for col in pq_df.columns:
        if pq_df[col].dtype == object:
            try:
                pa.array(pq_df[col])
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                # mixed types (e.g. a sweep over [1, "auto"]): Parquet needs one type per column
                pq_df[col] = pq_df[col].map(lambda v: None if v is None else str(v))
    atomic_write(out_dir / "results.parquet", lambda tmp: pq_df.to_parquet(tmp, index=False))
    atomic_write_text(out_dir / "results.csv", df.to_csv(index=False))


def _is_numeric(series: "pd.Series") -> bool:
    import pandas as pd

    vals = series.dropna()
    return len(vals) > 0 and pd.api.types.is_numeric_dtype(vals.infer_objects()) and not \
        pd.api.types.is_bool_dtype(vals.infer_objects())


def plot_study(df: "pd.DataFrame", study: Study, out_dir: Union[str, Path], metric: str) -> list[Path]:
    """Metric vs each swept numeric parameter, mean ± sd over repetitions; returns the PNG paths.

    With two sweep axes the other axis' values become separate lines; with more, everything
    else is pooled into the error bar (said in the axis label).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    ok = df[df["status"] == "ok"]
    if metric not in ok.columns or not _is_numeric(ok[metric]):
        return []
    ok = ok.assign(**{metric: ok[metric].astype(float)})
    dims = study.dimensions()
    paths = []
    for dim in dims:
        for p in dim:
            if not _is_numeric(ok[p]):
                continue
            others = [d for d in dims if d != dim]
            fig, ax = plt.subplots(figsize=(5.5, 3.8))
            groups = ok.groupby(list(others[0]), sort=False, dropna=False) if len(others) == 1 else [(None, ok)]
            for key, sub in groups:
                stats = sub.groupby(p)[metric].agg(["mean", "std"]).sort_index()
                label = None
                if key is not None:
                    key = key if isinstance(key, tuple) else (key,)
                    label = ", ".join(f"{c}={v}" for c, v in zip(others[0], key))
                ax.errorbar(stats.index.astype(float), stats["mean"], yerr=stats["std"].fillna(0.0), marker="o",
                            ms=4, capsize=3, label=label)
            xs = ok[p].astype(float)
            if (xs > 0).all() and xs.max() / xs.min() >= 100:
                ax.set_xscale("log")  # e.g. sigma = 1e-3 … 1e-1
            partners = [q for q in dim if q != p]
            ax.set_xlabel(p + (f" (swept with {', '.join(partners)})" if partners else ""))
            pooled = "repetitions" if len(others) <= 1 else "repetitions and other swept params"
            ax.set_ylabel(f"{metric} (mean ± sd over {pooled})")
            ax.set_title(f"{study.name}: {metric} vs {p}", fontsize=10)
            if len(others) == 1:
                ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
            safe = re.sub(r"[^\w.-]+", "_", f"{metric}_vs_{p}")
            paths.append(save_figure(fig, out_dir / f"fig_{safe}.png"))
    return paths


def _remove_stale_figures(out_dir: Path, keep: set) -> None:
    """Delete figures an earlier run of this directory made that this run did not remake (a
    parameter no longer swept, another metric), so the directory never shows outdated plots.
    Only names listed in the previous study.json are touched, never other files."""
    try:
        previous = json.loads((out_dir / "study.json").read_text(encoding="utf-8")).get("figures", [])
    except (OSError, ValueError, AttributeError):
        return
    for name in previous:
        if isinstance(name, str) and name not in keep and Path(name).name == name and name.endswith(".png"):
            (out_dir / name).unlink(missing_ok=True)


def run_study(study: Union[Study, Mapping, str, Path], out_dir: Union[str, Path], *, scheduler: Optional[str] = None,
              n_workers: Optional[int] = None, progress: bool = True,
              connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S) -> "pd.DataFrame":
    """Run (or resume) a study into ``out_dir`` and return the tidy results table.

    ``study``: a ``Study``, a mapping (validated) or a YAML path.  ``scheduler``: None for a
    local Dask cluster of ``n_workers`` processes (default 2) made and closed here;
    ``"synchronous"`` to run in this process (debuggers work); or a Dask scheduler address
    (``tcp://host:8786``) to use an existing cluster.  Finished tasks found in
    ``out_dir/points/`` are reused, not recomputed.  Writes results.parquet, results.csv,
    study.json and fig_*.png.
    """
    t_start = time.perf_counter()
    mode = _scheduler_mode(scheduler, n_workers)
    if isinstance(study, (str, Path)):
        study = load_study(study)
    elif not isinstance(study, Study):
        study = validate_study(study)
    target = resolve_kind(study.kind)
    try:
        fn = import_point_function(target)  # fail before starting a cluster, with a readable message
    except (ImportError, AttributeError, TypeError) as exc:
        raise StudyError(f"{study.source}: kind '{study.kind}' needs {target}, which cannot be loaded "
                         f"({type(exc).__name__}: {exc})") from None
    check = getattr(fn, "check", None)
    if callable(check):  # a point function may validate the whole grid up front (study_nir.nir_point does)
        try:
            check(study.points())
        except (ValueError, FileNotFoundError) as exc:
            raise StudyError(f"{study.source}: {exc}") from None

    out_dir = Path(out_dir)
    points_dir = out_dir / POINTS_DIR
    points_dir.mkdir(parents=True, exist_ok=True)
    tasks = study.tasks()
    records: dict[str, dict] = {}
    todo: list[dict] = []
    for t in tasks:
        rec = _read_record(points_dir / f"{t.task_id}.json", t.task_id)
        if rec is not None and rec.get("status") == "ok":
            # the grid position can change between runs (extended sweep); the result cannot
            rec.update(point=t.point, repetition=t.repetition)
            records[t.task_id] = rec
        else:
            todo.append({"task": t.task_id, "point": t.point, "repetition": t.repetition, "seed": t.seed,
                         "kind": study.kind, "target": target, "params": t.params})
    n_reused = len(records)

    from neuromorph.progress import progress_bar

    # all tasks reused: no cluster to start
    executor = _open_executor(mode, scheduler, n_workers, connect_timeout) if todo else _Executor("none")
    try:
        with progress_bar(len(tasks), desc=f"study {study.name}", enabled=progress, unit="task") as update:
            update(n_reused)

            def on_result(rec: dict) -> None:
                # written the moment it arrives: a kill loses at most the tasks in flight
                write_json(points_dir / f"{rec['task']}.json", rec)
                records[rec["task"]] = rec
                update(1)

            if todo:
                _run_specs(executor, todo, on_result)
    finally:
        executor.close()

    df = _records_to_frame(study, [records[t.task_id] for t in tasks])
    _write_tables(df, out_dir)

    notes: list[str] = []
    metric_cols = [c for c in df.columns if c not in RESERVED_COLUMNS and c not in study.sweep and c not in study.base]
    metric = study.metric or (metric_cols[0] if metric_cols else None)
    figures: list[Path] = []
    if metric is None:
        notes.append("no figures: no task finished ok")
    elif metric not in metric_cols:
        notes.append(f"no figures: metric '{metric}' is not among the results ({', '.join(metric_cols) or 'none'})")
    else:
        figures = plot_study(df, study, out_dir, metric)
        if not figures:
            notes.append(f"no figures: metric '{metric}' or the swept parameters are not numeric")
    for note in notes:
        print(f"neuromorph study: {note}", file=sys.stderr)
    _remove_stale_figures(out_dir, keep={p.name for p in figures})

    n_err = int((df["status"] == "error").sum())
    import dask
    import distributed

    prov = provenance(seed=study.seed, config=study.to_dict())
    prov.update(dask=dask.__version__, distributed=distributed.__version__)
    write_json(out_dir / "study.json", {
        "study": study.to_dict(), "source": study.source,
        "counts": {"points": len(tasks) // study.repetitions, "repetitions": study.repetitions,
                   "tasks": len(tasks), "reused": n_reused, "computed": len(todo), "ok": len(tasks) - n_err,
                   "error": n_err},
        "wall_s": time.perf_counter() - t_start,
        "scheduler": executor.describe(),
        "metric": metric, "metrics": metric_cols, "figures": [p.name for p in figures], "notes": notes,
        "provenance": prov,
    })
    return df


def summary(out_dir: Union[str, Path]) -> dict:
    """The ``study.json`` of a finished run (counts, wall time, scheduler)."""
    return json.loads((Path(out_dir) / "study.json").read_text(encoding="utf-8"))


__all__ = ["POINT_KINDS", "Study", "StudyError", "Task", "execute_task", "load_study", "plot_study", "run_study",
           "summary", "task_hash", "toy_point", "validate_study"]
