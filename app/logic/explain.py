"""The Explain page's logic, without Streamlit or torch: which runs, which request, what it says.

The attributions themselves are computed by ``gradclinic explain`` in a child process
(:mod:`engine.control.explain_job`); this module picks the runs that have weights to explain,
turns the page's widgets into a :class:`~engine.control.explain_job.Request` (refusing work
beyond the command's bounds before anything starts), and reads a result back as one sentence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app.logic import common
from app.logic.launch import load_data
from engine.config.errors import RecipeError
from engine.config.recipe import Recipe
from engine.control import explain_cli, sources
from engine.control.explain_job import Request
from engine.control.labels import display_name

METHODS = explain_cli.METHODS
#: One line per method, for the picker's help and the caption under it.
METHOD_HELP = {
    "ig": "Integrated gradients: the gradient summed along a straight path from the average input to the "
    "sample; the attributions add up to f(sample) − f(average input).",
    "saliency": "Saliency: the gradient at the sample itself, how much a small nudge of each input moves the "
    "output. The fastest; noisy.",
    "deeplift": "DeepLIFT: each unit's activation against its activation on the average input, passed back "
    "rule by rule. Fast, and close to integrated gradients.",
    "gradshap": "GradientSHAP: integrated gradients from random baselines near the average input, averaged "
    "(an estimate of SHAP values).",
    "occlusion": "Occlusion: set one feature, time step or 2×2 patch to its average and see how far the "
    "output moves. No gradients at all.",
    "layer_conductance": "Layer conductance: how much of the output flows through each hidden layer, and "
    "through each unit of one layer you pick.",
}
METHOD_NAMES = {
    "ig": "Integrated gradients",
    "saliency": "Saliency",
    "deeplift": "DeepLIFT",
    "gradshap": "GradientSHAP",
    "occlusion": "Occlusion",
    "layer_conductance": "Layer conductance",
}
#: Methods whose work grows with ``--steps`` (integration steps; GradientSHAP's samples).
STEP_METHODS = ("ig", "layer_conductance", "gradshap")
#: The other methods ignore ``--steps``; 1 keeps the samples x steps bound about real work.
NO_STEPS = 1
#: What each checkpoint's file is called in the run's folder (engine/training/checkpoint.py).
WEIGHTS = sources.FILES
CHECKPOINT_NAMES = {"last": "end of training", "best": "best validation loss"}
#: Attributions this small everywhere mean the output does not depend on the input at all.
NOTHING = 1e-6


def weights_folder(home: str | Path, run_id: str) -> Path:
    """``home/runs/<id>``: read only (``Store.runs_dir`` would create it, even for a run with no files)."""
    return Path(home) / "runs" / run_id


def checkpoints(home: str | Path, run_id: str) -> tuple[str, ...]:
    """The checkpoints ("last", "best") whose weights run ``run_id`` saved."""
    folder = weights_folder(home, run_id)
    return tuple(c for c, name in WEIGHTS.items() if (folder / name).is_file())


def run_label(run: Mapping[str, Any]) -> str:
    """``He init + ReLU · vanishing-sigmoid · ✅ completed · 14fc0e03``: name, recipe, status, id."""
    name, recipe = display_name(run), run.get("recipe_name") or run.get("recipe")
    parts = [name] + ([str(recipe)] if isinstance(recipe, str) and recipe != name else [])
    return " · ".join([*parts, common.badge(str(run["status"])), str(run["id"])])


def explainable(home: str | Path, runs: pd.DataFrame) -> dict[str, str]:
    """{run id: label} of the finished runs with saved weights, newest first (as ``runs`` is ordered)."""
    out: dict[str, str] = {}
    for run in runs.to_dict("records"):
        if not common.is_live(run["status"]) and checkpoints(home, run["id"]):
            out[run["id"]] = run_label(run)
    return out


def refusal(recipe: Mapping[str, Any]) -> str | None:
    """Why a run cannot be explained although it has weights (it learned from video clips), or None."""
    return explain_cli.data_error(recipe)


def partners(runs: pd.DataFrame, first: str, choices: Sequence[str]) -> list[str]:
    """The runs to set beside ``first``: its Compare group's other runs first (baseline, remedies), then the rest."""
    groups = dict(zip(runs["id"], runs["group_id"]))
    group = groups.get(first)
    others = [r for r in choices if r != first]
    if not isinstance(group, str):
        return others
    return sorted(others, key=lambda r: groups.get(r) != group)  # stable: newest first within each part


def short_names(runs: Sequence[Mapping[str, Any]], width: int = 28) -> dict[str, str]:
    """{run id: its name for a chart title}: clipped (plotly cuts a title too wide for its chart), and
    told apart by part of the id where two runs share a name (two runs of one recipe, say)."""
    names = [display_name(r) for r in runs]
    out = {}
    for run, name in zip(runs, names):
        clipped = name if len(name) <= width else name[: width - 1] + "…"
        out[str(run["id"])] = f"{clipped} ({str(run['id'])[:4]})" if names.count(name) > 1 else clipped
    return out


def class_names(recipe: Mapping[str, Any]) -> list[str]:
    """A classifier's class names, in class order (its target choices); empty for any other model.

    The autoencoder and the GAN explain a score of their own, not a class.
    """
    parsed = Recipe.from_dict(dict(recipe))
    if parsed.model.arch in ("autoencoder", "gan"):
        return []
    data = load_data(parsed.data, parsed.seed)
    if data is None or data.task != "classification" or not data.n_classes:
        return []
    names = list(data.class_names)
    return [names[c] if c < len(names) else str(c) for c in range(int(data.n_classes))]


def bound_error(samples: int, steps: int) -> str | None:
    """The command's own refusal of ``samples`` x ``steps`` (naming the flag), or None within the bounds."""
    try:
        explain_cli.check(int(samples), int(steps))
    except RecipeError as exc:
        return str(exc)
    return None


def request(
    run: str,
    method: str,
    samples: int,
    steps: int,
    *,
    target: int | None = None,
    checkpoint: str = "last",
    layer: str | None = None,
) -> Request:
    """The widgets' values as one request; a method without steps, or a layer it cannot use, is left out.

    So two pages that differ only in a value the method ignores ask for (and find) the same saved result.
    """
    if method not in METHODS:
        raise RecipeError(f"--method: {method!r} is not one of {', '.join(METHODS)}")
    return Request(
        run=run,
        method=method,
        samples=int(samples),
        steps=int(steps) if method in STEP_METHODS else NO_STEPS,
        target=None if target is None else int(target),
        checkpoint=checkpoint,
        layer=layer if method == "layer_conductance" and layer else None,
    )


def ranked(names: Sequence[str], importance: Sequence[float]) -> list[tuple[str, float]]:
    """(name, share of the total importance) from the largest down."""
    v = np.abs(np.asarray(importance, dtype=float))
    total = float(v.sum())
    shares = v / total if total > 0 else np.zeros_like(v)
    order = np.argsort(-v, kind="stable")
    return [(str(names[i]), float(shares[i])) for i in order]


def marker_steps(result: Mapping[str, Any]) -> list[list[int]]:
    """Per sample, the time steps its "marker" input channel marks (the adding problem); [] without one."""
    features = [str(f).lower() for f in result.get("features") or []]
    if result.get("kind") != "sequence" or "marker" not in features:
        return []
    channel = np.asarray(result["inputs"], dtype=float)[:, :, features.index("marker")]
    lo, hi = float(channel.min()), float(channel.max())
    if hi <= lo:
        return []
    return [np.flatnonzero(row > (lo + hi) / 2).tolist() for row in channel]


def verdict(result: Mapping[str, Any]) -> str:
    """One sentence on where the attribution goes: "**f4** carries 71% of the attribution; next f8 (6%)"."""
    if "layers" in result:
        return _conductance_verdict(result)
    top = float(np.abs(np.asarray(result["per_sample"], dtype=float)).max(initial=0.0))
    if top < NOTHING:
        return (
            f"Every attribution is about 0 (at most {top:.1g}): this model's output does not depend on its "
            "input, so there is nothing it looks at. It has not learned."
        )
    kind = result.get("kind")
    if kind == "tabular":
        order = ranked(result["features"], result["importance"])
        line = f"**{order[0][0]}** carries {order[0][1]:.0%} of the attribution (mean |attribution|)"
        return line + (f"; next {order[1][0]} ({order[1][1]:.0%})." if len(order) > 1 else ".")
    if kind == "sequence":
        marks = marker_steps(result)
        if marks and any(marks):
            a = np.abs(np.asarray(result["per_sample"], dtype=float))
            share = np.mean([a[i, m].sum() / max(a[i].sum(), 1e-30) for i, m in enumerate(marks) if m])
            return f"The marked time steps carry **{share:.0%}** of each sample's attribution, on average."
        steps = ranked([str(t) for t in range(len(result["importance"]))], result["importance"])[:3]
        return (
            "Time steps "
            + ", ".join(f"**t={t}**" for t, _ in steps)
            + f" carry {sum(s for _, s in steps):.0%} of the attribution."
        )
    imp = np.asarray(result["importance"], dtype=float).ravel()
    k = max(1, imp.size // 10)
    share = float(np.sort(imp)[::-1][:k].sum() / max(imp.sum(), 1e-30))
    return f"The top 10% of pixels ({k} of {imp.size}) carry **{share:.0%}** of the attribution."


def _conductance_verdict(result: Mapping[str, Any]) -> str:
    layers = result["layers"]
    values = np.asarray([layer["mean_abs"] for layer in layers], dtype=float)
    if values.size == 0 or values.max() < NOTHING:
        return (
            f"Nothing flows: every layer's mean |conductance| is below {NOTHING:g} (at most "
            f"{values.max(initial=0.0):.1g}), so the output does not depend on the input through any layer."
        )
    hi, lo = int(values.argmax()), int(values.argmin())
    line = f"**{layers[hi]['layer']}** conducts the most per unit ({values[hi]:.3g})"
    line += f", {layers[lo]['layer']} the least ({values[lo]:.3g})."
    units = result.get("neurons")
    if units:
        unit = ranked([f"#{i}" for i in range(len(units["mean_abs"]))], units["mean_abs"])[0]
        line += f" In {units['layer']}, unit {unit[0]} carries {unit[1]:.0%}."
    return line


def colour_caption(result: Mapping[str, Any], pair: bool = False) -> str:
    """What is explained, what red and blue mean, and in which units (and that two runs share the scale)."""
    explained = result.get("explained", "the model's output")
    if result.get("method") == "layer_conductance":
        return (
            f"Explained: {explained}. A bar is how much of it flows through that layer (mean |conductance| "
            "per unit, in units of the output); per unit, red pushes toward it and blue against it."
            + (" Both runs' bars share one axis." if pair else "")
        )
    unit = (
        "the output's change per standard deviation of an input (a gradient)"
        if result.get("method") == "saliency"
        else "units of the output; per sample they add up to about f(sample) − f(average input)"
    )
    return (
        f"Explained: {explained}. Red pushes toward it, blue against it, no colour does nothing; "
        f"values are in {unit}."
        + (" The two runs share one colour scale: the same colour is the same amount." if pair else "")
    )


def delta_caption(result: Mapping[str, Any]) -> str | None:
    """Integrated gradients' completeness check in words; None for the other methods."""
    delta = result.get("delta")
    if not delta:
        return None
    return (
        f"Completeness check: the attributions add up to f(sample) − f(average input) within "
        f"{delta['max_abs']:.2g} ({delta['max_relative']:.1%} of the typical gap; under 5% is good)."
    )


def progress_text(stages: Sequence[tuple[str, str]], seconds: float) -> str:
    """The progress bar's label: each job's run and stage, and how long it has been going."""
    where = " · ".join(f"{name}: {stage}" if name else stage for name, stage in stages)
    return f"Explaining: {where} · {seconds:.0f} s"
