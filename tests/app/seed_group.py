"""A finished two-variant, two-seed comparison group written straight into a store (no training).

Shared by the Compare tests (AppTest and Chromium): each run has a per-step training loss, an
evaluation every 25 steps, a ``data`` event and ``samples_per_s`` written the recorder's way
(the average since the start), so every x-axis (steps, epochs, samples, wall time) is offered.
"""

from __future__ import annotations

import numpy as np

from engine.config.recipe import load_recipe
from engine.store import Store

STEPS = 300
N_TRAIN = 2000
VARIANTS = {"baseline": (0.55, 900.0), "He init": (0.9, 1200.0)}  # final accuracy, samples per second
# What the variant changes: one key from a default value, one from a null default ("off" -> 1.0).
SETS = {"He init": {"model.init": "he_normal", "train.clip_norm": 1.0}}
SEEDS = 2


def write_seed_group(store: Store, group: str = "seeds") -> dict[str, str]:
    """Queue-free runs "baseline #0", "baseline #1", "He init #0", "He init #1"; returns {name: run id}."""
    ids = {}
    for v, (final_acc, speed) in VARIANTS.items():
        recipe = load_recipe("vanishing-sigmoid", {"train.steps": STEPS, **SETS.get(v, {})}).to_dict()
        for seed in range(SEEDS):
            name = f"{v} #{seed}"
            rid = store.create_run(recipe, name=name, group=group, total_steps=STEPS)
            rng = np.random.default_rng(seed + 10 * len(ids))
            s = np.arange(1, STEPS + 1)
            loss = (2.3 * np.exp(-s * final_acc / 60) + 0.1) * rng.uniform(0.8, 1.2, STEPS)
            scalars = [(int(i), "train_loss", float(x)) for i, x in zip(s, loss)]
            for i in s[24::25]:
                acc = final_acc * (1 - np.exp(-i / 80)) + 0.1 + 0.04 * (seed - 0.5)
                scalars += [(int(i), "val_accuracy", float(acc)), (int(i), "val_loss", float(2.4 - 2 * acc))]
            rate = speed * (1 + 0.1 * seed)
            scalars += [(int(i), "samples_per_s", rate) for i in s[9::10]]
            scalars += [(1, "lr", 0.01)]
            store.flush(
                rid,
                scalars=scalars,
                events=[(0, "data", {"n_train": N_TRAIN, "task": "classification", "chance_accuracy": 0.1})],
            )
            store.set_status(rid, "completed")
            ids[name] = rid
    return ids
