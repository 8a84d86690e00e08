"""train.amp, train.compile and train.channels_last: what they accept, and what a run records under them.

fp16 with loss scaling runs on a CPU too (emulated), so the scaler's skipped steps are tested here
without a GPU: a scaler that starts at 2**40 overflows fp16's gradients for its first steps and
halves its factor each time, exactly what it does on a GPU in the first steps of a real run.
"""

from __future__ import annotations

import pytest
import torch

from engine.config.errors import RecipeError
from engine.config.recipe import load_recipe
from engine.diagnosis.diagnose import diagnose_into_store
from engine.store import Store
from engine.training.events import Callback
from engine.training.precision import Precision, resolve_dtype
from engine.training.probing.manager import ProbeManager
from engine.training.recorder import Recorder
from engine.training.session import prepare
from engine.training.trainer import Trainer

DIGITS_MLP = ["data.name=digits", "model.arch=mlp", "model.depth=2", "model.width=32", "train.lr=0.01"]


# --- what a recipe may ask -----------------------------------------------------------------


def test_amp_means_bf16_on_a_cpu_and_fp16_on_cuda():
    train = load_recipe(None, ["train.amp=true"]).train
    assert resolve_dtype(train, torch.device("cpu")) == "bf16"
    assert resolve_dtype(train, torch.device("cuda")) == "fp16"
    assert resolve_dtype(load_recipe(None, []).train, torch.device("cuda")) is None
    bf16 = load_recipe(None, ["train.amp=true", "train.amp_dtype=bf16"]).train
    assert resolve_dtype(bf16, torch.device("cuda")) == "bf16"


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["train.amp_dtype=fp16"], "train.amp_dtype"),  # a dtype without amp
        (["train.amp=true", "train.amp_dtype=fp8"], "train.amp_dtype"),
        (["model.arch=mlp", "train.channels_last=true"], "train.channels_last"),  # no convolutions
        (["data.name=ring", "model.arch=gan", "train.amp=true"], "train.amp"),  # its own update
        (["data.name=ring", "model.arch=gan", "train.compile=true"], "train.compile"),
        (["train.compile=yes please"], "train.compile"),
    ],
)
def test_what_cannot_apply_is_refused_naming_the_key(overrides, key):
    with pytest.raises(RecipeError, match=key.replace(".", r"\.")):
        load_recipe(None, overrides)


def test_a_cnn_may_ask_for_channels_last():
    recipe = load_recipe(None, ["data.name=digits", "model.arch=cnn", "train.channels_last=true"])
    assert recipe.train.channels_last


# --- fp16's loss scaler: skipped steps are counted, not reported -------------------------------


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.gpu, CUDA])]


def _train_fp16(tmp_path, init_scale: float, steps: int = 60, device: str = "cpu"):
    recipe = load_recipe(
        None,
        DIGITS_MLP
        + ["train.amp=true", "train.amp_dtype=fp16", f"train.steps={steps}", "train.eval_every=20"]
        + [f"train.device={device}"],
    )
    prep = prepare(recipe)
    store = Store(tmp_path / "home")
    run_id = store.create_run(recipe.to_dict(), total_steps=steps)
    manager = ProbeManager(prep.model, fixed={"grad_norm": 1, "nonfinite": 1, "grad_max_abs": 1})
    trainer = Trainer(recipe, prep.data, prep.model, prep.device, [manager, Recorder(store, run_id, manager)])
    trainer.precision.scaler = torch.amp.GradScaler(device, init_scale=init_scale)
    status = trainer.fit()
    return store, run_id, trainer, status


@pytest.mark.parametrize("device", DEVICES)
def test_overflowed_steps_are_skipped_counted_and_kept_out_of_the_probes(tmp_path, device):
    store, run_id, trainer, status = _train_fp16(tmp_path, init_scale=2.0**40, device=device)
    assert status == "completed"
    skipped = trainer.precision.skipped
    # From 2**40 the factor halves on each overflow until the scaled gradients fit in fp16 (< 65504).
    assert 10 <= skipped <= 40, skipped
    wide = store.scalars_wide(run_id)
    assert wide["amp_skipped"].dropna().iloc[-1] == skipped
    assert wide["loss_scale"].dropna().iloc[-1] < 2.0**40
    # Every step was recorded by the probes except the skipped ones, and none is flagged non-finite.
    norms = store.layer_stats(run_id, "grad_norm")
    assert norms["step"].nunique() == 60 - skipped
    flags = store.layer_stats(run_id, "nonfinite")
    assert (flags["value"] == 0).all()
    assert torch.isfinite(torch.tensor(norms["value"].to_numpy())).all()
    codes = {f["code"] for f in diagnose_into_store(store, run_id)}
    assert "non_finite" not in codes and "exploding_gradients" not in codes


@pytest.mark.parametrize("device", DEVICES)
def test_a_scaler_that_never_overflows_skips_nothing_and_learns(tmp_path, device):
    store, run_id, trainer, status = _train_fp16(tmp_path, init_scale=1.0, steps=100, device=device)
    assert trainer.precision.skipped == 0
    acc = store.scalars_wide(run_id)["val_accuracy"].dropna()
    assert acc.iloc[-1] > 0.8, acc.iloc[-1]


def test_bf16_needs_no_scaler_and_trains_like_fp32(tmp_path):
    finals = {}
    for amp in (False, True):
        recipe = load_recipe(None, DIGITS_MLP + [f"train.amp={str(amp).lower()}", "train.steps=150"])
        prep = prepare(recipe)
        trainer = Trainer(recipe, prep.data, prep.model, prep.device)
        assert (trainer.precision.scaler is None) and (trainer.precision.dtype == ("bf16" if amp else None))
        trainer.fit()
        finals[amp] = trainer.state.metrics["val_accuracy"]
    assert finals[True] > 0.85 and abs(finals[True] - finals[False]) < 0.05, finals


def test_describe_says_whether_the_hardware_computes_the_dtype():
    p = Precision.for_run(load_recipe(None, ["train.amp=true"]).train, torch.device("cpu"))
    d = p.describe()
    assert d["amp"] == "bf16" and d["loss_scaling"] is False and isinstance(d["native"], bool)
    assert Precision.for_run(load_recipe(None, []).train, torch.device("cpu")).describe()["amp"] == "fp32"


class _KeepLosses(Callback):
    def __init__(self):
        self.losses: list[float] = []

    def after_step(self, s):
        self.losses.append(float(s.loss))


# --- channels_last -----------------------------------------------------------------------------


def test_channels_last_gives_the_same_cnn_losses(tmp_path):
    losses = {}
    for cl in (False, True):
        recipe = load_recipe(
            None,
            ["data.name=digits", "model.arch=cnn", "model.width=8", "model.depth=2", "train.steps=8"]
            + [f"train.channels_last={str(cl).lower()}"],
        )
        prep = prepare(recipe)
        keep = _KeepLosses()
        trainer = Trainer(recipe, prep.data, prep.model, prep.device, [keep])
        trainer.fit()
        conv = trainer.state.model.conv[1].layer.weight  # 8 in, 8 out: the layouts differ
        assert conv.is_contiguous(memory_format=torch.channels_last) == cl
        losses[cl] = keep.losses
    assert losses[True] == pytest.approx(losses[False], rel=1e-4)


# --- on a GPU ---------------------------------------------------------------------------------


@pytest.mark.gpu
@CUDA
def test_on_cuda_amp_defaults_to_fp16_with_a_scaler_and_compile_trains(tmp_path):
    recipe = load_recipe(
        None,
        ["data.name=digits", "model.arch=cnn", "model.width=16", "train.steps=60", "train.device=cuda"]
        + ["train.amp=true", "train.compile=true", "train.channels_last=true"],
    )
    prep = prepare(recipe)
    trainer = Trainer(recipe, prep.data, prep.model, prep.device)
    assert trainer.precision.dtype == "fp16" and trainer.precision.scaler is not None
    assert trainer.fit() == "completed"
    assert trainer.state.metrics["val_accuracy"] > 0.5


def test_compile_without_a_cpu_compiler_is_refused_before_the_first_step(monkeypatch):
    from engine.training import compilation

    monkeypatch.setattr(compilation.shutil, "which", lambda name: None)
    recipe = load_recipe(None, DIGITS_MLP + ["train.compile=true", "train.device=cpu"])
    prep = prepare(recipe)
    with pytest.raises(RecipeError, match=r"train\.compile: torch\.compile needs a C\+\+ compiler"):
        Trainer(recipe, prep.data, prep.model, prep.device)
