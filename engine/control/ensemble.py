"""Ensembles, torch-free: what may be ensembled, each member's recipe, and the ensemble read back.

The training side (:mod:`engine.training.ensemble`) trains the members one after another and,
after each, records on that member's run an ``ensemble`` event: the ensemble's validation
metric with members 1..m, the member's own, and (boosting) its vote weight. :func:`summarize`
reads those events back, so the CLI, the JSON and the Compare view's "accuracy against members"
chart all show the same numbers. Member runs are named ``bagging #member 2/8``, so Compare
groups them as one variant, the way it groups seeds.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from engine.config.ensemble import EnsembleSpec
from engine.config.errors import RecipeError
from engine.config.names import TERMINAL
from engine.config.recipe import Recipe
from engine.control import labels

EVENT = "ensemble"


def spec_of(recipe: Recipe, method: str | None = None, members: int | None = None) -> EnsembleSpec:
    """The recipe's ``ensemble:`` block with the command's flags over it; refuses bad ones by flag."""
    from pydantic import ValidationError

    base = recipe.ensemble or EnsembleSpec()
    fields = {**base.model_dump(), **{k: v for k, v in (("method", method), ("members", members)) if v is not None}}
    try:
        return EnsembleSpec(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else "members"
        raise RecipeError(f"--{key}: {err['msg'].lower()} (got {fields.get(key)!r})") from None


def check(recipe: Recipe, spec: EnsembleSpec, task: str, target_len: int = 1) -> None:
    """Refuse what cannot be ensembled, naming the key: a model judged by its own metric (GAN,
    autoencoder), per-position targets, and boosting on regression (SAMME counts votes)."""
    from engine.models import capabilities

    own = capabilities(recipe.model.arch).metric
    if own:
        raise RecipeError(
            f"model.arch: {recipe.model.arch} is judged by {own}, not by predicting y; ensembles combine predictions"
        )
    if target_len > 1:
        raise RecipeError("data.name: ensembles need one label per sample (this data labels every position)")
    if spec.method == "boosting" and task != "classification":
        raise RecipeError("ensemble.method: boosting (SAMME) needs classification data; use bagging for regression")


def member_recipe(recipe: Recipe, spec: EnsembleSpec, index: int) -> Recipe:
    """Member ``index``'s recipe: its own seed (init, batches), the ensemble's one split (``data.seed``),
    and for bagging its own bootstrap sample of the training rows."""
    sets: dict[str, Any] = {
        "ensemble": None,
        "seed": recipe.seed + index,
        "data.seed": recipe.data.seed if recipe.data.seed is not None else recipe.seed,
    }
    if spec.method == "bagging":
        sets["data.bootstrap"] = index
    return recipe.with_overrides(sets)


def member_name(spec: EnsembleSpec, index: int) -> str:
    """``bagging #member 2/8``: the part before ``#`` is the variant Compare groups by."""
    return f"{spec.method}{labels.SEED_MARK}member {index + 1}/{spec.members}"


def summarize(store: Any, group: str) -> dict[str, Any]:
    """The ensemble in ``group``: its metric against members, each member's own, and their findings."""
    runs_df = store.list_runs(group=group)
    if runs_df.empty:
        raise RecipeError(f"no runs in group {group!r}")
    rows = [store.get_run(rid) for rid in runs_df.sort_values("created")["id"].tolist()]
    curve = []
    for r in rows:
        event = store.last_event(r["id"], EVENT)
        if event is not None:
            curve.append({**event["payload"], "run": r["id"], "status": r["status"]})
    curve.sort(key=lambda c: c["members"])
    if not curve:
        raise RecipeError(f"group {group!r} holds no ensemble (no run has an {EVENT!r} event)")
    head = curve[-1]
    higher = bool(head["higher_is_better"])
    own = [c["member_value"] for c in curve if c.get("member_value") is not None]
    best_member = (max(own) if higher else min(own)) if own else None
    findings: Counter[str] = Counter()
    for r in rows:
        findings.update({f["code"] for f in store.findings(r["id"])})
    final = head["value"]
    sign = 1 if higher else -1
    gain = None if final is None or best_member is None else (final - best_member) * sign
    mean_member = sum(own) / len(own) if own else None
    over_mean = None if final is None or mean_member is None else (final - mean_member) * sign
    return {
        "diagnosis": diagnose(curve, over_mean, head.get("stopped")),
        "mean_member": mean_member,
        "gain_over_mean_member": over_mean,
        "group": group,
        "method": head["method"],
        "members": head["of"],
        "trained": len(curve),
        "metric": head["metric"],
        "higher_is_better": higher,
        "curve": curve,
        "single": curve[0]["member_value"],
        "final": final,
        "best_member": best_member,
        "gain_over_best_member": gain,
        "member_findings": dict(sorted(findings.items())),
        "stopped": head.get("stopped"),  # why boosting stopped before its last member, or None
        "done": all(r["status"] in TERMINAL for r in rows) and (len(curve) >= head["of"] or bool(head.get("stopped"))),
    }


#: An ensemble less than this far beyond its average member (in the metric's units) gained nothing.
NO_GAIN = 0.005


def diagnose(curve: list[dict], over_mean: float | None, stopped: str | None) -> list[dict[str, str]]:
    """What went wrong with the ensemble as a whole (each member has its own findings as a run).

    ``no_gain``: it ends no better than its average member, so the members make the same mistakes
    (the best member is no yardstick: picking it on the validation rows flatters it);
    ``members_left_out``: members that diverged (or boosting weighed at zero) cast no vote;
    ``stopped_early``: boosting met a member no better than chance on the re-weighted rows.
    """
    out = []
    if over_mean is not None and over_mean < NO_GAIN and len(curve) > 1:
        out.append(
            {
                "code": "no_gain",
                "message": "the ensemble is no better than its average member: the members make the same mistakes "
                "(for bagging, a net that varies more from seed to seed gains more; for boosting, a weaker learner)",
            }
        )
    left = [c["members"] for c in curve if c.get("voted") is False]
    if left:
        out.append({"code": "members_left_out", "message": f"member(s) {left} diverged or were no better than chance"})
    if stopped:
        out.append({"code": "stopped_early", "message": f"boosting stopped: {stopped}"})
    return out
