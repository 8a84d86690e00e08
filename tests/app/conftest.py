"""Fixtures for the app tests: stores filled directly (no training), so views render in milliseconds."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from engine.config.recipe import load_recipe
from engine.store import Store

ROOT = Path(__file__).resolve().parents[2]
MAIN = str(ROOT / "app" / "main.py")
LAYERS = [f"layers.{i}" for i in range(5)] + ["head"]
ACTS = [f"act.{i}" for i in range(5)]


def fill(store: Store, run_id: str, steps: int = 200, vanishing: bool = False, nan_at: int | None = None) -> None:
    """Write a plausible history: loss, evals every 50 steps, lr, and per-layer stats."""
    store.set_layers(run_id, LAYERS, [(a, "relu") for a in ACTS])
    s = np.arange(1, steps + 1)
    loss = 2.3 * np.exp(-s / 80) + 0.1
    if nan_at:
        loss[nan_at - 1 :] = np.nan
    scalars = [(int(i), "train_loss", float(v)) for i, v in zip(s, loss)]
    scalars += [(int(i), "val_loss", float(loss[i - 1] + 0.05)) for i in s if i % 50 == 0]
    scalars += [(int(i), "val_accuracy", float(min(0.98, i / steps))) for i in s if i % 50 == 0]
    scalars += [(1, "lr", 1e-3), (int(steps), "samples_per_s", 5000.0), (int(steps), "probe_overhead", 0.03)]
    depth = np.arange(len(LAYERS))
    grads = (10.0 ** (depth - len(LAYERS)) if vanishing else np.full(len(LAYERS), 0.1)) * np.ones((steps, 1))
    store.flush(
        run_id,
        scalars=scalars,
        layer_stats={
            "grad_norm": (s, grads),
            "update_ratio": (s, np.full((steps, len(LAYERS)), 1e-3)),
            "dead_fraction": (s, np.full((steps, len(ACTS)), 0.1)),
            "saturated_fraction": (s, np.zeros((steps, len(ACTS)))),
        },
        events=[(1, "schedule", {"budget": 0.05, "group_intervals": {"grads": 1, "activations": 10}})],
    )


def finding(code: str = "vanishing_gradients") -> dict:
    return {
        "code": code,
        "severity": "critical",
        "first_step": 1,
        "layers": ["layers.0"],
        "message": "layers.0 receives almost no gradient",
        "evidence": {"first_to_last_ratio": 1e-9},
        "remedies": [
            {
                "name": "he_relu",
                "set": {"model.init": "he_normal", "model.activation": "relu"},
                "why": "ReLU passes gradients at full strength",
            }
        ],
    }


@pytest.fixture
def home(tmp_path, monkeypatch):
    """An empty store in a temp folder, used by the app through $GRADCLINIC_HOME."""
    monkeypatch.setenv("GRADCLINIC_HOME", str(tmp_path))
    # Nothing in these tests may start a real worker process.
    monkeypatch.setattr("engine.control.queue.spawn", lambda store, run_id: None)
    return tmp_path


@pytest.fixture
def populated(home):
    """A store with one run of each interesting status, two of them in a comparison group."""
    recipe = load_recipe("vanishing-sigmoid", {"train.steps": 200}).to_dict()
    ids = {}
    with Store(home) as store:
        for status, name, group in (
            ("completed", "baseline", "g1"),
            ("completed", "He init + ReLU", "g1"),
            ("running", None, None),
            ("crashed", None, None),
            ("diverged", None, None),
        ):
            rid = store.create_run(recipe, name=name, group=group, total_steps=200)
            fill(store, rid, vanishing=name == "baseline", nan_at=150 if status == "diverged" else None)
            if status == "running":
                # Our own pid keeps the reaper from calling it crashed.
                store.update_run(rid, pid=os.getpid(), started=time.time())
            store.set_status(rid, status, error="worker process exited (signal 9)" if status == "crashed" else None)
            if status == "diverged":
                store.add_findings(rid, [finding("non_finite")])
            ids[status if name is None else name] = rid
        store.add_findings(ids["baseline"], [finding()])
    return ids
