"""Grid against random search at the same budget (recipes/tuning-grid-vs-random.yaml), at seeds 0, 1 and 2.

One of two settings matters (the learning rate); a 3 x 3 grid tries three of its
values, nine random trials try nine. The claim is about how often, so the test
runs every seed first and then counts.
"""

import pytest

from engine.tuning import experiments
from tests.lessons.conftest import SEEDS

RECIPE = "tuning-grid-vs-random"


@pytest.fixture(scope="module")
def arms(one_thread) -> dict[int, dict[str, experiments.results.SweepResult]]:
    return {seed: {s: experiments.run_arm(RECIPE, seed, sampler=s) for s in ("grid", "random")} for seed in SEEDS}


def test_the_grid_spends_nine_trials_on_three_learning_rates_and_random_search_on_nine(arms):
    for seed, by in arms.items():
        grid, rand = by["grid"].trials, by["random"].trials
        assert len(grid) == len(rand) == 9, seed
        assert sorted(set(grid["train.lr"].round(8))) == [1e-4, 1e-2, 1.0]
        assert grid["train.weight_decay"].nunique() == 3  # the other three: the setting that does not matter
        assert rand["train.lr"].nunique() == 9


def test_random_search_finds_the_better_best_at_most_seeds_and_on_average(arms):
    grid = {seed: experiments.best_value(by["grid"]) for seed, by in arms.items()}
    rand = {seed: experiments.best_value(by["random"]) for seed, by in arms.items()}
    print(f"\nbest val accuracy by seed: grid {grid}, random {rand}")
    wins = sum(rand[s] > grid[s] for s in SEEDS)
    assert wins >= 2, (grid, rand)
    assert sum(rand.values()) / len(SEEDS) > sum(grid.values()) / len(SEEDS) + 0.05
    assert max(grid.values()) < 0.8  # none of the grid's three rates trains this net well in 150 steps
