"""Kill tests: SIGINT, SIGTERM and SIGKILL on `pipeline`, `reproduce fig2` and `study` in a real
process.  INT/TERM end in order (exit 128 + signal, one line, no traceback); nothing partial is
accepted by a later command; a SIGKILL'd study resumes computing only what is missing; an
interrupted pipeline resumes from its last finished stage.

Each run is signalled once it is known to be working: the in-progress marker of its --out
exists (written after the CLI installed its handlers), plus, for the study, two finished tasks."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from neuromorph import outdir
from neuromorph.cli import main

SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]


def start(*args):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "neuromorph.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_for(cond, proc, timeout=120.0):
    t0 = time.monotonic()
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(f"finished before it was signalled: {proc.communicate()}")
        if time.monotonic() - t0 > timeout:
            proc.kill()
            raise AssertionError("never started working")
        time.sleep(0.05)


def stop(proc, sig):
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 128 + sig, (proc.returncode, err)
        lines = err.strip().splitlines()
        assert lines[-1].startswith(f"neuromorph: interrupted ({signal.Signals(sig).name})"), err
        assert "Traceback" not in err
    return out, err


def accepted(path, kinds):
    try:
        outdir.require_complete(path, kinds)
        return True
    except (ValueError, FileNotFoundError):
        return False


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_pipeline(tmp_path, sig):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"train": {"iterations": 400}, "quantize": {"adapt": "off"},
                                   "verify": {"test_steps": 500, "xylosim": False}}))
    out = tmp_path / "out"
    p = start("pipeline", "--config", cfg, "--out", out, "--no-progress")
    wait_for(lambda: (out / outdir.PARTIAL).exists(), p)
    time.sleep(0.5)
    stop(p, sig)
    assert not accepted(out, "pipeline")
    if sig != signal.SIGKILL:
        # the stage that was running is gone with its temporary sibling; finished stages stay
        assert not [q for q in out.iterdir() if q.name.startswith(".") and q.name != outdir.PARTIAL]
        for q in out.iterdir():
            if q.is_dir():
                assert accepted(q, ("train", "quantize", "deploy", "verify")), q
    rc = main(["pipeline", "--config", str(cfg), "--out", str(out)])
    assert rc == 2  # neither merged into nor silently continued


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_reproduce_fig2(tmp_path, sig):
    out = tmp_path / "fig2"
    p = start("reproduce", "fig2", "--iterations", "50", "--out", out, "--no-progress")
    wait_for(lambda: (out / outdir.PARTIAL).exists(), p)
    time.sleep(0.3)
    stop(p, sig)
    if sig == signal.SIGKILL:
        assert (out / outdir.PARTIAL).exists() and not (out / outdir.MANIFEST).exists()
        assert not accepted(out, "reproduce")
        with pytest.raises(ValueError, match="holds an incomplete run; pass --force"):
            outdir.check_out(out)
    else:
        assert not out.exists()  # a run that is not resumable leaves nothing at all


def _toy_study(tmp_path):
    s = tmp_path / "s.yaml"
    s.write_text("name: slow\nkind: toy\nbase: {sleep: 0.15}\nsweep: {x: [0, 1, 2, 3, 4, 5, 6, 7]}\n")
    return s


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_study_resumes_only_what_is_missing(tmp_path, sig, capsys):
    s = _toy_study(tmp_path)
    out = tmp_path / "study"
    args = ["study", s, "--out", out, "--scheduler", "synchronous", "--no-progress"]
    p = start(*args)
    wait_for(lambda: len(list((out / "points").glob("*.json"))) >= 2, p)
    stop(p, sig)
    done = len(list((out / "points").glob("*.json")))
    assert 2 <= done < 8
    assert not accepted(out, "study") and not (out / "results.csv").exists()
    assert main([str(a) for a in args]) == 2  # an interrupted study is continued only when asked
    assert "holds an incomplete run; pass --force to replace it or --resume" in capsys.readouterr().err
    assert main([str(a) for a in args] + ["--resume"]) == 0
    assert f"8 tasks ({done} reused, {8 - done} computed, 0 failed)" in capsys.readouterr().out
    assert accepted(out, "study")
    summary = json.loads((out / "study.json").read_text())
    assert summary["counts"]["reused"] == done


def test_pipeline_resume_continues_from_the_last_finished_stage(tmp_path, monkeypatch, capsys):
    import neuromorph.stages.pipeline as sp

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"seed": 4, "train": {"iterations": 5}, "quantize": {"adapt": "off"},
                                   "verify": {"test_steps": 300, "xylosim": False}}))
    out = tmp_path / "out"
    args = ["pipeline", "--config", str(cfg), "--out", str(out), "--no-progress"]

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    real_verify = sp.verify
    monkeypatch.setattr(sp, "verify", interrupted)
    assert main(args) == 130
    assert "rerun with --resume" in capsys.readouterr().err
    assert not accepted(out, "pipeline") and not (out / "verify").exists()
    for stage in ("train", "quantize", "deploy"):
        assert accepted(out / stage, stage)
    network = (out / "train" / "network.npz").read_bytes()

    def no_training(*a, **k):
        raise AssertionError("a finished stage was recomputed")

    monkeypatch.setattr(sp, "verify", real_verify)
    monkeypatch.setattr(sp, "run_train", no_training)
    monkeypatch.setattr(sp, "quantize_run", no_training)
    monkeypatch.setattr(sp, "deploy", no_training)
    assert main(args + ["--resume"]) == 0
    assert accepted(out, "pipeline") and accepted(out / "verify", "verify")
    assert (out / "train" / "network.npz").read_bytes() == network
    # another config: the train stage (seed + train section) no longer matches and is redone
    cfg.write_text(yaml.safe_dump({"seed": 5, "train": {"iterations": 5}, "quantize": {"adapt": "off"},
                                   "verify": {"test_steps": 300, "xylosim": False}}))
    with pytest.raises(AssertionError, match="a finished stage was recomputed"):
        main(args + ["--resume"])
