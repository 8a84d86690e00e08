"""The Compare page's logic, without Streamlit: summary table, config diff, verdict.

The numbers come from ``engine.control.compare.summarize_runs``, the same code behind
``gradclinic compare --json``, so the page and the CLI never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from app.logic import common
from app.logic.live import RunFeed
from engine.config.errors import RecipeError
from engine.config.recipe import load_recipe
from engine.control import compare
from engine.control.verdict import verdict

# Keys that describe a recipe rather than configure it.
_NOT_CONFIG = ("name", "title", "lesson", "compare", "questions")


@dataclass
class ComparisonView:
    run_ids: list[str]
    labels: dict[str, str]  # run id -> unique display label, in order
    summary: dict[str, Any]
    verdict: str
    table: pd.DataFrame
    diff: pd.DataFrame
    wides: dict[str, pd.DataFrame]  # display label -> scalars by step
    grads: dict[str, tuple]  # run id -> (steps, layer names, values)
    running: int
    recipe_name: str | None
    version: tuple = ()  # changes when any run has new rows: the figure cache key
    seed_groups: dict[str, list[pd.DataFrame]] = field(default_factory=dict)  # variant -> its seeds' scalars

    @property
    def multi_seed(self) -> bool:
        """True when some variant ran at several seeds: curves then show the mean and a band."""
        return any(len(w) > 1 for w in self.seed_groups.values())

    @property
    def metric_column(self) -> tuple[str, str]:
        if self.summary["metric"] == "val_accuracy":
            return "val_accuracy", "accuracy"
        return "val_loss", "loss"


def group_options(runs_df: pd.DataFrame) -> dict[str, str]:
    """{group id: "recipe · N runs · created"} for the group picker, newest first."""
    out: dict[str, str] = {}
    grouped = runs_df.dropna(subset=["group_id"])
    for gid, g in grouped.groupby("group_id", sort=False):
        when = pd.to_datetime(g["created"].min(), unit="s").strftime("%H:%M")
        out[str(gid)] = f"{g['recipe'].iloc[0]} · {len(g)} runs · {when} · {gid}"
    return out


def config_diff(recipes: dict[str, dict]) -> pd.DataFrame:
    """Rows = dotted recipe keys whose values differ between runs; columns = run labels."""
    flat = {
        label: pd.json_normalize({k: v for k, v in r.items() if k not in _NOT_CONFIG}, sep=".").iloc[0]
        for label, r in recipes.items()
    }
    table = pd.DataFrame(flat).astype(str)
    differs = table.nunique(axis=1) > 1
    return table[differs]


def build(store, run_ids: list[str], feeds: dict[str, RunFeed] | None = None) -> ComparisonView:
    """Everything the Compare view draws for ``run_ids`` (the first is the baseline unless one is named so).

    ``feeds`` (run id -> RunFeed) persist between refreshes, so a refresh reads only new rows.
    """
    feeds = {} if feeds is None else feeds
    for rid in run_ids:
        feeds.setdefault(rid, RunFeed(rid, stats=("grad_norm",))).refresh(store)
    runs = [feeds[r].run for r in run_ids]
    labels = common.unique_labels(runs)
    named_baseline = any((r.get("name") or "") == "baseline" for r in runs)
    summary = compare.summarize_runs(
        store, run_ids, baseline=None if named_baseline else run_ids[0], wides={r: feeds[r].wide for r in run_ids}
    )
    wides = {labels[r]: feeds[r].wide for r in run_ids}
    grads = {}
    for rid in run_ids:
        m = feeds[rid].matrices["grad_norm"]
        if not m.empty:
            grads[rid] = (m.steps, m.names, m.values)
    findings = {r: [f["code"] for f in feeds[r].findings] for r in run_ids}
    recipe_names = {r.get("recipe_name") for r in runs}
    return ComparisonView(
        run_ids=run_ids,
        labels=labels,
        summary=summary,
        verdict=verdict(summary),
        table=summary_table(summary, runs, labels, findings),
        diff=config_diff({labels[r["id"]]: r["recipe"] for r in runs}),
        wides=wides,
        grads=grads,
        running=sum(common.is_live(r["status"]) for r in runs),
        recipe_name=recipe_names.pop() if len(recipe_names) == 1 else None,
        version=tuple(feeds[r].version for r in run_ids),
        seed_groups={v["label"]: [feeds[r].wide for r in v["runs"]] for v in summary["variants"]},
    )


def summary_table(summary: dict, runs: list[dict], labels: dict[str, str], findings: dict[str, list]) -> pd.DataFrame:
    """One row per run: status, best and final metric, steps to the target (the level the baseline
    settles at), change, findings."""
    acc = summary["metric"] == "val_accuracy"
    by_run = {rid: v for v in summary["variants"] for rid in v["runs"]}
    rows = []
    for r in runs:
        v = by_run[r["id"]]
        best, final = v["best"]["mean"], v["final"]["mean"]  # mean over seeds when a variant has several
        delta = v["delta_vs_baseline"]["mean"]
        steps = v["steps_to_target"]["mean"]
        rows.append(
            {
                "run": labels[r["id"]],
                "status": common.badge(r["status"]),
                f"best val {'accuracy' if acc else 'loss'}": _fmt(best, acc),
                "final": _fmt(final, acc),
                "change vs baseline": (
                    "baseline"
                    if v["label"] == summary["baseline"]
                    else "–"
                    if delta is None
                    else f"{delta * 100:+.1f} pts"
                    if acc
                    else f"{delta:+.3g}"
                ),
                "steps to target": (
                    "–" if summary.get("target") is None else "never" if steps is None else f"{int(steps):,}"
                ),  # no target: the baseline never learned (or diverged), so there is nothing to reach
                "95% CI of the change": _interval(v.get("delta_ci"), acc),
                "findings": ", ".join(findings.get(r["id"], [])) or "none",
                "id": r["id"],
            }
        )
    return pd.DataFrame(rows)


def _interval(ci: dict | None, acc: bool) -> str:
    """The seed-noise interval of a variant's change, or "–" (one seed, or the baseline itself)."""
    if ci is None:
        return "–"
    if acc:
        return f"{ci['low'] * 100:+.1f} to {ci['high'] * 100:+.1f} pts" + ("" if ci["excludes_zero"] else " (noise)")
    return f"{ci['low']:+.3g} to {ci['high']:+.3g}" + ("" if ci["excludes_zero"] else " (noise)")


def _fmt(x: float | None, acc: bool) -> str:
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "–"
    return f"{x:.1%}" if acc else f"{x:.4g}"


def lesson_questions(view: ComparisonView) -> list:
    """The lesson's questions when every run comes from one lesson recipe; else []."""
    if not view.recipe_name:
        return []
    try:
        return list(load_recipe(view.recipe_name).questions)
    except RecipeError:
        return []
