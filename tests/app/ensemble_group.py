"""A finished ensemble written straight into a store (no training).

Shared by the Compare tests (AppTest and Chromium): N member runs in one group, named and
configured the way ``gradclinic ensemble`` makes them (``bagging #member 2/8``, each with its
member recipe), each with a per-step training loss, an evaluation every 25 steps ending at its
own value, and the ``ensemble`` event the trainer records after it, so
``engine.control.ensemble.summarize`` and the Compare page treat the group as an ensemble. The
default numbers are those of a real 8-member bagging of overfitting-small-data at 300 steps.
"""

from __future__ import annotations

import os
import time

import numpy as np

from engine.config.ensemble import EnsembleSpec
from engine.config.recipe import load_recipe
from engine.control import ensemble as plan
from engine.store import Store
from tests.app.conftest import finding

ENSEMBLE_RECIPE = "overfitting-small-data"
ENSEMBLE_STEPS = 300
#: The ensemble's validation accuracy with members 1..8, and each member's own.
ENSEMBLE_VALUES = (0.819, 0.831, 0.856, 0.853, 0.869, 0.864, 0.878, 0.883)
MEMBER_VALUES = (0.819, 0.792, 0.717, 0.786, 0.792, 0.833, 0.842, 0.783)
#: The members (0-based) diagnosed with overfitting.
OVERFITTING = (0, 1, 2, 3, 7)


def write_ensemble_group(
    store: Store,
    group: str = "ens",
    *,
    method: str = "bagging",
    values: tuple = ENSEMBLE_VALUES,
    member_values: tuple = MEMBER_VALUES,
    overfitting: tuple = OVERFITTING,
    planned: int | None = None,
    stopped: str | None = None,
    running: bool = False,
) -> dict[str, str]:
    """An ensemble of ``len(values)`` members (of ``planned``, default as many) in ``group``; returns {name: run id}.

    Boosting members get a vote weight and a weighted error; ``stopped`` is recorded on the last
    member (boosting's early end). With ``running`` a further member is added, still training,
    without its event yet, as while ``gradclinic ensemble`` trains it.
    """
    spec = EnsembleSpec(method=method, members=planned or len(values))
    base = load_recipe(ENSEMBLE_RECIPE, {"train.steps": ENSEMBLE_STEPS})
    s = np.arange(1, ENSEMBLE_STEPS + 1)
    ids = {}
    for m in range(len(values) + running):
        name = plan.member_name(spec, m)
        recipe = plan.member_recipe(base, spec, m).to_dict()
        live = m == len(values)
        rid = store.create_run(
            recipe, name=name, group=group, total_steps=ENSEMBLE_STEPS, status="running" if live else "queued"
        )
        final = member_values[m] if not live else 0.7
        scalars = [(int(i), "train_loss", float(2.3 * np.exp(-i / 40) + 0.02)) for i in s]
        for i in s[24::25]:
            acc = final * (1 - np.exp(-i / 40)) / (1 - np.exp(-ENSEMBLE_STEPS / 40))  # ends at `final`
            scalars += [(int(i), "val_accuracy", float(acc)), (int(i), "val_loss", float(2.4 - 2 * acc))]
        store.flush(rid, scalars=scalars)
        ids[name] = rid
        if live:
            store.update_run(rid, pid=os.getpid(), started=time.time())  # our pid: the reaper leaves it running
            continue
        store.set_status(rid, "completed")
        if m in overfitting:
            store.add_findings(rid, [finding("overfitting")])
        payload = {
            "method": method,
            "members": m + 1,
            "of": spec.members,
            "metric": "val_accuracy",
            "higher_is_better": True,
            "member_value": member_values[m],
            "value": values[m],
            "stopped": stopped if m == len(values) - 1 else None,
        }
        if method == "boosting":
            payload |= {"alpha": 1.0 + 0.1 * m, "weighted_error": 0.3 + 0.02 * m}
        store.add_event(rid, ENSEMBLE_STEPS, plan.EVENT, payload)
    return ids
