"""Hand-computed integer cases for the Xylo emulator (each expected value is worked out in a comment).

Conventions: ``rec(...)`` runs the emulator with recording and returns the recording dict (T, N);
large thresholds (32767) keep neurons silent where a test only looks at the synaptic path, and
``dash = 15`` makes a decay step remove exactly 1 from a positive state (``v >> 15 == 0`` -> 1).
"""

from __future__ import annotations

import numpy as np
import pytest

from quantization.chip_arith import bitshift_decayed, bitshift_decrement, saturate, shift_weight_array, wrap

from neuromorph.backends.xylo.emulator import (
    BatchedSpec,
    XyloState,
    emulate,
    fire_hidden,
    fire_output,
    integrate_vmem,
)
from neuromorph.backends.xylo.spec import XyloSpec

SILENT = 32767  # threshold that a test's neuron never reaches


def spec(n_in: int = 1, n_hid: int = 1, n_out: int = 1, **kw) -> XyloSpec:
    """Small spec with silent neurons and zero weights unless given."""
    d = dict(
        weights_in=np.zeros((n_in, n_hid, 2), int),
        weights_rec=np.zeros((n_hid, n_hid, 2), int),
        weights_out=np.zeros((n_hid, n_out), int),
        threshold=np.full(n_hid, SILENT),
        threshold_out=np.full(n_out, SILENT),
        dash_mem=np.full(n_hid, 15),
        dash_syn=np.full(n_hid, 15),
        dash_syn_2=np.full(n_hid, 15),
        dash_mem_out=np.full(n_out, 15),
        dash_syn_out=np.full(n_out, 15),
    )
    d.update(kw)
    return XyloSpec(**d)


def rec(s: XyloSpec, x: np.ndarray, **kw) -> dict[str, np.ndarray]:
    r = emulate(s, np.asarray(x), record=True, **kw)
    return {**r.recording, "out": r.output}


def pulse(T: int, n_in: int = 1, t: int = 0, counts: list[int] | int = 1) -> np.ndarray:
    x = np.zeros((T, n_in), int)
    x[t] = counts
    return x


# ----------------------------------------------------------------------- arithmetic helpers
def test_bitshift_decay_at_least_one_and_asymmetric_rounding() -> None:
    # +3 >> 1 = 1 -> 3 - 1 = 2;  -3 >> 1 = -2 (floor) -> -3 + 2 = -1
    assert bitshift_decrement(3, 1) == 1 and bitshift_decayed(3, 1) == 2
    assert bitshift_decrement(-3, 1) == -2 and bitshift_decayed(-3, 1) == -1
    # positive state always decays by at least 1: 5 >> 15 == 0 -> 1
    assert bitshift_decrement(5, 15) == 1 and bitshift_decayed(5, 15) == 4
    # negative: floor gives -1 already; zero stays zero; dash 0 empties the state
    assert bitshift_decayed(-5, 15) == -4 and bitshift_decayed(0, 7) == 0 and bitshift_decayed(1234, 0) == 0 and bitshift_decayed(-1234, 0) == 0


def test_saturation_and_wrap_helpers() -> None:
    assert saturate(40000, 16) == 32767 and saturate(-40000, 16) == -32768 and saturate(-5, 16) == -5
    assert wrap(32768, 16) == -32768 and wrap(34000, 16) == 34000 - 65536 and wrap(-32769, 16) == 32767
    # 100 << 9 = 51200 narrows to int16: 51200 - 65536 = -14336; 100 << 15 = 50 * 65536 -> 0
    assert shift_weight_array(np.array([100, -100, 3]), 9, 16).tolist() == [-14336, 14336, 1536]
    assert shift_weight_array(np.array([100]), 15, 16).tolist() == [0]


def test_membrane_and_fire_helpers() -> None:
    # dV = sat(-D(V) + I) ; dV = sat(dV + bias) ; V = sat(V + dV)
    assert integrate_vmem(100, 10, 1, 0) == 100 - 50 + 10
    assert integrate_vmem(32000, 30000, 15, 0) == 32767  # V saturates
    assert integrate_vmem(-32768, 0, 0, 0) == -32768  # -D = 32768 wraps to -32768 in int16
    # subtractive reset: 100 // 30 = 3 events, 100 - 90 = 10; cap at 31 counts copied events
    assert fire_hidden(100, 30, 0) == (3, 10)
    assert fire_hidden(10000, 10, 0) == (31, 10000 - 310)
    assert fire_hidden(100, 30, 29) == (31, 100 - 60)
    assert fire_hidden(5, 0, 0) == (31, 5)  # threshold 0: 31 events, V unchanged
    assert fire_output(1000, 10) == (1, 990) and fire_output(9, 10) == (0, 9)


# ----------------------------------------------------------------------- emulator: decay
def test_decay_at_least_one_in_the_emulator() -> None:
    s = spec(dash_syn=[1], dash_syn_2=[1])
    for start, expect in ((3, [2, 1, 0, 0]), (-3, [-1, 0, 0, 0])):
        # 3 -> 3 - 1 = 2 -> 2 - 1 = 1 -> 1 - 1 (at least 1) = 0 ; -3 -> -3 - (-2) = -1 -> -1 - (-1) = 0
        init = XyloState(*(np.zeros(1, int) for _ in range(6)))
        init.isyn[:] = start
        init.isyn2[:] = start
        r = rec(s, np.zeros((4, 1), int), initial_state=init)
        assert r["Isyn"][:, 0].tolist() == expect
        assert r["Isyn2"][:, 0].tolist() == expect


def test_dash_syn_zero_wipes_input() -> None:
    # the new event is decayed before it reaches V: Isyn - (Isyn >> 0) = 0
    r = rec(spec(weights_in=[[[100, 0]]], dash_syn=[0], dash_mem=[1]), pulse(4))
    assert r["Isyn"][:, 0].tolist() == [0, 0, 0, 0]
    assert r["Vmem"][:, 0].tolist() == [0, 0, 0, 0]


def test_isyn_50_25_13_7_sequence_and_v_reaching_96() -> None:
    # Isyn: 100 - 50 = 50, 50 - 25 = 25, 25 - 12 = 13, 13 - 6 = 7, 4, 2, 1, 0
    # V (dash_mem 15, decays by 1): 50, 50-1+25 = 74, 86, 92, 95, 96, 96, 95
    r = rec(spec(weights_in=[[[100, 0]]], dash_syn=[1], dash_mem=[15]), pulse(8))
    assert r["Isyn"][:, 0].tolist() == [50, 25, 13, 7, 4, 2, 1, 0]
    assert r["Vmem"][:, 0].tolist() == [50, 74, 86, 92, 95, 96, 96, 95]
    assert max(r["Vmem"][:, 0]) == 96


def test_memoryless_membrane_at_dash_mem_zero() -> None:
    # V = V - V + Isyn: V follows Isyn exactly (50, 25, 13)
    r = rec(spec(weights_in=[[[100, 0]]], dash_syn=[1], dash_mem=[0]), pulse(3))
    assert r["Vmem"][:, 0].tolist() == r["Isyn"][:, 0].tolist() == [50, 25, 13]


# ----------------------------------------------------------------------- saturation, order
def test_isyn_saturates_per_addition_in_channel_order() -> None:
    # channel 0: 15 x (127 << 8 = 32512) saturates at 32767; channel 1: 1 x (-128 << 8 = -32768)
    # -> 32767 - 32768 = -1 ; decay at dash 15: -1 >> 15 = -1 -> 0.
    # (summing first would give 15*32512 - 32768 -> +32767 -> 32766)
    w = np.zeros((2, 1, 2), int)
    w[0, 0, 0], w[1, 0, 0] = 127, -128
    r = rec(spec(n_in=2, weights_in=w, weight_shift_in=8), pulse(1, 2, counts=[15, 1]))
    assert r["Isyn"][0, 0] == 0
    # reversed channels: -32768 first, then +15*32512 -> sat(-32768 + 487680) = 32767 -> 32766
    r = rec(spec(n_in=2, weights_in=w[::-1].copy(), weight_shift_in=8), pulse(1, 2, counts=[1, 15]))
    assert r["Isyn"][0, 0] == 32766


def test_input_delivered_before_recurrent_events() -> None:
    # t0: channel 1 drives neuron 0 (threshold 1) to 31 events. t1: neuron 1 first receives channel 0
    # (15 x -32768 -> -32768), then neuron 0's 31 events x 32512 -> sat(-32768 + 1007872) = 32767,
    # decayed by 1 -> 32766. Recurrent-first would end at -32768 + 1 = -32767.
    w_in = np.zeros((2, 2, 2), int)
    w_in[0, 1, 0], w_in[1, 0, 0] = -128, 127
    w_rec = np.zeros((2, 2, 2), int)
    w_rec[0, 1, 0] = 127
    s = spec(n_in=2, n_hid=2, weights_in=w_in, weights_rec=w_rec, threshold=[1, SILENT],
             weight_shift_in=8, weight_shift_rec=8)  # fmt: skip
    x = np.array([[0, 1], [15, 0]])
    r = rec(s, x)
    assert r["Spikes"][0].tolist() == [31, 0]
    assert r["Isyn"][1, 1] == 32766


def test_vmem_saturates_both_ways() -> None:
    # Isyn: 15 x (127 << 8) saturates at 32767 -> 32766 after decay. t0: V = 32766 >= 20000 -> 1 event,
    # V = 12766. t1: Isyn 32765, V = sat(12766 - 1 + 32765 = 45530) = 32767 -> 1 event, V = 12767.
    # (unsaturated, 45530 would give 2 events and V = 5530)
    r = rec(spec(weights_in=[[[127, 0]]], weight_shift_in=8, threshold=[20000]), pulse(2, counts=15))
    assert r["Spikes"][:, 0].tolist() == [1, 1] and r["Vmem"][:, 0].tolist() == [12766, 12767]
    # negative: Isyn -32768 -> -32767; V: -32767, then sat(-32767 + 1 - 32766) = -32768, stays there
    r = rec(spec(weights_in=[[[-128, 0]]], weight_shift_in=8), pulse(3, counts=15))
    assert r["Vmem"][:, 0].tolist() == [-32767, -32768, -32768]


def test_vmem_pinned_at_minimum_with_dash_mem_zero() -> None:
    # V = -32768, dash_mem 0: -D(V) = 32768 wraps to -32768 in int16, so V stays -32768 even with
    # positive Isyn 1000 (sat(-32768 + 1000) = -31768; V = sat(-32768 - 31768) = -32768).
    init = XyloState(*(np.zeros(1, int) for _ in range(6)))
    init.vmem[:] = -32768
    init.isyn[:] = 1001  # decays to 1000 first
    r = rec(spec(dash_mem=[0]), np.zeros((1, 1), int), initial_state=init)
    assert r["Vmem"][0, 0] == -32768


# ----------------------------------------------------------------------- spikes and caps
def test_subtractive_reset_produces_multiple_events() -> None:
    # dash_syn 0 is avoided: Isyn 101 -> 100 after decay; V = 100; threshold 30 -> 3 events, V = 10
    r = rec(spec(weights_in=[[[101, 0]]], threshold=[30]), pulse(1))
    assert r["Spikes"][0, 0] == 3 and r["Vmem"][0, 0] == 10


def test_hidden_event_cap_31() -> None:
    # V = 15*101 - 1 = 1514, threshold 10 -> 151 events wanted, 31 emitted, V = 1514 - 310 = 1204
    r = rec(spec(weights_in=[[[101, 0]]], threshold=[10]), pulse(1, counts=15))
    assert r["Spikes"][0, 0] == 31 and r["Vmem"][0, 0] == 1204


def test_input_cap_15_per_channel_and_step() -> None:
    # 40 input events count as 15: Isyn = 15*100 - 1 = 1499
    s = spec(weights_in=[[[100, 0]]])
    assert rec(s, pulse(1, counts=40))["Isyn"][0, 0] == 1499
    assert np.array_equal(rec(s, pulse(5, counts=40))["Vmem"], rec(s, pulse(5, counts=15))["Vmem"])


def test_threshold_zero_and_negative_threshold_wrap() -> None:
    # threshold 0, V = 0: 31 events every step, V unchanged
    r = rec(spec(threshold=[0]), np.zeros((2, 1), int))
    assert r["Spikes"][:, 0].tolist() == [31, 31] and r["Vmem"][:, 0].tolist() == [0, 0]
    # bias 30000, threshold -2000: V = 30000 -> 32000 (1) -> 34000 wraps to -31536 (2), stop
    r = rec(spec(threshold=[-2000], bias=[30000]), np.zeros((1, 1), int))
    assert r["Spikes"][0, 0] == 2 and r["Vmem"][0, 0] == -31536


def test_output_at_most_one_event_and_one_reset() -> None:
    # hidden neuron (threshold 1) makes 31 events at t0; readout t1: Isyn_out = 31*100 - 1 = 3099,
    # V_out = 3099 >= 10 -> exactly 1 event, V_out = 3089
    s = spec(weights_in=[[[101, 0]]], weights_out=[[100]], threshold=[1], threshold_out=[10])
    r = rec(s, pulse(2))
    assert r["out"][:, 0].tolist() == [0, 1]
    assert r["Isyn_out"][1, 0] == 3099 and r["Vmem_out"][1, 0] == 3089


def test_latencies_input_0_hidden_1_output_1() -> None:
    # input at t0 -> hidden event at t0 -> hidden neuron 1 (recurrent) at t1 and output at t1
    w_rec = np.zeros((2, 2, 2), int)
    w_rec[0, 1, 0] = 101
    w_out = np.zeros((2, 1), int)
    w_out[0, 0] = 101
    w_in = np.zeros((1, 2, 2), int)
    w_in[0, 0, 0] = 101
    s = spec(n_hid=2, weights_in=w_in, weights_rec=w_rec, weights_out=w_out, threshold=[100, 100],
             threshold_out=[100])  # fmt: skip
    r = rec(s, pulse(2))
    assert r["Spikes"][:, 0].tolist() == [1, 0]
    assert r["Spikes"][:, 1].tolist() == [0, 1]
    assert r["out"][:, 0].tolist() == [0, 1]


def test_weights_out_rows_map_onto_last_hidden_neurons() -> None:
    # 3 hidden neurons, weights_out has 1 row -> it belongs to hidden neuron 2
    w_in = np.zeros((1, 3, 2), int)
    w_in[0, 2, 0] = 101
    s = spec(n_hid=3, weights_in=w_in, weights_out=[[50]], threshold=[SILENT, SILENT, 100])
    r = rec(s, pulse(2))
    assert r["Spikes"][0].tolist() == [0, 0, 1]
    assert r["Isyn_out"][1, 0] == 49  # 1 event x 50, decayed by 1
    w_in[0, 2, 0], w_in[0, 0, 0] = 0, 101  # neuron 0 fires instead: no readout input
    s = spec(n_hid=3, weights_in=w_in, weights_out=[[50]], threshold=[100, SILENT, SILENT])
    assert rec(s, pulse(2))["Isyn_out"][1, 0] == 0


# ----------------------------------------------------------------------- aliases
def test_alias_buffer_semantics() -> None:
    # Isyn 101 -> 100 = V for each neuron driven; thresholds give own event counts
    w_in = np.zeros((1, 3, 2), int)
    w_in[0, :, 0] = [101, 101, 0]
    # neuron 0 (thr 5) makes 20 events, copies them into neuron 1's buffer; neuron 1 (thr 4) starts at
    # n = 20 and adds only 11 own events (cap 31), so V_1 = 100 - 44 = 56; neuron 0's V = 100 - 100 = 0
    s = spec(n_hid=3, weights_in=w_in, threshold=[5, 4, SILENT], aliases=[1, -1, -1])
    r = rec(s, pulse(1))
    assert r["Spikes"][0].tolist() == [20, 31, 0] and r["Vmem"][0].tolist() == [0, 56, 0]
    # alias to a LOWER index: neuron 1 (thr 30 -> 3 events) copies into neuron 0 after neuron 0 was
    # updated: count 20 + 3 = 23, neuron 0's V unaffected
    s = spec(n_hid=3, weights_in=w_in, threshold=[5, 30, SILENT], aliases=[-1, 0, -1])
    r = rec(s, pulse(1))
    assert r["Spikes"][0].tolist() == [23, 3, 0] and r["Vmem"][0].tolist() == [0, 10, 0]
    # chain 0 -> 1 -> 2: copied counts propagate (neuron 1: 20 + 0 own at thr SILENT; neuron 2: 20)
    s = spec(n_hid=3, weights_in=w_in, threshold=[5, SILENT, SILENT], aliases=[1, 2, -1])
    assert rec(s, pulse(1))["Spikes"][0].tolist() == [20, 20, 20]
    # self-alias doubles the count (capped): 3 own -> 6
    s = spec(n_hid=3, weights_in=w_in, threshold=[30, SILENT, SILENT], aliases=[0, -1, -1])
    assert rec(s, pulse(1))["Spikes"][0].tolist() == [6, 0, 0]


def test_aliased_events_propagate_through_target_weights() -> None:
    # neuron 0 (3 events) aliases onto neuron 1; neuron 1's recurrent weight 50 -> neuron 2 gets 3*50
    w_in = np.zeros((1, 3, 2), int)
    w_in[0, 0, 0] = 101
    w_rec = np.zeros((3, 3, 2), int)
    w_rec[1, 2, 0] = 50
    s = spec(n_hid=3, weights_in=w_in, weights_rec=w_rec, threshold=[30, SILENT, SILENT], aliases=[1, -1, -1])
    assert rec(s, pulse(2))["Isyn"][1, 2] == 149


# ----------------------------------------------------------------------- bias, shifts, syn 2
def test_bias_every_step() -> None:
    # dash_mem 1, bias 10: V = 10, 10-5+10 = 15, 15-7+10 = 18, 18-9+10 = 19, 19-9+10 = 20, 20
    r = rec(spec(bias=[10], dash_mem=[1]), np.zeros((6, 1), int))
    assert r["Vmem"][:, 0].tolist() == [10, 15, 18, 19, 20, 20]
    r = rec(spec(bias_out=[-7], dash_mem_out=[15]), np.zeros((3, 1), int))
    assert r["Vmem_out"][:, 0].tolist() == [-7, -13, -19]  # -7, -7 +1 -7 = -13, -13 +1 -7 = -19


def test_weight_shifts() -> None:
    # input: 3 << 4 = 48 per event, 2 events -> 96 -> 95 after decay
    assert rec(spec(weights_in=[[[3, 0]]], weight_shift_in=4), pulse(1, counts=2))["Isyn"][0, 0] == 95
    # wrap: 100 << 9 -> -14336 -> decays to -14335
    assert rec(spec(weights_in=[[[100, 0]]], weight_shift_in=9), pulse(1))["Isyn"][0, 0] == -14335
    # recurrent and readout shifts: neuron 0 fires 1 event at t0 (V 100, thr 100)
    w_rec = np.zeros((2, 2, 2), int)
    w_rec[0, 1, 1] = 5  # onto synapse 2 of neuron 1
    w_in = np.zeros((1, 2, 2), int)
    w_in[0, 0, 0] = 101
    w_out = np.zeros((2, 1), int)
    w_out[0, 0] = -3
    s = spec(n_hid=2, weights_in=w_in, weights_rec=w_rec, weights_out=w_out, threshold=[100, SILENT],
             weight_shift_rec=3, weight_shift_out=2)  # fmt: skip
    r = rec(s, pulse(2))
    assert r["Isyn2"][1, 1] == 5 * 8 - 1 and r["Isyn"][1, 1] == 0
    assert r["Isyn_out"][1, 0] == -12 + 1  # -3 << 2 = -12, -12 >> 15 = -1 -> -11


def test_single_synapse_spec_runs_and_keeps_isyn2_zero() -> None:
    s = XyloSpec(weights_in=[[101]], weights_out=[[0]], threshold=[30], device="xylo-imu")
    r = rec(s, pulse(3))
    assert s.n_syn == 1 and not r["Isyn2"].any() and r["Spikes"][0, 0] == 0  # dash_syn 0 default
    s = XyloSpec(weights_in=[[101]], weights_out=[[0]], threshold=[30], dash_syn=[15], device="xylo-imu")
    assert rec(s, pulse(1))["Spikes"][0, 0] == 3


# ----------------------------------------------------------------------- API behaviour
def test_shapes_dtypes_and_batching_rules() -> None:
    s = spec(n_in=2, n_hid=3, n_out=2)
    r = emulate(s, np.zeros((7, 2), int), record=True)
    assert not r.batched and r.output.shape == (7, 2) and r.output.dtype == np.int64
    assert {k: v.shape for k, v in r.recording.items()} == {
        "Vmem": (7, 3), "Isyn": (7, 3), "Isyn2": (7, 3), "Spikes": (7, 3), "Vmem_out": (7, 2), "Isyn_out": (7, 2)
    }  # fmt: skip
    assert all(v.dtype == np.int64 for v in r.recording.values())
    assert emulate(s, np.zeros((7, 2), int)).recording == {}
    r = emulate([s, s, s], np.zeros((7, 2), int), record=True, record_dtype=np.int16)
    assert r.batched and r.output.shape == (3, 7, 2) and r.recording["Vmem"].dtype == np.int16
    assert r.final_state.vmem.shape == (3, 3)
    assert emulate(s, np.zeros((4, 7, 2), int)).output.shape == (4, 7, 2)
    out, state, recording = emulate(s, np.zeros((7, 2), int), record=True)  # XyloSim-style tuple
    assert out.shape == (7, 2) and state == {} and "Vmem" in recording
    assert emulate(BatchedSpec.from_specs(s), np.zeros((0, 2), int)).output.shape == (1, 0, 2)


def test_chaining_equals_one_run() -> None:
    rng = np.random.default_rng(3)
    s = spec(n_in=3, n_hid=8, n_out=2, weights_in=rng.integers(-50, 120, (3, 8, 2)),
             weights_rec=rng.integers(-60, 60, (8, 8, 2)), weights_out=rng.integers(-60, 60, (8, 2)),
             threshold=rng.integers(50, 300, 8), threshold_out=[100, 100], dash_syn=np.full(8, 2),
             dash_mem=np.full(8, 2), aliases=[1, -1, -1, 0, -1, -1, -1, 7])  # fmt: skip
    x = rng.integers(0, 3, (40, 3))
    whole = emulate(s, x, record=True)
    a = emulate(s, x[:17], record=True)
    b = emulate(s, x[17:], record=True, initial_state=a.final_state)
    assert whole.recording["Spikes"].sum() > 0
    for k in whole.recording:
        assert np.array_equal(whole.recording[k], np.concatenate([a.recording[k], b.recording[k]]))
    for f in ("vmem", "isyn", "isyn2", "spikes", "vmem_out", "isyn_out"):
        assert np.array_equal(getattr(whole.final_state, f), getattr(b.final_state, f))


def test_input_validation_errors() -> None:
    s = spec(n_in=2)
    with pytest.raises(ValueError, match="raster: expected shape"):
        emulate(s, np.zeros((5, 3), int))
    with pytest.raises(ValueError, match=">= 0"):
        emulate(s, -np.ones((5, 2), int))
    with pytest.raises(ValueError, match="integers"):
        emulate(s, np.full((5, 2), 0.5))
    with pytest.raises(ValueError, match="batch sizes differ"):
        emulate([s, s], np.zeros((3, 5, 2), int))
    with pytest.raises(ValueError, match="output_mode"):
        emulate(s, np.zeros((5, 2), int), output_mode="spikes")
    with pytest.raises(ValueError, match="equal shapes"):
        emulate([s, spec(n_in=3)], np.zeros((5, 2), int))
    edited = spec(n_in=2)
    edited.threshold[0] = 40000  # int32 storage: an in-place edit can leave the chip's range
    with pytest.raises(ValueError, match="threshold: values must lie in -32768..32767"):
        emulate(edited, np.zeros((5, 2), int))
    bad = XyloState.zeros(1, 1)
    bad.spikes[:] = 40
    with pytest.raises(ValueError, match=r"initial_state.spikes: values must lie in 0..31"):
        emulate(s, np.zeros((5, 2), int), initial_state=bad)
    with pytest.raises(ValueError, match=r"initial_state.vmem: expected shape"):
        emulate(s, np.zeros((5, 2), int), initial_state=XyloState.zeros(4, 1))


def test_fast_paths_equal_the_integer_loop_at_extremes() -> None:
    """The closed-form update (float32, exact for these integer ranges) and the dense input rows give
    the sequential integer loop's and the CSR's arrays, on random states over the whole int16 range,
    every dash 0..15, thresholds 1..32767, biases and strong weights (saturation every few steps).

    The integer loop is forced by an alias on neuron 0, which has no weights, no bias and V = 0:
    it never fires, so the alias copies nothing and only the path differs."""
    rng = np.random.default_rng(7)
    n_in, N, n_out, T = 4, 64, 3, 40
    w_in = rng.integers(-128, 128, (n_in, N, 2)) * (rng.random((n_in, N, 2)) < 0.5)
    w_rec = rng.integers(-128, 128, (N, N, 2)) * (rng.random((N, N, 2)) < 0.2)
    w_in[:, 0], w_rec[:, 0], w_rec[0] = 0, 0, 0
    thr = np.concatenate([[SILENT], rng.choice([1, 2, 3, 7, 100, 1000, 32767], N - 1)])
    bias = rng.integers(-32768, 32768, N) * (rng.random(N) < 0.3)
    bias[0] = 0
    s = XyloSpec(
        weights_in=w_in, weights_rec=w_rec, weights_out=rng.integers(-128, 128, (N, n_out)),
        threshold=thr, threshold_out=np.full(n_out, 200), bias=bias,
        dash_mem=rng.integers(0, 16, N), dash_syn=rng.integers(0, 16, N), dash_syn_2=rng.integers(0, 16, N),
        dash_mem_out=np.full(n_out, 2), dash_syn_out=np.full(n_out, 2),
        weight_shift_in=4, weight_shift_rec=3,
    )  # fmt: skip
    lim = (-32768, 32768)
    init = XyloState(
        vmem=np.concatenate([[0], rng.choice([-32768, 32767, -1, 0, 1], N - 1)]), isyn=rng.integers(*lim, N),
        isyn2=rng.integers(*lim, N), spikes=np.zeros(N, int), vmem_out=np.zeros(n_out, int), isyn_out=np.zeros(n_out, int),
    )  # fmt: skip
    x = rng.integers(0, 16, (T, n_in))
    runs = {}
    for name, alias, dense in (("fast", False, True), ("csr", False, False), ("loop", True, False)):
        bs = BatchedSpec.from_specs(s)
        assert bs.arrays["in_dense"].shape[1] == n_in  # density 1/2: dense rows by default
        if alias:
            bs.arrays["alias"] = bs.arrays["alias"].copy()
            bs.arrays["alias"][0, 0] = 1
        if not dense:
            bs.arrays["in_dense"] = np.zeros((1, 0, 0), np.int16)
        runs[name] = emulate(bs, x, record=True, initial_state=init, layout="instances")
    r = runs["fast"].recording
    # the test must reach the corners it is about: saturated currents (recorded after one decay
    # step, so just inside the limits), several events a step, V at its minimum, neuron 0 silent
    assert r["Isyn"].max() > 32000 and r["Isyn"].min() < -32000 and r["Spikes"].max() >= 2
    assert r["Vmem"].min() == -32768 and r["Vmem"].max() > 0 and r["Spikes"][..., 0].max() == 0
    for name in ("csr", "loop"):
        for k, a in runs[name].recording.items():
            np.testing.assert_array_equal(a, r[k], err_msg=f"{name}: {k}")
        np.testing.assert_array_equal(runs[name].output, runs["fast"].output)
