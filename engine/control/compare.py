"""Comparison groups: a baseline plus variants, same seed and split, side by side.

Torch-free. Variants come from ``--vary KEY=V1,V2`` (one key at a time, or
the cartesian product with ``grid``) or from the recipe's ``compare:`` block.
Every run in a group shares the recipe's seed, and so the data split and the
initial weights, so a difference comes from the remedy alone; ``seeds > 1``
repeats each variant with seeds seed, seed+1, ..., and each difference from
the baseline then gets a 95% confidence interval over the seeds
(:mod:`engine.control.stats`). :mod:`engine.control.verdict` says in words
what the numbers show.
"""

from __future__ import annotations

import itertools
import math
import secrets
import statistics
from typing import Any

from engine.config import limits
from engine.config.errors import RecipeError, excerpt
from engine.config.metrics import ACCURACY, headline
from engine.config.names import TERMINAL
from engine.config.recipe import Recipe, parse_override
from engine.control import labels, lifecycle, queue, stats


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """``"model.init=default,he_normal"`` -> ``("model.init", ["default", "he_normal"])``."""
    key, sep, values = text.partition("=")
    if not sep or not values.strip():
        raise RecipeError(f"--vary {excerpt(text)}: expected KEY=V1,V2,..., e.g. model.init=default,he_normal")
    parts = values.split(",")
    if len(parts) > limits.MAX_RUNS_PER_COMMAND:
        raise RecipeError(
            f"--vary {key.strip()}: {len(parts):,} values; one command may queue at most "
            f"{limits.MAX_RUNS_PER_COMMAND} runs"
        )
    return key.strip(), [parse_override(f"{key}={v.strip()}")[1] for v in parts]


def build_variants(recipe: Recipe, vary: list[str] | None = None, grid: bool = False) -> list[tuple[str, dict]]:
    """[(label, overrides)], baseline first. Each variant is validated before anything runs."""
    variants: list[tuple[str, dict]] = [("baseline", {})]
    if vary:
        axes = [parse_vary(v) for v in vary]
        for key, vals in axes:
            recipe.with_overrides({key: vals[0]})  # an unknown key is refused by name, before the product
        planned = math.prod(len(vals) for _, vals in axes) if grid else sum(len(vals) for _, vals in axes)
        if planned + 1 > limits.MAX_RUNS_PER_COMMAND:
            raise RecipeError(
                f"--vary{' --grid' if grid else ''}: {planned + 1:,} variants; one command may queue at most "
                f"{limits.MAX_RUNS_PER_COMMAND} runs"
            )
        if grid:
            for combo in itertools.product(*[[(k, v) for v in vals] for k, vals in axes]):
                sets = {k: v for k, v in combo if recipe.get(k) != v}
                if sets:
                    variants.append((", ".join(f"{k}={v}" for k, v in sets.items()), sets))
        else:
            for key, values in axes:
                for v in values:
                    if recipe.get(key) != v:
                        variants.append((f"{key}={v}", {key: v}))
    else:
        variants += [(v.label, dict(v.set)) for v in recipe.compare]
    for label, sets in variants:
        try:
            recipe.with_overrides(sets)
        except RecipeError as exc:
            raise RecipeError(f"variant {label!r}: {exc}") from None
    if len(variants) == 1:
        raise RecipeError("nothing to compare: give --vary KEY=V1,V2 or use a recipe with a compare: block")
    return variants


def launch_group(
    store,
    recipe: Recipe,
    variants: list[tuple[str, dict]],
    seeds: int = 1,
    max_running: int | None = None,
    pace_ms: int = 0,
) -> str:
    """Queue every variant (x seeds) as one group; returns the group id. ``pace_ms``: slow motion for all.

    Refuses (RecipeError, nothing queued) seeds outside 1..``limits.MAX_SEEDS`` and more than
    ``limits.MAX_RUNS_PER_COMMAND`` runs in all.
    """
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= limits.MAX_SEEDS:
        raise RecipeError(f"seeds: give a whole number from 1 to {limits.MAX_SEEDS} (got {excerpt(seeds)})")
    if len(variants) * seeds > limits.MAX_RUNS_PER_COMMAND:
        raise RecipeError(
            f"seeds: {len(variants)} variants x {seeds} seeds = {len(variants) * seeds} runs; "
            f"one command may queue at most {limits.MAX_RUNS_PER_COMMAND}"
        )
    pace_ms = lifecycle.check_pace(pace_ms)
    group = secrets.token_hex(4)
    planned = []
    for label, sets in variants:
        for i in range(seeds):
            r = recipe.with_overrides({**sets, "seed": recipe.seed + i}) if i else recipe.with_overrides(sets)
            planned.append((labels.seed_name(label, i, seeds), r))
    from engine.control import budget

    for name, r in planned:  # nothing is queued unless every run fits in memory
        budget.check_fits(r, label=name)
    for name, r in planned:
        store.create_run(r.to_dict(), name=name, group=group, total_steps=r.train.steps, pace_ms=pace_ms)
    queue.schedule(store, max_running)
    return group


#: A baseline whose best validation accuracy is within this much of chance never learned.
NEVER_LEARNED_MARGIN = 0.05
#: The level a run settles at: the median of its last quarter of evaluations.
SETTLE_SHARE = 0.25


def _mean_std(values: list[float | None]) -> dict[str, Any]:
    xs = stats.finite(values)
    if not xs:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": statistics.fmean(xs), "std": statistics.pstdev(xs) if len(xs) > 1 else 0.0, "n": len(xs)}


def steps_to_reach(series: Any, target: float, higher: bool) -> int | None:
    """First step at which ``series`` (indexed by step) reaches ``target``."""
    hit = series[series >= target] if higher else series[series <= target]
    return int(hit.index[0]) if len(hit) else None


def settled(series: Any) -> float | None:
    """The level an evaluated metric settles at: the median of its last quarter (at least one evaluation).

    A target for "steps to reach" must be a level the run really holds, never a noise peak:
    a chance-level baseline's best is its luckiest evaluation, not something it reached.
    """
    s = series.dropna()
    s = s[s.map(math.isfinite)]
    if not len(s):
        return None
    return float(s.iloc[-max(1, math.ceil(len(s) * SETTLE_SHARE)) :].median())


def summarize_group(store: Any, group: str) -> dict[str, Any]:
    """Per-variant final metrics, steps to the baseline's level, and deltas with their seed noise."""
    runs_df = store.list_runs(group=group)
    if runs_df.empty:
        raise RecipeError(f"no runs in group {group!r}")
    summary = summarize_runs(store, runs_df.sort_values("created")["id"].tolist())
    summary["group"] = group
    return summary


def summarize_runs(
    store: Any, run_ids: list[str], baseline: str | None = None, wides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Like :func:`summarize_group` for any runs. The baseline is ``baseline`` (a run id), else the
    runs named "baseline", else the first run. Runs sharing a name (seeds) form one variant.
    ``wides`` ({run id: scalars by step}) saves re-reading what the caller already holds.

    Per variant: ``final``, ``best`` and ``delta_vs_baseline`` as mean, std and n over seeds;
    ``delta_ci``, the 95% interval of the difference of means (None below two seeds a side);
    ``steps_to_target``, the steps each seed took to reach ``target``, the level the baseline
    settles at (its lowest over seeds, so that every baseline seed reaches it; None when the
    baseline never learned or diverged). ``baseline_best``/``steps_to_baseline_best`` are kept
    for older readers.
    """
    if not run_ids:
        raise RecipeError("no runs to compare")
    rows = [store.get_run(rid) for rid in run_ids]
    label_of = {r["id"]: labels.variant_of(r) for r in rows}
    if baseline is None and "baseline" not in label_of.values():
        baseline = rows[0]["id"]
    base_label = label_of[baseline] if baseline is not None else "baseline"
    series: dict[str, Any] = {}
    head = ACCURACY  # until a run shows it is judged by a loss (regression, a GAN)
    for r in rows:
        wide = wides[r["id"]] if wides is not None and r["id"] in wides else store.scalars_wide(r["id"])
        if "val_loss" in wide.columns and headline(wide.columns).column == "val_loss":
            head = headline(wide.columns)
        series[r["id"]] = wide
    metric, higher = head.column, head.higher_is_better
    curve = {rid: (w[metric].dropna() if metric in w.columns else None) for rid, w in series.items()}
    finals = {rid: _final_best(s, higher) for rid, s in curve.items()}
    base_ids = [r["id"] for r in rows if label_of[r["id"]] == base_label]
    base_best = stats.finite([finals[i]["best"] for i in base_ids])
    best_level = (max(base_best) if higher else min(base_best)) if base_best else None
    chance = _chance(store, base_ids[0]) if base_ids and metric == "val_accuracy" else None
    learned = None if not base_best or chance is None else max(base_best) > chance + NEVER_LEARNED_MARGIN
    levels = [x for x in (settled(curve[i]) for i in base_ids if curve[i] is not None) if x is not None]
    target = None if not levels or learned is False else (min(levels) if higher else max(levels))
    variants: dict[str, dict] = {}
    for r in rows:
        v = variants.setdefault(
            label_of[r["id"]],
            {
                "label": label_of[r["id"]],
                "runs": [],
                "status": [],
                "final": [],
                "best": [],
                "steps": [],
                "to_target": [],
            },
        )
        s = curve[r["id"]]
        v["runs"].append(r["id"])
        v["status"].append(r["status"])
        v["final"].append(finals[r["id"]]["final"])
        v["best"].append(finals[r["id"]]["best"])
        v["steps"].append(steps_to_reach(s, best_level, higher) if s is not None and best_level is not None else None)
        v["to_target"].append(steps_to_reach(s, target, higher) if s is not None and target is not None else None)
    base_finals = variants[base_label]["final"] if base_label in variants else []
    base_final = _mean_std(base_finals)["mean"]
    out = []
    for v in variants.values():
        delta = [(x - base_final) if x is not None and base_final is not None else None for x in v["final"]]
        ci = None if v["label"] == base_label else stats.difference_interval(v["final"], base_finals)
        out.append(
            {
                "label": v["label"],
                "runs": v["runs"],
                "status": v["status"],
                "final": _mean_std(v["final"]),
                "best": _mean_std(v["best"]),
                "delta_vs_baseline": _mean_std(delta),
                "delta_ci": None if ci is None else ci.to_dict(),
                "steps_to_target": _mean_std([s for s in v["to_target"] if s is not None]),
                "reached_target": sum(s is not None for s in v["to_target"]),
                "steps_to_baseline_best": _mean_std([s for s in v["steps"] if s is not None]),
                "reached_baseline_best": sum(s is not None for s in v["steps"]),
                "first_step_at": _first_steps([curve[rid] for rid in v["runs"]]) if metric == "val_accuracy" else {},
            }
        )
    return {
        "group": None,
        "metric": metric,
        "higher_is_better": higher,
        "baseline": base_label,
        "baseline_best": best_level,
        "target": target,
        "chance": chance,
        "baseline_learned": learned,
        "seeds": max(len(v["runs"]) for v in variants.values()),
        "done": all(r["status"] in TERMINAL for r in rows),
        "variants": out,
    }


def _first_steps(curves: list[Any]) -> dict[str, int]:
    """{"0.9": step}: the first step every seed had reached each tenth of accuracy (the latest of them)."""
    out = {}
    for tenth in range(1, 10):
        level = tenth / 10
        steps = [steps_to_reach(c, level, True) if c is not None else None for c in curves]
        if steps and all(s is not None for s in steps):
            out[f"{level:g}"] = max(s for s in steps if s is not None)
    return out


def _final_best(s: Any, higher: bool) -> dict[str, float | None]:
    if s is None or not len(s):
        return {"final": None, "best": None}
    return {"final": float(s.iloc[-1]), "best": float(s.max()) if higher else float(s.min())}


def _chance(store: Any, run_id: str) -> float | None:
    """The accuracy of always guessing the most common class, as the run recorded it."""
    event = store.last_event(run_id, "data")
    value = (event or {}).get("payload", {}).get("chance_accuracy")
    return None if value is None else float(value)
