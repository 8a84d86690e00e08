"""``data.loader``: batches one sample at a time, the time each step waits for them, and ``input_bound``.

The loader is real (a torch DataLoader over the digits); the rule is fed recorded shares.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine.config.errors import RecipeError
from engine.config.recipe import load_recipe
from engine.diagnosis.metrics import RunMetrics
from engine.diagnosis.rules.input_bound import InputBound

LOADER = ["data.loader.kind=dataloader"]


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["data.loader.num_workers=2"], "num_workers applies to kind: dataloader"),
        ([*LOADER, "data.loader.prefetch_factor=4"], "prefetch_factor needs num_workers of 1 or more"),
        ([*LOADER, "data.loader.persistent_workers=true"], "persistent_workers needs num_workers"),
        ([*LOADER, "data.loader.cpu_augment=[blur]"], "data.loader.cpu_augment: unknown per-sample transform 'blur'"),
        ([*LOADER, "data.loader.cpu_augment=[affine]", "data.name=wine"], "loader.cpu_augment works on image data"),
        (["data.loader.kind=disk"], "data.loader.kind"),
    ],
)
def test_a_loader_setting_that_cannot_apply_is_refused_naming_the_key(sets, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe("healthy-mlp", sets)


def _batches(sets: list[str], seed: int = 0, take: int = 3):
    from engine.datasets import prepare
    from engine.training.batches import Batches

    recipe = load_recipe(None, ["data.name=digits", "train.batch_size=32", *sets])
    data = prepare(recipe.data, seed)
    with Batches(data, 32, "cpu", seed=seed, loader=recipe.data.loader) as batches:
        out = [batches.next() for _ in range(take)]
        return out, batches.wait_s, data


def test_the_per_sample_loader_gives_full_seeded_batches_of_the_training_rows():
    first, waited, data = _batches(LOADER)
    again, _, _ = _batches(LOADER)
    for (x, y), (x2, y2) in zip(first, again):
        assert x.shape == (32, 1, 8, 8) and y.shape == (32,) and str(x.dtype) == "torch.float32"
        assert np.array_equal(x.numpy(), x2.numpy()) and np.array_equal(y.numpy(), y2.numpy())
    rows = {r.tobytes() for r in data.x_train}
    assert all(r.numpy().tobytes() in rows for r in first[0][0])  # unaugmented: training rows as they are
    assert waited > 0


def test_per_sample_cpu_augmentation_changes_about_half_the_images_the_same_way_at_a_seed():
    (plain, _), *_ = _batches(LOADER)[0]
    augmented, _, _ = _batches([*LOADER, "data.loader.cpu_augment=[affine]"])
    (moved, labels), *_ = augmented
    changed = [not np.allclose(a, b) for a, b in zip(plain.numpy(), moved.numpy())]
    assert 0.2 < np.mean(changed) < 0.8 and np.isfinite(moved.numpy()).all()
    again, _, _ = _batches([*LOADER, "data.loader.cpu_augment=[affine]"])
    assert np.array_equal(again[0][0].numpy(), moved.numpy())


def test_a_training_run_records_where_its_time_goes(tmp_path):
    from engine.store import Store
    from engine.training import session

    recipe = load_recipe(
        None, ["data.name=digits", "train.steps=120", "train.eval_every=60", "model.width=16", *LOADER]
    )
    with Store(tmp_path) as store:
        run_id = store.create_run(recipe.to_dict(), total_steps=recipe.train.steps)
        session.train(store, run_id, session.prepare(recipe, store))
        wide = store.scalars_wide(run_id)
    parts = wide[["data_wait", "time_compute", "time_optimizer"]].dropna()
    assert len(parts) >= 1
    assert ((parts >= 0) & (parts <= 1)).all().all() and (parts.sum(axis=1) <= 1.0 + 1e-9).all()
    assert (parts["data_wait"] > 0).all() and (parts["time_compute"] > 0).all()


def _metrics(shares: list[float], loader: dict | None = None) -> RunMetrics:
    idx = pd.Index([50 * (i + 1) for i in range(len(shares))], name="step")
    recipe = {"data": {"loader": loader or {"kind": "dataloader", "num_workers": 0, "cpu_augment": ["affine"]}}}
    return RunMetrics(scalars=pd.DataFrame({"data_wait": shares}, index=idx), layers={}, recipe=recipe)


def test_input_bound_fires_when_waiting_is_most_of_the_time_after_the_start_up():
    found = InputBound().check(_metrics([0.95, 0.7, 0.72, 0.68, 0.71]))
    assert found is not None and found.severity == "warning" and found.first_step == 100
    assert "waited for its next batch 70% of the training time" in found.message
    assert "0 worker(s) and per-sample affine on the CPU" in found.message


@pytest.mark.parametrize(
    "shares",
    [
        [0.9, 0.3, 0.35, 0.32],  # the start-up waited, the run did not
        [0.9, 0.8, 0.8],  # too few windows after the first to judge
        [0.02, 0.01, 0.03, 0.02, 0.01],  # tensors in memory
    ],
)
def test_input_bound_stays_quiet_otherwise(shares):
    assert InputBound().check(_metrics(shares)) is None


def test_its_remedies_apply_to_a_dataloader_run_and_move_the_augmentation_onto_the_batch():
    from engine.diagnosis import remedies

    recipe = load_recipe("input-bound").to_dict()
    device = remedies.build("device_augment", recipe)
    assert device is not None and device.set == {"data.augment": ["affine"], "data.loader": {"kind": "in_memory"}}
    moved = load_recipe("input-bound", {k: v for k, v in device.set.items()})
    assert moved.data.loader.kind == "in_memory" and moved.data.augment == ("affine",)
    workers = remedies.build("more_workers", recipe)
    assert workers is not None and workers.set["data.loader.num_workers"] == 2
    in_memory = load_recipe("healthy-mlp").to_dict()
    assert remedies.build("device_augment", in_memory) is None and remedies.build("more_workers", in_memory) is None


def test_loader_workers_serve_the_same_kind_of_batches_and_the_dataset_pickles_for_spawn():
    import pickle

    from engine.training.sample_loader import SampleDataset
    from engine.training.sample_transforms import compose

    batches, _, _ = _batches([*LOADER, "data.loader.num_workers=2", "data.loader.cpu_augment=[affine, noise]"], take=4)
    assert all(x.shape == (32, 1, 8, 8) and np.isfinite(x.numpy()).all() for x, _ in batches)
    # macOS and Windows start workers with spawn, which pickles the dataset and its transforms.
    ds = SampleDataset(np.zeros((4, 1, 8, 8), np.float32), np.zeros(4, np.int64), compose(["affine", "noise"]), 0)
    again = pickle.loads(pickle.dumps(ds))
    assert again[0][0].shape == (1, 8, 8)
