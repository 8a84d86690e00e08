"""Cross-validation folds over a dataset's samples (``data.fold``), from scikit-learn's splitters.

``KFold`` and ``StratifiedKFold`` for one k-fold split, ``RepeatedKFold`` and
``RepeatedStratifiedKFold`` when it is repeated, all shuffled by the recipe's seed: the same
seed gives the same folds to every variant, which is what paired differences need. Generated
datasets (spirals, sine, adding) are folded over their samples like any other. A split that
cannot be made gets one message naming ``data.fold``.
"""

from __future__ import annotations

import numpy as np

from engine.config.errors import DataError
from engine.config.folds import FoldSpec


def split(
    idx: np.ndarray, labels: np.ndarray | None, fold: FoldSpec, seed: int, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices) of fold ``fold.index`` (repeat ``fold.repeat``) of ``idx``.

    ``labels`` are the class labels to stratify on, or None where there are none (regression,
    per-position labels); ``fold.stratified`` then refuses rather than silently not stratifying.
    """
    from sklearn.model_selection import KFold, RepeatedKFold, RepeatedStratifiedKFold, StratifiedKFold

    n, k = len(idx), fold.folds
    if n < k:
        raise DataError(f"data.fold.folds: {k} folds need at least {k} samples; dataset {name!r} has {n}")
    if fold.stratified:
        if labels is None:
            raise DataError(
                f"data.fold.stratified: dataset {name!r} has no class label per sample to stratify on "
                "(regression or per-position targets); use plain k-fold (drop --stratified)"
            )
        _, counts = np.unique(labels, return_counts=True)
        if counts.min() < k:
            raise DataError(
                f"data.fold.stratified: the rarest class of dataset {name!r} has {counts.min()} samples, "
                f"fewer than the {k} folds; use fewer folds or plain k-fold"
            )
    if fold.repeats == 1:
        splitter = (StratifiedKFold if fold.stratified else KFold)(n_splits=k, shuffle=True, random_state=seed)
    else:
        repeated = RepeatedStratifiedKFold if fold.stratified else RepeatedKFold
        splitter = repeated(n_splits=k, n_repeats=fold.repeats, random_state=seed)
    wanted = fold.repeat * k + fold.index
    y = labels if fold.stratified else np.zeros(n)
    for i, (train, val) in enumerate(splitter.split(np.zeros((n, 1)), y)):
        if i == wanted:
            return idx[train], idx[val]
    raise AssertionError("unreachable: FoldSpec keeps index < folds and repeat < repeats")
