import numpy as np
import pytest
from scipy import stats

from neuromorph.sim.rng import STREAMS, derive_seed, make_state, normals, uniform


@pytest.mark.parametrize("stream", STREAMS)
def test_normals_are_standard_normal(stream):
    x = normals(make_state(7, stream), 400_000)
    n = x.size
    # tolerances: 5 standard errors of each estimator
    assert abs(x.mean()) < 5 / np.sqrt(n)
    assert abs(x.var() - 1) < 5 * np.sqrt(2 / n)
    assert abs(stats.skew(x)) < 5 * np.sqrt(6 / n)
    assert abs(stats.kurtosis(x)) < 5 * np.sqrt(24 / n)
    assert stats.kstest(x, "norm").pvalue > 1e-3
    # the tail (ziggurat's slow path) has the right mass
    tail = (np.abs(x) > 3.0).mean()
    p = 2 * stats.norm.sf(3.0)
    assert abs(tail - p) < 5 * np.sqrt(p / n)


def test_streams_are_reproducible_and_distinct():
    a = normals(make_state(1), 100)
    b = normals(make_state(1), 100)
    c = normals(make_state(2), 100)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    assert derive_seed(1, 2) != derive_seed(1, 3)
    assert derive_seed(1, 2) == derive_seed(1, 2)


@pytest.mark.parametrize("stream", STREAMS)
def test_uniform_open_interval(stream):
    s = make_state(3, stream)
    u = np.array([uniform(s) for _ in range(10000)])
    assert u.min() > 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / u.size)


def test_block_fill_is_the_scalar_stream():
    """fill_normal_scaled / fill_normal (state in registers, the kernels' fast path) give the
    samples and the final state of calling normal() one by one — including the ziggurat's
    rejection and tail paths, which 200 000 samples hit thousands of times (≈2.8 % and ≈0.06 %)."""
    from neuromorph.sim.rng import fill_normal_scaled, normal

    a, b = make_state(21), make_state(21)
    n = 200_000
    ref = np.array([normal(a) for _ in range(n)])
    out = np.empty(n)
    fill_normal_scaled(b, out, n, 0.25)
    assert np.array_equal(out, 0.25 * ref) and np.array_equal(a, b)
    assert (np.abs(ref) > 3.442619855899).sum() > 10  # the tail path was exercised
    assert np.array_equal(normals(make_state(21), 1000), ref[:1000])


def test_block_convolution_is_scipys_fftconvolve():
    """The training input's smoothing (signals._same_convolve_blocks, the fast layout) gives
    SciPy's fftconvolve "same" result bit for bit, for odd and even block / kernel lengths."""
    from scipy.signal import fftconvolve

    from neuromorph.sim.signals import _same_convolve_blocks, gaussian_kernel

    rng = np.random.default_rng(5)
    for blen, klen, m in ((1000, 1000, 2), (337, 1000, 3), (1000, 251, 1), (64, 9, 2)):
        w = rng.standard_normal((4, blen, m))
        k = gaussian_kernel(7.0, klen)
        ref = fftconvolve(w, k[None, :, None], mode="same", axes=1)
        assert np.array_equal(_same_convolve_blocks(w, k).transpose(0, 2, 1), ref)


# ------------------------------------------------------------------------------ counter stream

def test_counter_samples_are_a_pure_function_of_key_and_position():
    """Block fill, scalar draws and indexed draws give the same sample at the same position —
    including the ziggurat's rejections and tail (fixed up from the keyed sub-stream): 300 000
    samples at ≈0.43 % rejections hit the slow path ≈1300 times, the tail (|x| > r) a few."""
    from neuromorph.sim.rng import _CR, counter_fill_scaled, normal, normals_at, stream_of

    n = 300_000
    s = make_state(21, "counter")
    assert stream_of(s) == "counter" and stream_of(make_state(21, "serial")) == "serial"
    seq = np.array([normal(s) for _ in range(n)])
    assert s[1] == n  # the position advanced one a sample
    blk = np.empty(n)
    counter_fill_scaled(s[0], np.uint64(0), blk, n, 0.25)
    assert np.array_equal(blk, 0.25 * seq)
    idx = np.random.default_rng(0).permutation(n)[:5000]
    assert np.array_equal(normals_at(s, idx), seq[idx])  # any order, any subset
    assert np.array_equal(normals(make_state(21, "counter"), n), seq)
    # a block that starts mid-stream is the stream from there
    mid = np.empty(1000)
    counter_fill_scaled(s[0], np.uint64(123_456), mid, 1000, 1.0)
    assert np.array_equal(mid, seq[123_456:124_456])
    assert (np.abs(seq) > _CR).sum() >= 1  # the tail path was exercised
    # distinct keys, distinct streams
    assert not np.allclose(normals(make_state(22, "counter"), 100), seq[:100])


def test_counter_uniforms_do_not_move_the_noise_positions():
    from neuromorph.sim.rng import normal

    a, b = make_state(5, "counter"), make_state(5, "counter")
    for _ in range(10):
        uniform(a)
    assert a[1] == 0 and a[2] == 10
    assert normal(a) == normal(b)


def test_counter_ziggurat_layers_stack():
    """The 1024-layer table's r and layer area v solve the ziggurat's stacking condition (the
    top layer closes at f(0) = 1), to 1e-12; the same solver gives Marsaglia–Tsang's 128-layer r."""
    from scipy.optimize import brentq
    from scipy.special import erfc

    from neuromorph.sim.rng import _CKN, _CLAYERS, _CR, _R

    def close(r, n):
        f = lambda x: np.exp(-0.5 * x * x)  # noqa: E731
        v = r * f(r) + np.sqrt(np.pi / 2) * erfc(r / np.sqrt(2))
        x = r
        for _ in range(n - 2):
            a = v / x + f(x)
            if a >= 1:
                return 1.0
            x = np.sqrt(-2 * np.log(a))
        return v / x + f(x) - 1.0

    assert abs(brentq(lambda r: close(r, 128), 2.5, 4.5, xtol=1e-15) - _R) < 1e-11
    assert abs(brentq(lambda r: close(r, _CLAYERS), 2.5, 4.5, xtol=1e-15) - _CR) < 1e-12
    # the fast path accepts |hz| < kn[i]: its share of 2^31 is the acceptance rate (> 99 % with 1024)
    assert _CKN[2:].mean() / 2.0 ** 31 > 0.99


def test_default_stream_choice_and_bad_names(monkeypatch):
    from neuromorph.cli import NOISE_STREAMS
    from neuromorph.sim import rng

    assert set(NOISE_STREAMS) == set(STREAMS)
    monkeypatch.delenv("NEUROMORPH_NOISE_STREAM", raising=False)
    assert rng.default_stream() == "serial"
    assert np.array_equal(make_state(9), make_state(9, "serial"))  # the previous release's state
    with rng.noise_stream("counter"):
        assert rng.stream_of(make_state(9)) == "counter" and rng.stream_of(rng.as_state(9)) == "counter"
    assert rng.default_stream() == "serial"
    monkeypatch.setenv("NEUROMORPH_NOISE_STREAM", "counter")
    assert rng.stream_of(make_state(9)) == "counter"
    monkeypatch.setenv("NEUROMORPH_NOISE_STREAM", "philox")
    with pytest.raises(ValueError, match="NEUROMORPH_NOISE_STREAM must be one of"):
        make_state(9)
    with pytest.raises(ValueError, match="noise_stream must be one of"):
        make_state(9, "fast")


def test_counter_stream_learning_is_chunk_invariant():
    """On the counter stream the noise of a step sits at fixed positions: any chunking gives the
    same bits, and the state continues the stream across calls."""
    from neuromorph.network import SCN
    from neuromorph.sim.simulator import block_noise_source, learn

    F = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    net = SCN(F=F, Omega=-(F @ F.T) - 0.02 * np.eye(4), D=F.T.copy(), thresholds=0.5)
    src = block_noise_source(2, 9)
    a = learn(net, src, 4000, seed=make_state(4, "counter"), chunk=1000)
    b = learn(net, src, 4000, seed=make_state(4, "counter"), chunk=777)
    assert a.total_spikes > 50
    assert np.array_equal(a.network.Omega, b.network.Omega) and np.array_equal(a.network.F, b.network.F)
    assert a.state.rng_state[1] == 2 * 4 * 4000  # 2N positions a step, drawn or not


def test_cli_rejects_a_bad_stream_before_any_work(monkeypatch, tmp_path, capsys):
    from neuromorph.cli import main

    monkeypatch.setenv("NEUROMORPH_NOISE_STREAM", "bogus")
    out = tmp_path / "run"
    assert main(["reproduce", "fig2", "--iterations", "1", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "NEUROMORPH_NOISE_STREAM must be one of" in err and "Traceback" not in err
    assert not out.exists()
