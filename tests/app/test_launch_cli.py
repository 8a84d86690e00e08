"""The command line the Launch page prints runs as printed, the uploaded-CSV (``custom``) setup included."""

from __future__ import annotations

import json
import shlex

from app.logic import launch as setup
from app.logic import toggles
from engine import cli
from engine.config.recipe import load_recipe
from tests.app.conftest import ROOT

PENGUINS = (ROOT / "sample_data" / "penguins.csv").read_bytes()


def as_check(argv: list[str]) -> list[str]:
    """The printed ``gradclinic … run …`` arguments as the dry run ``check`` (which takes no ``--name``)."""
    argv = ["check" if a == "run" else a for a in argv]
    if "--name" in argv:
        i = argv.index("--name")
        del argv[i : i + 2]
    return argv


def test_the_command_for_an_uploaded_csv_runs_as_printed(tmp_path, capsys):
    path, error = setup.accept_upload(tmp_path, "penguins (1).csv", PENGUINS, "species")
    assert error is None
    # What "Use this CSV" puts in the URL, then a toggle and an Advanced line.
    toggle_sets = {"train.lr": 1e-4, "model.residual": True}
    advanced = "\n".join(
        [*(toggles.encode(k, v) for k, v in setup.csv_sets(path, "species").items()), "train.steps=50"]
    )
    base = load_recipe(None)
    sets = setup.setup_sets(toggle_sets, advanced)
    line = setup.cli_command(setup.CUSTOM, sets, home=tmp_path, label=setup.run_name(base, sets))
    assert line.startswith(f"gradclinic --home {tmp_path} run custom --set ")

    argv = shlex.split(line)[1:]  # what a POSIX shell hands the program
    args = cli.build_parser().parse_args(argv)
    assert (args.command, args.recipe, args.name) == (
        "run",
        "custom",
        "penguins (1).csv: lr=0.0001, residual=on, steps=50",
    )

    assert cli.main([*as_check(argv), "--json"]) == cli.EXIT_OK
    checked = json.loads(capsys.readouterr().out)
    page_recipe, page_error = setup.resolve(base, toggle_sets, advanced, uploads=tmp_path / "uploads")
    assert page_error is None and checked["recipe"] == page_recipe.to_dict()  # the same run as the page's
    assert checked["data"] == {"name": "csv", "train": 273, "val": 69}


def test_custom_on_the_command_line_is_the_built_in_defaults(capsys):
    assert cli.main(["check", "custom", "--json"]) == cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["recipe"] == load_recipe(None).to_dict()
    assert cli.main(["check", "no-such-recipe"]) == cli.EXIT_INVALID  # other unknown names are still refused


def test_the_launch_page_prints_the_command_for_its_setup(home):
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import MAIN

    at = AppTest.from_file(MAIN, default_timeout=60)
    at.query_params["recipe"] = "healthy-mlp"
    at.query_params["set"] = "train.steps=50"
    at.run()
    assert not at.exception, at.exception
    printed = [c.value for c in at.code if c.value.startswith("gradclinic ") and " run " in c.value]
    assert printed == [f"gradclinic --home {home} run healthy-mlp --set train.steps=50 --name 'healthy-mlp: steps=50'"]
    swept = [c.value for c in at.code if c.value.startswith("gradclinic ") and " sweep " in c.value]
    assert len(swept) == 1 and "sweep healthy-mlp --set train.steps=50 --space" in swept[0]  # the sweep box's line
