"""A fast, seedable Gaussian generator usable inside numba kernels.

Why our own: the simulators draw N voltage-noise samples every time step (≈5·10⁸ normals for
the full Fig 2 protocol).  On this project's machines NumPy's generator costs ≈25 ns a sample
and numba's built-in ``np.random`` about the same, which alone would exceed the speed budget.
A xoshiro256** bit generator with the Marsaglia–Tsang (2000) ziggurat costs a few ns.

State is a ``uint64[4]`` array owned by the caller (no global state): runs are reproducible
from a seed and independent streams come from independent seeds (SplitMix64 seeding).
The ziggurat uses separate bits for the layer index and the value (the original RNOR reuses
them, a known flaw).
"""
from __future__ import annotations

import numpy as np
from numba import njit

_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> tuple[int, int]:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x, z ^ (z >> 31)


def make_state(seed: int) -> np.ndarray:
    """Return a fresh xoshiro256** state (uint64[4]) for an integer seed (any size ≥ 0)."""
    x = int(seed) & _MASK64
    out = np.empty(4, dtype=np.uint64)
    for i in range(4):
        x, z = _splitmix64(x)
        out[i] = z
    if not out.any():  # the all-zero state is the generator's only fixed point
        out[0] = 1
    return out


def state_from_generator(rng: np.random.Generator) -> np.ndarray:
    """Derive a kernel RNG state from a NumPy Generator (consumes one 63-bit draw)."""
    return make_state(int(rng.integers(0, 2**63 - 1)))


def _ziggurat_tables():
    # Marsaglia & Tsang (2000), 128 layers; tables built here, in float64.
    m1 = 2147483648.0
    dn = 3.442619855899
    tn = dn
    vn = 9.91256303526217e-3
    kn = np.zeros(128, dtype=np.int64)
    wn = np.zeros(128)
    fn = np.zeros(128)
    q = vn / np.exp(-0.5 * dn * dn)
    kn[0] = int((dn / q) * m1)
    kn[1] = 0
    wn[0] = q / m1
    wn[127] = dn / m1
    fn[0] = 1.0
    fn[127] = np.exp(-0.5 * dn * dn)
    for i in range(126, 0, -1):
        dn = np.sqrt(-2.0 * np.log(vn / dn + np.exp(-0.5 * dn * dn)))
        kn[i + 1] = int((dn / tn) * m1)
        tn = dn
        fn[i] = np.exp(-0.5 * dn * dn)
        wn[i] = dn / m1
    return kn, wn, fn


_KN, _WN, _FN = _ziggurat_tables()
_R = 3.442619855899


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True)
def next_u64(s):
    """xoshiro256** step on state ``s`` (uint64[4], modified in place)."""
    result = _rotl(s[1] * np.uint64(5), 7) * np.uint64(9)
    t = s[1] << np.uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@njit(cache=True)
def uniform(s):
    """Uniform double in (0, 1) (53 random bits; never exactly 0, safe for log)."""
    return ((next_u64(s) >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def normal(s):
    """One standard-normal sample (ziggurat)."""
    kn = _KN
    wn = _WN
    fn = _FN
    while True:
        u = next_u64(s)
        iz = np.int64(u & np.uint64(127))
        hz = np.int64(np.int32(np.uint32(u >> np.uint64(32))))
        ahz = hz if hz >= 0 else -hz
        if ahz < kn[iz]:
            return hz * wn[iz]
        x = hz * wn[iz]
        if iz == 0:
            # tail beyond R: Marsaglia's exponential-rejection method
            while True:
                xx = -np.log(uniform(s)) / _R
                yy = -np.log(uniform(s))
                if yy + yy >= xx * xx:
                    break
            return _R + xx if hz > 0 else -_R - xx
        if fn[iz] + uniform(s) * (fn[iz - 1] - fn[iz]) < np.exp(-0.5 * x * x):
            return x


@njit(cache=True, inline="always")
def next_u64_regs(s0, s1, s2, s3):
    """:func:`next_u64` on a state held in four local variables (registers) instead of the
    array: returns ``(result, s0, s1, s2, s3)``.  Kernels that draw many numbers in a loop load
    the state once, draw from the locals and store it back once (:func:`load`, :func:`store`):
    the same stream, without a memory round trip per draw."""
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, s0, s1, s2, s3


@njit(cache=True, inline="always")
def load(s):
    """The state array ``s`` as four locals ``(s0, s1, s2, s3)`` (see :func:`next_u64_regs`)."""
    return s[0], s[1], s[2], s[3]


@njit(cache=True, inline="always")
def store(s, s0, s1, s2, s3):
    """Write the four locals back into the state array ``s``."""
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3


@njit(cache=True)
def _normal_rejected(s, u):
    """The ziggurat after the fast test rejected the 64-bit draw ``u`` (≈1 % of samples): the
    wedge or tail of :func:`normal` for that draw, then, if that rejects too, a fresh
    :func:`normal` (what its loop does next).  Kept out of line: it is rare."""
    iz = np.int64(u & np.uint64(127))
    hz = np.int64(np.int32(np.uint32(u >> np.uint64(32))))
    x = hz * _WN[iz]
    if iz == 0:
        while True:
            xx = -np.log(uniform(s)) / _R
            yy = -np.log(uniform(s))
            if yy + yy >= xx * xx:
                break
        return _R + xx if hz > 0 else -_R - xx
    if _FN[iz] + uniform(s) * (_FN[iz - 1] - _FN[iz]) < np.exp(-0.5 * x * x):
        return x
    return normal(s)


@njit(cache=True, inline="always")
def normal_regs(s, s0, s1, s2, s3):
    """:func:`normal` on a state held in locals: returns ``(sample, s0, s1, s2, s3)``, the same
    sample and state as :func:`normal` on the array.  ``s`` is the state array, used (written,
    then read back) only on the rare slow path."""
    u, s0, s1, s2, s3 = next_u64_regs(s0, s1, s2, s3)
    iz = np.int64(u & np.uint64(127))
    hz = np.int64(np.int32(np.uint32(u >> np.uint64(32))))
    ahz = hz if hz >= 0 else -hz
    # the fast-path value is computed unconditionally (branch-free); the rare rejection replaces it
    x = hz * _WN[iz]
    if ahz >= _KN[iz]:
        store(s, s0, s1, s2, s3)
        x = _normal_rejected(s, u)
        s0, s1, s2, s3 = load(s)
    return x, s0, s1, s2, s3


@njit(cache=True)
def fill_normal_scaled(s, out, n, scale):
    """``out[i] = scale * normal(s)`` for i < n: the same values and final state as n calls
    of :func:`normal`, drawn with the state in registers (≈2.5 ns a sample against ≈6 ns)."""
    # normal_regs written out: returning the sample through the inlined tuple costs ≈2 ns more
    s0, s1, s2, s3 = load(s)
    for i in range(n):
        u, s0, s1, s2, s3 = next_u64_regs(s0, s1, s2, s3)
        iz = np.int64(u & np.uint64(127))
        hz = np.int64(np.int32(np.uint32(u >> np.uint64(32))))
        ahz = hz if hz >= 0 else -hz
        out[i] = scale * (hz * _WN[iz])
        if ahz >= _KN[iz]:
            store(s, s0, s1, s2, s3)
            out[i] = scale * _normal_rejected(s, u)
            s0, s1, s2, s3 = load(s)
    store(s, s0, s1, s2, s3)


@njit(cache=True)
def fill_normal(s, out):
    """Fill the 1-D float64 array ``out`` with standard normals (the stream of :func:`normal`)."""
    fill_normal_scaled(s, out, out.shape[0], 1.0)


def normals(state: np.ndarray, size: int) -> np.ndarray:
    """Convenience: ``size`` standard normals drawn from ``state`` (advances it)."""
    out = np.empty(int(size))
    fill_normal(state, out)
    return out


def derive_seed(seed: int, *keys: int) -> int:
    """An independent 63-bit seed for sub-stream ``keys`` of a run seeded with ``seed``."""
    return int(np.random.SeedSequence([int(seed), *map(int, keys)]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def as_state(seed) -> np.ndarray:
    """Kernel RNG state from an int, a NumPy Generator, an existing uint64[4] state (used as
    is, so a run can continue a stream) or None (fresh OS entropy)."""
    if seed is None:
        return make_state(np.random.SeedSequence().entropy)
    if isinstance(seed, np.random.Generator):
        return state_from_generator(seed)
    if isinstance(seed, np.ndarray) and seed.dtype == np.uint64 and seed.shape == (4,):
        return seed
    return make_state(int(seed))
