"""Compression (``gradclinic compress``): pruning, int8 quantization, distillation, the command.

The lesson that they work on a wide digits MLP lives in tests/lessons/test_compress_digits.py;
here, that each piece does what it says on small models, and that bad input is refused by flag
before anything is stored.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine import cli
from engine.config.errors import RecipeError
from engine.config.recipe import load_recipe
from engine.datasets import prepare as prepare_data
from engine.models import build_model
from engine.store import Store
from engine.training.compress import measure, prune, quantize

ROOT = Path(__file__).resolve().parents[2]
TINY = ["model.depth=1", "model.width=32", "train.steps=60", "train.eval_every=30"]


def model_of(sets: list[str]):
    """A freshly built model and its data for a recipe of the defaults with ``sets``."""
    recipe = load_recipe(None, sets)
    data = prepare_data(recipe.data, 0)
    torch.manual_seed(0)
    return build_model(recipe.model, data), data


def student_of(teacher_id: str, sets: list[str]):
    """The defaults with ``sets``, learning from ``teacher_id`` (given as a string: an all-digit run id
    written as ``--set distill.teacher=12345678`` would be read as a YAML integer)."""
    return load_recipe(None, sets).with_overrides({"distill.teacher": teacher_id})


def trained(store: Store, sets: list[str]) -> str:
    """A completed run of the defaults with ``sets``, trained in this process."""
    from engine.training import session

    recipe = load_recipe(None, sets)
    run_id = store.create_run(recipe.to_dict(), total_steps=recipe.train.steps, status="running")
    session.train(store, run_id, session.prepare(recipe, store))
    return run_id


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    store = Store(tmp_path_factory.mktemp("compress"))
    yield store, trained(store, TINY)
    torch.set_num_threads(threads)


# --- pruning -------------------------------------------------------------------


@pytest.mark.parametrize("amount", [0.3, 0.7, 0.95])
def test_global_pruning_reaches_the_asked_share_of_all_weights(amount):
    model, _ = model_of(["model.depth=2", "model.width=48"])
    done = prune.prune(model, amount)
    zeros = sum(int((p == 0).sum()) for _, p in model.param_layers())
    total = sum(p.numel() for _, p in model.param_layers())
    assert abs(zeros / total - amount) < 1e-3 and abs(done.sparsity - zeros / total) < 1e-9
    assert set(done.layers) == {name for name, _ in model.param_layers()}
    assert len({round(v, 2) for v in done.layers.values()}) > 1  # global: layers lose different shares
    assert not any(name.endswith(("_orig", "_mask")) for name in model.state_dict())  # made permanent


def test_structured_pruning_removes_whole_units_and_channels_and_keeps_the_head():
    mlp, _ = model_of(["model.depth=2", "model.width=40"])
    prune.prune(mlp, 0.5, structured=True)
    for block in mlp.layers:
        rows = (block.layer.weight == 0).all(dim=1)
        assert int(rows.sum()) == 20 and int((block.layer.weight == 0).sum()) == 20 * block.layer.weight.shape[1]
    assert int((mlp.head.weight == 0).sum()) == 0
    cnn, _ = model_of(["model.arch=cnn", "model.depth=2", "model.width=8"])
    prune.prune(cnn, 0.25, structured=True)
    for block in cnn.conv:
        assert int((block.layer.weight == 0).flatten(1).all(dim=1).sum()) == 2  # 2 of 8 output channels
    with pytest.raises(ValueError, match="no hidden Linear or Conv2d"):
        prune.prune(model_of(["model.arch=lstm", "model.depth=1", "model.width=8", "data.name=sine"])[0], 0.5, True)


def test_a_pruned_lstm_runs_on_its_pruned_weights():
    model, data = model_of(["model.arch=lstm", "model.depth=1", "model.width=16", "data.name=sine"])
    prune.prune(model, 0.6)
    assert (model.lstm.weight_hh_l0 == 0).float().mean() > 0.3
    fresh, _ = model_of(["model.arch=lstm", "model.depth=1", "model.width=16", "data.name=sine"])
    fresh.load_state_dict(model.state_dict())
    x = torch.from_numpy(data.x_val[:8])
    with torch.no_grad():  # the LSTM's flat weights follow the pruned parameters
        assert torch.allclose(model.eval()(x), fresh.eval()(x), atol=1e-6)


def test_fine_tuning_keeps_the_pruned_weights_at_zero():
    from engine.training.trainer import Trainer

    recipe = load_recipe(None, ["model.depth=2", "model.width=32", "train.steps=20", "train.eval_every=10"])
    data = prepare_data(recipe.data, 0)
    model = build_model(recipe.model, data)
    done = prune.prune(model, 0.8)
    before = [p.detach().clone() for _, p in model.param_layers()]
    Trainer(recipe, data, model, torch.device("cpu"), [prune.KeepMasks(model, done.masks)]).fit()
    assert abs(prune.sparsity(model)[0] - 0.8) < 1e-3
    assert any(not torch.equal(a, p) for a, (_, p) in zip(before, model.param_layers()))  # the kept ones learned


# --- quantization and measurement ---------------------------------------------


@pytest.mark.parametrize(
    "sets, int8_layers",
    [
        (["model.depth=2", "model.width=64"], {"layers.0.layer", "layers.1.layer", "head"}),
        (["model.arch=lstm", "model.depth=1", "model.width=32", "data.name=sine"], {"lstm", "head"}),
        (["model.arch=gru", "model.depth=1", "model.width=32", "data.name=sine"], {"gru", "head"}),
    ],
)
def test_dynamic_int8_models_run_close_to_the_float_one(sets, int8_layers):
    model, data = model_of(sets)
    q = quantize.dynamic_int8(model.eval())
    assert q.model is not None and set(q.layers) == int8_layers and q.engine in quantize.ENGINES
    x = torch.from_numpy(data.x_val[:16])
    with torch.no_grad():
        out, ref = q.model(x), model(x)
    assert out.shape == ref.shape and (out - ref).abs().max() < 0.05 * ref.abs().max() + 1e-3
    assert isinstance(model.head, torch.nn.Linear)  # the float model is left as it was


def test_static_int8_applies_to_the_cnn_or_says_why():
    model, data = model_of(["model.arch=cnn", "model.depth=2", "model.width=16"])
    dynamic, static = quantize.int8(model.eval(), "cnn", torch.from_numpy(data.x_train))
    assert dynamic.layers == ["head"]  # dynamic int8 has no convolutions
    assert static.method == "static" and (static.model is not None) != (static.why_not is not None)
    if static.model is not None:
        assert {"conv.0.layer", "conv.1.layer", "head"} <= set(static.layers)
        x = torch.from_numpy(data.x_val[:32])
        with torch.no_grad():
            agree = (static.model(x).argmax(-1) == model(x).argmax(-1)).float().mean()
        assert agree > 0.8


def test_sizes_counts_and_latency():
    model, data = model_of(["model.depth=2", "model.width=128"])
    dense = measure.measure(model, data, sparse=True, repeats=3)
    assert dense["params"] == model.num_parameters() == dense["nonzero_params"]
    assert dense["latency_ms"] > 0 and dense["latency_rows"] == measure.LATENCY_ROWS
    assert dense["size_csr_bytes"] > dense["size_bytes"]  # dense weights cost more as CSR
    q = quantize.dynamic_int8(model)
    assert q.model is not None
    assert 3.0 < dense["size_bytes"] / measure.size_bytes(q.model) < 4.1
    prune.prune(model, 0.9)
    pruned = measure.measure(model, data, sparse=True, repeats=3)
    assert abs(pruned["nonzero_params"] - (dense["params"] - 0.9 * sum(p.numel() for _, p in model.param_layers()))) < 2
    assert pruned["size_bytes"] == pytest.approx(dense["size_bytes"], rel=0.01)  # zeros take their 4 bytes
    assert pruned["size_csr_bytes"] < 0.3 * pruned["size_bytes"]


# --- distillation --------------------------------------------------------------


def test_the_teacher_is_not_part_of_the_student(teacher):
    from engine.training import session
    from engine.training.distill import DistillObjective

    store, teacher_id = teacher
    sets = ["model.depth=1", "model.width=8", "train.steps=20"]
    student = session.prepare(student_of(teacher_id, sets), store)
    plain = build_model(load_recipe(None, sets).model, student.data)
    model = student.model
    assert isinstance(model.objective, DistillObjective)
    assert list(model.state_dict()) == list(plain.state_dict())
    assert model.num_parameters() == plain.num_parameters() == sum(p.numel() for p in model.parameters())
    assert len(list(model.modules())) == len(list(plain.modules()))
    assert [n for n, _ in model.param_layers()] == [n for n, _ in plain.param_layers()]
    model.train()
    assert not model.objective.teacher.training  # the student's mode never reaches it
    # The loss: alpha T^2 KL(teacher_T || student_T) + (1 - alpha) CE, by hand.
    x, y = torch.from_numpy(student.data.x_train[:16]), torch.from_numpy(student.data.y_train[:16])
    out = model(x)
    with torch.no_grad():
        t = model.objective.teacher(x)
    p_t, T = torch.softmax(t / 4.0, -1), 4.0
    kl = (p_t * (p_t.log() - torch.log_softmax(out / T, -1))).sum(-1).mean()
    ce = torch.nn.functional.cross_entropy(out, y)
    loss = model.objective(out, x, y, torch.nn.functional.cross_entropy)
    assert torch.allclose(loss, 0.7 * T * T * kl + 0.3 * ce, atol=1e-5)
    loss.backward()
    assert all(p.grad is None for p in model.objective.teacher.parameters())


def test_a_teacher_on_other_data_or_another_split_is_refused_naming_distill_teacher(teacher):
    from engine.training import session

    store, teacher_id = teacher
    other = trained(store, [*TINY, "data.name=wine"])
    for sets, who, words in (
        (["data.name=wine"], teacher_id, "same data"),
        ([], other, "same data"),
        (["seed=3"], teacher_id, "validation rows"),
        ([], "0badcafe", "no run"),
    ):
        with pytest.raises(RecipeError, match=f"^distill.teacher: .*{words}"):
            session.prepare(student_of(who, [*TINY, *sets]), store)
    with pytest.raises(RecipeError, match="^distill.teacher: .*run store"):
        session.prepare(student_of(teacher_id, TINY), None)


def test_a_student_on_fewer_rows_feeds_the_teacher_its_own_standardisation(teacher):
    from engine.training import session
    from engine.training.weights import load_weights

    store, teacher_id = teacher
    student = session.prepare(student_of(teacher_id, [*TINY, "data.train_limit=50"]), store)
    own = load_weights(store, teacher_id, "last")
    idx = [int(i) for i in range(8)]
    with torch.no_grad():  # the same validation digits, standardised two ways, give the teacher the same logits
        seen = student.model.objective.teacher(torch.from_numpy(student.data.x_val[idx]))
        ref = own.model(torch.from_numpy(own.data.x_val[idx]))
    assert torch.allclose(seen, ref, atol=1e-4)


# --- the command ---------------------------------------------------------------


@pytest.mark.parametrize(
    "flags, named",
    [
        ([], "--prune LEVELS, --quantize int8 or --distill"),
        (["--prune", "0"], "--prune"),
        (["--prune", "1.5"], "--prune"),
        (["--prune", "half"], "--prune"),
        (["--prune", "0.5,0.5"], "--prune"),
        (["--prune", ",".join(["0.1"] * 9)], "--prune"),
        (["--structured"], "--structured"),
        (["--finetune", "10"], "--finetune"),
        (["--prune", "0.5", "--finetune", "0"], "--finetune"),
        (["--prune", "0.5", "--finetune", "100000"], "--finetune"),
        (["--quantize", "int4"], "--quantize"),
        (["--distill", "model.width=0"], "--distill"),
        (["--distill", "data.name=wine"], "--distill"),
        (["--distill", "nonsense"], "--distill"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag_and_store_nothing(teacher, capsys, flags, named):
    store, teacher_id = teacher
    before = store.count_runs()
    assert cli.main(["--home", str(store.home), "compress", teacher_id, *flags]) == 2
    err = capsys.readouterr().err
    assert named in err and err.count("\n") == 1, err
    assert store.count_runs() == before


def test_a_diverged_run_is_neither_compressed_nor_a_teacher(teacher, capsys):
    from engine.training import session

    store, _ = teacher
    run_id = trained(store, [*TINY, "train.steps=5", "train.eval_every=5"])
    store.set_status(run_id, "diverged")  # as a run whose loss went non-finite is recorded
    assert cli.main(["--home", str(store.home), "compress", run_id, "--prune", "0.5"]) == 2
    assert "diverged" in capsys.readouterr().err
    with pytest.raises(RecipeError, match="^distill.teacher: .*diverged"):
        session.prepare(student_of(run_id, TINY), store)


def test_refusals_come_before_torch_loads(teacher):
    store, teacher_id = teacher
    argv = ["--home", str(store.home), "compress", teacher_id, "--prune", "0.5", "--finetune", "0"]
    code = f"import sys\nfrom engine import cli\nrc = cli.main({argv!r})\nprint(rc, 'torch' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.split() == ["2", "False"], out.stderr[-2000:]


def test_the_command_stores_every_variant_as_a_completed_run_in_one_group(teacher, capsys):
    from engine.training.weights import load_weights

    store, teacher_id = teacher
    args = ["--prune", "0.5", "--finetune", "20", "--quantize", "int8", "--distill", "model.width=8,train.steps=20"]
    assert cli.main(["--home", str(store.home), "compress", teacher_id, *args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    names = [v["name"] for v in result["variants"]]
    assert names == [
        "dense (as trained)",
        "prune 50%",
        "prune 50% + finetune 20",
        "int8 dynamic",
        "student distilled (T=4, alpha=0.7)",
        "student labels only",
    ]
    runs = store.list_runs(group=result["group"])
    assert len(runs) == len(names) and set(runs["status"]) == {"completed"}
    for v in result["variants"]:
        summary = store.get_run(v["run_id"])["summary"]
        c = summary["compress"]
        assert c["source"] == teacher_id and c["kind"] == v["kind"]
        for key in ("val_accuracy", "params", "nonzero_params", "size_bytes", "latency_ms", "what"):
            assert c[key] is not None, (v["name"], key)
        assert summary["final"]["val_accuracy"] == pytest.approx(c["val_accuracy"], abs=1e-6)
    pruned = next(v for v in result["variants"] if v["name"] == "prune 50%")
    assert pruned["pruning"]["sparsity"] == pytest.approx(0.5, abs=1e-3)
    reloaded = load_weights(store, pruned["run_id"], "last")  # what `gradclinic explain` reads
    assert prune.sparsity(reloaded.model)[0] == pytest.approx(0.5, abs=1e-3)
    tuned = next(v for v in result["variants"] if v["kind"] == "prune+finetune")
    assert tuned["pruning"]["after_finetune"] == pytest.approx(0.5, abs=1e-3)
    int8 = next(v for v in result["variants"] if v["kind"] == "quantize")
    assert not (store.runs_dir(int8["run_id"]) / "final.safetensors").exists()  # a summary only
    students = {v["kind"]: v for v in result["variants"] if v["kind"] in ("distill", "labels")}
    assert students["distill"]["params"] == students["labels"]["params"] < result["dense"]["params"]
