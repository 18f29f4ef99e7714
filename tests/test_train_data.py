"""`neuromorph train` on the user's own signal: .npy and .csv files through the CLI, an EI run,
seed determinism, the held-out split on disk, and the failure paths (one line, exit 2,
nothing written)."""
import json
import subprocess
import sys

import numpy as np
import pytest
import yaml
from scipy.ndimage import gaussian_filter1d

from neuromorph.cli import main
from neuromorph.config import ConfigError, load_config
from neuromorph.data import load_run_data
from neuromorph.data.drive import bridge, join_steps, looped_source, play_once
from neuromorph.network import EINetwork, SCN, load_network
from neuromorph.sim.signals import leaky_integrate

M = 4  # channels of the synthetic signal
T = 20_000  # samples at 1 ms (20 s)

# Margins on error_after / error_before, from 8 seeds (0..7) of exactly these runs
# (/tmp measurement script, the CLI's defaults otherwise): SCN N = 100, 30 000 steps: ratio
# 0.151–0.205; EI 80 E + 20 I on 8 s of signal, 200 000 steps: 0.197–0.602.  The bounds are
# about 2x and 1.3x the worst seed; an SCN that does not learn sits at ratio ≈ 1.
SCN_RATIO = 0.4
EI_RATIO = 0.8


def cli(*args):
    return subprocess.run([sys.executable, "-m", "neuromorph.cli", *map(str, args)], capture_output=True, text=True)


def smooth_signal(n: int = T, m: int = M, seed: int = 123) -> np.ndarray:
    """(n, m) smooth noise (Gaussian width 40 samples) in arbitrary units, offset from 0."""
    rng = np.random.default_rng(seed)
    return gaussian_filter1d(rng.standard_normal((n, m)), 40, axis=0) * 3.0 - 1.0


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    x = smooth_signal()
    np.save(d / "sig.npy", x)
    np.savez(d / "sig.npz", x=x, dt=np.float64(5e-4))
    # the same kind of signal as CSV with a header and a time column at 2 ms (resampled to 1 ms)
    xc = smooth_signal(T // 2, M, seed=7)
    rows = "\n".join(",".join([f"{2e-3 * i:.6f}"] + [f"{v:.6f}" for v in r]) for i, r in enumerate(xc))
    (d / "sig.csv").write_text("time,ax,ay,az,gx\n" + rows + "\n")
    return d, x


@pytest.fixture(scope="module")
def npy_run(files, tmp_path_factory):
    d, _ = files
    out = tmp_path_factory.mktemp("runs") / "npy"
    r = cli("train", "--data", d / "sig.npy", "--dt", "0.001", "--neurons", "100", "--steps", "30000",
            "--seed", "0", "--no-progress", "--out", out)
    assert r.returncode == 0, r.stderr
    return out, r


def test_npy_run_files_metrics_and_learning(npy_run):
    out, r = npy_run
    for f in ("network.npz", "network_initial.npz", "data.npz", "metrics.json", "report.md", "reconstruction.png"):
        assert (out / f).is_file(), f
    assert "held-out error" in r.stdout
    m = json.loads((out / "metrics.json").read_text())
    for k in ("error_before", "error_after", "rate_before_hz", "rate_after_hz", "per_channel", "config",
              "provenance", "weight_distance", "data", "parameters"):
        assert k in m, k
    assert m["steps"] == 30_000 and m["network"] == "scn" and m["parameters"]["n_neurons"] == 100
    assert m["error_after"] < SCN_RATIO * m["error_before"]
    assert 0 < m["rate_after_hz"] < 100
    assert sorted(m["per_channel"]) == ["x1", "x2", "x3", "x4"]
    for v in m["per_channel"].values():
        assert v["error_after"] < v["error_before"] and v["rmse_after"] > 0
    net = load_network(out / "network.npz")
    assert isinstance(net, SCN) and net.F.shape == (100, M) and np.abs(net.D).sum() > 0
    rep = (out / "report.md").read_text()
    assert f"{m['error_after']:.4g}" in rep and "reconstruction.png" in rep


def test_npy_run_records_held_out_split(npy_run, files):
    out, _ = npy_run
    _, x = files
    rd = load_run_data(out, required=True)
    n_test = int(round(T * 0.2))
    assert rd.split == "time" and rd.test_fraction == 0.2
    assert rd.train.x.shape == (1, T - n_test, M) and rd.test.x.shape == (1, n_test, M)
    # the held-out part is the end of the file, scaled with the training part's statistics
    np.testing.assert_allclose(rd.scaling.to_data(rd.test.x[0]), x[-n_test:], rtol=0, atol=1e-12)
    np.testing.assert_allclose(rd.scaling.offset, x[:-n_test].mean(axis=0), rtol=1e-12)
    m = json.loads((out / "metrics.json").read_text())
    assert m["data"]["test_shape"] == [1, n_test, M] and m["data"]["split"] == "time"
    # per-channel RMSE is in the data's units: network-unit error times the channel's scale
    ch = m["per_channel"]["x1"]
    assert ch["rmse_after"] < ch["std"]


def test_csv_run_resamples_and_keeps_channel_names(files, tmp_path):
    d, _ = files
    out = tmp_path / "csv"
    r = cli("train", "--data", d / "sig.csv", "--neurons", "100", "--steps", "30000", "--test-fraction", "0.25",
            "--no-progress", "--out", out)
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert list(m["per_channel"]) == ["ax", "ay", "az", "gx"]
    assert m["data"]["data_dt"] == pytest.approx(2e-3) and m["data"]["dt"] == 1e-3
    assert m["data"]["dt_source"] == "file" and m["data"]["test_fraction"] == 0.25
    # 10 000 samples at 2 ms -> 20 000 at 1 ms (polyphase), last quarter held out
    assert m["data"]["test_shape"] == [1, 5000, M]
    assert m["error_after"] < SCN_RATIO * m["error_before"]


def test_ei_run(files, tmp_path):
    _, x = files
    np.save(tmp_path / "short.npy", x[:8000])
    out = tmp_path / "ei"
    r = cli("train", "--data", tmp_path / "short.npy", "--dt", "0.001", "--network", "ei", "--neurons-e", "80",
            "--neurons-i", "20", "--steps", "200000", "--no-progress", "--out", out)
    assert r.returncode == 0, r.stderr
    m = json.loads((out / "metrics.json").read_text())
    net = load_network(out / "network.npz")
    assert isinstance(net, EINetwork) and (net.n_exc, net.n_inh, net.n_inputs) == (80, 20, M)
    assert net.dt == 1e-4 and m["data"]["dt"] == 1e-4  # the EI default step; data resampled to it
    for k in ("error_i_before", "error_i_after", "rate_i_before_hz", "rate_i_after_hz"):
        assert k in m, k
    assert m["error_after"] < EI_RATIO * m["error_before"]
    assert m["rate_after_hz"] > 0 and m["rate_i_after_hz"] > 0
    assert np.all(net.W_EE[~np.eye(80, dtype=bool)] >= 0) and np.all(net.W_IE <= 0)  # Dale's law


def test_seed_determinism(files, npy_run, tmp_path):
    d, _ = files
    out, _ = npy_run
    args = ["--data", d / "sig.npy", "--dt", "0.001", "--neurons", "100", "--steps", "30000", "--no-progress"]
    assert cli("train", *args, "--seed", "0", "--out", tmp_path / "a").returncode == 0
    assert (tmp_path / "a" / "network.npz").read_bytes() == (out / "network.npz").read_bytes()
    assert (tmp_path / "a" / "data.npz").read_bytes() == (out / "data.npz").read_bytes()
    assert main(["train", *map(str, args), "--seed", "1", "--out", str(tmp_path / "b")]) == 0
    assert (tmp_path / "b" / "network.npz").read_bytes() != (out / "network.npz").read_bytes()


# ------------------------------------------------------------------------------ failure paths
@pytest.mark.parametrize("args, msg", [
    ("--data {npy} --dt 0.001 --network ei --neurons 50", "train.neurons (--neurons) sizes an SCN"),
    ("--data {npy} --dt 0.001 --neurons-e 50 --neurons-i 10", "train.neurons_e (--neurons-e) sizes an EI"),
    ("--data {npy} --dt 0.001 --network ei --neurons-e 50", "given without train.neurons_i (--neurons-i)"),
    ("--data {npy} --dt 0.001 --steps 100 --seconds 2", "both set the learning length"),
    ("--data {npy} --dt 0.001 --test-fraction 1.5", "data.test_fraction must be between 0 and 1"),
    ("--data {npy} --dt 0.001 --neurons -3", "train.neurons must be > 0"),
    ("--data {dir}/missing.npy --dt 0.001", "data file not found"),
    ("--data {dir}/sig.npz --dt 0.001", "--dt 0.001 contradicts the sample step 0.0005 s stored in sig.npz"),
    ("--network ei", "train.network (--network) = ei learns a signal"),
    ("--dt 0.001", "data.dt (--dt) is the sample step of a data file"),
    ("{typo}", "unknown key train.nuerons"),
    ("{badlearn} --data {npy} --dt 0.001", "train.learn names 'lateral'"),
])
def test_user_errors_one_line_nothing_written(files, tmp_path, capsys, args, msg):
    d, _ = files
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump({"train": {"nuerons": 5}}))
    (tmp_path / "badlearn.yaml").write_text(yaml.safe_dump({"train": {"learn": ["lateral"]}}))
    argv = ["train", *args.format(npy=d / "sig.npy", dir=d, typo=tmp_path / "typo.yaml",
                                  badlearn=tmp_path / "badlearn.yaml").split(),
            "--no-progress", "--out", str(tmp_path / "o" / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert msg in err and err.startswith("neuromorph: error:") and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_cli_error_has_no_traceback(tmp_path):
    r = cli("train", "--data", tmp_path / "nope.csv", "--out", tmp_path / "o")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == f"neuromorph: error: data file not found: {tmp_path / 'nope.csv'}"
    assert not (tmp_path / "o").exists()


def test_failed_run_leaves_previous_run_intact(npy_run, files, tmp_path):
    out, _ = npy_run
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    d, _ = files
    assert main(["train", "--data", str(d / "sig.npy"), "--dt", "0.001", "--network", "ei", "--neurons", "9",
                 "--out", str(out)]) == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_pipeline_checks_train_input_before_writing(files, tmp_path, capsys):
    d, _ = files
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"data": {"file": str(d / "sig.npy"), "dt": 0.001}, "train": {"network": "ei"}}))
    assert main(["pipeline", "--config", str(cfg), "--out", str(tmp_path / "p")]) == 2
    assert "cannot be quantized" in capsys.readouterr().err and not (tmp_path / "p").exists()
    cfg.write_text(yaml.safe_dump({"data": {"file": str(tmp_path / "gone.npy")}}))
    assert main(["pipeline", "--config", str(cfg), "--out", str(tmp_path / "p")]) == 2
    assert "data file not found" in capsys.readouterr().err and not (tmp_path / "p").exists()


def test_config_new_keys_validated(tmp_path):
    cases = {"train:\n  neurons: 2.5\n": "train.neurons must be an integer",
             "train:\n  lr_rec: fast\n": "train.lr_rec must be a number or null",
             "train:\n  network: snn\n": "train.network = 'snn' is not one of",
             "train:\n  learn: []\n": "train.learn must be a non-empty list",
             "data:\n  file: 3\n": "data.file must be a file path",
             "data:\n  sourse: x\n": "unknown key data.sourse",
             "train:\n  mu: -1\n": "train.mu must be >= 0"}
    for text, msg in cases.items():
        p = tmp_path / "c.yaml"
        p.write_text(text)
        with pytest.raises(ConfigError, match=msg.replace("(", r"\(")):
            load_config(p)


# ------------------------------------------------------------------------------ the input current
def test_looped_source_is_continuous_and_chunk_independent():
    """The looped input encodes [bridge 0→trial 1, trial 1, bridge, trial 2, bridge, trial 1, …]
    exactly (the leaky integral of the current is that signal), with no kicks at the joins."""
    lam, dt = 50.0, 1e-3
    rng = np.random.default_rng(0)
    trials = gaussian_filter1d(rng.standard_normal((2, 300, 3)), 10, axis=1) * 10 + 2
    src, C = looped_source(trials, lam, dt)
    J = join_steps(lam, dt)
    assert J == 40 and C == 2 * (300 + J)
    c = src(0, J + 2 * C)
    cycle = np.concatenate([trials[0], bridge(trials[0, -1], trials[1, 0], J),
                            trials[1], bridge(trials[1, -1], trials[0, 0], J)])
    want = np.concatenate([bridge(np.zeros(3), trials[0, 0], J), cycle, cycle])
    # float64 recursion of 1400 steps with |x| ~ 10: agreement to a few ulps of the signal
    np.testing.assert_allclose(leaky_integrate(c, lam, dt), want, rtol=0, atol=1e-11)
    np.testing.assert_array_equal(np.concatenate([src(0, 123), src(123, J + 2 * C - 123)]), c)
    # no join kick: the current over the whole loop stays within what the trials' own samples
    # need, although playing the jumps raw would kick by |Δx|/dt, over 5x more
    st = play_once(trials, lam, dt)
    inner = np.abs(st.c[st.data]).max()
    raw = min(np.abs(trials[0, -1] - trials[1, 0]).max(), np.abs(trials[1, -1] - trials[0, 0]).max(),
              np.abs(trials[0, 0]).max()) / dt
    assert raw > 5 * inner
    assert np.abs(c).max() <= inner


def test_play_once_marks_data_samples():
    trials = np.ones((3, 50, 2)) * np.arange(1, 4)[:, None, None]
    st = play_once(trials, 50.0, 1e-3)
    J = join_steps(50.0, 1e-3)
    assert st.x.shape == (3 * (50 + J), 2) and st.data.sum() == 150
    np.testing.assert_array_equal(st.x[st.data].reshape(3, 50, 2), trials)
    np.testing.assert_allclose(leaky_integrate(st.c, 50.0, 1e-3), st.x, rtol=0, atol=1e-12)
