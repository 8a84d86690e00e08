"""Optuna's side of a sweep: the sampler, the pruner, and the study stored beside the run store.

The study lives in ``<store home>/sweeps.db`` (Optuna's RDB storage on SQLite),
one study per sweep, named by the sweep's run group. Only the sweep's driver
writes it; the dashboard reads it. Optuna is imported inside these functions,
so importing this module costs nothing.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from engine.config.sweep import Dimension

if TYPE_CHECKING:
    import optuna

STUDY_FILE = "sweeps.db"


def storage_url(home: Path) -> str:
    """The SQLAlchemy URL of the sweeps database beside the run store at ``home``."""
    return f"sqlite:///{Path(home) / STUDY_FILE}"


def grid_values(dims: tuple[Dimension, ...], trials: int) -> dict[str, list[Any]]:
    """A grid of about ``trials`` points: every choice, and the same number of points on each range.

    A 9-trial grid over two ranges is 3 x 3; with a two-way choice beside one range, 9 trials
    give that range 4 points (8 cells: a grid never runs more trials than it has cells).
    """
    choices = math.prod(len(d.choices) for d in dims if d.kind == "choice")
    ranges = [d for d in dims if d.kind != "choice"]
    per_range = max(1, int(math.floor((trials / choices) ** (1 / len(ranges)) + 1e-9))) if ranges else 1
    return {d.key: d.grid(per_range) for d in dims}


def grid_size(dims: tuple[Dimension, ...], trials: int) -> int:
    """How many cells :func:`grid_values` has: the trials a grid sweep runs."""
    return math.prod(len(v) for v in grid_values(dims, trials).values())


def make_sampler(name: str, dims: tuple[Dimension, ...], trials: int, seed: int) -> optuna.samplers.BaseSampler:
    """Optuna's sampler for ``name`` (grid, random, tpe, gp, cmaes), seeded so a sweep repeats."""
    import optuna

    if name == "grid":

        class AskTellGrid(optuna.samplers.GridSampler):
            """Optuna's grid, minus its ``study.stop()`` when the grid is used up: that works only inside
            ``study.optimize`` (under ask/tell it raises before the last trial is recorded). The driver
            runs exactly the grid's cells, so it stops by itself."""

            def after_trial(self, study, trial, state, values) -> None:
                pass

        return AskTellGrid(grid_values(dims, trials), seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # Model-based samplers draw at random until they have a few results to model. Optuna's
    # default of 10 would leave a 12-trial sweep almost no guided trials: a third of the
    # budget, 3 to 10 trials, as Optuna's own small-budget examples do.
    startup = min(10, max(3, trials // 3))
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)
    if name == "cmaes":
        with warnings.catch_warnings():  # CMA-ES draws a choice() key at random: said once in the docs, not per trial
            warnings.simplefilter("ignore")
            return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=startup, warn_independent_sampling=False)
    raise ValueError(f"unknown sampler {name!r}")


def make_pruner(name: str, steps: int, eval_every: int, trials: int) -> optuna.pruners.BasePruner:
    """Optuna's pruner for ``name`` (median, hyperband, none), in the recipe's own steps.

    The median rule waits for a few finished trials and never cuts a trial in its first fifth,
    where learning curves still cross; Hyperband's rungs start at the first evaluation.
    """
    import optuna

    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=min(5, max(2, trials // 4)), n_warmup_steps=steps // 5, interval_steps=1
        )
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=eval_every, max_resource=steps, reduction_factor=3)
    raise ValueError(f"unknown pruner {name!r}")


def suggest(trial: optuna.trial.BaseTrial, dim: Dimension) -> Any:
    """Draw ``dim``'s value for ``trial`` (the same call for every sampler, so a grid's cells match)."""
    if dim.kind == "choice":
        return trial.suggest_categorical(dim.key, list(dim.choices))
    assert dim.low is not None and dim.high is not None
    if dim.kind in ("int", "intlog"):
        return trial.suggest_int(dim.key, int(dim.low), int(dim.high), log=dim.kind == "intlog")
    return trial.suggest_float(dim.key, dim.low, dim.high, log=dim.kind == "loguniform")


def create(home: Path, name: str, direction: Literal["minimize", "maximize"], sampler, pruner) -> optuna.Study:
    """A new study ``name`` in the sweeps database beside the store at ``home``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the sweep prints its own one line a trial
    _write_ahead(Path(home) / STUDY_FILE)
    return optuna.create_study(
        study_name=name, storage=storage_url(home), direction=direction, sampler=sampler, pruner=pruner
    )


def _write_ahead(path: Path) -> None:
    """Put the sweeps database in WAL mode (it stays so): the driver commits at every report, and in
    WAL a commit appends to the log instead of rewriting pages, and the dashboard reads meanwhile."""
    import sqlite3

    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path, timeout=30) as db:
        db.execute("PRAGMA journal_mode=WAL")


def load(home: Path, name: str) -> optuna.Study:
    """The stored study ``name`` (for reading: the dashboard, ``--json`` output)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=name, storage=storage_url(home))


def summaries(home: Path) -> list[optuna.study.StudySummary]:
    """Every sweep's study summary (name, settings in ``user_attrs``, trial count) in the store at ``home``,
    newest first, in one read of the database; none when there is no database."""
    if not (Path(home) / STUDY_FILE).is_file():
        return []
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    found = optuna.get_all_study_summaries(storage_url(home), include_best_trial=False)
    found.sort(key=lambda s: float(s.user_attrs.get("created") or 0.0), reverse=True)
    return found


def names(home: Path) -> list[str]:
    """Every sweep's study name in the store at ``home``, newest first."""
    return [s.study_name for s in summaries(home)]
