"""benchmarks/lessons.py: the mean-and-spread cells, and a --seeds run end to end on the quickest lesson."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("lessons_bench", ROOT / "benchmarks" / "lessons.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def test_a_cell_gives_mean_and_range_and_counts_the_runs_without_a_metric():
    assert bench._spread("val_accuracy", [0.9, 0.95, 1.0]) == "0.950 (0.900-1.000)"
    assert bench._spread("val_mse", [0.002, None, 0.004]) == "0.0030 (0.0020-0.0040) [1/3 diverged]"
    assert bench._spread("val_mse", [None, None]) == "- [2/2 diverged]"
    assert bench._spread("val_accuracy", [0.5]) == "0.500"


@pytest.mark.slow
def test_seeds_mode_runs_a_lesson_at_each_seed_and_reports_its_spread():
    out = subprocess.run(
        [sys.executable, "benchmarks/lessons.py", "lr-schedules", "--seeds", "0", "1", "--threads", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "lr-schedules seed 0:" in out.stderr and "lr-schedules seed 1:" in out.stderr
    row = next(line for line in out.stdout.splitlines() if line.startswith("lr-schedules"))
    # The constant-rate baseline diverges at both seeds; a warm-up schedule is the key variant.
    assert "- [2/2 diverged]" in row
    assert "Cyclic" in row or "One-cycle" in row
    assert "baseline, seeds 0, 1" in out.stdout
