"""What a trained run looks at: Captum attributions of its stored weights (``gradclinic explain``).

The run's recipe rebuilds its data and model (:func:`engine.training.session.prepare`), its
saved weights are loaded with ``safetensors`` (nothing is unpickled, nothing retrained), and a
Captum method attributes one output of the model to each input: every pixel of an image,
every feature of a table, every time step of a sequence. A classifier explains a class (each
sample's predicted one, or ``target``); the autoencoder its reconstruction error, the GAN its
discriminator (:meth:`engine.models.base.ClinicModel.explain_forward`). Layer conductance
attributes the output to each activation layer instead, and to each unit of one chosen layer.

Baselines are all-zero inputs, which after the clinic's standardisation is the average training
input. Integrated gradients reports its convergence delta: how far its attributions miss summing
to f(x) - f(baseline). Samples go through Captum in chunks (:func:`chunk_size`), so a caller sees progress.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.config.errors import RecipeError
from engine.control import explain_cli
from engine.training.weights import load_weights

#: IG's completeness check: a delta above this share of the mean |f(x) - f(baseline)| is a warning.
DELTA_WARN = 0.05
#: Model evaluations per Captum call. Each call costs ~15 ms of Captum's own bookkeeping, so a
#: call does real work; 20,000 evaluations (the CLI's bound) still report progress 8 times.
CHUNK_EVALS = 2500


def chunk_size(method: str, steps: int) -> int:
    """Samples per Captum call: ``steps`` evaluations each for the path methods, one for the rest."""
    per_sample = steps if method in ("ig", "gradshap", "layer_conductance") else 1
    return max(1, min(250, CHUNK_EVALS // per_sample))


#: progress(units done, units in all, what is being done)
Progress = Callable[[int, int, str], None]


class _Explained(nn.Module):
    """The model's explained output as a module: DeepLift hooks the modules of what it is given."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.explain_forward(x)


def _method(name: str, forward: nn.Module, layer=None):
    from captum import attr

    return {
        "ig": lambda: attr.IntegratedGradients(forward),
        "saliency": lambda: attr.Saliency(forward),
        "deeplift": lambda: attr.DeepLift(forward),
        "gradshap": lambda: attr.GradientShap(forward),
        "occlusion": lambda: attr.Occlusion(forward),
        "layer_conductance": lambda: attr.LayerConductance(forward, layer),
    }[name]()


def attribute(forward: nn.Module, method: str, x: torch.Tensor, target, steps: int) -> tuple[np.ndarray, Any]:
    """(attributions shaped like ``x``, IG's per-sample convergence delta or None)."""
    base = torch.zeros_like(x)
    explainer = _method(method, forward)
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
    run: str,
    method: str = "ig",
    samples: int = 16,
    target: int | None = None,
    checkpoint: str = "last",
    steps: int = 50,
    layer: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Attribute the first ``samples`` validation rows of run ``run``'s model; a JSON-ready result.

    ``target`` is the explained class of a classifier (default: each sample's predicted class)
    or output of a multi-output model (default 0). For ``layer_conductance`` the result is per
    activation layer, and per unit of ``layer`` when one is named.
    """
    run_id = run
    refused = explain_cli.data_error(store.get_run(run_id)["recipe"])
    if refused:
        raise RecipeError(refused)
    prepared = load_weights(store, run_id, checkpoint)
    data, device, model = prepared.data, prepared.device, prepared.model
    forward = _Explained(model)
    n = min(samples, len(data.x_val))
    x = torch.from_numpy(data.x_val[:n]).to(device)
    with torch.no_grad():
        out = forward(x).float()
    if not torch.isfinite(out).all():
        raise RecipeError(
            f"run {run_id}: its {checkpoint} weights give non-finite outputs (the run diverged); "
            "there is nothing to explain (try --checkpoint best)"
        )
    tgt, predicted, explained = _targets(out, data, model, target)
    result: dict[str, Any] = {
        "run": run_id,
        "method": method,
        "checkpoint": checkpoint,
        "kind": data.kind,
        "task": data.task,
        "samples": n,
        "steps": steps,
        "layer": layer,
        "target": target,
        "explained": explained,
        "targets": tgt.tolist(),
        "labels": np.asarray(data.y_val[:n]).reshape(n, -1)[:, 0].tolist(),
        "predicted": predicted,
        "class_names": list(data.class_names),
    }
    report = progress or (lambda done, total, stage: None)
    # cuDNN's RNN kernels have no backward pass in eval mode; the plain kernels do.
    quiet_cudnn = torch.backends.cudnn.flags(enabled=False) if device.type == "cuda" else contextlib.nullcontext()
    with quiet_cudnn, warnings.catch_warnings():
        # Captum warns that it set requires_grad on the inputs, and that DeepLift hooks the
        # activations for the call: both are what is meant here, and they would bury the answer.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"captum\.")
        if method == "layer_conductance":
            result.update(_conductance(model, forward, x, tgt, steps, layer, report))
            return result
        if layer is not None:
            raise RecipeError("--layer: a layer's units are explained by --method layer_conductance only")
        parts, deltas = [], []
        k = chunk_size(method, steps)
        for i in range(0, n, k):
            report(i, n, f"{method} on samples {i + 1}-{min(n, i + k)} of {n}")
            a, d = attribute(forward, method, x[i : i + k], tgt[i : i + k], steps)
            parts.append(a)
            if d is not None:
                deltas.append(d)
        report(n, n, "done")
    attr = np.concatenate(parts)
    result.update(_summarise(attr, x.detach().cpu().numpy(), data, tgt.tolist()))
    if deltas:
        result.update(_completeness(forward, x, tgt, np.concatenate(deltas), steps))
    return result


def _targets(out: torch.Tensor, data, model, target: int | None) -> tuple[torch.Tensor, list, str]:
    """(the explained output of each sample, the predictions, what is explained in words)."""
    n, outputs = out.shape[0], out.shape[1]
    if data.task == "classification" and outputs == int(data.n_classes or 0) > 1:
        predicted = out.argmax(-1)
        if target is not None and not 0 <= target < outputs:
            raise RecipeError(f"--target: class {target} is not one of 0 to {outputs - 1}")
        if target is None:
            return predicted, predicted.tolist(), "the score of each sample's predicted class"
        name = data.class_names[target] if target < len(data.class_names) else str(target)
        return torch.full_like(predicted, target), predicted.tolist(), f"the score of class {name}"
    if target is not None and not 0 <= target < outputs:
        raise RecipeError(f"--target: this model has {outputs} output(s); give 0 to {outputs - 1}")
    column = target or 0
    explained = model.explained if outputs == 1 else f"output {column} of {outputs}"
    return torch.full((n,), column, dtype=torch.int64, device=out.device), out[:, column].tolist(), explained


def _completeness(forward, x: torch.Tensor, tgt: torch.Tensor, delta: np.ndarray, steps: int) -> dict[str, Any]:
    """IG's convergence delta, against the typical |f(x) - f(baseline)|, with a warning when large."""
    with torch.no_grad():
        gap = (forward(x) - forward(torch.zeros_like(x))).float().gather(1, tgt.view(-1, 1)).squeeze(1)
    # Against the typical gap, not each sample's own: a sample on the decision boundary has
    # f(x) close to f(baseline), and any delta would look huge beside it.
    rel = float(np.abs(delta).max() / (np.abs(gap.cpu().numpy()).mean() + 1e-8))
    out: dict[str, Any] = {"delta": {"max_abs": float(np.abs(delta).max()), "max_relative": rel}}
    if rel > DELTA_WARN:
        out["warning"] = (
            f"integrated gradients misses completeness by up to {rel:.0%} of the mean |f(x) - f(baseline)|; "
            f"raise --steps (now {steps})"
        )
    return out


def _summarise(attr: np.ndarray, x: np.ndarray, data, targets: list[int]) -> dict[str, Any]:
    """Per-sample attributions and inputs in the data's own shape, and their global importance."""
    n = attr.shape[0]
    if data.kind == "image":  # (n, C, H, W): one map per sample, channels summed; the image, channels averaged
        h, w = attr.shape[-2], attr.shape[-1]
        maps, images = attr.reshape(n, -1, h, w).sum(1), x.reshape(n, -1, h, w).mean(1)
        return {
            "per_sample": maps.tolist(),
            "inputs": images.tolist(),
            "importance": np.abs(maps).mean(0).tolist(),
            "per_class": _per_class(maps, images, targets, data),
        }
    if data.kind == "sequence":  # (n, T, F): one value per time step, features summed
        per_step = attr.reshape(n, attr.shape[1], -1)
        # How much a step matters is the size of its features' attributions together: summed
        # signed, a value and a marker pushing opposite ways would cancel out at a step that counts.
        size = np.abs(per_step).sum(-1)
        return {
            "per_sample": per_step.sum(-1).tolist(),  # the net push of each step
            "per_sample_abs": size.tolist(),
            "per_feature": np.abs(per_step).mean(0).T.tolist(),  # (F, T): which channel, when
            "inputs": x.reshape(n, x.shape[1], -1).tolist(),
            "importance": size.mean(0).tolist(),
            "features": _names(data, per_step.shape[-1]),
        }
    flat = attr.reshape(n, -1)
    return {
        "per_sample": flat.tolist(),
        "inputs": x.reshape(n, -1).tolist(),
        "importance": np.abs(flat).mean(0).tolist(),
        "features": _names(data, flat.shape[1]),
    }


def _names(data, k: int) -> list[str]:
    names = list(data.feature_names)
    return names if len(names) == k else [f"x{i + 1}" for i in range(k)]


def _per_class(maps: np.ndarray, images: np.ndarray, targets: list[int], data) -> list[dict[str, Any]]:
    """The maps and images averaged over the samples explained for each class, classes in order."""
    groups: dict[int, list[int]] = {}
    for i, t in enumerate(targets):
        groups.setdefault(int(t), []).append(i)
    names = list(data.class_names)
    return [
        {
            "class": c,
            "name": names[c] if c < len(names) else str(c),
            "count": len(rows),
            "map": maps[rows].mean(0).tolist(),
            "image": images[rows].mean(0).tolist(),
        }
        for c, rows in sorted(groups.items())
    ]


def _per_unit(c: np.ndarray) -> np.ndarray:
    """(n, units): a dense unit as it is, a conv channel summed over the image, a hidden unit over time."""
    if c.ndim == 4:  # (n, C, H, W)
        return c.sum((2, 3))
    if c.ndim == 3:  # (n, T, H): batch-first recurrent outputs
        return c.sum(1)
    return c.reshape(len(c), -1)


def _conductance(model, forward, x, tgt, steps: int, layer: str | None, report: Progress) -> dict[str, Any]:
    """Mean |conductance| per unit of each activation layer, input to output; per unit of ``layer``."""
    layers = model.explain_layers()
    if not layers:
        raise RecipeError(f"--method layer_conductance: {model.label} exposes no activation layers to attribute to")
    names = [name for name, _m, _f in layers]
    if layer is not None and layer not in names:
        raise RecipeError(f"--layer: {layer!r} is not one of this model's activation layers ({', '.join(names)})")
    n, rows, units = len(x), [], None
    for k, (name, module, _family) in enumerate(layers):
        report(k, len(layers), f"conductance of {name} ({k + 1} of {len(layers)} layers)")
        explainer = _method("layer_conductance", forward, module)
        chunks = []
        k = chunk_size("layer_conductance", steps)
        for i in range(0, n, k):
            c = explainer.attribute(x[i : i + k], target=tgt[i : i + k], n_steps=steps)
            chunks.append((c[0] if isinstance(c, tuple) else c).detach().cpu().numpy())
        c = np.concatenate(chunks)
        flat, per_unit = c.reshape(n, -1), _per_unit(c)
        rows.append(
            {
                "layer": name,
                "units": int(per_unit.shape[1]),
                "mean_abs": float(np.abs(flat).mean()),
                "total": float(np.abs(flat).sum(1).mean()),
            }
        )
        if name == layer:
            units = {"layer": name, "mean": per_unit.mean(0).tolist(), "mean_abs": np.abs(per_unit).mean(0).tolist()}
    report(len(layers), len(layers), "done")
    return {"layers": rows, "neurons": units}
