"""quantization.encoding: the compiled sigma-delta modulator equals the modulator's definition
(per-step array form) exactly, and keeps its two properties (at most max_events per channel and
step; the delivered total never drifts more than half an event from gain·Σu)."""
import numpy as np

from quantization.encoding import decode_signed_events, encode_signed_events


def reference(u: np.ndarray, gain: float, max_events: int) -> np.ndarray:
    T, M = u.shape
    out = np.zeros((T, 2 * M), dtype=np.int64)
    err = np.zeros(M)
    target = gain * u
    for t in range(T):
        want = target[t] + err
        n = np.clip(np.floor(want + 0.5), -max_events, max_events)
        err = want - n
        out[t, 0::2] = np.where(n > 0, n, 0)
        out[t, 1::2] = np.where(n < 0, -n, 0)
    return out


def test_compiled_modulator_equals_definition() -> None:
    rng = np.random.default_rng(3)
    for k in range(12):
        u = rng.normal(0, rng.uniform(0.01, 30), (500, int(rng.integers(1, 6))))
        gain, me = rng.uniform(0.1, 50), int(rng.integers(1, 16))
        got = encode_signed_events(u, gain, me)
        assert np.array_equal(got, reference(u, gain, me)), k
        assert got.max() <= me and got.min() >= 0
        if np.abs(gain * u).max() < me - 1:  # never clipped: the running error stays within half an event
            drift = np.cumsum(decode_signed_events(got, gain) - u, axis=0) * gain
            assert np.abs(drift).max() <= 0.5 + 1e-9
