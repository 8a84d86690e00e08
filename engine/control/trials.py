"""Try the top remedies: short trials on this very run, so a prescription is measured, not assumed.

:func:`launch` takes a diagnosed run's remedies in the order its findings rank
them (most severe finding first, each finding's remedies in order), keeps the
first few distinct ones, and starts a comparison group: the run's own recipe
cut to its first ``steps`` steps (the trial baseline) and one trial per
remedy, all at the run's seed and data split. :func:`rank` then reads what
the trials measured: which of the run's findings each remedy removed (among
those the trial baseline shows in as many steps), and how its headline
metric compares, and orders the remedies by that. Torch-free; the trials are
ordinary background runs.
"""

from __future__ import annotations

from typing import Any

from engine.config.metrics import headline
from engine.config.names import ALARMS, TERMINAL
from engine.config.recipe import Recipe
from engine.control import compare, labels
from engine.store import Store

TOP = 3
MAX_TOP = 10
#: Trials train at most this many steps (fewer when the run itself was shorter).
TRIAL_STEPS = 400
PREFIX = "try "


def candidates(findings: list[dict[str, Any]], top: int = TOP) -> list[dict[str, Any]]:
    """The first ``top`` distinct remedies, most severe finding first: [{name, set, for: [codes]}]."""
    picked: dict[str, dict[str, Any]] = {}
    for f in findings:  # the store lists them most severe first
        for r in f.get("remedies") or []:
            entry = picked.get(r["name"])
            if entry is None and len(picked) < top:
                picked[r["name"]] = entry = {"name": r["name"], "set": dict(r["set"]), "for": []}
            if entry is not None:
                entry["for"].append(f["code"])
    return list(picked.values())


def launch(store: Store, run_id: str, top: int = TOP, steps: int = TRIAL_STEPS) -> dict[str, Any]:
    """Start the trials of ``run_id``'s top remedies; returns {group, steps, remedies}."""
    from engine.config.errors import RecipeError

    if not 1 <= top <= MAX_TOP:
        raise RecipeError(f"--top: try between 1 and {MAX_TOP} remedies (got {top})")
    if steps < 1:
        raise RecipeError(f"--steps: a trial needs at least 1 step (got {steps})")
    run = store.get_run(run_id)
    remedies = candidates(store.findings(run_id), top)
    if not remedies:
        raise RecipeError(f"run {run_id} has no finding with a remedy to try")
    recipe = Recipe.from_dict(run["recipe"])
    n = min(steps, recipe.train.steps)
    base = recipe.with_overrides({"train.steps": n, "train.eval_every": min(recipe.train.eval_every, n)})
    variants = [("baseline", {})] + [(f"{PREFIX}{r['name']}", r["set"]) for r in remedies]
    group = compare.launch_group(store, base, variants)
    plan = {"group": group, "steps": n, "remedies": remedies, "source": run_id}
    store.add_event(run_id, None, "trials", plan)
    return plan


def rank(store: Store, group: str, source: str) -> dict[str, Any]:
    """What the trials of ``group`` measured for the findings of run ``source``, best remedy first.

    Each remedy: ``fixed`` (the source's findings that the trial baseline shows and this trial
    does not), ``still`` (those it shows too), ``delta`` (its final headline metric minus the
    trial baseline's), ``status``. ``done`` is False while a trial still runs.
    """
    runs = store.list_runs(group=group).to_dict("records")
    if not runs:
        from engine.config.errors import RecipeError

        raise RecipeError(f"no trials in group {group!r}")
    target = {f["code"] for f in store.findings(source) if f["severity"] in ALARMS}
    found = {r["id"]: {f["code"] for f in store.findings(r["id"]) if f["severity"] in ALARMS} for r in runs}
    base = next((r for r in runs if labels.variant_of(r) == "baseline"), None)
    shown = target & found[base["id"]] if base else set()
    finals = {r["id"]: _headline_final(store, r["id"]) for r in runs}
    base_final = finals[base["id"]] if base else (None, True)
    out = []
    for r in runs:
        name = labels.variant_of(r)
        if not name.startswith(PREFIX):
            continue
        value, higher = finals[r["id"]]
        delta = None if value is None or base_final[0] is None else value - base_final[0]
        out.append(
            {
                "remedy": name.removeprefix(PREFIX),
                "run": r["id"],
                "status": r["status"],
                "fixed": sorted(shown - found[r["id"]]),
                "still": sorted(shown & found[r["id"]]),
                "new": sorted(found[r["id"]] - target),
                "final": value,
                "delta": delta,
                "higher_is_better": higher,
            }
        )
    out.sort(key=lambda t: (-len(t["fixed"]), -((t["delta"] or 0.0) * (1 if t["higher_is_better"] else -1))))
    return {
        "group": group,
        "source": source,
        "baseline": base["id"] if base else None,
        "shown_by_baseline": sorted(shown),
        "not_shown": sorted(target - shown),
        "done": all(r["status"] in TERMINAL for r in runs),
        "trials": out,
    }


def _headline_final(store: Store, run_id: str) -> tuple[float | None, bool]:
    wide = store.scalars_wide(run_id)
    head = headline(wide.columns)
    if head.column not in wide.columns:
        return None, head.higher_is_better
    s = wide[head.column].dropna()
    return (float(s.iloc[-1]) if len(s) else None), head.higher_is_better


def describe(ranking: dict[str, Any], steps: int) -> list[str]:
    """The ranking as lines a student reads: best remedy first, what it fixed, what it changed."""
    lines = []
    if ranking["not_shown"]:
        lines.append(f"(not shown by the first {steps} steps, so not judged: {', '.join(ranking['not_shown'])})")
    for i, t in enumerate(ranking["trials"], 1):
        fixed = f"fixed {', '.join(t['fixed'])}" if t["fixed"] else "fixed nothing"
        still = f"; still {', '.join(t['still'])}" if t["still"] else ""
        change = (
            ""
            if t["delta"] is None
            else (f"; {t['delta'] * 100:+.1f} points" if t["higher_is_better"] else f"; {t['delta']:+.3g} val loss")
        )
        lines.append(f"{i}. {t['remedy']} ({t['status']}): {fixed}{still}{change}")
    return lines


def settle(store: Store, run_id: str) -> dict[str, Any] | None:
    """Once the newest trials of ``run_id`` have all ended: rank them, keep the ranking as a
    ``trial_results`` event and re-diagnose the run, so that its remedies carry what the trials
    measured. Returns the ranking (None while trials run, or when there were none). Idempotent."""
    from engine.diagnosis.diagnose import diagnose_into_store

    plan = store.last_event(run_id, "trials")
    if plan is None:
        return None
    done = store.last_event(run_id, "trial_results")
    if done is not None and done["payload"].get("group") == plan["payload"]["group"]:
        return done["payload"]
    ranking = rank(store, plan["payload"]["group"], run_id)
    if not ranking["done"]:
        return None
    ranking["steps"] = plan["payload"]["steps"]
    store.add_event(run_id, None, "trial_results", ranking)
    diagnose_into_store(store, run_id)
    return ranking
