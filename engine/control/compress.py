"""What ``gradclinic compress RUN`` may be asked, checked before torch loads. Torch-free.

:func:`plan` turns the flags into a :class:`Plan` or refuses them with one
:class:`RecipeError` naming the flag: pruning levels in (0, 1), a bounded fine-tune, structured
pruning only where there are units to remove, student overrides that make a valid recipe on the
teacher's data. The training side (:mod:`engine.training.compress.run`) carries the plan out;
nothing is stored when the plan is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.config.errors import RecipeError
from engine.config.recipe import Recipe, parse_override

MAX_LEVELS = 8
MAX_FINETUNE = 5000  # steps after each pruning: a few minutes of a small CPU for the lessons' MLP
REPEATS = 30  # latency: forward passes timed per variant (the median is reported)
#: Models judged by an objective of their own (reconstruction, a GAN's game), not by a task metric.
OWN_OBJECTIVE = ("autoencoder", "gan")
#: Where structured pruning finds whole units: hidden Linear rows (MLP) and Conv2d channels (CNN).
STRUCTURED_ARCHS = ("mlp", "cnn")
_NEXT_KEY = re.compile(r",(?=\s*[A-Za-z_][\w.]*\s*=)")  # a comma that starts the next KEY=VALUE


@dataclass(frozen=True)
class Plan:
    """What to make of run ``run_id``."""

    run_id: str
    prune: tuple[float, ...] = ()
    structured: bool = False
    finetune: int = 0  # steps after each pruning; 0: none
    quantize: str | None = None  # "int8"
    distill: dict[str, Any] | None = None  # the student's recipe overrides
    repeats: int = REPEATS


def parse_levels(text: str) -> tuple[float, ...]:
    """``"0.5,0.8,0.9"`` -> (0.5, 0.8, 0.9); each a share of weights strictly between 0 and 1."""
    try:
        levels = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise RecipeError(f"--prune: give shares of weights like 0.5,0.8,0.9 (got {text[:80]!r})") from None
    if not levels:
        raise RecipeError("--prune: give at least one share of weights, e.g. 0.8")
    if len(levels) > MAX_LEVELS:
        raise RecipeError(f"--prune: at most {MAX_LEVELS} levels (got {len(levels)})")
    bad = [x for x in levels if not 0.0 < x < 1.0]
    if bad:
        raise RecipeError(f"--prune: each level is a share strictly between 0 and 1 (got {bad[0]:g})")
    if len(set(levels)) != len(levels):
        raise RecipeError(f"--prune: a level is given twice ({text[:80]})")
    return levels


def parse_student(text: str) -> dict[str, Any]:
    """``"model.width=16,model.depth=2"`` -> {"model.width": 16, "model.depth": 2} (values read as YAML)."""
    pairs = [part.strip() for part in _NEXT_KEY.split(text) if part.strip()]
    if not pairs:
        raise RecipeError("--distill: give the student's overrides, e.g. model.width=16,model.depth=2")
    try:
        out = dict(parse_override(p) for p in pairs)
    except RecipeError as exc:
        raise RecipeError(f"--distill: {exc}") from None
    for key in out:
        # The teacher's data and split; the student may train on fewer of its rows, or augmented ones.
        if key.split(".")[0] in ("data", "seed") and key not in ("data.augment", "data.train_limit"):
            raise RecipeError(f"--distill: {key}: a student learns on its teacher's data and split; leave it as is")
    return out


def student_recipes(recipe: Recipe, teacher: str, overrides: dict[str, Any]) -> tuple[Recipe, Recipe]:
    """(the distilled student, the same student on labels alone): ``recipe`` with ``overrides``.

    A student starts from scratch (no transfer, ensemble or sweep of its teacher's), and the two
    share their seed, hence their initial weights and batches; ``distill.*`` overrides
    (temperature, alpha) apply to the distilled one only.
    """
    fresh: dict[str, Any] = {
        "model.init_from": None,
        "model.freeze": [],
        "model.init_lr_scale": 1.0,
        "ensemble": None,
        "sweep": None,
    }
    plain = {k: v for k, v in overrides.items() if k.split(".")[0] != "distill"}
    try:
        labels = recipe.with_overrides({**fresh, "distill": None, **plain})
        distilled = recipe.with_overrides({**fresh, "distill": {"teacher": teacher}, **overrides})
    except RecipeError as exc:
        raise RecipeError(f"--distill: {exc}") from None
    return distilled, labels


def plan(
    run: dict[str, Any],
    *,
    prune: str | None = None,
    structured: bool = False,
    finetune: int | None = None,
    quantize: str | None = None,
    distill: str | None = None,
    has_weights: bool = True,
) -> Plan:
    """The checked plan for stored ``run`` (a :meth:`Store.get_run` row), or a RecipeError naming the flag."""
    run_id = run["id"]
    recipe = Recipe.from_dict(run["recipe"])
    arch = recipe.model.arch
    if arch in OWN_OBJECTIVE:
        raise RecipeError(
            f"compress: run {run_id} is a {arch}, judged by an objective of its own; compress measures a "
            "supervised model's task metric (accuracy or MSE)"
        )
    if run["status"] == "diverged":
        raise RecipeError(f"compress: run {run_id} diverged; there is no trained model to make smaller")
    if not has_weights:
        kind = ((run.get("summary") or {}).get("compress") or {}).get("kind")
        why = "an int8 variant keeps its summary only" if kind == "quantize" else "compress a run that finished"
        raise RecipeError(f"compress: run {run_id} ({run['status']}) has no final weights saved; {why}")
    levels = parse_levels(prune) if prune is not None else ()
    if structured and not levels:
        raise RecipeError("--structured: applies to --prune; give the levels too, e.g. --prune 0.5")
    if structured and arch not in STRUCTURED_ARCHS:
        raise RecipeError(
            f"--structured: removes units of hidden Linear layers (mlp) or channels of convolutions (cnn); "
            f"run {run_id} is a {arch}, so prune it unstructured"
        )
    if finetune is not None and not levels:
        raise RecipeError("--finetune: fine-tunes each pruned copy; give --prune LEVELS too")
    if finetune is not None and not 1 <= finetune <= MAX_FINETUNE:
        raise RecipeError(f"--finetune: give 1 to {MAX_FINETUNE} steps (got {finetune})")
    if not levels and quantize is None and distill is None:
        raise RecipeError("compress: give --prune LEVELS, --quantize int8 or --distill STUDENT_OVERRIDES")
    if quantize is not None and quantize != "int8":
        raise RecipeError(f"--quantize: int8 is the one precision offered (got {quantize!r})")
    student = None
    if distill is not None:
        student = parse_student(distill)
        from engine.control import budget

        for r, label in zip(student_recipes(recipe, run_id, student), ("distilled", "labels only")):
            budget.check_fits(r, label=f"student {label}")
    return Plan(run_id, levels, structured, finetune or 0, quantize, student)


def expected_variants(plan: Plan, arch: str) -> int:
    """How many variants :func:`engine.training.compress.run.compress` reports for ``plan``: one
    progress call each, so the dashboard's bar can count them.

    The dense row; each prune level, and its fine-tuned copy when ``finetune`` is set; int8 dynamic,
    and static as well for a CNN (reported even when it does not apply); the two students.
    """
    n = 1 + len(plan.prune) * (2 if plan.finetune > 0 else 1)
    if plan.quantize == "int8":
        n += 2 if arch == "cnn" else 1
    if plan.distill is not None:
        n += 2
    return n
