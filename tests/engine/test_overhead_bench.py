"""benchmarks/overhead.py runs end to end on a few steps (a smoke test, not a timing)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_overhead_benchmark_prints_its_tables():
    out = subprocess.run(
        [
            sys.executable,
            "benchmarks/overhead.py",
            "--steps",
            "8",
            "--repeats",
            "1",
            "--workloads",
            "mlp20,resnet",
            "--variants",
            "abce",
            "--device",
            "cpu",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert "wall-clock time:" in text and "process CPU time:" in text
    row = next(line for line in text.splitlines() if line.startswith("mlp20"))
    cells = row.split()
    assert all(float(c) > 0 for c in cells[1:4]) and cells[4] == "-", row  # (a) ms, (b), (c); (d) not asked
    assert "skipped: resnet runs on CUDA only" in text
    assert "(e) bare loop + TensorBoard" in text  # installed or "not installed", never a crash
