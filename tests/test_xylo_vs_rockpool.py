"""The emulator against Rockpool's XyloSim (C++ xylosim v2): spike for spike, state for state.

Randomised specs are drawn in three regimes so that every rule is exercised: "normal" (moderate
weights and thresholds), "saturating" (full-range int8 weights, shifts up to 8, slow decays, so
Isyn/Vmem hit +-32767/-32768 with mixed-sign contributions where delivery order matters) and
"wild" (also int16 biases, thresholds <= 0 that reach the 31-event cap and wrap the reset, shifts
up to 15 that wrap the shifted weight). All draw aliases (including to lower indices and to self),
Nien < Nhid, Noen < Nhid, and input counts above 15. ``test_corpus_exercises_every_rule`` checks
on XyloSim's own recordings that the corpus really reaches these cases.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from neuromorph.backends.xylo import rockpool_compat as rc
from neuromorph.backends.xylo.emulator import BatchedSpec, XyloState, emulate
from neuromorph.backends.xylo.spec import XyloSpec

DEVICES = {"xa2": "xylo-audio-v2", "imu": "xylo-imu", "xa3": "xylo-audio-v3"}
CHUNK = 25  # specs per test item: keeps the item count readable and XyloSim set-up amortised


def random_spec(
    rng: np.random.Generator,
    device: str,
    n_syn: int,
    big: bool = False,
    shape: tuple[int, int, int] | None = None,
) -> XyloSpec:
    """A random spec in one of three regimes (see module docstring); ``shape`` = (Nin, Nhid, Nout)."""
    if shape is None:
        shape = (
            int(rng.integers(1, 17 if big else 6)),
            int(rng.integers(100, 300) if big else rng.integers(1, 25)),
            int(rng.integers(1, 9 if big else 5)),
        )
    n_in, N, n_out = shape
    n_ien = int(rng.integers(1, N + 1))
    n_oen = int(rng.integers(1, N + 1))
    mode = int(rng.integers(0, 3))  # 0 normal, 1 saturating, 2 wild

    def weights(shape: tuple[int, ...], density: float) -> np.ndarray:
        w = rng.integers(-128, 128, shape) if mode else rng.integers(-40, 60, shape)
        return w * (rng.random(shape) < density)

    def thresholds(n: int) -> np.ndarray:
        t = rng.integers(1, 2000 if mode == 0 else 32768, n)
        if mode == 2:  # thresholds <= 0: 31-event cap without reset (0), or a wrapping reset (< 0)
            m = rng.random(n) < 0.2
            t[m] = rng.integers(-32768, 2, m.sum())
            t[rng.random(n) < 0.1] = 0
        return t

    def dashes(n: int) -> np.ndarray:
        return rng.integers(0, 16, n) if mode else rng.integers(0, 6, n)

    def biases(n: int) -> np.ndarray:
        b = rng.integers(-32768, 32768, n) if mode == 2 else rng.integers(-50, 50, n)
        return b * (rng.random(n) < 0.5)

    def shift() -> int:
        return int(rng.integers(0, 16)) if mode == 2 else (int(rng.integers(0, 9)) if mode else 0)

    aliases = np.full(N, -1)
    m = rng.random(N) < rng.uniform(0, 0.5)
    aliases[m] = rng.integers(0, N, m.sum())
    rec_density = rng.uniform(0, 0.1 if big else 0.6)
    return XyloSpec(
        weights_in=weights((n_in, n_ien, n_syn), rng.uniform(0.2, 1)),
        weights_rec=weights((N, N, n_syn), rec_density),
        weights_out=weights((n_oen, n_out), rng.uniform(0.2, 1)),
        threshold=thresholds(N),
        threshold_out=thresholds(n_out),
        dash_mem=dashes(N),
        dash_syn=dashes(N),
        dash_syn_2=dashes(N),
        dash_mem_out=dashes(n_out),
        dash_syn_out=dashes(n_out),
        bias=biases(N),
        bias_out=biases(n_out),
        weight_shift_in=shift(),
        weight_shift_rec=shift(),
        weight_shift_out=shift(),
        aliases=aliases,
        device=device,
    )


def random_raster(rng: np.random.Generator, T: int, n_in: int) -> np.ndarray:
    """Sparse-ish input counts 0..19 (above the chip's 15-per-step cap)."""
    return rng.integers(0, 20, (T, n_in)) * (rng.random((T, n_in)) < rng.uniform(0.1, 0.7))


def case(key: str, k: int, big: bool = False) -> tuple[XyloSpec, np.ndarray]:
    """Deterministic case ``k`` of family ``key`` (seeded per case, so failures are reproducible)."""
    rng = np.random.default_rng([sum(map(ord, key)), k, int(big)])
    n_syn = {"xa2": int(rng.integers(1, 3)), "imu": 1, "xa3": 2}[key]
    spec = random_spec(rng, DEVICES[key], n_syn, big)
    T = int(rng.integers(50, 150) if big else rng.integers(1, 40))
    return spec, random_raster(rng, T, spec.n_in)


def xylosim_run(spec: XyloSpec, x: np.ndarray, output_mode: str = "Spike") -> tuple[np.ndarray, dict]:
    out, _, rec = rc.xylosim_from_spec(spec, spec.device, output_mode=output_mode)(x, record=True)
    return out, rec


def assert_same(spec_id: str, out_ref: np.ndarray, rec_ref: dict, out: np.ndarray, rec: dict) -> None:
    """Exact equality of output and every recorded state, with a pointer to the first difference."""
    pairs = [("output", out_ref, out)] + [(k, rec_ref[k], rec[k]) for k in rec_ref]
    for name, ref, got in pairs:
        assert ref.shape == got.shape, f"{spec_id}: {name} shape {got.shape} != XyloSim {ref.shape}"
        if not np.array_equal(ref, got):
            t, j = np.argwhere(ref != got)[0]
            raise AssertionError(
                f"{spec_id}: {name}[t={t}, {j}] emulator {got[t, j]} != XyloSim {ref[t, j]}"
            )


N_CHUNKS = {"xa2": 20, "imu": 10, "xa3": 10}  # x CHUNK = 500 / 250 / 250 random specs


@pytest.mark.parametrize(
    "key,chunk", [(key, c) for key, n in N_CHUNKS.items() for c in range(n)], ids=lambda v: str(v)
)
def test_random_specs_match_xylosim(key: str, chunk: int) -> None:
    for k in range(chunk * CHUNK, (chunk + 1) * CHUNK):
        spec, x = case(key, k)
        out_ref, rec_ref = xylosim_run(spec, x)
        res = emulate(spec, x, record=True)
        assert_same(f"{key} case {k}", out_ref, rec_ref, res.output, res.recording)


@pytest.mark.parametrize("key", ["xa2", "imu", "xa3"])
def test_bigger_specs_match_xylosim(key: str) -> None:
    for k in range(6):
        spec, x = case(key, k, big=True)
        out_ref, rec_ref = xylosim_run(spec, x)
        res = emulate(spec, x, record=True)
        assert_same(f"{key} big case {k}", out_ref, rec_ref, res.output, res.recording)


def test_thousand_neuron_network_matches_xylosim() -> None:
    """Xylo Audio 2 size: 16 inputs, 1000 hidden, 8 outputs, fan-out 64, 300 steps."""
    rng = np.random.default_rng(7)
    N = 1000
    w_rec = np.zeros((N, N, 2), int)
    for p in range(N):
        tg = rng.choice(N, 64, replace=False)
        w_rec[p, tg[:32], 0] = rng.integers(-80, 60, 32)
        w_rec[p, tg[32:], 1] = rng.integers(-80, 60, 32)
    spec = XyloSpec(
        weights_in=rng.integers(-60, 61, (16, N, 2)) * (rng.random((16, N, 2)) < 0.25),
        weights_rec=w_rec,
        weights_out=rng.integers(-60, 61, (N, 8)) * (rng.random((N, 8)) < 0.1),
        threshold=rng.integers(150, 600, N),
        threshold_out=np.full(8, 300),
        dash_mem=np.full(N, 3),
        dash_syn=np.full(N, 2),
        dash_syn_2=np.full(N, 3),
        dash_mem_out=np.full(8, 3),
        dash_syn_out=np.full(8, 2),
        bias=rng.integers(-20, 40, N),
    )
    x = (rng.random((300, 16)) < 0.1).astype(int) * rng.integers(1, 4, (300, 16))
    out_ref, rec_ref = xylosim_run(spec, x)
    res = emulate(spec, x, record=True)
    assert rec_ref["Spikes"].sum() > 1000  # not a silent network
    assert_same("N=1000", out_ref, rec_ref, res.output, res.recording)


def test_corpus_exercises_every_rule() -> None:
    """The random corpus must reach the corner cases (judged on XyloSim's own recordings)."""
    hits = dict.fromkeys(
        ["isyn_pos_sat", "isyn_neg_sat", "vmem_pos_sat", "vmem_neg_sat", "isyn2_used", "cap31",
         "input_over_15", "alias_events", "alias_to_lower", "bias", "shift_wrap", "thr_nonpos",
         "output_events", "isyn_out_sat"], 0)  # fmt: skip
    for key in ("xa2", "xa3"):
        for k in range(150):
            spec, x = case(key, k)
            _, rec = xylosim_run(spec, x)
            sp = rec["Spikes"]
            hits["isyn_pos_sat"] += int((rec["Isyn"] >= 32766).any())
            hits["isyn_neg_sat"] += int((rec["Isyn"] <= -32767).any())
            hits["vmem_pos_sat"] += int((rec["Vmem"] == 32767).any())
            hits["vmem_neg_sat"] += int((rec["Vmem"] == -32768).any())
            hits["isyn2_used"] += int((rec.get("Isyn2", np.zeros(1)) != 0).any())  # syns63300 omits Isyn2
            hits["cap31"] += int((sp == 31).any())
            hits["input_over_15"] += int((x > 15).any())
            src = np.flatnonzero(spec.aliases >= 0)
            hits["alias_events"] += int(sp[:, src].any())
            lower = src[spec.aliases[src] < src]
            hits["alias_to_lower"] += int(sp[:, lower].any())
            hits["bias"] += int((spec.bias != 0).any())
            w = spec.weights_rec.astype(np.int64) << spec.weight_shift_rec
            hits["shift_wrap"] += int(((w > 32767) | (w < -32768)).any())
            hits["thr_nonpos"] += int((spec.threshold <= 0).any())
            hits["output_events"] += int((rec["Vmem_out"] != 0).any())
            hits["isyn_out_sat"] += int((np.abs(rec["Isyn_out"]) >= 32766).any())
    missing = [k for k, v in hits.items() if v < 3]
    assert not missing, f"corpus never (or rarely) reaches: {missing} ({hits})"


@pytest.mark.parametrize("key", ["xa2", "imu", "xa3"])
def test_batch_equals_instance_by_instance(key: str) -> None:
    """Different weights, same shapes, one batched call == one call per instance (== XyloSim)."""
    n_syn = 1 if key == "imu" else 2
    # Per-instance Nien, Noen, sparsity, regime and every parameter differ; only the shape is shared.
    specs = [random_spec(np.random.default_rng([b, 99]), DEVICES[key], n_syn, shape=(4, 20, 3)) for b in range(6)]
    base = specs[0]
    T = 30
    x = np.stack([random_raster(np.random.default_rng([b, 5]), T, base.n_in) for b in range(6)])

    for parallel in (False, True):
        res = emulate(specs, x, record=True, parallel=parallel)
        assert res.output.shape == (6, T, base.n_out)
        for b, s in enumerate(specs):
            single = emulate(s, x[b], record=True)
            assert_same(f"batch {b}", single.output, single.recording, res.output[b],
                        {k: v[b] for k, v in res.recording.items()})  # fmt: skip
            out_ref, rec_ref = xylosim_run(s, x[b])
            assert_same(f"batch {b} vs XyloSim", out_ref, rec_ref, res.output[b],
                        {k: v[b] for k, v in res.recording.items()})  # fmt: skip
    # broadcasting: one spec x many trials, many specs x one raster, prepacked BatchedSpec
    trials = emulate(specs[0], x, record=True)
    for b in range(6):
        assert np.array_equal(trials.output[b], emulate(specs[0], x[b]).output)
    shared = emulate(BatchedSpec.from_specs(specs), x[0])
    for b in range(6):
        assert np.array_equal(shared.output[b], emulate(specs[b], x[0]).output)


def test_chained_runs_match_xylosim_state_carry() -> None:
    """XyloSim keeps its state between calls; final_state -> initial_state reproduces that."""
    for k in range(10):
        spec, _ = case("xa2", 1000 + k)
        x = random_raster(np.random.default_rng(k), 40, spec.n_in)
        sim = rc.xylosim_from_spec(spec, spec.device)
        state = None
        for part in (x[:13], x[13:14], x[14:]):
            out_ref, _, rec_ref = sim(part, record=True)
            res = emulate(spec, part, record=True, initial_state=state)
            assert_same(f"chain {k}", out_ref, rec_ref, res.output, res.recording)
            state = res.final_state
        assert isinstance(state, XyloState)


@pytest.mark.parametrize("mode", ["Vmem", "Isyn"])
def test_output_modes_match_xylosim(mode: str) -> None:
    for k in range(10):
        spec, x = case("xa2", 2000 + k)
        out_ref, _ = xylosim_run(spec, x, output_mode=mode)
        res = emulate(spec, x, output_mode=mode)
        assert np.array_equal(out_ref, res.output), f"case {k}"


def test_samna_never_imported() -> None:
    assert "samna" not in sys.modules
