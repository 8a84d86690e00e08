"""``gradclinic compress`` as the dashboard's background job: its flags, its progress lines, its refusals.

The count the progress bar divides by (:func:`engine.control.compress.expected_variants`) is
checked against a real compress of a tiny trained run (the shape tests/engine/test_compress.py
trains), every kind of variant asked for at once, through the command with ``--json``.
"""

from __future__ import annotations

import json

import pytest

from engine import cli
from engine.config.errors import RecipeError
from engine.control import compress, compress_job
from engine.control.compress import Plan, expected_variants
from engine.control.compress_job import Request
from tests.engine.test_compress import teacher  # noqa: F401  (the module-scoped trained run)


def test_progress_lines_round_trip_and_other_lines_are_not_progress():
    line = compress_job.progress_line(3, 7, "prune 80% + finetune 20")
    assert line == "compress: progress 3/7 prune 80% + finetune 20\n"
    assert compress_job.parse_progress(line) == (3 / 7, "3 of 7 variants made (last: prune 80% + finetune 20)")
    assert compress_job.parse_progress("compress: progress 0/5 loading the run's weights\n") == (
        0.0,
        "0 of 5 variants made",
    )
    for other in ("compress: prune 80%: val_accuracy 0.9", "compress: progress x/7 y", "UserWarning: ...", ""):
        assert compress_job.parse_progress(other) is None


def test_a_request_becomes_the_flags_of_the_command():
    req = Request("ab12cd34", prune=(0.8, 0.95), structured=True, finetune=50, quantize="int8", distill="model.width=8")
    assert req.flags() == [
        "--prune",
        "0.8,0.95",
        "--structured",
        "--finetune",
        "50",
        "--quantize",
        "int8",
        "--distill",
        "model.width=8",
    ]
    assert Request("ab12cd34", quantize="int8").flags() == ["--quantize", "int8"]  # no fine-tune flag for 0
    argv = compress_job.command(req, home="/tmp/store")
    assert argv[1:7] == ["-m", "engine.cli", "--home", "/tmp/store", "compress", "ab12cd34"] and argv[-1] == "--json"


@pytest.mark.parametrize(
    "plan, arch, n",
    [
        (Plan("r", prune=(0.5,)), "mlp", 2),
        (Plan("r", prune=(0.5, 0.9), finetune=10), "mlp", 5),
        (Plan("r", quantize="int8"), "cnn", 3),  # dynamic and static
        (Plan("r", prune=(0.5,), quantize="int8", distill={"model.width": 8}), "lstm", 5),
    ],
)
def test_expected_variants_counts_each_kind(plan, arch, n):
    assert expected_variants(plan, arch) == n


def test_with_json_the_command_counts_every_variant_it_makes(teacher, capsys):  # noqa: F811
    store, teacher_id = teacher
    req = Request(teacher_id, prune=(0.5, 0.9), finetune=10, quantize="int8", distill="model.width=8,train.steps=10")
    assert cli.main(["--home", str(store.home), "compress", teacher_id, *req.flags(), "--json"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)
    seen = [p for p in map(compress_job.parse_progress, err.splitlines(keepends=True)) if p is not None]
    total = len(result["variants"])
    assert total == 8 == expected_variants(compress_job.check(store, req), "mlp")  # the page's own plan
    assert [share for share, _ in seen] == [i / total for i in range(total + 1)]  # 0 of 8 first, then one a variant
    assert seen[-1][1] == f"{total} of {total} variants made (last: student labels only)"
    assert "compress: dense" not in err  # the human lines are for a person, without --json


def test_a_refused_request_names_the_flag_here_and_in_the_child(teacher):  # noqa: F811
    store, teacher_id = teacher
    with pytest.raises(RecipeError, match="^--finetune: fine-tunes each pruned copy"):
        compress_job.check(store, Request(teacher_id, finetune=10, quantize="int8"))
    with pytest.raises(RecipeError, match="^compress: give --prune"):
        compress_job.check(store, Request(teacher_id))
    before = store.count_runs()
    job = compress_job.start(Request(teacher_id, prune=(0.5,), finetune=compress.MAX_FINETUNE + 1), home=store.home)
    job.proc.wait(timeout=120)  # refused before torch loads: a second or two
    assert job.done()
    result, message = job.outcome()
    assert result is None and message is not None and message.startswith("invalid input: --finetune: give 1 to")
    assert store.count_runs() == before
