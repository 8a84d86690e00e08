"""What a person sets on a run from outside: tags and notes, pause and slow motion, in the store and the CLI."""

from __future__ import annotations

import sqlite3

import pytest

from engine.config import limits
from engine.config.errors import RecipeError
from engine.control import lifecycle
from engine.store import Store
from engine.store.migrations import V4_RUN_COLUMNS
from engine.store.schema import SCHEMA_VERSION
from tests.engine.fault_helpers import cli, one_clear_line

RECIPE = {"name": "healthy-mlp", "seed": 0}


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "home") as s:
        yield s


@pytest.fixture
def run(store):
    return store.create_run(RECIPE, name="baseline", total_steps=100)


def test_tags_are_stored_as_one_word_each_in_the_order_given(store, run):
    assert store.set_tags(run, " baseline,he-init, baseline ,, v2.1 ") == "baseline, he-init, v2.1"
    assert store.get_run(run)["tags"] == "baseline, he-init, v2.1"
    assert store.set_tags(run, ["größe", "lr_0.1"]) == "größe, lr_0.1"  # any script's letters
    assert store.list_runs().loc[0, "tags"] == "größe, lr_0.1"
    assert store.set_tags(run, "") == ""


@pytest.mark.parametrize(
    ("tags", "words"),
    [
        ("good run", ["'good run' is not one word", "'good-run'"]),
        ("ok, \x1b[31mred", ["control characters", "'\\x1b'"]),
        ("a" * (limits.MAX_TAG_CHARS + 1), [f"at most {limits.MAX_TAG_CHARS}"]),
        (",".join(f"t{i}" for i in range(limits.MAX_TAGS + 1)), [f"at most {limits.MAX_TAGS}"]),
        ("x," * 10_000, ["characters; a run takes at most"]),
        ("semi;colon", ["not one word"]),
    ],
)
def test_a_bad_tag_is_refused_by_name_and_nothing_is_stored(store, run, tags, words):
    store.set_tags(run, "kept")
    with pytest.raises(RecipeError) as err:
        store.set_tags(run, tags)
    message = str(err.value)
    assert message.startswith("tags: ") and "\n" not in message and len(message) < 400
    assert all(w in message for w in words), message
    assert store.get_run(run)["tags"] == "kept"


def test_notes_are_one_bounded_line(store, run):
    assert store.set_notes(run, "  lr too high? try 0.01  ") == "lr too high? try 0.01"
    assert store.get_run(run)["notes"] == "lr too high? try 0.01"
    with pytest.raises(RecipeError, match=r"notes: control characters .* '\\n' at character 6"):
        store.set_notes(run, "line1\nline2")
    with pytest.raises(RecipeError, match=f"at most {limits.MAX_NOTE_CHARS:,}"):
        store.set_notes(run, "x" * (limits.MAX_NOTE_CHARS + 1))
    assert store.get_run(run)["notes"] == "lr too high? try 0.01"


def test_pause_and_pace_are_read_in_one_lookup_with_the_stop_flag(store, run):
    assert tuple(store.control(run)) == (False, False, 0, False)  # stop, paused, pace_ms, prune
    store.set_paused(run, True)
    store.set_pace(run, 50)
    assert tuple(store.control(run)) == (False, True, 50, False)
    assert store.get_run(run)["paused"] is True and store.list_runs().loc[0, "pace_ms"] == 50
    store.request_stop(run)
    assert store.control(run).stop
    with pytest.raises(ValueError, match="whole number"):
        store.set_pace(run, 2.5)
    fast = store.create_run(RECIPE, pace_ms=20)
    assert store.control(fast).pace_ms == 20


def test_a_version_3_store_gains_tags_notes_and_controls_when_opened(tmp_path):
    home = tmp_path / "home"
    with Store(home) as store:
        run_id = store.create_run(RECIPE, name="old", group="g1")
        store.set_status(run_id, "completed")
    with sqlite3.connect(home / "runs.db") as conn:  # as version 3 wrote it
        for column in V4_RUN_COLUMNS:
            conn.execute(f"ALTER TABLE runs DROP COLUMN {column}")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    with Store(home) as store:
        run = store.get_run(run_id)
        assert (run["name"], run["status"], run["tags"], run["notes"], run["paused"], run["pace_ms"]) == (
            "old",
            "completed",
            "",
            "",
            False,
            0,
        )
        assert store.set_tags(run_id, "from-v3") == "from-v3"
    with sqlite3.connect(home / "runs.db") as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)


def test_groups_are_listed_newest_first_with_their_recipe_and_size(store):
    for group, n in (("g-old", 2), ("g-new", 3)):
        for _ in range(n):
            store.create_run(RECIPE, group=group)
    store.create_run(RECIPE)  # alone: in no group
    groups = store.groups()
    assert groups["group_id"].tolist() == ["g-new", "g-old"] and groups["runs"].tolist() == [3, 2]
    assert set(groups["recipe"]) == {"healthy-mlp"}


def test_pause_continue_and_pace_from_the_command_line(store, run, capsys):
    home = str(store.home)
    code, out, _ = cli(capsys, "--home", home, "pause", run)
    assert code == 0 and "paused" in out and store.control(run).paused
    code, out, _ = cli(capsys, "--home", home, "continue", run)
    assert code == 0 and "continuing" in out and not store.control(run).paused
    code, out, _ = cli(capsys, "--home", home, "pace", run, "40")
    assert code == 0 and "40 ms" in out and store.control(run).pace_ms == 40
    code, _, err = cli(capsys, "--home", home, "pace", run, "fast")
    assert code == 2 and one_clear_line(err, "pace", "'fast'", str(limits.MAX_PACE_MS))
    code, _, err = cli(capsys, "--home", home, "pace", run, str(limits.MAX_PACE_MS + 1))
    assert code == 2 and one_clear_line(err, "pace")
    store.set_status(run, "completed")
    code, _, err = cli(capsys, "--home", home, "unpause", run)
    assert code == 2 and one_clear_line(err, "completed", "only a queued or running run")
    assert lifecycle.check_pace("25") == 25
    code, _, err = cli(capsys, "--home", home, "launch", "healthy-mlp", "--pace", "-5")
    assert code == 2 and one_clear_line(err, "pace", "'-5'") and store.count_runs() == 1  # nothing queued


def test_a_stopped_run_resumes_unpaused(store, run, monkeypatch):
    monkeypatch.setattr(lifecycle.queue, "schedule", lambda *args, **kwargs: [])  # queued, never started here
    lifecycle.pause(store, run)  # queued: it would wait from its first step
    store.set_status(run, "stopped")
    (store.runs_dir(run) / "state.pt").write_bytes(b"checkpoint")
    lifecycle.resume(store, run)
    assert store.get_run(run)["status"] == "queued" and not store.control(run).paused


def test_a_group_launched_in_slow_motion_has_every_run_at_that_pace(store, monkeypatch):
    """Launch's slow motion reaches every run of a lesson or comparison; a bad pace queues nothing."""
    from engine.config.recipe import load_recipe
    from engine.control import compare, queue

    monkeypatch.setattr(queue, "schedule", lambda *a, **k: [])  # rows only: no worker starts
    recipe = load_recipe(None, ["train.steps=50"])
    group = compare.launch_group(store, recipe, [("baseline", {}), ("wide", {"model.width": 32})], pace_ms=20)
    assert store.list_runs(group=group)["pace_ms"].tolist() == [20, 20]
    with pytest.raises(RecipeError, match="pace"):
        compare.launch_group(store, recipe, [("baseline", {})], pace_ms=-5)
    assert len(store.list_runs()) == 2
