"""The run store: round trips, incremental reads, safety checks and concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
import threading
import time

import numpy as np
import pytest

from engine.config.errors import StoreError
from engine.config.names import STATUSES, TERMINAL
from engine.store import Store
from engine.store.connection import StoreBase
from engine.store.schema import SCHEMA_VERSION

RECIPE = {"name": "vanishing-sigmoid", "seed": 0, "model": {"depth": 3, "activation": "sigmoid"}}


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "home") as s:
        yield s


@pytest.fixture
def run(store):
    run_id = store.create_run(RECIPE, name="baseline", group="lesson-1", total_steps=100)
    store.set_layers(
        run_id,
        [("layers.0", "linear"), ("layers.1", "linear"), ("head", "linear")],
        [("act.0", "sigmoid"), ("act.1", "sigmoid")],
    )
    return run_id


def test_new_store_creates_its_files(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADCLINIC_HOME", str(tmp_path / "from-env"))
    with Store() as store:
        assert store.home == tmp_path / "from-env"
        assert (store.home / "runs.db").is_file() and (store.home / "runs").is_dir()
        mode = store._rows("PRAGMA journal_mode")[0][0]
        assert mode == "wal"


def test_many_connections_may_create_a_new_store_at_once(tmp_path):
    errors, ids = [], []

    def open_and_write():
        try:
            with Store(tmp_path / "fresh") as s:
                ids.append(s.create_run(RECIPE))
        except Exception as exc:  # collected, so the assert below shows it
            errors.append(exc)

    threads = [threading.Thread(target=open_and_write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Store(tmp_path / "fresh") as store:
        assert errors == [] and len(store.list_runs()) == len(set(ids)) == 8


def test_run_round_trip(store, run):
    info = store.get_run(run)
    assert info["id"] == run and len(run) == 8 and int(run, 16) >= 0
    assert info["name"] == "baseline" and info["group_id"] == "lesson-1" and info["total_steps"] == 100
    assert info["recipe"] == RECIPE and info["recipe_name"] == "vanishing-sigmoid"
    assert info["status"] == "queued" and info["started"] is None and info["summary"] is None

    store.update_run(run, device="cpu", pid=1234, summary={"final": {"val_loss": float("nan")}})
    info = store.get_run(run)
    assert info["device"] == "cpu" and info["pid"] == 1234 and np.isnan(info["summary"]["final"]["val_loss"])
    store.update_run(run, summary=None, step=np.int64(3))
    assert store.get_run(run)["summary"] is None and store.get_run(run)["step"] == 3
    with pytest.raises(ValueError, match="recipe_json"):
        store.update_run(run, recipe_json="{}")


def test_status_stamps_and_bad_status(store, run):
    store.set_status(run, "running")
    started = store.get_run(run)["started"]
    assert started is not None and store.get_run(run)["ended"] is None
    store.set_status(run, "failed", error="CUDA out of memory")
    info = store.get_run(run)
    assert info["started"] == started and info["ended"] >= started and info["error"] == "CUDA out of memory"
    assert set(TERMINAL) == set(STATUSES) - {"queued", "running"}
    with pytest.raises(ValueError, match="unknown run status 'done'"):
        store.set_status(run, "done")
    with pytest.raises(ValueError, match="unknown run status"):
        store.create_run(RECIPE, status="finished")


def test_list_runs_newest_first_with_filters(store):
    a = store.create_run(RECIPE, group="g")
    b = store.create_run({"name": "exploding"}, group="g")
    c = store.create_run(RECIPE)
    store.set_status(c, "running")
    assert list(store.list_runs()["id"]) == [c, b, a]
    assert "recipe_json" not in store.list_runs().columns
    assert list(store.list_runs(group="g")["id"]) == [b, a]
    assert list(store.list_runs(recipe="vanishing-sigmoid")["id"]) == [c, a]
    assert list(store.list_runs(status=["queued"])["id"]) == [b, a]
    assert list(store.list_runs(limit=1, offset=1)["id"]) == [b]


def test_scalars_round_trip_and_incremental_reads(store, run):
    store.flush(run, scalars=[(s, "train_loss", 1.0 / (s + 1)) for s in range(10)])
    more = [(s, "train_loss", 0.1) for s in range(10, 15)]
    store.flush(run, scalars=more + [(14, "val_loss", np.float32(0.5))])
    df = store.scalars(run)
    assert len(df) == 16 and df["step"].dtype == np.int64 and df["value"].dtype == np.float64
    newer = store.scalars(run, since_step=11)
    assert sorted(set(newer["step"])) == [12, 13, 14]
    assert list(store.scalars(run, names=["val_loss"])["value"]) == [0.5]
    wide = store.scalars_wide(run, since_step=12)
    assert list(wide.index) == [13, 14] and list(wide.columns) == ["train_loss", "val_loss"]
    assert np.isnan(wide.loc[13, "val_loss"])
    assert store.get_run(run)["step"] == 14  # the last flushed step


def test_scalars_keep_nan_and_inf(store, run):
    store.flush(
        run,
        scalars=[
            (0, "train_loss", float("nan")),
            (0, "grad_norm", float("inf")),
            (0, "lr", -np.inf),
            (0, "gone", None),
        ],
    )
    values = dict(store.scalars(run)[["name", "value"]].values)
    assert values["grad_norm"] == np.inf and values["lr"] == -np.inf
    assert np.isnan(values["train_loss"]) and np.isnan(values["gone"])


def test_layer_stats_round_trip_with_nan_and_inf(store, run):
    grads = np.array([[1e-8, 0.5, 2.0], [np.nan, np.inf, -np.inf], [3.0, 4.0, 5.0]])
    store.declare_stats({"act_dead_fraction": "activation"})
    store.flush(
        run,
        layer_stats={
            "grad_norm": (np.array([0, 10, 20]), grads),
            "act_dead_fraction": (np.array([10]), np.array([[0.0, 0.9]])),
        },
    )
    steps, names, values = store.layer_matrix(run, "grad_norm")
    assert steps.tolist() == [0, 10, 20] and names == ["layers.0", "layers.1", "head"]
    np.testing.assert_array_equal(values, grads)  # NaN, +Inf and -Inf all come back

    steps, names, values = store.layer_matrix(run, "grad_norm", since_step=10)
    assert steps.tolist() == [20] and values.tolist() == [[3.0, 4.0, 5.0]]

    long = store.layer_stats(run)
    assert list(long.columns) == ["stat", "step", "layer", "layer_name", "value"]
    acts = long[long["stat"] == "act_dead_fraction"]
    assert list(acts["layer_name"]) == ["act.0", "act.1"]  # declared as following the activation catalogue
    one = store.layer_stats(run, "grad_norm", since_step=0)
    assert len(one) == 6 and np.isnan(one["value"]).sum() == 1 and np.isinf(one["value"]).sum() == 2
    assert store.layer_stats(run, "no_such_stat").empty
    assert store.layer_matrix(run, "no_such_stat")[2].shape == (0, 3)


def test_a_long_history_can_be_read_as_an_even_sample(store, run):
    steps = np.arange(5, 50_001, 5)  # recorded every 5th step, as a probe interval would
    values = np.stack([steps * 1.0, -steps * 1.0, np.full(steps.size, 7.0)], axis=1)
    store.flush(run, layer_stats={"grad_norm": (steps, values)})
    got, names, sample = store.layer_matrix(run, "grad_norm", bins=100)
    assert 90 <= len(got) <= 100 and got[0] == 5 and got[-1] == 50_000
    assert np.all(np.diff(got) > 0) and set(got) <= set(steps.tolist())  # only steps that exist
    np.testing.assert_array_equal(sample[:, 0], got * 1.0)  # each row is that step's real values
    assert np.ptp(np.diff(got)) <= 10  # evenly spaced, give or take the recording interval
    short, _, _ = store.layer_matrix(run, "grad_norm", since_step=49_900, bins=100)
    assert short.tolist() == list(range(49_905, 50_001, 5))  # a short tail comes back whole


def test_flush_replaces_a_rewritten_step_and_checks_shapes(store, run):
    store.flush(run, layer_stats={"grad_norm": ([5], [[1.0, 1.0, 1.0]])}, scalars=[(5, "lr", 0.1)])
    store.flush(run, layer_stats={"grad_norm": ([5], [[2.0, 2.0, 2.0]])}, scalars=[(5, "lr", 0.2)])
    assert store.layer_matrix(run, "grad_norm")[2].tolist() == [[2.0, 2.0, 2.0]]
    assert store.scalars(run)["value"].tolist() == [0.2]
    with pytest.raises(ValueError, match="shape"):
        store.flush(run, layer_stats={"grad_norm": ([1, 2], np.zeros((3, 4)))})


def test_layers_catalogue(store, run):
    layers = store.layers(run)
    assert list(layers["kind"]) == ["param"] * 3 + ["activation"] * 2
    assert list(layers["name"]) == ["layers.0", "layers.1", "head", "act.0", "act.1"]
    store.set_layers(run, ["only"])  # replaces; bare names are fine
    assert store.layers(run)[["kind", "idx", "name"]].values.tolist() == [["param", 0, "only"]]


def test_findings_round_trip_replace_and_clear(store, run):
    finding = {
        "code": "vanishing_gradients",
        "severity": "critical",
        "first_step": 40,
        "layers": ["layers.0"],
        "message": "grads shrink",
        "evidence": {"ratio": np.float64(1e-6)},
        "remedies": [{"set": {"model.init": "he_normal"}, "why": "keeps variance"}],
    }
    store.add_findings(run, [{"code": "loss_plateau", "severity": "warning", "first_step": 10}, finding])
    found = store.findings(run)
    assert [f["code"] for f in found] == ["vanishing_gradients", "loss_plateau"]  # most severe first
    assert {k: found[0][k] for k in finding} == {**finding, "evidence": {"ratio": 1e-6}}
    store.add_findings(run, [{**finding, "first_step": 80}])
    assert len(store.findings(run)) == 2 and store.findings(run)[0]["first_step"] == 80
    store.clear_findings(run)
    assert store.findings(run) == []


def test_events_heartbeat_and_stop(store, run):
    store.add_event(run, 3, "probe_schedule", {"every": 10})
    store.flush(run, events=[(4, "eval", {"val_loss": 0.3})])
    assert store.stop_requested(run) is False
    store.request_stop(run)
    assert store.stop_requested(run) is True
    events = store.events(run)
    assert list(events["kind"]) == ["probe_schedule", "eval", "stop_requested"]
    assert events["payload"][0] == {"every": 10}
    assert list(store.events(run, kind="eval")["step"]) == [4]
    store.flush(run, events=[(9, "eval", {"val_loss": 0.2})])
    assert store.last_event(run, "eval")["payload"] == {"val_loss": 0.2}  # the newest, not the first
    assert store.last_event(run, "samples") is None
    store.heartbeat(run, step=7)
    info = store.get_run(run)
    assert info["step"] == 7 and time.time() - info["heartbeat"] < 60


def test_resolve_by_id_prefix_and_name(store):
    ids = [store.create_run(RECIPE, name=f"run-{i}") for i in range(3)]
    store.create_run(RECIPE, name="twin")
    store.create_run(RECIPE, name="twin")
    assert store.resolve(ids[0]) == ids[0]
    assert store.resolve(ids[1].upper()) == ids[1]
    assert store.resolve("run-2") == ids[2]
    unique = next(
        p
        for p in (i[:n] for i in ids for n in range(3, 9))
        if sum(j.startswith(p) for j in store.list_runs()["id"]) == 1
    )
    assert store.resolve(unique) in ids
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.resolve("nope")
    with pytest.raises(StoreError, match="at least 3 characters"):
        store.resolve(ids[0][:2])
    with pytest.raises(StoreError, match="'twin' matches 2 runs: "):
        store.resolve("twin")


def test_prefix_matching_several_runs_is_refused(store):
    for _ in range(3):
        store.create_run(RECIPE)
    rows = [(f"abc0000{i}", i) for i in range(3)]
    with store._write() as c:
        c.executemany("UPDATE runs SET id = ? WHERE seq = ? + 1", rows)
    with pytest.raises(StoreError, match="'abc' matches 3 runs: abc00000, abc00001, abc00002"):
        store._seqs.clear()
        store.resolve("abc")


def test_unknown_schema_version_is_refused(tmp_path):
    home = tmp_path / "home"
    Store(home).close()
    with sqlite3.connect(home / "runs.db") as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError) as err:
        Store(home)
    msg = str(err.value)
    assert str(home / "runs.db") in msg  # names the file,
    assert "schema version 99" in msg and f"schema version {SCHEMA_VERSION}" in msg  # and both versions


def _downgrade_to_v1(home, rows):
    """Rewrite a fresh store file as schema version 1 (a layer_stats row per layer) holding ``rows``."""
    with sqlite3.connect(home / "runs.db") as conn:
        conn.execute("DROP TABLE layer_stats")
        conn.execute(
            "CREATE TABLE layer_stats (run INTEGER NOT NULL, stat INTEGER NOT NULL, step INTEGER NOT NULL,"
            " layer INTEGER NOT NULL, value REAL, PRIMARY KEY (run, stat, step, layer)) WITHOUT ROWID"
        )
        conn.executemany("INSERT INTO layer_stats VALUES (?, ?, ?, ?, ?)", rows)
        _drop_scope_column(conn)
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")


def _drop_scope_column(conn):
    """stat_names as versions 1 and 2 had it: no scope column."""
    conn.execute("CREATE TABLE stat_names_old (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
    conn.execute("INSERT INTO stat_names_old SELECT id, name FROM stat_names")
    conn.execute("DROP TABLE stat_names")
    conn.execute("ALTER TABLE stat_names_old RENAME TO stat_names")


def test_a_version_1_store_is_converted_when_opened_and_keeps_every_value(tmp_path):
    home = tmp_path / "home"
    with Store(home) as store:
        run_id = store.create_run(RECIPE)
        store.set_layers(run_id, [("a", "linear"), ("b", "linear"), ("c", "linear")])
        seq, sid = store._seq(run_id), store._stat_id("grad_norm")
    # Version 1 stored NaN as NULL; step 20 never reached layer 2.
    _downgrade_to_v1(
        home,
        [
            (seq, sid, 10, 0, 1.0),
            (seq, sid, 10, 1, None),
            (seq, sid, 10, 2, float("inf")),
            (seq, sid, 20, 0, 4.0),
            (seq, sid, 20, 1, 5.0),
        ],
    )
    with Store(home) as store:
        steps, names, values = store.layer_matrix(run_id, "grad_norm")
        assert steps.tolist() == [10, 20] and names == ["a", "b", "c"]
        np.testing.assert_array_equal(values, [[1.0, np.nan, np.inf], [4.0, 5.0, np.nan]])
        store.flush(run_id, layer_stats={"grad_norm": ([30], [[7.0, 8.0, 9.0]])})  # and it takes new rows
        assert store.layer_matrix(run_id, "grad_norm", since_step=20)[2].tolist() == [[7.0, 8.0, 9.0]]
    with sqlite3.connect(home / "runs.db") as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
        assert "layer_stats_v1" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}


def test_a_failed_conversion_leaves_the_version_1_file_as_it_was(tmp_path, monkeypatch):
    from engine.store import migrations

    home = tmp_path / "home"
    with Store(home) as store:
        run_id = store.create_run(RECIPE)
        seq, sid = store._seq(run_id), store._stat_id("grad_norm")
    _downgrade_to_v1(home, [(seq, sid, 1, 0, 1.0)])
    monkeypatch.setattr(migrations, "UPSERT_LAYER_STAT", "INSERT INTO no_such_table VALUES (?, ?, ?, ?)")
    with pytest.raises(StoreError):
        Store(home)
    with sqlite3.connect(home / "runs.db") as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "1"
        assert conn.execute("SELECT run, stat, step, layer, value FROM layer_stats").fetchall() == [
            (seq, sid, 1, 0, 1.0)
        ]


def test_a_version_2_store_learns_each_statistics_scope_when_opened(tmp_path):
    home = tmp_path / "home"
    with Store(home) as store:
        run_id = store.create_run(RECIPE)
        store.set_layers(run_id, [("fc.0", None), ("fc.1", None)], [("act.0", "relu")])
        store.flush(
            run_id,
            layer_stats={"act_std": ([1], [[0.5]]), "dead_fraction": ([1], [[0.0]]), "grad_norm": ([1], [[1.0, 2.0]])},
        )
    with sqlite3.connect(home / "runs.db") as conn:  # as version 2 wrote it: scope guessed from the name
        _drop_scope_column(conn)
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    with Store(home) as store:
        assert [store.stat_scope(s) for s in ("act_std", "dead_fraction", "grad_norm")] == [
            "activation",
            "activation",
            "param",
        ]
        assert store.layer_matrix(run_id, "dead_fraction")[1] == ["act.0"]
        assert store.stats(run_id) == ["act_std", "dead_fraction", "grad_norm"]


def test_the_writer_declares_a_statistics_scope_and_reads_follow_it(store, run):
    store.set_layers(run, [("fc.0", None), ("fc.1", None)], [("act.0", "relu"), ("act.1", "relu")])
    store.declare_stats({"spikiness": "activation"})  # a new probe's name says nothing about its scope
    store.flush(run, layer_stats={"spikiness": ([3], [[0.1, 0.2]])})
    assert store.layer_stats(run, "spikiness")["layer_name"].tolist() == ["act.0", "act.1"]
    with pytest.raises(ValueError, match="scope must be one of"):
        store.declare_stats({"odd": "galaxy"})


def test_a_step_is_one_row_holding_every_layer(store, run):
    store.flush(run, layer_stats={"grad_norm": (np.arange(5), np.random.rand(5, 3))})
    n = store._rows("SELECT COUNT(*) FROM layer_stats WHERE run = ?", (store._seq(run),))[0][0]
    assert n == 5  # not 15: SQLite's cost is per row


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "runs.db").write_bytes(b"this is not a database, just text" * 100)
    with pytest.raises(StoreError, match="is not a Gradient Clinic run store"):
        Store(tmp_path / "junk")
    (tmp_path / "other").mkdir()
    with sqlite3.connect(tmp_path / "other" / "runs.db") as conn:
        conn.execute("CREATE TABLE photos (id INTEGER)")
    with pytest.raises(StoreError, match="not a Gradient Clinic run store"):
        Store(tmp_path / "other")


def test_delete_run_removes_rows_and_folder(store, run, monkeypatch):
    monkeypatch.setattr(StoreBase._delete_chunked, "__defaults__", (7,))  # exercise the chunk loop
    other = store.create_run(RECIPE)
    for r in (run, other):
        store.flush(
            r,
            scalars=[(s, "loss", 1.0) for s in range(20)],
            layer_stats={"grad_norm": (np.arange(20), np.ones((20, 3)))},
            events=[(1, "x", {})],
        )
        store.add_findings(r, [{"code": "dead_units", "severity": "warning"}])
    folder = store.runs_dir(run)
    (folder / "checkpoint.safetensors").write_bytes(b"x")
    store.delete_run(run)
    assert not folder.exists()
    with pytest.raises(StoreError, match="no run"):
        store.get_run(run)
    for table in ("scalars", "layer_stats", "layers", "findings", "events"):
        counts = dict(store._rows(f"SELECT run, count(*) FROM {table} GROUP BY run"))
        assert list(counts) == ([store._seq(other)] if table != "layers" else []), table
    assert len(store.scalars(other)) == 20 and store.layer_matrix(other, "grad_norm")[2].shape == (20, 3)


def test_a_worker_notices_its_run_was_deleted(store, run):
    with Store(store.home) as worker:
        worker.flush(run, scalars=[(0, "loss", 1.0)])  # the worker knows the run
        store.delete_run(run)  # ... and the app deletes it
        assert worker.stop_requested(run) is True
        with pytest.raises(StoreError, match="was deleted"):
            worker.flush(run, scalars=[(1, "loss", 1.0)])
    assert store._rows("SELECT count(*) FROM scalars")[0][0] == 0


def test_runs_dir_never_escapes_the_store(store, run):
    assert store.runs_dir(run) == store.home / "runs" / run and store.runs_dir(run).is_dir()
    for bad in ("../../etc", "..", "ABCDEF12", "abc", "1234567/", "/tmp/x", run + "/..", None):
        with pytest.raises(StoreError, match="not a run id"):
            store.runs_dir(bad)
    with pytest.raises(StoreError, match="no run"):
        store.runs_dir("0000ffff" if run != "0000ffff" else "0000fffe")


def test_closed_store_refuses_calls(tmp_path):
    store = Store(tmp_path)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.list_runs()


def _writer(home, run_id, batches, steps_per_batch, n_layers):
    """One worker process: flush ``batches`` batches the way the trainer does."""
    with Store(home) as store:
        for b in range(batches):
            steps = np.arange(b * steps_per_batch, (b + 1) * steps_per_batch)
            store.flush(
                run_id,
                scalars=[(int(s), "train_loss", float(s)) for s in steps],
                layer_stats={"grad_norm": (steps, np.random.rand(len(steps), n_layers))},
                events=[(int(steps[-1]), "flush", {"batch": b})],
            )
    return run_id


def test_four_writer_processes_and_a_polling_reader(store):
    batches, per_batch, n_layers = 200, 5, 8
    runs = [store.create_run(RECIPE, name=f"w{i}") for i in range(4)]
    seen = {r: {} for r in runs}  # run -> {step: value}, filled by incremental reads only

    def poll():
        for r in runs:
            since = max(seen[r], default=-1)
            new = store.scalars(r, since_step=since)
            assert (new["step"] > since).all()
            seen[r].update(zip(new["step"], new["value"]))

    with mp.get_context("spawn").Pool(4) as pool:
        result = pool.starmap_async(_writer, [(store.home, r, batches, per_batch, n_layers) for r in runs])
        while not result.ready():
            poll()
            time.sleep(0.01)
        assert sorted(result.get(timeout=60)) == sorted(runs)  # re-raises any error from a writer
    poll()
    total = batches * per_batch
    for r in runs:
        assert len(seen[r]) == total and sorted(seen[r]) == list(range(total))
        assert store.layer_matrix(r, "grad_norm")[2].shape == (total, n_layers)
        assert len(store.events(r)) == batches and store.get_run(r)["step"] == total - 1
