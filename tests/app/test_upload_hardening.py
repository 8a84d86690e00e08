"""Uploads are checked before they are kept, and a dashboard link can never point the server at another file."""

from __future__ import annotations

import json
import tempfile

import pytest
from streamlit.testing.v1 import AppTest

from app.logic import launch as setup
from engine.config.recipe import load_recipe
from engine.store import Store
from tests.app.conftest import MAIN, ROOT

PENGUINS = (ROOT / "sample_data" / "penguins.csv").read_bytes()
SECRET_LINE = "root:x:0:0:hunter2-SECRET:/root:/bin/bash"


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """tempfile's folder, redirected so a test can see whatever an upload check leaves there."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def secret(tmp_path):
    """A file outside the uploads folder whose first line must never be shown."""
    path = tmp_path / "elsewhere" / "passwd"
    path.parent.mkdir()
    path.write_text(SECRET_LINE + "\ndaemon:x:1:1::/usr/sbin:/bin/false\n")
    return path


def advanced(**sets) -> str:
    return "\n".join(f"{k}={v}" for k, v in sets.items())


def test_a_good_upload_is_kept_under_uploads_only_once_it_passed(tmp_path, private_tmp):
    """The penguins file passes the run's checks, is stored by content, and the check leaves no temp file."""
    path, error = setup.accept_upload(tmp_path, "my penguins.csv", PENGUINS, "species")
    assert error is None and path.parent == tmp_path / "uploads" and path.read_bytes() == PENGUINS
    assert path.name.endswith("-my penguins.csv")  # the name the user gave it, spaces and all
    assert not list(private_tmp.iterdir())


@pytest.mark.parametrize(
    "data, target, expected",
    [
        (b"a,b\n1,2\n", "b", "has only 1 data rows"),
        (PENGUINS, "wingspan", "data.params.target: my.csv has no column named 'wingspan'"),
        (b"a,y,y\n" + b"1,0,0\n" * 40, "y", "duplicate column name(s) 'y'"),
        (b"a,b,y\n" + b"".join(b"%d,1e308,%d\n" % (i, i % 2) for i in range(40)), "y", "beyond ±1e30"),
        (b"\x00\x01binary", "y", "binary"),
        (b"", "y", "empty"),
    ],
    ids=["too-few-rows", "no-target", "duplicate-names", "overflow", "binary", "empty"],
)
def test_a_refused_upload_leaves_nothing_behind(tmp_path, private_tmp, data, target, expected):
    """Whatever the refusal, neither the uploads folder nor the temp folder keeps a byte of the file."""
    path, error = setup.accept_upload(tmp_path, "my.csv", data, target)
    assert path is None and expected in error
    assert not (tmp_path / "uploads").exists() or not list((tmp_path / "uploads").iterdir())
    assert not list(private_tmp.iterdir())


def test_an_oversize_upload_is_refused_with_its_size_and_the_limit(tmp_path, monkeypatch):
    """Over the upload cap, the message gives the size and the cap, and nothing is parsed or stored."""
    monkeypatch.setattr(setup, "MAX_UPLOAD_MB", 0.5)
    columns, error = setup.upload_columns("big.csv", b"a,b\n" + b"1,2\n" * 2**18)
    assert columns == [] and error == "big.csv is 1.0 MB; uploads are limited to 0.5 MB"
    assert setup.accept_upload(tmp_path, "big.csv", b"a,b\n" + b"1,2\n" * 2**18, "b") == (None, error)
    assert not (tmp_path / "uploads").exists()


def test_the_target_picker_reads_only_the_header_and_refuses_a_bad_one_at_once():
    """The picker lists the header's names; duplicate or absurdly many columns are refused before anything else."""
    assert setup.upload_columns("p.csv", PENGUINS)[0][-1] == "species"
    _, error = setup.upload_columns("dup.csv", b"a, y,y\n1,2,3\n")
    assert error == (
        "This CSV cannot be used: dup.csv: duplicate column name(s) 'y'; every column needs its own name "
        "(otherwise a copy of the target could be read as a feature)"
    )
    _, error = setup.upload_columns("wide.csv", (",".join(f"c{i}" for i in range(20_000)) + "\n").encode())
    assert error.endswith("wide.csv: has 20,000 columns; a CSV file may have at most 10,000")


def test_a_link_cannot_point_the_dashboard_at_a_file_outside_uploads(tmp_path, secret):
    """/etc/passwd-style paths, '..' out of uploads and a symlink inside uploads are all refused by key."""
    base = load_recipe("healthy-mlp")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "link.csv").symlink_to(secret)
    for path in (secret, uploads / ".." / "elsewhere" / "passwd", uploads / "link.csv", "/etc/passwd"):
        text = advanced(**{"data.name": "csv", "data.params.path": path, "data.params.target": "x"})
        recipe, error = setup.resolve(base, {}, text, uploads=uploads)
        assert recipe is None and error.startswith("data.params.path: the dashboard reads only CSV files uploaded")
        assert "SECRET" not in error and "root:" not in error
    whole = "data.params=" + json.dumps({"path": str(secret), "target": "x"})
    recipe, error = setup.resolve(base, {}, "data.name=csv\n" + whole, uploads=uploads)
    assert recipe is None and error.startswith("data.params.path:")
    with pytest.raises(setup.RecipeError, match="data.params.path"):
        setup.baseline_of(base, "data.name=csv\n" + whole, uploads=uploads)


def test_uploaded_files_and_the_sample_data_are_allowed_from_a_link(tmp_path):
    """A link to a file this dashboard stored, or to sample_data/, resolves to a runnable recipe."""
    path, _ = setup.accept_upload(tmp_path, "p.csv", PENGUINS, "species")
    for where in (path, "sample_data/penguins.csv"):
        text = advanced(**{"data.name": "csv", "data.params.path": where, "data.params.target": "species"})
        recipe, error = setup.resolve(load_recipe(None), {}, text, uploads=tmp_path / "uploads")
        assert error is None and recipe.data.params["path"] == str(where)


def test_a_link_can_open_only_built_in_recipes(tmp_path):
    """?recipe= with a path to any YAML (or any other file) is refused without reading it."""
    own = tmp_path / "mine.yaml"
    own.write_text("name: mine\ndata: {name: csv, params: {path: /etc/passwd, target: x}}\n")
    for name in (str(own), "/etc/passwd", "../recipes/healthy-mlp.yaml"):
        base, error = setup.base_recipe(name)
        assert base is None and error.endswith("a link can open only built-in recipes")
    assert setup.base_recipe("healthy-mlp")[0] is not None and setup.base_recipe(setup.CUSTOM)[0] is not None


def test_a_link_to_a_private_file_shows_a_refusal_and_launches_nothing(home, secret):
    """The Launch page, opened from such a link, shows the refusal, disables Launch and never shows the file."""
    at = AppTest.from_file(MAIN, default_timeout=60)
    at.query_params["recipe"] = "healthy-mlp"
    at.query_params["set"] = ["data.name=csv", f"data.params.path={secret}", "data.params.target=x"]
    at.run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    assert "data.params.path: the dashboard reads only CSV files uploaded to it" in errors
    shown = errors + " ".join(str(m.value) for m in (*at.markdown, *at.caption, *at.warning))
    assert "SECRET" not in shown
    launch = next(b for b in at.button if "Launch" in b.label and "lesson" not in b.label)
    assert launch.disabled
    with Store(home) as store:
        assert store.count_runs() == 0
