"""Issue 14's input reproductions, one test each: the YAML attacks, size caps, CLI arguments and export paths.

Each answer is exit 2 with one line naming the key, flag or file at fault, and nothing queued or written.
"""

from __future__ import annotations

import pytest

from engine import cli
from engine.config import bounded_yaml, limits
from engine.config.errors import RecipeError
from engine.config.recipe import load_recipe, parse_override
from engine.store import Store

BOMB = (
    "["
    + ", ".join(
        ["&a [l,l,l,l,l,l,l,l,l]"] + [f"&{c} [" + ",".join([f"*{p}"] * 9) + "]" for p, c in zip("abcdef", "bcdefg")]
    )
    + "]"
)


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().err


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADCLINIC_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


# --- 1, 5, 10: the bounded YAML loader ----------------------------------------------


def test_an_alias_bomb_is_refused_before_it_is_expanded(capsys, home):
    """~220 bytes standing for 4.8 million values: refused at once, with a short message (it was 28 MB)."""
    code, err = run_cli(capsys, "check", "healthy-mlp", f"--set=title={BOMB}")
    assert code == 2
    assert "title: stands for more than 10,000 values once its aliases are expanded" in err
    assert len(err) < 200


def test_the_alias_bomb_in_a_data_path_is_refused_too(capsys, home):
    """The same bomb in ``data.params.path``, which used to hang."""
    code, err = run_cli(capsys, "check", "healthy-mlp", f"--set=data.params.path={BOMB}")
    assert code == 2 and "aliases are expanded" in err


def test_shared_aliases_within_the_cap_still_work():
    """Anchors and aliases are ordinary YAML: a recipe may reuse a block, as long as it stays small."""
    data = bounded_yaml.load("base: &b {lr: 0.1}\nother: *b\n")
    assert data == {"base": {"lr": 0.1}, "other": {"lr": 0.1}}


@pytest.mark.parametrize("text", ["[" * 500, "".join("  " * i + f"k{i}:\n" for i in range(60))])
def test_deep_nesting_is_refused_without_a_recursion_error(text):
    """500 ``[`` or 60 nested block maps: a clear limit, never Python's RecursionError."""
    with pytest.raises(RecipeError, match=f"nested deeper than {limits.MAX_YAML_DEPTH} levels"):
        bounded_yaml.load(text, "recipe.yaml")


def test_a_repeated_key_is_refused_with_its_line(tmp_path):
    """The second ``lr`` used to win silently."""
    path = tmp_path / "dup.yaml"
    path.write_text("name: dup\ntrain:\n  lr: 0.1\n  lr: 10\n")
    with pytest.raises(RecipeError, match=r"dup.yaml: key 'lr' appears twice \(line 4\)"):
        load_recipe(path)


def test_a_python_tag_never_runs(tmp_path):
    """YAML's python tags are refused by the safe loader (this already held; it must keep holding)."""
    path = tmp_path / "evil.yaml"
    path.write_text("title: !!python/object/apply:os.system ['touch pwned']\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(path)
    assert not (tmp_path / "pwned").exists()


# --- 6: size caps -------------------------------------------------------------------


def test_a_huge_recipe_file_is_refused_by_size_without_being_read(tmp_path):
    """A 50 MB lesson used to be stored (runs.db grew 100 MB); now the file is refused by its size."""
    path = tmp_path / "big.yaml"
    with path.open("w") as f:
        f.write("lesson: ")
        f.write("x" * (50 * 2**20))
    with pytest.raises(RecipeError, match="a recipe file may be at most 256 KB"):
        load_recipe(path)


def test_a_long_lesson_is_refused_by_its_field_cap():
    """A field's own cap: ``lesson`` is free text of at most 20,000 characters."""
    with pytest.raises(RecipeError, match="lesson: String should have at most 20000 characters"):
        load_recipe(None, {"lesson": "x" * (limits.MAX_LESSON_CHARS + 1)})


def test_many_unknown_keys_give_a_short_message():
    """Thousands of unknown keys: the message names ten and counts the rest (it was 265 MB)."""
    with pytest.raises(RecipeError) as info:
        load_recipe({f"k{i}": 1 for i in range(5000)})
    message = str(info.value)
    assert message.count("\n") == limits.MAX_ERROR_LINES and message.endswith("... and 4990 more")


def test_an_override_longer_than_the_cap_is_refused():
    """One ``--set`` is at most 4,096 characters."""
    with pytest.raises(RecipeError, match="an override may be at most 4,096"):
        parse_override("title=" + "x" * limits.MAX_OVERRIDE_CHARS)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--seeds", "100000"], "seeds: give a whole number from 1 to 32 (got 100000)"),
        (["--seeds", "0"], "seeds: give a whole number from 1 to 32 (got 0)"),
        (["--seeds", "-5"], "seeds: give a whole number from 1 to 32 (got -5)"),
        (["--seeds", "20", "--vary", "train.lr=0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1,2,3"], "13 variants x 20 seeds"),
    ],
)
def test_compare_refuses_seed_counts_and_totals_beyond_the_caps(capsys, home, argv, expected):
    """``compare --seeds`` outside 1..32, or more than 256 runs in all, queues nothing (it queued 200,000)."""
    args = (
        ["compare", "healthy-mlp", "--vary", "train.lr=0.1,0.2", *argv]
        if "--vary" not in argv
        else ["compare", "healthy-mlp", *argv]
    )
    code, err = run_cli(capsys, *args)
    assert code == 2 and expected in err, err
    assert Store(home).count_runs() == 0


def test_a_grid_is_refused_by_its_size_before_it_is_built(capsys, home):
    """Three 200-value lists: 8 million variants are counted, never built."""
    values = ",".join(str(i) for i in range(1, 201))
    argv = ["compare", "healthy-mlp", "--grid", f"--vary=train.steps={values}", f"--vary=model.width={values}"]
    code, err = run_cli(capsys, *argv, f"--vary=model.depth={values}")
    assert code == 2 and "8,000,001 variants; one command may queue at most 256 runs" in err


# --- 11, 12, 16e: CLI arguments, export paths, infinities -------------------------------


def test_compare_vary_names_an_unknown_key(capsys, home):
    """``--vary train.foo=1,2`` used to be a KeyError traceback."""
    code, err = run_cli(capsys, "compare", "healthy-mlp", "--vary", "train.foo=1,2")
    assert code == 2 and err.startswith("gradclinic: invalid input: train.foo: unknown key; train has: optimizer")


@pytest.mark.parametrize("kind", ["file", "under-a-file"])
def test_export_to_a_path_that_is_not_a_folder_is_refused(capsys, home, tmp_path, kind):
    """``export RUN --out PATH`` where PATH is a file (or below one) names ``--out``, and writes nothing."""
    store = Store(home)
    run_id = store.create_run(load_recipe("healthy-mlp").to_dict(), total_steps=1)
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    out = blocker if kind == "file" else blocker / "sub"
    code, err = run_cli(capsys, "export", run_id, "--out", str(out))
    assert code == 2 and err.startswith(f"gradclinic: invalid input: --out {out}:")
    assert blocker.read_text() == "keep me"


@pytest.mark.parametrize(
    "key", ["train.weight_decay", "train.lr", "train.clip_norm", "model.init_std", "data.val_fraction"]
)
def test_no_recipe_number_may_be_infinite_or_nan(key):
    """``train.weight_decay=.inf`` used to be accepted; no key takes inf or nan."""
    for value in (".inf", ".nan"):
        with pytest.raises(RecipeError, match=f"{key}: Input should be a finite number"):
            load_recipe(None, [f"{key}={value}"])


def test_check_validates_without_training(capsys, home):
    """``gradclinic check`` is a dry run: a valid recipe exits 0 and no run is stored."""
    code = cli.main(["check", "healthy-mlp", "--json"])
    assert code == 0 and '"name": "healthy-mlp"' in capsys.readouterr().out
    assert Store(home).count_runs() == 0


# --- 1, 5 in the dashboard: the same attacks through a link ---------------------------


@pytest.mark.parametrize(
    "item, expected",
    [(f"title={BOMB}", "aliases are expanded"), ("title=" + "[" * 500, "nested deeper than 32 levels")],
)
def test_a_hostile_link_gets_one_warning_and_the_page_still_works(home, item, expected):
    """The ~220-byte bomb link (the server grew to 4 GB) or 500 ``[``: one warning, the page renders, no traceback."""
    import tracemalloc

    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import MAIN

    at = AppTest.from_file(MAIN, default_timeout=60)
    at.query_params["recipe"] = "healthy-mlp"
    at.query_params["set"] = [item]
    tracemalloc.start()
    try:
        at.run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not at.exception, at.exception
    warnings = [w.value for w in at.warning]
    assert any(expected in w for w in warnings), warnings
    assert all(len(w) < 2048 for w in warnings)
    assert peak < 256 * 2**20, f"peak {peak / 2**20:.0f} MB"
    assert any("Launch" in b.label for b in at.button)  # the setup falls back to the recipe's own
