"""The fault-injection benchmark runs, and scores what it runs: a small slice of the suite."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import diagnosis  # noqa: E402


def test_the_suite_is_generated_with_ground_truth_and_enough_healthy_cases():
    cases = diagnosis.suite()
    healthy = [c for c in cases if c.family == "healthy"]
    assert len(healthy) >= 30 and all(not c.truth for c in healthy)
    faulty = [c for c in cases if c.family != "healthy"]
    assert all(c.truth and not c.truth & c.allowed for c in faulty)
    datasets = {s.split("=")[1] for c in cases for s in c.sets if s.startswith("data.name=")}
    archs = {s.split("=")[1] for c in cases for s in c.sets if s.startswith("model.arch=")}
    assert len(datasets) >= 3 and len(archs) >= 3


def test_scoring_counts_a_symptom_as_allowed_and_a_healthy_alarm_as_false():
    vanish = diagnosis.Case(
        "vanishing", "v", "healthy-mlp", (), frozenset({"vanishing_gradients"}), frozenset({"loss_plateau"})
    )
    healthy = diagnosis.Case("healthy", "h", "healthy-mlp", ())
    result = diagnosis.score(
        [
            diagnosis.Outcome(vanish, 0, {"vanishing_gradients": "critical", "loss_plateau": "warning"}),
            diagnosis.Outcome(vanish, 1, {"loss_plateau": "warning"}),
            diagnosis.Outcome(healthy, 0, {"overfitting": "warning", "exploding_gradients": "info"}),
        ]
    )
    v, o = result["codes"]["vanishing_gradients"], result["codes"]["overfitting"]
    assert (v["tp"], v["fn"], v["recall"]) == (1, 1, 0.5)
    assert result["codes"]["loss_plateau"]["fp"] == 0  # a symptom of the injected fault
    assert (o["fp"], o["precision"]) == (1, 0.0)
    assert result["healthy_false_alarm_rate"] == 1.0  # info findings do not count as alarms


@pytest.mark.slow
def test_a_slice_of_the_benchmark_runs_end_to_end(tmp_path):
    out = tmp_path / "result.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "diagnosis.py"), "--slice", "2", "--jobs", "1", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "precision" in proc.stdout and "healthy set" in proc.stdout
    result = json.loads(out.read_text())
    assert (
        len(result["runs"]) == 2
        and result["codes"]["vanishing_gradients"]["tp"] + result["codes"]["vanishing_gradients"]["fn"] == 2
    )
