"""Train an ensemble: every member a real run in one group, and the ensemble scored after each.

Bagging: member *m* trains on its own bootstrap sample (``data.bootstrap = m``) from its own
seed; the ensemble averages the members' class probabilities (or their predictions, for
regression). Boosting, multi-class AdaBoost (SAMME): every member trains on the same rows with
per-sample weights in its loss; after it, rows it got wrong gain weight by ``exp(alpha)`` with
``alpha = log((1 - err) / err) + log(K - 1)``, ``err`` its weighted error; the ensemble votes
with weights ``alpha``. A member no better than chance on the weighted rows ends the boosting,
as SAMME prescribes. Each member's weights are kept beside its run (``sample_weights.npy``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import secrets
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from engine.config.ensemble import EnsembleSpec
from engine.config.metrics import headline
from engine.config.recipe import Recipe
from engine.control import ensemble as plan
from engine.training import session
from engine.training.events import Callback


class _Outputs(Callback):
    """At the end of training, the model's outputs on the validation rows (and the training rows)."""

    def __init__(self, train_too: bool):
        self.train_too = train_too
        self.val: np.ndarray | None = None
        self.train: np.ndarray | None = None

    def after_fit(self, state: Any) -> None:
        self.val = predict(state.model, state.data.x_val, state.data, state.device)
        if self.train_too:
            self.train = predict(state.model, state.data.x_train, state.data, state.device)


@torch.no_grad()
def predict(model, x: np.ndarray, data, device: torch.device, chunk: int = 4096) -> np.ndarray:
    """Class probabilities (classification) or predictions (regression) of ``model`` for ``x``."""
    was = model.training
    model.eval()
    out = []
    for i in range(0, len(x), chunk):
        o = model(torch.from_numpy(x[i : i + chunk]).to(device)).float()
        out.append((torch.softmax(o, dim=-1) if data.task == "classification" else o).cpu().numpy())
    model.train(was)
    return np.concatenate(out) if out else np.zeros((0, data.n_outputs), dtype=np.float32)


def train_ensemble(
    store,
    recipe: Recipe,
    spec: EnsembleSpec,
    progress: Callable[[int, int, dict], None] | None = None,
) -> str:
    """Train ``spec.members`` members of ``recipe`` in this process; returns the ensemble's group id.

    Each member is recorded ``running`` with this process as its worker from the start (the run
    queue never claims it) and gets its probes, findings and an ``ensemble`` event.
    """
    first = session.prepare(plan.member_recipe(recipe, spec, 0), store)
    data = first.data
    plan.check(recipe, spec, data.task, data.target_len)
    group = secrets.token_hex(4)
    head = headline((), data.task)
    y_val, y_train = data.y_val, data.y_train
    k = int(data.n_classes or 0)
    weights = np.ones(len(y_train), dtype=np.float64)
    combined: np.ndarray | None = None  # summed probabilities (bagging) or votes (boosting)
    counted = 0
    for m in range(spec.members):
        r = plan.member_recipe(recipe, spec, m)
        prepared = first if m == 0 else session.prepare(r, store)
        w_member = (weights / weights.mean()).astype(np.float32)
        if spec.method == "boosting":
            prepared.data = dataclasses.replace(prepared.data, w_train=w_member)
        run_id = store.create_run(
            r.to_dict(), name=plan.member_name(spec, m), group=group, total_steps=r.train.steps, status="running"
        )
        store.update_run(run_id, pid=os.getpid())
        if spec.method == "boosting":
            np.save(store.runs_dir(run_id) / "sample_weights.npy", w_member)
        outputs = _Outputs(train_too=spec.method == "boosting")
        summary = session.train(store, run_id, prepared, extra_callbacks=[outputs])
        assert outputs.val is not None, "after_fit ran"
        payload: dict[str, Any] = {
            "method": spec.method,
            "members": m + 1,
            "of": spec.members,
            "metric": head.column,
            "higher_is_better": head.higher_is_better,
            "member_value": _finite(summary["final"].get(head.name)),
        }
        usable = bool(np.isfinite(outputs.val).all())  # a diverged member cannot vote
        stopped = None
        if spec.method == "bagging":
            if usable:
                combined = outputs.val.astype(np.float64) if combined is None else combined + outputs.val
                counted += 1
        else:
            assert outputs.train is not None
            wrong = outputs.train.argmax(-1) != y_train if usable else np.ones(len(y_train), bool)
            err = float((weights * wrong).sum() / weights.sum())
            payload["weighted_error"] = err
            if err >= 1 - 1 / k:  # no better than chance on the weighted rows: SAMME stops here
                stopped = f"member {m + 1} was no better than chance on the re-weighted rows"
                payload["alpha"] = 0.0
            else:
                alpha = math.log((1 - err) / max(err, 1e-10)) + math.log(k - 1)
                payload["alpha"] = alpha
                votes = np.eye(k)[outputs.val.argmax(-1)] * alpha
                combined = votes if combined is None else combined + votes
                counted += 1
                weights = weights * np.exp(alpha * wrong)
                weights = weights / weights.mean()
        payload["voted"] = usable and payload.get("alpha", 1.0) > 0
        payload["value"] = _score(combined, counted, y_val, data.task)
        payload["stopped"] = stopped
        store.add_event(run_id, summary["steps"], plan.EVENT, payload)
        if progress is not None:
            progress(m, spec.members, payload)
        if stopped:
            break
    return group


def _score(combined: np.ndarray | None, counted: int, y: np.ndarray, task: str) -> float | None:
    """The ensemble's validation accuracy (classification) or MSE (regression) so far."""
    if combined is None or counted == 0:
        return None
    if task == "classification":
        return float((combined.argmax(-1) == y).mean())
    return float(((combined / counted - y) ** 2).mean())


def _finite(x: Any) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


def against_one_net(store, recipe: Recipe) -> tuple[dict[str, Any], float | None]:
    """The recipe's ensemble (its ``ensemble:`` block) and, beside it, one net of the same recipe
    trained on all its training rows at its seed: what the ensemble lessons compare.

    Returns (the ensemble's :func:`engine.control.ensemble.summarize`, the one net's headline metric).
    """
    summary = plan.summarize(store, train_ensemble(store, recipe, plan.spec_of(recipe)))
    plain = recipe.with_overrides({"ensemble": None})
    run_id = store.create_run(plain.to_dict(), total_steps=plain.train.steps, status="running")
    store.update_run(run_id, pid=os.getpid())
    final = session.train(store, run_id, session.prepare(plain, store))["final"]
    return summary, _finite(final.get(headline(final).name))
