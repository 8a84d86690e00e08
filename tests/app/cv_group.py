"""A finished stratified 5-fold comparison group written straight into a store (no training).

Shared by the Compare tests (AppTest and Chromium): ten runs, baseline and weight decay on each
of five folds, named and configured the way ``gradclinic compare --cv`` makes them, so
``cv.summarize`` and the Compare page treat the group as a cross-validation.
"""

from __future__ import annotations

import numpy as np

from engine.config.recipe import load_recipe
from engine.control import cv
from engine.store import Store

CV_RECIPE = "overfitting-small-data"
CV_STEPS = 200
#: Final validation accuracy per fold: weight decay adds 0.5 to 2 points on every fold.
CV_VALUES = {
    "baseline": (0.844, 0.850, 0.869, 0.900, 0.836),
    "weight decay 0.001": (0.856, 0.862, 0.874, 0.919, 0.846),
}
CV_SETS = {"weight decay 0.001": {"train.weight_decay": 0.001}}


def write_cv_group(store: Store, group: str = "cv") -> dict[str, str]:
    """A finished stratified 5-fold comparison, written the way ``compare --cv`` names and configures it.

    Runs "baseline #fold 1/5" ... "weight decay 0.001 #fold 5/5", each with ``data.fold`` in its
    recipe, a per-step training loss and an evaluation every 25 steps that ends at ``CV_VALUES``;
    returns {name: run id}.
    """
    ids = {}
    for label, finals in CV_VALUES.items():
        for spec, final in zip(cv.fold_specs(5, stratified=True), finals):
            sets = {"train.steps": CV_STEPS, "data.fold": spec.model_dump(), **CV_SETS.get(label, {})}
            name = f"{label} #{spec.label}"
            rid = store.create_run(load_recipe(CV_RECIPE, sets).to_dict(), name=name, group=group, total_steps=CV_STEPS)
            s = np.arange(1, CV_STEPS + 1)
            scalars = [(int(i), "train_loss", float(2.3 * np.exp(-i / 40) + 0.02)) for i in s]
            for i in s[24::25]:
                acc = final * (1 - np.exp(-i / 40)) / (1 - np.exp(-CV_STEPS / 40))  # ends at `final`
                scalars += [(int(i), "val_accuracy", float(acc)), (int(i), "val_loss", float(2.4 - 2 * acc))]
            store.flush(rid, scalars=scalars)
            store.set_status(rid, "completed")
            ids[name] = rid
    return ids
