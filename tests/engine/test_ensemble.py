"""Ensembles: bootstrap samples, one shared split, the weighted loss, SAMME's weights, the command.

The lessons that bagging and boosting help live in tests/lessons/test_ensemble_*.py; here, that
each piece does what it says and that what cannot be ensembled is refused by name.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine import cli, datasets
from engine.config.ensemble import EnsembleSpec
from engine.config.errors import RecipeError
from engine.config.recipe import load_recipe
from engine.control import ensemble
from engine.store import Store
from engine.training.trainer import loss_fn, weighted_loss_fn

TINY = ["train.steps=30", "train.eval_every=15"]


def prepared(recipe):
    return datasets.prepare(recipe.data, recipe.seed)


def test_members_share_one_split_and_bagging_members_each_draw_a_bootstrap_sample():
    base = load_recipe("ensemble-bagging", TINY)
    spec = EnsembleSpec(method="bagging", members=3)
    members = [prepared(ensemble.member_recipe(base, spec, m)) for m in range(3)]
    for d in members[1:]:
        np.testing.assert_array_equal(d.y_val, members[0].y_val)  # one validation set for the whole ensemble
    plain = prepared(base.with_overrides({"ensemble": None}))
    for d in members:
        assert len(d.x_train) == len(plain.x_train) == 300  # as many rows as the training set ...
        distinct = len({row.tobytes() for row in d.x_train})
        assert 0.55 * 300 < distinct < 0.72 * 300  # ... drawn with replacement: about 63% distinct
    assert not np.array_equal(members[0].x_train, members[1].x_train)
    again = prepared(ensemble.member_recipe(base, spec, 1))
    np.testing.assert_array_equal(again.x_train, members[1].x_train)  # reproducible from the recipe alone
    seeds = {ensemble.member_recipe(base, spec, m).seed for m in range(3)}
    assert seeds == {0, 1, 2}  # each member its own init and batch order


def test_data_seed_keeps_one_split_while_the_recipe_seed_changes():
    a = prepared(load_recipe("healthy-mlp", ["seed=1", "data.seed=7"]))
    b = prepared(load_recipe("healthy-mlp", ["seed=2", "data.seed=7"]))
    c = prepared(load_recipe("healthy-mlp", ["seed=2"]))
    np.testing.assert_array_equal(a.y_val, b.y_val)
    assert not np.array_equal(b.y_val, c.y_val)


def test_an_all_ones_weighting_is_the_plain_loss_and_zero_weight_removes_a_sample():
    data = prepared(load_recipe("healthy-mlp"))
    out, y = torch.randn(6, 10), torch.tensor([0, 1, 2, 3, 4, 5])
    plain, weighted = loss_fn(data), weighted_loss_fn(data)
    assert torch.allclose(weighted(out, y, torch.ones(6)), plain(out, y))
    w = torch.tensor([2.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    expected = (torch.nn.functional.cross_entropy(out, y, reduction="none") * w).mean()
    assert torch.allclose(weighted(out, y, w), expected)


@pytest.mark.parametrize(
    "recipe, sets, said",
    [
        ("gan-2d", [], "model.arch: gan is judged by val_mmd"),
        ("autoencoder-anomaly", [], "model.arch: autoencoder is judged by anomaly_auc"),
        ("exploding-rnn", ["--method", "boosting"], "ensemble.method: boosting (SAMME) needs classification data"),
        ("healthy-mlp", ["--members", "1"], "--members"),
        ("healthy-mlp", ["--members", "33"], "--members"),
    ],
)
def test_what_cannot_be_ensembled_is_refused_by_name_before_anything_trains(tmp_path, capsys, recipe, sets, said):
    home = tmp_path / "home"
    assert cli.main(["--home", str(home), "ensemble", recipe, *sets]) == 2
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err
    assert not (home / "runs.db").exists() or Store(home).list_runs().empty


def test_the_recipe_block_is_the_default_and_flags_override_it():
    recipe = load_recipe("ensemble-boosting")
    assert ensemble.spec_of(recipe) == EnsembleSpec(method="boosting", members=10)
    assert ensemble.spec_of(recipe, "bagging", 4) == EnsembleSpec(method="bagging", members=4)
    assert ensemble.spec_of(load_recipe("healthy-mlp")) == EnsembleSpec()  # no block: 5 bagged members
    with pytest.raises(RecipeError, match="ensemble"):
        load_recipe("healthy-mlp", ["ensemble.method=stacking"])


@pytest.mark.parametrize("method", ["bagging", "boosting"])
def test_every_member_is_a_run_with_its_findings_and_the_ensemble_is_scored_after_each(
    tmp_path, capsys, method, monkeypatch
):
    home = tmp_path / "home"
    argv = ["--home", str(home), "ensemble", "healthy-mlp", "--method", method, "--members", "3", "--json", "--quiet"]
    assert cli.main(argv + [x for s in TINY for x in ("--set", s)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["method"], out["members"], out["trained"], out["done"]) == (method, 3, 3, True)
    assert [c["members"] for c in out["curve"]] == [1, 2, 3]
    assert out["curve"][0]["value"] == pytest.approx(out["single"])  # one member: the ensemble is that net
    runs = Store(home).list_runs(group=out["group"])
    assert sorted(runs["name"]) == [f"{method} #member {i}/3" for i in (1, 2, 3)]
    assert set(runs["status"]) == {"completed"}
    if method == "boosting":
        assert all(c["alpha"] > 0 for c in out["curve"])
        weights = np.load(Store(home).runs_dir(out["curve"][1]["run"]) / "sample_weights.npy")
        assert weights.mean() == pytest.approx(1.0, abs=1e-5) and weights.std() > 0  # re-weighted after member 1


def test_the_ensemble_as_a_whole_is_diagnosed():
    curve = [{"members": 1, "voted": True}, {"members": 2, "voted": False}, {"members": 3, "voted": True}]
    codes = [f["code"] for f in ensemble.diagnose(curve, 0.0, "member 3 was no better than chance")]
    assert codes == ["no_gain", "members_left_out", "stopped_early"]
    assert ensemble.diagnose(curve[:1], 0.0, None) == []  # one member cannot gain
    assert ensemble.diagnose(curve[::2], 0.04, None) == []  # 4 points beyond the average member
