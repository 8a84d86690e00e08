"""A remote trial's store without Ray: its forwarded writes replayed rebuild the run, once, and only that run."""

from __future__ import annotations

import pytest

from engine.config.errors import StoreError
from engine.config.recipe import load_recipe
from engine.store import Store
from engine.store.store import RunControl
from engine.training import session
from engine.tuning.executors.mirror import FORWARDED, MirrorStore, replay

TINY = ["data.name=moons", "model.depth=2", "model.width=16", "train.steps=90", "train.eval_every=30"]


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every test here trains in-process on one torch thread (tests/conftest.py)."""


def test_create_run_takes_a_chosen_id_once(tmp_path):
    store = Store(tmp_path)
    assert store.create_run({"name": "x"}, run_id="0123abcd") == "0123abcd"
    assert store.get_run("0123abcd")["status"] == "queued"
    with pytest.raises(StoreError, match="taken"):
        store.create_run({"name": "x"}, run_id="0123abcd")
    with pytest.raises(ValueError, match="8 lowercase hex"):
        store.create_run({"name": "x"}, run_id="../etc")


def train_mirrored(tmp_path, control=None):
    """Train the tiny recipe into a MirrorStore; returns the driver's store, its run id and the calls sent."""
    recipe = load_recipe("healthy-mlp", TINY)
    driver = Store(tmp_path / "driver")
    run_id = driver.create_run(recipe.to_dict(), name="t", group="sweep-x", total_steps=90, status="running")
    calls: list = []
    worker = MirrorStore(tmp_path / "worker", calls.append, lambda: control)
    worker.create_run(recipe.to_dict(), name="t", total_steps=90, status="running", run_id=run_id)
    summary = session.train(worker, run_id, session.prepare(recipe))
    return driver, worker, run_id, calls, summary


def test_replayed_calls_rebuild_the_run_in_the_driver_store(tmp_path):
    driver, worker, run_id, calls, summary = train_mirrored(tmp_path)
    assert [c[0] for c in calls] == list(range(1, len(calls) + 1))
    assert {c[1] for c in calls} <= set(FORWARDED)
    assert replay(driver, run_id, calls, 0, pid=4242) == len(calls)
    got, want = driver.get_run(run_id), worker.get_run(run_id)
    assert got["status"] == want["status"] == summary["status"] == "completed"
    assert got["pid"] == 4242  # the worker's pid means nothing on the driver's machine
    assert got["summary"] == want["summary"] and got["group_id"] == "sweep-x"
    assert driver.scalars(run_id).equals(worker.scalars(run_id))
    assert driver.stats(run_id) == worker.stats(run_id) and driver.stats(run_id)
    for stat in driver.stats(run_id):
        assert driver.layer_stats(run_id, stat).equals(worker.layer_stats(run_id, stat))
    assert driver.layers(run_id).equals(worker.layers(run_id))
    assert [f["code"] for f in driver.findings(run_id)] == [f["code"] for f in worker.findings(run_id)]
    assert list(driver.events(run_id)["kind"]) == list(worker.events(run_id)["kind"])

    # Idempotent: calls sent again (a mailbox not yet told they arrived) write nothing twice.
    events = len(driver.events(run_id))
    assert replay(driver, run_id, calls, len(calls)) == len(calls)
    assert len(driver.events(run_id)) == events == len(worker.events(run_id))
    again = Store(tmp_path / "again")
    again.create_run({"name": "t"}, status="running", run_id=run_id)
    assert replay(again, run_id, calls[:5] + calls + calls[3:], 0) == len(calls)
    assert len(again.events(run_id)) == events and again.scalars(run_id).equals(driver.scalars(run_id))


def test_a_gap_waits_for_the_missing_call(tmp_path):
    driver = Store(tmp_path)
    run_id = driver.create_run({"name": "x"}, status="running")
    calls = [(1, "heartbeat", (run_id,), {}), (3, "set_status", (run_id, "completed"), {})]
    assert replay(driver, run_id, calls, 0) == 1
    assert driver.get_run(run_id)["status"] == "running"


def test_replay_refuses_other_methods_and_other_runs(tmp_path):
    driver = Store(tmp_path)
    run_id = driver.create_run({"name": "x"}, status="running")
    other = driver.create_run({"name": "y"}, status="running")
    with pytest.raises(ValueError, match="refused a call of Store.delete_run"):
        replay(driver, run_id, [(1, "delete_run", (other,), {})], 0)
    with pytest.raises(ValueError, match="another run"):
        replay(driver, run_id, [(1, "set_status", (other, "failed"), {})], 0)
    assert driver.get_run(other)["status"] == "running"


def test_a_prune_read_from_the_driver_ends_the_trial_pruned(tmp_path):
    driver, _, run_id, calls, summary = train_mirrored(tmp_path, RunControl(True, False, 0, prune=True))
    replay(driver, run_id, calls, 0)
    assert summary["status"] == driver.get_run(run_id)["status"] == "pruned"
