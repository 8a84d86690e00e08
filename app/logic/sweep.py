"""The Sweep page's logic: the sweep picker's labels, the header's lines, the trials table, Compare's top k.

No Streamlit. A sweep is read with :func:`engine.tuning.results.load` (the Optuna
study joined with its trials' runs); Optuna is imported only inside the functions
that read the study, so importing this module costs nothing.
"""

from __future__ import annotations

import math
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app.logic import common
from engine.config.names import TERMINAL
from engine.tuning.results import SweepResult

#: Metrics that are shares, shown in percent (as the Runs page shows val accuracy).
PERCENT_METRICS = ("val_accuracy", "mode_coverage")
#: A sweep whose trials are not all in, with no trial written for this long, is taken as over (its driver died).
STALL_S = 90.0
#: Trial states in the table's order: finished ones (best first) lead, then those still going, then the cut.
_STATE_ORDER = {"COMPLETE": 0, "RUNNING": 1, "WAITING": 1, "PRUNED": 2, "FAIL": 3}


def sweep_options(home: str | Path) -> dict[str, str]:
    """{sweep id: "recipe · sampler · 8/10 trials · 2025-01-31 14:02 · sweep-ab12cd"}, newest first.

    One read of the study database for every sweep (Optuna's study summaries), not one load per sweep.
    """
    from engine.tuning import study as studies

    return {s.study_name: option_label(s.study_name, s.user_attrs, s.n_trials) for s in studies.summaries(Path(home))}


def option_label(name: str, settings: dict[str, Any], n_trials: int) -> str:
    """One picker line: what was swept, how, how far it got, when, and its id."""
    created = settings.get("created")
    when = datetime.fromtimestamp(float(created)).strftime("%Y-%m-%d %H:%M") if created else "?"
    planned = settings.get("trials")
    count = f"{n_trials}/{planned} trials" if planned and planned != n_trials else f"{n_trials} trials"
    return f"{settings.get('recipe', '?')} · {settings.get('sampler', '?')} · {count} · {when} · {name}"


def metric_label(metric: str) -> str:
    """``val accuracy (%)`` for a share, ``val loss`` otherwise: the table's column and the charts' axis."""
    words = metric.replace("_", " ")
    return f"{words} (%)" if metric in PERCENT_METRICS else words


def shown_value(metric: str, value: Any) -> float:
    """A metric value as the page shows it: a share in percent; NaN where there is none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return math.nan
    return float(value) * (100.0 if metric in PERCENT_METRICS else 1.0)


def format_value(metric: str, value: Any) -> str:
    """``98.0%`` or ``0.0123``: one value in a sentence."""
    shown = shown_value(metric, value)
    if math.isnan(shown):
        return "–"
    return f"{shown:.1f}%" if metric in PERCENT_METRICS else f"{shown:.4g}"


def format_param(value: Any) -> str:
    """A parameter's value in a sentence: floats to 3 significant digits."""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.3g}"
    return str(value)


def short_key(key: str) -> str:
    """``lr`` for ``train.lr``: the last part, as trial names use it."""
    return key.rsplit(".", 1)[-1]


def settings_line(result: SweepResult) -> str:
    """``healthy-mlp · 12 trials, 2 at a time · TPE sampler · median pruner · local · maximise val accuracy``."""
    s = result.settings
    goal = "maximise" if result.direction == "maximize" else "minimise"
    parts = [
        f"**{s.get('recipe', '?')}**",
        f"{s.get('trials', len(result.trials))} trials, {s.get('parallel', 1)} at a time",
        f"{str(s.get('sampler', '?')).upper() if s.get('sampler') in ('tpe', 'gp') else s.get('sampler')} sampler",
        f"{s.get('pruner', '?')} pruner",
    ]
    if s.get("executor"):
        parts.append(f"{s['executor']} executor")
    parts.append(f"{goal} {result.metric.replace('_', ' ')}")
    return " · ".join(parts)


def space_line(result: SweepResult) -> str:
    """The searched space, one ``key in SPEC`` per parameter."""
    return " · ".join(f"`{k}` in `{spec}`" for k, spec in result.settings.get("space", {}).items())


def counts_line(result: SweepResult) -> str:
    """``✅ **3** completed · ✂️ **7** pruned``: trials by status, in the badges' order."""
    counts = result.counts()
    order = list(common.STATUS_BADGE)
    ranked = sorted(counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))
    shown = []
    for status, n in ranked:
        icon, _, word = common.badge(status).partition(" ")
        shown.append(f"{icon} **{n}** {word.replace('_', ' ')}".strip())
    return " · ".join(shown) or "no trials yet"


def best_line(result: SweepResult) -> str:
    """The best finished trial in one sentence: its value, number, run and params; or why there is none yet."""
    best = result.best()
    if best is None:
        return "No trial has finished with a value yet."
    params = ", ".join(f"{short_key(k)}={format_param(v)}" for k, v in best["params"].items())
    return (
        f"Best {result.metric.replace('_', ' ')} **{format_value(result.metric, best['value'])}** "
        f"at trial #{best['trial']} (run `{best['run_id']}`): {params}"
    )


def trials_table(result: SweepResult) -> pd.DataFrame:
    """One row per trial: number, status badge, metric, its step, the params, duration and run id.

    Finished trials come first, best first; then those still going; then the pruned and failed, by
    number. A pruned or running trial's metric is its last reported value, at the step shown.
    """
    value_col = metric_label(result.metric)
    columns = ["trial", "status", value_col, "at step", *result.params, "duration (s)", "run"]
    t = result.trials
    if t.empty:
        return pd.DataFrame({c: [] for c in columns})
    sign = -1.0 if result.direction == "maximize" else 1.0
    value = pd.to_numeric(t["value"], errors="coerce")
    key = pd.DataFrame(
        {
            "state": t["state"].map(_STATE_ORDER).fillna(4),
            # Only finished trials are ranked by value; the rest keep their order by number.
            "value": np.where(t["state"] == "COMPLETE", (sign * value).fillna(np.inf), 0.0),
            "number": t["number"],
        }
    )
    order = key.sort_values(["state", "value", "number"], kind="stable").index
    t, value = t.loc[order], value.loc[order]
    table = pd.DataFrame(
        {
            "trial": t["number"].astype(int),
            "status": t["status"].map(common.badge),
            value_col: [shown_value(result.metric, v) for v in value],
            "at step": pd.array([None if pd.isna(s) else int(s) for s in t["steps"]], dtype="Int64"),
            **{p: t[p] for p in result.params},
            "duration (s)": pd.to_numeric(t["seconds"], errors="coerce").astype(float),
            "run": t["run_id"].astype(str),
        }
    )
    return table.reset_index(drop=True)[columns]


def finished(result: SweepResult) -> int:
    """How many trials finished with a value (the ones every chart but the table is drawn from)."""
    return (
        int(((result.trials["state"] == "COMPLETE") & result.trials["value"].notna()).sum())
        if len(result.trials)
        else 0
    )


def compare_runs(result: SweepResult, k: int) -> list[str]:
    """The run ids of the ``k`` best finished trials, best first: Compare's ``?runs=`` (at least two to compare)."""
    return result.top(max(2, int(k)))


def version(result: SweepResult) -> tuple:
    """What the charts are drawn from: they are rebuilt only when a trial's state, value or step changes."""
    t = result.trials
    return tuple(zip(t["number"], t["state"], t["status"], t["value"].fillna(-1.0), t["steps"].fillna(-1)))


def is_live(result: SweepResult, store: Any, now: float | None = None) -> bool:
    """True while the sweep may still change: a trial is queued or running, or more are due and one came lately.

    A driver that died leaves fewer trials than planned and none running: after :data:`STALL_S`
    without a new trial the page stops refreshing.
    """
    if any(status not in TERMINAL for status in result.trials["status"]):
        return True
    planned = int(result.settings.get("trials") or 0)
    if len(result.trials) >= planned:
        return False
    runs = store.list_runs(group=result.name)
    stamps = [float(v) for c in ("created", "ended") if c in runs for v in runs[c].dropna()]
    last = max(stamps, default=float(result.settings.get("created") or 0.0))
    return ((time.time() if now is None else now) - last) < STALL_S
