import numpy as np
from scipy import stats

from neuromorph.sim.rng import derive_seed, make_state, normals, uniform


def test_normals_are_standard_normal():
    x = normals(make_state(7), 400_000)
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


def test_uniform_open_interval():
    s = make_state(3)
    u = np.array([uniform(s) for _ in range(10000)])
    assert u.min() > 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / u.size)


def test_block_fill_is_the_scalar_stream():
    """fill_normal_scaled / fill_normal (state in registers, the kernels' fast path) give the
    samples and the final state of calling normal() one by one — including the ziggurat's
    rejection and tail paths, which 200 000 samples hit thousands of times (≈1.2 % and ≈0.03 %)."""
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
