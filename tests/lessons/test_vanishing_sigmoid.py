"""Lesson 1: deep sigmoid MLP, vanishing gradients; which remedies restore the flow."""

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def res(lesson):
    return lesson("vanishing-sigmoid")


def test_the_baseline_starves_its_first_layers(res):
    base = res.baseline
    assert {"vanishing_gradients", "underfitting"} <= set(base.findings)
    assert base.first_to_last < 1e-12
    assert base.final < 0.15  # chance is 0.10


@pytest.mark.parametrize("label", ["He init + ReLU", "Residual", "Batch norm"])
def test_these_remedies_restore_gradient_flow_and_learning(res, label):
    v = res[label]
    assert v.first_to_last > 1e-2, v.first_to_last  # from ~1e-17 to within two orders of the head
    assert v.final > 0.9 and v.final > res.baseline.final + 0.7
    assert "vanishing_gradients" not in v.findings and "underfitting" not in v.findings


@pytest.mark.parametrize("label", ["Xavier init", "Adam", "RMSprop"])
def test_these_do_not_fix_it_within_the_run_as_the_lesson_says(res, label):
    v = res[label]
    assert v.first_to_last < 1e-6
    assert v.final < 0.2
    assert "vanishing_gradients" in v.findings


def test_xavier_lifts_the_ratio_but_not_enough(res):
    assert res["Xavier init"].first_to_last > 100 * res.baseline.first_to_last


def test_every_remedy_the_diagnosis_offers_is_one_this_lesson_shows_working(res):
    """The clinic offers a remedy only on evidence; here each one offered is also a variant that fixes it."""
    label_of = {tuple(sorted(v.set.items())): v.label for v in res.recipe.compare}
    offered = [(code, r) for code, f in res.baseline.findings.items() if f["severity"] != "info" for r in f["remedies"]]
    assert {r["name"] for _, r in offered} >= {"he_relu", "residual", "batch_norm"}
    assert "adam" not in {r["name"] for _, r in offered}  # measured never to help, as the Adam variant shows
    for code, r in offered:
        assert r["evidence"].startswith("fixed it in"), (code, r)
        label = label_of[tuple(sorted(r["set"].items()))]  # the lesson trains exactly this remedy...
        assert code not in res[label].findings, (code, label)  # ...and it removes the finding


def test_layer_conductance_finds_nothing_flowing_through_the_starved_net(res):
    """Conductance: how much of the output each layer passes on. At chance, the sigmoid stack passes on
    nothing from its input (about zero at every layer); after He+ReLU the first layers carry it."""
    from engine.training.explain import explain

    def first_layers(label: str) -> float:
        r = explain(res.store, res[label].run_id, "layer_conductance", samples=32, steps=20)
        return max(layer["total"] for layer in r["layers"][:3])

    starved, healthy = first_layers("baseline"), first_layers("He init + ReLU")
    assert healthy > 1.0, healthy  # several logits' worth of the predicted class's score
    assert starved < 1e-3 * healthy, (starved, healthy)
