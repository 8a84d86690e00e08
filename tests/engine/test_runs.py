"""Background runs you can trust: crash detection, concurrency, stop, resume, queueing, failures."""

import os
import signal
import sqlite3
import threading
import time

import pytest

from engine.config.errors import RecipeError
from engine.config.recipe import load_recipe
from engine.control import lifecycle, queue
from engine.store import Store
from tests.engine.fault_helpers import wait_for

LONG = ["model.depth=2", "model.width=16", "train.steps=200000", "train.eval_every=100"]
SHORT = ["model.depth=2", "model.width=16", "train.steps=150", "train.eval_every=50"]


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADCLINIC_HOME", str(tmp_path))
    s = Store(tmp_path)
    yield s
    for run in s.list_runs(status="running").to_dict("records"):  # never leave a worker behind
        queue.kill_group(run.get("pid"))
    s.close()


def test_kill_9_marks_the_run_crashed_and_keeps_its_rows(store):
    run_id = lifecycle.launch(store, load_recipe(None, LONG), max_running=2)
    wait_for(lambda: (store.get_run(run_id)["step"] or 0) >= 200)
    pid = store.get_run(run_id)["pid"]
    flushed = len(store.scalars(run_id, names=["train_loss"]))
    os.kill(pid, signal.SIGKILL)
    t0 = time.time()
    wait_for(lambda: lifecycle.status(store, run_id)["status"] == "crashed", timeout=10)
    print(f"kill -9 detected in {time.time() - t0:.2f}s")
    assert "disappeared" in store.get_run(run_id)["error"]
    assert len(store.scalars(run_id, names=["train_loss"])) >= flushed > 0
    assert Store(store.home).create_run(load_recipe().to_dict())  # the store still takes new runs


def test_a_reaper_never_overwrites_the_completed_a_worker_wrote_just_before_exiting(store, monkeypatch):
    """The race the load test caught: reap lists a run as running, its worker completes and exits,
    and only then does reap see the pid gone. The verdict is one conditional write, so it is dropped."""
    run_id = store.create_run(load_recipe().to_dict(), total_steps=10)
    store.update_run(run_id, pid=2**22 + 12345)  # above pid_max: a worker that has exited
    store.set_status(run_id, "running")
    listed = store.list_runs

    def list_then_complete(*args, **kwargs):
        rows = listed(*args, **kwargs)
        store.set_status(run_id, "completed")  # the worker's last write, after the listing
        return rows

    monkeypatch.setattr(store, "list_runs", list_then_complete)
    assert queue.reap(store) == []
    assert store.get_run(run_id)["status"] == "completed"
    monkeypatch.setattr(store, "list_runs", listed)
    store.set_status(run_id, "running")  # still running under the dead pid: now it is reaped
    assert queue.reap(store) == [run_id]
    assert store.get_run(run_id)["status"] == "crashed"


def test_stop_reaches_stopped_within_2s_with_a_loadable_checkpoint(store):
    from safetensors.torch import load_file

    run_id = lifecycle.launch(store, load_recipe(None, LONG), max_running=2)
    wait_for(lambda: (store.get_run(run_id)["step"] or 0) >= 100)
    t0 = time.time()
    status = lifecycle.stop(store, run_id, wait=2.0)
    assert status == "stopped", status
    assert time.time() - t0 <= 2.0
    weights = load_file(str(store.runs_dir(run_id) / "final.safetensors"))
    assert "head.weight" in weights


def test_resume_continues_from_the_checkpoint_with_the_step_count(store):
    run_id = lifecycle.launch(
        store, load_recipe(None, ["model.depth=2", "train.steps=3000", "train.eval_every=50"]), max_running=2
    )
    wait_for(lambda: (store.get_run(run_id)["step"] or 0) >= 300)
    assert lifecycle.stop(store, run_id, wait=5.0) == "stopped"
    stopped_at = store.get_run(run_id)["step"]
    lifecycle.resume(store, run_id, max_running=2)
    wait_for(lambda: store.get_run(run_id)["status"] == "completed", timeout=120)
    resumed = store.events(run_id, kind="resumed")
    assert len(resumed) == 1 and resumed.iloc[0]["payload"]["step"] >= stopped_at - 50
    steps = store.scalars(run_id, names=["train_loss"])["step"]
    assert steps.max() == 3000 and steps.is_unique


def test_queue_runs_one_at_a_time_in_fifo_order(store, monkeypatch):
    monkeypatch.setenv("GRADCLINIC_MAX_RUNS", "1")  # a finishing worker schedules the next with the default limit
    ids = [lifecycle.launch(store, load_recipe(None, SHORT), name=f"q{i}", max_running=1) for i in range(3)]
    assert [store.get_run(i)["status"] for i in ids] == ["running", "queued", "queued"]
    wait_for(
        lambda: all(store.get_run(i)["status"] == "completed" for i in ids) or queue.schedule(store, 1) and False,
        timeout=180,
    )
    started = [store.get_run(i)["started"] for i in ids]
    ended = [store.get_run(i)["ended"] for i in ids]
    assert started == sorted(started)
    assert started[1] >= ended[0] and started[2] >= ended[1]


def test_six_concurrent_runs_with_a_polling_reader_never_lock(store):
    errors, reads = [], [0]
    done = threading.Event()
    ids = [
        lifecycle.launch(
            store,
            load_recipe(
                None, ["model.depth=2", "model.width=16", "train.steps=600", "train.eval_every=50", f"seed={i}"]
            ),
            max_running=6,
        )
        for i in range(6)
    ]

    def reader():
        r = Store(store.home)
        since = {i: -1 for i in ids}
        while not done.is_set():
            for i in ids:
                try:
                    rows = r.scalars(i, since_step=since[i], names=["train_loss"])
                    if len(rows):
                        since[i] = int(rows["step"].max())
                    reads[0] += 1
                except sqlite3.OperationalError as exc:
                    errors.append(str(exc))
            time.sleep(0.2)
        r.close()

    t = threading.Thread(target=reader)
    t.start()
    try:
        wait_for(lambda: all(store.get_run(i)["status"] not in ("queued", "running") for i in ids), timeout=240)
    finally:
        done.set()
        t.join()
    assert errors == []
    statuses = [store.get_run(i)["status"] for i in ids]
    assert statuses == ["completed"] * 6, [store.get_run(i)["error"] for i in ids]
    counts = [len(store.scalars(i, names=["train_loss"])) for i in ids]
    print(f"6 runs, {sum(counts)} train_loss rows, {reads[0]} incremental reads, 0 lock errors")
    assert counts == [600] * 6


def test_data_going_bad_mid_run_fails_that_run_only(store, tmp_path):
    import shutil

    csv = tmp_path / "data.csv"
    shutil.copy("sample_data/penguins.csv", csv)
    recipe = load_recipe(None, ["data.name=csv", f"data.params.path={csv}", "data.params.target=species", *SHORT])
    csv.unlink()  # gone between launch and the worker reading it
    bad = lifecycle.launch(store, recipe, max_running=2)
    good = lifecycle.launch(store, load_recipe(None, SHORT), max_running=2)
    wait_for(lambda: store.get_run(bad)["status"] == "failed", timeout=60)
    assert "not found" in store.get_run(bad)["error"] or "missing" in store.get_run(bad)["error"]
    wait_for(lambda: store.get_run(good)["status"] == "completed", timeout=60)


def test_an_invalid_launch_changes_nothing(store):
    before = len(store.list_runs())
    with pytest.raises(RecipeError):
        lifecycle.launch(store, load_recipe(None, ["train.lr=-1"]))
    assert len(store.list_runs()) == before
