"""check_fit: every violation type is detected with a precise message; a fitting network is ok."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:  # plain `pytest` does not put the repo root on sys.path
    sys.path.insert(0, _ROOT)

from quantization.fit_check import FitError, FitReport, Violation, check_fit  # noqa: E402
from quantization.hardware import load_target  # noqa: E402

XA2 = load_target("xylo-audio-v2")
XA3 = load_target("xylo-audio-v3")
IMU = load_target("xylo-imu")


def _net(n_in=16, n_hid=100, n_out=8, n_syn=2, fanout=64, seed=0):
    """A random integer network that fits Xylo Audio 2 (fan-out exactly at the limit)."""
    rng = np.random.default_rng(seed)
    w_in = rng.integers(-128, 128, size=(n_in, n_hid, n_syn))
    w_rec = np.zeros((n_hid, n_hid, n_syn), dtype=np.int64)
    for p in range(n_hid):
        flat = rng.choice(n_hid * n_syn, size=fanout, replace=False)
        w_rec[p].flat[flat] = rng.integers(1, 128, size=fanout) * rng.choice([-1, 1], size=fanout)
    w_out = rng.integers(-128, 128, size=(n_hid, n_out))
    return dict(weights_in=w_in, weights_rec=w_rec, weights_out=w_out,
                thresholds=rng.integers(1, 32768, size=n_hid), thresholds_out=np.full(n_out, 100),
                biases=rng.integers(-128, 128, size=n_hid), dash_mem=np.full(n_hid, 15),
                dash_syn=np.zeros((n_hid, n_syn), dtype=int), n_syn=n_syn,
                taus={"tau_mem": np.full(n_hid, 0.02), "tau_syn": 32.0},
                weight_shifts={"in": 0, "rec": 7, "out": 3})


def _fields(r: FitReport) -> list[str]:
    return [v.field for v in r.violations]


# --- fitting networks -------------------------------------------------------------------------
def test_fitting_network_is_ok():
    r = check_fit(XA2, 16, 100, 8, **_net())
    assert r.ok, r.summary()
    assert r.violations == [] and r.summary() == "xylo-audio-v2: network fits (no violations)"
    r.raise_if_failed()  # no exception
    assert json.loads(json.dumps(r.to_dict())) == {"target": "xylo-audio-v2", "ok": True, "n_violations": 0,
                                                   "violations": []}


def test_fitting_imu_network_with_projections():
    n = 200
    w_in = np.zeros((16, n), dtype=int)
    w_in[:, :128] = 5                 # inputs only to the first 128 (IEN)
    w_out = np.zeros((n, 16), dtype=int)
    w_out[n - 128:] = -7              # readout only from the last 128 (OEN)
    r = check_fit(IMU, 16, n, 16, weights_in=w_in, weights_out=w_out, weights_rec=np.eye(n, dtype=int), n_syn=1)
    assert r.ok, r.summary()


def test_float_target_accepts_float_values():
    f = load_target("float")
    r = check_fit(f, 1000, 5000, 100, weights_rec=np.full((5000, 5000), 0.37, dtype=np.float32), n_syn=4,
                  thresholds=np.full(5000, -0.5), taus={"tau_mem": 1e6})
    assert r.ok, r.summary()
    r = check_fit(f, 1, 2, 1, weights_out=np.array([[np.nan], [1.0]]))
    assert _fields(r) == ["weights_out"] and r.violations[0].message == "weights_out[0, 0] = nan is not finite"


# --- sizes --------------------------------------------------------------------------------------
def test_too_many_inputs_hidden_outputs():
    r = check_fit(XA2, 20, 1200, 9)
    assert r.summary().splitlines() == [
        "xylo-audio-v2: n_inputs = 20 exceeds the xylo-audio-v2 limit of 16 input channels (over by 4)",
        "xylo-audio-v2: n_hidden = 1200 exceeds the xylo-audio-v2 limit of 1000 hidden neurons (over by 200)",
        "xylo-audio-v2: n_outputs = 9 exceeds the xylo-audio-v2 limit of 8 output neurons (over by 1)",
    ]
    v = r.violations[1]
    assert (v.field, v.index, v.value, v.limit) == ("n_hidden", None, 1200, 1000)
    assert check_fit(XA2, 16, 1000, 8).ok  # exactly at the limits


def test_too_many_synapse_states():
    r = check_fit(IMU, 4, 10, 2, n_syn=2)
    assert r.violations == [Violation("n_syn", None, 2, 1,
                                      "n_syn = 2 exceeds the xylo-imu limit of 1 synaptic state(s) per hidden neuron (over by 1)")]
    assert check_fit(XA2, 4, 10, 2, n_syn=2).ok


# --- fan-out --------------------------------------------------------------------------------------
def test_fanout_exceeded_per_neuron():
    w = np.zeros((100, 100, 2), dtype=int)
    w[3, :40, 0] = 1
    w[3, :30, 1] = -1      # 40 + 30 = 70 (each (target, synapse) pair counts)
    w[7, :64, 0] = 2       # exactly 64: fine
    w[9, :65, 1] = 3       # 65
    r = check_fit(XA2, 16, 100, 8, weights_rec=w, n_syn=2)
    assert [(v.field, v.index, v.value, v.limit) for v in r.violations] == [("fanout", (3,), 70, 64),
                                                                             ("fanout", (9,), 65, 64)]
    assert r.violations[0].message == ("fanout: hidden neuron 3 has 70 non-zero outgoing recurrent synapses "
                                       "> limit 64 (over by 6)")
    # the same matrix fits Xylo Audio 3 (limit 1024)
    assert check_fit(XA3, 16, 100, 8, weights_rec=w, n_syn=2).ok


# --- integer ranges -------------------------------------------------------------------------------
def test_weights_out_of_range():
    w = np.zeros((10, 10, 2), dtype=int)
    w[5, 2, 1] = 200
    w[1, 1, 0] = -128      # storable in int8: fine
    w[2, 3, 0] = -129
    r = check_fit(XA2, 4, 10, 2, weights_rec=w, n_syn=2)
    assert r.summary().splitlines() == [
        "xylo-audio-v2: weights_rec[2, 3, 0] = -129 is out of range (allowed -128..127, int8 weights)",
        "xylo-audio-v2: weights_rec[5, 2, 1] = 200 is out of range (allowed -128..127, int8 weights)",
    ]
    assert r.violations[1].index == (5, 2, 1) and r.violations[1].limit == (-128, 127)


def test_weights_in_and_out_and_parameterised_bits():
    fp4 = load_target("fixed-point", weight_bits=4)
    r = check_fit(fp4, 2, 3, 1, weights_in=np.array([[7, -8, 8], [0, 0, 0]]), weights_out=np.array([[1], [-9], [0]]))
    assert r.summary().splitlines() == [
        "fixed-point: weights_in[0, 2] = 8 is out of range (allowed -8..7, 4-bit weights)",
        "fixed-point: weights_out[1, 0] = -9 is out of range (allowed -8..7, 4-bit weights)",
    ]


def test_non_integer_and_non_finite_weights():
    w = np.array([[1.0, 2.5], [np.inf, 3.0]])
    r = check_fit(XA2, 2, 2, 1, weights_in=w)
    assert r.summary().splitlines() == [
        "xylo-audio-v2: weights_in[1, 0] = inf is not finite",
        "xylo-audio-v2: weights_in[0, 1] = 2.5 is not an integer (quantize first)",
    ]


def test_thresholds_biases_shifts():
    th = np.array([1, 0, 40000, -5, 32767])
    r = check_fit(XA2, 1, 5, 1, thresholds=th, biases=[0, 127, -128, 128, 3],
                  weight_shifts={"in": 0, "rec": 8, "out": 7}, thresholds_out=[-40000])
    assert r.summary().splitlines() == [
        "xylo-audio-v2: thresholds[2] = 40000 is out of range (allowed -32768..32767, int16)",
        "xylo-audio-v2: thresholds[1] = 0 is not positive (allowed 1..32767): a neuron with threshold <= 0 "
        "fires its maximum event count whenever V >= threshold",
        "xylo-audio-v2: thresholds[3] = -5 is not positive (allowed 1..32767): a neuron with threshold <= 0 "
        "fires its maximum event count whenever V >= threshold",
        "xylo-audio-v2: thresholds_out[0] = -40000 is out of range (allowed -32768..32767, int16)",
        "xylo-audio-v2: biases[3] = 128 is out of range (allowed -128..127, int8)",
        "xylo-audio-v2: weight_shift_rec = 8 is out of range (allowed 0..7, left bit-shift)",
    ]


def test_dash_out_of_range():
    r = check_fit(XA2, 1, 3, 1, dash_mem=[0, 15, 16], dash_syn=[[1, -1], [2, 2], [3, 3]], n_syn=2)
    assert r.summary().splitlines() == [
        "xylo-audio-v2: dash_mem[2] = 16 is out of range (allowed 0..15, bit-shift decay dash)",
        "xylo-audio-v2: dash_syn[0, 1] = -1 is out of range (allowed 0..15, bit-shift decay dash)",
    ]


# --- time constants -------------------------------------------------------------------------------
def test_tau_not_expressible():
    r = check_fit(XA2, 1, 3, 1, taus={"tau_mem": [0.02, 100.0, 0.001], "tau_syn": 50.0})
    assert [(v.field, v.index) for v in r.violations] == [("tau_mem", (1,)), ("tau_syn", ())]
    v = r.violations[0]
    assert v.message == ("tau_mem[1] = 100 s is not expressible by bit-shift decay at dt = 0.001 s: needs dash 17 "
                         "> max 15; representable tau is 0..32.7675 s (dash 0..15; taus up to 46.3405 s round to dash 15)")
    assert v.value == 100.0 and v.limit == pytest.approx((0.0, 32.7675), rel=1e-5)
    # a larger dt makes the same tau expressible (tau_from_dash(15, 10 ms) = 327.7 s)
    assert check_fit(XA2, 1, 3, 1, taus={"tau_mem": 100.0}, dt=1e-2).ok
    # a tau that still rounds to dash 15 fits (46 s < 46.34 s cut-off)
    assert check_fit(XA2, 1, 3, 1, taus=46.0).ok


def test_invalid_tau_values():
    r = check_fit(XA2, 1, 3, 1, taus={"tau_syn": [0.0, -1.0, np.nan]})
    assert [v.message for v in r.violations] == [
        "tau_syn[0] = 0 s is not a valid time constant (must be finite and > 0)",
        "tau_syn[1] = -1 s is not a valid time constant (must be finite and > 0)",
        "tau_syn[2] = nan s is not a valid time constant (must be finite and > 0)",
    ]


# --- input / output projection --------------------------------------------------------------------
def test_input_projection_violation():
    n = 200
    w = np.zeros((16, n), dtype=int)
    w[0, 150] = 1
    w[3, 10] = 1
    r = check_fit(IMU, 16, n, 4, weights_in=w)
    assert r.summary() == ("xylo-imu: input_projection: hidden neuron 150 receives input weights but only hidden "
                           "neurons 0..127 can (reorder hidden neurons so input-receiving ones come first)")
    w[:, :] = 1  # all 200 receive input: impossible by reordering
    r = check_fit(IMU, 16, n, 4, weights_in=w, max_per_check=2)
    lines = r.summary().splitlines()
    assert lines[0] == ("xylo-imu: input_projection: 200 hidden neurons receive input weights, but xylo-imu connects "
                        "inputs only to the first 128 hidden neurons (IEN)")
    assert lines[-1] == ("xylo-imu: input_projection: ... and 70 more element(s) with the same problem "
                         "(72 in total)")
    assert check_fit(XA2, 16, n, 4, weights_in=w).ok  # XA2 projects inputs to all hidden neurons


def test_output_projection_violation():
    n = 200
    w = np.zeros((n, 4), dtype=int)
    w[10, 0] = 1
    w[199, 3] = 1
    r = check_fit(XA3, 16, n, 4, weights_out=w)
    assert r.summary() == ("xylo-audio-v3: output_projection: hidden neuron 10 has readout weights but only hidden "
                           "neurons 72..199 (the last 128) can (reorder hidden neurons so readout ones come last)")
    assert r.violations[0].index == (10,) and r.violations[0].limit == 128


# --- shapes, robustness, reporting -----------------------------------------------------------------
def test_shape_mismatch_still_checks_values():
    r = check_fit(XA2, 4, 10, 2, weights_rec=np.full((9, 9), 300), thresholds=np.ones(3, dtype=int))
    lines = r.summary().splitlines()
    assert lines[0] == "xylo-audio-v2: weights_rec has shape (9, 9), expected (10, 10) or (10, 10, 1) [n_syn = 1]"
    assert "weights_rec[0, 0] = 300 is out of range" in lines[1]
    assert "thresholds has shape (3,), expected (10,) or a scalar" in r.summary()


def test_cap_on_elementwise_violations():
    r = check_fit(XA2, 4, 10, 2, weights_in=np.full((4, 10), 1000), max_per_check=5)
    assert len(r.violations) == 6
    last = r.violations[-1]
    assert (last.field, last.index, last.value) == ("weights_in", None, 40)
    assert last.message == "weights_in: ... and 35 more element(s) with the same problem (40 in total)"


def test_never_crashes_on_garbage():
    r = check_fit(XA2, "16", -1, 2.5, weights_in=[[1, 2], [3]], thresholds="high", taus={"tau_mem": "x"},
                  dash_mem=[None], weight_shifts=[1, 2])
    assert not r.ok
    fields = _fields(r)
    for f in ("n_inputs", "n_hidden", "n_outputs", "weights_in", "thresholds", "taus", "dash_mem", "weight_shifts"):
        assert f in fields, (f, r.summary())
    assert "n_inputs = '16' is not a non-negative integer" in r.summary()
    json.dumps(r.to_dict())  # still serialisable


def test_report_to_dict_and_raise():
    r = check_fit(XA2, 20, 10, 2, weights_rec=np.array([[np.nan] + [0] * 9] + [[0] * 10] * 9))
    d = json.loads(json.dumps(r.to_dict()))
    assert d["ok"] is False and d["n_violations"] == 2 and d["target"] == "xylo-audio-v2"
    assert d["violations"][0] == {"field": "n_inputs", "index": None, "value": 20, "limit": 16,
                                  "message": r.violations[0].message}
    assert d["violations"][1]["index"] == [0, 0] and d["violations"][1]["value"] == "nan"
    with pytest.raises(FitError) as ei:
        r.raise_if_failed()
    assert isinstance(ei.value, ValueError) and ei.value.report is r
    assert str(ei.value).startswith("network does not fit xylo-audio-v2 (2 violations):\nxylo-audio-v2: n_inputs = 20")
