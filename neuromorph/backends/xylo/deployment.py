"""Deployment artefacts of a quantized network on a Xylo device (``neuromorph deploy``).

From a QDIR (output of ``quantize``) it writes: the Rockpool spec (``spec.npz``, loads straight
into ``XyloSim.from_specification(**np.load("spec.npz"))``; ``spec.meta.json`` beside it) and a
compact readable ``spec.json``; NIR graphs (:func:`write_nir_exports`: the deployed, chip-adapted
float network, the arbiter-trained one, and the quantized network with its consumer variants;
recurrent weights included); and, when SynSense's real ``samna`` is installed, the hardware configuration built by
Rockpool's ``config_from_specification``.  ``samna`` is optional and detected at run time: the
PyPI package of that name is a downloader shim and is never imported.
"""
from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np

from neuromorph.artifacts import atomic_write_text, provenance, write_json
from neuromorph.network import load_network


def write_deployment(qdir: Union[str, Path], out: Union[str, Path], *, hardware: bool = False) -> dict:
    """Write the deployment artefacts of ``qdir`` into ``out``; returns a summary dict."""
    from neuromorph.backends.xylo.rockpool_compat import SamnaUnavailableError, config_from_spec, samna_available
    from neuromorph.backends.xylo.spec import hardware_violations, load_spec, save_spec

    qdir, out = Path(qdir), Path(out)
    spec_path = qdir / "spec.npz"
    if not spec_path.is_file():
        raise FileNotFoundError(f"{qdir} holds no spec.npz: quantize for a Xylo target first "
                                f"(e.g. --target xylo-audio-v2)")
    spec = load_spec(spec_path)
    if hardware and not samna_available():
        try:  # raises SamnaUnavailableError with the instructions, before anything is written
            config_from_spec(spec, spec.device)
        except SamnaUnavailableError as exc:
            raise RuntimeError(str(exc)) from None
    out.mkdir(parents=True, exist_ok=True)
    _, meta = load_spec(spec_path, return_metadata=True)
    save_spec(spec, out / "spec.npz", metadata={k: v for k, v in meta.items()
                                                if k not in ("format", "format_version", "device")})
    atomic_write_text(out / "spec.json", compact_spec_json(spec))
    summary = {"device": spec.device, "n_inputs": spec.n_in, "n_hidden": spec.n_hidden, "n_outputs": spec.n_out,
               "hardware_violations": hardware_violations(spec), "samna_available": samna_available()}
    summary["nir"] = write_nir_exports(qdir, spec, out)
    if hardware:
        try:
            config, ok, msg = config_from_spec(spec, spec.device)
        except SamnaUnavailableError as exc:
            raise RuntimeError(str(exc)) from None
        summary["hardware_config_valid"] = bool(ok)
        summary["hardware_config_message"] = msg
    summary["provenance"] = provenance()
    write_json(out / "deploy.json", summary)
    lines = [f"# Deployment: {spec.device}", "",
             f"- network: {spec.n_in} input channels, {spec.n_hidden} hidden neurons, {spec.n_out} read-out neurons",
             f"- fits the chip: {'yes' if not summary['hardware_violations'] else 'NO: ' + '; '.join(summary['hardware_violations'])}",
             "- `spec.npz`: Rockpool spec, `XyloSim.from_specification(**np.load(\"spec.npz\"))`; "
             "`spec.meta.json`: device and quantization metadata; `spec.json`: the spec, readable",
             "- NIR graphs (recurrent weights included; what each consumer runs: docs/interop.md): "
             + ", ".join(f"`{n}`" for n in summary["nir"]),
             f"- real samna: {'found' if summary['samna_available'] else 'not installed — hardware configuration and XyloSamna deployment need SynSense samna (optional extra; the PyPI package named samna is only a downloader shim)'}"]
    lines += signal_io_lines(qdir)
    atomic_write_text(out / "README.md", "\n".join(lines) + "\n")
    return summary


def signal_io_lines(qdir: Path) -> list:
    """README section: how a signal becomes input events and the read-out becomes a signal,
    with this deployment's numbers and the commands (docs/xylo_integer_update.md)."""
    from neuromorph.data import load_run_data
    from neuromorph.quant.fakequant import load_quantized

    if not (Path(qdir) / "quantized.npz").is_file():  # a graph imported from another tool (model.nir)
        return ["", "## Input and read-out", "",
                "- The network was imported from a NIR graph: its input events and read-out are the graph's own "
                "(`neuromorph verify QDIR --data RASTER.npy` compares the chip with the graph's NIR semantics)."]
    q = load_quantized(qdir)
    rd = load_run_data(qdir)
    scaled = ("scaled per channel with the run's scaling, x_net = (x − offset) / scale (kept in "
              f"`{qdir}/data.npz`), " if rd is not None else "")
    return ["", "## Your signal in, the estimate out", "",
            f"- **Encode** (`neuromorph encode {qdir} --data FILE --out raster.npy`): the signal x (T, M) is "
            f"{scaled}resampled to the chip's step dt = {q.dt:g} s, turned into the per-step drive "
            f"u_t = x_t − (1 − 2^−{q.dash_mem}) x_(t−1), pre-emphasised for the input synapse (dash_syn = {q.dash_syn}) "
            f"and sigma-delta coded at {q.input_gain:.4g} events per unit onto ± channel pairs (channel 2j: positive "
            f"part of signal j, 2j+1: negative part), at most {q.max_input_events} events per channel and step.",
            f"- **Run**: `neuromorph emulate {qdir} --input raster.npy --out EM` (bit-exact, equal to XyloSim), "
            "or `spec.npz` on the chip.",
            f"- **Decode**: the {q.n_inputs} read-out neurons never fire; the estimate is their membrane, "
            f"x̂_m(t) = Vmem_out_m(t + 1) / {q.scale_out:.4g} (one step of hidden → output delay) in network units"
            + (", then × scale + offset in the data's units" if rd is not None else "")
            + ". `EM/decoded.npy` holds it, row t estimating FILE's row t.",
            f"- **Check**: `neuromorph verify {qdir} --data FILE --out V` reports error_emulated = "
            "normalized_error(FILE, V/decoded_emulated.npy) next to the float network's."]


def compact_spec_json(spec) -> str:
    """``spec.json``: ``{"device": ..., "spec": {key: value}}`` with one key per line and each
    array as a nested list on that line (a person can read it; a 1000-neuron spec is a few MB
    rather than one number per line)."""
    import json

    kw = spec.to_rockpool_kwargs()
    lines = [f"  {json.dumps(k)}: {json.dumps(v.tolist() if isinstance(v, np.ndarray) else v, separators=(',', ':'))}"
             for k, v in kw.items()]
    return ('{"format_version": 1, "device": ' + json.dumps(spec.device) + ', "spec": {\n'
            + ",\n".join(lines) + "\n}}\n")


def write_nir_exports(qdir: Path, spec, out: Path) -> list[str]:
    """The NIR graphs of a deployment; returns the file names written into ``out``.

    * ``network_deployed.nir``: the float network that was quantized (chip-adapted when
      ``quantize`` adapted it; ``network_deployed.npz``), as :func:`~neuromorph.backends.nir.network_to_nir` (SCN or EI);
      this is the one whose NIR semantics (no arbiter) match the chip.
    * ``network_float.nir``: the arbiter-trained float network (NIR cannot express the arbiter;
      under NIR semantics it fires more often, docs/interop.md).
    * ``network_quantized.nir``: the integer spec (:func:`~neuromorph.backends.xylo.nir.xylo_spec_to_nir`).
    * consumer variants of the quantized graph (:func:`~neuromorph.backends.xylo.nir.export_variants`).
    """
    from neuromorph.backends.nir import load_nir, network_to_nir, save_nir
    from neuromorph.backends.xylo.nir import export_variants, xylo_spec_to_nir

    names = []
    if (qdir / "model.nir").is_file():  # imported from another tool: its graph as given
        save_nir(load_nir(qdir / "model.nir"), out / "model.nir")
        names.append("model.nir")
    for stem in ("network_deployed", "network_float"):
        if (qdir / f"{stem}.npz").is_file():
            save_nir(network_to_nir(load_network(qdir / f"{stem}.npz")), out / f"{stem}.nir")
            names.append(f"{stem}.nir")
    save_nir(xylo_spec_to_nir(spec.to_rockpool_kwargs()), out / "network_quantized.nir")
    names.append("network_quantized.nir")
    for variant, graph in export_variants(spec).items():
        save_nir(graph, out / f"network_quantized_{variant}.nir")
        names.append(f"network_quantized_{variant}.nir")
    return names
