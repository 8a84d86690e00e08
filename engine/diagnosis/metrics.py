"""A stored run as the plain tables the rules read (pandas/numpy, no torch, no store).

:func:`load_metrics` reads every scalar and every per-layer statistic the run
stored, whatever probes produced them, plus what the run said about its data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from engine.store import Store


@dataclass
class RunMetrics:
    """Everything a rule may read about one run."""

    scalars: pd.DataFrame  # index: step; columns: train_loss, val_loss, val_accuracy, ...
    layers: dict[str, pd.DataFrame]  # stat -> index: step, columns: layer names input -> output
    recipe: dict[str, Any]
    task: str = "classification"
    chance_accuracy: float | None = None
    target_variance: float | None = None  # regression: the MSE of predicting the mean
    act_families: dict[str, str] = field(default_factory=dict)  # activation layer -> family
    total_steps: int = 0
    diverged_step: int | None = None  # the recorder saw a non-finite loss here
    early_stopped_step: int | None = None  # early stopping ended the run here (and kept its best weights)
    trials: dict[str, Any] = field(default_factory=dict)  # the latest remedy trials' results (control/trials)

    def series(self, name: str) -> pd.Series:
        """A scalar metric without its gaps (empty when never recorded)."""
        if name not in self.scalars.columns:
            return pd.Series(dtype=float)
        return self.scalars[name].dropna()

    def stat(self, name: str) -> pd.DataFrame:
        return self.layers.get(name, pd.DataFrame())

    @property
    def last_step(self) -> int:
        return int(self.scalars.index.max()) if len(self.scalars.index) else 0


def load_metrics(store: Store, run_id: str) -> RunMetrics:
    """Read one run from the store into the plain tables the rules expect."""
    run = store.get_run(run_id)
    scalars = store.scalars_wide(run_id)
    layers = {}
    for stat in store.stats(run_id):
        steps, names, values = store.layer_matrix(run_id, stat)
        if len(steps):
            layers[stat] = pd.DataFrame(values, index=pd.Index(steps, name="step"), columns=names)
    events = store.events(run_id)
    info: dict = {}
    diverged: int | None = None
    early_stopped: int | None = None
    trials: dict[str, Any] = {}
    if not events.empty:
        data_rows = events[events["kind"] == "data"]
        if len(data_rows):
            info = data_rows.iloc[-1]["payload"] or {}
        div = events[events["kind"] == "diverged"]
        if len(div):
            diverged = int(div.iloc[0]["step"])
        stopped = events[events["kind"] == "early_stopped"]
        if len(stopped):
            early_stopped = int(stopped.iloc[-1]["step"])
        tried = events[events["kind"] == "trial_results"]
        trials = tried.iloc[-1]["payload"] if len(tried) else {}
    catalogue = store.layers(run_id)
    acts = catalogue[catalogue["kind"] == "activation"] if not catalogue.empty else catalogue
    return RunMetrics(
        scalars=scalars,
        layers=layers,
        recipe=run.get("recipe") or {},
        task=info.get("task", "classification"),
        chance_accuracy=info.get("chance_accuracy"),
        target_variance=info.get("target_variance"),
        act_families=dict(zip(acts.get("name", []), acts.get("family", []))),
        total_steps=int(run.get("total_steps") or 0),
        diverged_step=diverged,
        early_stopped_step=early_stopped,
        trials=trials,
    )
