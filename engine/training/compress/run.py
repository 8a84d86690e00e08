"""``gradclinic compress RUN``: smaller variants of a trained run, each stored as a run of its own.

The run's final weights are loaded (:func:`engine.training.weights.load_weights`) and measured as
they are (:mod:`.measure`), the group's "dense (as trained)" row that every ratio is against.
Then, as asked: each ``--prune`` level prunes a copy (:mod:`.prune`) and is measured; with
``--finetune STEPS`` that copy also trains STEPS more steps through the project's own session and
trainer, with the run's optimizer, learning rate, batch size and
schedule (the schedule over the fine-tune's steps), the pruned weights held at zero
(:class:`.prune.KeepMasks`), so the fine-tune is a recorded run with curves, probes and findings;
``--quantize int8`` makes int8 copies (:mod:`.quantize`); ``--distill OVERRIDES`` trains a student
(the run's recipe with OVERRIDES) on the run's softened outputs and the labels, and the same
student on the labels alone (:mod:`engine.training.distill`).

Every result is a run in one group (``compress-<hex>``), completed, with its measurements in its
summary (``summary["compress"]``). Dense and pruned variants save ``final.safetensors``, so
``gradclinic explain`` reads them; an int8 model is kept as its summary only. Everything that can
refuse (the run, its weights, the students' recipes and teacher) is checked before the first row.
"""

from __future__ import annotations

import copy
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from safetensors.torch import save_file

from engine.config.metrics import headline
from engine.config.recipe import Recipe
from engine.control.compress import Plan, student_recipes
from engine.models.base import ClinicModel
from engine.training import session
from engine.training.compress import measure, prune, quantize
from engine.training.weights import load_weights

#: progress(variant name, its measurements)
Progress = Callable[[str, dict[str, Any]], None]


@dataclass
class _Context:
    store: Any
    plan: Plan
    source: session.Prepared
    group: str
    metric: str
    progress: Progress | None
    results: list[dict[str, Any]] = field(default_factory=list)
    dense: dict[str, Any] = field(default_factory=dict)


def compress(store, plan: Plan, progress: Progress | None = None) -> dict[str, Any]:
    """Make, measure and store every variant ``plan`` asks for; returns the group's result."""
    source = load_weights(store, plan.run_id, "last")
    students = None
    if plan.distill is not None:  # prepared now: a refused teacher or student leaves no rows behind
        distilled, labels = student_recipes(source.recipe, plan.run_id, plan.distill)
        students = (session.prepare(distilled, store), session.prepare(labels, store))
    ctx = _Context(
        store, plan, source, f"compress-{secrets.token_hex(4)}", headline((), source.data.task).name, progress
    )
    dense = source.model.cpu()
    ctx.dense = measure.measure(dense, source.data, repeats=plan.repeats)
    _store_variant(ctx, "dense (as trained)", "dense", "nothing: the run's own final weights", ctx.dense, dense)
    for amount in plan.prune:
        _pruned(ctx, dense, amount)
    if plan.quantize == "int8":
        _quantized(ctx, dense)
    if students is not None:
        _students(ctx, *students)
    return {
        "run": plan.run_id,
        "group": ctx.group,
        "metric": ctx.metric,
        "dense": ctx.dense,
        "variants": ctx.results,
    }


def _vs_dense(ctx: _Context, m: dict[str, Any]) -> dict[str, Any]:
    d = ctx.dense
    value, base = m.get(ctx.metric), d.get(ctx.metric)
    return {
        "metric_change": None if value is None or base is None else value - base,
        "size_ratio": d["size_bytes"] / m["size_bytes"],  # how many times smaller
        "latency_ratio": d["latency_ms"] / m["latency_ms"],  # how many times faster (below 1: slower)
    }


def _summary(ctx: _Context, run_id: str, recipe: Recipe, kind: str, what: str, m: dict, extra: dict) -> dict:
    return {
        "run_id": run_id,
        "recipe": recipe.name,
        "status": "completed",
        "steps": 0,
        "seconds": 0.0,
        "device": "cpu",
        "final": {"val_loss": m["val_loss"], ctx.metric: m[ctx.metric]},
        "findings": [],
        "compress": _entry(ctx, kind, what, m, extra),
    }


def _entry(ctx: _Context, kind: str, what: str, m: dict, extra: dict) -> dict[str, Any]:
    return {"source": ctx.plan.run_id, "kind": kind, "what": what, **m, "vs_dense": _vs_dense(ctx, m), **extra}


def _new_row(ctx: _Context, name: str, recipe: Recipe, steps: int | None) -> str:
    run_id = ctx.store.create_run(recipe.to_dict(), name=name, group=ctx.group, total_steps=steps, status="running")
    ctx.store.update_run(run_id, pid=os.getpid())  # a crash before it completes reads as crashed
    return run_id


def _store_variant(
    ctx: _Context, name: str, kind: str, what: str, m: dict, model: torch.nn.Module | None, **extra: Any
) -> str:
    """A completed row for a variant made without training; its weights saved when it has float ones."""
    recipe = ctx.source.recipe
    run_id = _new_row(ctx, name, recipe, None)
    if model is not None:
        _save_weights(ctx.store.runs_dir(run_id), model)
    ctx.store.update_run(run_id, summary=_summary(ctx, run_id, recipe, kind, what, m, extra), step=0)
    ctx.store.set_status(run_id, "completed")
    _done(ctx, run_id, name, _entry(ctx, kind, what, m, extra))
    return run_id


def _done(ctx: _Context, run_id: str, name: str, entry: dict[str, Any]) -> None:
    ctx.results.append({"run_id": run_id, "name": name, **entry})
    if ctx.progress is not None:
        ctx.progress(name, entry)


def _save_weights(folder, model: torch.nn.Module) -> None:
    """``final.safetensors`` as training writes it (written aside, then renamed into place)."""
    tmp, path = folder / ".final.safetensors.tmp", folder / "final.safetensors"
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    os.replace(tmp, path)


def _pruned(ctx: _Context, dense: ClinicModel, amount: float) -> None:
    plan, data = ctx.plan, ctx.source.data
    model = copy.deepcopy(dense)
    pruned = prune.prune(model, amount, structured=plan.structured)
    label = f"prune {amount:.0%}" + (" of units" if plan.structured else "")
    how = (
        "of each hidden layer's units (L2 norm of their weights)" if plan.structured else "of all weights (global |w|)"
    )
    m = measure.measure(model, data, sparse=True, repeats=plan.repeats)
    _store_variant(ctx, label, "prune", f"pruned {amount:.0%} {how}", m, model, pruning=pruned.as_dict())
    if plan.finetune <= 0:
        return
    t = ctx.source.recipe.train
    recipe = ctx.source.recipe.with_overrides(
        {
            "train.steps": plan.finetune,
            "train.eval_every": min(t.eval_every, plan.finetune),
            "train.early_stopping": None,  # the fine-tune's last weights are the variant
        }
    )
    tuned = copy.deepcopy(model)
    name = f"{label} + finetune {plan.finetune}"
    run_id = _new_row(ctx, name, recipe, recipe.train.steps)
    prepared = session.Prepared(recipe, data, tuned, ctx.source.device)
    t0 = time.perf_counter()
    summary = session.train(ctx.store, run_id, prepared, extra_callbacks=[prune.KeepMasks(tuned, pruned.masks)])
    seconds = time.perf_counter() - t0
    m = measure.measure(tuned, data, sparse=True, repeats=plan.repeats)
    what = f"pruned {amount:.0%} {how}, then {plan.finetune} steps of fine-tuning with the pruned weights held at zero"
    extra = {"pruning": {**pruned.as_dict(), "after_finetune": prune.sparsity(tuned)[0]}, "train_seconds": seconds}
    entry = _entry(ctx, "prune+finetune", what, m, extra)
    ctx.store.update_run(run_id, summary={**summary, "compress": entry})
    _done(ctx, run_id, name, entry)


def _quantized(ctx: _Context, dense: torch.nn.Module) -> None:
    data, counted = ctx.source.data, measure.counts(dense)
    calibration = torch.from_numpy(data.x_train)
    for q in quantize.int8(dense, ctx.source.recipe.model.arch, calibration):
        name = f"int8 {q.method}"
        if q.model is None:  # did not apply: a row saying why, so the result shows it was tried
            _not_applied(ctx, name, q)
            continue
        m = measure.measure(q.model, data, counted=counted, repeats=ctx.plan.repeats)
        layers = ", ".join(q.layers[:6]) + (f" and {len(q.layers) - 6} more" if len(q.layers) > 6 else "")
        what = f"{q.method} int8 quantization ({q.engine}) of {layers}; kept as this summary only, no weights file"
        _store_variant(ctx, name, "quantize", what, m, None, quantization=q.as_dict())


def _not_applied(ctx: _Context, name: str, q: quantize.Quantized) -> None:
    entry = {"source": ctx.plan.run_id, "kind": "quantize", "what": q.why_not, "quantization": q.as_dict()}
    ctx.results.append({"run_id": None, "name": name, "applied": False, **entry})
    if ctx.progress is not None:
        ctx.progress(name, entry)


def _students(ctx: _Context, distilled: session.Prepared, labels: session.Prepared) -> None:
    spec = distilled.recipe.distill
    assert spec is not None
    sets = ", ".join(f"{k}={v}" for k, v in (ctx.plan.distill or {}).items())
    for prepared, name, kind, what in (
        (
            distilled,
            f"student distilled (T={spec.temperature:g}, alpha={spec.alpha:g})",
            "distill",
            f"a student ({sets}) trained on run {ctx.plan.run_id}'s outputs at T={spec.temperature:g}, "
            f"alpha={spec.alpha:g}, and on the labels",
        ),
        (labels, "student labels only", "labels", f"the same student ({sets}) trained on the labels alone"),
    ):
        run_id = _new_row(ctx, name, prepared.recipe, prepared.recipe.train.steps)
        summary = session.train(ctx.store, run_id, prepared)
        m = measure.measure(prepared.model, prepared.data, repeats=ctx.plan.repeats)
        entry = _entry(ctx, kind, what, m, {"student": ctx.plan.distill, "train_seconds": summary["seconds"]})
        ctx.store.update_run(run_id, summary={**summary, "compress": entry})
        _done(ctx, run_id, name, entry)
