"""The Xylo chip family as a :class:`~neuromorph.backends.base.Backend`: Xylo Audio 2, Xylo
Audio 3 and Xylo IMU (the devices :data:`~neuromorph.backends.xylo.rockpool_compat.DEVICES`
lists). Each device's limits come from its YAML in ``hardware_configs/``; a Xylo-shaped target
(``device:`` one of these, other limits) needs no code (docs/backends.md).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from quantization.encoding import pre_emphasis
from quantization.fit_check import FitReport
from quantization.hardware import HardwareSpec
from quantization.mapping import QuantizedSCN

from neuromorph.backends.base import Backend, signed_pair_fit
from neuromorph.backends.xylo.rockpool_compat import DEVICES
from neuromorph.backends.xylo.spec import device_target

SPEC_FILE = "spec.npz"
#: States the emulator and XyloSim both record, in XyloSim's names.
STATE_KEYS = ("Spikes", "Vmem", "Isyn", "Isyn2", "Vmem_out", "Isyn_out")
_SATURATION_KEYS = ("Vmem", "Isyn", "Isyn2", "Vmem_out", "Isyn_out")


class XyloBackend(Backend):
    """Rockpool-format spec, sigma-delta ± channel input, bit-exact emulator, XyloSim reference."""

    name = "xylo"
    devices = tuple(DEVICES)

    def input_drive(self, u: np.ndarray, dash_syn: int) -> np.ndarray:
        """Pre-emphasis that cancels the input synapse's bit-shift low-pass (``deploy.input_drive``)."""
        return pre_emphasis(u, dash_syn)

    def map(self, net: Any, target: HardwareSpec, stats: dict, options: Any = None) -> QuantizedSCN:
        """The generic integer mapping; above the projection size the relay plan
        (:mod:`.relays`) is recorded in ``q.stats["relays"]`` for the encoder and decoder."""
        from neuromorph.backends.xylo.relays import plan_for

        q = super().map(net, target, stats, options)
        plan = plan_for(q, target)
        if plan is not None:
            q.stats["relays"] = plan.to_dict()
        return q

    def relay_layout(self, n_neurons: int, n_signals: int, target: HardwareSpec) -> dict:
        """Shapes of the layout for an N-neuron, M-signal SCN (``neuromorph.stages.preflight``)."""
        from neuromorph.backends.xylo.relays import relays_needed

        need_in, need_out = relays_needed(n_neurons, target)
        m2 = 2 * n_signals
        return {"relay_neurons": m2 * (int(need_in) + int(need_out)), "relay_fanout": m2 if need_out else 0,
                "relay_own_fanout": n_neurons + 1 if need_in else 0,
                "projection_relayed": need_in or need_out}

    def fit_check(self, q: QuantizedSCN, target: HardwareSpec) -> FitReport:
        """± input channel pairs, N hidden neurons, M outputs (``deploy.spec_from_quantized``);
        with relays, the relay layout's spec arrays as the chip holds them."""
        from neuromorph.backends.xylo.deploy import frontend_of
        from neuromorph.backends.xylo.relays import plan_for

        if frontend_of(q) is not None:  # the AFE's unsigned channels, no relays (deploy.spec_from_quantized)
            return frontend_fit(q, target)
        plan = plan_for(q, target) if _plan_possible(q, target) else None
        if plan is None:
            return signed_pair_fit(q, target)
        return relay_fit(q, target, plan)

    def export(self, q: QuantizedSCN, target: HardwareSpec, out_dir: Path) -> dict[str, str]:
        """``spec.npz``: the Rockpool spec (``XyloSim.from_specification(**spec)``)."""
        from neuromorph.backends.xylo.deploy import spec_from_quantized
        from neuromorph.backends.xylo.spec import save_spec

        spec = spec_from_quantized(q, target)
        save_spec(spec, Path(out_dir) / SPEC_FILE, metadata={"target": target.name, "scale_out": q.scale_out,
                                                             "input_gain": q.input_gain})
        return {"spec": SPEC_FILE}

    def load_deployable(self, qdir: Path) -> Any:
        from neuromorph.backends.xylo.spec import load_spec

        path = Path(qdir) / SPEC_FILE
        return load_spec(path) if path.is_file() else None

    def deploy(self, qdir: Path, out: Path, *, hardware: bool = False) -> dict:
        from neuromorph.backends.xylo.deployment import write_deployment

        return write_deployment(qdir, out, hardware=hardware)

    def frontend(self, device: str) -> Any:
        """Xylo Audio's audio front-end (:mod:`.afe`, Rockpool's AFE simulation) for ``device``;
        BackendError when it is not wired or its simulator is missing (the message says which)."""
        from neuromorph.backends.base import BackendError
        from neuromorph.backends.xylo import afe

        try:
            afe.check_frontend(device)
        except afe.FrontendError as exc:
            raise BackendError(str(exc)) from None
        if device != "xylo-audio-v3":
            return afe
        from neuromorph.backends.xylo import afe3

        try:
            afe3.check_available()
        except ImportError as exc:
            raise BackendError(f"--frontend {device}: Rockpool's Xylo Audio 3 AFE simulation is not available "
                               f"({exc}); install rockpool==3.1.0") from None
        return afe3

    def encode(self, q: QuantizedSCN, x: np.ndarray) -> np.ndarray:
        from neuromorph.backends.xylo.deploy import encode_signal

        return encode_signal(q, x)

    def decode(self, q: QuantizedSCN, recording: dict) -> np.ndarray:
        from neuromorph.backends.xylo.deploy import decode_output

        return decode_output(q, recording["Vmem_out"])

    def emulate(self, deployable: Any, raster: np.ndarray, record: bool = True) -> dict:
        from neuromorph.backends.xylo.emulator import emulate

        res = emulate(deployable, raster, record=record)
        return {"output": res.output, **res.recording}

    def reference_simulator(self, deployable: Any) -> Optional[Callable[[np.ndarray], dict]]:
        """Rockpool's XyloSim (C++ xylosim) for the spec's device."""
        from neuromorph.backends.xylo.rockpool_compat import xylosim_from_spec

        sim = xylosim_from_spec(deployable, deployable.device)

        def run(raster: np.ndarray) -> dict:
            sim.reset_state()  # every call starts from reset, as the emulator does (XyloSim keeps its state)
            _, _, rec = sim(raster, record=True)
            # the syns63300 simulator (Xylo IMU / Audio 3) records no Isyn2
            return {k: np.asarray(rec[k]) for k in STATE_KEYS if k in rec}

        return run

    def saturation_counts(self, recording: dict) -> dict:
        """(step, neuron) entries at the int16 state limits, per state."""
        return {k: int(np.count_nonzero((recording[k] >= 32767) | (recording[k] <= -32768)))
                for k in _SATURATION_KEYS}


def relay_fit(q: QuantizedSCN, target: HardwareSpec, plan) -> FitReport:
    """Fit check of the relay layout: the spec arrays the chip would hold, checked element by
    element (``quantization.fit_check.check_fit``), so fan-out and projections count exactly."""
    from quantization.fit_check import check_fit

    from neuromorph.backends.xylo.deploy import spec_from_quantized
    from neuromorph.backends.xylo.relays import RelayPlan  # noqa: F401  (the plan's type)

    sp = spec_from_quantized(q, target)
    w_in = np.asarray(sp.weights_in)
    w_rec = np.asarray(sp.weights_rec)
    nsyn = w_in.shape[2] if w_in.ndim == 3 else 1
    H, m = plan.n_hidden, q.n_inputs
    return check_fit(target, 2 * m, H, m, weights_in=w_in, weights_rec=w_rec, weights_out=np.asarray(sp.weights_out),
                     thresholds=np.asarray(sp.threshold), dash_mem=np.asarray(sp.dash_mem),
                     dash_syn=np.asarray(sp.dash_syn), biases=np.asarray(sp.bias), n_syn=nsyn,
                     weight_shifts={"in": sp.weight_shift_in, "rec": sp.weight_shift_rec, "out": sp.weight_shift_out},
                     taus=np.array([1.0 / q.lam]), dt=q.dt)


def frontend_fit(q: QuantizedSCN, target: HardwareSpec) -> FitReport:
    """Fit check of a network driven by an audio front-end: the AFE's 16 event channels are 16
    chip inputs (unsigned, ``deploy.spec_from_quantized``), N hidden neurons, M band outputs."""
    from quantization.fit_check import check_fit

    from neuromorph.backends.xylo.deploy import frontend_input_weights

    n, m = q.n_neurons, q.n_inputs
    w_in = frontend_input_weights(q)
    return check_fit(target, w_in.shape[0], n, m, weights_in=w_in, weights_rec=q.w_rec.T, weights_out=q.w_out.T,
                     thresholds=q.threshold, dash_mem=np.full(n, q.dash_mem), dash_syn=np.full(n, q.dash_syn),
                     n_syn=1, weight_shifts={"in": q.shift_in, "rec": q.shift_rec, "out": q.shift_out},
                     taus=np.array([1.0 / q.lam]), dt=q.dt)


def _plan_possible(q: QuantizedSCN, target: HardwareSpec) -> bool:
    """Relays only when the hidden-neuron count allows them (else the direct check reports N)."""
    from neuromorph.backends.xylo.relays import relay_count

    return target.max_hidden is None or q.n_neurons + relay_count(q.n_neurons, q.n_inputs, target) <= target.max_hidden


BACKENDS = (XyloBackend(),)

__all__ = ["XyloBackend", "BACKENDS", "STATE_KEYS", "SPEC_FILE", "device_target"]
