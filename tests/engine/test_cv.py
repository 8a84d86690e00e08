"""k-fold cross-validation: the folds (scikit-learn's, seeded), the group of fold runs, its summary, the CLI.

The lesson that CV is worth it lives in tests/lessons/test_cv_one_split.py; here, that the
folds are what they claim to be and that bad splits are refused before anything is queued.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine import cli, datasets
from engine.config.errors import DataError, RecipeError
from engine.config.folds import FoldSpec
from engine.config.recipe import load_recipe
from engine.control import cv
from engine.store import Store

TINY = ["train.steps=30", "train.eval_every=15"]


def folds_of(recipe_name: str, k: int, stratified: bool = False, seed: int = 0, repeats: int = 1, sets=()):
    """The (train, val) data of every fold of a recipe's data."""
    out = []
    for spec in cv.fold_specs(k, stratified, repeats):
        r = load_recipe(recipe_name, [*sets, f"seed={seed}"]).with_overrides({"data.fold": spec.model_dump()})
        out.append(datasets.prepare(r.data, r.seed))
    return out


def rows(a: np.ndarray) -> set[bytes]:
    return {x.tobytes() for x in a}


def test_the_validation_folds_partition_the_data_and_each_trains_on_the_rest():
    folds = folds_of("cv-one-split", 5)
    vals = [rows(d.x_val) for d in folds]
    assert sum(len(v) for v in vals) == 178  # every wine validated once ...
    assert len(set().union(*vals)) == 178  # ... and only once
    for d in folds:
        assert len(d.x_train) + len(d.x_val) == 178
    # Standardisation is fit on each fold's training part, so compare raw row counts, not values:
    assert [len(d.y_val) for d in folds] == [36, 36, 36, 35, 35]


def test_stratified_folds_keep_each_class_share():
    full = np.bincount(np.concatenate([d.y_val for d in folds_of("cv-one-split", 5, stratified=True)]))
    for d in folds_of("cv-one-split", 5, stratified=True):
        expected = full / 5
        assert np.all(np.abs(np.bincount(d.y_val, minlength=len(full)) - expected) <= 1)


def test_the_same_seed_gives_every_variant_the_same_folds_and_another_seed_other_folds():
    a = [d.y_val for d in folds_of("cv-one-split", 5)]
    b = [d.y_val for d in folds_of("cv-one-split", 5, sets=["train.lr=0.01"])]  # a variant: same folds
    c = [d.y_val for d in folds_of("cv-one-split", 5, seed=1)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_repeats_reshuffle_the_folds_and_train_limit_still_applies():
    first, second = folds_of("cv-one-split", 2, repeats=2)[0::2]  # fold 1 of repeat 1 and of repeat 2
    assert rows(first.x_val) != rows(second.x_val)
    small = folds_of("cv-one-split", 5, sets=["data.train_limit=40"])
    assert {len(d.y_train) for d in small} == {40} and sum(len(d.y_val) for d in small) == 178


def test_sequences_and_generated_data_are_folded_over_their_samples():
    sine = folds_of("exploding-rnn", 4)
    assert sum(len(d.x_val) for d in sine) == sine[0].extras["n_total"]
    spirals = folds_of("optimizers", 3, stratified=True)
    assert sum(len(d.y_val) for d in spirals) == spirals[0].extras["n_total"]


@pytest.mark.parametrize(
    "recipe, k, sets, said",
    [
        ("exploding-rnn", 3, [], "data.fold.stratified: dataset 'sine' has no class label"),
        ("optimizers", 20, ["data.params.n_samples=30"], "data.fold.stratified: the rarest class .* has 15 samples"),
    ],
)
def test_a_split_that_cannot_be_stratified_is_named(recipe, k, sets, said):
    with pytest.raises(DataError, match=said):
        folds_of(recipe, k, stratified=True, sets=sets)


def test_more_folds_than_samples_and_bad_counts_are_refused():
    from engine.datasets import _folds

    with pytest.raises(DataError, match="data.fold.folds: 10 folds need at least 10 samples; dataset 'tiny' has 6"):
        _folds.split(np.arange(6), None, FoldSpec(folds=10), seed=0, name="tiny")
    with pytest.raises(RecipeError, match="--folds"):
        cv.fold_specs(1)
    with pytest.raises(RecipeError, match="--repeats"):
        cv.fold_specs(5, repeats=11)
    with pytest.raises(ValueError, match="index 5 is not a fold of 5"):
        FoldSpec(folds=5, index=5)


def test_a_cv_group_summarises_folds_and_pairs_a_remedy_with_the_baseline(tmp_path, one_thread):
    store = Store(tmp_path)
    recipe = load_recipe("cv-one-split", TINY)
    group = cv.run_inline(store, recipe, cv.fold_specs(3), [("baseline", {}), ("fast", {"train.lr": 0.03})])
    s = cv.summarize(store, group)
    assert (s["metric"], s["folds"], s["baseline"], s["done"]) == ("val_accuracy", 3, "baseline", True)
    base, fast = s["variants"]
    assert [x["fold"] for x in fast["folds"]] == ["fold 1/3", "fold 2/3", "fold 3/3"]
    diffs = [f["value"] - b["value"] for f, b in zip(fast["folds"], base["folds"])]
    assert fast["paired_vs_baseline"]["mean"] == pytest.approx(np.mean(diffs))
    assert fast["paired_vs_baseline"]["ci"]["method"] == "paired t"
    assert base["paired_vs_baseline"] is None
    assert base["ci"]["low"] <= base["mean"] <= base["ci"]["high"]
    names = store.list_runs(group=group)["name"].tolist()
    assert sorted(names)[:3] == ["baseline #fold 1/3", "baseline #fold 2/3", "baseline #fold 3/3"]
    assert cv.is_cv_group(store, store.list_runs(group=group)["id"].tolist())


def test_the_cli_refuses_a_bad_split_before_queuing_anything(tmp_path, capsys):
    home = tmp_path / "home"
    assert cli.main(["--home", str(home), "cv", "exploding-rnn", "--folds", "3", "--stratified"]) == 2
    err = capsys.readouterr().err
    assert "data.fold.stratified" in err and "Traceback" not in err
    assert cli.main(["--home", str(home), "cv", "cv-one-split", "--folds", "50"]) == 2
    assert "--folds" in capsys.readouterr().err
    argv = ["--home", str(home), "compare", "cv-one-split", "--cv", "3", "--vary", "train.lr=0.01,0.1", "--seeds", "2"]
    assert cli.main(argv) == 2
    assert "--seeds" in capsys.readouterr().err
    assert not (home / "runs.db").exists() or Store(home).list_runs().empty


def test_cv_from_the_cli_trains_each_fold_in_a_worker_and_prints_json(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("GRADCLINIC_MAX_RUNS", "2")
    argv = ["--home", str(home), "cv", "cv-one-split", "--folds", "3", "--stratified", "--json"]
    assert cli.main(argv + [x for s in TINY for x in ("--set", s)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["folds"] == 3 and out["stratified"] is True and out["done"] is True
    (v,) = out["variants"]
    assert v["n"] == 3 and {x["status"] for x in v["folds"]} == {"completed"}
    assert v["min"] <= v["mean"] <= v["max"]


def test_compare_cv_reports_each_remedys_paired_change_against_fold_noise(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("GRADCLINIC_MAX_RUNS", "2")
    argv = ["--home", str(home), "compare", "cv-one-split", "--cv", "3", "--vary", "train.lr=0.0003,0.03"]
    assert cli.main(argv + [x for s in TINY for x in ("--set", s)]) == 0
    out = capsys.readouterr().out
    assert "3-fold" in out and out.count("paired change vs baseline") == 2  # both lrs, on the baseline's folds
    assert "fold noise" in out
