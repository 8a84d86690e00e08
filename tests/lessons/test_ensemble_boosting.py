"""Boosting a weak learner (recipes/ensemble-boosting.yaml), at seeds 0, 1 and 2.

Ten three-unit MLPs, trained one after another by SAMME on re-weighted digits. The first
member trains on unweighted digits, so it is the weak learner alone at that seed; the claim is
that the boosted vote ends far above it, and above every member, at every seed.
"""

import pytest

from engine.config.recipe import load_recipe
from engine.store import Store
from engine.training.ensemble import against_one_net
from tests.lessons.conftest import SEEDS

RECIPE = "ensemble-boosting"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, one_thread) -> dict[int, dict]:
    store = Store(tmp_path_factory.mktemp("boost"))
    out = {}
    for seed in SEEDS:
        summary, one_net = against_one_net(store, load_recipe(RECIPE, [f"seed={seed}"]))
        out[seed] = {"summary": summary, "alone": one_net}
    for s, v in out.items():
        print(f"seed {s}: alone {v['alone']:.3f}, boosted {v['summary']['final']:.3f}")
    return out


def test_the_first_member_is_the_weak_learner_alone(runs):
    for seed, r in runs.items():
        assert r["summary"]["single"] == pytest.approx(r["alone"], abs=1e-6), seed  # all weights 1: the plain loss
        assert r["alone"] < 0.8, seed  # three hidden units cannot hold ten classes


def test_the_boosted_vote_ends_well_above_the_learner_alone_and_above_every_member(runs):
    for seed, r in runs.items():
        s = r["summary"]
        assert s["trained"] == s["members"] == 10 and s["stopped"] is None, seed
        assert s["final"] >= 0.8, seed
        assert s["final"] >= r["alone"] + 0.05, seed
        assert s["final"] > s["best_member"], seed


def test_each_member_has_a_vote_weight_from_its_weighted_error(runs):
    for seed, r in runs.items():
        for c in r["summary"]["curve"]:
            assert 0 < c["weighted_error"] < 0.9 and c["alpha"] > 0, (seed, c)  # better than chance (1 - 1/10)
