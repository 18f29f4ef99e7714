r"""The float side of putting an EI (Dale's law) network on a chip.

The integer side — layout (E first, then I), block matrix, Dale check — is
:mod:`quantization.ei_mapping`. This module adds what only the simulator knows:

* the **block SCN** of an EI network (:func:`ei_block_scn`) and back (:func:`ei_from_block`):
  under the chip's dynamics (no arbiter, no refractory period, bit-shift recurrent synapse,
  subtractive reset, every pathway one step late) both populations are just hidden neurons, so
  the SCN simulator with :func:`neuromorph.sim.simulator.chip_options` *is* the EI network's
  chip-dynamics model — the SCN code path, not a copy;
* operating statistics (:func:`ei_operating_statistics`) and coding error
  (:func:`ei_signal_error`) under the reference dynamics (:func:`~neuromorph.sim.ei_simulator.simulate_ei`:
  per-population arbiter, refractory period, E→I within the step) or the chip's;
* :func:`adapt_ei_to_chip`: what the EI network needs before it runs on silicon (measured below);
* fake-quant evaluation (:func:`fake_quant_ei`: the dequantized integer network as an
  :class:`~neuromorph.network.EINetwork`).

Why adaptation. The reference E neuron resets by only ``e_self_reset`` = −0.02 and is kept quiet
for ``refractory`` = 10 steps; its I partner does the real reset. The chip has no refractory
period, so under chip dynamics an E neuron stays above threshold and fires up to 31 events every
step (measured: 40 E + 10 I learnt 2·10⁵ steps, float under chip dynamics: 3·10⁵ Hz, error
4·10⁴). :func:`adapt_ei_to_chip` replaces the refractory period by a stronger E self-reset —
still a reset (≤ 0), so Dale's law is untouched — chosen from a few candidates by the coding
error under chip dynamics on the calibration signal, and refits the E decoder under those
dynamics (measured, 40 E + 10 I learnt 10⁶ steps, seeds 0–2, held-out data: the chosen resets
−0.125 / −0.125 / −0.25 give 0.022–0.025 at 35–40 Hz E / 134–153 Hz I, against 0.071–0.098 for
the float network under its reference dynamics; tests/test_ei_chip.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from quantization.ei_mapping import EILayout, ei_block_arrays, layout_of, map_ei
from quantization.encoding import pre_emphasis
from quantization.hardware import HardwareSpec
from quantization.mapping import MappingOptions, QuantizedSCN

from neuromorph.metrics import normalized_error, optimal_decoder
from neuromorph.network import SCN, EINetwork
from neuromorph.sim.ei_simulator import simulate_ei
from neuromorph.sim.rng import derive_seed
from neuromorph.sim.signals import current_for_signal
from neuromorph.sim.simulator import chip_options, simulate

__all__ = ["DYNAMICS", "ei_block_scn", "ei_from_block", "ei_operating_statistics", "ei_signal_error",
           "quantize_ei_network", "fake_quant_ei", "adapt_ei_to_chip", "ChipAdaptation", "RESET_CANDIDATES"]

#: ``"reference"``: :func:`simulate_ei` (the authors' Fig 4 dynamics); ``"chip"``: the block SCN
#: under :func:`chip_options`.
DYNAMICS = ("reference", "chip")
#: E self-resets tried by :func:`adapt_ei_to_chip`, in units of the mean E threshold.
RESET_CANDIDATES = (0.25, 0.5, 1.0)


def ei_block_scn(net: EINetwork) -> SCN:
    """The block SCN of ``net`` (E first, then I; read-out from E only; :mod:`quantization.ei_mapping`).

    The SCN has one voltage noise; it takes the E population's (``v_noise_E``), the evaluation
    value of the reference."""
    b = ei_block_arrays(net.F_E, net.W_EE, net.W_EI, net.W_IE, net.W_II, net.D_E, net.T_E, net.T_I)
    return SCN(F=b["F"], Omega=b["Omega"], D=b["D"], thresholds=b["thresholds"], lam=net.lam, dt=net.dt,
               v_noise=net.v_noise_E, t_noise=net.t_noise,
               meta={"ei_block_of": dict(b["layout"].to_dict())})


def ei_from_block(F: np.ndarray, Omega: np.ndarray, D: np.ndarray, thresholds: np.ndarray, lam: float,
                  layout: EILayout, like: EINetwork, meta: Optional[dict] = None) -> EINetwork:
    """Split a block network (F (N, M), Ω (N, N), D (M, N), T (N,)) back into an EINetwork.

    Noise, refractory period and dt come from ``like``; ``D_I`` too (the I read-out is not
    deployed); ``e_self_reset`` is the mean of the E diagonal (it is used by learning only)."""
    e, i = layout.index("E"), layout.index("I")
    W_EE = Omega[e, e].copy()
    return EINetwork(F_E=F[e].copy(), W_EE=W_EE, W_EI=Omega[i, e].copy(), W_IE=Omega[e, i].copy(),
                     W_II=Omega[i, i].copy(), D_E=D[:, e].copy(), D_I=like.D_I.copy(), T_E=thresholds[e].copy(),
                     T_I=thresholds[i].copy(), lam=float(lam), dt=like.dt, v_noise_E=like.v_noise_E,
                     v_noise_I=like.v_noise_I, t_noise=like.t_noise, refractory=like.refractory,
                     e_self_reset=float(np.mean(np.diag(W_EE))), meta=dict(meta or {}))


def _check_dynamics(dynamics: str) -> None:
    if dynamics not in DYNAMICS:
        raise ValueError(f"dynamics must be one of {DYNAMICS}, got {dynamics!r}")


@dataclass
class _Run:
    r_E: np.ndarray
    V: np.ndarray
    rate_E_hz: float
    rate_I_hz: float
    rates_E: np.ndarray
    rates_I: np.ndarray


def _run(net: EINetwork, c: np.ndarray, seed: int, dynamics: str, dash_syn: int, record_v: bool = False) -> _Run:
    """One frozen run of ``net`` on current ``c`` (T, M) under ``dynamics``."""
    _check_dynamics(dynamics)
    ne = net.n_exc
    if dynamics == "reference":
        rec = simulate_ei(net, c, seed=seed, record=("r_E", "V_E", "V_I") if record_v else ("r_E",))
        V = np.hstack([rec.V_E, rec.V_I]) if record_v else np.zeros((0, 0))
        return _Run(rec.r_E, V, rec.mean_rate_E_hz(), rec.mean_rate_I_hz(), rec.rates_E_hz(), rec.rates_I_hz())
    rec = simulate(ei_block_scn(net), c, seed=seed, record=("r", "V") if record_v else ("r",),
                   options=chip_options(dash_syn, net.dt))
    rates = rec.rates_hz()
    return _Run(rec.r[:, :ne], rec.V if record_v else np.zeros((0, 0)), float(rates[:ne].mean()),
                float(rates[ne:].mean()), rates[:ne], rates[ne:])


def ei_operating_statistics(net: EINetwork, c: np.ndarray, seed: int, dash_syn: int = 1,
                            drive: Optional[Callable[[np.ndarray, int], np.ndarray]] = None,
                            dynamics: str = "reference") -> dict:
    """Peak per-step input, peak |V| (both populations) and peak |x̂| (E read-out) of ``net`` on
    input current ``c`` (T, M) [1/s] — the EI counterpart of
    :func:`neuromorph.quant.fakequant.operating_statistics` (same keys, same meaning), under
    ``dynamics`` (the dynamics the network will run under).

    Returns ``input_peak`` = max(|u|, |drive(u)|) with u = dt·c, ``v_peak``, ``x_peak``."""
    run = _run(net, c, derive_seed(seed, 22), dynamics, dash_syn, record_v=True)
    u = c * net.dt
    sent = (drive or pre_emphasis)(u, dash_syn)
    peak = max(float(np.abs(u).max()), float(np.abs(sent).max()))
    return {"input_peak": peak, "v_peak": float(np.abs(run.V).max()),
            "x_peak": float(np.abs(run.r_E @ net.D_E.T).max()), "dynamics": dynamics}


def ei_signal_error(net: EINetwork, x: np.ndarray, seed: int, dynamics: str = "reference",
                    dash_syn: int = 1) -> dict:
    """Drive ``net`` so that it should represent ``x`` (T, M) (input current for the network's own
    leak); normalised error of ``D_E r_E`` and mean rates (Hz) — the EI counterpart of
    :func:`neuromorph.quant.fakequant.signal_error`.

    Returns ``error``, ``rate_hz`` (all neurons), ``rate_E_hz``, ``rate_I_hz``, ``rates_E``
    (N_E,), ``rates_I`` (N_I,)."""
    c = current_for_signal(x, net.lam, net.dt)
    run = _run(net, c, derive_seed(seed, 23), dynamics, dash_syn)
    ne, ni = net.n_exc, net.n_inh
    return {"error": normalized_error(x, run.r_E @ net.D_E.T),
            "rate_hz": (run.rate_E_hz * ne + run.rate_I_hz * ni) / (ne + ni),
            "rate_E_hz": run.rate_E_hz, "rate_I_hz": run.rate_I_hz, "rates_E": run.rates_E, "rates_I": run.rates_I}


def quantize_ei_network(net: EINetwork, target: HardwareSpec, stats: dict, options: Optional[MappingOptions] = None,
                        margin: float = 1.25) -> QuantizedSCN:
    """Map ``net`` onto ``target`` (:func:`quantization.ei_mapping.map_ei`) with the operating
    statistics ``stats`` and the same safety margin as the SCN path
    (:func:`neuromorph.quant.fakequant.quantize_network`)."""
    return map_ei(net.F_E, net.W_EE, net.W_EI, net.W_IE, net.W_II, net.D_E, net.T_E, net.T_I, net.lam, net.dt,
                  target, input_peak=stats["input_peak"] * margin, v_peak=stats["v_peak"] * margin,
                  x_peak=stats["x_peak"] * margin, options=options)


def fake_quant_ei(q: QuantizedSCN, like: EINetwork) -> EINetwork:
    """The float EI network the integer network ``q`` implements (chip leak, dequantized weights,
    the subtractive reset folded back into the diagonals)."""
    lay = layout_of(q)
    if lay is None:
        raise ValueError("not an EI network: the quantized network records no EI layout (stats['ei'])")
    d = q.dequantize()
    return ei_from_block(d["F"], d["Omega"], d["D"], d["thresholds"], d["lam"], lay, like,
                         meta={"fake_quant_of": q.target, "dash_syn": q.dash_syn})


@dataclass
class ChipAdaptation:
    """Result of :func:`adapt_ei_to_chip`: the adapted network and what was measured.

    ``network``: refractory 0, E self-reset ``e_self_reset`` (on W_EE's diagonal), E decoder
    refitted under chip dynamics. ``candidates``: per tried reset, the held-out error and
    rates under chip dynamics (on the second part of the calibration signal)."""

    network: EINetwork
    e_self_reset: float
    candidates: list

    def to_dict(self) -> dict:
        return {"e_self_reset": self.e_self_reset, "refractory": 0, "candidates": self.candidates}


def _chip_decoder(net: EINetwork, x: np.ndarray, seed: int, dash_syn: int) -> np.ndarray:
    c = current_for_signal(x, net.lam, net.dt)
    return optimal_decoder(_run(net, c, derive_seed(seed, 41), "chip", dash_syn).r_E, x)


def adapt_ei_to_chip(net: EINetwork, x: np.ndarray, *, seed: int = 0, dash_syn: int = 1,
                     candidates: Sequence[float] = RESET_CANDIDATES, fit_fraction: float = 0.6) -> ChipAdaptation:
    """Prepare ``net`` for dynamics without a refractory period (module docstring).

    For each candidate ``f``, the E self-reset becomes ``−f · mean(T_E)`` and the refractory
    period 0; the E decoder is fitted under chip dynamics on the first ``fit_fraction`` of the
    calibration signal ``x`` (T, M) and the error measured on the rest. The best candidate's
    decoder is then refitted on all of ``x``. Weights between neurons are not changed.
    """
    x = np.asarray(x, dtype=np.float64)
    n_fit = int(round(fit_fraction * x.shape[0]))
    if n_fit < 100 or x.shape[0] - n_fit < 100:
        raise ValueError(f"calibration signal of {x.shape[0]} steps is too short to choose the E self-reset "
                         f"(need >= 100 steps on each side of the {fit_fraction:.0%} split)")
    if not candidates:
        raise ValueError("candidates must name at least one E self-reset factor")
    t_e = float(np.mean(net.T_E))
    tried = []
    best = None
    for f in candidates:
        if not f > 0:
            raise ValueError(f"E self-reset factors must be > 0 (a reset is negative), got {f}")
        work = net.copy()
        work.refractory = 0
        work.e_self_reset = -float(f) * t_e
        np.fill_diagonal(work.W_EE, work.e_self_reset)
        work.D_E = _chip_decoder(work, x[:n_fit], seed, dash_syn)
        ev = ei_signal_error(work, x[n_fit:], seed, "chip", dash_syn)
        tried.append({"factor": float(f), "e_self_reset": work.e_self_reset, "error_heldout": ev["error"],
                      "rate_E_hz": ev["rate_E_hz"], "rate_I_hz": ev["rate_I_hz"]})
        if best is None or ev["error"] < best[0]:
            best = (ev["error"], work)
    out = best[1]
    out.D_E = _chip_decoder(out, x, seed, dash_syn)
    out.meta = dict(net.meta, chip_adapted={"e_self_reset": out.e_self_reset, "refractory": 0,
                                            "decoder": "refitted under chip dynamics", "dash_syn": dash_syn})
    return ChipAdaptation(out, out.e_self_reset, tried)
