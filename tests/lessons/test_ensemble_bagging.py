"""Bagging a high-variance net (recipes/ensemble-bagging.yaml), at seeds 0, 1 and 2.

A 384-wide MLP overfits 300 noisy spiral points; the data and its validation rows are the same
at every seed (``data.seed``), so what changes with the seed is only the net (its init and
batch order). The claims: at every seed the bagged ensemble of eight ends above one net
trained on all the points, and over the seeds its accuracy moves less than one net's does.
"""

import statistics

import pytest

from engine.config.recipe import load_recipe
from engine.store import Store
from engine.training.ensemble import against_one_net
from tests.lessons.conftest import SEEDS

RECIPE = "ensemble-bagging"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, one_thread) -> dict[int, dict]:
    store = Store(tmp_path_factory.mktemp("bag"))
    out = {}
    for seed in SEEDS:
        summary, one_net = against_one_net(store, load_recipe(RECIPE, [f"seed={seed}"]))
        out[seed] = {"summary": summary, "one": one_net}
    for s, v in out.items():
        print(f"seed {s}: one net {v['one']:.3f}, bagged {v['summary']['final']:.3f}")
    return out


def test_every_member_trained_and_the_ensemble_was_scored_after_each(runs):
    for seed, r in runs.items():
        s = r["summary"]
        assert s["trained"] == s["members"] == 8 and s["done"], seed
        assert [c["members"] for c in s["curve"]] == list(range(1, 9)), seed
        assert all(c["value"] is not None and c["member_value"] is not None for c in s["curve"]), seed


def test_the_bagged_ensemble_beats_one_net_at_every_seed(runs):
    for seed, r in runs.items():
        assert r["summary"]["final"] > r["one"], (seed, r["summary"]["final"], r["one"])


def test_the_ensemble_as_a_whole_finds_nothing_wrong(runs):
    for seed, r in runs.items():
        assert r["summary"]["diagnosis"] == [], seed  # beyond its average member, every member voted
        assert r["summary"]["gain_over_mean_member"] > 0.01, seed


def test_the_ensemble_moves_less_from_seed_to_seed_than_one_net(runs):
    ones = [r["one"] for r in runs.values()]
    bagged = [r["summary"]["final"] for r in runs.values()]
    assert statistics.stdev(bagged) < statistics.stdev(ones), (bagged, ones)
