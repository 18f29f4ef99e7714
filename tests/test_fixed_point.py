"""Fixed-point primitives: hand-computed integer cases (no values taken from the code under test)."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # plain `pytest` does not put the repo root on sys.path
    sys.path.insert(0, _ROOT)

from quantization.chip_arith import bitshift_decayed_array, saturate_array  # noqa: E402
from quantization.fixed_point import (  # noqa: E402
    dash_continuous,
    dash_from_euler_rate,
    dash_from_tau,
    effective_tau,
    euler_rate_from_dash,
    qmax,
    quantize,
    round_nearest,
    round_stochastic,
    split_weight_shift,
    stochastic_rounding,
    tau_from_dash,
)


# --- rounding ---------------------------------------------------------------------------------
def test_round_nearest_halves_away_from_zero():
    x = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.4, -0.6, 2.4999, -2.5000001, 0.0, 7.0]
    assert round_nearest(x).tolist() == [1, 2, 3, -1, -2, -3, 0, -1, 2, -3, 0, 7]
    # numpy's half-to-even differs exactly on the halves we document
    assert np.round([0.5, 2.5, -2.5]).tolist() == [0, 2, -2]


def test_round_nearest_largest_double_below_half():
    # floor(x + 0.5) gets this wrong (0.49999999999999994 + 0.5 == 1.0 in binary64)
    x = np.nextafter(0.5, 0.0)
    assert round_nearest(x) == 0.0 and round_nearest(-x) == 0.0


def test_round_nearest_is_sign_symmetric():
    x = np.linspace(-10, 10, 2001)
    assert np.array_equal(round_nearest(-x), -round_nearest(x))


@pytest.mark.parametrize("x", [0.3, -1.7, 2.5, 0.01, 5.0])
def test_round_stochastic_unbiased(x):
    n = 200_000
    rng = np.random.default_rng(1234)
    r = round_stochastic(np.full(n, x), rng)
    lo = math.floor(x)
    assert set(np.unique(r)) <= {lo, lo + 1}  # only the two neighbours
    p = x - lo
    sigma = math.sqrt(p * (1 - p) / n)  # std of the mean of n Bernoulli(p) draws
    # 5 sigma (plus float slack for p = 0): a false failure has probability < 1e-6
    assert abs(r.mean() - x) <= 5 * sigma + 1e-12


def test_round_stochastic_reproducible_and_needs_generator():
    a = round_stochastic(np.linspace(-3, 3, 50), np.random.default_rng(7))
    b = round_stochastic(np.linspace(-3, 3, 50), np.random.default_rng(7))
    assert np.array_equal(a, b)
    with pytest.raises(TypeError):
        round_stochastic([0.5], 42)  # type: ignore[arg-type]


# --- quantize / saturate ----------------------------------------------------------------------
def test_qmax():
    assert [qmax(b) for b in (1, 2, 4, 8, 16)] == [0, 1, 7, 127, 32767]


def test_quantize_symmetric_range_and_clip_count():
    q, n = quantize([0.5, -1.0, 1.2, 2.0, -2.0], 100.0, 8)
    # 50, -100, 120, 200 → 127, -200 → -127 (symmetric grid, not -128)
    assert q.tolist() == [50, -100, 120, 127, -127] and n == 2
    assert q.dtype == np.int64
    # clipping is counted after rounding: 127.4 → 127 fits; ±127.5 → ±128 is clipped
    q, n = quantize([127.4, 127.5, -127.5, -127.4], 1.0, 8)
    assert q.tolist() == [127, 127, -127, -127] and n == 2


def test_quantize_per_channel_scale_broadcasts():
    w = np.array([[1.0, 1.0], [0.5, -0.25]])
    q, n = quantize(w, np.array([[10.0], [100.0]]), 8)
    assert q.tolist() == [[10, 10], [50, -25]] and n == 0


def test_quantize_low_bits():
    q, n = quantize([0.9, -0.9, 0.2, 3.0], 4.0, 3)  # 3 bits: grid ±3
    # 3.6 → 4 → clipped to 3; -3.6 → -4 → clipped to -3; 0.8 → 1; 12 → clipped to 3
    assert q.tolist() == [3, -3, 1, 3] and n == 3


def test_quantize_stochastic_requires_rng_and_is_unbiased():
    with pytest.raises(ValueError, match="rng"):
        quantize([0.5], 1.0, 8, rounding="stochastic")
    rng = np.random.default_rng(0)
    q, n = quantize(np.full(100_000, 0.254), 100.0, 8, rounding="stochastic", rng=rng)
    assert n == 0 and set(np.unique(q)) == {25, 26}
    assert abs(q.mean() - 25.4) < 5 * math.sqrt(0.4 * 0.6 / 100_000)


@pytest.mark.parametrize("bad", [dict(x=[np.nan]), dict(scale=0.0), dict(scale=-1.0), dict(bits=0),
                                 dict(rounding="up")])
def test_quantize_rejects_bad_arguments(bad):
    kw = dict(x=[1.0], scale=1.0, bits=8, rounding="nearest")
    kw.update(bad)
    with pytest.raises(ValueError):
        quantize(**kw)


def test_saturate():
    assert saturate_array([40000, -40000, 32767, -32768, 5, 0], 16).tolist() == [32767, -32768, 32767, -32768, 5, 0]
    assert saturate_array([200, -200, 127, -128], 8).tolist() == [127, -128, 127, -128]
    with pytest.raises(ValueError):
        saturate_array([1.5], 8)


# --- bit-shift decay (docs/xylo_integer_update.md) ------------------------------------------
def _trajectory(v0: int, dash: int, steps: int) -> list[int]:
    out, v = [], np.int64(v0)
    for _ in range(steps):
        v = bitshift_decayed_array(v, dash)
        out.append(int(v))
    return out


def test_bitshift_decay_reference_sequence():
    # 100 at dash 1: 100-50=50, 50-25=25, 25-12=13, 13-6=7, 7-3=4, 4-2=2, 2-1=1, then 1>>1=0 → use 1 → 0
    assert _trajectory(100, 1, 9) == [50, 25, 13, 7, 4, 2, 1, 0, 0]
    # negative: -100>>1=-50 → -50; -25; -25>>1=-13 → -12; -6; -3; -3>>1=-2 → -1; -1>>1=-1 → 0
    assert _trajectory(-100, 1, 8) == [-50, -25, -12, -6, -3, -1, 0, 0]


def test_bitshift_decay_single_cases():
    assert bitshift_decayed_array(3, 1) == 2        # 3 - 1
    assert bitshift_decayed_array(-3, 1) == -1      # -3 - (-2): asymmetric rounding
    assert bitshift_decayed_array(1, 4) == 0        # 1>>4 = 0 while v > 0 → subtract 1
    assert bitshift_decayed_array(15, 4) == 14      # 15>>4 = 0 → at least 1
    assert bitshift_decayed_array(-1, 4) == 0       # -1>>4 = -1 (floor)
    assert bitshift_decayed_array(0, 3) == 0        # zero stays zero
    assert bitshift_decayed_array(1000, 4) == 938   # 1000 - 62
    assert bitshift_decayed_array(-32768, 15) == -32767
    assert bitshift_decayed_array(12345, 0) == 0    # dash 0 is memoryless


def test_bitshift_decay_broadcasts_per_neuron():
    v = np.array([[100, 100, 100], [-8, -8, -8]])
    assert bitshift_decayed_array(v, np.array([0, 1, 2])).tolist() == [[0, 50, 75], [0, -4, -6]]


def test_bitshift_decay_rejects_non_integers():
    with pytest.raises(ValueError):
        bitshift_decayed_array([1.5], 1)
    with pytest.raises(ValueError):
        bitshift_decayed_array([10], -1)


def test_reference_membrane_reaches_96():
    # docs/xylo_integer_update.md: one weight-100 event, dash_syn = 1, long membrane dash: Isyn 50, 25, 13, 7, ...
    # and V reaches 96 (V loses >= 1 per step to the "at least 1" rule: 50, 74, 86, 92, 95, 96, 96).
    isyn, v, vs = 100, 0, []
    for _ in range(10):
        isyn = int(bitshift_decayed_array(isyn, 1))
        v = int(bitshift_decayed_array(v, 15)) + isyn
        vs.append(v)
    assert vs[:7] == [50, 74, 86, 92, 95, 96, 96] and max(vs) == 96


def test_bitshift_decay_tracks_effective_tau():
    # Large state: k steps at dash 4 ≈ v0 * (1 - 1/16)^k = v0 * exp(-k dt / tau_eff);
    # each step floors at most 1 unit away, so the error is below k.
    v0, k, dt = 30000, 10, 1e-3
    got = _trajectory(v0, 4, k)[-1]
    expect = v0 * math.exp(-k * dt / float(effective_tau(4, dt)))
    assert abs(got - expect) < k
    assert expect == pytest.approx(v0 * (15 / 16) ** k)


# --- time constants ----------------------------------------------------------------------------
def test_tau_from_dash_values():
    dt = 1e-3
    assert tau_from_dash(0, dt) == 0.0                                   # memoryless
    assert tau_from_dash(1, dt) == pytest.approx(dt / math.log(2))      # factor 1/2 = e^-dt/tau
    assert tau_from_dash(10, dt) == pytest.approx(1023.5 * dt, rel=1e-4)  # ≈ (2^d - 1/2) dt
    assert effective_tau(15, dt) == pytest.approx(32767.5 * dt, rel=1e-6)


def test_dash_from_tau_values():
    dt = 1e-3
    # tau = dt: exact formula -log2(1 - e^-1) = 0.6617 → 1 (Rockpool mapper's log2(1) = 0 would wipe state)
    assert dash_continuous(dt, dt) == pytest.approx(-math.log2(1 - math.exp(-1)))
    assert dash_from_tau(dt, dt) == 1
    assert dash_from_tau(20e-3, dt) == 4   # -log2(1 - e^-0.05) = 4.34
    assert dash_from_tau(23e-3, dt) == 5   # 4.54 → 5
    assert dash_from_tau([0.032, 1.0], dt).tolist() == [5, 10]
    # large tau: ≈ log2(tau/dt)
    assert dash_continuous(2.0**12 * dt, dt) == pytest.approx(12.0, abs=2e-4)


def test_dash_tau_round_trip():
    dt = 1e-3
    d = np.arange(1, 32)
    assert np.array_equal(dash_from_tau(tau_from_dash(d, dt), dt), d)
    assert np.allclose(dash_continuous(tau_from_dash(np.array([0.3, 2.7, 9.1]), dt), dt), [0.3, 2.7, 9.1])
    # and for a tau grid: the chosen dash's tau is within a factor ~sqrt(2) of the request.
    # Derived: the nearest dash keeps the per-step leak 2^-d within 2^(±1/2) of 1 - exp(-dt/tau),
    # and for tau >> dt tau ∝ 1/leak, so the ratio lies in [0.707, 1.414]; at tau of a few dt
    # (d = 1-2) the log in tau = -dt/ln(1 - leak) widens it (on this grid: 0.634-1.465), hence
    # the bounds 0.6 and 1.5
    taus = np.geomspace(2e-3, 10.0, 200)
    ratio = effective_tau(dash_from_tau(taus, dt), dt) / taus
    assert np.all((ratio > 0.6) & (ratio < 1.5))


def test_tau_rejects_invalid():
    with pytest.raises(ValueError):
        dash_from_tau(0.0, 1e-3)
    with pytest.raises(ValueError):
        dash_from_tau(np.inf, 1e-3)
    with pytest.raises(ValueError):
        tau_from_dash(-1, 1e-3)
    with pytest.raises(ValueError):
        effective_tau(2.5, 1e-3)


# --- weight + shift ----------------------------------------------------------------------------
def test_split_weight_shift():
    q, s, n = split_weight_shift([100.0, -50.0], 8, 7)
    assert (q.tolist(), s, n) == ([100, -50], 0, 0)
    q, s, n = split_weight_shift([1000.0, 3.0, -517.0], 8, 7)  # 1000/4 = 250 > 127; /8 = 125 fits
    assert (q.tolist(), s, n) == ([125, 0, -65], 3, 0)           # 3/8 → 0, -517/8 = -64.6 → -65
    q, s, n = split_weight_shift([127.4], 8, 7)
    assert (q.tolist(), s) == ([127], 0)
    q, s, n = split_weight_shift([127.5], 8, 7)                   # rounds to 128: needs a shift
    assert (q.tolist(), s, n) == ([64], 1, 0)
    q, s, n = split_weight_shift([1e6, 10.0], 8, 7)               # 1e6/128 = 7812.5: clipped
    assert (q.tolist(), s, n) == ([127, 0], 7, 1)
    q, s, n = split_weight_shift(np.zeros(3), 8, 7)
    assert (q.tolist(), s, n) == ([0, 0, 0], 0, 0)


# --- QAT helper --------------------------------------------------------------------------------
def test_stochastic_rounding_fake_quant():
    rng = np.random.default_rng(3)
    w = np.full(100_000, 0.0137)
    out = stochastic_rounding(w, 1000.0, 8, rng)   # grid step 1e-3: values 0.013 or 0.014
    assert set(np.round(np.unique(out) * 1000).astype(int)) == {13, 14}
    assert abs(out.mean() - 0.0137) < 5 * math.sqrt(0.7 * 0.3 / 100_000) / 1000
    # clipped at the grid edge ±127/scale
    assert stochastic_rounding([1.0, -1.0], 1000.0, 8, rng).tolist() == [0.127, -0.127]


# --- forward-Euler dash <-> leak rate ------------------------------------------------------------
def test_euler_rate_from_dash_values():
    dt = 1e-3
    # 1 - λdt = 1 - 2^-dash: λ = 2^-4 / 1 ms = 62.5 /s; dash 0 gives 1/dt = 1000 /s
    assert euler_rate_from_dash(4, dt) == 62.5 and euler_rate_from_dash(0, dt) == 1000.0
    with pytest.raises(ValueError):
        euler_rate_from_dash(-1, dt)


def test_dash_from_euler_rate_values_and_clipping():
    dt = 1e-3
    # -log2(62.5 * 1e-3) = -log2(2^-4) = 4 exactly; 50 /s: -log2(0.05) = 4.32
    assert dash_from_euler_rate(62.5, dt) == 4.0
    assert dash_from_euler_rate(50.0, dt) == pytest.approx(-math.log2(0.05))
    # λdt = 2 > 1 overshoots: clipped to 1 -> dash 0; λ <= 0 (no leak): clipped to 1e-12 -> 39.86
    assert dash_from_euler_rate(2000.0, dt) == 0.0
    assert dash_from_euler_rate([-5.0, 0.0], dt).tolist() == [-math.log2(1e-12)] * 2
    # round trip on integer dashes
    d = np.arange(16)
    assert np.array_equal(dash_from_euler_rate(euler_rate_from_dash(d, dt), dt), d)
