import json
import subprocess
import sys

import pytest

from neuromorph.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "neuromorph.cli", *args], capture_output=True, text=True)


def test_help_lists_commands():
    r = run_cli("--help")
    assert r.returncode == 0
    for word in ("reproduce", "Spike coding networks"):
        assert word in r.stdout


def test_reproduce_fig2_quick_is_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["reproduce", "fig2", "--iterations", "20", "--out", str(a), "--seed", "4", "--no-progress"]) == 0
    assert main(["reproduce", "fig2", "--iterations", "20", "--out", str(b), "--seed", "4", "--no-progress"]) == 0
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    assert ma["format_version"] == 1
    assert ma["provenance"]["seed"] == 4
    for k in ("error_before", "error_after", "rate_before_hz", "rate_after_hz", "weight_distance", "steps"):
        assert ma[k] == mb[k], k
    assert ma["steps"] == 20_000
    report = (a / "report.md").read_text()
    assert report.startswith("# `neuromorph reproduce fig2`") and "**error_after**" in report
    assert f"- **error_after**: {ma['error_after']:.4g}" in report


@pytest.mark.parametrize("args,msg", [
    (["reproduce", "fig2", "--iterations", "0", "--out", "X"], "--iterations must be a positive"),
    (["reproduce", "fig99", "--out", "X"], "invalid choice"),
])
def test_user_errors_exit_nonzero_without_traceback(tmp_path, args, msg):
    args = [a.replace("X", str(tmp_path / "o")) for a in args]
    r = run_cli(*args)
    assert r.returncode == 2
    assert msg in r.stderr
    assert "Traceback" not in r.stderr
