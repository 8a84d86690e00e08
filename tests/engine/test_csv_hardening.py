"""Hostile or broken CSV files: refused up front with one short line naming the file, key and column."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import engine.datasets.csv as csv_data
from engine.config.errors import DataError
from engine.config.recipe import DataSpec
from engine.datasets import prepare

MAX_MESSAGE = 2048


def spec(path, target="y", **params) -> DataSpec:
    return DataSpec(name="csv", params={"path": str(path), "target": target, **params})


def write(tmp_path, text: str, name: str = "data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def rows(n: int = 40, x=lambda i: i * 0.1, y=lambda i: i % 2) -> str:
    rng = np.random.default_rng(0)
    return "".join(f"{x(i)},{rng.normal():.4f},{y(i)}\n" for i in range(n))


def refusal(path, target="y") -> str:
    with pytest.raises(DataError) as info:
        prepare(spec(path, target), seed=0)
    message = str(info.value)
    assert "\n" not in message and len(message) < MAX_MESSAGE
    return message


def test_a_feature_too_large_for_float32_is_refused_naming_the_column_and_the_limit(tmp_path):
    """A feature of 1e308 is refused as data, not trained on until it "diverges" at step 1."""
    message = refusal(write(tmp_path, "a,b,y\n" + rows(x=lambda i: 1e308 if i == 7 else i), "big.csv"))
    assert message.startswith("big.csv: column(s) a hold numbers beyond ±1e30")


def test_a_regression_target_too_large_for_float32_is_refused(tmp_path):
    """A regression target of 1e300 would be infinite in float32: refused, naming the target."""
    message = refusal(write(tmp_path, "a,b,y\n" + rows(y=lambda i: 1e300 if i == 3 else i * 0.37)))
    assert "data.csv: the target 'y' holds numbers beyond ±1e15" in message


def test_numbers_just_inside_the_limits_train_on_finite_arrays(tmp_path):
    """Features near 1e29 and targets near 1e14 are standardised into finite float32 arrays."""
    path = write(tmp_path, "a,b,y\n" + rows(x=lambda i: (-1) ** i * 9e29, y=lambda i: i * 2.5e12))
    ds = prepare(spec(path), seed=0)
    assert ds.task == "regression"
    for arr in (ds.x_train, ds.x_val, ds.y_train, ds.y_val):
        assert np.isfinite(arr).all()


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_prepare_catches_an_overflow_that_slipped_past_the_loader(tmp_path, monkeypatch):
    """With the loader's bound lifted, the float32 check in prepare still refuses the data cleanly."""
    monkeypatch.setattr(csv_data, "MAX_FEATURE_ABS", float("inf"))
    message = refusal(write(tmp_path, "a,b,y\n" + rows(x=lambda i: 1e308 * (-1) ** i)))
    assert message.startswith("dataset 'csv': x_train") and "after standardising to float32" in message


@pytest.mark.parametrize("header", ["a,y,y", "a,y, y", "y,a,y ", "a,b,y,b,a"])
def test_duplicate_column_names_are_refused_so_the_target_cannot_leak(tmp_path, header):
    """pandas would rename the second 'y' to 'y.1' and train on it; the file is refused instead."""
    n = header.count(",") + 1
    body = "".join(",".join(str(i % 2) for _ in range(n)) + "\n" for i in range(40))
    message = refusal(write(tmp_path, header + "\n" + body))
    assert message.startswith("data.csv: duplicate column name(s) ")
    assert "'y'" in message or "'a', 'b'" in message


def test_a_missing_target_names_the_key_the_file_and_the_columns(tmp_path):
    """The message says which key to fix and what the file offers."""
    message = refusal(write(tmp_path, "a,b,y\n" + rows(), "train.csv"), target="x")
    assert message == "data.params.target: train.csv has no column named 'x'; the columns are: a, b, y"


def test_a_long_column_list_is_cut_short(tmp_path):
    """Five hundred columns are listed as twelve and a count."""
    header = ",".join(f"feature_{i}" for i in range(500))
    message = refusal(write(tmp_path, header + "\n" + ",".join("1" for _ in range(500)) + "\n"), target="x")
    assert message.endswith("feature_11 and 488 more") and len(message) < 400


def test_a_file_that_is_not_a_csv_is_never_echoed(tmp_path):
    """A one-column "header" is a file's first line (a password file, a key): it is never quoted."""
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:hunter2-SECRET:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/bin/false\n")
    message = refusal(secret, target="x")
    assert "SECRET" not in message and "root" not in message
    assert (
        message == "data.params.target: passwd has no column named 'x'; it has a single column (is it comma-separated?)"
    )


def test_names_and_cells_in_messages_are_clipped_and_printable(tmp_path):
    """Escape sequences and newlines in a header or cell never reach the terminal raw, and long ones are cut."""
    long_name = "n" * 500
    path = write(tmp_path, f'"a\x1b[31m","{long_name}",y\n' + rows(), "ctrl.csv")
    message = refusal(path, target="\x1b[2Jx")
    assert "\x1b" not in message and long_name not in message and "a?[31m" in message
    cell = "z" * 300 + "\x1b[0m"
    message = refusal(write(tmp_path, "a,b,y\n" + rows(x=lambda i: cell if i == 5 else i)))
    assert "(line 7: 'zzzzzzzzzzzzzzzzzzz…')" in message


def test_more_than_the_column_cap_is_refused_before_the_body_is_parsed(tmp_path, monkeypatch):
    """10,001 columns are refused from the header alone."""
    monkeypatch.setattr(csv_data, "_read", lambda *a: pytest.fail("the body must not be parsed"))
    header = ",".join(f"c{i}" for i in range(csv_data.MAX_COLUMNS + 1))
    message = refusal(write(tmp_path, header + "\n" + "1," * csv_data.MAX_COLUMNS + "1\n"), target="c0")
    assert message == "data.csv: has 10,001 columns; a CSV file may have at most 10,000"


def test_a_header_line_longer_than_the_header_limit_is_refused(tmp_path, monkeypatch):
    """A file whose first line never ends within the header limit is refused, not parsed."""
    monkeypatch.setattr(csv_data, "HEADER_BYTES", 64)
    message = refusal(write(tmp_path, "x" * 200 + ",y\n" + rows()))
    assert message == "data.csv: the header line is longer than 64 bytes; a CSV file may have at most 10,000 columns"


def test_an_oversize_file_says_its_size_and_the_limit_before_reading_it(tmp_path, monkeypatch):
    """Over MAX_BYTES, the message names the key, the file, its size and the cap."""
    monkeypatch.setattr(csv_data, "MAX_BYTES", 2 * 2**20)
    path = tmp_path / "huge.csv"
    path.write_bytes(b"a,b,y\n" + b"1,2,3\n" * (3 * 2**20 // 6))
    message = refusal(path)
    assert (
        message == "data.params.path: huge.csv is 3 MB; the limit is 2 MB for a CSV file, so sample or split it first"
    )


header_names = st.sampled_from(["a", "b", "y", "y ", " y", "", "ü", '"q,uo"', "\x1b", "n" * 80])
cell_text = st.sampled_from(["0", "1", "2", "-3.5", "1e308", "1e16", "inf", "nan", "", "abc", "1,2", '"'])


@st.composite
def csv_texts(draw) -> str:
    width = draw(st.integers(1, 6))
    header = ",".join(draw(st.lists(header_names, min_size=width, max_size=width)))
    body = [
        ",".join(draw(st.lists(cell_text, min_size=width, max_size=width))) for _ in range(draw(st.integers(0, 45)))
    ]
    return "\n".join([header, *body]) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=csv_texts(), target=st.sampled_from(["y", "a", "x"]))
@example(text="a,b,y\n0,0,1,2\n0,0,abc\n", target="y")  # a row one field longer than the header (found by CI)
def test_any_small_csv_trains_on_finite_arrays_or_gets_one_short_data_error(tmp_path, text, target):
    """Whatever the header and cells, the result is finite float32 data or one clean DataError line."""
    path = write(tmp_path, text)
    try:
        ds = prepare(spec(path, target), seed=0)
    except DataError as exc:
        assert "\n" not in str(exc) and "\x1b" not in str(exc) and len(str(exc)) < MAX_MESSAGE
        return
    assert np.isfinite(ds.x_train).all() and np.isfinite(ds.x_val).all()
    assert target not in ds.feature_names and f"{target}.1" not in ds.feature_names


def test_a_row_longer_than_the_header_is_one_clear_error(tmp_path):
    # pandas would quietly make the first column an index (its labels then repeat); it is refused instead.
    path = write(tmp_path, "a,b,y\n0,0,1,2\n0,0,abc\n")
    with pytest.raises(DataError, match="a data row has more fields than the header's 3 column names"):
        prepare(spec(path, "y"), seed=0)
