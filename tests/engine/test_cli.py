"""The command line: the JSON contract, exit codes, and the commands around a run."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import cli
from engine.cli import main
from engine.store import Store

ROOT = Path(__file__).resolve().parents[2]
QUICK = ["--set", "train.steps=60", "--set", "train.eval_every=20"]


def run_cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_json_prints_one_summary_object(tmp_path, capsys):
    code, out, err = run_cli(capsys, "--home", str(tmp_path), "run", "healthy-mlp", *QUICK, "--json")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    summary = json.loads(lines[0])
    assert set(summary) >= {"run_id", "recipe", "status", "steps", "seconds", "device", "final", "findings"}
    assert summary["recipe"] == "healthy-mlp" and summary["status"] == "completed" and summary["steps"] == 60
    assert summary["device"] == "cpu"
    assert set(summary["final"]) == {"train_loss", "val_loss", "val_accuracy"}
    assert 0.0 <= summary["final"]["val_accuracy"] <= 1.0
    for finding in summary["findings"]:
        assert {"code", "severity", "first_step", "layers", "message", "remedies"} <= set(finding)


def test_invalid_recipe_or_override_exits_2_with_one_message_and_stores_nothing(tmp_path, capsys):
    for args in (
        ["run", "no-such-recipe"],
        ["run", "healthy-mlp", "--set", "train.lr=-1"],
        ["run", "healthy-mlp", "--set", "model.bogus=1"],
    ):
        code, out, err = run_cli(capsys, "--home", str(tmp_path), *args)
        assert code == 2, args
        assert out == ""
        assert err.startswith("gradclinic: invalid input:") and "Traceback" not in err
    assert Store(tmp_path).list_runs().empty


def test_bad_csv_exits_2_naming_the_problem(tmp_path, capsys):
    csv = tmp_path / "bad.csv"
    csv.write_text("a,b,label\n1,x,0\n" * 30)
    code, out, err = run_cli(
        capsys,
        "--home",
        str(tmp_path),
        "run",
        "healthy-mlp",
        "--set",
        "data.name=csv",
        "--set",
        f"data.params.path={csv}",
        "--set",
        "data.params.target=label",
    )
    assert code == 2 and "b" in err and "numeric" in err, err
    assert Store(tmp_path).list_runs().empty


def test_sample_csv_trains(tmp_path, capsys):
    code, out, err = run_cli(
        capsys,
        "--home",
        str(tmp_path),
        "run",
        "healthy-mlp",
        *QUICK,
        "--set",
        "data.name=csv",
        "--set",
        "data.params.path=sample_data/penguins.csv",
        "--set",
        "data.params.target=species",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["final"]["val_accuracy"] > 0.6


def test_ls_show_and_export(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "--home", str(tmp_path), "run", "healthy-mlp", *QUICK, "--json")
    run_id = json.loads(out)["run_id"]
    code, out, _ = run_cli(capsys, "--home", str(tmp_path), "ls")
    assert code == 0 and run_id in out and "completed" in out and "60/60" in out
    code, out, _ = run_cli(capsys, "--home", str(tmp_path), "show", run_id[:4])
    assert code == 0 and "gradient norm per layer" in out and "layers.0" in out and "head" in out
    code, out, _ = run_cli(capsys, "--home", str(tmp_path), "show", run_id, "--json")
    report = json.loads(out)
    assert [layer["name"] for layer in report["gradient_flow"]["layers"]][-1] == "head"
    for fmt in ("csv", "parquet"):
        code, out, _ = run_cli(
            capsys, "--home", str(tmp_path), "export", run_id, "--format", fmt, "--out", str(tmp_path / fmt)
        )
        assert code == 0
        files = sorted(p.name for p in (tmp_path / fmt).iterdir())
        assert any(f.endswith(f"scalars.{fmt}") for f in files) and any(f.endswith(f"layer_stats.{fmt}") for f in files)


def test_show_unknown_run_exits_1(tmp_path, capsys):
    code, out, err = run_cli(capsys, "--home", str(tmp_path), "show", "deadbeef")
    assert code == 1 and "no run" in err


def test_recipes_lists_the_builtin_ones(capsys):
    code, out, _ = run_cli(capsys, "recipes")
    assert code == 0 and "vanishing-sigmoid" in out and "healthy-mlp" in out


def test_console_script_json_is_the_only_stdout(tmp_path):
    env = {**os.environ, "GRADCLINIC_HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "engine.cli", "run", "healthy-mlp", *QUICK, "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "completed"


def test_the_run_table_lists_a_queued_run_beside_one_that_has_steps(tmp_path):
    """A queued run has no step yet (NaN in the table); it once broke `gradclinic ls` for good."""
    from engine.config.recipe import load_recipe
    from engine.control.report import runs_table

    with Store(tmp_path) as store:
        recipe = load_recipe("healthy-mlp").to_dict()
        queued = store.create_run(recipe, total_steps=800)
        ran = store.create_run(recipe, total_steps=800, status="running")
        store.heartbeat(ran, step=400)
        store.set_status(ran, "completed")
        rows = runs_table(store).set_index("id")
    assert rows.loc[ran, "progress"] == "400/800 (50%)"
    assert rows.loc[queued, "progress"] == "0/800 (0%)"


def test_every_command_has_readable_help(capsys):
    """argparse %-formats help strings: a bare % in one (\"95% interval\") broke `gradclinic --help`."""
    parser = cli.build_parser()
    with pytest.raises(SystemExit) as done:
        parser.parse_args(["--help"])
    assert done.value.code == 0
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in commands:
        with pytest.raises(SystemExit) as done:
            parser.parse_args([name, "--help"])
        assert done.value.code == 0, name
    assert "explain" in capsys.readouterr().out
