"""Robustness study of a network from another tool: ``neuromorph study MODEL.nir`` (kind ``nir``).

A point maps the NIR graph onto a Xylo target exactly as ``neuromorph quantize MODEL.nir`` does
(:func:`neuromorph.stages.nir_model.map_graph`), then perturbs the integer spec and runs it in
the emulator against the graph's own NIR semantics (:func:`neuromorph.backends.nir.run_graph`),
on the input ``verify`` would use. With ``weight_bits = 8`` and ``mismatch = 0`` a point's
numbers are those of ``quantize`` → ``verify`` with the same seed, steps and input.

Parameters (``params``; all but ``model`` optional):

``model``
    path of the NIR graph (absolute, or relative to the working directory of the workers).
``model_sha256``
    first 16 hex digits of the file's SHA-256; when given the file must still have it (a study
    resumed after the model file changed would otherwise mix two networks in one table).
``target`` ("xylo-audio-v2"), ``method`` ("global" | "channel"), ``dt`` (s; else from the graph),
``data`` (an input raster ``.npy``, as ``--data``; else the default Bernoulli raster of the
repetition's seed), ``test_steps`` (2000), ``calibration_steps`` (2000).
``weight_bits`` (8)
    Xylo stores 8-bit weights; ``b < 8`` keeps only ``b`` of them: every weight is rounded to a
    multiple of ``2^(8-b)`` within ``±(2^(b-1)-1)·2^(8-b)`` (same range, coarser grid; the
    thresholds keep their scale, so the dynamics differ only by the weight rounding).
``mismatch`` (0)
    relative σ: every integer weight, threshold and membrane decay rate varies as
    ``v·(1 + σ ξ)``, ξ ~ N(0, 1) per element, and is rounded back onto the chip's formats (the
    form of :func:`quantization.mismatch.mismatch_instances`; weights onto the ``weight_bits``
    grid). The draws depend only on the seed, so points that differ in σ share them.
``xylosim`` (false)
    also run Rockpool's XyloSim on the spec and report ``emulator_matches_xylosim``.

Metrics: ``spike_agreement``, ``rate_nir_hz``, ``rate_chip_hz``, ``rate_ratio`` (chip / NIR),
``readout_correlation`` (mean over the outputs with a non-constant trace), ``weight_change``
(relative RMS change of the integer weights against the nominal spec), ``fit_ok``.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np

KNOWN = {"model", "model_sha256", "target", "method", "dt", "data", "test_steps", "calibration_steps",
         "weight_bits", "mismatch", "xylosim"}
XYLO_DEVICES = ("xylo-audio-v2", "xylo-audio-v3", "xylo-imu")
DEFAULT_STUDY = Path(__file__).resolve().parents[1] / "studies" / "nir_bits_mismatch.yaml"
_W_MAX, _S_MAX, _DASH_MAX = 127, 32767, 15


def file_sha256(path: Path) -> str:
    """First 16 hex digits of the SHA-256 of a file (what ``model_sha256`` holds)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _options(params: dict) -> dict:
    """Defaults filled in and types checked; ValueError names the parameter."""
    unknown = sorted(set(params) - KNOWN)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for a nir point (known: {sorted(KNOWN)})")
    if "model" not in params:
        raise ValueError("a nir point needs the parameter 'model' (path of the NIR graph)")
    o = {"model": str(params["model"]), "model_sha256": params.get("model_sha256"),
         "target": str(params.get("target", "xylo-audio-v2")), "method": str(params.get("method", "global")),
         "dt": params.get("dt"), "data": params.get("data"), "xylosim": bool(params.get("xylosim", False))}
    for k, default in (("test_steps", 2000), ("calibration_steps", 2000), ("weight_bits", 8)):
        v = params.get(k, default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"parameter '{k}' must be an integer, got {v!r}")
        o[k] = v
    if not 1 <= o["test_steps"] or not 1 <= o["calibration_steps"]:
        raise ValueError("parameters 'test_steps' and 'calibration_steps' must be >= 1")
    if not 2 <= o["weight_bits"] <= 8:
        raise ValueError(f"parameter 'weight_bits' must lie in 2..8 (Xylo stores 8-bit weights), got {o['weight_bits']}")
    m = params.get("mismatch", 0.0)
    if isinstance(m, bool) or not isinstance(m, (int, float)) or not np.isfinite(m) or m < 0:
        raise ValueError(f"parameter 'mismatch' must be a relative sigma >= 0, got {m!r}")
    o["mismatch"] = float(m)
    if o["method"] not in ("global", "channel"):
        raise ValueError(f"parameter 'method' must be 'global' or 'channel' for a nir study, got {o['method']!r} "
                         "(the SCN-aware method needs the project's own run directory: study kind 'quantization')")
    if o["dt"] is not None and (isinstance(o["dt"], bool) or not isinstance(o["dt"], (int, float)) or o["dt"] <= 0):
        raise ValueError(f"parameter 'dt' must be a positive number of seconds, got {o['dt']!r}")
    return o


@lru_cache(maxsize=8)
def _graph(model: str, sha: Optional[str]):
    from neuromorph.backends.nir import load_nir

    path = Path(model)
    if not path.is_file():
        raise FileNotFoundError(f"parameter 'model': NIR file not found: {model}")
    if sha is not None and file_sha256(path) != sha:
        raise ValueError(f"parameter 'model': {model} has changed since the study was set up "
                         f"(sha256 {file_sha256(path)}, expected {sha}); start a new study directory")
    return load_nir(path)


def _network(o: dict):
    from neuromorph.backends.nir_import import parse_graph

    graph = _graph(o["model"], o["model_sha256"])
    return graph, parse_graph(graph, None if o["dt"] is None else float(o["dt"]))


def _target(name: str):
    from quantization.hardware import load_target

    target = load_target(name)
    if target.device not in XYLO_DEVICES:
        raise ValueError(f"parameter 'target': {target.name} is not a Xylo device ({', '.join(XYLO_DEVICES)}); "
                         "a NIR graph maps onto Xylo")
    return target


def _raster(o: dict, n_in: int, steps: int, seed: int) -> np.ndarray:
    from neuromorph.backends.nir_import import default_raster, load_raster

    return load_raster(o["data"], n_in) if o["data"] is not None else default_raster(n_in, steps, seed)


def check_points(points: Iterable[dict]) -> None:
    """Everything a point needs, checked once per distinct model/target before a study starts
    (``run_study`` calls it): parameters, the model file (and its hash), the graph's layout and
    time constants, the target and the input raster. Raises ValueError with one line."""
    from neuromorph.backends.nir_import import to_xylo_float

    seen = set()
    for params in points:
        o = _options(params)
        key = (o["model"], o["model_sha256"], o["target"], o["dt"], o["data"])
        if key in seen:
            continue
        seen.add(key)
        _graph.cache_clear()  # a fresh read: the file may have changed since an earlier check
        _, net = _network(o)
        _target(o["target"])
        to_xylo_float(net)  # time constants the chip's bit-shift decays can express
        if o["data"] is not None:
            _raster(o, net.shape[0], 1, 0)


def _perturb(spec: Any, bits: int, sigma: float, seed: int) -> Any:
    """Copy of ``spec`` with ``bits``-bit weights and mismatch σ (module docstring)."""
    from neuromorph.backends.nir_import import NEVER_FIRE
    from neuromorph.sim.rng import derive_seed
    from quantization.fixed_point import round_nearest

    rng = np.random.default_rng(derive_seed(seed, 41))
    out = spec.copy()
    step = 2 ** (8 - bits)
    w_lim = (2 ** (bits - 1) - 1) * step
    # fixed draw order and shapes whatever sigma is: common random numbers across points
    for name in ("weights_in", "weights_rec", "weights_out"):
        w = getattr(spec, name)
        if w is None:
            continue
        xi = rng.standard_normal(w.shape)
        v = w.astype(np.float64) * (1 + sigma * xi)
        setattr(out, name, np.clip(round_nearest(v / step) * step, -w_lim, w_lim).astype(w.dtype))
    for name in ("threshold", "threshold_out"):
        t = getattr(spec, name)
        xi = rng.standard_normal(t.shape)
        v = np.clip(round_nearest(t.astype(np.float64) * (1 + sigma * xi)), 1, _S_MAX)
        # an LI readout's never-firing threshold is a convention, not a stored analog value
        setattr(out, name, np.where(t == NEVER_FIRE, t, v).astype(t.dtype))
    for name in ("dash_mem", "dash_mem_out"):
        d = getattr(spec, name)
        xi = rng.standard_normal(d.shape)
        rate = 2.0 ** -d.astype(np.float64) * np.maximum(1 + sigma * xi, 1e-6)
        new = np.clip(round_nearest(-np.log2(np.minimum(rate, 1.0))), 0, _DASH_MAX)
        setattr(out, name, (new if sigma > 0 else d).astype(d.dtype))
    return out


def _weight_change(a: Any, b: Any) -> float:
    num = den = 0.0
    for name in ("weights_in", "weights_rec", "weights_out"):
        wa, wb = getattr(a, name), getattr(b, name)
        if wa is not None:
            num += float(np.sum((wb.astype(np.float64) - wa) ** 2))
            den += float(np.sum(wa.astype(np.float64) ** 2))
    return float(np.sqrt(num / den)) if den > 0 else 0.0


@lru_cache(maxsize=8)
def _nominal(model: str, sha: Optional[str], target: str, method: str, dt: Optional[float], data: Optional[str],
             calibration_steps: int, seed: int):
    """Nominal spec (as ``quantize`` maps it with this seed) and its fit check, cached per worker."""
    from neuromorph.backends.xylo.spec import hardware_violations
    from neuromorph.stages.nir_model import map_graph

    o = {"model": model, "model_sha256": sha, "dt": dt, "data": data}
    graph, net = _network(o)
    tgt = _target(target)
    spec, _, _ = map_graph(graph, net, tgt, method, _raster(o, net.shape[0], calibration_steps, seed))
    return spec, not hardware_violations(spec, tgt)


def nir_point(params: dict, seed: int) -> dict:
    """Metrics of one (weight bits, mismatch, ...) point of a NIR graph on a Xylo target."""
    from neuromorph.backends.base import backend_for_device
    from neuromorph.stages.nir_model import compare_with_graph, reference_run

    o = _options(params)
    seed = int(seed) % (2 ** 31)
    graph, net = _network(o)
    spec, fit_ok = _nominal(o["model"], o["model_sha256"], o["target"], o["method"], o["dt"], o["data"],
                            o["calibration_steps"], seed)
    raster = _raster(o, net.shape[0], o["test_steps"], seed)
    chip = _perturb(spec, o["weight_bits"], o["mismatch"], seed)
    backend = backend_for_device(chip.device)
    rec = backend.emulate(chip, raster, record=True)
    cmp = compare_with_graph(reference_run(graph, net, raster), rec, net.dt)
    corr = [c for c in cmp["readout_correlation"] if c is not None]
    out = {"spike_agreement": cmp["spike_agreement"], "rate_nir_hz": cmp["rate_nir_hz"],
           "rate_chip_hz": cmp["rate_chip_hz"],
           "rate_ratio": cmp["rate_chip_hz"] / cmp["rate_nir_hz"] if cmp["rate_nir_hz"] > 0 else None,
           "readout_correlation": float(np.mean(corr)) if corr else None,
           "weight_change": _weight_change(spec, chip), "fit_ok": fit_ok}
    if o["xylosim"]:
        from neuromorph.stages.verify import compare_with_reference

        reference = backend.reference_simulator(chip)
        out["emulator_matches_xylosim"] = (bool(compare_with_reference(reference, raster, rec)["matches"])
                                           if reference is not None else None)
    return out


nir_point.check = check_points  # run_study validates every point before it starts a cluster


def study_for_model(model: Path, *, target: Optional[str] = None, method: Optional[str] = None,
                    dt: Optional[float] = None, data: Optional[Path] = None) -> dict:
    """The built-in study (``neuromorph/studies/nir_bits_mismatch.yaml``) for ``model``: its
    grid, with the model (absolute path and hash) and the given options in ``base``."""
    import yaml

    model = Path(model)
    if not model.is_file():
        raise ValueError(f"NIR model not found: {model}")
    study = yaml.safe_load(DEFAULT_STUDY.read_text(encoding="utf-8"))
    base = dict(study.get("base") or {})
    base.update(model=str(model.resolve()), model_sha256=file_sha256(model))
    for key, value in (("target", target), ("method", method), ("dt", dt),
                       ("data", None if data is None else str(Path(data).resolve()))):
        if value is not None:
            base[key] = value
    study["base"] = base
    study["name"] = f"{study['name']}: {model.name}"
    return study


def resolve_study(path: Path, *, target: Optional[str] = None, method: Optional[str] = None,
                  dt: Optional[float] = None, data: Optional[Path] = None):
    """The :class:`~neuromorph.stages.study.Study` that ``neuromorph study PATH`` runs, fully checked
    (for a NIR model or a study of kind ``nir``: every point's model, target and input too).

    ``PATH`` is a study file (then the MODEL.nir options must be None) or a ``.nir`` model (then
    the built-in grid, :func:`study_for_model`). Raises
    :class:`~neuromorph.stages.study.StudyError` with one line naming the flag, field or file.
    """
    from neuromorph.stages.study import StudyError, load_study, validate_study

    path = Path(path)
    flags = [f"--{k}" for k, v in (("target", target), ("method", method), ("dt", dt), ("data", data))
             if v is not None]
    if path.suffix != ".nir":
        if flags:
            raise StudyError(f"{', '.join(flags)}: only for a NIR model (neuromorph study MODEL.nir); "
                             f"{path} is a study file: put these in its 'base'")
        study = load_study(path)
    else:
        if dt is not None and not (np.isfinite(dt) and dt > 0):
            raise StudyError(f"--dt must be a positive number of seconds, got {dt}")
        if data is not None and not Path(data).is_file():
            raise StudyError(f"--data: input raster not found: {data}")
        if not path.is_file():
            raise StudyError(f"NIR model not found: {path}")
        study = validate_study(study_for_model(path, target=target, method=method, dt=dt, data=data),
                               source=str(path))
    if study.kind == "nir":
        try:
            check_points(study.points())
        except (ValueError, FileNotFoundError) as exc:
            raise StudyError(f"{path}: {exc}") from None
    return study
