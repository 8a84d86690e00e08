"""A cross-validation on the Compare page, without Streamlit: the folds' summary and its caption.

The numbers come from ``engine.control.cv.summarize``, the same code behind
``gradclinic cv --json``, so the fold chart, its caption and the CLI never disagree.
"""

from __future__ import annotations

from typing import Any

from engine.config.errors import RecipeError
from engine.control import cv

__all__ = ["cv_caption", "cv_summary", "paired_intervals"]

# cv.summarize re-reads every run's scalars (about 0.1 s for ten runs, on every click): a
# summary is kept while its runs' rows are unchanged, so a finished group's is computed once.
_CV_CACHE: dict[tuple, dict[str, Any]] = {}
_CV_CACHE_SIZE = 16


def cv_summary(store: Any, runs: list[dict], version: tuple = ()) -> dict[str, Any] | None:
    """The cross-validation summary of ``runs`` (``engine.control.cv.summarize``), or None.

    None unless the runs are exactly one group's and every one trained on a fold: for a
    hand-picked part of a group the summary would count folds the page does not show.
    ``version`` (the runs' feed versions) keys a small cache; without one it is computed afresh.
    """
    groups = {r.get("group_id") for r in runs}
    if len(groups) != 1 or None in groups or not all(cv.fold_of(r) is not None for r in runs):
        return None
    group = str(groups.pop())
    if set(store.list_runs(group=group)["id"]) != {r["id"] for r in runs}:
        return None
    key = (str(getattr(store, "path", id(store))), group, version)
    if version and key in _CV_CACHE:
        return _CV_CACHE[key]
    try:
        summary = cv.summarize(store, group)
    except RecipeError:  # a run deleted between the two reads: the chart waits for the next refresh
        return None
    if version:
        if len(_CV_CACHE) >= _CV_CACHE_SIZE:
            _CV_CACHE.pop(next(iter(_CV_CACHE)))  # the oldest entry
        _CV_CACHE[key] = summary
    return summary


def paired_intervals(summary: dict[str, Any]) -> dict[str, dict | None]:
    """{variant label: the 95% interval of its paired change over folds, or None (the baseline, one fold)}.

    The summary table shows these instead of the unpaired (Welch) interval over folds: each fold
    is one split of the data for every variant, so the fold-to-fold spread that both share is not
    noise in the change, and the table then says what the caption says.
    """
    return {v["label"]: (v.get("paired_vs_baseline") or {}).get("ci") for v in summary["variants"]}


def _signed(text: str) -> str:
    """A typographic minus, as the captions write a negative change."""
    return text.replace("-", "−")


def _cv_level(v: dict[str, Any], acc: bool) -> str:
    """``86.0% ± 2.5 (95% CI 82.8–89.1%)``: a variant's mean over its folds, their sd and the interval."""
    mean, std, ci = v.get("mean"), v.get("std"), v.get("ci")
    if mean is None:
        return "no fold finished yet"
    if acc:
        text = f"{mean * 100:.1f}%" + ("" if std is None else f" ± {std * 100:.1f}")
        return text + ("" if ci is None else f" (95% CI {ci['low'] * 100:.1f}–{ci['high'] * 100:.1f}%)")
    text = f"{mean:.3g}" + ("" if std is None else f" ± {std:.2g}")
    return text + ("" if ci is None else f" (95% CI {ci['low']:.3g}–{ci['high']:.3g})")


def _cv_paired(p: dict[str, Any] | None, acc: bool, higher_is_better: bool) -> str:
    """``paired change +1.2 points [95% CI −0.3 to +2.7], within fold noise``: a remedy against the baseline."""
    if p is None or p.get("mean") is None:
        return "no fold paired with the baseline's yet"
    mean, ci = p["mean"], p.get("ci")

    def change(x: float) -> str:
        return _signed(f"{x * 100:+.1f}" if acc else f"{x:+.3g}")

    text = f"paired change {change(mean)}" + (" points" if acc else "")
    if ci is None:
        return text + " (one paired fold: no interval)"
    text += f" [95% CI {change(ci['low'])} to {change(ci['high'])}]"
    if not ci["excludes_zero"]:
        return text + ", within fold noise"
    return text + (", better" if (mean > 0) == higher_is_better else ", worse") + " beyond fold noise"


def cv_caption(summary: dict[str, Any]) -> str:
    """One line under the fold chart: the baseline's mean, sd and interval over its folds, then each
    remedy's paired change on the same folds and whether it is beyond fold noise.

    ``5-fold CV (stratified): baseline 86.0% ± 2.5 (95% CI 82.8–89.1%); weight decay 0.001: paired
    change +1.2 points [95% CI −0.3 to +2.7], within fold noise``. A variant still training says how
    many of its folds have a result.
    """
    acc = summary["metric"] == "val_accuracy"
    repeats = f" × {summary['repeats']} repeats" if summary.get("repeats", 1) > 1 else ""
    head = f"{summary['folds']}-fold CV{repeats}" + (" (stratified)" if summary.get("stratified") else "")
    base, rest = [], []
    for v in summary["variants"]:
        n, total = v.get("n", 0), len(v.get("folds", ()))
        so_far = f" ({n} of {total} folds so far)" if n < total else ""
        if v["label"] == summary["baseline"]:
            base.append(f"{v['label']} {_cv_level(v, acc)}{so_far}")
        else:
            paired = _cv_paired(v.get("paired_vs_baseline"), acc, summary["higher_is_better"])
            rest.append(f"{v['label']}: {paired}{so_far}")
    return f"{head}: " + "; ".join(base + rest)
