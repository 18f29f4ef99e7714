"""End-to-end: the CLI stages chained through their output directories, the pipeline, config
handling and the failure paths (one-line errors, exit status 2, nothing half-written)."""
import json
import subprocess
import sys

import numpy as np
import pytest
import yaml

from neuromorph.cli import main
from neuromorph.config import ConfigError, load_config


def cli(*args):
    return subprocess.run([sys.executable, "-m", "neuromorph.cli", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    """train → quantize → verify → deploy → emulate on a short protocol."""
    root = tmp_path_factory.mktemp("stages")
    cfg = root / "run.yaml"
    cfg.write_text(yaml.safe_dump({"seed": 3, "train": {"iterations": 150}}))
    assert main(["train", str(cfg), "--out", str(root / "train"), "--no-progress"]) == 0
    assert main(["quantize", str(root / "train"), "--target", "xylo-audio-v2", "--adapt-steps", "200000",
                 "--out", str(root / "q")]) == 0
    assert main(["verify", str(root / "q"), "--out", str(root / "v"), "--steps", "4000"]) == 0
    assert main(["deploy", str(root / "q"), "--out", str(root / "d")]) == 0
    return root


def test_stage_outputs(stages):
    q = json.loads((stages / "q" / "quantization.json").read_text())
    for k in ("target", "error_float", "error_quantized", "fit_check"):
        assert k in q
    assert q["fit_check"]["ok"] and q["target"] == "xylo-audio-v2"
    v = json.loads((stages / "v" / "verify.json").read_text())
    assert v["emulator_matches_xylosim"] is True
    # the chip still represents its input: a coarse sanity bound, not a precision claim (that
    # lives in test_quantization_mapping: 8 bits within 1.5x of float).  3x + 0.01 leaves room
    # for the short 4000-step test and the shortened adaptation, and still fails for a chip
    # that codes nothing (normalised error ≈ 1)
    assert v["error_emulated"] < 3 * v["error_float"] + 0.01
    assert v["saturation_events"]["Vmem"] == 0
    for f in ("report.md", "reconstruction.png", "rates.png"):
        assert (stages / "v" / f).is_file()
    d = json.loads((stages / "d" / "deploy.json").read_text())
    assert d["hardware_violations"] == [] and not d["samna_available"]
    assert (stages / "d" / "network_quantized.nir").is_file()


def test_emulate_command_matches_xylosim_and_library(stages, tmp_path):
    from neuromorph.backends.xylo.emulator import emulate
    from neuromorph.backends.xylo.rockpool_compat import xylosim_from_spec
    from neuromorph.backends.xylo.spec import load_spec

    spec = load_spec(stages / "q" / "spec.npz")
    raster = np.random.default_rng(0).poisson(1.0, size=(300, spec.n_in)).astype(np.int64)
    np.save(tmp_path / "in.npy", raster)
    r = cli("emulate", stages / "q" / "spec.npz", "--input", tmp_path / "in.npy", "--record", "--out", tmp_path / "e")
    assert r.returncode == 0, r.stderr
    with np.load(tmp_path / "e" / "record.npz", allow_pickle=False) as z:
        rec = {k: z[k] for k in z.files}
    out, _, ref = xylosim_from_spec(spec, spec.device)(raster, record=True)
    assert np.array_equal(rec["output"], np.asarray(out))
    for k in ("Spikes", "Vmem", "Isyn", "Isyn2", "Vmem_out", "Isyn_out"):
        assert np.array_equal(rec[k], np.asarray(ref[k])), k
    assert np.array_equal(rec["output"], emulate(spec, raster).output)


@pytest.mark.parametrize("args,msg", [
    ("quantize {nope} --target xylo-audio-v2 --out {o}", "run directory not found"),
    ("quantize {train} --target xylo-nope --out {o}", "unknown hardware target 'xylo-nope'"),
    ("quantize {train} --target fixed-point --set weight_bits=40 --out {o}", "weight_bits"),
    ("quantize {train} --target xylo-audio-v2 --mismatch -1 --out {o}", "--mismatch must be >= 0"),
    ("verify {nope} --out {o}", "quantization directory not found"),
    ("emulate {q}/spec.npz --input {nope}.npy --out {o}", "input raster not found"),
    ("emulate {q}/spec.npz --input {bad} --out {o}", "raster has 3 channels, the spec has 4 inputs"),
    ("emulate {nope}.npz --input {bad} --out {o}", "spec file not found"),
    ("pipeline --config {badcfg} --out {o}", "unknown key train.nuerons"),
    ("deploy {train} --out {o}", "is the output of 'neuromorph train', not of 'neuromorph quantize'"),
    ("deploy {q} --out {o} --hardware", "needs SynSense's real 'samna'"),
])
def test_user_errors(stages, tmp_path, args, msg):
    np.save(tmp_path / "bad.npy", np.zeros((10, 3), dtype=np.int64))
    (tmp_path / "bad.yaml").write_text("train:\n  nuerons: 5\n")
    real = args.format(train=stages / "train", q=stages / "q", o=tmp_path / "o", nope=tmp_path / "nope",
                       bad=tmp_path / "bad.npy", badcfg=tmp_path / "bad.yaml").split()
    r = cli(*real)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert msg in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()  # nothing written on a user error


def test_config_validation(tmp_path):
    assert load_config()["quantize"]["target"] == "xylo-audio-v2"
    cases = {"a: 1\n": "unknown section 'a'", "train: 3\n": "section 'train' must be a mapping",
             "train:\n  iterations: -5\n": "train.iterations must be > 0",
             "train:\n  iterations: 2.5\n": "train.iterations must be an integer",
             "quantize:\n  method: fancy\n": "quantize.method = 'fancy' is not one of",
             "verify:\n  xylosim: 3\n": "verify.xylosim must be true or false", "seed: [1]\n": "seed must be an integer",
             "train: [\n": "not valid YAML"}
    for text, msg in cases.items():
        p = tmp_path / "c.yaml"
        p.write_text(text)
        with pytest.raises(ConfigError, match=msg.replace("(", r"\(").replace("[", r"\[")):
            load_config(p)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")


def test_show_config_round_trips(tmp_path):
    r = cli("pipeline", "--show-config", "--seed", "9")
    assert r.returncode == 0
    cfg = yaml.safe_load(r.stdout)
    assert cfg["seed"] == 9
    p = tmp_path / "c.yaml"
    p.write_text(r.stdout)
    assert load_config(p) == cfg


def test_pipeline_end_to_end(tmp_path):
    """The main job on a shortened config: report, summary and determinism under the seed."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"seed": 1, "train": {"iterations": 100}, "quantize": {"adapt_steps": 100000},
                                   "verify": {"test_steps": 3000}}))
    assert main(["pipeline", "--config", str(cfg), "--out", str(tmp_path / "a"), "--no-progress"]) == 0
    s = json.loads((tmp_path / "a" / "summary.json").read_text())
    for k in ("error_float", "error_fake_quant", "error_emulated", "emulator_matches_xylosim"):
        assert k in s
    assert s["emulator_matches_xylosim"] is True
    assert s["provenance"]["config_sha256"] and s["provenance"]["numpy"]
    rep = (tmp_path / "a" / "report.md").read_text()
    assert "Emulator vs Rockpool XyloSim: identical" in rep and "verify/reconstruction.png" in rep
    assert main(["pipeline", "--config", str(cfg), "--out", str(tmp_path / "b"), "--no-progress"]) == 0
    s2 = json.loads((tmp_path / "b" / "summary.json").read_text())
    for k in ("error_float", "error_fake_quant", "error_emulated"):
        assert s[k] == s2[k]
