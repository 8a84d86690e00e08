"""k-fold cross-validation: one run per fold in one group, and what the folds say together.

``gradclinic cv`` and ``compare --cv`` plan one run per fold (per variant) with ``data.fold``
set, queue them as one group, and summarise the group: per variant the validation metric of
every fold, its mean, standard deviation and 95% interval; per remedy the paired difference
from the baseline on the same folds, so a remedy's effect is measured against fold noise and
not against the luck of one split. Run names end in ``#fold 2/5``, so the Compare view groups
a variant's folds the way it groups seeds. Torch-free.
"""

from __future__ import annotations

import statistics
from typing import Any

from engine.config.errors import RecipeError
from engine.config.folds import FoldSpec
from engine.config.metrics import headline
from engine.config.names import TERMINAL
from engine.config.recipe import Recipe
from engine.control import labels, stats


def fold_specs(folds: int, stratified: bool = False, repeats: int = 1) -> list[FoldSpec]:
    """Every fold of a (repeated) k-fold split, in order; refuses a bad count naming its flag."""
    from pydantic import ValidationError

    try:
        return [
            FoldSpec(folds=folds, index=i, stratified=stratified, repeats=repeats, repeat=r)
            for r in range(repeats)
            for i in range(folds)
        ]
    except ValidationError as exc:
        err = exc.errors()[0]
        key = {"folds": "--folds", "repeats": "--repeats"}.get(str(err["loc"][0]) if err["loc"] else "", "--folds")
        raise RecipeError(f"{key}: {err['msg'].lower()} (got folds={folds!r}, repeats={repeats!r})") from None


def plan(recipe: Recipe, variants: list[tuple[str, dict]], specs: list[FoldSpec]) -> list[tuple[str, dict]]:
    """(run name, overrides) for every variant on every fold, the folds of one variant together."""
    return [
        (f"{label}{labels.SEED_MARK}{spec.label}", {**sets, "data.fold": spec.model_dump()})
        for label, sets in variants
        for spec in specs
    ]


def check(recipe: Recipe, specs: list[FoldSpec]) -> None:
    """Make the first fold's split once, so a split that cannot be made (too few samples, no labels to
    stratify on) is refused before anything is queued; DataError names ``data.fold``."""
    from engine import datasets

    first = recipe.with_overrides({"data.fold": specs[0].model_dump()})
    datasets.prepare(first.data, first.seed)


def launch(
    store: Any,
    recipe: Recipe,
    specs: list[FoldSpec],
    variants: list[tuple[str, dict]] | None = None,
    pace_ms: int = 0,
) -> str:
    """Queue every variant on every fold as one group (nothing if any run is refused); returns the group id."""
    from engine.control import compare

    check(recipe, specs)
    return compare.launch_group(store, recipe, plan(recipe, variants or [("baseline", {})], specs), pace_ms=pace_ms)


def run_inline(
    store: Any,
    recipe: Recipe,
    specs: list[FoldSpec],
    variants: list[tuple[str, dict]] | None = None,
) -> str:
    """Train every variant on every fold one after another in this process (lessons, tests, benchmarks).

    Each run is recorded ``running`` with this process as its worker from the start, so the run
    queue never claims it. Returns the group id; :func:`summarize` reads it like a queued one.
    """
    import os
    import secrets

    from engine.training import session

    check(recipe, specs)
    group = secrets.token_hex(4)
    for name, sets in plan(recipe, variants or [("baseline", {})], specs):
        r = recipe.with_overrides(sets)
        run_id = store.create_run(r.to_dict(), name=name, group=group, total_steps=r.train.steps, status="running")
        store.update_run(run_id, pid=os.getpid())
        session.train(store, run_id, session.prepare(r, store))
    return group


def fold_of(run: dict) -> FoldSpec | None:
    """The fold a stored run trained on, or None for a run without one."""
    spec = ((run.get("recipe") or {}).get("data") or {}).get("fold")
    return FoldSpec.model_validate(spec) if isinstance(spec, dict) else None


def summarize(store: Any, group: str) -> dict[str, Any]:
    """The group's folds per variant, with mean, std and interval, and paired differences from the baseline."""
    runs_df = store.list_runs(group=group)
    if runs_df.empty:
        raise RecipeError(f"no runs in group {group!r}")
    rows = [store.get_run(rid) for rid in runs_df.sort_values("created")["id"].tolist()]
    folded = [(r, fold_of(r)) for r in rows]
    if any(f is None for _, f in folded):
        raise RecipeError(f"group {group!r} is not a cross-validation (a run without data.fold)")
    wides = {r["id"]: store.scalars_wide(r["id"]) for r in rows}
    columns = set().union(*(set(w.columns) for w in wides.values()))
    head = headline(columns)
    variants: dict[str, list[dict]] = {}
    for r, f in folded:
        assert f is not None
        col = wides[r["id"]][head.column].dropna() if head.column in wides[r["id"]].columns else None
        value = float(col.iloc[-1]) if col is not None and len(col) else None
        row = {"fold": f.label, "repeat": f.repeat, "index": f.index, "run": r["id"], "status": r["status"]}
        variants.setdefault(labels.variant_of(r), []).append({**row, "value": value})
    base_label = "baseline" if "baseline" in variants else next(iter(variants))
    base = {(x["repeat"], x["index"]): x["value"] for x in variants[base_label]}
    first = folded[0][1]
    assert first is not None
    out = []
    for label, folds in variants.items():
        values = [x["value"] for x in folds]
        finite = stats.finite(values)
        ci = stats.mean_interval(values)
        paired = None
        if label != base_label:
            diffs = [
                x["value"] - base[(x["repeat"], x["index"])]
                for x in folds
                if x["value"] is not None and base.get((x["repeat"], x["index"])) is not None
            ]
            pci = stats.mean_interval(diffs, method="paired t")
            paired = {
                "mean": statistics.fmean(diffs) if diffs else None,
                "std": statistics.stdev(diffs) if len(diffs) > 1 else None,
                "n": len(diffs),
                "ci": None if pci is None else pci.to_dict(),
            }
        out.append(
            {
                "label": label,
                "folds": folds,
                "mean": statistics.fmean(finite) if finite else None,
                "std": statistics.stdev(finite) if len(finite) > 1 else None,
                "min": min(finite) if finite else None,
                "max": max(finite) if finite else None,
                "n": len(finite),
                "ci": None if ci is None else ci.to_dict(),
                "paired_vs_baseline": paired,
            }
        )
    return {
        "group": group,
        "metric": head.column,
        "higher_is_better": head.higher_is_better,
        "folds": first.folds,
        "repeats": first.repeats,
        "stratified": first.stratified,
        "baseline": base_label,
        "done": all(r["status"] in TERMINAL for r in rows),
        "variants": out,
    }


def is_cv_group(store: Any, run_ids: list[str]) -> bool:
    """True when every run given trained on a fold (the Compare view then shows the folds)."""
    return bool(run_ids) and all(fold_of(store.get_run(rid)) is not None for rid in run_ids)
