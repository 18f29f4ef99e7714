r"""Relay neurons: an SCN larger than the input/output projection on Xylo Audio 3 and Xylo IMU.

On those chips only the first 128 hidden neurons receive input events (input-expansion
neurons) and only the last 128 drive the output neurons (output-expansion neurons),
docs/xylo_integer_update.md §1.  A dense SCN needs every coding neuron fed by the input and
read out, so above 128 neurons the layout becomes::

    hidden index:  [ 2M input relays | N coding neurons | 2M output relays ]
                     first 128          anywhere           last 128

**Input relays (exact copies).**  Input channel c (the ± event channels 2j, 2j+1 of signal
dimension j) feeds only relay c, which re-emits exactly the events it received, in the same
step, to every coding neuron through recurrent weights.  Integer update of the relay
(docs/xylo_integer_update.md §2), threshold θ, input weight ``2θ``, self-weight ``−θ``, synaptic
dash 1, membrane dash 0 (memoryless V).  By induction, if the relay's post-decay Isyn was θ·n_{t−1}
and it emitted n_{t−1} events: pre-decay Isyn = θ n_{t−1} + 2θ n_t − θ n_{t−1} = 2θ n_t,
post-decay = 2θ n_t − ⌊2θ n_t / 2⌋ = θ n_t, V = θ n_t, so it emits n_t events — exactly, with no
rounding anywhere.  θ = 2^k_rec (the self-weight is −1 on the recurrent grid) and the input
weight 2θ is written on the input grid, which only the relays use.  The coding neurons then
receive ``w_in`` as the recurrent weight ``w_in · 2^(s_in − s_rec)`` (rounded when s_rec > s_in:
the one approximation of the input path) on the synapse the direct layout uses for input.  The
relay hop takes one step (hidden → hidden), which the encoder absorbs by sending the raster
one step early: the coding neurons see the same input at the same step as in the direct layout.

**Output relays (sigma-delta re-quantizers).**  For output m, relay (m, +) collects the
positive readout weights and relay (m, −) the negative ones, ``|w_out[m, i]|`` as recurrent
weights from coding neuron i (dash 1), integrates them (membrane dash 15 with bias +1, which
cancels the chip's minimum decay of 1 per step so the remainder is kept), and emits one event
per ``2^s_rec · q`` of charge, each carrying ``±q`` on the readout grid (q =
:data:`OUTPUT_QUANTUM`).  So the readout receives the same charge as in the direct layout,
in quanta of q readout LSBs, the remainder carried to the next event; two steps later
(coding → relay → output neuron) instead of one, which the decoder absorbs.

Cost: 4M hidden neurons (the largest SCN is ``max_hidden − 4M``: 984 on Xylo Audio 3 and 488 on
Xylo IMU for M = 2), one extra step of read-out latency, the rounding of the relayed input
weights and the readout quantum; measured in ``tests/test_relays.py`` and the report of
issue 12.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from quantization.hardware import HardwareSpec
from quantization.mapping import QuantizedSCN

#: Readout LSBs one output-relay event carries (events per coding spike ≈ |w_out| / q ≤ 127 / q).
OUTPUT_QUANTUM = 16
#: Membrane dash of an output relay: the largest, so V holds its remainder (the leak of 1 per step
#: that the chip's minimum decay leaves is cancelled by a bias of +1).
OUTPUT_RELAY_DASH_MEM = 15


@dataclass(frozen=True)
class RelayPlan:
    """Where relays sit.  ``n_in`` input relays (0 or 2M) first, then ``n_coding`` coding neurons,
    then ``n_out`` output relays (0 or 2M).  ``input_repeat`` r: events a relay emits per input
    event (1, or 2 when the relayed weight would not fit int8 otherwise); ``output_quantum`` q."""

    n_coding: int
    n_signals: int
    n_in: int
    n_out: int
    input_repeat: int = 1
    output_quantum: int = OUTPUT_QUANTUM

    @property
    def n_hidden(self) -> int:
        return self.n_in + self.n_coding + self.n_out

    @property
    def coding(self) -> slice:
        return slice(self.n_in, self.n_in + self.n_coding)

    @property
    def input_lead(self) -> int:
        """Steps the raster is sent early (the input relay hop)."""
        return 1 if self.n_in else 0

    @property
    def output_lag(self) -> int:
        """Extra steps between a coding spike and the output neurons (the output relay hop)."""
        return 1 if self.n_out else 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Optional[dict]) -> Optional["RelayPlan"]:
        return cls(**d) if d else None


def relays_needed(n_coding: int, target: HardwareSpec) -> tuple[bool, bool]:
    """(input relays, output relays): whether the target's projection limits bind at N neurons."""
    need_in = target.input_projection == "first" and n_coding > int(target.input_projection_size or 0)
    need_out = target.output_projection == "last" and n_coding > int(target.output_projection_size or 0)
    return need_in, need_out


def relay_count(n_coding: int, n_signals: int, target: HardwareSpec) -> int:
    """Hidden neurons the relays take for an N-neuron, M-signal SCN on ``target`` (0 if none)."""
    need_in, need_out = relays_needed(n_coding, target)
    return 2 * n_signals * (int(need_in) + int(need_out))


def max_coding_neurons(n_signals: int, target: HardwareSpec) -> Optional[int]:
    """Largest SCN that deploys on ``target`` with relays (None = no hidden-neuron limit)."""
    if target.max_hidden is None:
        return None
    n = int(target.max_hidden)
    while n > 0 and n + relay_count(n, n_signals, target) > target.max_hidden:
        n -= 1
    return n


def plan_for(q: QuantizedSCN, target: HardwareSpec) -> Optional[RelayPlan]:
    """The relay plan of ``q`` on ``target``, or None when the direct layout fits."""
    need_in, need_out = relays_needed(q.n_neurons, target)
    if not (need_in or need_out):
        return None
    m = q.n_inputs
    repeat = 1
    if need_in:
        relayed = np.abs(q.w_in).max(initial=0) * 2.0 ** (q.shift_in - q.shift_rec)
        qm = 2 ** (q.weight_bits - 1) - 1
        if round(relayed) > qm:
            repeat = 2
            if round(relayed / 2) > qm:
                raise ValueError(f"input relays: the relayed input weight {relayed:g} does not fit the recurrent "
                                 f"grid (shift_in {q.shift_in} > shift_rec {q.shift_rec} + 1)")
    return RelayPlan(n_coding=q.n_neurons, n_signals=m, n_in=2 * m if need_in else 0, n_out=2 * m if need_out else 0,
                     input_repeat=repeat)


def relayed_input_weights(q: QuantizedSCN, plan: RelayPlan) -> np.ndarray:
    """Recurrent weights (2M, N) from input relay c to coding neuron i: ±w_in on the recurrent grid."""
    w = np.zeros((2 * q.n_inputs, q.n_neurons))
    w[0::2] = q.w_in.T
    w[1::2] = -q.w_in.T
    return np.rint(w * 2.0 ** (q.shift_in - q.shift_rec) / plan.input_repeat).astype(np.int64)


def relay_spec_arrays(q: QuantizedSCN, target: HardwareSpec, plan: RelayPlan, nsyn: int) -> dict:
    """Rockpool spec arrays of the relay layout (paper → ``[source, target, syn]`` orientation)."""
    m, n, H = q.n_inputs, q.n_neurons, plan.n_hidden
    cod = np.arange(plan.n_in, plan.n_in + n)
    last = nsyn - 1
    w_in = np.zeros((2 * m, H, nsyn), dtype=np.int64)
    w_rec = np.zeros((H, H, nsyn), dtype=np.int64)
    w_out = np.zeros((H, m), dtype=np.int64)
    threshold = np.zeros(H, dtype=np.int64)
    dash_mem = np.full(H, q.dash_mem, dtype=np.int64)
    dash_syn = np.full(H, q.dash_syn, dtype=np.int64)
    bias = np.zeros(H, dtype=np.int64)
    w_rec[np.ix_(cod, cod, [last])] = q.w_rec.T[:, :, None]
    threshold[cod] = q.threshold
    shift_in = q.shift_in
    if plan.n_in:
        r = plan.input_repeat
        theta = 2 ** q.shift_rec  # self-weight −1 on the recurrent grid = −θ
        shift_in = min(int(target.max_weight_shift or 0), q.shift_rec + r)
        w_relay = (2 * r * theta) >> shift_in  # 2rθ on the input grid (exact: shift_in ≤ s_rec + r)
        for c in range(2 * m):
            w_in[c, c, 0] = w_relay
            w_rec[c, c, 0] = -1
            threshold[c] = theta
            dash_mem[c] = 0
            dash_syn[c] = 1
        w_rec[np.ix_(np.arange(2 * m), cod, [0])] = relayed_input_weights(q, plan)[:, :, None]
    else:
        w_in[0::2, cod, 0] = q.w_in.T
        w_in[1::2, cod, 0] = -q.w_in.T
    if plan.n_out:
        qo = int(plan.output_quantum)
        base = plan.n_in + n
        for j in range(m):
            for s, sign in ((0, 1), (1, -1)):
                p = base + 2 * j + s
                w_rec[cod, p, 0] = np.maximum(sign * q.w_out[j], 0)
                w_out[p, j] = sign * qo
                threshold[p] = qo * 2 ** q.shift_rec
                dash_mem[p] = OUTPUT_RELAY_DASH_MEM
                dash_syn[p] = 1
                bias[p] = 1
    else:
        w_out[cod] = q.w_out.T
    if nsyn == 1:
        w_in, w_rec = w_in[:, :, 0], w_rec[:, :, 0]
    return dict(weights_in=w_in, weights_rec=w_rec, weights_out=w_out, threshold=threshold, dash_mem=dash_mem,
                dash_syn=dash_syn, dash_syn_2=dash_syn.copy(), bias=bias, weight_shift_in=int(shift_in))

