"""Comparison groups: a baseline plus variants, same seed and split, side by side.

Torch-free. Variants come from ``--vary KEY=V1,V2`` (one key at a time, or
the cartesian product with ``grid``) or from the recipe's ``compare:`` block.
Every run in a group shares the recipe's seed, and so the data split and the
initial weights, so a difference comes from the remedy alone; ``seeds > 1``
repeats each variant with seeds seed, seed+1, ...
"""

from __future__ import annotations

import itertools
import math
import secrets
import statistics
from typing import Any

from engine.config.errors import RecipeError
from engine.config.metrics import ACCURACY, headline
from engine.config.names import TERMINAL
from engine.config.recipe import Recipe, parse_override
from engine.control import labels, queue


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """``"model.init=default,he_normal"`` -> ``("model.init", ["default", "he_normal"])``."""
    key, sep, values = text.partition("=")
    if not sep or not values.strip():
        raise RecipeError(f"--vary {text!r}: expected KEY=V1,V2,..., e.g. model.init=default,he_normal")
    return key.strip(), [parse_override(f"{key}={v.strip()}")[1] for v in values.split(",")]


def build_variants(recipe: Recipe, vary: list[str] | None = None, grid: bool = False) -> list[tuple[str, dict]]:
    """[(label, overrides)], baseline first. Each variant is validated before anything runs."""
    variants: list[tuple[str, dict]] = [("baseline", {})]
    if vary:
        axes = [parse_vary(v) for v in vary]
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
    store, recipe: Recipe, variants: list[tuple[str, dict]], seeds: int = 1, max_running: int | None = None
) -> str:
    """Queue every variant (x seeds) as one group; returns the group id."""
    group = secrets.token_hex(4)
    planned = []
    for label, sets in variants:
        for i in range(seeds):
            r = recipe.with_overrides({**sets, "seed": recipe.seed + i}) if i else recipe.with_overrides(sets)
            planned.append((labels.seed_name(label, i, seeds), r))
    for name, r in planned:
        store.create_run(r.to_dict(), name=name, group=group, total_steps=r.train.steps)
    queue.schedule(store, max_running)
    return group


def _mean_std(values: list[float | None]) -> dict[str, Any]:
    xs = [x for x in values if x is not None and math.isfinite(x)]
    if not xs:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": statistics.fmean(xs), "std": statistics.pstdev(xs) if len(xs) > 1 else 0.0, "n": len(xs)}


def steps_to_reach(series, target: float, higher: bool) -> int | None:
    """First step at which ``series`` (indexed by step) reaches ``target``."""
    hit = series[series >= target] if higher else series[series <= target]
    return int(hit.index[0]) if len(hit) else None


def summarize_group(store, group: str) -> dict[str, Any]:
    """Per-variant final metrics, steps to the baseline's best, and deltas (mean ± std over seeds)."""
    runs_df = store.list_runs(group=group)
    if runs_df.empty:
        raise RecipeError(f"no runs in group {group!r}")
    summary = summarize_runs(store, runs_df.sort_values("created")["id"].tolist())
    summary["group"] = group
    return summary


def summarize_runs(
    store, run_ids: list[str], baseline: str | None = None, wides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Like :func:`summarize_group` for any runs. The baseline is ``baseline`` (a run id), else the
    runs named "baseline", else the first run. Runs sharing a name (seeds) form one variant.
    ``wides`` ({run id: scalars by step}) saves re-reading what the caller already holds."""
    if not run_ids:
        raise RecipeError("no runs to compare")
    rows = [store.get_run(rid) for rid in run_ids]
    label_of = {r["id"]: labels.variant_of(r) for r in rows}
    if baseline is None and "baseline" not in label_of.values():
        baseline = rows[0]["id"]
    base_label = label_of[baseline] if baseline is not None else "baseline"
    series: dict[str, Any] = {}
    finals: dict[str, dict] = {}
    head = ACCURACY  # until a run shows it is judged by a loss (regression, a GAN)
    for r in rows:
        wide = wides[r["id"]] if wides is not None and r["id"] in wides else store.scalars_wide(r["id"])
        if "val_loss" in wide.columns and headline(wide.columns).column == "val_loss":
            head = headline(wide.columns)
        series[r["id"]] = wide
    metric, higher = head.column, head.higher_is_better
    for r in rows:
        wide = series[r["id"]]
        s = wide[metric].dropna() if metric in wide.columns else None
        finals[r["id"]] = {
            "status": r["status"],
            "final": float(s.iloc[-1]) if s is not None and len(s) else None,
            "best": (float(s.max()) if higher else float(s.min())) if s is not None and len(s) else None,
        }
    base_ids = [r["id"] for r in rows if label_of[r["id"]] == base_label]
    base_best = [finals[i]["best"] for i in base_ids if finals[i]["best"] is not None]
    target = (max(base_best) if higher else min(base_best)) if base_best else None
    variants: dict[str, dict] = {}
    for r in rows:
        label = label_of[r["id"]]
        v = variants.setdefault(label, {"label": label, "runs": [], "status": [], "final": [], "best": [], "steps": []})
        v["runs"].append(r["id"])
        v["status"].append(r["status"])
        v["final"].append(finals[r["id"]]["final"])
        v["best"].append(finals[r["id"]]["best"])
        s = series[r["id"]].get(metric)
        v["steps"].append(steps_to_reach(s.dropna(), target, higher) if s is not None and target is not None else None)
    base_final = _mean_std(variants[base_label]["final"])["mean"] if base_label in variants else None
    out = []
    for v in variants.values():
        final = _mean_std(v["final"])
        delta = [(x - base_final) if x is not None and base_final is not None else None for x in v["final"]]
        out.append(
            {
                "label": v["label"],
                "runs": v["runs"],
                "status": v["status"],
                "final": final,
                "best": _mean_std(v["best"]),
                "steps_to_baseline_best": _mean_std([s for s in v["steps"] if s is not None]),
                "reached_baseline_best": sum(s is not None for s in v["steps"]),
                "delta_vs_baseline": _mean_std(delta),
            }
        )
    done = all(r["status"] in TERMINAL for r in rows)
    return {
        "group": None,
        "metric": metric,
        "higher_is_better": higher,
        "baseline": base_label,
        "baseline_best": target,
        "done": done,
        "variants": out,
    }


def verdict(summary: dict[str, Any]) -> str:
    """One line computed from the numbers: the best variant against the baseline."""
    variants = summary["variants"]
    base_label = summary.get("baseline", "baseline")
    base = next((v for v in variants if v["label"] == base_label), None)
    others = [v for v in variants if v["label"] != base_label and v["final"]["mean"] is not None]
    higher = summary["higher_is_better"]
    acc = summary["metric"] == "val_accuracy"
    if base is not None and others and base["final"]["mean"] is None and "diverged" in base["status"]:
        # A diverged baseline has no final number to subtract from: say what trained instead.
        best = max(others, key=lambda v: v["final"]["mean"] * (1 if higher else -1))
        value = f"{best['final']['mean']:.1%}" if acc else f"{best['final']['mean']:.3g}"
        also = [v["label"] for v in variants if v is not base and "diverged" in v["status"]]
        return (
            f"The baseline diverged; {best['label']} trained to a validation "
            f"{'accuracy' if acc else 'loss'} of {value}" + (f" ({', '.join(also)} diverged too)" if also else "")
        )
    if base is None or not others or base["final"]["mean"] is None:
        return "not enough finished runs to compare yet"
    best = max(others, key=lambda v: v["final"]["mean"] * (1 if higher else -1))
    d = best["final"]["mean"] - base["final"]["mean"]
    change = f"{d * 100:+.0f} points" if acc else f"{d:+.3g} val loss"
    name = "validation accuracy" if acc else "validation loss"
    base_steps = base["steps_to_baseline_best"]["mean"]
    best_steps = best["steps_to_baseline_best"]["mean"]
    if best_steps and base_steps and best_steps < base_steps:
        return (
            f"{best['label']} reached the baseline's best {name} {base_steps / best_steps:.1f}× sooner "
            f"and ended {change}"
        )
    return f"{best['label']} ended {change} against the baseline"
