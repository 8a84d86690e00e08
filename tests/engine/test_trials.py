"""Try the top remedies: short trials on the run itself decide which remedies it is offered, and in what order."""

import pytest

from engine.config.errors import RecipeError
from engine.config.recipe import load_recipe
from engine.control import trials
from engine.diagnosis import evidence, remedies
from engine.store import Store

VANISHING = {
    "code": "vanishing_gradients",
    "severity": "critical",
    "first_step": 1,
    "message": "m",
    "remedies": [
        {"name": "he_relu", "set": {"model.init": "he_normal", "model.activation": "relu"}, "why": "w"},
        {"name": "adam", "set": {"train.optimizer": "adam"}, "why": "w"},
    ],
}
PLATEAU = {
    "code": "loss_plateau",
    "severity": "warning",
    "first_step": 5,
    "message": "m",
    "remedies": [
        {"name": "batch_norm", "set": {"model.norm": "batch"}, "why": "w"},
        {"name": "adam", "set": {"train.optimizer": "adam"}, "why": "w"},
    ],
}


def test_the_candidates_are_the_first_distinct_remedies_most_severe_finding_first():
    picked = trials.candidates([VANISHING, PLATEAU], top=3)
    assert [p["name"] for p in picked] == ["he_relu", "adam", "batch_norm"]
    assert next(p for p in picked if p["name"] == "adam")["for"] == ["vanishing_gradients", "loss_plateau"]
    assert [p["name"] for p in trials.candidates([VANISHING, PLATEAU], top=1)] == ["he_relu"]


def test_what_a_trial_measured_orders_the_remedies_and_drops_the_one_that_failed(monkeypatch):
    # The benchmark saw he_relu and batch_norm fix vanishing gradients, residual never tried, adam never work.
    suite = {
        "he_relu": {"fixed": 9, "tried": 9},
        "batch_norm": {"fixed": 5, "tried": 9},
        "adam": {"fixed": 0, "tried": 9},
    }
    monkeypatch.setattr(evidence, "table", lambda: {"codes": {"vanishing_gradients": suite}})
    recipe = load_recipe("vanishing-sigmoid").to_dict()
    measured = {
        "steps": 400,
        "trials": [
            {"remedy": "adam", "fixed": [], "still": ["vanishing_gradients"]},
            {"remedy": "residual", "fixed": ["vanishing_gradients"], "still": []},
        ],
    }
    ranked = remedies.ranked(["he_relu", "residual", "batch_norm", "adam"], recipe, measured, "vanishing_gradients")
    assert [r.name for r in ranked] == ["residual", "he_relu", "batch_norm"]  # adam measured not to help
    assert ranked[0].evidence == "removed it in a 400-step trial on this run"
    assert ranked[1].evidence == "fixed it in 9 of 9 benchmark runs with this finding"


def test_trials_are_ranked_by_the_findings_they_remove_then_by_the_metric(tmp_path):
    with Store(tmp_path) as store:
        recipe = load_recipe("vanishing-sigmoid").to_dict()
        source = store.create_run(recipe, status="completed")
        store.add_findings(source, [VANISHING, PLATEAU])
        group = "t"
        runs = {
            label: store.create_run(recipe, name=label, group=group, status="completed")
            for label in ("baseline", "try he_relu", "try adam")
        }
        for label, acc, codes in (
            ("baseline", 0.10, ["vanishing_gradients", "loss_plateau"]),
            ("try he_relu", 0.93, []),
            ("try adam", 0.11, ["vanishing_gradients"]),
        ):
            store.flush(runs[label], scalars=[(100, "val_accuracy", acc)])
            store.add_findings(runs[label], [{**VANISHING, "code": c} for c in codes])
        ranking = trials.rank(store, group, source)
    assert ranking["done"] and ranking["shown_by_baseline"] == ["loss_plateau", "vanishing_gradients"]
    best, worst = ranking["trials"]
    assert best["remedy"] == "he_relu" and best["fixed"] == ["loss_plateau", "vanishing_gradients"]
    assert best["delta"] == pytest.approx(0.83)
    assert worst["remedy"] == "adam" and worst["still"] == ["vanishing_gradients"]
    lines = trials.describe(ranking, 400)
    assert lines[0] == "1. he_relu (completed): fixed loss_plateau, vanishing_gradients; +83.0 points"


def test_a_run_without_remedies_or_a_silly_count_is_refused(tmp_path):
    with Store(tmp_path) as store:
        run = store.create_run(load_recipe("healthy-mlp").to_dict(), status="completed")
        with pytest.raises(RecipeError, match="no finding with a remedy"):
            trials.launch(store, run)
        with pytest.raises(RecipeError, match="--top"):
            trials.launch(store, run, top=0)
