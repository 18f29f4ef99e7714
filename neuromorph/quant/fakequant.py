"""The float side of quantization: what only the simulator knows.

* operating statistics of a float network (peak per-step input, peak |V|, peak |x̂|) that size
  the integer scales;
* *fake-quant* evaluation — the dequantized integer network run in the float simulator, so the
  cost of quantization is seen apart from the chip's other differences (no spike arbiter,
  synaptic filtering, event-coded input);
* the versioned quantized-network file (``quantized.npz``).

This module sits below chip-aware training (:mod:`neuromorph.quant.chip_training`), mismatch
studies and the stages; it imports only the simulator, the network files and the lower
:mod:`quantization` layer.
"""
from __future__ import annotations

import json

from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

from quantization.encoding import pre_emphasis
from quantization.hardware import HardwareSpec
from quantization.mapping import MappingOptions, QuantizedSCN, map_scn

from neuromorph.artifacts import atomic_write_bytes
from neuromorph.metrics import normalized_error
from neuromorph.network import SCN
from neuromorph.sim.rng import derive_seed
from neuromorph.sim.signals import current_for_signal, leaky_integrate, smoothed_white_noise
from neuromorph.sim.simulator import SimOptions, simulate

QDIR_NETWORK = "quantized.npz"


def evaluation_signal(n_inputs: int, steps: int, seed: int, lam: float, dt: float, amplitude: float = 2000.0,
                sigma: float = 30.0) -> tuple:
    """The evaluation input: smoothed white noise current c (T, M) and its signal x (T, M)."""
    c = smoothed_white_noise(steps, n_inputs, np.random.default_rng(derive_seed(seed, 21)), amplitude=amplitude,
                             sigma=sigma, block=None)
    return c, leaky_integrate(c, lam, dt)


def operating_statistics(net: SCN, c: np.ndarray, seed: int, dash_syn: int = 1,
                         drive: Optional[Callable[[np.ndarray, int], np.ndarray]] = None) -> dict:
    """Peak per-step input, peak |V| and peak |x| of the float network on input ``c``.

    Parameters
    ----------
    net : SCN
        The float network.
    c : ndarray, shape (T, M)
        Input current [1/s]; the per-step drive is ``u = dt·c``.
    seed : int
        Base seed (the noise stream is derived from it).
    dash_syn : int
        Input-synapse bit-shift decay the drive transform is sized for.
    drive : callable ``(u, dash_syn) -> ndarray (T, M)``, optional
        The transform the target's input encoder applies to ``u`` before event coding
        (``Backend.input_drive``). ``None``: the bit-shift-synapse pre-emphasis
        (:func:`quantization.encoding.pre_emphasis`), which every built-in integer backend uses.

    Returns
    -------
    dict
        ``input_peak`` = max(|u|, |drive(u)|) (the encoder's gain is sized for both),
        ``v_peak`` = max |V|, ``x_peak`` = max |x̂|.
    """
    rec = simulate(net, c, seed=derive_seed(seed, 22), record=("V",))
    u = c * net.dt
    sent = (drive or pre_emphasis)(u, dash_syn)
    peak = max(float(np.abs(u).max()), float(np.abs(sent).max()))
    return {"input_peak": peak, "v_peak": float(np.abs(rec.V).max()), "x_peak": float(np.abs(rec.x).max())}


def fake_quant_network(q: QuantizedSCN, like: SCN) -> SCN:
    """The float SCN the integer network implements (chip leak, dequantized weights)."""
    d = q.dequantize()
    return SCN(F=d["F"], Omega=d["Omega"], D=d["D"], thresholds=d["thresholds"], lam=d["lam"], dt=q.dt,
               v_noise=like.v_noise, t_noise=like.t_noise, meta={"fake_quant_of": q.target})


def signal_error(net: SCN, x: np.ndarray, seed: int, options: Optional[SimOptions] = None) -> dict:
    """Drive ``net`` so that it should represent ``x`` (T, M) (input current computed for the
    network's own leak) and return the normalised error of D r and the mean rate (Hz)."""
    c = current_for_signal(x, net.lam, net.dt)
    rec = simulate(net, c, seed=derive_seed(seed, 23), record=("r",), options=options)
    return {"error": normalized_error(x, rec.r @ net.D.T), "rate_hz": rec.mean_rate_hz()}


def quantize_network(net: SCN, target: HardwareSpec, stats: dict, options: Optional[MappingOptions] = None,
                     margin: float = 1.25) -> QuantizedSCN:
    """Map ``net`` onto ``target`` using measured operating statistics with a safety margin."""
    return map_scn(net.F, net.Omega, net.D, net.thresholds, net.lam, net.dt, target,
                   input_peak=stats["input_peak"] * margin, v_peak=stats["v_peak"] * margin,
                   x_peak=stats["x_peak"] * margin, options=options)


def save_quantized(q: QuantizedSCN, path: Union[str, Path]) -> Path:
    """Versioned integer network: NPZ arrays + JSON metadata entry, written atomically."""
    d = q.to_arrays()
    payload = dict(d["arrays"])
    payload["__meta__"] = np.array(json.dumps(d["meta"], default=lambda o: o.item() if hasattr(o, "item") else str(o)))
    return atomic_write_bytes(path, lambda fh: np.savez(fh, **payload))


def load_quantized(path: Union[str, Path]) -> QuantizedSCN:
    path = Path(path)
    if path.is_dir():
        path = path / QDIR_NETWORK
    if not path.is_file():
        raise FileNotFoundError(f"quantized network not found: {path} (run 'neuromorph quantize' first)")
    import zipfile

    from neuromorph.arrayfile import check_npz

    try:
        check_npz(path)  # damaged headers, sizes larger than the data: refused before np.load trusts them
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        meta = json.loads(str(data.pop("__meta__")))
        if not isinstance(meta, dict):
            raise TypeError("metadata is not a JSON object")
        for k in ("w_in", "w_rec", "w_out", "threshold", "neuron_gain"):
            a = data.get(k)
            if a is None:
                continue  # from_arrays names the missing entry
            if a.dtype.kind not in "biuf" or not np.all(np.isfinite(a)):
                raise ValueError(f"entry {k!r} must hold finite numbers (dtype {a.dtype})")
            if k != "neuron_gain" and a.dtype.kind == "f" and np.any(a != np.round(a)):
                raise ValueError(f"entry {k!r} must hold integers")  # never truncated silently
        return QuantizedSCN.from_arrays(data, meta)
    except (KeyError, ValueError, TypeError, AttributeError, IndexError, OSError, EOFError,
            zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a valid quantized network ({exc})") from None
