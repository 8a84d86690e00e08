"""The Compare page's logic, without Streamlit: summary table, config diff, verdict.

The numbers come from ``engine.control.compare.summarize_runs``, the same code behind
``gradclinic compare --json``, so the page and the CLI never disagree. A cross-validation's
folds (their summary and caption) are :mod:`app.logic.folds`; an ensemble's, :mod:`app.logic.ensembles`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from app.logic import axes, common, toggles
from app.logic.ensembles import ensemble_summary
from app.logic.folds import cv_summary, paired_intervals
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
    group_ids: tuple = ()  # each run's group (None for a run launched alone), in run order
    clocks: dict[str, axes.RunClock] = field(default_factory=dict)  # display label -> its steps' epochs, time
    seed_labels: dict[str, list[str]] = field(default_factory=dict)  # variant -> its runs' display labels
    cv: dict[str, Any] | None = None  # the folds per variant (engine.control.cv.summarize) for a cross-validation
    ensemble: dict[str, Any] | None = None  # its metric against members (engine.control.ensemble.summarize)

    @property
    def variant_of(self) -> dict[str, str]:
        """{run label: its variant's label}: a highlighted run lights up its variant's band."""
        return {label: v for v, labels in self.seed_labels.items() for label in labels}

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
    """Rows = dotted recipe keys whose values differ between runs; columns = run labels.

    A setting that is off in one run (``train.clip_norm: None``) and on in another is a
    difference like any other, shown as "off". A section that is off in one run and set in
    another (``train.early_stopping: None`` against ``{patience: 5}``) becomes one row per
    setting inside it, "off" on the side where the whole section is. A key that a run's recipe
    does not have at all (another model's parameters, say) reads "–".
    """
    flat = {label: _flatten({k: v for k, v in r.items() if k not in _NOT_CONFIG}) for label, r in recipes.items()}
    keys = list(dict.fromkeys(k for f in flat.values() for k in f))
    # A key that is None in one run and a section in another would show twice: once as
    # itself and once per setting inside. Keep only the settings.
    keys = [k for k in keys if not any(other.startswith(k + ".") for other in keys)]
    raw = {label: {k: _lookup(f, k) for k in keys} for label, f in flat.items()}
    # Compare the values themselves, not their labels: 1e-3 and 0.001 are one value,
    # and None must count (pandas' nunique would skip it as a missing value).
    differs = [k for k in keys if len({repr(raw[label][k]) for label in raw}) > 1]
    return pd.DataFrame(
        {label: [_cell(raw[label][k]) for k in differs] for label in raw}, index=pd.Index(differs, dtype=object)
    )


class _Absent:
    """A key the recipe does not have at all (unlike None, a setting that is off)."""

    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()


def _flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """{"train.early_stopping.patience": 5, "train.clip_norm": None, ...}; lists stay whole."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _lookup(flat: dict[str, Any], key: str) -> Any:
    """``flat[key]``; else None when a section above the key is off; else absent."""
    if key in flat:
        return flat[key]
    parts = key.split(".")
    for i in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:i])
        if head in flat:
            return None if flat[head] is None else _ABSENT
    return _ABSENT


def _cell(value: Any) -> str:
    """A recipe value as the Launch page's controls label it: "off" for None, lists without brackets."""
    if value is _ABSENT:
        return "–"
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items()) or "none"
    return toggles.format_choice(value)


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
    version = tuple(feeds[r].version for r in run_ids)
    folds = cv_summary(store, runs, version)
    return ComparisonView(
        run_ids=run_ids,
        labels=labels,
        summary=summary,
        verdict=verdict(summary),
        table=summary_table(summary, runs, labels, findings, wides={r: feeds[r].wide for r in run_ids}, folds=folds),
        diff=config_diff({labels[r["id"]]: r["recipe"] for r in runs}),
        wides=wides,
        grads=grads,
        running=sum(common.is_live(r["status"]) for r in runs),
        recipe_name=recipe_names.pop() if len(recipe_names) == 1 else None,
        version=version,
        seed_groups={v["label"]: [feeds[r].wide for r in v["runs"]] for v in summary["variants"]},
        group_ids=tuple(r.get("group_id") for r in runs),
        clocks={labels[r]: feeds[r].clock for r in run_ids},
        seed_labels={v["label"]: [labels[r] for r in v["runs"]] for v in summary["variants"]},
        cv=folds,
        ensemble=ensemble_summary(store, runs),
    )


def on_axis(view: ComparisonView, x: axes.XAxis) -> tuple[dict[str, pd.DataFrame], dict[str, list[pd.DataFrame]]]:
    """The runs' scalars (label -> table) and the seed groups (variant -> tables) with their index on ``x``."""
    wides = {label: axes.on_axis(w, view.clocks[label], x) for label, w in view.wides.items()}
    return wides, {v: [wides[label] for label in labels] for v, labels in view.seed_labels.items()}


def seeds_share_x(view: ComparisonView, x: axes.XAxis) -> bool:
    """True when every variant's seeds put each step at one x, so a mean and band over them exist.

    Steps, epochs and samples do (seeds share the batch and the data's size); training time
    does not: each seed ran at its own speed.
    """
    if x.key == "time":
        return False
    if x.key == "step":
        return True
    key = (lambda c: c.steps_per_epoch) if x.key == "epoch" else (lambda c: c.rows_per_step)
    return all(len({key(view.clocks[label]) for label in labels}) == 1 for labels in view.seed_labels.values())


def summary_table(
    summary: dict,
    runs: list[dict],
    labels: dict[str, str],
    findings: dict[str, list],
    wides: dict[str, pd.DataFrame] | None = None,
    folds: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """One row per run: status, best and final metric, steps to the target (the level the baseline
    settles at), change, its 95% interval, findings.

    When the headline is accuracy and ``wides`` (run id -> scalars by step) are given, the best
    (lowest) and final validation loss sit beside it, as means over a variant's seeds: a remedy
    for overfitting can lower the loss without moving the accuracy.

    For a cross-validation, ``folds`` (its summary, ``engine.control.cv.summarize``) gives the
    interval instead: paired over folds, as the caption under the fold chart has it.
    """
    acc = summary["metric"] == "val_accuracy"
    by_run = {rid: v for v in summary["variants"] for rid in v["runs"]}
    val_loss = _val_loss_by_variant(summary, wides) if acc and wides is not None else None
    # A change paired against another baseline than the table's would not be this row's change.
    paired = paired_intervals(folds) if folds is not None and folds["baseline"] == summary["baseline"] else None
    ci_column = "95% CI of the change" + (" (paired over folds)" if paired is not None else "")
    rows = []
    for r in runs:
        v = by_run[r["id"]]
        best, final = v["best"]["mean"], v["final"]["mean"]  # mean over seeds when a variant has several
        delta = v["delta_vs_baseline"]["mean"]
        steps = v["steps_to_target"]["mean"]
        loss_columns = {}
        if val_loss is not None:
            best_loss, final_loss = val_loss[v["label"]]
            loss_columns = {"best val loss": _fmt(best_loss, False), "final val loss": _fmt(final_loss, False)}
        rows.append(
            {
                "run": labels[r["id"]],
                "status": common.badge(r["status"]),
                f"best val {'accuracy' if acc else 'loss'}": _fmt(best, acc),
                f"final val {'accuracy' if acc else 'loss'}": _fmt(final, acc),
                **loss_columns,
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
                ci_column: _interval(v.get("delta_ci") if paired is None else paired.get(v["label"]), acc),
                "findings": ", ".join(findings.get(r["id"], [])) or "none",
                "id": r["id"],
            }
        )
    return pd.DataFrame(rows)


def _val_loss_by_variant(summary: dict, wides: dict[str, pd.DataFrame]) -> dict[str, tuple[float | None, float | None]]:
    """{variant label: (best, final) validation loss}, each the mean over the variant's seeds."""
    out = {}
    for v in summary["variants"]:
        bests, finals = [], []
        for rid in v["runs"]:
            wide = wides.get(rid)
            if wide is None or "val_loss" not in wide.columns:
                continue
            s = pd.to_numeric(wide.sort_index()["val_loss"], errors="coerce")
            s = s[np.isfinite(s)]  # a diverged evaluation (inf) is not a level the run reached
            if len(s):
                bests.append(float(s.min()))
                finals.append(float(s.iloc[-1]))
        out[v["label"]] = (float(np.mean(bests)) if bests else None, float(np.mean(finals)) if finals else None)
    return out


def _interval(ci: dict | None, acc: bool) -> str:
    """The interval of a variant's change, over seeds or paired over folds; "–" for one seed or fold, the baseline."""
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
    """The lesson's questions when the runs compared are that lesson; else [].

    That is: every run comes from one lesson recipe and one group, and the group's variants
    are exactly the lesson's baseline and remedies (at any number of seeds). The questions
    ask about those runs, so a remedy applied from the Live view beside the run it fixes, a
    hand-picked pair, or a group of some of the remedies gets none: the page could not show
    what they ask about.
    """
    if not view.recipe_name or len(set(view.group_ids)) != 1 or view.group_ids[0] is None:
        return []
    try:
        recipe = load_recipe(view.recipe_name)
    except RecipeError:
        return []
    lesson = {"baseline", *(v.label for v in recipe.compare)}
    if {v["label"] for v in view.summary["variants"]} != lesson:
        return []
    return list(recipe.questions)
