"""The Compress page's logic, without Streamlit or torch: which runs, which request, what the results say.

``gradclinic compress`` runs in a child process (:mod:`engine.control.compress_job`) and stores
every variant as a completed run of a ``compress-<hex>`` group, its measurements in
``summary["compress"]``. This module finds the groups made from one run, and reads each back as
a table, the per-layer sparsity of its pruned variants and one verdict in words, honest about
what got slower or no smaller.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from app.logic.explain import run_label
from engine.config.errors import RecipeError, StoreError
from engine.control import compress_job, sources
from engine.control.compress_job import Request

GROUP_PREFIX = "compress-"  # engine/training/compress/run.py names its groups so
LEVELS = (0.5, 0.8, 0.9, 0.95)  # the page's pruning choices
#: Finished runs whose final weights are a trained model (a stopped or crashed run's are not the result).
STATUSES = ("completed", "early_stopped")
METRICS = ("val_accuracy", "val_mse")
#: Within this many accuracy points of dense (or this share of its MSE), a variant "keeps" it.
KEEPS_POINTS, KEEPS_MSE = 1.0, 0.05
SAME_SPEED = 1.25  # latency ratios within 25% are "about as fast": timing one CPU shared with others is that noisy
SHORT = {"dense": "dense", "quantize": "int8", "distill": "student (KD)", "labels": "student (labels)"}


@dataclass(frozen=True)
class Group:
    """One ``gradclinic compress`` of a run: its variants in the order they were made."""

    group: str
    source: str
    created: float
    variants: tuple[dict[str, Any], ...]  # {"run_id", "name", **summary["compress"]}
    unfinished: tuple[str, ...] = ()  # statuses of rows with no measurements: stopped, crashed or still running

    @property
    def metric(self) -> str:
        """``val_accuracy`` or ``val_mse``: the task metric every variant was measured by."""
        return metric_of(self.variants)

    @property
    def dense(self) -> dict[str, Any] | None:
        """The "dense (as trained)" row every ratio is against."""
        return next((v for v in self.variants if v.get("kind") == "dense"), None)


def has_weights(home: str | Path, run_id: str) -> bool:
    """True when run ``run_id`` saved its final weights (what compress starts from)."""
    return sources.saved_weights(home, run_id).is_file()


def compressible(home: str | Path, runs: pd.DataFrame) -> dict[str, str]:
    """{run id: label} of the finished runs with final weights, newest first; compress results left out."""
    out: dict[str, str] = {}
    for run in runs.to_dict("records"):
        group = run.get("group_id")
        if isinstance(group, str) and group.startswith(GROUP_PREFIX):
            continue  # a variant is a result: compress its source run instead
        if run["status"] in STATUSES and has_weights(home, run["id"]):
            out[run["id"]] = run_label(run)
    return out


def groups_of(store, source: str) -> list[Group]:
    """The compress groups made from run ``source``, newest first (two queries, however many groups)."""
    runs = store.list_runs()
    runs = runs[runs["group_id"].fillna("").str.startswith(GROUP_PREFIX)]
    summaries = store.summaries(runs["id"])
    out = []
    for group, rows in runs.groupby("group_id", sort=False):  # list_runs is newest first, so groups are too
        variants, unfinished = [], []
        for row in reversed(rows.to_dict("records")):  # the order they were made
            entry = (summaries.get(row["id"]) or {}).get("compress")
            if isinstance(entry, dict):
                variants.append({"run_id": row["id"], "name": row["name"] or row["id"], **entry})
            else:
                unfinished.append(str(row["status"]))
        if variants and variants[0].get("source") == source:
            out.append(Group(str(group), source, float(rows["created"].min()), tuple(variants), tuple(unfinished)))
    return out


def metric_of(variants: Sequence[Mapping[str, Any]]) -> str:
    """The task metric the variants carry (``val_accuracy`` for a classifier, ``val_mse`` for regression)."""
    return next((m for v in variants for m in METRICS if m in v), METRICS[0])


def measured(variants: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The variants that were made and measured (not a static int8 that did not apply)."""
    return [v for v in variants if v.get("applied") is not False and "size_bytes" in v]


def shown(metric: str, value: float | None) -> float | None:
    """A metric as the page shows it: accuracy in percent, MSE as it is."""
    return None if value is None else 100.0 * value if metric == "val_accuracy" else value


def metric_title(metric: str) -> str:
    """The metric's axis title, with its unit."""
    return "validation accuracy (%)" if metric == "val_accuracy" else "validation MSE (lower is better)"


def short_label(variant: Mapping[str, Any]) -> str:
    """A marker's label: ``pruned 80% +ft``, ``int8 static``, ``student (KD)`` (the legend has the full name)."""
    kind = variant.get("kind", "")
    if kind in ("prune", "prune+finetune"):
        p = variant.get("pruning") or {}
        label = f"pruned {p.get('amount', 0):.0%}" + (" units" if p.get("structured") else "")
        return label + (" +ft" if kind == "prune+finetune" else "")
    if kind == "quantize":
        method = (variant.get("quantization") or {}).get("method")
        return "int8 static" if method == "static" else "int8"
    return SHORT.get(kind, str(variant.get("name", kind)))


def kept(variant: Mapping[str, Any], dense: Mapping[str, Any]) -> float:
    """The variant's nonzero weights as a share of the dense model's weights."""
    return variant["nonzero_params"] / max(dense["params"], 1)


def frame(group: Group) -> pd.DataFrame:
    """One row per measured variant: metric and its change, weights, size on disk and latency against dense.

    Numbers stay numbers (NaN where a variant has none), so a click on a header sorts by value.
    """
    metric, rows = group.metric, []
    accuracy = metric == "val_accuracy"
    for v in measured(group.variants):
        vs = v.get("vs_dense") or {}
        change = vs.get("metric_change")
        csr = v.get("size_csr_bytes")
        rows.append(
            {
                "variant": v["name"],
                "kind": v.get("kind"),
                ("val accuracy (%)" if accuracy else "val MSE"): _round(
                    shown(metric, v.get(metric)), 2 if accuracy else 4
                ),
                "change (points)" if accuracy else "change in MSE": _round(shown(metric, change), 2 if accuracy else 4),
                "nonzero params": int(v["nonzero_params"]),
                "file (kB)": _round(v["size_bytes"] / 1e3, 1),
                "sparse (kB)": _round(csr / 1e3 if csr is not None else None, 1),
                "× smaller": _round(vs.get("size_ratio"), 2),
                "latency (ms)": _round(v["latency_ms"], 3),
                "× faster": _round(vs.get("latency_ratio"), 2),
            }
        )
    return pd.DataFrame(rows)


def _round(x: float | None, digits: int) -> float:
    return math.nan if x is None or not math.isfinite(x) else round(float(x), digits)


def sparsity(group: Group) -> pd.DataFrame:
    """Share of zeros per layer (rows, input to output) of each pruned variant (columns); empty without one.

    A fine-tuned copy holds its zeros where they were, so only the plain pruned variants are columns.
    """
    cols = {
        v["name"]: v["pruning"]["layers"]
        for v in measured(group.variants)
        if v.get("kind") == "prune" and v.get("pruning")
    }
    return pd.DataFrame(cols)


def not_applied(variants: Sequence[Mapping[str, Any]]) -> list[str]:
    """``int8 static: static int8 does not apply: ...`` for each variant that was tried and not made."""
    return [f"{v['name']}: {v.get('what')}" for v in variants if v.get("applied") is False]


def change_words(metric: str, change: float | None, dense_value: float | None) -> str:
    """``keeps the accuracy within 0.4 points``, ``loses 37.2 points``, ``raises the MSE by 40%``."""
    if change is None:
        return "has no metric (its outputs were not finite)"
    if metric == "val_accuracy":
        pts = 100.0 * change
        if pts <= -KEEPS_POINTS:
            return f"loses {-pts:.1f} points"
        if pts >= KEEPS_POINTS:
            return f"gains {pts:.1f} points"
        return "keeps the accuracy exactly" if abs(pts) < 0.05 else f"keeps the accuracy within {abs(pts):.1f} points"
    rel = change / dense_value if dense_value else math.inf
    if abs(rel) < KEEPS_MSE:
        return f"keeps the MSE within {abs(rel):.0%}"
    return f"{'raises' if rel > 0 else 'lowers'} the MSE by {abs(rel):.0%}"


def size_words(ratio: float) -> str:
    """``3.9× smaller``, ``no smaller``, ``1.1× larger`` on disk."""
    if ratio >= 1.1:
        return f"{ratio:.1f}× smaller"
    return f"{1 / ratio:.1f}× larger" if ratio <= 1 / 1.1 else "no smaller"


def speed_words(ratio: float) -> str:
    """``runs 2.1× faster``, ``runs 1.6× slower``, ``runs about as fast`` (``ratio``: dense's time over its)."""
    if ratio >= SAME_SPEED:
        return f"runs {ratio:.1f}× faster"
    return f"runs {1 / ratio:.1f}× slower" if ratio <= 1 / SAME_SPEED else "runs about as fast"


def _keeps(metric: str, v: Mapping[str, Any], dense: Mapping[str, Any]) -> bool:
    change = (v.get("vs_dense") or {}).get("metric_change")
    if change is None:
        return False
    if metric == "val_accuracy":
        return 100.0 * change > -KEEPS_POINTS
    return change / max(dense.get(metric) or 1e-12, 1e-12) < KEEPS_MSE


def verdict(group: Group) -> str:
    """What the group shows in one paragraph (markdown): :func:`verdict_lines` joined."""
    return " ".join(verdict_lines(group))


def verdict_lines(group: Group) -> list[str]:
    """What the group shows, a sentence per kind of variant (markdown), slower or larger said as such."""
    dense, metric = group.dense, group.metric
    if dense is None:
        return ["The dense row is missing: this compress stopped before it measured anything."]
    variants, said = measured(group.variants), []

    def change(v: Mapping[str, Any]) -> str:
        return change_words(metric, (v.get("vs_dense") or {}).get("metric_change"), dense.get(metric))

    for q in (v for v in variants if v.get("kind") == "quantize"):
        vs = q["vs_dense"]
        size, speed = size_words(vs["size_ratio"]), speed_words(vs["latency_ratio"])
        said.append(f"**{q['name']}** is {size} on disk, {change(q)} and {speed}.")
    pruned = [v for v in variants if v.get("kind") in ("prune", "prune+finetune")]
    if pruned:
        keepers = [v for v in pruned if _keeps(metric, v, dense)]
        # The fewest weights that still keep the metric (the better score on a tie); else the least damage.
        if keepers:
            best = min(keepers, key=lambda v: (kept(v, dense), -_score(metric, v)))
        else:
            best = max(pruned, key=lambda v: _score(metric, v))
        vs = best["vs_dense"]
        line = f"**{best['name']}** {change(best)} at {kept(best, dense):.0%} of the weights"
        if not keepers:
            line = "No pruning keeps the " + ("accuracy" if metric == "val_accuracy" else "MSE") + f": {line}"
        file = f"saved as a dense file it is {size_words(vs['size_ratio'])} and {speed_words(vs['latency_ratio'])}"
        csr = best.get("size_csr_bytes")
        sparse = f"; stored sparse it would be {size_words(dense['size_bytes'] / csr)}" if csr else ""
        said.append(f"{line} ({file}{sparse}).")
        worst = min(pruned, key=lambda v: _score(metric, v))
        if worst is not best and not _keeps(metric, worst, dense):
            tuned = worst.get("kind") == "prune" and any(v.get("kind") == "prune+finetune" for v in pruned)
            said.append(f"{'Without fine-tuning, ' if tuned else ''}**{worst['name']}** {change(worst)}.")
    students = {v.get("kind"): v for v in variants if v.get("kind") in ("distill", "labels")}
    if "distill" in students:
        d = students["distill"]
        line = f"The **distilled student** ({d['params'] / max(dense['params'], 1):.0%} of the weights) {change(d)}"
        if "labels" in students and d.get(metric) is not None and students["labels"].get(metric) is not None:
            gap = shown(metric, d[metric] - students["labels"][metric]) or 0.0
            line += f", {gap:+.1f} points against the same student on the labels alone"
        said.append(line + f", and {speed_words(d['vs_dense']['latency_ratio'])}.")
    return said or ["Only the dense model was measured."]


def _score(metric: str, v: Mapping[str, Any]) -> float:
    """Higher is better: accuracy, or minus the MSE."""
    value = v.get(metric)
    return -math.inf if value is None else value if metric == "val_accuracy" else -value


def request(
    run: str, levels: Sequence[float], *, structured: bool, finetune: int, int8: bool, student: str = ""
) -> Request:
    """The widgets' values as one request: levels in order, no fine-tune for 0, no student for blank text."""
    return Request(
        run=run,
        prune=tuple(sorted(float(x) for x in levels)),
        structured=bool(structured),
        finetune=int(finetune),
        quantize="int8" if int8 else None,
        distill=student.strip() or None,
    )


def check(store, req: Request) -> str | None:
    """The command's own refusal of ``req`` (one message naming the flag), or None when it may start."""
    try:
        compress_job.check(store, req)
    except (RecipeError, StoreError) as exc:
        return str(exc)
    return None


def progress_text(stage: str, seconds: float) -> str:
    """The progress bar's label: how many variants are made, and for how long it has been going."""
    return f"Compressing: {stage} · {seconds:.0f} s"
