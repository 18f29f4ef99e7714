"""The user's data: file readers, resampling, held-out split, scaling, the run's data file."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.io import wavfile

from neuromorph.data import (OPERATING_STD, DataError, Scaling, Signal, builtin_signal, fit_scaling, load_run_data,
                             load_signal, prepare_run_data, resample, save_run_data, split_signal)


def _sig(T=1000, M=3, seed=0, trials=1):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((trials, T, M)).cumsum(axis=1)


# ------------------------------------------------------------------------------ readers
def test_npy_shapes(tmp_path):
    for shape, want in (((500,), (1, 500, 1)), ((500, 4), (1, 500, 4)), ((3, 500, 4), (3, 500, 4))):
        p = tmp_path / "x.npy"
        a = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
        np.save(p, a)
        s = load_signal(p, dt=1e-3)
        assert s.x.shape == want and s.x.dtype == np.float64 and s.dt == 1e-3 and s.dt_source == "flag"
        np.testing.assert_array_equal(s.x.reshape(-1), a.reshape(-1))


def test_npy_step_assumed_or_required(tmp_path):
    p = tmp_path / "x.npy"
    np.save(p, np.ones((10, 2)) * np.arange(10)[:, None])
    assert load_signal(p, default_dt=2e-3).dt_source == "assumed"
    with pytest.raises(DataError, match="pass --dt"):
        load_signal(p)


def test_npz_dt_and_contradiction(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, x=np.random.default_rng(0).standard_normal((100, 2)), dt=np.float64(5e-4))
    s = load_signal(p)
    assert s.dt == 5e-4 and s.dt_source == "file"
    with pytest.raises(DataError, match="--dt 0.001 contradicts the sample step 0.0005"):
        load_signal(p, dt=1e-3)
    np.savez(p, y=np.zeros(3))
    with pytest.raises(DataError, match=r"no array 'x' \(it holds: y\)"):
        load_signal(p, dt=1e-3)


def test_csv_header_time_column_and_plain(tmp_path):
    p = tmp_path / "d.csv"
    t = np.arange(50) * 2e-3
    rows = "\n".join(f"{ti:.6f},{np.sin(ti):.6f},{np.cos(ti):.6f}" for ti in t)
    p.write_text("time,left,right\n" + rows + "\n")
    s = load_signal(p)
    assert s.x.shape == (1, 50, 2) and s.channels == ("left", "right")
    assert s.dt == pytest.approx(2e-3, rel=1e-9) and s.dt_source == "file"
    p.write_text("\n".join(f"{i},{2 * i}" for i in range(20)) + "\n")
    s = load_signal(p, dt=1e-3)
    assert s.x.shape == (1, 20, 2) and s.channels == ("x1", "x2")
    np.testing.assert_array_equal(s.x[0, :, 1], 2 * np.arange(20))


@pytest.mark.parametrize("text, match", [
    ("a,b\n1,2\n3\n", "data line 3 has 1 values, expected 2"),
    ("a,b\n1,2\n3,x\n", r"data line 3, column 2: 'x' is not a number"),
    ("time,a\n0,1\n0.001,2\n0.003,3\n", "not uniformly sampled"),
    ("a,b\n", "header but no data rows"),
    ("1,nan\n2,3\n", "non-finite"),
])
def test_csv_errors(tmp_path, text, match):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(DataError, match=match):
        load_signal(p, dt=1e-3)


def test_wav_is_scaled_and_stated_rate(tmp_path):
    p = tmp_path / "s.wav"
    a = (np.stack([np.linspace(-1, 1, 800), np.zeros(800)], axis=1) * 16384).astype(np.int16)
    wavfile.write(p, 8000, a)
    s = load_signal(p)
    assert s.dt == 1 / 8000 and s.x.shape == (1, 800, 2)
    np.testing.assert_allclose(s.x[0, :, 0], a[:, 0] / 32768.0)


@pytest.mark.parametrize("content, name, match", [
    (b"1,2,3\n4,5,6\n", "x.npy", r"x\.npy is a text file, not a NumPy \.npy array; for CSV text use a \.csv name"),
    (b"\x00\xff\x10garbage", "x.npy", "not a NumPy file, not a NumPy .npy array"),
    (b"not a zip", "x.npz", "not a NumPy .npz archive"),
    (b"\xff\xfe\x00\x01", "x.csv", "not a UTF-8 text file"),
    (b"RIFFjunk", "x.wav", "unreadable WAV file"),
    (b"junk", "x.mat", "unsupported data file type '.mat'"),
])
def test_wrong_file_contents(tmp_path, content, name, match):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(DataError, match=match):
        load_signal(p, dt=1e-3)


def test_object_and_complex_and_missing(tmp_path):
    p = tmp_path / "o.npy"
    np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="holds Python objects"):
        load_signal(p, dt=1e-3)
    np.save(p, np.ones(10, dtype=complex))
    with pytest.raises(DataError, match="expected real numbers"):
        load_signal(p, dt=1e-3)
    with pytest.raises(DataError, match="data file not found"):
        load_signal(tmp_path / "none.npy", dt=1e-3)
    with pytest.raises(DataError, match="is a directory"):
        load_signal(tmp_path, dt=1e-3)
    with pytest.raises(DataError, match="--dt must be a positive"):
        load_signal(p, dt=-1.0)


# ------------------------------------------------------------------------------ resampling
def test_resample_rational_and_irrational():
    # a 3 Hz sine sampled at 4 kHz, taken to 1 kHz (decimation by 4) and to 1/0.0007 Hz (no small ratio)
    f, dt0 = 3.0, 2.5e-4
    t = np.arange(8000) * dt0
    s = Signal(np.sin(2 * np.pi * f * t)[None, :, None], dt0, source="sine")
    r = resample(s, 1e-3)
    assert r.dt == 1e-3 and r.x.shape == (1, 2000, 1)
    tt = np.arange(2000) * 1e-3
    # away from the ends (filter edge effects, 50 samples) the polyphase result is the sine to 1e-3
    np.testing.assert_allclose(r.x[0, 50:-50, 0], np.sin(2 * np.pi * f * tt[50:-50]), atol=1e-3)
    r2 = resample(s, np.pi * 2e-4)  # no ratio with a denominator <= 1000: linear interpolation
    tt2 = np.arange(r2.n_steps) * np.pi * 2e-4
    # linear interpolation of a 3 Hz sine at 4 kHz: error <= (2π f dt0)²/8 = 2.2e-5
    np.testing.assert_allclose(r2.x[0, :, 0], np.sin(2 * np.pi * f * tt2), atol=2.3e-5)
    assert resample(s, dt0) is s


# ------------------------------------------------------------------------------ split and scaling
def test_split_by_time_and_by_trials():
    s = Signal(_sig(T=1000), 1e-3)
    tr, te, how = split_signal(s, 0.2)
    assert how == "time" and tr.n_steps == 800 and te.n_steps == 200
    np.testing.assert_array_equal(np.concatenate([tr.x, te.x], axis=1), s.x)
    s5 = Signal(_sig(T=300, trials=5), 1e-3)
    tr, te, how = split_signal(s5, 0.2)
    assert how == "trials" and tr.n_trials == 4 and te.n_trials == 1
    np.testing.assert_array_equal(te.x[0], s5.x[-1])
    with pytest.raises(DataError, match="too few to hold out"):
        split_signal(Signal(_sig(T=300), 1e-3), 0.2)
    with pytest.raises(DataError, match="between 0 and 1"):
        split_signal(s, 1.0)


def test_scaling_round_trip_and_invariance():
    x = _sig(T=2000, M=4)
    base = Signal(x, 1e-3)
    sc = fit_scaling(base)
    xn = sc.to_network(x)
    np.testing.assert_allclose(xn.reshape(-1, 4).std(0), OPERATING_STD, rtol=1e-12)
    np.testing.assert_allclose(xn.reshape(-1, 4).mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(sc.to_data(xn), x, rtol=1e-12, atol=1e-12)
    # the same signal ×10 or ×0.1 (and shifted) lands on the same network signal: calibration follows the data
    for k, b in ((10.0, 0.0), (0.1, 5.0)):
        xk = k * x + b
        np.testing.assert_allclose(fit_scaling(Signal(xk, 1e-3)).to_network(xk), xn, rtol=1e-9, atol=1e-9)
    with pytest.raises(DataError, match="channel\\(s\\) x2 are constant"):
        fit_scaling(Signal(np.stack([x[0, :, 0], np.full(2000, 3.0)], axis=1)[None], 1e-3))
    with pytest.raises(DataError, match="scale finite and > 0"):
        Scaling(np.zeros(2), np.array([1.0, 0.0]))


def test_run_data_round_trip(tmp_path):
    s = Signal(_sig(T=3000, M=5) * 7.0 + 2.0, 5e-4, source="mine.npy", channels=tuple("abcde"))
    rd = prepare_run_data(s, 1e-3, test_fraction=0.2)
    assert rd.dt == 1e-3 and rd.train.n_steps + rd.test.n_steps == 1500 and rd.split == "time"
    # scaling fitted on the training part only
    np.testing.assert_allclose(rd.train.x.reshape(-1, 5).std(0), OPERATING_STD, rtol=1e-12)
    save_run_data(tmp_path, rd)
    back = load_run_data(tmp_path)
    np.testing.assert_array_equal(back.train.x, rd.train.x)
    np.testing.assert_array_equal(back.test.x, rd.test.x)
    np.testing.assert_array_equal(back.scaling.scale, rd.scaling.scale)
    assert back.train.channels == tuple("abcde") and back.source == "mine.npy" and back.split == "time"
    assert back.meta["data_dt"] == 5e-4
    assert load_run_data(tmp_path / "empty_dir_missing", required=False) is None
    (tmp_path / "data.npz").write_bytes(b"PK\x03\x04broken")
    with pytest.raises(DataError, match="damaged run data file"):
        load_run_data(tmp_path)
    with pytest.raises(DataError, match="pass --data FILE"):
        load_run_data(tmp_path / "sub", required=True)


def test_builtin_sources():
    s = builtin_signal("white-noise", 3, 5000, 1e-3, 50.0, seed=1)
    assert s.x.shape == (1, 5000, 3) and s.dt_source == "builtin"
    sc = builtin_signal("sine-cosine", 2, 1000, 1e-3, 50.0, seed=0)
    np.testing.assert_allclose(sc.x[0, :, 0], 3.0 * np.sin(2 * np.pi * np.arange(1000) * 1e-3), atol=1e-9)
    with pytest.raises(DataError, match="has 2 channels"):
        builtin_signal("sine-cosine", 3, 100, 1e-3, 50.0, seed=0)
    with pytest.raises(DataError, match="unknown built-in source"):
        builtin_signal("pink", 3, 100, 1e-3, 50.0, seed=0)
