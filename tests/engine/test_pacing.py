"""Pause and slow motion: a run waits between steps, trains the same numbers, and no timing counts the wait."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from engine.config.recipe import load_recipe
from engine.control import lifecycle, queue
from engine.store import Store
from engine.training import pacing, session
from engine.training.probing.manager import ProbeManager
from tests.engine.fault_helpers import wait_for

TINY = ["model.depth=2", "model.width=16", "train.steps=60", "train.eval_every=20"]
RESULTS = ["train_loss", "val_loss", "val_accuracy", "train_eval_loss"]


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADCLINIC_HOME", str(tmp_path))
    s = Store(tmp_path)
    yield s
    for run in s.list_runs(status="running").to_dict("records"):  # never leave a worker behind
        queue.kill_group(run.get("pid"))
    s.close()


def results(store: Store, run_id: str) -> dict[str, np.ndarray]:
    """Every stored training number of a run, by name: what must not change."""
    table = store.scalars(run_id, names=RESULTS)
    return {name: rows["value"].to_numpy() for name, rows in table.groupby("name")}


def active_seconds(store: Store, run_id: str) -> float:
    """The training time the run's final ``samples_per_s`` implies: samples trained over that rate."""
    run = store.get_run(run_id)
    rate = store.scalars(run_id, names=["samples_per_s"])["value"].iloc[-1]
    return run["summary"]["steps"] * run["recipe"]["train"]["batch_size"] / rate


def test_a_paused_worker_holds_its_step_and_continues_to_the_numbers_of_an_unpaused_run(store):
    recipe = load_recipe(None, TINY)
    plain = lifecycle.launch(store, recipe, max_running=2)
    paused = lifecycle.launch(store, recipe, max_running=2)
    lifecycle.pause(store, paused)  # before its worker has started: it waits from its first flush
    wait_for(lambda: store.get_run(paused)["step"], timeout=60)
    time.sleep(0.7)  # a flush and a poll later, it is surely waiting
    held = store.get_run(paused)["step"]
    time.sleep(1.5)
    assert store.get_run(paused)["step"] == held  # it does not advance while paused ...
    assert lifecycle.status(store, paused)["status"] == "running"  # ... and is not taken for hung
    wait_for(lambda: store.get_run(plain)["status"] == "completed", timeout=60)
    assert store.get_run(paused)["step"] == held
    lifecycle.unpause(store, paused)
    wait_for(lambda: store.get_run(paused)["status"] == "completed", timeout=60)

    a, b = results(store, plain), results(store, paused)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)  # bit for bit
    assert store.get_run(paused)["summary"]["final"] == store.get_run(plain)["summary"]["final"]
    waits = store.events(paused, kind="paused")["payload"]
    paused_s = sum(p["seconds"] for p in waits)
    assert len(waits) == 1 and paused_s >= 1.5
    # samples_per_s divides by the time it trained, not the time it waited
    assert active_seconds(store, paused) <= store.get_run(paused)["summary"]["seconds"] - paused_s


def test_stop_reaches_a_paused_run(store):
    recipe = load_recipe(None, TINY)
    run_id = store.create_run(recipe.to_dict(), total_steps=recipe.train.steps)
    store.set_paused(run_id, True)
    prepared = session.prepare(recipe)
    with Store(store.home) as own:  # the training thread's own connection, as a worker has
        trainer = threading.Thread(target=session.train, args=(own, run_id, prepared))
        trainer.start()
        held = wait_for(lambda: store.get_run(run_id)["step"], timeout=60)
        time.sleep(0.5)
        assert store.get_run(run_id)["step"] == held and trainer.is_alive()
        t0 = time.monotonic()
        assert lifecycle.stop(store, run_id, wait=10.0) == "stopped"
        trainer.join(timeout=10)
    print(f"stopped while paused in {time.monotonic() - t0:.2f}s")
    assert store.get_run(run_id)["step"] == held


def test_slow_motion_raises_wall_time_but_not_the_numbers_or_any_timing(store, monkeypatch):
    recipe = load_recipe(None, [*TINY, "train.steps=30", "train.eval_every=10"])
    pace_ms = 40
    windows: list[tuple[float, float]] = []  # every step the probe budget timed
    waits: list[tuple[float, float]] = []
    before_step, after_step, wait = ProbeManager.before_step, ProbeManager._after_step, pacing.Pacer.wait

    def timed_before(self, state):
        windows.append((time.perf_counter(), np.nan))
        before_step(self, state)

    def timed_after(self):
        after_step(self)
        windows[-1] = (windows[-1][0], time.perf_counter())

    def timed_wait(self, stop):
        t0 = time.perf_counter()
        try:
            return wait(self, stop)
        finally:
            waits.append((t0, time.perf_counter()))

    monkeypatch.setattr(ProbeManager, "before_step", timed_before)
    monkeypatch.setattr(ProbeManager, "_after_step", timed_after)
    monkeypatch.setattr(pacing.Pacer, "wait", timed_wait)
    ids = {}
    for pace in (0, pace_ms):
        ids[pace] = store.create_run(recipe.to_dict(), total_steps=recipe.train.steps, pace_ms=pace)
        session.train(store, ids[pace], session.prepare(recipe))
    plain, slow = (store.get_run(ids[p])["summary"] for p in (0, pace_ms))
    a, b = results(store, ids[0]), results(store, ids[pace_ms])
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert slow["final"] == plain["final"]
    slowed_s = recipe.train.steps * pace_ms / 1000
    assert slow["seconds"] >= slowed_s and len(waits) == recipe.train.steps
    # the waits fall between the steps the probe budget times, and samples_per_s leaves them out
    assert not any(w0 < s1 and s0 < w1 for w0, w1 in waits for s0, s1 in windows)
    assert active_seconds(store, ids[pace_ms]) <= slow["seconds"] - slowed_s
