"""Plain summaries of stored runs for the CLI (``ls``, ``show``) and the app.

Torch-free: reads the store only.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.control.labels import printable
from engine.control.queue import observed
from engine.diagnosis import remedies
from engine.worker import log_path


def _age(ts: Any, now: float) -> str:
    if ts is None or pd.isna(ts):
        return "-"
    sec = max(0.0, now - float(ts))
    if sec < 120:
        return f"{sec:.0f}s"
    if sec < 7200:
        return f"{sec / 60:.0f}m"
    return f"{sec / 3600:.0f}h"


def runs_table(store, **filters: Any) -> pd.DataFrame:
    """One row per run: id, name, recipe, status, progress, device, heartbeat age, created.

    A run whose worker is gone reads as crashed (:func:`engine.control.queue.observed`), written or not.
    """
    runs = store.list_runs(**filters)
    if runs.empty:
        return pd.DataFrame(columns=["id", "name", "recipe", "status", "progress", "device", "heartbeat", "created"])
    now = time.time()
    records = [observed(r) for r in runs.to_dict("records")]
    return pd.DataFrame(
        {
            "id": runs["id"],
            "name": runs["name"].fillna(""),
            "recipe": runs["recipe"],
            "status": [r["status"] for r in records],
            "progress": [_progress(r.get("step"), r.get("total_steps")) for r in records],
            "device": runs["device"].fillna("-"),
            "heartbeat": [_age(h, now) for h in runs["heartbeat"]],
            "created": pd.to_datetime(runs["created"], unit="s").dt.strftime("%Y-%m-%d %H:%M"),
        }
    )


def _progress(step: Any, total: Any) -> str:
    """``step/total (pct)``; a run with no step yet (queued, or stopped before it started) is at 0."""
    step = 0 if step is None or pd.isna(step) else int(step)
    if total is None or pd.isna(total) or not total:
        return f"{step}"
    return f"{step}/{int(total)} ({100 * step / int(total):.0f}%)"


def gradient_flow(store, run_id: str) -> dict[str, Any]:
    """Per-layer gradient norms: latest, and median over the second half of the run.

    ``first_to_last`` is the median over recorded steps of
    grad_norm(first layer) / grad_norm(last layer), the ratio AutoTrainer
    uses to call gradients vanishing (< 1e-3) or exploding (> 70).
    """
    steps, names, values = store.layer_matrix(run_id, "grad_norm")
    if len(steps) == 0:
        return {"layers": [], "first_to_last": None, "step": None}
    half = values[len(values) // 2 :]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = values[:, 0] / values[:, -1]
    with warnings.catch_warnings():  # a diverged layer's column is all NaN: its median is NaN, said as None
        warnings.simplefilter("ignore", RuntimeWarning)
        medians = np.nanmedian(half, axis=0)
    ratio = ratio[np.isfinite(ratio)]
    return {
        "step": int(steps[-1]),
        "layers": [
            {"name": n, "grad_norm": _num(values[-1, i]), "grad_norm_median": _num(medians[i])}
            for i, n in enumerate(names)
        ],
        "first_to_last": _num(np.median(ratio)) if ratio.size else None,
    }


def _num(x: Any) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _existing(path: Path) -> str | None:
    return str(path) if path.is_file() else None


def run_report(store, run_id: str) -> dict[str, Any]:
    """Everything ``gradclinic show`` prints, as JSON-ready data; a dead worker's run reads as crashed."""
    run = observed(store.get_run(run_id))
    summary = run.get("summary") or {}
    wide = store.scalars_wide(run_id)
    latest = {}
    if not wide.empty:
        for col in wide.columns:
            series = wide[col].dropna()
            if len(series):
                latest[col] = _num(series.iloc[-1])
    return {
        "run_id": run["id"],
        "name": run.get("name"),
        "recipe": run.get("recipe_name"),
        "status": run["status"],
        "device": run.get("device"),
        "step": run.get("step"),
        "total_steps": run.get("total_steps"),
        "error": run.get("error"),
        "worker_log": _existing(log_path(store, run_id)),
        "final": summary.get("final")
        or {k: latest.get(k) for k in ("train_loss", "val_loss", "val_accuracy", "val_mse") if k in latest},
        "latest": latest,
        "gradient_flow": gradient_flow(store, run_id),
        "findings": store.findings(run_id),
        "recipe_config": run.get("recipe"),
    }


def format_report(rep: dict[str, Any]) -> str:
    """The human-readable form of :func:`run_report`; stored text is printed with control characters escaped."""
    named = f" ({rep['name']})" if rep.get("name") else ""
    lines = [
        f"run {rep['run_id']}{named}  {rep['recipe']}  {rep['status']}  step {rep['step']}/{rep['total_steps']}"
        f"  on {rep['device']}",
    ]
    if rep.get("error"):
        lines.append(f"error: {rep['error'].splitlines()[0]}")
    if rep.get("worker_log") and rep["status"] in ("failed", "crashed"):
        lines.append(f"worker log: {rep['worker_log']}")
    final = ", ".join(f"{k}={v:.4g}" for k, v in rep["final"].items() if v is not None)
    lines.append(f"final: {final or '-'}")
    flow = rep["gradient_flow"]
    if flow["layers"]:
        lines.append(f"gradient norm per layer (input → output) at step {flow['step']}:")
        for layer in flow["layers"]:
            g = layer["grad_norm"]
            lines.append(f"  {layer['name']:<14} {g:.3e}" if g is not None else f"  {layer['name']:<14} non-finite")
        if flow["first_to_last"] is not None:
            lines.append(f"first/last layer gradient ratio (median): {flow['first_to_last']:.2e}")
    for f in rep["findings"]:
        lines.append(f"[{f['severity']}] {f['code']} (from step {f['first_step']}): {f['message']}")
        for r in f.get("remedies", [])[:3]:
            lines.append(f"    try {remedies.as_flags(r['set'])}  — {r['why']}")
    return "\n".join(printable(line) for line in lines)
