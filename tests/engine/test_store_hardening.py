"""Issue 14, the store side: every broken row, lock, name, checkpoint or setting answered in one clear line."""

import json
import os
import sqlite3
import subprocess
import sys
import threading

import pytest
import torch
from fault_helpers import cli, lock_held, one_clear_line
from safetensors.torch import save_file

from engine.config.recipe import load_recipe
from engine.control import lifecycle, queue
from engine.store import Store, StoreBusy
from engine.store import connection as store_connection
from engine.training import checkpoint, session
from engine.training.trainer import Trainer

TINY = ["model.depth=2", "model.width=16", "train.steps=40", "train.eval_every=20"]


def tiny_run(home, steps=40, name=None):
    """A finished run with metrics, statistics and findings, trained in this process."""
    recipe = load_recipe(None, [*TINY, f"train.steps={steps}"])
    with Store(home) as store:
        run_id = store.create_run(recipe.to_dict(), name=name, total_steps=steps)
        session.train(store, run_id, session.prepare(recipe))
    return run_id


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- 3: a run without steps beside one with steps -------------------------------


def test_ls_lists_queued_and_never_started_runs_beside_one_with_steps(tmp_path, capsys, monkeypatch):
    """Item 3: `ls` once died on the NaN step of a queued run; now the store's integer columns are never NaN."""
    monkeypatch.setenv("GRADCLINIC_MAX_RUNS", "1")
    ran = tiny_run(tmp_path)
    with Store(tmp_path) as store:
        stopped = store.create_run(load_recipe().to_dict(), total_steps=800)
        lifecycle.stop(store, stopped)  # stopped before it started
        busy = store.create_run(load_recipe().to_dict(), status="running")
        store.update_run(busy, pid=os.getpid())  # holds the only slot, so the next one stays queued
        queued = store.create_run(load_recipe().to_dict(), total_steps=None)
        assert str(store.list_runs()["step"].dtype) == "Int64"
    code, out, err = cli(capsys, "--home", str(tmp_path), "ls")
    assert code == 0, err
    assert "40/40 (100%)" in out and "0/800 (0%)" in out and queued in out and stopped in out
    code, out, _ = cli(capsys, "--home", str(tmp_path), "ls", "--json")
    rows = {r["id"]: r for r in json.loads(out)}
    assert rows[queued]["status"] == "queued" and rows[queued]["progress"] == "0"
    assert rows[stopped]["status"] == "stopped" and rows[ran]["status"] == "completed"


# -- 4: another process holds the write lock -------------------------------------


def test_readers_answer_while_another_process_holds_the_write_lock(tmp_path, capsys):
    """Item 4: ls and show only read (WAL readers never wait on a writer); scheduling is skipped, not waited on."""
    ran = tiny_run(tmp_path)
    with Store(tmp_path) as store:
        queued = store.create_run(load_recipe().to_dict())
    with lock_held(tmp_path / "runs.db", 20):
        code, out, err = cli(capsys, "--home", str(tmp_path), "ls")
        assert code == 0 and ran in out and queued in out, err
        code, out, err = cli(capsys, "--home", str(tmp_path), "show", ran, "--json")
        assert code == 0 and json.loads(out)["status"] == "completed", err
        with Store(tmp_path) as store:
            assert store.get_run(queued)["status"] == "queued"  # the listing started nothing: it could not write


def test_a_write_that_outwaits_its_lock_wait_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    """Item 4: past the wait, a command ends with 'the run store ... is busy', never a traceback."""
    monkeypatch.setattr(store_connection, "LOCK_WAIT_S", 0.3)
    Store(tmp_path).close()
    with lock_held(tmp_path / "runs.db", 15):
        code, out, err = cli(capsys, "--home", str(tmp_path), "launch", "healthy-mlp")
        assert code == 1 and one_clear_line(err, "is busy", "runs.db", "another process"), err
        with Store(tmp_path) as store:
            with pytest.raises(StoreBusy, match="held its write lock for 0 s"), store.lock_wait(0.0):
                store.create_run({"name": "x"})
    with Store(tmp_path) as store:
        assert store.list_runs().empty  # the refused launch left nothing behind


def test_a_training_run_outlives_a_lock_and_keeps_every_row(tmp_path, caplog):
    """Item 4: while locked, the recorder keeps its batches and training goes on; all are written after."""
    recipe = load_recipe(None, ["model.depth=2", "model.width=16", "train.steps=800", "train.eval_every=100"])
    store = Store(tmp_path)
    run_id = store.create_run(recipe.to_dict(), total_steps=800)
    started = threading.Event()
    holder = {}

    def lock_at_first_flush(info):
        if not started.is_set():
            started.set()
            holder["ctx"] = lock_held(tmp_path / "runs.db", 3)
            holder["ctx"].__enter__()

    with caplog.at_level("WARNING", logger="gradclinic.recorder"):
        summary = session.train(store, run_id, session.prepare(recipe), on_flush=lock_at_first_flush)
    holder["ctx"].__exit__(None, None, None)
    assert summary["status"] == "completed" and store.get_run(run_id)["status"] == "completed"
    assert "keeping its rows" in caplog.text
    steps = store.scalars(run_id, names=["train_loss"])["step"]
    assert steps.is_unique and sorted(steps) == list(range(1, 801))
    store.close()


# -- 13: tampered rows -----------------------------------------------------------


def tamper(home, sql, *params):
    with sqlite3.connect(home / "runs.db") as conn:
        conn.execute(sql, params)


def test_a_recipe_that_is_not_json_is_named_by_show_and_export(tmp_path, capsys):
    """Item 13: a tampered recipe column is a one-line StoreError naming the run and what is damaged."""
    run_id = tiny_run(tmp_path)
    tamper(tmp_path, "UPDATE runs SET recipe_json = '{not json' WHERE id = ?", run_id)
    for args in (["show", run_id], ["show", run_id, "--json"], ["export", run_id, "--out", str(tmp_path / "x")]):
        code, out, err = cli(capsys, "--home", str(tmp_path), *args)
        assert code == 1 and one_clear_line(err, run_id, "recipe", "damaged", "doctor"), (args, err)


def test_short_statistic_blobs_and_text_scalars_are_named_by_show_and_export(tmp_path, capsys):
    """Item 13: a truncated layer_stats blob names the run, the statistic and the step; so does a text scalar."""
    run_id = tiny_run(tmp_path)
    tamper(tmp_path, "UPDATE layer_stats SET vals = X'01020304' WHERE step = (SELECT MAX(step) FROM layer_stats)")
    for args in (["show", run_id], ["export", run_id, "--out", str(tmp_path / "x")]):
        code, out, err = cli(capsys, "--home", str(tmp_path), *args)
        assert code == 1 and one_clear_line(err, run_id, "statistic", "4 bytes", "damaged"), (args, err)
    other = tiny_run(tmp_path)
    tamper(tmp_path, "UPDATE scalars SET value = 'abc' WHERE name = 'train_loss' AND step = 3")
    code, out, err = cli(capsys, "--home", str(tmp_path), "show", other)
    assert code == 1 and one_clear_line(err, other, "scalars", "damaged"), err


# -- 14: a status read that reaps ------------------------------------------------


def test_show_says_crashed_for_a_dead_worker_even_while_the_store_is_locked(tmp_path, capsys):
    """Item 14: `show --json` (what scripts poll) reports crashed at once, and records it when it can write."""
    with Store(tmp_path) as store:
        run_id = store.create_run(load_recipe().to_dict(), status="running", total_steps=100)
        store.update_run(run_id, pid=dead_pid(), step=30)
    with lock_held(tmp_path / "runs.db", 20):
        code, out, err = cli(capsys, "--home", str(tmp_path), "show", run_id, "--json")
        report = json.loads(out)
        assert report["status"] == "crashed" and "disappeared" in report["error"] and "30" in report["error"]
        with Store(tmp_path) as store:
            assert store.get_run(run_id)["status"] == "running"  # nothing could be written meanwhile
            assert lifecycle.status(store, run_id)["status"] == "crashed"
    cli(capsys, "--home", str(tmp_path), "show", run_id)
    with Store(tmp_path) as store:
        assert store.get_run(run_id)["status"] == "crashed"  # the lock gone, the read recorded it


def test_resume_right_after_a_read_showed_crashed(tmp_path):
    """Item 14: a run a status read reported crashed (not yet recorded) can be resumed at once."""
    with Store(tmp_path) as store:
        run_id = store.create_run(load_recipe().to_dict(), status="running")
        store.update_run(run_id, pid=dead_pid())
        (store.runs_dir(run_id) / "state.pt").touch()
        slot = store.create_run(load_recipe().to_dict(), status="running")
        store.update_run(slot, pid=os.getpid())  # holds the only slot: nothing is spawned
        assert queue.observed(store.get_run(run_id))["status"] == "crashed"
        assert store.get_run(run_id)["status"] == "running"
        lifecycle.resume(store, run_id, max_running=1)
        assert store.get_run(run_id)["status"] == "queued"


# -- 15: control characters in names ---------------------------------------------


def test_a_name_with_control_characters_is_refused_naming_the_flag(tmp_path, capsys):
    """Item 15: ESC or a newline in --name is exit 2 naming --name, and no run is stored."""
    for name in ("evil\x1b[2Jname", "two\nlines"):
        for command in ("run", "launch"):
            code, out, err = cli(
                capsys, "--home", str(tmp_path), command, "healthy-mlp", "--name", name, "--set", "train.steps=5"
            )
            assert code == 2 and one_clear_line(err, "invalid input", "--name", "control characters"), err
            assert "\x1b" not in err
    assert Store(tmp_path).list_runs().empty
    code, out, err = cli(
        capsys,
        "--home",
        str(tmp_path),
        "run",
        "healthy-mlp",
        "--name",
        "café ../ünï",
        *["--set", "train.steps=5", "--set", "train.eval_every=5", "--json"],
    )
    assert code == 0, err  # unicode and path-like names still pass


def test_control_characters_stored_before_are_escaped_by_ls_and_show(tmp_path, capsys):
    """Item 15: rows stored before the check print with their control characters escaped."""
    run_id = tiny_run(tmp_path)
    tamper(tmp_path, "UPDATE runs SET name = ?, recipe = ? WHERE id = ?", "a\x1b[31mred\nline", "r\x07", run_id)
    for args in (["ls"], ["show", run_id]):
        code, out, err = cli(capsys, "--home", str(tmp_path), *args)
        assert code == 0, err
        assert "\x1b" not in out and "\x07" not in out and "a\\x1b[31mred\\nline" in out, out


# -- 16: checkpoints -------------------------------------------------------------


def trainer_for(recipe):
    prepared = session.prepare(recipe)
    return Trainer(recipe, prepared.data, prepared.model, prepared.device, [])


def test_a_checkpoint_is_one_file_holding_weights_and_optimizer_state(tmp_path):
    """Item 16a: state.pt alone resumes a run (weights, optimizer, step); no separate weights file to mismatch."""
    run_id = tiny_run(tmp_path)
    folder = tmp_path / "runs" / run_id
    assert (folder / "state.pt").is_file() and not (folder / "last.safetensors").exists()
    state = torch.load(folder / "state.pt", weights_only=True)
    assert state["format"] == 2 and state["step"] == 40 and state["model"] and state["optimizer"]["param_groups"]
    trainer = trainer_for(load_recipe(None, TINY))
    assert checkpoint.restore(folder, trainer) == 40
    for name, value in trainer.state.model.state_dict().items():
        assert torch.equal(value.cpu(), state["model"][name])
    assert not list(folder.glob(".*.tmp"))


def test_a_checkpoint_in_the_older_two_file_format_still_restores(tmp_path):
    """Item 16a: format 1 (weights in last.safetensors beside state.pt) resumes as before."""
    run_id = tiny_run(tmp_path)
    folder = tmp_path / "runs" / run_id
    state = torch.load(folder / "state.pt", weights_only=True)
    save_file(state.pop("model"), str(folder / "last.safetensors"))
    del state["format"]
    torch.save(state, folder / "state.pt")
    trainer = trainer_for(load_recipe(None, TINY))
    assert checkpoint.restore(folder, trainer) == 40


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-checkpoint",))


def test_a_refused_checkpoint_stores_our_message_not_torchs_advice(tmp_path, monkeypatch):
    """Item 16b: a pickle payload in state.pt never runs, and the run's error never advises weights_only=False."""
    monkeypatch.chdir(tmp_path)
    run_id = tiny_run(tmp_path)
    folder = tmp_path / "runs" / run_id
    torch.save({"step": 1, "optimizer": _Payload()}, folder / "state.pt")
    recipe = load_recipe(None, TINY)
    with Store(tmp_path) as store, pytest.raises(checkpoint.CheckpointRefused) as refused:
        session.train(store, run_id, session.prepare(recipe), resume=True)
    error = Store(tmp_path).get_run(run_id)["error"]
    for text in (str(refused.value), error):
        assert "refused" in text and "state.pt" in text and "weights_only" not in text and "Traceback" not in text
    assert not (tmp_path / "pwned-by-checkpoint").exists()


# -- 11c: GRADCLINIC_MAX_RUNS ----------------------------------------------------


@pytest.mark.parametrize("value", ["abc", "0", "-3", "65", "1e3"])
def test_a_bad_max_runs_setting_exits_2_naming_it_and_queues_nothing(tmp_path, capsys, monkeypatch, value):
    """Item 11c: $GRADCLINIC_MAX_RUNS must be 1..64; anything else is refused before a run is stored."""
    monkeypatch.setenv("GRADCLINIC_MAX_RUNS", value)
    for args in (["launch", "healthy-mlp"], ["ls"]):
        code, out, err = cli(capsys, "--home", str(tmp_path), *args)
        assert code == 2 and one_clear_line(err, "GRADCLINIC_MAX_RUNS", "1 to 64"), err
    assert Store(tmp_path).list_runs().empty
    monkeypatch.setenv("GRADCLINIC_MAX_RUNS", "3")
    assert queue.default_concurrency() == 3


# -- 7: doctor on a sound store --------------------------------------------------


def test_doctor_calls_a_sound_store_sound(tmp_path, capsys):
    """Item 7: `doctor` on an undamaged store: SQLite's check passes and every run reads back."""
    run_id = tiny_run(tmp_path)
    code, out, err = cli(capsys, "--home", str(tmp_path), "doctor", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] and report["runs"]["intact"] == [run_id] and report["integrity"] == []
    code, out, err = cli(capsys, "--home", str(tmp_path / "nowhere"), "doctor")
    assert code == 1 and one_clear_line(err, "no run store"), err
