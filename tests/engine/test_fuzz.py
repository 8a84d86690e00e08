"""Property-based fuzzing (hypothesis): whatever a user types, the answer is exit 0 or 2 and one short message.

Four doors take text from outside: a recipe file, a ``--set`` value, a CSV file and a
dashboard link's query string. For each, hypothesis generates inputs (random and
structured, plus the hostile ones the issue reproduced, as ``@example``s) and every
example must end with exit 0 or 2, at most one message under 2 KB, no traceback, within a
time bound (the ``deadline``) and a memory bound (``tracemalloc``'s peak).
``gradclinic check`` validates a recipe and loads its data exactly as a run would, and
trains nothing, so each example costs milliseconds.
"""

from __future__ import annotations

import contextlib
import io
import tracemalloc
import urllib.parse
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.logic import launch as setup
from app.logic import toggles
from engine import cli
from engine.config import limits

MAX_MESSAGE = 2048
MAX_PEAK_BYTES = 128 * 2**20
FUZZ = settings(
    max_examples=150,
    deadline=8000,  # ms per example: the time bound (an example takes ~0.1 s once warm)
    derandomize=True,  # the same examples on every CI run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    database=None,
)

# The reproductions, as text.
_LEVELS = ["&a [l,l,l,l,l,l,l,l,l]"] + [f"&{c} [" + ",".join([f"*{p}"] * 9) + "]" for p, c in zip("abcdef", "bcdefg")]
ALIAS_BOMB = "[" + ", ".join(_LEVELS) + "]"  # ~350 bytes that stand for 9**7 values
DEEP_FLOW = "[" * 500
DEEP_BLOCK = "".join("  " * i + f"k{i}:\n" for i in range(5000))
MANY_KEYS = "".join(f"k{i}: 1\n" for i in range(300_000))
PYTHON_TAG = "!!python/object/apply:os.system ['echo pwned']"
RECIPE_KEYS = [
    "seed",
    "title",
    "lesson",
    "data.name",
    "data.val_fraction",
    "data.train_limit",
    "data.params",
    "data.params.path",
    "model.arch",
    "model.depth",
    "model.width",
    "model.activation",
    "model.init_bias",
    "model.dropout",
    "train.lr",
    "train.weight_decay",
    "train.batch_size",
    "train.steps",
    "train.optimizer",
    "train.early_stopping",
    "probes.intervals",
    "compare",
    "nope.key",
]


@pytest.fixture(scope="module", autouse=True)
def warm(tmp_path_factory):
    """Import and cache what ``check`` loads once, so the deadline times the input, not the imports."""
    import os

    old = os.environ.get("GRADCLINIC_HOME")
    os.environ["GRADCLINIC_HOME"] = str(tmp_path_factory.mktemp("home"))  # nothing here may touch a real store
    for recipe in ("healthy-mlp", "vanishing-sigmoid"):
        assert gradclinic("check", recipe)[0] == 0
    open_link("recipe=healthy-mlp")
    yield
    if old is None:
        os.environ.pop("GRADCLINIC_HOME", None)
    else:
        os.environ["GRADCLINIC_HOME"] = old


def gradclinic(*argv: str) -> tuple[int, str]:
    """Run the CLI in this process; (exit code, stderr). A stray exception fails the test with its traceback."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:  # argparse's own refusals
            code = int(exc.code or 0)
    return code, err.getvalue()


def bounded(fn, *args):
    """Call ``fn`` and return (its result, peak traced memory in bytes)."""
    tracemalloc.start()
    try:
        out = fn(*args)
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def assert_clean(code: int, message: str, peak: int) -> None:
    assert code in (0, 2), message
    assert "Traceback" not in message
    assert len(message) < MAX_MESSAGE, message[:300]
    if code == 2:
        assert message.startswith("gradclinic: ") and message.count("gradclinic: ") == 1, message[:300]
    assert peak < MAX_PEAK_BYTES, f"peak {peak / 2**20:.0f} MB"


# --- recipe text ---------------------------------------------------------------

# No subnormal floats: a run trained in-process by an earlier test turns on torch.set_flush_denormal
# (engine/training/session.py), and hypothesis then refuses to generate subnormals at all.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False),
    st.text(max_size=40),
    st.sampled_from(["mlp", "cnn", "rnn", "digits", "csv", "adam", "sgd", "relu", "sigmoid", "../../etc/passwd"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=20,
)
sections = st.fixed_dictionaries(
    {},
    optional={
        "data": st.dictionaries(st.sampled_from(["name", "val_fraction", "train_limit", "params", "x"]), values),
        "model": st.dictionaries(st.sampled_from(["arch", "depth", "width", "activation", "norm", "y"]), values),
        "train": st.dictionaries(st.sampled_from(["lr", "steps", "batch_size", "optimizer", "weight_decay"]), values),
        "title": values,
        "seed": values,
        "compare": values,
    },
)
yaml_text = st.one_of(
    sections.map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
    st.text(alphabet=st.sampled_from("ab:-[]{}&*!|>#%@,'\"\n \t1.e"), max_size=200),
    st.text(max_size=300),
)


@FUZZ
@given(text=yaml_text)
@example(text=f"title: {ALIAS_BOMB}\n")
@example(text=f"data:\n  name: csv\n  params: {{path: {ALIAS_BOMB}, target: y}}\n")
@example(text=DEEP_FLOW)
@example(text=DEEP_BLOCK)
@example(text=MANY_KEYS)
@example(text="lesson: " + "x" * (50 * 2**20) + "\n")
@example(text="train:\n  lr: 0.1\n  lr: 10\n")
@example(text=f"title: {PYTHON_TAG}\n")
@example(text="a: &a [*a]\n")
@example(text="train: {weight_decay: .inf}\n")
def test_any_recipe_file_is_run_or_refused_cleanly(tmp_path_factory, text):
    """A recipe file of any content gets exit 0 or 2 and one short message, within the time and memory bounds."""
    path = tmp_path_factory.mktemp("fuzz") / "fuzzed.yaml"
    path.write_text(text, encoding="utf-8")
    (code, err), peak = bounded(gradclinic, "check", str(path))
    assert_clean(code, err, peak)


# --- --set values -------------------------------------------------------------


@FUZZ
@given(key=st.sampled_from(RECIPE_KEYS), value=yaml_text)
@example(key="title", value=ALIAS_BOMB)
@example(key="data.params.path", value=ALIAS_BOMB)
@example(key="title", value=DEEP_FLOW)
@example(key="model.depth", value="200")
@example(key="train.weight_decay", value=".inf")
@example(key="lesson", value="y" * 100_000)
def test_any_override_is_applied_or_refused_cleanly(key, value):
    """``--set KEY=anything`` gets exit 0 or 2 and one short message, within the bounds."""
    (code, err), peak = bounded(gradclinic, "check", "healthy-mlp", f"--set={key}={value}")
    assert_clean(code, err, peak)


def test_too_many_overrides_are_refused_by_count():
    """More overrides than the cap are refused with the cap in the message."""
    code, err = gradclinic("check", "healthy-mlp", *[f"--set=seed={i}" for i in range(limits.MAX_OVERRIDES + 1)])
    assert code == 2 and f"at most {limits.MAX_OVERRIDES}" in err


# --- CSV files -----------------------------------------------------------------

cells = st.one_of(
    st.integers(-5, 5).map(str),
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=False).map(repr),
    st.sampled_from(["", "1e308", "-1e308", "1e300", "nan", "inf", "abc", '"', "1,2", "\x00"]),
)


@st.composite
def csv_files(draw):
    n_cols = draw(st.integers(1, 5))
    header = draw(st.lists(st.sampled_from(["a", "b", "y", "y", "", "ü", "a b"]), min_size=n_cols, max_size=n_cols))
    rows = draw(st.integers(0, 40))
    regular = draw(st.booleans())  # mostly well-formed numbers, so the happy path is fuzzed too
    cell = st.integers(0, 3).map(str) if regular else cells
    body = [",".join(draw(st.lists(cell, min_size=n_cols, max_size=n_cols))) for _ in range(rows)]
    return "\n".join([",".join(header), *body]) + "\n"


@FUZZ
@given(text=csv_files(), target=st.sampled_from(["y", "a", "missing"]))
@example(text="a,b,y\n" + "".join(f"{i},1e308,{i % 2}\n" for i in range(40)), target="y")
@example(text="a,b,y\n" + "".join(f"{i},{i},1e300\n" for i in range(40)), target="y")
@example(text="a,y,y\n" + "".join(f"{i},{i % 2},{i % 2}\n" for i in range(40)), target="y")
@example(text="a,b,y\n" + "".join(f"{i},{i * 2},{i % 2}\n" for i in range(40)), target="x")
def test_any_csv_file_is_loaded_or_refused_cleanly(tmp_path_factory, text, target):
    """A CSV of any content gets exit 0 or 2 and one short message, within the bounds."""
    path = tmp_path_factory.mktemp("csv") / "fuzzed.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    args = ["check", "healthy-mlp", "--set=data.name=csv", f"--set=data.params.path={path}"]
    (code, err), peak = bounded(gradclinic, *args, f"--set=data.params.target={target}")
    assert_clean(code, err, peak)


# --- dashboard links ---------------------------------------------------------------


class QueryParams:
    """The part of ``st.query_params`` the Launch page reads: ``get`` and ``get_all``, over a parsed query."""

    def __init__(self, query: str):
        self._q = urllib.parse.parse_qs(query, keep_blank_values=True, max_num_fields=10_000)

    def get(self, key: str, default=None):
        return self._q.get(key, [default])[-1]

    def get_all(self, key: str) -> list[str]:
        return list(self._q.get(key, []))


def open_link(query: str) -> str | None:
    """What the Launch page does with a link, minus the widgets: the message it would show, or None."""
    name, sets = setup.from_query(QueryParams(query))
    base, error = setup.base_recipe(name)
    if base is None:
        return error
    try:
        wanted = toggles.decode(sets)
    except Exception as exc:  # noqa: BLE001 - the page shows RecipeError; anything else must fail the assert
        assert isinstance(exc, cli.RecipeError), repr(exc)
        return str(exc)
    toggle_part, advanced = toggles.split_advanced(wanted)
    text = "\n".join(toggles.encode(k, v) for k, v in advanced.items())  # the page's URL encoder
    recipe, error = setup.resolve(base, toggle_part, text)
    return error


query_items = st.tuples(st.sampled_from(RECIPE_KEYS), yaml_text).map(lambda kv: f"{kv[0]}={kv[1]}")


@FUZZ
@given(
    recipe=st.sampled_from(["healthy-mlp", "vanishing-sigmoid", "custom", "nope", "../x", ""]),
    sets=st.lists(query_items, max_size=4),
)
@example(recipe="healthy-mlp", sets=[f"title={ALIAS_BOMB}"])
@example(recipe="healthy-mlp", sets=[f"data.params.path={ALIAS_BOMB}"])
@example(recipe="healthy-mlp", sets=[f"title={DEEP_FLOW}"])
@example(recipe="healthy-mlp", sets=["data.name=csv", "data.params.path=/etc/passwd", "data.params.target=x"])
def test_any_dashboard_link_is_shown_or_refused_cleanly(recipe, sets):
    """A link's query string of any content gives the page a setup or one short message, within the bounds."""
    query = urllib.parse.urlencode([("recipe", recipe), *[("set", s) for s in sets]])
    message, peak = bounded(open_link, query)
    assert message is None or len(message) < MAX_MESSAGE, message[:300]
    assert message is None or "root:" not in message  # a link never shows a file's contents
    assert peak < MAX_PEAK_BYTES


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"title: {ALIAS_BOMB}\n", "aliases are expanded"),
        (DEEP_FLOW, "nested deeper than"),
        ("train:\n  lr: 0.1\n  lr: 10\n", "key 'lr' appears twice (line 3)"),
        ("lesson: " + "x" * (limits.MAX_RECIPE_BYTES + 1), "at most 256 KB"),
        ("a: &a [*a]\n", "refers to itself"),
    ],
)
def test_hostile_yaml_is_refused_by_name(tmp_path: Path, text: str, expected: str):
    """Each YAML attack the issue reproduced is refused quickly with a message that says what it was."""
    path = tmp_path / "hostile.yaml"
    path.write_text(text)
    (code, err), peak = bounded(gradclinic, "check", str(path))
    assert code == 2 and expected in err, err
    assert peak < MAX_PEAK_BYTES
