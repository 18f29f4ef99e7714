"""Issue 14's table, row by row: every careless-user case ends in exit status 2, one line naming
what the user typed, no traceback, and no output a later command would accept.

"Accepted by a later command" is checked the way the commands check it: a directory counts
only with a complete manifest (neuromorph.outdir.require_complete)."""
import errno
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest
import yaml

from neuromorph import outdir
from neuromorph.cli import main
from neuromorph.network import save_network
from neuromorph.sim.init import initial_scn


def run(capsys, *args):
    rc = main([str(a) for a in args])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def assert_user_error(rc, err, *needles):
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("neuromorph: error: ") and "Traceback" not in err
    for n in needles:
        assert str(n) in lines[0], (n, lines[0])


def not_accepted(path):
    """Nothing there, or nothing a reader of stage directories accepts."""
    if not path.exists():
        return True
    try:
        outdir.require_complete(path, tuple(outdir.WRITERS))
    except (ValueError, FileNotFoundError):
        return True
    return False


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A short train run, its QDIR (fits xylo-audio-v2), a network too wide for the chip (17
    inputs > 16), a raster and a fake fig3 reproduction directory."""
    root = tmp_path_factory.mktemp("rel")
    cfg = root / "run.yaml"
    cfg.write_text(yaml.safe_dump({"seed": 2, "train": {"iterations": 5}}))
    assert main(["train", str(cfg), "--out", str(root / "train"), "--no-progress"]) == 0
    assert main(["quantize", str(root / "train"), "--target", "xylo-audio-v2", "--adapt", "off",
                 "--out", str(root / "q")]) == 0
    wide = root / "wide"
    wide.mkdir()
    net = initial_scn(5, "paper", n_neurons=8, n_inputs=17)
    net.D = np.asarray(net.F.T, dtype=float).copy() * 0.01
    save_network(net, wide / "network.npz")
    outdir.write_manifest(wide, "train")
    fig3 = root / "fig3"
    fig3.mkdir()
    for cond in ("uncorrelated", "correlated"):
        (fig3 / f"network_{cond}.npz").write_bytes((root / "train" / "network.npz").read_bytes())
    outdir.write_manifest(fig3, "reproduce", extra={"figure": "fig3"})
    study = root / "toy.yaml"
    study.write_text("name: t\nkind: toy\nsweep: {x: [0, 1]}\n")
    np.save(root / "raster.npy", np.ones((20, 4), dtype=np.int64))  # 2 signals = 4 (+/-) channels
    return root


def commands(r, out):
    """One valid invocation of each of the 8 commands that write --out."""
    return {
        "pipeline": ["pipeline", "--config", r / "run.yaml", "--out", out, "--no-progress"],
        "train": ["train", r / "run.yaml", "--out", out, "--no-progress"],
        "quantize": ["quantize", r / "train", "--target", "xylo-audio-v2", "--adapt", "off", "--out", out],
        "deploy": ["deploy", r / "q", "--out", out],
        "emulate": ["emulate", r / "q" / "spec.npz", "--input", r / "raster.npy", "--out", out],
        "verify": ["verify", r / "q", "--out", out, "--steps", "200", "--no-xylosim"],
        "study": ["study", r / "toy.yaml", "--out", out, "--scheduler", "synchronous", "--no-progress"],
        "reproduce": ["reproduce", "fig2", "--iterations", "1", "--out", out, "--no-progress"],
    }


ALL = ["pipeline", "train", "quantize", "deploy", "emulate", "verify", "study", "reproduce"]


# ---------------------------------------------------------------- row 1: --out is an existing file

@pytest.mark.parametrize("cmd", ALL)
def test_out_is_an_existing_file(runs, tmp_path, capsys, cmd):
    f = tmp_path / "taken"
    f.write_text("mine")
    rc, _, err = run(capsys, *commands(runs, f)[cmd])
    assert_user_error(rc, err, f"--out {f} is an existing file")
    assert f.read_text() == "mine"


def test_out_below_a_regular_file(runs, tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    rc, _, err = run(capsys, *commands(runs, f / "sub")["quantize"])
    assert_user_error(rc, err, f"{f} is a file, so no directory can be created below it")
    assert f.read_text() == "x"


# ---------------------------------------------------------------- row 2: read-only --out, all 8 commands

@pytest.mark.parametrize("cmd", ALL)
def test_read_only_out_fails_before_any_work(runs, tmp_path, capsys, monkeypatch, cmd):
    """EROFS from the probe (what a read-only mount gives even to root): one line, nothing run."""
    def erofs(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    import neuromorph.stages.quantize as sq
    import neuromorph.stages.train as st
    import neuromorph.stages.verify as sv

    def no_work(*a, **k):
        raise AssertionError("work started before --out was checked")

    for mod, name in ((st, "train_network"), (sq, "quantize_run"), (sv, "verify")):
        monkeypatch.setattr(mod, name, no_work)
    monkeypatch.setattr(tempfile, "mkdtemp", erofs)
    out = tmp_path / "ro" / "out"
    rc, _, err = run(capsys, *commands(runs, out)[cmd])
    assert_user_error(rc, err, "--out", "read-only file system")
    assert not out.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a chmod 555 directory; the EROFS case covers it")
def test_chmod_read_only_directory(runs, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        rc, _, err = run(capsys, *commands(runs, ro / "out")["quantize"])
        assert_user_error(rc, err, "--out", "permission denied")
    finally:
        ro.chmod(0o755)


def test_probe_really_writes_as_root_too(tmp_path):
    # os.access answers from the mode bits (and True for root); the probe must create something
    outdir.check_out(tmp_path / "new")
    assert list(tmp_path.iterdir()) == []  # and leave nothing behind


# ---------------------------------------------------------------- row 3: existing directory of another run

def test_existing_run_directory_is_refused_then_replaced_with_force(runs, tmp_path, capsys):
    other = tmp_path / "fig2dir"
    other.mkdir()
    (other / "network.npz").write_bytes((runs / "train" / "network.npz").read_bytes())
    (other / "metrics.json").write_text("{}")
    args = commands(runs, other)["quantize"]
    rc, _, err = run(capsys, *args)
    assert_user_error(rc, err, f"--out {other} already exists and is not empty", "--force")
    assert sorted(p.name for p in other.iterdir()) == ["metrics.json", "network.npz"]  # untouched
    rc, _, err = run(capsys, *commands(runs, runs / "q")["train"])  # a finished run of another command
    assert_user_error(rc, err, "holds a finished run of 'neuromorph quantize'", "--force")
    rc, out, err = run(capsys, *args, "--force")
    assert rc == 0, err
    names = {p.name for p in other.iterdir()}
    assert "network.npz" not in names and "metrics.json" not in names  # replaced, not merged
    assert outdir.require_complete(other, "quantize")["kind"] == "quantize"


def test_force_keeps_the_old_directory_when_the_new_run_fails(runs, tmp_path, capsys):
    old = tmp_path / "old"
    old.mkdir()
    (old / "keep.txt").write_text("precious")
    rc, _, err = run(capsys, "quantize", runs / "train", "--target", "xylo-audio-v2", "--adapt", "off",
                     "--set", "dt=0.002", "--out", old, "--force")
    assert_user_error(rc, err, "--set dt")
    assert (old / "keep.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]  # nothing moved aside left over


def test_output_inside_the_input_is_refused(runs, capsys):
    rc, _, err = run(capsys, "quantize", runs / "train", "--target", "xylo-audio-v2", "--out", runs / "train",
                     "--force")
    assert_user_error(rc, err, "overlaps the input")
    assert outdir.require_complete(runs / "train", "train")


# ---------------------------------------------------------------- row 4: partial directories are not accepted

def test_directory_without_manifest_is_an_incomplete_run(runs, tmp_path, capsys):
    partial = tmp_path / "train"
    partial.mkdir()
    for f in ("network.npz", "network_initial.npz"):
        (partial / f).write_bytes((runs / "train" / f).read_bytes())  # what an interrupted train left
    rc, _, err = run(capsys, "quantize", partial, "--target", "xylo-audio-v2", "--out", tmp_path / "q")
    assert_user_error(rc, err, f"{partial} is an incomplete run", "rerun the command that writes it")
    assert not (tmp_path / "q").exists()


def test_changed_file_makes_a_run_stale(runs, tmp_path, capsys):
    import shutil

    q = tmp_path / "q"
    shutil.copytree(runs / "q", q)
    (q / "quantized.npz").write_bytes((q / "quantized.npz").read_bytes() + b"\0")
    rc, _, err = run(capsys, "verify", q, "--out", tmp_path / "v", "--steps", "200")
    assert_user_error(rc, err, f"{q / 'quantized.npz'} changed after the run wrote it")
    assert not (tmp_path / "v").exists()


def test_interrupted_command_leaves_nothing(runs, tmp_path, capsys, monkeypatch):
    import neuromorph.stages.quantize as sq

    real = sq.quantize_run

    def interrupted(*a, **k):
        real(*a, **k)  # every file written ...
        raise KeyboardInterrupt  # ... and then Ctrl-C before the command finished

    monkeypatch.setattr(sq, "quantize_run", interrupted)
    out = tmp_path / "a" / "q"
    rc, _, err = run(capsys, *commands(runs, out)["quantize"])
    assert rc == 130 and "interrupted (SIGINT)" in err
    assert not (tmp_path / "a").exists()  # the parents it created are gone too


# ---------------------------------------------------------------- row 5: target typo in a pipeline YAML

def test_pipeline_target_typo_fails_before_training(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("quantize:\n  target: xylo-audio-2\n")
    rc, _, err = run(capsys, "pipeline", "--config", cfg, "--out", tmp_path / "out", "--no-progress")
    assert_user_error(rc, err, f"{cfg}: quantize.target", "'xylo-audio-2'", "xylo-audio-v2")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- row 6: the network does not fit

def test_unfit_network_is_a_user_error_and_writes_nothing(runs, tmp_path, capsys):
    out = tmp_path / "q"
    rc, _, err = run(capsys, "quantize", runs / "wide", "--target", "xylo-imu", "--adapt", "off", "--out", out)
    # the shapes-only check fails it before any work (neuromorph/stages/preflight.py)
    assert_user_error(rc, err, "xylo-imu: the network cannot fit", "17 signal channels", "16")
    assert not out.exists()


def test_report_only_keeps_just_the_report(runs, tmp_path, capsys):
    out = tmp_path / "q"
    rc, _, err = run(capsys, "quantize", runs / "wide", "--target", "xylo-imu", "--adapt", "off", "--out", out,
                     "--report-only")
    assert_user_error(rc, err, "does not fit xylo-imu", "quantization.md")
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "quantization.json", "quantization.md"]
    assert json.loads((out / "quantization.json").read_text())["fit_check"]["ok"] is False
    rc, _, err = run(capsys, "verify", out, "--out", tmp_path / "v")  # a report is no QDIR
    assert_user_error(rc, err, "--report-only', not of 'neuromorph quantize'")


# ---------------------------------------------------------------- row 7: verify/deploy an unfit QDIR

@pytest.fixture(scope="module")
def unfit_qdir(runs):
    q = runs / "unfit"
    assert main(["quantize", str(runs / "wide"), "--target", "xylo-imu", "--adapt", "off", "--allow-unfit",
                 "--out", str(q)]) == 1
    return q


@pytest.mark.parametrize("cmd", ["verify", "deploy"])
def test_unfit_qdir_is_refused_unless_allowed(unfit_qdir, tmp_path, capsys, cmd):
    rc, _, err = run(capsys, cmd, unfit_qdir, "--out", tmp_path / "o")
    assert_user_error(rc, err, "does not fit xylo-imu", f"--allow-unfit to {cmd} it")
    assert not (tmp_path / "o").exists()


def test_unfit_qdir_verifies_when_allowed(unfit_qdir, tmp_path, capsys):
    rc, _, err = run(capsys, "verify", unfit_qdir, "--out", tmp_path / "o", "--steps", "200", "--allow-unfit",
                     "--no-xylosim")
    assert rc in (0, 1), err  # 1 would mean emulator != XyloSim; either way the run is complete
    assert outdir.require_complete(tmp_path / "o", "verify")


# ---------------------------------------------------------------- row 8: too many events per step

def test_raster_above_the_event_limit_is_refused_or_clipped(runs, tmp_path, capsys):
    r = np.zeros((30, 4), dtype=np.int64)
    r[3, 1] = 1000
    r[7, 0] = 16
    np.save(tmp_path / "r.npy", r)
    spec = runs / "q" / "spec.npz"
    rc, _, err = run(capsys, "emulate", spec, "--input", tmp_path / "r.npy", "--out", tmp_path / "e")
    assert_user_error(rc, err, "--input r.npy", "2 entries exceed the chip's 15 events", "step 3, channel 1",
                      "--clip")
    assert not (tmp_path / "e").exists()
    rc, out, err = run(capsys, "emulate", spec, "--input", tmp_path / "r.npy", "--out", tmp_path / "e", "--clip")
    assert rc == 0, err
    assert "2 entries clipped to 15 events (986 events removed)" in out  # (1000-15) + (16-15)
    assert outdir.require_complete(tmp_path / "e", "emulate")


# ---------------------------------------------------------------- row 9: settings a target ignores

@pytest.mark.parametrize("key", ["state_bits=12", "max_hidden_events=3"])
def test_ignored_set_keys_are_errors(runs, tmp_path, capsys, key):
    rc, _, err = run(capsys, "quantize", runs / "train", "--target", "fixed-point", "--set", key, "--out", tmp_path / "q")
    assert_user_error(rc, err, f"--set {key.split('=')[0]}: not a quantize setting")
    assert not (tmp_path / "q").exists()


@pytest.mark.parametrize("key, msg", [("dt=0.002", "must divide the network's step 0.001 s"),
                                      ("dt=3e-4", "allowed: 0.001, 0.0005, 0.000333333, 0.00025"),
                                      ("dt=1e-9", "k = 1..64"), ("dt=-1", "dt")])
def test_chip_step_that_the_chip_cannot_run_is_refused(runs, tmp_path, capsys, key, msg):
    # the chip step is a real choice (neuromorph.quant.chip_step): k = dt_net / dt must be an
    # integer >= 1 and the membrane dash it needs must fit the chip's 4 bits
    rc, _, err = run(capsys, "quantize", runs / "train", "--target", "xylo-audio-v2", "--set", key, "--out", tmp_path / "q")
    assert_user_error(rc, err, msg)
    assert not (tmp_path / "q").exists()


# ---------------------------------------------------------------- row 10: a closed pipe

def test_targets_json_into_head_is_quiet():
    r = subprocess.run(f"{sys.executable} -m neuromorph.cli targets --json | head -n 2; exit ${{PIPESTATUS[0]}}",
                       shell=True, executable="/bin/bash", capture_output=True, text=True)
    assert r.stderr == ""  # no BrokenPipeError traceback, no message: the reader chose to stop
    assert r.stdout.splitlines()[0] == "["
    assert r.returncode in (0, 141)  # 141 = 128 + SIGPIPE when the pipe closed while writing


# ---------------------------------------------------------------- row 11: a text file given as .npy

def test_csv_given_as_raster_says_what_it_is(runs, tmp_path, capsys):
    csv = tmp_path / "raster.csv"
    csv.write_text("0,1\n1,0\n")
    rc, _, err = run(capsys, "emulate", runs / "q" / "spec.npz", "--input", csv, "--out", tmp_path / "e")
    assert_user_error(rc, err, "--input raster.csv is a text file; pass a .npy array", "np.loadtxt")
    assert not (tmp_path / "e").exists()


# ---------------------------------------------------------------- row 12: flag names in messages

def test_negative_adapt_steps_names_the_flag(runs, tmp_path, capsys):
    rc, _, err = run(capsys, "quantize", runs / "train", "--target", "xylo-audio-v2", "--adapt-steps", "-1",
                     "--out", tmp_path / "q")
    assert_user_error(rc, err, "--adapt-steps must be >= 0", "got -1")
    assert not (tmp_path / "q").exists()


# ---------------------------------------------------------------- row 13: misleading "holds no ..."

def test_deploy_of_a_missing_directory(tmp_path, capsys):
    rc, _, err = run(capsys, "deploy", tmp_path / "nope", "--out", tmp_path / "o")
    assert_user_error(rc, err, f"quantization directory not found: {tmp_path / 'nope'}")
    assert not (tmp_path / "o").exists()


def test_quantize_of_a_fig3_run_names_its_networks(runs, tmp_path, capsys):
    rc, _, err = run(capsys, "quantize", runs / "fig3", "--target", "xylo-audio-v2", "--out", tmp_path / "q")
    assert_user_error(rc, err, "'reproduce fig3' run", "network_correlated.npz, network_uncorrelated.npz",
                      "pass one of these files")
    assert not (tmp_path / "q").exists()
    rc, _, err = run(capsys, "quantize", runs / "fig3" / "network_correlated.npz", "--target", "xylo-audio-v2",
                     "--adapt", "off", "--out", tmp_path / "q")
    assert rc == 0, err


# ---------------------------------------------------------------- the policy module itself

def test_manifest_lists_every_file_with_size_and_hash(runs):
    m = outdir.require_complete(runs / "q", "quantize")
    names = {p.name for p in (runs / "q").iterdir()} - {"manifest.json"}
    assert set(m["files"]) == names
    for rel, info in m["files"].items():
        assert info["size"] == (runs / "q" / rel).stat().st_size
        assert info["sha256"] == outdir.sha256_file(runs / "q" / rel)
    assert m["complete"] is True and m["command"][:2] == ["neuromorph", "quantize"] and m["config_sha256"]


def test_damaged_and_foreign_manifests(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "manifest.json").write_text("{not json")
    with pytest.raises(outdir.IncompleteRunError, match="manifest.json is damaged"):
        outdir.require_complete(d, "train")
    (d / "manifest.json").write_text(json.dumps({"kind": "train", "files": {}, "complete": False}))
    with pytest.raises(outdir.IncompleteRunError, match="does not mark a complete run"):
        outdir.require_complete(d, "train")
    (d / "manifest.json").unlink()
    (d / "x.npz").write_bytes(b"1")
    outdir.write_manifest(d, "study")
    with pytest.raises(outdir.IncompleteRunError, match="output of 'neuromorph study', not of 'neuromorph train'"):
        outdir.require_complete(d, "train")
    (d / "x.npz").unlink()
    with pytest.raises(outdir.IncompleteRunError, match="x.npz is missing"):
        outdir.require_complete(d, "study")


def test_force_and_resume_exclude_each_other(tmp_path):
    with pytest.raises(outdir.OutputDirError, match="--force and --resume exclude each other"):
        outdir.check_out(tmp_path, force=True, resume=True)


def test_resume_refuses_a_directory_of_another_kind(runs, tmp_path, capsys):
    rc, _, err = run(capsys, *commands(runs, runs / "q")["study"], "--resume")
    assert_user_error(rc, err, "--resume", "is the output of 'neuromorph quantize', not a study run")
