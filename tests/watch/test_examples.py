"""The examples' claim, at seeds 0, 1 and 2: the watch API's two lines find the deep sigmoid net's
vanishing gradients, and the fixed script (ReLU + kaiming init) has none.

The scripts run in this process (one torch thread), each into the store that ``$GRADCLINIC_HOME``
names, as a user's script would write to the dashboard's store.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
import io
from pathlib import Path

import pytest

from engine.control import watched
from engine.store import Store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEEDS = (0, 1, 2)


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train(name: str, seed: int, home: Path, monkeypatch) -> dict:
    """Run ``examples/<name>.py --seed SEED`` into the store at ``home``; its run row, with its findings."""
    monkeypatch.setenv("GRADCLINIC_HOME", str(home))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        load(name).main(["--seed", str(seed)])
    with Store(home) as store:
        run_id = store.list_runs()["id"][0]
        run = store.get_run(run_id)
        run["findings"] = store.findings(run_id)
    return run


def test_the_watched_script_is_the_plain_one_plus_the_watch_lines():
    plain = (EXAMPLES / "plain_loop.py").read_text().splitlines()
    watched_src = (EXAMPLES / "watched_loop.py").read_text().splitlines()
    start = next(i for i, line in enumerate(plain) if line.startswith("import"))  # past the docstrings
    added = [
        line[2:].strip()
        for line in difflib.ndiff([s.strip() for s in plain[start:]], [s.strip() for s in watched_src[start + 1 :]])
        if line.startswith(("+ ", "- ")) and line[2:].strip()
    ]
    # Re-indented under the with block, the loop is the same; what is new is the import and the two lines.
    assert added == [
        "import gradclinic",
        'with gradclinic.watch(model, optimizer, name="deep-sigmoid") as clinic:',
        "clinic.step(loss)",
    ], added


@pytest.mark.parametrize("seed", SEEDS)
def test_the_watched_deep_sigmoid_net_has_vanishing_gradients(seed, tmp_path, monkeypatch, one_thread):
    run = train("watched_loop", seed, tmp_path, monkeypatch)
    assert run["status"] == "completed" and watched.is_watched(run)
    vanishing = next((f for f in run["findings"] if f["code"] == "vanishing_gradients"), None)
    assert vanishing is not None, [f["code"] for f in run["findings"]]
    assert vanishing["evidence"]["first_to_last_ratio"] < 1e-9
    first = vanishing["remedies"][0]
    assert first["name"] == "he_relu" and first["set"] == {}
    assert first["change"] == "replace nn.Sigmoid with nn.ReLU and initialise with kaiming_normal_"
    assert "kaiming_normal_" in first["code"] and first["evidence"]


@pytest.mark.parametrize("seed", SEEDS)
def test_the_fixed_script_has_no_vanishing_gradients(seed, tmp_path, monkeypatch, one_thread):
    run = train("fixed_loop", seed, tmp_path, monkeypatch)
    assert run["status"] == "completed"
    assert "vanishing_gradients" not in {f["code"] for f in run["findings"]}
    assert run["recipe"]["watch"]["init"] == "he_normal" and run["recipe"]["watch"]["activation"] == "relu"
    with Store(tmp_path) as store:
        loss = store.scalars_wide(run["id"])["train_loss"].dropna()
    assert loss.iloc[-50:].median() < 0.5 * loss.iloc[:20].median()  # it learns
