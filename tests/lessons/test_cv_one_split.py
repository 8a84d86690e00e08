"""One validation split against 5-fold cross-validation (recipes/cv-one-split.yaml), at seeds 0, 1 and 2.

Each seed shuffles the rows into five stratified folds and trains one run per fold. A fold's
accuracy is what a single 20% split would have reported; the five folds' mean is the CV
estimate. The claims: a single split swings by several points at every seed, while the CV
mean barely moves from one shuffle to the next, and each seed's interval covers the others.
"""

import statistics

import pytest

from engine.config.recipe import load_recipe
from engine.control import cv
from engine.store import Store
from tests.lessons.conftest import SEEDS

RECIPE = "cv-one-split"
ONE_WINE = 1 / 36  # a fold of the wine data holds 35 or 36 rows: one row is almost 3 points


@pytest.fixture(scope="module")
def by_seed(tmp_path_factory, one_thread) -> dict[int, dict]:
    store = Store(tmp_path_factory.mktemp("cv"))
    out = {}
    for seed in SEEDS:
        recipe = load_recipe(RECIPE, [f"seed={seed}"])
        group = cv.run_inline(store, recipe, cv.fold_specs(5, stratified=True))
        out[seed] = cv.summarize(store, group)["variants"][0]
    print("\n" + "\n".join(f"seed {s}: folds {[round(x['value'], 3) for x in v['folds']]}" for s, v in out.items()))
    return out


def test_every_fold_validates_a_different_fifth_and_every_run_completes(by_seed):
    for seed, v in by_seed.items():
        assert [x["fold"] for x in v["folds"]] == [f"fold {i}/5" for i in range(1, 6)], seed
        assert {x["status"] for x in v["folds"]} == {"completed"}, seed
        assert v["n"] == 5


def test_a_single_split_swings_by_several_points_at_every_seed(by_seed):
    for seed, v in by_seed.items():
        values = [x["value"] for x in v["folds"]]
        assert max(values) - min(values) >= 2 * ONE_WINE - 1e-6, (seed, values)  # at least two wines apart


def test_the_five_fold_mean_moves_far_less_than_a_single_split(by_seed):
    singles = [x["value"] for v in by_seed.values() for x in v["folds"]]
    means = [v["mean"] for v in by_seed.values()]
    assert statistics.stdev(singles) >= 2 * statistics.stdev(means), (singles, means)
    assert max(means) - min(means) < (max(singles) - min(singles)) / 2


def test_each_seeds_interval_covers_the_other_seeds_estimates(by_seed):
    for seed, v in by_seed.items():
        ci = v["ci"]
        assert ci["level"] == 0.95 and ci["low"] < v["mean"] < ci["high"]
        for other, w in by_seed.items():
            assert ci["low"] <= w["mean"] <= ci["high"], (seed, ci, other, w["mean"])
