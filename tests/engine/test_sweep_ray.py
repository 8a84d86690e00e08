"""``--executor ray``: a sweep on a local Ray (loopback only, nothing in ~/.ray), every trial in the driver's store."""

from __future__ import annotations

import os
import sys

import psutil
import pytest

from engine import cli
from engine.config.names import TERMINAL
from engine.config.recipe import load_recipe
from engine.config.sweep import SweepSpec
from engine.store import Store
from engine.tuning import results
from engine.tuning.executors import make
from engine.tuning.sweep import Sweep, plan

TINY = ["data.name=moons", "model.depth=2", "model.width=16", "train.steps=150", "train.eval_every=30"]
LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1", "::1"}


@pytest.fixture
def local_ray_env(tmp_path, monkeypatch):
    """No cluster address, and a HOME of the test's own: anything Ray writes to ~/.ray would land in it."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    for key in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(key, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def ray_sweep(tmp_path, lr_spec: str, trials: int, pruner: str):
    """A store, a checked random sweep of the tiny recipe's lr, and a Ray executor two trials wide."""
    spec = SweepSpec(space={"train.lr": lr_spec}, sampler="random", trials=trials, parallel=2, pruner=pruner)
    return Store(tmp_path / "store"), plan(load_recipe("healthy-mlp", TINY), spec), make("ray", 2)


def listening_addresses() -> set[str]:
    """The addresses this process's children (the local Ray it started: GCS, raylet, workers) listen on."""
    found = set()
    for child in psutil.Process().children(recursive=True):
        try:
            found |= {c.laddr.ip for c in child.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
        except psutil.Error:  # a worker that ended meanwhile
            pass
    return found


@pytest.mark.slow
def test_eight_trials_two_at_a_time_on_a_local_ray_all_land_in_the_store(tmp_path, local_ray_env):
    store, checked, executor = ray_sweep(tmp_path, "loguniform(1e-3,3)", trials=8, pruner="median")
    submit, seen = executor.submit, {}

    def submit_paced(sweep, recipe, name):
        run_id = submit(sweep, recipe, name)
        store.set_pace(run_id, 5)  # slow motion reaches the trial too: 150 steps take over 0.75 s
        if name.startswith("#5 "):  # a prune the pruner did not choose: it must reach a Ray trial all the same
            store.request_stop(run_id, prune=True)
        if not seen:
            seen["listening"] = listening_addresses()
        return run_id

    executor.submit = submit_paced
    group = Sweep(store, checked, executor, executor_name="ray").run()

    assert seen["listening"] and seen["listening"] <= LOOPBACK
    got = results.load(store, group)
    runs = store.list_runs(group=group)
    assert len(runs) == len(got.trials) == 8 and set(got.trials["run_id"]) == set(runs["id"])
    assert sum(got.counts().values()) == 8 and set(runs["status"]) <= TERMINAL
    forced = got.trials.loc[got.trials["number"] == 5, "run_id"].item()
    assert store.get_run(forced)["status"] == "pruned" and store.get_run(forced)["step"] < 150
    findings = 0
    for run in runs.to_dict("records"):
        run_id, summary = run["id"], store.get_run(run["id"])["summary"]
        assert run["pid"] == os.getpid()  # the driver records the run; a worker's pid means nothing here
        assert summary is not None and summary["status"] == run["status"]
        assert len(store.scalars(run_id, names=["train_loss"])) == run["step"]
        assert store.stats(run_id) and not store.layers(run_id).empty
        assert len(store.layer_stats(run_id, "grad_norm")) > 0
        assert [f["code"] for f in store.findings(run_id)] == [f["code"] for f in summary["findings"]]
        findings += len(summary["findings"])
        if run["status"] == "completed":
            assert len(store.scalars(run_id, names=["val_accuracy"])) == 5
    assert findings > 0  # lr up to 3: some trials have something to diagnose, and it reached the store

    assert not (local_ray_env / ".ray").exists() and not os.listdir(local_ray_env)
    assert executor.temp_dir and not os.path.exists(executor.temp_dir)
    assert "RAY_AUTH_TOKEN" not in os.environ  # the local cluster's token went with it
    assert not listening_addresses()


def test_without_ray_the_executor_is_refused_with_the_install_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray fails as if it were not installed
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    args = ["sweep", "healthy-mlp", "--home", str(tmp_path), *[f"--set={s}" for s in TINY]]
    code = cli.main([*args, "--space", "train.lr=loguniform(1e-3,1)", "--trials", "2", "--executor", "ray"])
    assert code == 2
    assert "pip install 'gradclinic[ray]'" in capsys.readouterr().err
    assert not (tmp_path / "runs.db").exists()  # refused before anything was written


@pytest.mark.slow
def test_a_trial_that_raises_is_failed_and_one_whose_worker_dies_is_crashed(tmp_path, local_ray_env):
    store, checked, executor = ray_sweep(tmp_path, "loguniform(1e-3,1)", trials=2, pruner="none")
    submit = executor.submit

    def raises(data, run_id, name, mailbox):
        raise RuntimeError("the trial's code broke")

    def dies(data, run_id, name, mailbox):
        os._exit(3)  # as a node or worker lost mid-trial looks to the driver

    def submit_broken(sweep, recipe, name):
        executor._connect()
        executor.task = executor.ray.remote(num_cpus=1, max_retries=0)(raises if name.startswith("#0 ") else dies)
        return submit(sweep, recipe, name)

    executor.submit = submit_broken
    group = Sweep(store, checked, executor).run()
    runs = {r["name"].split()[0]: r for r in store.list_runs(group=group).to_dict("records")}
    assert runs["#0"]["status"] == "failed" and "the trial's code broke" in runs["#0"]["error"]
    assert runs["#1"]["status"] == "crashed" and "lost on Ray" in runs["#1"]["error"]
    assert results.load(store, group).counts() == {"failed": 1, "crashed": 1}
