"""The memory and time estimate before a run starts: honest sizes, and refusals that name the key at fault."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from engine.config import names
from engine.config.errors import RecipeError
from engine.config.recipe import list_recipe_names, load_recipe
from engine.control import budget, compare, lifecycle
from engine.models import _sizes, capabilities
from engine.store import Store

ROOT = Path(__file__).resolve().parents[2]
GB = 10**9
#: Each architecture, built on data of every kind it takes (a new architecture needs a row here).
CASES = {
    "mlp": ("digits", "wine", "copy", "moving_digits"),
    "cnn": ("digits", "moving_digits"),
    "crnn": ("moving_digits",),
    "rnn": ("adding", "digits", "moons"),
    "lstm": ("copy", "digits"),
    "gru": ("sine", "digits", "moving_digits"),
    "transformer": ("adding", "digits"),
    "autoencoder": ("digits", "wine"),
    "gan": ("ring",),
}
HUGE_MLP = ["--set", "model.depth=200", "--set", "model.width=4096"]
HUGE_CNN = ["--set", "model.arch=cnn", "--set", "model.depth=200", "--set", "model.width=4096"]
HUGE_BATCH = ["--set", "data.name=moons", "--set", "data.params.n_samples=1000000", "--set", "train.batch_size=65536"]
HUGE_BATCH += ["--set", "model.width=4096", "--set", "model.depth=20"]


def _specs(arch: str) -> list[dict]:
    """Three sizes, the last with every option the architecture declares (norm, residual, dropout)."""
    caps = capabilities(arch)
    full = {"model.norm": caps.norms[-1], "model.residual": caps.residual, "model.dropout": 0.1}
    return [
        {"model.depth": 1, "model.width": 16},
        {"model.depth": 2, "model.width": 24},
        {"model.depth": 3, "model.width": 32, **full},
    ]


def _built(arch: str, data: str, sets: dict):
    from engine.datasets import prepare
    from engine.models import build_model

    recipe = load_recipe(None, {"model.arch": arch, "data.name": data, **sets})
    prepared = prepare(recipe.data, 0)
    shape = _sizes.DataShape(
        tuple(prepared.input_shape), prepared.n_outputs, len(prepared.y_train), len(prepared.y_val)
    )
    return build_model(recipe.model, prepared), _sizes.size_of(recipe.model, shape), prepared


def _kept_per_sample(model, arch: str, x) -> float:
    """Bytes per sample of the tensors autograd keeps for backward in one training forward pass (weights aside)."""
    import torch

    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}

    def kept(n: int) -> int:
        storages: dict[int, int] = {}

        def pack(t):
            s = t.untyped_storage()
            if s.data_ptr() not in weights:
                storages[s.data_ptr()] = s.nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            batch = x[:n].clone()
            if arch == "gan":  # its step: the discriminator on real and fake points, then on fake again
                fake = model.gen(torch.randn(n, _sizes.GAN_NOISE_DIM))
                model.disc(torch.cat([batch, fake.detach()])).sum() + model.disc(fake).sum()
            else:
                model(batch).sum()
        return sum(storages.values())

    return (kept(32) - kept(16)) / 16  # the slope: what grows with the batch


def test_every_architecture_has_a_size_entry_and_a_case_here():
    assert set(_sizes.SIZES) == set(names.ARCHITECTURES.names()) == set(CASES)


@pytest.mark.parametrize("arch,data", [(a, d) for a, ds in CASES.items() for d in ds])
def test_the_parameter_count_is_exact(arch, data):
    """The analytic count equals sum(p.numel()) of the built model, at three sizes."""
    for sets in _specs(arch):
        model, size, _ = _built(arch, data, sets)
        assert size.params == sum(p.numel() for p in model.parameters() if p.requires_grad), sets


#: Video through the architectures that read it in a way of their own (frames through a conv stack, or as steps).
VIDEO = [("cnn", "moving_digits"), ("gru", "moving_digits")]


@pytest.mark.parametrize("arch,data", [(a, ds[0]) for a, ds in CASES.items()] + VIDEO)
def test_kept_activations_are_estimated_from_above_within_a_factor_of_three(arch, data):
    """What autograd really keeps per sample is at most the estimate, and at least a third of it."""
    import torch

    for sets in _specs(arch):
        model, size, prepared = _built(arch, data, sets)
        model.train()
        kept = _kept_per_sample(model, arch, torch.as_tensor(prepared.x_train[:32]))
        estimated = size.acts * budget.FLOAT_BYTES
        assert kept <= estimated <= 3 * kept, (sets, kept, estimated)


@pytest.mark.parametrize("name", names.optimizers())
def test_optimizer_state_is_the_buffers_torch_keeps(name):
    """After one step, each optimizer holds OPTIMIZER_STATE[name] tensors the size of the weights."""
    import torch

    from engine.training.optimizers import OPTIMIZERS

    model = torch.nn.Linear(10, 5)
    recipe = load_recipe(None, {"train.optimizer": name})
    opt = OPTIMIZERS.get(name)(model.parameters(), recipe.train)
    model(torch.randn(4, 10)).sum().backward()
    opt.step()
    n_params = sum(p.numel() for p in model.parameters())
    held = sum(v.numel() for state in opt.state.values() for v in state.values() if torch.is_tensor(v) and v.ndim)
    assert held == budget.OPTIMIZER_STATE[name] * n_params
    assert set(budget.OPTIMIZER_STATE) == set(names.optimizers())


def test_the_sizes_mirror_the_training_side_constants():
    """Numbers _sizes repeats from torch-side files stay equal to them."""
    from engine.models import gan
    from engine.training import trainer
    from engine.training.batches import Batches

    assert (_sizes.GAN_NOISE_DIM, _sizes.GAN_EVAL_POINTS) == (gan.NOISE_DIM, gan.N_EVAL)
    assert inspect.signature(trainer.evaluate).parameters["chunk"].default == _sizes.EVAL_CHUNK
    assert inspect.signature(Batches.train_eval_tensors).parameters["max_n"].default == _sizes.TRAIN_EVAL_ROWS


@pytest.mark.parametrize("name", list_recipe_names())
def test_every_built_in_recipe_and_variant_fits_a_small_laptop(name):
    """Each run a lesson makes needs well under 2 GB, so 4 GB of free memory is enough."""
    recipe = load_recipe(name)
    for r in [recipe] + [recipe.with_overrides(v.set) for v in recipe.compare]:
        found = budget.check_fits(r, available=4 * GB)
        assert found.total < 2 * GB and found.seconds < 120, (r.name, found.summary())


def test_the_check_never_imports_torch():
    code = (
        "import sys\n"
        "from engine.config.recipe import list_recipe_names, load_recipe\n"
        "from engine.control import budget\n"
        "for n in list_recipe_names(): budget.estimate(load_recipe(n))\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.strip() == "False", out.stderr[-2000:]


@pytest.fixture
def twenty_gb(monkeypatch):
    """A machine with 20 GB free, whatever runs the tests."""
    monkeypatch.setattr(budget, "available_memory", lambda: 20 * GB)


def _refused(capsys, tmp_path, *args) -> str:
    code = main(["--home", str(tmp_path), "run", *args])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "Traceback" not in err
    assert err.startswith("gradclinic: invalid input:") and len(err.strip().splitlines()) == 1 and len(err) < 2000
    assert len(Store(tmp_path).list_runs()) == 0
    return err


def test_a_huge_mlp_is_refused_naming_its_width(capsys, tmp_path, twenty_gb):
    err = _refused(capsys, tmp_path, "healthy-mlp", *HUGE_MLP)
    assert re.search(r"model\.width: this run needs about \d+ GB \(13 GB of weights, ", err), err
    assert "27 GB of adam state" in err and "train.batch_size=64" in err and "but 20 GB of memory is free" in err
    assert err.rstrip().endswith("lower model.width or model.depth")


def test_a_huge_cnn_is_refused(capsys, tmp_path, twenty_gb):
    err = _refused(capsys, tmp_path, "mlp-vs-cnn", *HUGE_CNN)
    assert "model.width: this run needs about" in err and "120 GB of weights" in err, err


def test_a_huge_batch_is_refused_naming_the_batch_size_and_what_fits(capsys, tmp_path, twenty_gb):
    err = _refused(capsys, tmp_path, "healthy-mlp", *HUGE_BATCH)
    assert "train.batch_size: this run needs about" in err and "GB of activations at train.batch_size=65536" in err
    fits = int(err.split("about ")[-1].split(" would fit")[0].replace(",", ""))
    assert 1000 < fits < 65536, err


def test_a_gan_on_a_million_points_is_refused_for_its_evaluation(twenty_gb):
    """Its MMD compares every pair of validation points, so the data's size is at fault."""
    recipe = load_recipe("gan-2d", ["data.params.n_samples=1000000"])
    with pytest.raises(
        RecipeError, match=r"^data\.params\.n_samples: .* GB for evaluation.*lower data\.params\.n_samples$"
    ):
        budget.check_fits(recipe)


def test_a_long_sequence_names_the_batch_and_a_small_batch_fits(twenty_gb):
    sets = ["model.arch=transformer", "model.width=256", "model.depth=4", "data.params.seq_len=1000"]
    long = load_recipe("rnn-vs-transformer", [*sets, "train.batch_size=4096"])
    with pytest.raises(RecipeError, match="^train.batch_size: .* at a batch of all 1600 training rows"):
        budget.check_fits(long)
    assert budget.check_fits(long.with_overrides({"train.batch_size": 16})).fits


def test_the_batch_never_counts_more_rows_than_the_training_set():
    found = budget.estimate(load_recipe("healthy-mlp", ["train.batch_size=65536"]), available=20 * GB)
    assert found.batch == 1437 and "a batch of all 1437 training rows" in found.breakdown()


def test_unreadable_data_still_refuses_a_huge_model_and_leaves_the_rest_to_the_run(tmp_path, twenty_gb):
    sets = ["data.name=csv", f"data.params.path={tmp_path / 'gone.csv'}", "data.params.target=y"]
    assert not budget.check_fits(load_recipe(None, sets)).data_known
    with pytest.raises(RecipeError, match="^model.width: "):
        budget.check_fits(load_recipe(None, [*sets, "model.depth=200", "model.width=4096"]))


def test_launch_and_compare_queue_nothing_that_cannot_fit(tmp_path, twenty_gb):
    store = Store(tmp_path)
    huge = load_recipe("healthy-mlp", {"model.depth": 200, "model.width": 4096})
    with pytest.raises(RecipeError, match="^model.width: this run needs"):
        lifecycle.launch(store, huge)
    base = load_recipe("healthy-mlp")
    with pytest.raises(RecipeError, match=r"^model.width \(wide\): this run needs"):
        compare.launch_group(store, base, [("baseline", {}), ("wide", {"model.depth": 200, "model.width": 4096})])
    assert len(store.list_runs()) == 0


def test_the_dashboard_says_so_before_launch_is_pressed(twenty_gb):
    from app.logic import launch as setup

    base = load_recipe("healthy-mlp")
    recipe, error = setup.resolve(base, {"model.width": 4096}, "model.depth=200")
    assert recipe is None and error is not None and error.startswith("model.width: this run needs about")
    assert setup.resolve(base, {}, "")[1] is None


def test_a_run_prints_its_estimate_before_training(capsys, tmp_path):
    code = main(
        ["--home", str(tmp_path), "run", "healthy-mlp", "--set", "train.steps=20", "--set", "train.eval_every=10"]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert re.match(r"gradclinic: this run needs about 1\.0 GB of \d+ GB free memory, about \d+ s on this CPU", err), (
        err
    )


def test_the_worker_holds_the_run_against_the_gpus_free_memory():
    """On a CUDA device the training side checks again, against torch.cuda.mem_get_info."""
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device here")
    from engine.training import session

    huge = load_recipe(
        "mlp-vs-cnn", {"train.device": "cuda", "model.arch": "cnn", "model.depth": 200, "model.width": 4096}
    )
    with pytest.raises(RecipeError, match=r"^model\.width: this run needs about .* of cuda memory is free"):
        session.prepare(huge)
    assert session.prepare(load_recipe("healthy-mlp", {"train.device": "cuda"})).device.type == "cuda"


def test_the_worker_asks_torch_for_the_gpus_free_memory(monkeypatch):
    """Without a GPU here: the training side's check reads torch.cuda.mem_get_info when the device is cuda."""
    import torch

    from engine.training import session

    monkeypatch.setattr(session, "resolve_device", lambda name: torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (20 * GB, 140 * GB))
    huge = load_recipe("healthy-mlp", {"model.depth": 200, "model.width": 4096})
    with pytest.raises(RecipeError, match=r"^model\.width: .* but 20 GB of cuda memory is free"):
        session.prepare(huge)
