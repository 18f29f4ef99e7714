r"""Excitatory–inhibitory (Dale's law) networks on an integer core: layout, mapping, Dale check.

An EI network (the paper's Fig 4; float model in ``neuromorph.network.EINetwork``) has N_E
excitatory neurons driven by the input through ``F_E`` (N_E, M) and N_I inhibitory neurons with
no direct input. On the chip **both populations are hidden neurons, E first, then I**:
hidden neuron ``i < N_E`` is E neuron ``i``, hidden neuron ``N_E + j`` is I neuron ``j``. (E first
also puts the input-receiving neurons at the front, where Xylo Audio 3 and Xylo IMU accept input.)

The block network (paper orientation, ``Omega[i, k]`` = synapse k → i):

=================  =========================================  ==============================
array              block                                      sign (Dale's law)
=================  =========================================  ==============================
``F`` (N, M)       ``[F_E; 0]``                               free (input, not a neuron)
``Omega`` (N, N)   ``[[W_EE, W_IE], [W_EI, W_II]]``           column k ≥ 0 for E sources,
                                                              ≤ 0 for I sources (off-diagonal)
``D`` (M, N)       ``[D_E, 0]`` — read-out from E only        free
``thresholds``     ``[T_E; T_I]``
=================  =========================================  ==============================

Self-resets. ``EINetwork`` keeps them on the diagonals of ``W_EE`` (the fixed E self-reset,
``e_self_reset`` = −0.02 in the reference) and ``W_II`` (learnt, ≈ −0.5 … −0.9). They are handled
exactly as the SCN mapping handles Ω's diagonal (:func:`quantization.mapping.map_scn`): the chip's
subtractive reset removes θ_k at once and the remainder ``Ω_kk + T_k`` travels as a recurrent
self-weight ``w_rec[k, k]`` (the *residual*). The diagonal is a reset, not a synapse between two
neurons, so Dale's population sign does not apply to it; instead the check requires that the
residual keeps the sign of its float value (or rounds to 0) and that the whole self-effect
``−θ_k + w_rec[k, k]·2^s·G`` stays ≤ 0 (a reset never excites).

Mapping: :func:`map_ei` calls :func:`quantization.mapping.map_scn` on the block arrays with two
options forced, because they would break Dale's law or the layout:

* ``symmetric=False`` — symmetric rounding averages ``Ω_ik`` with ``Ω_ki`` when they are within a
  grid step; an E→I weight and its I→E partner have opposite signs, so averaging could flip one;
* ``dedupe=False`` — deduplication nudges identical input rows apart; every I row of ``F`` is 0 by
  construction and must stay 0 (I neurons receive no input).

Round-to-nearest and stochastic rounding never change a sign (a weight may round to 0), so the
mapped network keeps Dale's law; :func:`dale_check` verifies that on the integers — the quantize
stage's fit check and ``verify`` both call it — and counts the weights rounded to zero per pathway.

This module never imports ``neuromorph``: arrays and a :class:`HardwareSpec` in, a
:class:`~quantization.mapping.QuantizedSCN` out whose ``stats["ei"]`` records the layout.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

from .fit_check import Violation
from .hardware import HardwareSpec
from .mapping import MappingOptions, QuantizedSCN, map_scn, syn_gain

__all__ = ["EILayout", "PATHWAYS", "ei_block_arrays", "pathway_blocks", "map_ei", "DaleReport", "dale_check",
           "dale_violations", "layout_of"]

#: pathway name -> (target population, source population); ``Omega[target, source]``.
PATHWAYS: dict[str, tuple[str, str]] = {"E->E": ("E", "E"), "I->E": ("E", "I"), "E->I": ("I", "E"),
                                        "I->I": ("I", "I")}
#: the sign every off-diagonal weight from a population must have: +1 (≥ 0) or −1 (≤ 0).
SOURCE_SIGN = {"E": 1, "I": -1}


@dataclass(frozen=True)
class EILayout:
    """Hidden-neuron order of an EI network on the chip: E neurons ``0 … N_E−1``, then I neurons
    ``N_E … N_E+N_I−1``."""

    n_exc: int
    n_inh: int
    order: str = "E first, then I"

    def __post_init__(self) -> None:
        if int(self.n_exc) < 1 or int(self.n_inh) < 1:
            raise ValueError(f"an EI layout needs N_E >= 1 and N_I >= 1, got {self.n_exc}, {self.n_inh}")

    @property
    def n(self) -> int:
        return int(self.n_exc) + int(self.n_inh)

    def index(self, pop: str) -> slice:
        """Hidden-neuron indices of population ``"E"`` or ``"I"``."""
        return slice(0, self.n_exc) if pop == "E" else slice(self.n_exc, self.n)

    def sign_of_source(self) -> np.ndarray:
        """(N,) +1 for E neurons, −1 for I neurons (the sign of their outgoing weights)."""
        return np.concatenate([np.ones(self.n_exc, np.int64), -np.ones(self.n_inh, np.int64)])

    def to_dict(self) -> dict:
        return {"n_exc": int(self.n_exc), "n_inh": int(self.n_inh), "order": self.order}


def layout_of(q: QuantizedSCN) -> Optional[EILayout]:
    """The EI layout a quantized network records in ``stats["ei"]`` (``None``: an SCN)."""
    d = (q.stats or {}).get("ei")
    if not d:
        return None
    lay = EILayout(int(d["n_exc"]), int(d["n_inh"]))
    if lay.n != q.n_neurons:
        raise ValueError(f"stats['ei'] says N_E + N_I = {lay.n} but the network has {q.n_neurons} hidden neurons")
    return lay


def ei_block_arrays(F_E, W_EE, W_EI, W_IE, W_II, D_E, T_E, T_I) -> dict:
    """The block network of an EI network (module docstring), E first then I.

    Parameters
    ----------
    F_E : (N_E, M); W_EE : (N_E, N_E); W_EI : (N_I, N_E); W_IE : (N_E, N_I); W_II : (N_I, N_I);
    D_E : (M, N_E); T_E : (N_E,); T_I : (N_I,) — the ``EINetwork`` arrays (target, source order).

    Returns
    -------
    dict with ``F`` (N, M), ``Omega`` (N, N), ``D`` (M, N), ``thresholds`` (N,), ``layout``.
    """
    F_E = np.asarray(F_E, dtype=np.float64)
    ne, m = F_E.shape
    W_EI = np.asarray(W_EI, dtype=np.float64)
    ni = W_EI.shape[0]
    lay = EILayout(ne, ni)
    shapes = {"W_EE": (ne, ne), "W_EI": (ni, ne), "W_IE": (ne, ni), "W_II": (ni, ni), "D_E": (m, ne),
              "T_E": (ne,), "T_I": (ni,)}
    arrs = {}
    for name, a in (("W_EE", W_EE), ("W_EI", W_EI), ("W_IE", W_IE), ("W_II", W_II), ("D_E", D_E), ("T_E", T_E),
                    ("T_I", T_I)):
        arrs[name] = np.asarray(a, dtype=np.float64)
        if arrs[name].shape != shapes[name]:
            raise ValueError(f"{name} must have shape {shapes[name]} (N_E={ne}, N_I={ni}, M={m}), "
                             f"got {arrs[name].shape}")
    F = np.vstack([F_E, np.zeros((ni, m))])
    Omega = np.block([[arrs["W_EE"], arrs["W_IE"]], [arrs["W_EI"], arrs["W_II"]]])
    D = np.hstack([arrs["D_E"], np.zeros((m, ni))])
    return {"F": F, "Omega": Omega, "D": D, "thresholds": np.concatenate([arrs["T_E"], arrs["T_I"]]),
            "layout": lay}


def pathway_blocks(Omega: np.ndarray, layout: EILayout) -> dict[str, np.ndarray]:
    """The four pathways of a block matrix (views): ``"E->E"`` (N_E, N_E), ``"I->E"`` (N_E, N_I),
    ``"E->I"`` (N_I, N_E), ``"I->I"`` (N_I, N_I)."""
    return {name: Omega[layout.index(tgt), layout.index(src)] for name, (tgt, src) in PATHWAYS.items()}


def map_ei(F_E, W_EE, W_EI, W_IE, W_II, D_E, T_E, T_I, lam: float, dt: float, target: HardwareSpec, *,
           input_peak: float, v_peak: Optional[float] = None, x_peak: Optional[float] = None,
           options: Optional[MappingOptions] = None) -> QuantizedSCN:
    """Map an EI network onto ``target`` (the SCN mapping on the block network, module docstring).

    Arguments as :func:`ei_block_arrays` and :func:`quantization.mapping.map_scn`. The result's
    ``stats`` hold ``"ei"`` (the layout), ``"dale"`` (:func:`dale_check` against the float
    weights, incl. weights rounded to zero per pathway) and ``"forced_options"``.
    """
    blk = ei_block_arrays(F_E, W_EE, W_EI, W_IE, W_II, D_E, T_E, T_I)
    lay = blk["layout"]
    opts = options or MappingOptions()
    forced = {k: getattr(opts, k) for k in ("symmetric", "dedupe") if getattr(opts, k)}
    opts = replace(opts, symmetric=False, dedupe=False)
    q = map_scn(blk["F"], blk["Omega"], blk["D"], blk["thresholds"], lam, dt, target, input_peak=input_peak,
                v_peak=v_peak, x_peak=x_peak, options=opts)
    q.stats["ei"] = lay.to_dict()
    q.stats["forced_options"] = {"symmetric": False, "dedupe": False,
                                 "overridden": sorted(forced), "why": "keeps Dale's law and the I rows of F at 0"}
    q.stats["dale"] = dale_check(q, lay, blk["Omega"], blk["thresholds"]).to_dict()
    return q


@dataclass
class DaleReport:
    """Result of :func:`dale_check`.

    Attributes
    ----------
    ok : bool
        No weight breaks its population's sign or changes sign against the float network, no
        input reaches an I neuron, no read-out comes from an I neuron, every self-reset is ≤ 0.
    problems : list of dict
        One entry per kind of problem: ``kind``, ``count``, first offending ``index`` (hidden
        neuron indices, ``[target, source]`` for weights) and a one-line ``message``.
    rounded_to_zero : dict
        Per pathway (and ``"self_reset_residual"``): float weights ≠ 0 whose integer is 0
        (only when the float weights are given).
    nonzero_float, nonzero_int : dict
        Per pathway: non-zero off-diagonal weights before and after quantization.
    """

    ok: bool = True
    problems: list = field(default_factory=list)
    rounded_to_zero: dict = field(default_factory=dict)
    nonzero_float: dict = field(default_factory=dict)
    nonzero_int: dict = field(default_factory=dict)

    def add(self, kind: str, bad: np.ndarray, message: str) -> None:
        n = int(np.count_nonzero(bad))
        if n:
            idx = [int(i) for i in np.argwhere(bad)[0]]
            self.problems.append({"kind": kind, "count": n, "index": idx, "message": f"{message} ({n} entries; "
                                                                                     f"first at {idx})"})
            self.ok = False

    def to_dict(self) -> dict:
        return {"ok": self.ok, "problems": list(self.problems), "rounded_to_zero": dict(self.rounded_to_zero),
                "nonzero_float": dict(self.nonzero_float), "nonzero_int": dict(self.nonzero_int)}


def dale_check(q: QuantizedSCN, layout: Optional[EILayout] = None, Omega_float: Optional[np.ndarray] = None,
               thresholds_float: Optional[np.ndarray] = None) -> DaleReport:
    """Check that the integer network ``q`` keeps Dale's law (module docstring).

    Parameters
    ----------
    q : QuantizedSCN
        The integer block network (E first, then I).
    layout : EILayout, optional
        Default: the layout ``q.stats["ei"]`` records.
    Omega_float, thresholds_float : (N, N), (N,), optional
        The float block network's Ω and thresholds; with them, every integer weight is also
        compared with its own float weight (no sign change; rounded-to-zero counts), and the
        residual self-weights with ``Ω_kk + T_k``.

    Returns
    -------
    DaleReport
    """
    lay = layout or layout_of(q)
    if lay is None:
        raise ValueError("not an EI network: the quantized network records no EI layout (stats['ei'])")
    n = q.n_neurons
    if lay.n != n:
        raise ValueError(f"layout has N_E + N_I = {lay.n}, the network {n} hidden neurons")
    rep = DaleReport()
    W = np.asarray(q.w_rec, dtype=np.int64)
    off = ~np.eye(n, dtype=bool)
    sign = lay.sign_of_source()[None, :]  # column k = source k
    rep.add("dale_sign", off & (W * sign < 0),
            "a recurrent weight has the wrong sign for its source population (E→ must be ≥ 0, I→ ≤ 0)")
    i_in = np.asarray(q.w_in)[lay.index("I")]
    rep.add("input_to_I", i_in != 0, "an I neuron receives input (w_in rows of I neurons must be 0)")
    rep.add("readout_from_I", np.asarray(q.w_out)[:, lay.index("I")] != 0,
            "the read-out takes I spikes (w_out columns of I neurons must be 0; the read-out is from E only)")
    # whole self-effect in integer state units: −θ at once plus the residual's total charge
    G = syn_gain(q.dash_syn)
    self_effect = -np.asarray(q.threshold, np.float64) + np.diag(W) * 2.0 ** q.shift_rec * G
    rep.add("self_reset_positive", self_effect > 0, "a self-reset excites its neuron (−θ + residual > 0)")
    blocks_i = pathway_blocks(np.where(off, W, 0), lay)
    rep.nonzero_int = {k: int(np.count_nonzero(v)) for k, v in blocks_i.items()}
    if Omega_float is not None:
        Om = np.asarray(Omega_float, dtype=np.float64)
        if Om.shape != (n, n):
            raise ValueError(f"Omega_float must have shape {(n, n)}, got {Om.shape}")
        rep.add("sign_change", off & (np.sign(W) * np.sign(Om) < 0),
                "a recurrent weight changed sign in quantization")
        rep.add("zero_became_nonzero", off & (Om == 0) & (W != 0), "a weight that is 0 in the float network is not 0")
        blocks_f = pathway_blocks(np.where(off, Om, 0), lay)
        rep.nonzero_float = {k: int(np.count_nonzero(v)) for k, v in blocks_f.items()}
        rep.rounded_to_zero = {k: int(np.count_nonzero((blocks_f[k] != 0) & (blocks_i[k] == 0))) for k in PATHWAYS}
        if thresholds_float is not None:
            resid_f = np.diag(Om) + np.asarray(thresholds_float, dtype=np.float64)
            resid_i = np.diag(W)
            rep.add("residual_sign_change", np.sign(resid_i) * np.sign(resid_f) < 0,
                    "a self-reset residual (Ω_kk + T_k) changed sign in quantization")
            rep.rounded_to_zero["self_reset_residual"] = int(np.count_nonzero((resid_f != 0) & (resid_i == 0)))
    return rep


def dale_violations(q: QuantizedSCN) -> list[Violation]:
    """Fit-check violations for an EI network (empty for an SCN): one :class:`Violation` per
    kind of Dale's-law problem :func:`dale_check` finds on the integers alone."""
    if layout_of(q) is None:
        return []
    rep = dale_check(q)
    return [Violation(field="dale", index=tuple(p["index"]), value=p["count"], limit=0,
                      message=f"Dale's law: {p['message']}") for p in rep.problems]
