"""Remedies are offered on evidence: the fault-injection benchmark's table, read from one file."""

import sys
from pathlib import Path

from engine.config.names import CODES
from engine.config.recipe import load_recipe
from engine.diagnosis import evidence, remedies
from engine.diagnosis.diagnose import rule_class

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from diagnosis import suite  # noqa: E402


def test_a_remedy_is_offered_only_where_it_was_seen_to_work_most_often_first(monkeypatch):
    measured = {
        "residual": {"fixed": 2, "tried": 6},
        "batch_norm": {"fixed": 6, "tried": 6},
        "adam": {"fixed": 0, "tried": 6},  # tried, never worked: not offered
    }  # he_relu: never tried for this finding, so not offered either
    monkeypatch.setattr(evidence, "table", lambda: {"codes": {"vanishing_gradients": measured}})
    recipe = load_recipe("vanishing-sigmoid").to_dict()
    offered = remedies.ranked(["he_relu", "residual", "batch_norm", "adam"], recipe, code="vanishing_gradients")
    assert [(r.name, r.evidence) for r in offered] == [
        ("batch_norm", "fixed it in 6 of 6 benchmark runs with this finding"),
        ("residual", "fixed it in 2 of 6 benchmark runs with this finding"),
    ]
    # Asked for every candidate (the benchmark itself does this), nothing is filtered.
    assert [r.name for r in remedies.ranked(["he_relu", "adam"], recipe)] == ["he_relu", "adam"]


def test_similar_runs_are_those_with_the_same_findings_where_the_benchmark_has_them(monkeypatch):
    # A higher learning rate cured underfitting when the step was too small, never when gradients vanished.
    higher_lr = {
        "fixed": 6,
        "tried": 18,
        "with": {"loss_plateau+underfitting": [6, 6], "loss_plateau+underfitting+vanishing_gradients": [0, 12]},
    }
    monkeypatch.setattr(evidence, "table", lambda: {"codes": {"underfitting": {"higher_lr": higher_lr}}})
    recipe = load_recipe("vanishing-sigmoid").to_dict()

    def offered(syndrome):
        return [
            (r.name, r.evidence) for r in remedies.ranked(["higher_lr"], recipe, code="underfitting", syndrome=syndrome)
        ]

    assert offered("loss_plateau+underfitting") == [
        ("higher_lr", "fixed it in 6 of 6 benchmark runs with the same findings")
    ]
    assert offered("loss_plateau+underfitting+vanishing_gradients") == []
    assert offered("underfitting") == [
        ("higher_lr", "fixed it in 6 of 18 benchmark runs with this finding")
    ]  # no such runs


def test_the_committed_table_comes_from_the_current_suite():
    table = evidence.table()
    assert table, f"{evidence.PATH.name} is missing: run python benchmarks/remedy_evidence.py"
    cases = {c.name for c in suite()}
    for code, per in table["codes"].items():
        assert code in CODES
        for name, e in per.items():
            assert name in rule_class(code).remedies, (code, name)  # the rule still offers it
            assert 0 <= e["fixed"] <= e["tried"] == sum(n for _, n in e["cases"].values())
            assert e["tried"] == sum(n for _, n in e["with"].values())
            assert all(code in syndrome.split("+") for syndrome in e["with"])
            assert set(e["cases"]) <= cases, (code, name, set(e["cases"]) - cases)  # no stale case names


def test_every_injected_fault_has_a_remedy_that_removed_it_at_two_seeds_of_three_or_more():
    table = evidence.table()["codes"]
    for case in suite():
        for code in case.truth:
            per_case = [e["cases"].get(case.name, [0, 0]) for e in table.get(code, {}).values()]
            assert any(tried and fixed / tried >= 2 / 3 for fixed, tried in per_case), (case.name, code, per_case)


def test_every_remedy_offered_on_any_shipped_recipe_gives_a_recipe_that_loads():
    import json

    from engine.config.recipe import list_recipe_names

    for name in list_recipe_names():
        recipe = load_recipe(name)
        for r in remedies.ranked(remedies.names(), recipe.to_dict()):  # every candidate, measured or not
            sets = [f"{k}={json.dumps(v)}" for k, v in r.set.items()]
            load_recipe(name, sets)  # refused (RecipeError) if, say, leaky ReLU were offered to an nn.RNN
