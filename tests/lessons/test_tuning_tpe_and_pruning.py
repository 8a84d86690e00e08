"""TPE against random search, and pruning (recipes/tuning-tpe-vs-random.yaml, tuning-pruning.yaml).

Both lessons search the same four settings of a digits MLP, so the random
search run to the end of every trial is the baseline of both: random search
draws the same trials at a seed whatever the pruner does. Each claim is about
seeds 0, 1 and 2 together, or holds at each of them.
"""

import pytest

from engine.tuning import experiments
from tests.lessons.conftest import SEEDS

TARGET = 0.95  # the validation accuracy "trials to reach" counts to
BUDGET = 24


@pytest.fixture(scope="module")
def arms(one_thread) -> dict[int, dict[str, experiments.results.SweepResult]]:
    out = {}
    for seed in SEEDS:
        out[seed] = {
            "tpe": experiments.run_arm("tuning-tpe-vs-random", seed, until=TARGET),
            "random": experiments.run_arm("tuning-tpe-vs-random", seed, sampler="random"),
            "pruned": experiments.run_arm("tuning-pruning", seed),
        }
    return out


def test_tpe_reaches_95_percent_in_fewer_trials_than_random_search_on_average(arms):
    def needed(result) -> int:  # a search that never got there is counted as needing one trial more than its budget
        return experiments.trials_to_reach(result, TARGET) or BUDGET + 1

    tpe = {seed: needed(by["tpe"]) for seed, by in arms.items()}
    rand = {seed: needed(by["random"]) for seed, by in arms.items()}
    print(f"\ntrials to reach {TARGET:.0%}: tpe {tpe}, random {rand}")
    assert all(n <= BUDGET for n in tpe.values()), tpe  # TPE got there at every seed
    assert sum(tpe.values()) < sum(rand.values()), (tpe, rand)
    assert all(tpe[s] <= rand[s] for s in SEEDS), (tpe, rand)


def test_both_lessons_search_the_same_space_and_random_search_repeats_its_draws(arms):
    for by in arms.values():
        pruned, full = by["pruned"].trials, by["random"].trials
        assert list(pruned["train.lr"]) == list(full["train.lr"])  # the same 24 trials: only the pruner differs
        assert list(pruned["model.depth"]) == list(full["model.depth"])


def test_the_median_pruner_saves_a_quarter_of_the_steps_and_keeps_the_best_result(arms):
    for seed, by in arms.items():
        full, pruned = experiments.steps_trained(by["random"]), experiments.steps_trained(by["pruned"])
        saved = 1 - pruned / full
        best_full, best_pruned = experiments.best_value(by["random"]), experiments.best_value(by["pruned"])
        print(f"\nseed {seed}: pruning saved {saved:.0%} of {full} steps; best {best_pruned:.3f} vs {best_full:.3f}")
        assert full == BUDGET * 150  # every unpruned trial ran its 150 steps
        assert saved >= 0.25, (seed, saved)
        assert by["pruned"].counts().get("pruned", 0) >= 6
        assert best_pruned >= best_full - 0.015, (seed, best_pruned, best_full)
