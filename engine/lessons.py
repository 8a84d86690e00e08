"""Run a lesson in-process: its baseline and every ``compare:`` variant, one after the other.

A lesson is a recipe with lesson text and a ``compare:`` block
(:attr:`engine.recipe.Recipe.is_lesson`). :func:`run_lesson` trains each run
in this process, in one comparison group of ``store`` (so
``compare.summarize_group`` and the app read it like any other group), and
returns per-variant numbers a test or a benchmark can assert on: final and
best headline metric, the train-validation gap, the first/last layer
gradient ratio, the share of weights near zero, the findings, wall time.

``overrides`` apply to every run of the lesson (baseline and variants), e.g.
fixed probe intervals so that findings do not depend on machine load.
"""
from __future__ import annotations

import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from engine.recipe import Recipe, list_recipe_names, load_recipe

#: Probe intervals that do not depend on timing: tests pass these so a
#: finding fires (or not) the same way on a busy machine as on an idle one.
FIXED_PROBES = {"probes.intervals": {
    "grad_norm": 5, "grad_max_abs": 5, "nonfinite": 5, "weight_norm": 5, "update_ratio": 10,
    "act_mean": 10, "act_std": 10, "dead_fraction": 10, "saturated_fraction": 10,
}}




@dataclass
class VariantResult:
    label: str
    run_id: str
    recipe: Recipe
    status: str
    seconds: float
    metric: str  # val_accuracy or val_mse
    higher_is_better: bool
    final: Optional[float]  # the headline metric at the last evaluation
    best: Optional[float]  # its best over all evaluations
    best_step: Optional[int]
    train_loss: Optional[float]  # train_eval_loss at the last evaluation
    val_loss: Optional[float]
    first_to_last: Optional[float]  # median first/last layer gradient-norm ratio
    weights_near_zero: Optional[float]  # at the last evaluation, when recorded
    findings: dict[str, dict] = field(default_factory=dict)
    steps: int = 0
    series: Any = None  # the run's wide scalar table (index: step)

    @property
    def gap(self) -> Optional[float]:
        """Validation minus training loss at the last evaluation: the generalisation gap."""
        if self.val_loss is None or self.train_loss is None:
            return None
        return self.val_loss - self.train_loss

    def steps_to(self, target: float) -> Optional[int]:
        """First evaluated step at which the headline metric reaches ``target``."""
        from engine.compare import steps_to_reach

        if self.series is None or self.metric_column not in self.series.columns:
            return None
        return steps_to_reach(self.series[self.metric_column].dropna(), target, self.higher_is_better)

    @property
    def metric_column(self) -> str:
        return "val_accuracy" if self.metric == "val_accuracy" else "val_loss"

    def better(self, a: Optional[float], b: Optional[float]) -> bool:
        if a is None or b is None:
            return False
        return a > b if self.higher_is_better else a < b


@dataclass
class LessonResult:
    recipe: Recipe
    group: str
    variants: dict[str, VariantResult]  # label -> result, baseline first
    seconds: float

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
        return max(others, key=lambda v: sign * v.final)

    def table(self) -> str:
        """A plain-text table of every variant, for test logs and the benchmark."""
        rows = [f"{'variant':<28} {'status':<13} {'final':>8} {'best':>8} {'gap':>8} {'first/last':>10} "
                f"{'~0 w':>6} {'sec':>6}  findings"]
        for v in self.variants.values():
            rows.append(
                f"{v.label[:28]:<28} {v.status:<13} {_f(v.final):>8} {_f(v.best):>8} {_f(v.gap):>8} "
                f"{_e(v.first_to_last):>10} {_f(v.weights_near_zero, 2):>6} {v.seconds:>6.1f}  "
                f"{','.join(sorted(v.findings)) or '-'}"
            )
        return "\n".join(rows)


def _f(x: Optional[float], digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _e(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.1e}"


def lesson_names() -> list[str]:
    """Every built-in recipe that is a lesson, sorted."""
    out = []
    for name in list_recipe_names():
        try:
            if load_recipe(name).is_lesson:
                out.append(name)
        except Exception:  # a broken recipe is the recipe tests' business, not ours
            continue
    return out


def run_lesson(source: str | Recipe, store, overrides: dict[str, Any] | None = None,
               labels: list[str] | None = None) -> LessonResult:
    """Train the baseline and the variants (all, or only ``labels``) in this process."""
    from engine import session
    from engine.report import gradient_flow

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
        summary = session.train(store, run_id, session.prepare(r))
        seconds = time.perf_counter() - t0
        wide = store.scalars_wide(run_id)
        classification = "val_accuracy" in summary["final"]
        # Classification, regression (val_mse), or another objective's val_loss (a GAN's MMD).
        metric = "val_accuracy" if classification else "val_mse" if "val_mse" in summary["final"] else "val_loss"
        column = "val_accuracy" if classification else "val_loss"
        s = wide[column].dropna() if column in wide.columns else None
        s = s[s.map(math.isfinite)] if s is not None else None
        best = best_step = None
        if s is not None and len(s):
            best_step = int(s.idxmax() if classification else s.idxmin())
            best = float(s.loc[best_step])
        results[label] = VariantResult(
            label=label, run_id=run_id, recipe=r, status=summary["status"], seconds=seconds,
            metric=metric, higher_is_better=classification,
            final=summary["final"].get(metric), best=best, best_step=best_step,
            train_loss=_last(wide, "train_eval_loss"), val_loss=_last(wide, "val_loss"),
            first_to_last=gradient_flow(store, run_id)["first_to_last"],
            weights_near_zero=_last(wide, "weights_near_zero"),
            findings={f["code"]: f for f in summary["findings"]}, steps=summary["steps"], series=wide,
        )
    return LessonResult(recipe, group, results, time.perf_counter() - t_all)


def _last(wide, column: str) -> Optional[float]:
    if column not in wide.columns:
        return None
    s = wide[column].dropna()
    return float(s.iloc[-1]) if len(s) and math.isfinite(float(s.iloc[-1])) else None
