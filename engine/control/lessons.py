"""Run a lesson in-process: its baseline and every ``compare:`` variant, one after the other.

A lesson is a recipe with lesson text and a ``compare:`` block
(:attr:`engine.config.recipe.Recipe.is_lesson`). :func:`run_lesson` trains each run
in this process, in one comparison group of ``store`` (so
``compare.summarize_group`` and the app read it like any other group), and
returns per-variant numbers a test or a benchmark can assert on: final and
best headline metric, the train-validation gap, the first/last layer
gradient ratio, the findings, wall time, and the last value of every scalar
the run recorded (:meth:`VariantResult.last`).

``overrides`` apply to every run of the lesson (baseline and variants), e.g.
fixed probe intervals so that findings do not depend on machine load.
"""

from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from engine.config.errors import RecipeError
from engine.config.metrics import Headline, headline
from engine.config.recipe import Recipe, list_recipe_names, load_recipe


def fixed_probes() -> dict[str, Any]:
    """Overrides that fix every probe's interval (no budget), so that which findings fire
    cannot depend on how busy the machine is. Imports the training side."""
    from engine.training.probing.manager import fixed_intervals

    return {"probes.intervals": fixed_intervals()}


@dataclass
class VariantResult:
    label: str
    run_id: str
    recipe: Recipe
    status: str
    seconds: float
    metric: str  # the headline (engine.config.metrics): val_accuracy, val_mse or val_loss
    higher_is_better: bool
    final: float | None  # the headline metric at the last evaluation
    best: float | None  # its best over all evaluations
    best_step: int | None
    train_loss: float | None  # train_eval_loss at the last evaluation
    val_loss: float | None
    first_to_last: float | None  # median first/last layer gradient-norm ratio
    findings: dict[str, dict] = field(default_factory=dict)
    steps: int = 0
    series: Any = None  # the run's wide scalar table (index: step)

    @property
    def gap(self) -> float | None:
        """Validation minus training loss at the last evaluation: the generalisation gap."""
        if self.val_loss is None or self.train_loss is None:
            return None
        return self.val_loss - self.train_loss

    def steps_to(self, target: float) -> int | None:
        """First evaluated step at which the headline metric reaches ``target``."""
        from engine.control.compare import steps_to_reach

        if self.series is None or self.metric_column not in self.series.columns:
            return None
        return steps_to_reach(self.series[self.metric_column].dropna(), target, self.higher_is_better)

    @property
    def metric_column(self) -> str:
        """The stored scalar the headline is read from."""
        return Headline(self.metric, self.higher_is_better).column

    def last(self, name: str) -> float | None:
        """The last finite value of the scalar ``name`` (a probe's or a metric's), or None."""
        return None if self.series is None else _last(self.series, name)


@dataclass
class LessonResult:
    recipe: Recipe
    group: str
    variants: dict[str, VariantResult]  # label -> result, baseline first
    seconds: float
    store: Any = None  # where the runs are: their weights can be loaded again (``gradclinic explain``)

    @property
    def baseline(self) -> VariantResult:
        return self.variants["baseline"]

    def __getitem__(self, label: str) -> VariantResult:
        return self.variants[label]

    def best_remedy(self) -> VariantResult:
        """The variant (not the baseline) with the best final headline metric."""
        others = [v for k, v in self.variants.items() if k != "baseline" and v.final is not None]
        if not others:
            return self.baseline
        sign = 1 if self.baseline.higher_is_better else -1
        return max(others, key=lambda v: sign * (v.final or 0.0))

    def table(self) -> str:
        """A plain-text table of every variant, for test logs and the benchmark."""
        rows = [
            f"{'variant':<28} {'status':<13} {'final':>8} {'best':>8} {'gap':>8} {'first/last':>10} "
            f"{'sec':>6}  findings"
        ]
        for v in self.variants.values():
            rows.append(
                f"{v.label[:28]:<28} {v.status:<13} {_f(v.final):>8} {_f(v.best):>8} {_f(v.gap):>8} "
                f"{_e(v.first_to_last):>10} {v.seconds:>6.1f}  "
                f"{','.join(sorted(v.findings)) or '-'}"
            )
        return "\n".join(rows)


def _f(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _e(x: float | None) -> str:
    return "-" if x is None else f"{x:.1e}"


def lesson_names() -> list[str]:
    """Every built-in recipe that is a lesson, sorted."""
    out = []
    for name in list_recipe_names():
        try:
            if load_recipe(name).is_lesson:
                out.append(name)
        except RecipeError:  # a broken recipe is the recipe tests' business, not ours
            continue
    return out


def run_lesson(
    source: str | Recipe, store, overrides: dict[str, Any] | None = None, labels: list[str] | None = None
) -> LessonResult:
    """Train the baseline and the variants (all, or only ``labels``) in this process."""
    from engine.control.report import gradient_flow
    from engine.training import session

    recipe = source if isinstance(source, Recipe) else load_recipe(source)
    if overrides:
        recipe = recipe.with_overrides(overrides)
    planned: list[tuple[str, Recipe]] = [("baseline", recipe)]
    for v in recipe.compare:
        if labels is None or v.label in labels:
            planned.append((v.label, recipe.with_overrides(dict(v.set))))
    group = secrets.token_hex(4)
    t_all = time.perf_counter()
    results: dict[str, VariantResult] = {}
    for label, r in planned:
        run_id = store.create_run(r.to_dict(), name=label, group=group, total_steps=r.train.steps)
        t0 = time.perf_counter()
        summary = session.train(store, run_id, session.prepare(r, store))
        seconds = time.perf_counter() - t0
        wide = store.scalars_wide(run_id)
        head = headline(summary["final"])
        s = wide[head.column].dropna() if head.column in wide.columns else None
        s = s[s.map(math.isfinite)] if s is not None else None
        best = best_step = None
        if s is not None and len(s):
            best_step = int(s.idxmax() if head.higher_is_better else s.idxmin())
            best = float(s.loc[best_step])
        results[label] = VariantResult(
            label=label,
            run_id=run_id,
            recipe=r,
            status=summary["status"],
            seconds=seconds,
            metric=head.name,
            higher_is_better=head.higher_is_better,
            final=summary["final"].get(head.name),
            best=best,
            best_step=best_step,
            train_loss=_last(wide, "train_eval_loss"),
            val_loss=_last(wide, "val_loss"),
            first_to_last=gradient_flow(store, run_id)["first_to_last"],
            findings={f["code"]: f for f in summary["findings"]},
            steps=summary["steps"],
            series=wide,
        )
    return LessonResult(recipe, group, results, time.perf_counter() - t_all, store)


def _last(wide, column: str) -> float | None:
    if column not in wide.columns:
        return None
    s = wide[column].dropna()
    return float(s.iloc[-1]) if len(s) and math.isfinite(float(s.iloc[-1])) else None
