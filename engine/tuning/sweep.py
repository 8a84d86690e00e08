"""A sweep's driver: ask Optuna for a trial, run it as a real run, report its evaluations, prune, tell.

Every trial is an ordinary run in the store (its probes, findings and Live view
included), and the sweep is the run group: ``sweep-<6 hex>``, also the name of
its Optuna study in ``sweeps.db`` beside the store. The driver owns both the
store writes that decide a trial (stop, prune) and the study (ask/tell), so an
executor only has to train runs: in this process, in the queue's workers, or on
Ray. At each of a trial's evaluations the driver reports the metric to the
pruner; a trial the pruner cuts is asked to stop and ends with status ``pruned``.

Use :func:`plan` to check a sweep (exit 2 material: a bad key, a SPEC out of the
recipe's range, an unknown metric) before anything is written, then
``Sweep(store, plan, executor).run()``.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from engine.config.errors import RecipeError, excerpt
from engine.config.metrics import higher_is_better
from engine.config.names import TERMINAL
from engine.config.recipe import Recipe
from engine.config.sweep import Dimension, SweepSpec
from engine.store import Store
from engine.tuning import study as studies

POLL_S = 0.4  # how often the driver reads its running trials' evaluations (a worker flushes about twice a second)
#: Metrics a sweep can optimise: the stored evaluation scalars (val_mse is stored as val_loss).
METRICS = ("val_accuracy", "val_loss", "val_mse", "val_mmd", "anomaly_auc", "mode_coverage")
NAME_CHARS = 72


@dataclass(frozen=True)
class Plan:
    """A checked sweep: the trials' base recipe (no ``sweep:`` block), its dimensions and its objective."""

    recipe: Recipe
    spec: SweepSpec
    dims: tuple[Dimension, ...]
    metric: str
    trials: int  # a grid runs at most its cell count

    @property
    def direction(self) -> Literal["minimize", "maximize"]:
        return "maximize" if higher_is_better(self.metric) else "minimize"

    @property
    def column(self) -> str:
        """The stored scalar holding the metric (a regression's val_mse is its val_loss)."""
        return "val_loss" if self.metric == "val_mse" else self.metric


def default_metric(recipe: Recipe) -> str:
    """The model's own metric if it declares one (a GAN's MMD), else val_accuracy or val_loss by task."""
    from engine import datasets
    from engine.models import capabilities

    declared = capabilities(recipe.model.arch).metric
    if declared:
        return declared
    return "val_accuracy" if datasets.prepare(recipe.data, recipe.seed).task == "classification" else "val_loss"


def plan(recipe: Recipe, spec: SweepSpec | None = None) -> Plan:
    """Check ``spec`` (else the recipe's ``sweep:`` block) against ``recipe``; a problem is one RecipeError."""
    spec = spec or recipe.sweep
    if spec is None or not spec.space:
        raise RecipeError("sweep: nothing to search; give --space KEY=SPEC (e.g. train.lr=loguniform(1e-4,1))")
    dims = spec.dimensions()
    base = recipe.with_overrides({"sweep": None, "compare": []})
    for dim in dims:
        if dim.key.split(".")[0] in ("sweep", "compare", "questions", "name", "title", "lesson"):
            raise RecipeError(f"sweep space {dim.key}: not a training setting; search data, model or train keys")
        for value in dim.probe_values():
            try:
                base.with_overrides({dim.key: value})
            except RecipeError as exc:
                raise RecipeError(f"sweep space {dim.key}={dim.spec}: {excerpt(value)} does not fit: {exc}") from None
    metric = spec.metric or default_metric(base)
    if metric not in METRICS:
        raise RecipeError(f"--metric: {excerpt(metric)} is not a recorded metric; use one of {', '.join(METRICS)}")
    trials = spec.trials
    if spec.sampler == "grid":
        trials = min(trials, studies.grid_size(dims, spec.trials))
    return Plan(base, spec, dims, metric, trials)


class Executor(Protocol):
    """Where trials train. ``submit`` records a run (and may start it); ``wait`` lets time pass."""

    slots: int  # trials that may run at once

    def submit(self, sweep: Sweep, recipe: Recipe, name: str) -> str: ...

    def wait(self, sweep: Sweep, timeout: float) -> None: ...

    def close(self) -> None: ...


@dataclass
class TrialRun:
    """A trial and its run, as the driver follows it."""

    trial: Any  # optuna.Trial
    run_id: str
    params: dict[str, Any]
    reported: int = -1  # the last step reported to the pruner
    value: float | None = None  # the metric at that step
    prune_sent: bool = False
    started: float = field(default_factory=time.monotonic)


class Sweep:
    """One sweep over ``plan``'s space, its trials trained by ``executor`` into ``store``."""

    def __init__(
        self,
        store: Store,
        plan: Plan,
        executor: Executor,
        echo: Callable[[str], None] | None = None,
        executor_name: str = "",
        name: str | None = None,
    ):
        self.store, self.plan, self.executor, self.echo = store, plan, executor, echo
        # A caller that must know the id before the driver starts (the dashboard's Launch) passes it.
        self.group = name or f"sweep-{secrets.token_hex(3)}"
        spec, recipe = plan.spec, plan.recipe
        seed = recipe.seed if spec.seed is None else spec.seed
        sampler = studies.make_sampler(spec.sampler, plan.dims, plan.trials, seed)
        pruner = studies.make_pruner(spec.pruner, recipe.train.steps, recipe.train.eval_every, plan.trials)
        self.study = studies.create(store.home, self.group, plan.direction, sampler, pruner)
        for key, value in {
            "recipe": recipe.name,
            "metric": plan.metric,
            "space": {d.key: d.spec for d in plan.dims},
            "sampler": spec.sampler,
            "pruner": spec.pruner,
            "parallel": executor.slots,
            "executor": executor_name,
            "trials": plan.trials,
            "created": time.time(),
        }.items():
            self.study.set_user_attr(key, value)
        self.pending: dict[str, TrialRun] = {}
        self.asked = 0
        self.pruning = spec.pruner != "none"  # report each evaluation to Optuna only when a pruner reads them
        self.until: Callable[[float], bool] | None = None
        self.reached = False  # a finished trial satisfied ``until``

    # -- the loop -----------------------------------------------------------
    def run(self, until: Callable[[float], bool] | None = None) -> str:
        """Run every trial (``executor.slots`` at a time); returns the sweep's group id.

        ``until``: stop asking for trials once a finished trial's value satisfies it (the ones
        running finish): "how many trials to reach 95 %" needs no trial after the first that does.
        """
        self.until = until
        try:
            while True:
                while len(self.pending) < self.executor.slots and self.asked < self.plan.trials and not self.reached:
                    self._start_next()
                if not self.pending:
                    break
                self.executor.wait(self, POLL_S)
                for run_id in list(self.pending):
                    self.observe(run_id)
        except BaseException:  # Ctrl-C, a dead store: no trial is left running or untold
            self._abandon()
            raise
        finally:
            self.executor.close()
        return self.group

    def _start_next(self) -> None:
        trial = self.study.ask()
        self.asked += 1
        params = {d.key: studies.suggest(trial, d) for d in self.plan.dims}
        recipe = self.plan.recipe.with_overrides(params)
        run_id = self.executor.submit(self, recipe, trial_name(trial.number, params))
        trial.set_user_attr("run_id", run_id)
        self.pending[run_id] = TrialRun(trial, run_id, params)

    def observe(self, run_id: str, settle: bool = True) -> None:
        """Report the run's new evaluations to the pruner, prune it if told to, and tell it once it ended.

        ``settle=False`` (a call from inside the trial's own training) skips the check for its end.
        """
        tr = self.pending.get(run_id)
        if tr is None or (not settle and not self.pruning):
            return  # with no pruner nothing is decided mid-run: the value is read once, at the end
        rows = self.store.scalars(run_id, since_step=tr.reported, names=[self.plan.column])
        for step, value in sorted(zip(rows["step"].astype(int), rows["value"].astype(float))):
            if step <= tr.reported or not math.isfinite(value):
                continue
            tr.reported, tr.value = step, value
            if not self.pruning:
                continue
            tr.trial.report(value, step)
            if not tr.prune_sent and tr.trial.should_prune():
                self.store.request_stop(run_id, prune=True)
                tr.prune_sent = True
        if not settle:
            return
        from engine.control import queue

        status = queue.observed(self.store.get_run(run_id))["status"]  # a dead worker reads as crashed
        if status in TERMINAL:
            self._tell(tr, status)

    def _tell(self, tr: TrialRun, status: str) -> None:
        import optuna

        state = optuna.trial.TrialState
        seconds = time.monotonic() - tr.started
        # One attribute, one write: each Optuna write to sweeps.db is a transaction of its own.
        tr.trial.set_user_attr("outcome", {"status": status, "seconds": round(seconds, 3)})
        if status in ("completed", "early_stopped") and tr.value is not None:
            self.study.tell(tr.trial, tr.value)
            self.reached = self.reached or (self.until is not None and self.until(tr.value))
        elif status == "pruned":
            self.study.tell(tr.trial, state=state.PRUNED)
        else:  # diverged, failed, crashed, stopped: nothing to learn a value from
            self.study.tell(tr.trial, state=state.FAIL)
        del self.pending[tr.run_id]
        if self.echo is not None:
            shown = "-" if tr.value is None else f"{tr.value:.4g}"
            self.echo(
                f"trial {tr.trial.number:>3} [{tr.run_id}] {status:<13} {self.plan.metric}={shown:<8} "
                f"{seconds:6.1f}s  {format_params(tr.params)}"
            )

    def _abandon(self) -> None:
        """Stop every trial still going and record it failed in the study."""
        import optuna

        for tr in list(self.pending.values()):
            try:
                self.store.request_stop(tr.run_id)
                tr.trial.set_user_attr("outcome", {"status": "stopped", "seconds": None})
                self.study.tell(tr.trial, state=optuna.trial.TrialState.FAIL)
            except Exception:  # best effort while going down: the run's own worker still ends it
                pass
        self.pending.clear()


def format_params(params: dict[str, Any]) -> str:
    """``train.lr=0.00123, model.width=64`` with floats to 3 significant digits."""
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def trial_name(number: int, params: dict[str, Any]) -> str:
    """A trial run's name, ``#3 lr=0.00123 width=64``: its number and values, told apart in any legend."""
    short = " ".join(
        f"{k.rsplit('.', 1)[-1]}={v:.3g}" if isinstance(v, float) else f"{k.rsplit('.', 1)[-1]}={v}"
        for k, v in params.items()
    )
    return f"#{number} {short}"[:NAME_CHARS]
