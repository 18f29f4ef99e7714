"""The chip's integer primitives (``quantization.chip_arith``): hand-computed cases, and the primitives,
the emulator and Rockpool's xylosim checked against each other on random int16 values.

The cross-check composes the primitives by hand in the update order documented in the module
docstring of ``neuromorph.backends.xylo.emulator`` (input delivery, hidden events of the previous
step, hidden update, output update) for a 1-hidden-neuron network with two synapses and a
self-connection, so every rule of the core is exercised on random weights, shifts, dashes,
thresholds, biases and states.
"""
from __future__ import annotations

import numpy as np
import pytest

from quantization.chip_arith import (
    bitshift_decayed,
    bitshift_decayed_array,
    bitshift_decrement,
    bitshift_decrement_array,
    grid_round,
    grid_round_array,
    saturate,
    saturate_array,
    shift_weight,
    shift_weight_array,
    wrap,
    wrap_array,
)
from quantization.hardware import load_target
from quantization.mapping import QuantizedSCN
from quantization.mismatch import mismatch_instances

from neuromorph.backends.xylo.emulator import XyloState, emulate
from neuromorph.backends.xylo.spec import XyloSpec


# ------------------------------------------------------------------------------ hand-computed cases
def test_saturate_cases() -> None:
    # 16 bit: range -32768..32767
    assert saturate(40000, 16) == 32767 and saturate(-40000, 16) == -32768
    assert saturate(32767, 16) == 32767 and saturate(-32768, 16) == -32768 and saturate(-5, 16) == -5
    # 8 bit: -128..127; 4 bit: -8..7
    assert saturate(128, 8) == 127 and saturate(-129, 8) == -128 and saturate(9, 4) == 7 and saturate(-9, 4) == -8


def test_wrap_cases() -> None:
    # keep the low 16 bits: 32768 = 0x8000 -> -32768; 34000 - 65536 = -31536; -32769 + 65536 = 32767
    assert wrap(32768, 16) == -32768 and wrap(34000, 16) == -31536 and wrap(-32769, 16) == 32767
    assert wrap(65536 + 5, 16) == 5 and wrap(-1, 16) == -1
    # 8 bit: 200 - 256 = -56; 4 bit: 9 - 16 = -7
    assert wrap(200, 8) == -56 and wrap(9, 4) == -7


def test_bitshift_decrement_and_decayed_are_distinct() -> None:
    # decrement D(v, d) = v >> d (floor), but 1 when that is 0 and v > 0; decayed = v - D
    assert bitshift_decrement(100, 1) == 50 and bitshift_decayed(100, 1) == 50  # 100 >> 1 = 50
    assert bitshift_decrement(3, 1) == 1 and bitshift_decayed(3, 1) == 2        # 3 >> 1 = 1
    assert bitshift_decrement(-3, 1) == -2 and bitshift_decayed(-3, 1) == -1    # floor(-1.5) = -2
    assert bitshift_decrement(1000, 4) == 62 and bitshift_decayed(1000, 4) == 938  # floor(1000/16) = 62
    assert bitshift_decrement(15, 4) == 1 and bitshift_decayed(15, 4) == 14     # 15 >> 4 = 0 -> 1
    assert bitshift_decrement(-1, 4) == -1 and bitshift_decayed(-1, 4) == 0     # floor(-1/16) = -1
    assert bitshift_decrement(0, 3) == 0 and bitshift_decayed(0, 3) == 0
    assert bitshift_decrement(-32768, 0) == -32768 and bitshift_decayed(-32768, 0) == 0  # dash 0: memoryless


def test_shift_weight_cases() -> None:
    # 3 << 4 = 48; 100 << 9 = 51200 -> 51200 - 65536 = -14336; -100 << 9 = -51200 -> +14336
    assert shift_weight(3, 4, 16) == 48 and shift_weight(100, 9, 16) == -14336 and shift_weight(-100, 9, 16) == 14336
    # 100 << 15 = 50 * 65536 -> 0 ; 127 << 8 = 32512 fits ; -128 << 8 = -32768 fits
    assert shift_weight(100, 15, 16) == 0 and shift_weight(127, 8, 16) == 32512 and shift_weight(-128, 8, 16) == -32768


def test_grid_round_cases() -> None:
    # v = (0.3 + 0) / 1 = 0.3, floor 0: u = 0.2 < 0.3 rounds up to 1, u = 0.4 stays 0
    assert grid_round(0.3, 0.0, 1.0, 127.0, 0.2) == 1.0 and grid_round(0.3, 0.0, 1.0, 127.0, 0.4) == 0.0
    # offset 0.5, step 0.25: v = (0.3 + 0.5) / 0.25 = 3.2 -> n = 3 (u = 0.5) -> 0.75 - 0.5 = 0.25
    assert grid_round(0.3, 0.5, 0.25, 127.0, 0.5) == pytest.approx(0.25, abs=1e-15)
    # clipped to |n| <= q_max: 200 / 1 -> 127; -3.5 / 0.5 = -7 -> -4 at q_max 4 -> -2.0
    assert grid_round(200.0, 0.0, 1.0, 127.0, 0.0) == 127.0 and grid_round(-3.5, 0.0, 0.5, 4.0, 0.9) == -2.0
    # negative values round down to floor: v = -0.3 -> floor -1, frac 0.7: u = 0.6 < 0.7 -> 0, u = 0.8 -> -1
    assert grid_round(-0.3, 0.0, 1.0, 127.0, 0.6) == 0.0 and grid_round(-0.3, 0.0, 1.0, 127.0, 0.8) == -1.0


def test_grid_round_array_is_unbiased() -> None:
    n = 200_000
    u = np.random.default_rng(7).random(n)
    r = grid_round_array(np.full(n, 0.3), 0.0, 1.0, 127.0, u)
    assert set(np.unique(r)) == {0.0, 1.0}
    # mean of n Bernoulli(0.3): sd sqrt(0.3 * 0.7 / n) = 0.00102; 5 sd bound (false failure < 1e-6)
    assert abs(r.mean() - 0.3) <= 5 * np.sqrt(0.21 / n)


def test_array_wrappers_validate() -> None:
    with pytest.raises(ValueError):
        saturate_array([1.5], 16)
    with pytest.raises(ValueError):
        bitshift_decayed_array([10], -1)
    with pytest.raises(ValueError):
        shift_weight_array([1], 63, 16)
    with pytest.raises(ValueError):
        wrap_array([1], 0)
    with pytest.raises(ValueError):
        grid_round_array([0.1], 0.0, 0.0, 127.0, [0.5])
    with pytest.raises(ValueError):
        grid_round_array([0.1], 0.0, 1.0, 127.0, [1.0])


# ------------------------------------------------------------------ scalar vs array vs independent forms
def test_scalar_array_and_independent_forms_agree_on_random_values() -> None:
    rng = np.random.default_rng(2024)
    x = rng.integers(-(1 << 20), 1 << 20, 2000)  # well beyond int16, both signs
    # int16 states, half of them small (the "at least 1" rule and floor only differ near 0)
    v = np.where(rng.random(2000) < 0.5, rng.integers(-32768, 32768, 2000), rng.integers(-40, 41, 2000))
    d = rng.integers(0, 16, 2000)  # 4-bit dashes / shifts
    w = rng.integers(-128, 128, 2000)  # int8 weights
    sat = saturate_array(x, 16)
    wr = wrap_array(x, 16)
    dec = bitshift_decrement_array(v, d)
    dcy = bitshift_decayed_array(v, d)
    sw = shift_weight_array(w, d, 16)
    # independent forms: np.clip; NumPy's own int64 -> int16 cast (two's complement); floor division
    assert np.array_equal(sat, np.clip(x, -32768, 32767))
    assert np.array_equal(wr, x.astype(np.int16).astype(np.int64))
    floor = v // (2 ** d)
    assert np.array_equal(dec, np.where((floor == 0) & (v > 0), 1, floor))
    assert np.array_equal(dcy, v - dec)
    assert np.array_equal(sw, (w * 2 ** d).astype(np.int16).astype(np.int64))
    # the numba scalars (called from Python) give the same values as the array wrappers
    for k in range(0, 2000, 7):
        assert saturate(int(x[k]), 16) == sat[k] and wrap(int(x[k]), 16) == wr[k]
        assert bitshift_decrement(int(v[k]), int(d[k])) == dec[k] and bitshift_decayed(int(v[k]), int(d[k])) == dcy[k]
        assert shift_weight(int(w[k]), int(d[k]), 16) == sw[k]


# ------------------------------------------------ emulator / xylosim / primitives composed by hand
def _random_spec(rng: np.random.Generator) -> XyloSpec:
    """1 hidden neuron (2 synapses, self-connection), 2 inputs, 1 output; random full-range values.

    Half the specs use small weights and no shifts, so that states also visit the values near 0
    where the decay's "at least 1" rule and the floor of negative shifts matter."""
    small = rng.random() < 0.5
    wmax = 4 if small else 128
    return XyloSpec(
        weights_in=rng.integers(-wmax, wmax, (2, 1, 2)),
        weights_rec=rng.integers(-wmax, wmax, (1, 1, 2)),
        weights_out=rng.integers(-wmax, wmax, (1, 1)),
        threshold=rng.integers(-100, 32768, 1),
        threshold_out=rng.integers(1, 32768, 1),
        dash_mem=rng.integers(0, 16, 1),
        dash_syn=rng.integers(0, 16, 1),
        dash_syn_2=rng.integers(0, 16, 1),
        dash_mem_out=rng.integers(0, 16, 1),
        dash_syn_out=rng.integers(0, 16, 1),
        bias=rng.integers(-3, 4, 1) if small else rng.integers(-32768, 32768, 1),
        bias_out=rng.integers(-3, 4, 1) if small else rng.integers(-32768, 32768, 1),
        weight_shift_in=0 if small else int(rng.integers(0, 16)),
        weight_shift_rec=0 if small else int(rng.integers(0, 16)),
        weight_shift_out=0 if small else int(rng.integers(0, 16)),
    )


def _integrate(v: int, isyn_total: int, dash: int, bias: int) -> int:
    dv = saturate(wrap(-bitshift_decrement(v, dash), 16) + isyn_total, 16)
    dv = saturate(dv + bias, 16)
    return saturate(v + dv, 16)


def _by_hand(s: XyloSpec, x: np.ndarray, state: dict) -> dict:
    """The emulator module docstring's steps 1-4, written with the primitives for one hidden neuron."""
    i_syn = [int(state["isyn"]), int(state["isyn2"])]
    v, spk, vo, io = int(state["vmem"]), int(state["spikes"]), int(state["vmem_out"]), int(state["isyn_out"])
    w_in = [[shift_weight(int(s.weights_in[i, 0, k]), s.weight_shift_in, 16) for k in (0, 1)] for i in (0, 1)]
    w_rec = [shift_weight(int(s.weights_rec[0, 0, k]), s.weight_shift_rec, 16) for k in (0, 1)]
    w_out = shift_weight(int(s.weights_out[0, 0]), s.weight_shift_out, 16)
    thr, thr_o = int(s.threshold[0]), int(s.threshold_out[0])
    out = {k: [] for k in ("Vmem", "Isyn", "Isyn2", "Spikes", "Vmem_out", "Isyn_out", "out")}
    for t in range(x.shape[0]):
        for i in (0, 1):  # 1. input events, channels ascending, synapse 0 then 1, at most 15
            c = min(int(x[t, i]), 15)
            for k in (0, 1):
                i_syn[k] = saturate(i_syn[k] + c * w_in[i][k], 16)
        for k in (0, 1):  # 2. the neuron's own events of step t-1: recurrent, then readout
            i_syn[k] = saturate(i_syn[k] + spk * w_rec[k], 16)
        io = saturate(io + spk * w_out, 16)
        # 3. hidden update: synapses decay, membrane integrates, subtractive reset (<= 31 events)
        i_syn = [bitshift_decayed(i_syn[0], int(s.dash_syn[0])), bitshift_decayed(i_syn[1], int(s.dash_syn_2[0]))]
        v = _integrate(v, i_syn[0] + i_syn[1], int(s.dash_mem[0]), int(s.bias[0]))
        spk = 0
        while v >= thr and spk < 31:
            spk += 1
            v = wrap(v - thr, 16)
        # 4. output neuron: one synapse, at most one event
        io = bitshift_decayed(io, int(s.dash_syn_out[0]))
        vo = _integrate(vo, io, int(s.dash_mem_out[0]), int(s.bias_out[0]))
        e = 0
        if vo >= thr_o:
            e, vo = 1, wrap(vo - thr_o, 16)
        for k, val in (("Vmem", v), ("Isyn", i_syn[0]), ("Isyn2", i_syn[1]), ("Spikes", spk),
                       ("Vmem_out", vo), ("Isyn_out", io), ("out", e)):
            out[k].append([val])
    return {k: np.array(val, dtype=np.int64) for k, val in out.items()}


ZERO = dict(vmem=0, isyn=0, isyn2=0, spikes=0, vmem_out=0, isyn_out=0)


@pytest.mark.parametrize("seed", range(6))
def test_primitives_emulator_and_xylosim_agree(seed: int) -> None:
    from neuromorph.backends.xylo import rockpool_compat as rc

    rng = np.random.default_rng([31, seed])
    for k in range(25):
        s = _random_spec(rng)
        x = rng.integers(0, 20, (30, 2)) * (rng.random((30, 2)) < 0.5)  # counts above 15 are clipped
        hand = _by_hand(s, x, ZERO)
        r = emulate(s, x, record=True)
        out_x, _, rec_x = rc.xylosim_from_spec(s, s.device)(x, record=True)
        for key in ("Vmem", "Isyn", "Isyn2", "Spikes", "Vmem_out", "Isyn_out"):
            assert np.array_equal(hand[key], r.recording[key]), (seed, k, key, "primitives vs emulator")
            assert np.array_equal(hand[key], rec_x[key]), (seed, k, key, "primitives vs xylosim")
        assert np.array_equal(hand["out"], r.output) and np.array_equal(hand["out"], out_x), (seed, k)


def test_primitives_and_emulator_agree_from_random_int16_states() -> None:
    rng = np.random.default_rng(99)
    for k in range(100):
        s = _random_spec(rng)
        x = rng.integers(0, 16, (10, 2))
        st = {f: int(rng.integers(-32768, 32768)) for f in ZERO}
        st["spikes"] = int(rng.integers(0, 32))
        hand = _by_hand(s, x, st)
        init = XyloState(**{f: np.array([val]) for f, val in st.items()})
        r = emulate(s, x, record=True, initial_state=init)
        for key in ("Vmem", "Isyn", "Isyn2", "Spikes", "Vmem_out", "Isyn_out"):
            assert np.array_equal(hand[key], r.recording[key]), (k, key)
        assert np.array_equal(hand["out"], r.output), k


# ---------------------------------------------------------- mismatch bounded by the target's formats
def _tiny_q(target, w: int, theta: int, dash_mem: int) -> QuantizedSCN:
    n = 4
    return QuantizedSCN(
        target=target.name, method="scn", weight_bits=target.weight_bits,
        w_in=np.full((n, 2), w), w_rec=np.full((n, n), -w), w_out=np.full((2, n), 1), threshold=np.full(n, theta),
        shift_in=0, shift_rec=0, shift_out=0, dash_mem=dash_mem, dash_syn=1, dash_mem_out=dash_mem, dash_syn_out=1,
        scale_v=1.0, input_gain=1.0, scale_out=1.0, lam=50.0, dt=target.dt,
    )


def test_mismatch_uses_the_targets_formats() -> None:
    # 4-bit weights: grid +-7; 8-bit thresholds: 1..127; dashes 0..3 (all overrides of "fixed-point")
    tgt = load_target("fixed-point", weight_bits=4, threshold_bits=8, max_dash_mem=3)
    q = _tiny_q(tgt, w=7, theta=120, dash_mem=3)
    inst = mismatch_instances(q, 0.5, 50, seed=0, target=tgt)
    w_in = np.stack([qi.w_in for qi in inst])
    w_rec = np.stack([qi.w_rec for qi in inst])
    theta = np.stack([qi.threshold for qi in inst])
    dash = np.array([qi.dash_mem for qi in inst])
    assert w_in.max() == 7 and w_rec.min() == -7 and np.abs(np.concatenate([w_in.ravel(), w_rec.ravel()])).max() <= 7
    assert theta.max() == 127 and theta.min() >= 1
    # λ_chip = 2^-3 / dt; a 50 % spread gives slower leaks whose dash would exceed 3: clipped to the target's 3
    assert dash.max() == 3 and dash.min() >= 0
    # a wider target leaves the same draws unclipped: its bounds are not hard-coded
    wide = load_target("fixed-point", weight_bits=8, threshold_bits=16, max_dash_mem=15)
    q8 = _tiny_q(wide, w=7, theta=120, dash_mem=3)
    inst8 = mismatch_instances(q8, 0.5, 50, seed=0, target=wide)
    assert max(int(np.abs(qi.w_in).max()) for qi in inst8) > 7
    assert max(int(qi.threshold.max()) for qi in inst8) > 127
    assert max(qi.dash_mem for qi in inst8) > 3


def test_mismatch_refuses_another_target() -> None:
    tgt = load_target("fixed-point", weight_bits=4)
    q = _tiny_q(tgt, w=3, theta=50, dash_mem=4)
    with pytest.raises(ValueError, match="mapped onto"):
        mismatch_instances(q, 0.1, 2, seed=0, target=load_target("xylo-audio-v2"))
    with pytest.raises(ValueError, match="mapped onto"):
        mismatch_instances(q, 0.1, 2, seed=0, target=load_target("fixed-point", weight_bits=8))
