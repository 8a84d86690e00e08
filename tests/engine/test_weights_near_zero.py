"""The weights_near_zero probe: one file, found, scheduled and stored like any other probe."""

from types import SimpleNamespace

import pytest
import torch

from engine.config.recipe import load_recipe
from engine.store import Store
from engine.training import session
from engine.training.probing.manager import ProbeManager, load_probes, probe_class

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def test_it_is_a_whole_model_probe_measured_at_each_evaluation():
    cls = probe_class("weights_near_zero")
    assert (cls.event.value, cls.scope) == ("after_eval", "model")


def test_it_matches_a_brute_force_count_on_a_small_model():
    recipe = load_recipe(None, ["model.depth=2", "model.width=8", "train.l1=1e-4"])
    prepared = session.prepare(recipe)
    model = prepared.model
    weights = [p for _, p in model.param_layers()]
    with torch.no_grad():
        weights[0][:, :3] = 0.0  # some exact zeros, and some just under the threshold
        weights[1][0, 0] = 5e-4
    manager = ProbeManager(model, probes=load_probes(["weights_near_zero"]))
    manager.after_eval(SimpleNamespace(step=50))
    expected = sum(int((w.abs() < 1e-3).sum()) for w in weights) / sum(w.numel() for w in weights)
    [(step, name, value)] = manager.drain_scalars()
    assert (step, name) == (50, "weights_near_zero") and value == pytest.approx(expected)
    assert manager.drain() == {}  # a scalar, not a per-layer statistic


@pytest.mark.parametrize(
    "sets,wanted",
    [
        ([], False),
        (["train.l1=1e-4"], True),
        (["train.weight_decay=1e-3"], True),
        (["compare=[{label: L1, set: {train.l1: 0.001}}]"], True),  # the baseline of a regulariser lesson
    ],
)
def test_only_runs_that_regularise_or_compare_a_regulariser_record_it(sets, wanted):
    recipe = load_recipe(None, sets)
    assert ("weights_near_zero" in {p.name for p in load_probes(recipe=recipe)}) is wanted


def test_an_l1_run_stores_it_at_every_evaluation(tmp_path):
    recipe = load_recipe(
        None, ["model.depth=2", "model.width=16", "train.steps=40", "train.eval_every=20", "train.l1=1e-3"]
    )
    store = Store(tmp_path)
    run_id = store.create_run(recipe.to_dict(), total_steps=recipe.train.steps)
    session.train(store, run_id, session.prepare(recipe))
    series = store.scalars_wide(run_id)["weights_near_zero"].dropna()
    assert series.index.tolist() == [20, 40] and ((series >= 0) & (series <= 1)).all()
