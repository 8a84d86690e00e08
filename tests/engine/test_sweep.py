"""Sweeps: every sampler and pruner over real runs, the SPEC grammar, and bad input named by its key."""

from __future__ import annotations

import json

import pytest

from engine import cli
from engine.config.errors import RecipeError
from engine.config.recipe import load_recipe
from engine.config.sweep import SweepSpec, parse_dimension, parse_space
from engine.store import Store
from engine.tuning import results
from engine.tuning.executors import make
from engine.tuning.sweep import Sweep, plan

TINY = ["data.name=moons", "model.depth=2", "model.width=16", "train.steps=120", "train.eval_every=20"]
LR = {"train.lr": "loguniform(1e-5,1e-1)"}


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here trains in-process on one torch thread (tests/conftest.py)."""


def sweep(store: Store, **spec) -> results.SweepResult:
    """Run a sweep of the tiny recipe in this process and read it back."""
    checked = plan(load_recipe("healthy-mlp", TINY), SweepSpec(**spec))
    group = Sweep(store, checked, make("inline", 1)).run()
    return results.load(store, group)


@pytest.mark.parametrize("sampler", ["random", "tpe", "gp", "cmaes"])
def test_each_sampler_runs_every_trial_as_a_run_in_the_sweep_group(tmp_path, sampler):
    store = Store(tmp_path)
    got = sweep(store, space={**LR, "model.width": "int(4,32)"}, sampler=sampler, trials=4, pruner="none")
    runs = store.list_runs(group=got.name)
    assert len(runs) == len(got.trials) == 4
    assert set(runs["status"]) == {"completed"}
    assert set(got.trials["run_id"]) == set(runs["id"])
    assert all(1e-5 <= lr <= 1e-1 for lr in got.trials["train.lr"])
    assert all(4 <= w <= 32 for w in got.trials["model.width"])
    for run_id, lr in zip(got.trials["run_id"], got.trials["train.lr"]):  # the run trained what the trial drew
        assert store.get_run(run_id)["recipe"]["train"]["lr"] == pytest.approx(lr)
        assert len(store.scalars(run_id, names=["val_accuracy"])) == 6  # an evaluation every 20 of 120 steps
    best = got.best()
    assert best is not None and best["value"] == got.trials["value"].max()
    assert got.summary()["counts"] == {"completed": 4}


def test_a_grid_tries_every_cell_once_and_no_more(tmp_path):
    store = Store(tmp_path)
    got = sweep(store, space={**LR, "model.activation": "choice(relu,tanh)"}, sampler="grid", trials=9, pruner="none")
    cells = set(zip(got.trials["train.lr"].round(9), got.trials["model.activation"]))
    assert len(got.trials) == len(cells) == 8  # 9 trials over a two-way choice: 4 lrs x 2 activations
    assert sorted({round(v, 9) for v in got.trials["train.lr"]}) == [1e-5, 0.000215443, 0.00464159, 0.1]


@pytest.mark.parametrize("pruner", ["median", "hyperband"])
def test_a_pruner_stops_trials_that_lag_and_they_end_pruned(tmp_path, pruner):
    store = Store(tmp_path)
    got = sweep(store, space=LR, sampler="random", trials=10, pruner=pruner, seed=1)
    counts = got.counts()
    assert counts.get("pruned", 0) >= 2, counts
    pruned = got.trials[got.trials["status"] == "pruned"]
    for run_id, steps in zip(pruned["run_id"], pruned["steps"]):
        run = store.get_run(run_id)
        assert run["status"] == "pruned" and run["step"] < 120  # stopped early: that is the saving
        assert steps < 120
    best = got.best()
    assert best is not None and best["value"] >= 0.8  # pruning kept a good trial going to the end


def test_without_a_pruner_every_trial_runs_to_the_end(tmp_path):
    store = Store(tmp_path)
    got = sweep(store, space=LR, sampler="random", trials=6, pruner="none", seed=1)
    assert got.counts() == {"completed": 6}
    assert all(store.get_run(r)["step"] == 120 for r in got.trials["run_id"])


def test_importances_say_which_parameter_mattered(tmp_path):
    store = Store(tmp_path)
    # The lr spans four decades; the width barely changes a moons MLP: the lr must matter more.
    got = sweep(store, space={**LR, "model.width": "int(14,18)"}, sampler="random", trials=8, pruner="none")
    shares = got.importances()
    assert set(shares) == {"train.lr", "model.width"}
    assert shares["train.lr"] > shares["model.width"]
    assert sum(shares.values()) == pytest.approx(1.0)


# --- the SPEC grammar and bad input ---------------------------------------------------------


def test_specs_read_as_their_kind():
    assert parse_dimension("train.lr", "loguniform(1e-4, 1)").grid(3) == [1e-4, 1e-2, 1.0]
    assert parse_dimension("model.width", "int(16,256)").grid(3) == [16, 136, 256]
    assert parse_dimension("model.dropout", "float(0,0.5)").grid(2) == [0.0, 0.5]
    assert parse_dimension("model.activation", "choice(relu, tanh)").choices == ("relu", "tanh")
    assert parse_dimension("train.batch_size", "choice(32, 64)").choices == (32, 64)  # numbers stay numbers


@pytest.mark.parametrize(
    ("item", "said"),
    [
        ("train.lr=loguniform(0,1)", "train.lr: loguniform() draws on a log scale"),
        ("train.lr=uniform(0,1)", "train.lr: 'uniform(0,1)' is not a SPEC"),
        ("train.lr=float(1,1)", "train.lr: float() needs finite bounds with LOW < HIGH"),
        ("model.width=int(1.5,8)", "model.width: int() bounds must be whole numbers"),
        ("model.activation=choice(relu)", "model.activation: choice() needs 2"),
        ("model.width=int(a,b)", "model.width: int() bounds must be numbers"),
        ("train.lr", "expected KEY=SPEC"),
    ],
)
def test_a_bad_spec_is_refused_naming_its_key(item, said):
    with pytest.raises(RecipeError, match=None) as err:
        parse_space([item])
    assert said in str(err.value)


@pytest.mark.parametrize(
    ("space", "said"),
    [
        ({"model.width": "int(0,8)"}, "model.width"),  # a width of 0 is outside the recipe's range
        ({"train.optimizer": "choice(adam,nosuch)"}, "train.optimizer"),
        ({"train.nosuch": "float(0,1)"}, "train.nosuch"),
        ({"sweep.trials": "int(1,5)"}, "sweep.trials: not a training setting"),
    ],
)
def test_a_space_that_does_not_fit_the_recipe_is_refused_before_any_trial(tmp_path, space, said):
    with pytest.raises(RecipeError) as err:
        plan(load_recipe("healthy-mlp", TINY), SweepSpec(space=space))
    assert said in str(err.value)


def test_the_cli_names_the_key_at_fault_and_writes_nothing(tmp_path, capsys):
    home = tmp_path / "home"
    code = cli.main(["--home", str(home), "sweep", "healthy-mlp", "--space", "model.width=int(0,8)", "--trials", "3"])
    err = capsys.readouterr().err
    assert code == 2 and "model.width" in err and "Traceback" not in err
    assert not (home / "sweeps.db").exists() and not (home / "runs.db").exists()
    assert cli.main(["--home", str(home), "sweep", "healthy-mlp", "--space", "train.lr=loguniform(1e-4,1)",
                     "--metric", "val_nosuch"]) == 2  # fmt: skip
    assert "--metric" in capsys.readouterr().err
    assert cli.main(["--home", str(home), "sweep", "healthy-mlp"]) == 2  # nothing to search
    assert "--space" in capsys.readouterr().err


def test_a_recipe_sweep_block_is_the_default_and_flags_override_it(tmp_path, capsys):
    home = tmp_path / "home"
    argv = ["--home", str(home), "sweep", "healthy-mlp", "--executor", "inline", "--json", "--quiet"]
    argv += [f"--set={s}" for s in TINY]
    argv += ["--set=sweep.space={train.lr: 'loguniform(1e-3,1e-1)'}", "--set=sweep.sampler=random", "--trials=3"]
    assert cli.main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sampler"] == "random" and out["space"] == {"train.lr": "loguniform(0.001, 0.1)"}
    assert len(out["trials"]) == 3 and sum(out["counts"].values()) == 3
    assert out["best"]["params"]["train.lr"] == max(out["trials"], key=lambda t: t["value"] or 0)["params"]["train.lr"]
    store = Store(home)
    assert all(store.get_run(t["run_id"])["recipe"]["sweep"] is None for t in out["trials"])  # trials are plain runs


# --- trials as background workers ------------------------------------------------------------


def test_a_worker_asked_to_prune_ends_pruned_not_stopped(tmp_path, monkeypatch, warm_server):
    from engine.control import lifecycle
    from tests.engine.fault_helpers import wait_for

    monkeypatch.setenv("GRADCLINIC_HOME", str(tmp_path))
    store = Store(tmp_path)
    run_id = lifecycle.launch(store, load_recipe("healthy-mlp", [*TINY, "train.steps=100000"]), max_running=1)
    wait_for(lambda: (store.get_run(run_id)["step"] or 0) > 0, timeout=60)
    store.request_stop(run_id, prune=True)
    store.request_stop(run_id)  # a later plain stop does not turn the prune back into a stop
    run = wait_for(lambda: (r := store.get_run(run_id))["status"] not in ("queued", "running") and r, timeout=60)
    assert run["status"] == "pruned" and run["step"] < 100000
    assert store.control(run_id).prune


def test_the_cli_runs_a_sweep_two_trials_at_a_time_in_workers(tmp_path, monkeypatch, capsys, warm_server):
    monkeypatch.setenv("GRADCLINIC_HOME", str(tmp_path))
    argv = ["sweep", "healthy-mlp", *(f"--set={s}" for s in TINY), "--space=train.lr=loguniform(1e-3,1e-1)"]
    assert cli.main([*argv, "--sampler=random", "--trials=4", "--parallel=2", "--pruner=none", "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["executor"] == "local" and out["parallel"] == 2 and out["counts"] == {"completed": 4}
    assert captured.err.count("completed") == 4  # a line per finished trial
    runs = Store(tmp_path).list_runs(group=out["sweep"])
    spans = sorted(zip(runs["started"], runs["ended"]))
    assert len(spans) == 4
    overlapping = max(sum(s <= t < e for s, e in spans) for t, _ in spans)
    assert overlapping <= 2  # never more than --parallel trials at once
