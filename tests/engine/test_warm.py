"""The warm start: runs forked by a server that imported torch once train exactly like cold ones."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from engine.config.recipe import load_recipe
from engine.control import lifecycle, queue, warm
from engine.store import Store
from tests.engine.fault_helpers import wait_for

SHORT = ["model.depth=2", "model.width=16", "train.steps=120", "train.eval_every=40", "seed=3"]
ENDED = ("completed", "failed", "crashed", "stopped")


def _store(path: Path, monkeypatch) -> Store:
    path.mkdir()
    monkeypatch.setenv("GRADCLINIC_HOME", str(path))
    return Store(path)


def _finish(store: Store, run_id: str) -> dict:
    wait_for(lambda: store.get_run(run_id)["status"] in ENDED, timeout=120)
    return store.get_run(run_id)


def _final_val_loss(store: Store, run_id: str) -> float:
    scalars = store.scalars(run_id)
    return float(scalars[scalars["name"] == "val_loss"].sort_values("step")["value"].iloc[-1])


def test_a_forked_run_trains_exactly_like_a_cold_one(tmp_path, monkeypatch, warm_server):
    """Same recipe, same seed: the warm and the cold worker record the same numbers."""
    store = _store(tmp_path / "home", monkeypatch)
    warm_id = lifecycle.launch(store, load_recipe(None, SHORT), name="warm", max_running=1)
    forked = _finish(store, warm_id)
    assert f"for run {warm_id}" in warm.socket_path().with_suffix(".log").read_text()  # the server forked it
    monkeypatch.setenv("GRADCLINIC_WARM", "0")
    cold_id = lifecycle.launch(store, load_recipe(None, SHORT), name="cold", max_running=1)
    cold = _finish(store, cold_id)
    assert forked["status"] == cold["status"] == "completed"
    assert _final_val_loss(store, warm_id) == _final_val_loss(store, cold_id)
    assert "starting" in (store.runs_dir(warm_id) / "worker.log").read_text()  # its output went to its own log


def test_a_forked_worker_is_a_process_of_its_own(tmp_path, monkeypatch, warm_server):
    """Its own session and process group (so Stop and a kill reach it alone), not the requester's child."""
    store = _store(tmp_path / "home", monkeypatch)
    run_id = lifecycle.launch(store, load_recipe(None, [*SHORT, "train.steps=200000"]), max_running=1)
    pid = wait_for(lambda: store.get_run(run_id)["status"] == "running" and store.get_run(run_id)["pid"])
    assert pid != warm.server_pid()
    assert os.getpgid(pid) == pid and os.getsid(pid) == pid
    with open(f"/proc/{pid}/stat") as f:
        parent = int(f.read().rsplit(")", 1)[1].split()[1])
    assert parent != os.getpid()
    queue.kill_group(pid)  # a crash takes only this run down; the queue says so
    wait_for(lambda: not queue.pid_alive(pid))
    queue.reap(store)
    assert store.get_run(run_id)["status"] == "crashed"
    assert warm.wait_ready(0)  # the server lives on


def test_without_a_server_a_run_starts_cold_and_a_server_starts_for_the_next_until_told_to_go(tmp_path, monkeypatch):
    folder = tmp_path / "warm"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("GRADCLINIC_WARM_DIR", str(folder))
    store = _store(tmp_path / "home", monkeypatch)
    assert warm.request("x", tmp_path / "x.log", dict(os.environ)) is None  # nobody listens: nothing started
    run_id = lifecycle.launch(store, load_recipe(None, SHORT), max_running=1)
    assert _finish(store, run_id)["status"] == "completed"
    pid_file = wait_for(lambda: next(folder.glob("w-*.pid"), None), timeout=10)
    pid = int(pid_file.read_text())
    try:
        assert warm.wait_ready(120, pid_file.with_suffix(".sock"))
        pid_file.with_suffix(".sock").unlink()  # a removed socket tells the server to go
        wait_for(lambda: not queue.pid_alive(pid), timeout=10)
    finally:
        if queue.pid_alive(pid):
            os.kill(pid, signal.SIGTERM)


def test_turned_off_nothing_is_asked_or_started(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADCLINIC_WARM_DIR", str(tmp_path))
    monkeypatch.setenv("GRADCLINIC_WARM", "0")
    assert warm.ensure_started() is None
    assert warm.request("x", tmp_path / "x.log", dict(os.environ)) is None
    assert not list(tmp_path.glob("w-*"))


def test_an_edited_source_file_changes_the_version(tmp_path, monkeypatch):
    """A server never runs code older than the checkout: an edit names another socket."""
    (tmp_path / "engine").mkdir()
    source = tmp_path / "engine" / "x.py"
    source.write_text("A = 1\n")
    monkeypatch.setattr(warm, "ROOT", tmp_path)
    before = warm.code_version()
    source.write_text("A = 22\n")
    assert warm.code_version() != before


def test_a_shared_directory_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "open"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    monkeypatch.setenv("GRADCLINIC_WARM_DIR", str(folder))
    with pytest.raises(PermissionError):
        warm.warm_dir()
    assert warm.request("x", tmp_path / "x.log", dict(os.environ)) is None  # and a run then starts cold
