"""What a trained run looks at: Captum attributions of its stored weights (``gradclinic explain``).

The run's recipe rebuilds its data and model (:func:`engine.training.session.prepare`), its
saved weights are loaded with ``safetensors`` (nothing is unpickled, nothing retrained), and a
Captum method attributes the model's output for the chosen class to each input: every pixel
of an image, every feature of a table, every time step of a sequence. Layer conductance
attributes it to each activation layer instead. Baselines are all-zero inputs, which after the
clinic's standardisation is the average training input. Integrated gradients reports its
convergence delta: how far its attributions miss summing to f(x) - f(baseline).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from engine.config.errors import RecipeError
from engine.config.recipe import Recipe
from engine.training import session

#: IG's completeness check: a delta above this share of the mean |f(x) - f(baseline)| is a warning.
DELTA_WARN = 0.05


def load_weights(store, run_id: str, checkpoint: str) -> session.Prepared:
    """The run's data and model with the weights of ``checkpoint`` ("last" or "best") loaded."""
    from safetensors.torch import load_file

    run = store.get_run(run_id)
    recipe = Recipe.from_dict(run["recipe"])
    path = store.runs_dir(run_id) / ("final.safetensors" if checkpoint == "last" else "best.safetensors")
    if not path.is_file():
        when = "the end of training" if checkpoint == "last" else "a best validation loss"
        raise RecipeError(
            f"--checkpoint {checkpoint}: run {run_id} has no weights from {when} ({path.name} is missing)"
        )
    prepared = session.prepare(recipe)
    state = load_file(str(path), device=str(prepared.device))
    missing, unexpected = prepared.model.load_state_dict(state, strict=False)
    if [k for k in missing if not k.endswith("num_batches_tracked")] or unexpected:
        raise RecipeError(f"run {run_id}: {path.name} does not match its recipe's model")
    prepared.model.eval()
    return prepared


def _method(name: str, model, layer=None):
    from captum import attr

    return {
        "ig": lambda: attr.IntegratedGradients(model),
        "saliency": lambda: attr.Saliency(model),
        "deeplift": lambda: attr.DeepLift(model),
        "gradshap": lambda: attr.GradientShap(model),
        "occlusion": lambda: attr.Occlusion(model),
        "layer_conductance": lambda: attr.LayerConductance(model, layer),
    }[name]()


def attribute(prepared: session.Prepared, method: str, x: torch.Tensor, target, steps: int) -> tuple[np.ndarray, Any]:
    """(attributions shaped like ``x``, IG's per-sample convergence delta or None)."""
    model, base = prepared.model, torch.zeros_like(x)
    explainer = _method(method, model)
    if method == "ig":
        a, delta = explainer.attribute(x, baselines=base, target=target, n_steps=steps, return_convergence_delta=True)
        return a.detach().cpu().numpy(), delta.detach().cpu().numpy()
    if method == "saliency":
        return explainer.attribute(x, target=target, abs=False).detach().cpu().numpy(), None
    if method == "deeplift":
        return explainer.attribute(x, baselines=base, target=target).detach().cpu().numpy(), None
    if method == "gradshap":
        g = torch.Generator().manual_seed(0)
        baselines = torch.randn((8, *x.shape[1:]), generator=g).to(x.device) * 0.1  # near the average input
        return explainer.attribute(x, baselines=baselines, target=target, n_samples=steps).detach().cpu().numpy(), None
    window = (1,) * (x.ndim - 1) if x.ndim <= 3 else (x.shape[1], 2, 2)  # a feature, a step, or a 2x2 patch
    return explainer.attribute(x, sliding_window_shapes=window, target=target).detach().cpu().numpy(), None


def explain(
    store,
    run_id: str,
    method: str = "ig",
    samples: int = 16,
    target: int | None = None,
    checkpoint: str = "last",
    steps: int = 50,
) -> dict[str, Any]:
    """Attribute ``samples`` validation rows of ``run_id``'s model; a JSON-ready result.

    ``target`` is the class explained (default: each sample's predicted class; regression
    explains its one output). For ``layer_conductance`` the result is per activation layer.
    """
    prepared = load_weights(store, run_id, checkpoint)
    data, device = prepared.data, prepared.device
    n = min(samples, len(data.x_val))
    x = torch.from_numpy(data.x_val[:n]).to(device)
    with torch.no_grad():
        out = prepared.model(x).float()
    if data.task == "classification":
        predicted = out.argmax(-1)
        if target is not None and not 0 <= target < int(data.n_classes or 0):
            raise RecipeError(f"--target: class {target} is not one of 0 to {int(data.n_classes or 0) - 1}")
        t = torch.full_like(predicted, target) if target is not None else predicted
        tgt: Any = t
    else:
        predicted, tgt = out[:, 0], 0
    result: dict[str, Any] = {
        "run": run_id,
        "method": method,
        "checkpoint": checkpoint,
        "kind": data.kind,
        "task": data.task,
        "samples": n,
        "steps": steps,
        "targets": tgt.tolist() if torch.is_tensor(tgt) else [tgt] * n,
        "labels": np.asarray(data.y_val[:n]).reshape(n, -1)[:, 0].tolist(),
        "predicted": predicted.tolist(),
        "class_names": list(data.class_names),
    }
    if method == "layer_conductance":
        result["layers"] = _conductance(prepared, x, tgt, steps)
        return result
    attr, delta = attribute(prepared, method, x, tgt, steps)
    result.update(_summarise(attr, data))
    if delta is not None:
        with torch.no_grad():
            gap = (out - prepared.model(torch.zeros_like(x)).float()).gather(1, _column(tgt, n, device)).squeeze(1)
        # Against the typical gap, not each sample's own: a sample on the decision boundary has
        # f(x) close to f(baseline), and any delta would look huge beside it.
        rel = float(np.abs(delta).max() / (np.abs(gap.cpu().numpy()).mean() + 1e-8))
        result["delta"] = {"max_abs": float(np.abs(delta).max()), "max_relative": rel}
        if rel > DELTA_WARN:
            result["warning"] = (
                f"integrated gradients misses completeness by up to {rel:.0%} of the mean |f(x) - f(baseline)|; "
                f"raise --steps (now {steps})"
            )
    return result


def _column(tgt, n: int, device) -> torch.Tensor:
    t = tgt if torch.is_tensor(tgt) else torch.full((n,), int(tgt), device=device)
    return t.view(n, 1).to(torch.int64)


def _summarise(attr: np.ndarray, data) -> dict[str, Any]:
    """Per-sample attributions in the data's own shape, and their global importance."""
    n = attr.shape[0]
    if data.kind == "image":  # (n, C, H, W): one map per sample, channels summed
        maps = attr.reshape(n, -1, attr.shape[-2], attr.shape[-1]).sum(1)
        return {"per_sample": maps.tolist(), "importance": np.abs(maps).mean(0).tolist()}
    if data.kind == "sequence":  # (n, T, F): one value per time step, features summed
        steps = attr.reshape(n, attr.shape[1], -1).sum(-1)
        return {"per_sample": steps.tolist(), "importance": np.abs(steps).mean(0).tolist()}
    flat = attr.reshape(n, -1)
    names = list(data.feature_names) or [f"x{i + 1}" for i in range(flat.shape[1])]
    return {"per_sample": flat.tolist(), "importance": np.abs(flat).mean(0).tolist(), "features": names}


def _conductance(prepared: session.Prepared, x: torch.Tensor, tgt, steps: int) -> list[dict[str, Any]]:
    """Mean |conductance| per unit of each activation layer, input to output."""
    layers = prepared.model.activation_layers()
    if not layers:
        raise RecipeError(f"--method layer_conductance: {prepared.recipe.model.arch} exposes no activation layers")
    out = []
    for name, module, _family in layers:
        c = _method("layer_conductance", prepared.model, module).attribute(x, target=tgt, n_steps=steps)
        c = (c[0] if isinstance(c, tuple) else c).detach().cpu().numpy().reshape(len(x), -1)
        out.append({"layer": name, "mean_abs": float(np.abs(c).mean()), "total": float(np.abs(c).sum(1).mean())})
    return out
