"""Dataset registry: ``prepare(spec, seed)`` turns a recipe's ``data`` section into arrays.

One torch-free module per dataset lives next to this file (``moons.py`` is
the dataset ``moons``); see :mod:`engine.datasets.base` for what a module
defines. This package only does what every dataset shares: a seeded,
stratified train/val split, ``train_limit``, and standardisation fit on the
training part alone, so that nothing about the validation rows leaks into
training.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.config.errors import DataError, RecipeError, format_errors
from engine.config.names import DATASETS
from engine.datasets import _folds as folds
from engine.datasets.base import Dataset, Raw

__all__ = ["Dataset", "Raw", "check_params", "describe", "kind", "prepare"]

# Below this a std is treated as zero: a constant column stays constant
# (centred at 0) instead of being blown up by a division by ~0.
_EPS = 1e-8


def prepare(spec: Any, seed: int) -> Dataset:
    """Load, split, limit and standardise the dataset a ``DataSpec`` names.

    ``spec`` is an :class:`engine.config.recipe.DataSpec` (anything with ``name``,
    ``val_fraction``, ``train_limit`` and ``params`` works). The same
    ``seed`` always gives identical arrays. Raises :class:`DataError` for
    data that cannot be used.
    """
    module = DATASETS.module(spec.name)
    params = check_params(spec.name, dict(spec.params or {}))
    seed = seed if getattr(spec, "seed", None) is None else int(spec.seed)  # data.seed: one split for many seeds
    raw = module.load(params, seed)
    _check_raw(raw, spec.name)
    n = len(raw.y)

    strat = _stratify_labels(raw)
    fold = getattr(spec, "fold", None)
    if fold is not None:  # a cross-validation fold is the validation set; val_fraction is unused
        train_idx, val_idx = folds.split(np.arange(n), strat, fold, seed, spec.name)
    else:
        train_idx, val_idx = _split(np.arange(n), strat, spec.val_fraction, seed, spec.name)
    if spec.train_limit is not None and spec.train_limit < len(train_idx):
        train_idx = _limit(train_idx, strat, spec.train_limit, seed)
    bootstrap = getattr(spec, "bootstrap", None)
    if bootstrap is not None:  # a bagging member: as many rows, drawn with replacement
        rng = np.random.default_rng([seed, int(bootstrap)])
        train_idx = train_idx[rng.integers(0, len(train_idx), len(train_idx))]

    x_train, x_val, x_stats = _standardize(raw.x[train_idx], raw.x[val_idx], raw.standardize, raw.kind)
    y_train, y_val = raw.y[train_idx], raw.y[val_idx]
    extras: dict[str, Any] = {"name": spec.name, "params": params, "seed": seed, "n_total": n, "x_scale": x_stats}

    if raw.task == "classification":
        y_train, y_val = y_train.astype(np.int64), y_val.astype(np.int64)
        n_classes = int(raw.n_classes) if raw.n_classes is not None else int(raw.y.max()) + 1
        target_len = int(raw.y.shape[1]) if raw.y.ndim == 2 else 1
        out_dim = 1
    else:
        y_train = y_train.astype(np.float32).reshape(len(y_train), -1)
        y_val = y_val.astype(np.float32).reshape(len(y_val), -1)
        # Targets in the hundreds make the first MSE steps explode for reasons
        # no remedy in the recipe can fix, so scale them like the inputs.
        if raw.standardize != "none":
            y_mean, y_std = y_train.mean(axis=0), _safe_std(y_train.std(axis=0))
            y_train, y_val = (y_train - y_mean) / y_std, (y_val - y_mean) / y_std
            extras["y_scale"] = {"mean": y_mean.tolist(), "std": y_std.tolist()}
        n_classes, target_len, out_dim = None, 1, int(y_train.shape[1])

    x_train, x_val = np.ascontiguousarray(x_train, dtype=np.float32), np.ascontiguousarray(x_val, dtype=np.float32)
    y_train, y_val = np.ascontiguousarray(y_train), np.ascontiguousarray(y_val)
    _check_finite({"x_train": x_train, "y_train": y_train, "x_val": x_val, "y_val": y_val}, spec.name)
    return Dataset(
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        task=raw.task,
        kind=raw.kind,
        input_shape=tuple(int(s) for s in raw.x.shape[1:]),
        n_classes=n_classes,
        target_len=target_len,
        out_dim=out_dim,
        feature_names=tuple(raw.feature_names),
        class_names=tuple(raw.class_names),
        description=raw.description,
        extras=extras,
    )


def describe(name: str) -> str:
    """One line about a dataset: its docstring, kind and default params."""
    module = DATASETS.module(name)
    doc = (module.__doc__ or "").strip().split("\n")[0]
    text = f"{name} ({kind(name)}): {doc}"
    schema = getattr(module, "Params", None)
    if schema is not None:
        fields = []
        for key, field in schema.model_fields.items():
            fields.append(f"{key} (required)" if field.is_required() else f"{key}={field.default!r}")
        text += " Params: " + ", ".join(fields) + "."
    return text


# --- steps -------------------------------------------------------------------


def kind(name: str) -> str:
    """The dataset's kind, "tabular", "image", "sequence" or "video", as its module declares it (``KIND``)."""
    return str(DATASETS.module(name).KIND)


def check_params(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """``data.params`` validated against the dataset's ``Params``, with every default filled in.

    The one check of a dataset's params: the recipe calls it when it loads, and
    :func:`prepare` again (it is idempotent), so a bare spec works too. A
    refusal names each ``data.params.<key>`` at fault.
    """
    from pydantic import ValidationError

    schema = getattr(DATASETS.module(name), "Params", None)  # optional: a dataset may take no params
    if schema is None:
        if params:
            raise RecipeError(f"data.params: dataset {name!r} takes no params (got {sorted(params)})")
        return {}
    try:
        return schema.model_validate(params).model_dump()
    except ValidationError as exc:
        raise RecipeError(format_errors(exc, prefix="data.params", root=schema)) from None


def _check_raw(raw: Raw, name: str) -> None:
    if len(raw.x) != len(raw.y):
        raise DataError(f"dataset {name!r}: {len(raw.x)} inputs but {len(raw.y)} targets")
    if len(raw.y) < 2:
        raise DataError(f"dataset {name!r}: needs at least 2 samples to split, got {len(raw.y)}")


def _check_finite(arrays: dict[str, np.ndarray], name: str) -> None:
    """Refuse data that overflowed float32 here, where it happened, not as a "divergence" at step 1."""
    bad = [k for k, a in arrays.items() if a.dtype.kind == "f" and not np.isfinite(a).all()]
    if bad:
        raise DataError(
            f"dataset {name!r}: {', '.join(bad)} hold NaN or infinite values after standardising to float32 "
            f"(numbers too large or too spread out); rescale the data first"
        )


def _stratify_labels(raw: Raw) -> np.ndarray | None:
    """The labels to stratify on, or None for regression and per-position labels."""
    if raw.task != "classification" or raw.y.ndim != 1:
        return None
    return raw.y


def _can_stratify(labels: np.ndarray | None, n_first: int, n_second: int) -> bool:
    # sklearn needs >= 2 members per class and room for every class on both sides.
    if labels is None:
        return False
    _, counts = np.unique(labels, return_counts=True)
    return counts.min() >= 2 and min(n_first, n_second) >= len(counts)


def _split(idx: np.ndarray, strat: np.ndarray | None, val_fraction: float, seed: int, name: str):
    from sklearn.model_selection import train_test_split

    n_val = int(np.ceil(val_fraction * len(idx)))
    if n_val < 1 or n_val >= len(idx):
        raise DataError(
            f"dataset {name!r}: {len(idx)} samples with val_fraction {val_fraction} leaves an empty train or val set"
        )
    labels = strat[idx] if strat is not None else None
    stratify = labels if _can_stratify(labels, len(idx) - n_val, n_val) else None
    train_idx, val_idx = train_test_split(idx, test_size=n_val, random_state=seed, stratify=stratify)
    return train_idx, val_idx


def _limit(train_idx: np.ndarray, strat: np.ndarray | None, keep: int, seed: int) -> np.ndarray:
    from sklearn.model_selection import train_test_split

    labels = strat[train_idx] if strat is not None else None
    stratify = labels if _can_stratify(labels, keep, len(train_idx) - keep) else None
    kept, _ = train_test_split(train_idx, train_size=keep, random_state=seed, stratify=stratify)
    return kept


def _feature_axes(x: np.ndarray, kind: str) -> tuple[int, ...]:
    """Axes averaged over for per-feature stats: all but the feature/channel axis.

    Tabular (n, d) and sequence (n, T, C) keep the last axis, so a sequence
    channel gets one mean for every time step (the same RNN weights read each
    step). Images (n, C, H, W) keep the channel axis, and so does video
    (n, T, C, H, W): one mean per channel over every frame.
    """
    keep = 1 if kind == "image" and x.ndim == 4 else 2 if kind == "video" and x.ndim == 5 else x.ndim - 1
    return tuple(a for a in range(x.ndim) if a != keep)


def _safe_std(std: np.ndarray) -> np.ndarray:
    return np.where(std < _EPS, 1.0, std)


def _standardize(x_train: np.ndarray, x_val: np.ndarray, how: str, kind: str):
    """Scale both parts with statistics of the training part only."""
    x_train = x_train.astype(np.float64, copy=False)
    x_val = x_val.astype(np.float64, copy=False)
    if how == "none":
        return x_train, x_val, {"how": "none"}
    if how == "global":
        mean = np.asarray(x_train.mean())
        std = _safe_std(np.asarray(x_train.std()))
    elif how == "feature":
        axes = _feature_axes(x_train, kind)
        mean = x_train.mean(axis=axes, keepdims=True)
        std = _safe_std(x_train.std(axis=axes, keepdims=True))
    else:
        raise ValueError(f"unknown standardize mode {how!r}")
    stats = {"how": how, "mean": np.squeeze(mean).tolist(), "std": np.squeeze(std).tolist()}
    return (x_train - mean) / std, (x_val - mean) / std, stats
