"""The fault suite (issue 14): kill -9, SIGSTOP, a held lock, a full disk, damaged pages; nothing flushed is lost.

Background runs are real worker processes. The hooks in ``faulthooks/sitecustomize.py`` (loaded through
PYTHONPATH, only in the workers a test starts with them) land a kill deterministically inside a flush's
transaction or a checkpoint write, and make checkpoints frequent.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from fault_helpers import HOOKS, ROOT, cli, lock_held, one_clear_line, wait_for

from engine.config.recipe import load_recipe
from engine.control import lifecycle, queue
from engine.store import Store, StoreBusy
from engine.store import doctor as store_doctor

pytestmark = pytest.mark.slow  # about three minutes in all: worker processes start, die and resume

LONG = ["model.depth=2", "model.width=16", "train.steps=100000", "train.eval_every=50"]
RNG = random.Random(14)  # the number: the same "random" points on every run of the suite
KILLS = [
    ("at-a-random-moment", None, round(RNG.uniform(0.1, 2.0), 2)),
    ("at-another-random-moment", None, round(RNG.uniform(0.1, 2.0), 2)),
    ("inside-a-flush", f"flush:{RNG.randint(3, 12)}", 0.0),
    ("inside-a-checkpoint-write", f"ckpt-inside:{RNG.randint(2, 5)}", 0.0),
    ("between-checkpoint-writes", f"ckpt-between:{RNG.randint(2, 5)}", 0.0),
]


@contextmanager
def env(**values: str):
    """Set environment variables for what this process spawns meanwhile (a worker copies them at its start)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def hooked(fault_dir: Path, **hooks: str):
    """The environment that loads the fault hooks into the next worker."""
    fault_dir.mkdir(exist_ok=True)
    extra = {f"GC_FAULT_{k.upper()}": v for k, v in hooks.items()}
    # The hooks load at interpreter start (sitecustomize), which a worker forked warm never runs: start cold.
    return env(GC_FAULT_DIR=str(fault_dir), PYTHONPATH=f"{HOOKS}{os.pathsep}{ROOT}", GRADCLINIC_WARM="0", **extra)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADCLINIC_HOME", str(tmp_path))
    monkeypatch.setenv("GRADCLINIC_MAX_RUNS", "4")
    s = Store(tmp_path)
    yield s
    for run in s.list_runs(status="running").to_dict("records"):  # never leave a worker behind
        queue.kill_group(run.get("pid"))
    s.close()


def losses(store: Store, run_id: str) -> dict[int, float]:
    """The run's flushed train_loss rows: {step: value}."""
    df = store.scalars(run_id, names=["train_loss"])
    return dict(zip(df["step"].tolist(), df["value"].tolist()))


def integrity_ok(home: Path) -> bool:
    with sqlite3.connect(home / "runs.db") as conn:
        return conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


# -- kill -9 ---------------------------------------------------------------------


@pytest.mark.parametrize(("where", "pause", "after_s"), KILLS, ids=[k[0] for k in KILLS])
def test_kill_9_loses_nothing_flushed_and_the_run_resumes(store, tmp_path, where, pause, after_s):
    """kill -9 at a seeded point: the run reads crashed, every flushed row stays, resume continues it."""
    faults = tmp_path / "faults"
    with hooked(faults, checkpoint_s="0", pause=pause or ""):
        run_id = lifecycle.launch(store, load_recipe(None, LONG), max_running=4)
    if pause:
        wait_for(lambda: (faults / "paused").is_file(), timeout=120)
        assert json.loads((faults / "paused").read_text())["where"] == pause
        if pause.startswith("flush"):  # it stands inside the write transaction: the lock is its
            with pytest.raises(StoreBusy), store.lock_wait(0):
                store.add_event(run_id, None, "probe", {})
    else:
        wait_for(lambda: store.get_run(run_id)["step"], timeout=120)
        time.sleep(after_s)
    before = losses(store, run_id)  # committed rows only: a paused flush's rows are not among them
    os.kill(store.get_run(run_id)["pid"], signal.SIGKILL)
    crashed = wait_for(lambda: (r := lifecycle.status(store, run_id))["status"] == "crashed" and r, timeout=15)
    assert "disappeared" in crashed["error"]
    after = losses(store, run_id)
    assert before and all(after[s] == v for s, v in before.items())  # nothing flushed is lost or changed
    if pause:
        assert after == before  # the killed transaction left nothing half-written
    assert sorted(after) == list(range(1, len(after) + 1))
    assert integrity_ok(tmp_path)
    folder = tmp_path / "runs" / run_id
    checkpoint = torch.load(folder / "state.pt", weights_only=True)  # the previous checkpoint is whole
    assert checkpoint["model"] and checkpoint["step"] <= max(after)

    lifecycle.resume(store, run_id, max_running=4)  # a worker without the hooks
    wait_for(lambda: (store.get_run(run_id)["step"] or 0) > max(after), timeout=120)  # new rows past the crash
    assert lifecycle.stop(store, run_id, wait=15) == "stopped"
    resumed = store.events(run_id, kind="resumed")
    assert resumed.iloc[-1]["payload"]["step"] == checkpoint["step"]
    final = losses(store, run_id)
    assert sorted(final) == list(range(1, max(final) + 1))  # one row a step, none missing
    assert all(final[s] == v for s, v in before.items() if s <= checkpoint["step"])


# -- SIGSTOP / SIGCONT -----------------------------------------------------------


def test_a_stopped_and_continued_worker_completes_with_every_row(store, tmp_path, capsys):
    """SIGSTOP: the run still reads running (its heartbeat ages); SIGCONT: it completes, no row lost."""
    steps = 600
    run_id = lifecycle.launch(
        store, load_recipe(None, ["model.depth=2", "model.width=16", f"train.steps={steps}", "train.eval_every=100"])
    )
    wait_for(lambda: (store.get_run(run_id)["step"] or 0) >= 100, timeout=120)
    pid = store.get_run(run_id)["pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(0.5)
        beat, frozen = store.get_run(run_id)["heartbeat"], losses(store, run_id)
        time.sleep(2.5)
        code, out, err = cli(capsys, "--home", str(tmp_path), "show", run_id, "--json")
        assert code == 0 and json.loads(out)["status"] == "running", err  # alive, only stopped
        assert store.get_run(run_id)["heartbeat"] == beat  # silent meanwhile: `ls` shows its heartbeat ageing
        assert losses(store, run_id) == frozen
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: store.get_run(run_id)["status"] == "completed", timeout=120)
    final = losses(store, run_id)
    assert sorted(final) == list(range(1, steps + 1)) and all(final[s] == v for s, v in frozen.items())


# -- a lock held for 30 s --------------------------------------------------------


def test_a_lock_held_30s_by_another_process(store, tmp_path, capsys):
    """BEGIN IMMEDIATE held 30 s: ls and show answer, a writer gets one clear line, the worker loses nothing."""
    steps = 2000  # it ends during the lock (or trains through it): either way its rows wait in memory
    run_id = lifecycle.launch(
        store, load_recipe(None, ["model.depth=2", "model.width=16", f"train.steps={steps}", "train.eval_every=100"])
    )
    wait_for(lambda: (store.get_run(run_id)["step"] or 0) >= 100, timeout=120)
    writers = (["launch", "healthy-mlp"], ["run", "healthy-mlp", "--set", "train.steps=5"])
    with lock_held(tmp_path / "runs.db", 30) as holder:
        procs = [  # each waits the usual 10 s for the lock, then says so
            subprocess.Popen(
                [sys.executable, "-m", "engine.cli", "--home", str(tmp_path), *w],
                cwd=ROOT,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for w in writers
        ]
        code, out, err = cli(capsys, "--home", str(tmp_path), "ls")
        assert code == 0 and run_id in out and "running" in out, err
        code, out, err = cli(capsys, "--home", str(tmp_path), "show", run_id, "--json")
        assert code == 0 and json.loads(out)["status"] == "running", err
        for proc, w in zip(procs, writers):
            out, err = proc.communicate(timeout=60)
            # "busy" is itself the proof that the lock was held when each tried (a freed lock lets them write);
            # on a loaded machine their start-up may outlast the 30 s, so the holder's own state proves nothing.
            assert proc.returncode == 1 and one_clear_line(err, "is busy", "held its write lock for 10 s"), (w, err)
        holder.wait()
    done = wait_for(lambda: (r := store.get_run(run_id))["status"] not in ("queued", "running") and r, timeout=240)
    assert done["status"] == "completed" and done["error"] is None, done["error"]
    assert sorted(losses(store, run_id)) == list(range(1, steps + 1))
    assert len(store.list_runs()) == 1  # the refused writers stored nothing
    log = (tmp_path / "runs" / run_id / "worker.log").read_text()
    assert "keeping its rows" in log and "Traceback" not in log


# -- a full disk -----------------------------------------------------------------


@pytest.fixture(params=["tmpfs", "simulated"])
def small_disk(request, tmp_path):
    """A home on a 6 MB tmpfs filled to its last 400 KB, or (where mount is refused) a store capped in pages."""
    home = tmp_path / "disk" / "home"
    if request.param == "simulated":
        Store(home).close()
        yield home, {"full_after": "3"}
        return
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("this machine does not allow mounting a tmpfs (the simulated case covers it)")
    try:
        Store(home).close()
        free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
        (mount / "filler").write_bytes(b"\0" * (free - 400_000))
        yield home, {}
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def free_space(home: Path) -> None:
    (home.parent / "filler").unlink(missing_ok=True)


def check_full(home: Path, run_id: str, message: str) -> None:
    """What a full disk must leave: a sound store, the run failed with the message, rows up to a step."""
    assert integrity_ok(home)
    with Store(home) as store:
        run = lifecycle.status(store, run_id)
        assert run["status"] == "failed" and "full" in run["error"] and "Traceback" not in run["error"]
        assert "full" in message
        kept = losses(store, run_id)
        assert sorted(kept) == list(range(1, len(kept) + 1))
        assert store.create_run(load_recipe().to_dict())  # with space again, the store takes new runs


def test_disk_full_in_a_foreground_run_says_so_in_one_line(small_disk):
    """`gradclinic run` on a full disk: exit 1 with one line saying the disk is full and what was kept."""
    home, hooks = small_disk
    args = ["--home", str(home), "run", "healthy-mlp", "--set", "model.depth=2", "--set", "model.width=16"]
    args += ["--set", "train.steps=20000", "--set", "train.eval_every=100", "--json"]
    with hooked(home.parent / "faults", **hooks) if hooks else env():
        proc = subprocess.run(
            [sys.executable, "-m", "engine.cli", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
        )
    assert proc.returncode == 1 and proc.stdout == "" and "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]  # (the lines before it are the run's up-front estimate)
    assert one_clear_line(last, "is full", "kept up to step"), proc.stderr
    free_space(home)
    with Store(home) as store:
        run_id = store.list_runs()["id"].iloc[0]
        step = int(last.split("kept up to step ")[1].split()[0])
        assert max(losses(store, run_id)) == step  # the message says exactly what is kept
    check_full(home, run_id, last)


def test_disk_full_in_a_background_run_fails_it_with_the_message(small_disk, monkeypatch):
    """A worker on a full disk: the run ends failed with the one-line message, the store stays sound."""
    home, hooks = small_disk
    monkeypatch.setenv("GRADCLINIC_HOME", str(home))
    recipe = load_recipe(None, ["model.depth=2", "model.width=16", "train.steps=20000", "train.eval_every=100"])
    with Store(home) as store:
        with hooked(home.parent / "faults", **hooks) if hooks else env():
            run_id = lifecycle.launch(store, recipe, max_running=4)
        run = wait_for(lambda: (r := lifecycle.status(store, run_id))["status"] != "running" and r, timeout=240)
    free_space(home)
    check_full(home, run_id, run["error"])


# -- damaged pages ---------------------------------------------------------------


def three_runs(home: Path) -> dict[str, dict]:
    """Runs a, b (big) and c with every kind of row; what each holds, read back before any damage."""
    import numpy as np

    held = {}
    with Store(home) as store:
        for label, steps in (("a", 40), ("b", 6000), ("c", 40)):
            run_id = store.create_run(load_recipe().to_dict(), name=label, total_steps=steps)
            store.set_layers(run_id, ["l0", "l1"])
            for lo in range(0, steps, 500):
                rng = range(lo + 1, min(lo + 500, steps) + 1)
                store.flush(
                    run_id,
                    scalars=[(s, "train_loss", 1.0 / s) for s in rng],
                    layer_stats={"grad_norm": (list(rng), np.full((len(rng), 2), 0.5))},
                    events=[(rng[0], "note", {"at": rng[0]})],
                )
            store.add_findings(run_id, [{"code": "plateau", "severity": "info", "message": label}])
            store.set_status(run_id, "running")
            store.set_status(run_id, "completed")
            held[label] = {"id": run_id, "losses": losses(store, run_id), "events": len(store.events(run_id))}
    assert not (home / "runs.db-wal").exists() or (home / "runs.db-wal").stat().st_size == 0
    return held


def damage(db: Path, table: str, middle: bool = True) -> None:
    """Overwrite one page of ``table`` (its middle leaf, or its root) with garbage; the file header stays valid."""
    with sqlite3.connect(db) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        if middle:
            leaves = [
                r[0]
                for r in conn.execute(
                    "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY path", (table,)
                )
            ]
            page = leaves[len(leaves) // 2]
        else:
            page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    assert page > 1
    with open(db, "r+b") as f:
        f.seek((page - 1) * size)
        f.write(bytes([0xFF]) * size)


def test_damaged_pages_are_named_and_doctor_salvages_the_intact_runs(tmp_path, capsys):
    """A damaged page of one run's rows: its commands say so in one line; doctor copies the other runs out."""
    held = three_runs(tmp_path)
    damage(tmp_path / "runs.db", "scalars")  # the middle of b's rows
    a, b, c = (held[k]["id"] for k in "abc")
    home = ["--home", str(tmp_path)]
    code, out, err = cli(capsys, *home, "ls")
    assert code == 0 and all(i in out for i in (a, b, c)), err  # the runs table itself is sound
    for args in (["show", b], ["export", b, "--out", str(tmp_path / "out")], ["diagnose", b]):
        code, out, err = cli(capsys, *home, *args)
        assert code == 1 and one_clear_line(err, "runs.db", "is damaged", "malformed", "doctor"), (args, err)
    assert cli(capsys, *home, "show", a)[0] == 0

    code, out, err = cli(capsys, *home, "doctor", "--json")
    report = json.loads(out)
    assert code == 1 and not report["ok"] and report["problems"] > 0 and report["integrity"]
    assert report["runs"]["intact"] == [a, c] and [d["id"] for d in report["runs"]["damaged"]] == [b]
    code, out, err = cli(capsys, *home, "doctor", "--salvage", str(tmp_path / "saved"))
    assert code == 0 and "copied 2 intact run(s)" in out, err
    with Store(tmp_path / "saved") as saved:
        assert sorted(saved.list_runs()["id"]) == sorted([a, c])
        for label in "ac":
            run_id = held[label]["id"]
            assert losses(saved, run_id) == held[label]["losses"] and len(saved.events(run_id)) == held[label]["events"]
            assert saved.findings(run_id)[0]["message"] == label
            assert saved.layer_matrix(run_id, "grad_norm")[1] == ["l0", "l1"]
    assert store_doctor.check(tmp_path / "saved")["ok"]
    code, out, err = cli(capsys, *home, "doctor", "--salvage", str(tmp_path / "saved"))
    assert code == 2 and one_clear_line(err, "--salvage", "already holds a run store"), err


def test_a_damaged_runs_table_is_named_by_ls_run_and_doctor(tmp_path, capsys):
    """The runs table's page damaged: ls, run and diagnose say so in one line; doctor reports it."""
    held = three_runs(tmp_path)
    damage(tmp_path / "runs.db", "runs", middle=False)
    home = ["--home", str(tmp_path)]
    runs = ["run", "healthy-mlp", "--set", "train.steps=5", "--set", "train.eval_every=5"]
    for args in (["ls"], runs, ["diagnose", held["a"]["id"]]):
        code, out, err = cli(capsys, *home, *args)
        assert code == 1 and one_clear_line(err, "runs.db", "damaged", "doctor"), (args, err)
    code, out, err = cli(capsys, *home, "doctor")
    assert code == 1 and "DAMAGED" in out and "integrity check found" in out, out
