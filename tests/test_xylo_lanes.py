"""The emulator's lane layout (instances side by side in SIMD lanes) against XyloSim and against the
per-instance kernel: bit-exact on every output and recorded state.

Batches are device-mismatch instances of random specs from ``test_xylo_vs_rockpool`` (all three
regimes, saturating ones included) with the two things the lane kernel excludes removed (aliases,
thresholds <= 0). Batch sizes 5 (one block, no padding) and 37 (two blocks of 19 lanes, one padding
lane) so that blocks, padding and both delivery paths (dense lane loop at >= 1/8 active lanes, lane
by lane below) are run; the corpus check asserts that both paths were taken.
"""

from __future__ import annotations

import numpy as np
import pytest

from neuromorph.backends.xylo import emulator as emu
from neuromorph.backends.xylo.emulator import BatchedSpec, emulate
from neuromorph.backends.xylo.emulator_lanes import block_layout
from neuromorph.backends.xylo.spec import XyloSpec
from test_xylo_vs_rockpool import DEVICES, assert_same, random_raster, random_spec, xylosim_run


def lane_spec(rng: np.random.Generator, device: str, n_syn: int) -> XyloSpec:
    """A random spec without aliases and with hidden thresholds >= 1 (what the lane kernel runs)."""
    d = random_spec(rng, device, n_syn, shape=(4, 40, 3)).to_arrays()
    d["aliases"] = np.full(40, -1)
    d["threshold"] = np.maximum(d["threshold"], 1)
    return XyloSpec(**d, device=device)


def mismatch(spec: XyloSpec, rng: np.random.Generator) -> XyloSpec:
    """A device instance: every non-zero weight moved by -1, 0 or +1 (same sparsity pattern, up to
    weights that reach 0)."""
    d = spec.to_arrays()
    for k in ("weights_in", "weights_rec", "weights_out"):
        w = d[k].astype(np.int64)
        d[k] = np.clip(w + (w != 0) * rng.integers(-1, 2, w.shape), -128, 127)
    return XyloSpec(**d, device=spec.device)


def batch(key: str, k: int, B: int, T: int = 40) -> tuple[list[XyloSpec], np.ndarray]:
    rng = np.random.default_rng([sum(map(ord, key)), k, B])
    base = lane_spec(rng, DEVICES[key], 1 if key == "imu" else 2)
    specs = [mismatch(base, rng) for _ in range(B)]
    x = np.stack([random_raster(rng, T, base.n_in) for _ in range(B)])
    return specs, x


@pytest.mark.parametrize("B", [5, 37])
@pytest.mark.parametrize("key", ["xa2", "imu", "xa3"])
def test_lanes_match_xylosim_and_instances(key: str, B: int) -> None:
    dense = sparse = 0
    for k in range(3):
        specs, x = batch(key, k, B)
        bs = BatchedSpec.from_specs(specs)
        assert bs.lane_pack().ok, bs.lane_pack().why
        for parallel in (False, True):
            lanes = emulate(bs, x, record=True, layout="lanes", parallel=parallel)
            inst = emulate(bs, x, record=True, layout="instances", parallel=parallel)
            assert lanes.layout == "lanes" and inst.layout == "instances"
            assert np.array_equal(lanes.output, inst.output)
            for name in lanes.recording:
                assert np.array_equal(lanes.recording[name], inst.recording[name]), name
            for f in ("vmem", "isyn", "isyn2", "spikes", "vmem_out", "isyn_out"):
                assert np.array_equal(getattr(lanes.final_state, f), getattr(inst.final_state, f)), f
        for b in range(B):
            out_ref, rec_ref = xylosim_run(specs[b], x[b])
            assert_same(f"{key} case {k} lane {b}", out_ref, rec_ref, lanes.output[b],
                        {n: v[b] for n, v in lanes.recording.items()})  # fmt: skip
        # which delivery path each (step, source) took: active lanes of a block vs 1/8 of its lanes
        nblk, L = block_layout(B, 1)
        sp = lanes.recording["Spikes"] > 0  # (B, T, N)
        for blk in range(nblk):
            n_act = sp[blk * L : (blk + 1) * L].sum(axis=0)
            dense += int((n_act * 8 >= L).sum())
            sparse += int(((n_act > 0) & (n_act * 8 < L)).sum())
    assert dense > 0, "the dense lane loop never ran"
    if L > 8:  # with <= 8 lanes one active lane is already 1/8: no lane-by-lane path exists
        assert sparse > 0, "the lane-by-lane delivery never ran"


def test_lanes_chaining_and_broadcasting() -> None:
    specs, x = batch("xa2", 7, 12, T=50)
    one = emulate(specs, x, record=True, layout="lanes")
    first = emulate(specs, x[:, :17], layout="lanes")
    rest = emulate(specs, x[:, 17:], record=True, layout="lanes", initial_state=first.final_state)
    assert np.array_equal(np.concatenate([first.output, rest.output], axis=1), one.output)
    assert np.array_equal(rest.recording["Vmem"], one.recording["Vmem"][:, 17:])
    # one spec x many trials, many specs x one raster
    trials = emulate(specs[0], x, layout="lanes")
    shared = emulate(specs, x[0], layout="lanes")
    for b in range(12):
        assert np.array_equal(trials.output[b], emulate(specs[0], x[b]).output)
        assert np.array_equal(shared.output[b], emulate(specs[b], x[0]).output)
    for mode in ("Vmem", "Isyn"):
        assert np.array_equal(emulate(specs, x, output_mode=mode, layout="lanes").output,
                              emulate(specs, x, output_mode=mode, layout="instances").output)  # fmt: skip


def test_layout_choice_and_errors() -> None:
    specs, x = batch("xa2", 3, 4)
    with pytest.raises(ValueError, match="layout must be"):
        emulate(specs, x, layout="simd")
    d = specs[0].to_arrays()
    d["aliases"][0] = 1
    aliased = [XyloSpec(**d, device=specs[0].device)] + specs[1:]
    with pytest.raises(ValueError, match="aliases"):
        emulate(aliased, x, layout="lanes")
    with pytest.raises(ValueError, match="B=1"):
        emulate(specs[0], x[0], layout="lanes")
    # the automatic choice follows the probe's event rate (silent input -> per-instance kernel)
    bs = BatchedSpec.from_specs(specs)
    state = emu._state_arrays(None, 4, bs.n_hidden, bs.n_out)
    st = (state[0], np.concatenate([state[1], state[2]], axis=1), state[3], state[4], state[5])
    assert not emu._busy(bs, np.zeros((4, 20, bs.n_in), np.uint8), st)
    busy = [XyloSpec(**{**s.to_arrays(), "bias": np.full(40, 2000), "threshold": np.full(40, 100)},
                     device=s.device) for s in specs]  # fmt: skip
    before = [a.copy() for a in st]
    assert emu._busy(BatchedSpec.from_specs(busy), np.zeros((4, 20, bs.n_in), np.uint8), st)
    assert all(np.array_equal(a, b) for a, b in zip(st, before)), "the probe advanced the caller's state"
    # whichever layout the probe picks, the run starts from the caller's state (the probe runs on a copy)
    for s in (specs, busy):
        auto = emulate(s, x, record=True)
        ref = emulate(s, x, record=True, layout="instances")
        assert np.array_equal(auto.output, ref.output)
        assert np.array_equal(auto.recording["Vmem"], ref.recording["Vmem"])
