"""An ensemble on the Compare page, without Streamlit: its summary and the caption under its chart.

The numbers come from ``engine.control.ensemble.summarize``, the same code behind
``gradclinic ensemble --json``, so the "accuracy against members" chart, its caption and the
CLI never disagree.
"""

from __future__ import annotations

from typing import Any

from engine.config.errors import RecipeError
from engine.config.names import TERMINAL
from engine.control import ensemble

__all__ = ["ensemble_caption", "ensemble_summary"]


def ensemble_summary(store: Any, runs: list[dict]) -> dict[str, Any] | None:
    """The ensemble summary of ``runs`` (``engine.control.ensemble.summarize``), or None.

    None unless the runs are exactly one group's and every one is an ensemble member: it has
    its ``ensemble`` event, or it is still training (a member's event is written when it
    finishes). A hand-picked part of a group, an ordinary comparison, or a group whose member
    crashed before its event gets None, and the page shows it as any other group.
    """
    groups = {r.get("group_id") for r in runs}
    if not runs or len(groups) != 1 or None in groups:
        return None
    group = str(groups.pop())
    if set(store.list_runs(group=group)["id"]) != {r["id"] for r in runs}:
        return None
    scored = 0
    for r in runs:  # an ordinary group fails on its first (finished) run: one query
        if store.last_event(r["id"], ensemble.EVENT) is not None:
            scored += 1
        elif r.get("status") in TERMINAL:
            return None
    if not scored:
        return None
    try:
        return ensemble.summarize(store, group)
    except RecipeError:  # a run deleted between the reads: the chart waits for the next refresh
        return None


def _is_accuracy(summary: dict[str, Any]) -> bool:
    return summary.get("metric") == "val_accuracy"


def _level(x: float | None, acc: bool) -> str:
    if x is None:
        return "–"
    return f"{x * 100:.1f}%" if acc else f"{x:.4g}"


def _change(final: float | None, single: float | None, acc: bool) -> str:
    """`` (+4.5 points)`` or `` (−0.012)``: the ensemble against first member, signed as the values go."""
    if final is None or single is None:
        return ""
    d = final - single
    text = f"{d * 100:+.1f} points" if acc else f"{d:+.3g}"
    return f" ({text.replace('-', '−')})"


def _findings(summary: dict[str, Any]) -> str:
    counts = summary.get("member_findings") or {}
    if not counts:
        return "none"
    of = max(int(summary.get("trained") or 0), *counts.values())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{code.replace('_', ' ')} ({n} of {of})" for code, n in ranked)


def ensemble_caption(summary: dict[str, Any]) -> str:
    """One line under the members chart: first member, the ensemble, the best member, the members' findings.

    ``Bagging, 8 members: first member 81.9%, the ensemble 86.4% (+4.5 points), best single member
    83.3%; members' findings: overfitting (4 of 8)``. An ensemble still training says how many
    members it has so far; a boosting that stopped early says after which member and why. An
    MSE says lower is better.
    """
    acc = _is_accuracy(summary)
    method = str(summary.get("method") or "ensemble").capitalize()
    planned, trained = int(summary.get("members") or 0), int(summary.get("trained") or 0)
    if summary.get("stopped"):
        head = f"{method}, stopped after {trained} of {planned} members ({summary['stopped']})"
    elif trained < planned:
        head = f"{method}, {trained} of {planned} members so far"
    else:
        head = f"{method}, {planned} members"
    unit = "" if acc else " MSE"
    single, final = summary.get("single"), summary.get("final")
    body = (
        f"first member{unit} {_level(single, acc)}, the ensemble {_level(final, acc)}{_change(final, single, acc)}, "
        f"best single member {_level(summary.get('best_member'), acc)}"
    )
    if not acc:
        body += " (lower is better)"
    notes = [f["message"] for f in summary.get("diagnosis") or () if f.get("code") != "stopped_early"]
    tail = "".join(f"; {n}" for n in notes)  # the head already says why boosting stopped
    return f"{head}: {body}; members' findings: {_findings(summary)}{tail}"
