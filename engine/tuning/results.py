"""A sweep read back: its settings, the trials table, the best trial, counts by status, importances.

Reads the Optuna study (params, values, intermediate values) and the run store
(each trial's run: status, duration) and joins them on the trial's run id. Used by
``gradclinic sweep --json`` and by the dashboard's Sweep page; torch-free.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from engine.store import Store
from engine.tuning import study as studies


@dataclass
class SweepResult:
    """One sweep as stored. ``trials`` has a row per trial: number, run_id, status, state (Optuna's), value,
    steps (the last one reported), trained (steps the run took), seconds, and a column per parameter."""

    name: str
    settings: dict[str, Any]  # recipe, metric, space, sampler, pruner, parallel, executor, trials, created
    direction: str
    trials: pd.DataFrame
    study: Any  # the optuna.Study, for Optuna's own plots

    @property
    def metric(self) -> str:
        return str(self.settings.get("metric", "value"))

    @property
    def params(self) -> list[str]:
        return list(self.settings.get("space", {}))

    def counts(self) -> dict[str, int]:
        """Trials by run status (completed, pruned, diverged, ...), running and queued ones included."""
        return {str(k): int(v) for k, v in self.trials["status"].value_counts().items()} if len(self.trials) else {}

    def best(self) -> dict[str, Any] | None:
        """The best finished trial: its number, run, value and params; None before one finishes."""
        done = self.trials.dropna(subset=["value"])
        done = done[done["state"] == "COMPLETE"]
        if done.empty:
            return None
        row = done.loc[done["value"].idxmax() if self.direction == "maximize" else done["value"].idxmin()]
        return {
            "trial": int(row["number"]),
            "run_id": row["run_id"],
            "value": float(row["value"]),
            "params": {p: _plain(row[p]) for p in self.params},
        }

    def best_so_far(self) -> pd.DataFrame:
        """Finished trials in order, with the best value up to each: the optimisation history."""
        done = self.trials[self.trials["state"] == "COMPLETE"].sort_values("number")
        running = done["value"].cummax() if self.direction == "maximize" else done["value"].cummin()
        return pd.DataFrame({"number": done["number"], "value": done["value"], "best": running})

    def top(self, k: int) -> list[str]:
        """The run ids of the ``k`` best finished trials, best first (for Compare)."""
        done = self.trials[self.trials["state"] == "COMPLETE"].dropna(subset=["value"])
        done = done.sort_values("value", ascending=self.direction != "maximize")
        return [str(r) for r in done["run_id"].head(k)]

    def importances(self) -> dict[str, float]:
        """Optuna's fANOVA importance of each parameter (they sum to 1); empty until two trials finished."""
        import optuna

        finished = [t for t in self.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if len(finished) < 2 or len(self.params) < 1:
            return {}
        if len({tuple(sorted(t.params.items())) for t in finished}) < 2:
            return {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                got = optuna.importance.get_param_importances(self.study)
            except (RuntimeError, ValueError):  # a parameter that never varied among finished trials
                return {}
        return {str(k): float(v) for k, v in got.items()}

    def summary(self) -> dict[str, Any]:
        """What ``gradclinic sweep --json`` prints: settings, best, counts, importances, every trial."""
        rows = []
        for r in self.trials.to_dict("records"):
            rows.append(
                {
                    "trial": int(r["number"]),
                    "run_id": r["run_id"],
                    "status": r["status"],
                    "value": _plain(r["value"]),
                    "seconds": _plain(r["seconds"]),
                    "params": {p: _plain(r[p]) for p in self.params},
                }
            )
        return {
            "sweep": self.name,
            **{k: self.settings.get(k) for k in ("recipe", "metric", "sampler", "pruner", "parallel", "executor")},
            "direction": self.direction,
            "space": self.settings.get("space", {}),
            "best": self.best(),
            "counts": self.counts(),
            "importances": self.importances(),
            "trials": rows,
        }


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: numpy numbers as Python ones, NaN as None."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def load(store: Store, name: str) -> SweepResult:
    """The sweep ``name`` (its group id) from the store at ``store.home``; KeyError when there is none."""
    try:
        study = studies.load(store.home, name)
    except KeyError:
        raise KeyError(f"no sweep {name!r} in {Path(store.home) / studies.STUDY_FILE}") from None
    settings = dict(study.user_attrs)
    params = list(settings.get("space", {}))
    runs = store.list_runs(group=name)
    by_id = {r["id"]: r for r in runs.to_dict("records")} if len(runs) else {}
    rows = []
    for t in study.get_trials(deepcopy=False):
        run_id = t.user_attrs.get("run_id")
        run = by_id.get(run_id, {})
        outcome = t.user_attrs.get("outcome") or {}
        status = run.get("status") or outcome.get("status") or t.state.name.lower()
        started, ended = run.get("started"), run.get("ended")
        seconds = outcome.get("seconds")
        if seconds is None and started and ended:
            seconds = float(ended) - float(started)
        rows.append(
            {
                "number": t.number,
                "run_id": run_id,
                "status": status,
                "state": t.state.name,
                "value": t.value if t.state.name == "COMPLETE" else _last(t.intermediate_values),
                "steps": max(t.intermediate_values) if t.intermediate_values else run.get("step"),
                "trained": run.get("step"),  # steps the run took: a pruned trial's are fewer
                "seconds": seconds,
                **{p: t.params.get(p) for p in params},
            }
        )
    columns = ["number", "run_id", "status", "state", "value", "steps", "trained", "seconds", *params]
    trials = pd.DataFrame(rows, columns=columns)
    return SweepResult(name, settings, study.direction.name.lower(), trials, study)


def _last(values: dict[int, float]) -> float | None:
    """A pruned or running trial's latest reported value."""
    return values[max(values)] if values else None


def names(store: Store) -> list[str]:
    """Every sweep in the store, newest first."""
    return studies.names(store.home)
