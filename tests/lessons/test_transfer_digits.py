"""Transfer learning, when it helps and when it hurts (recipes/transfer-*.yaml), at seeds 0, 1 and 2.

Each lesson trains its source run first, under the name the lesson's ``model.init_from`` reads,
then the lesson itself: the baseline from scratch, full fine-tuning and frozen features.

* transfer-digits: clean scans of half the images are the source; ten noisy scans per digit of
  the other half are the target. Both transfers beat scratch by over 5 points, and fine-tuning
  every layer does at least as well as frozen features.
* transfer-new-digits: the digits 0-4 are the source, ten noisy scans of each of 5-9 the target.
  Both transfers do worse than scratch: features of other digits hurt.
"""

from __future__ import annotations

import pytest

from engine.config.recipe import load_recipe
from engine.control.lessons import LessonResult, fixed_probes, run_lesson
from engine.store import Store

FINE, FROZEN = "Fine-tune all layers", "Frozen features"
SOURCES = {"transfer-digits": "transfer-pretrain", "transfer-new-digits": "transfer-pretrain-0-4"}


@pytest.fixture(scope="module")
def transfer(tmp_path_factory, seed, one_thread):
    """Run a transfer lesson (its source first) at ``seed``; each once per module and seed."""
    from engine.training import session

    cache: dict[str, tuple[float, LessonResult]] = {}

    def run(name: str) -> tuple[float, LessonResult]:
        if name not in cache:
            store = Store(tmp_path_factory.mktemp(f"{name}-seed{seed}"))
            source = load_recipe(SOURCES[name], [f"seed={seed}"])
            run_id = store.create_run(source.to_dict(), name=source.name, total_steps=source.train.steps)
            summary = session.train(store, run_id, session.prepare(source, store))
            result = run_lesson(name, store, overrides={**fixed_probes(), "seed": seed})
            cache[name] = (summary["final"]["val_accuracy"], result)
            print(f"\n{name} seed {seed}: source {cache[name][0]:.3f}\n{result.table()}")
        return cache[name]

    return run


def test_features_from_clean_scans_beat_training_from_scratch_on_noisy_ones(transfer, seed):
    source, r = transfer("transfer-digits")
    scratch = r.baseline.final
    assert source > 0.95, (seed, source)
    assert r[FINE].final > scratch + 0.05, (seed, scratch, r[FINE].final)
    assert r[FROZEN].final > scratch + 0.05, (seed, scratch, r[FROZEN].final)


def test_fine_tuning_every_layer_does_at_least_as_well_as_frozen_features(transfer, seed):
    _, r = transfer("transfer-digits")
    assert r[FINE].final >= r[FROZEN].final - 0.01, (seed, r[FINE].final, r[FROZEN].final)


def test_features_of_the_digits_0_to_4_hurt_on_5_to_9(transfer, seed):
    source, r = transfer("transfer-new-digits")
    scratch = r.baseline.final
    assert source > 0.95, (seed, source)
    assert r[FINE].final < scratch - 0.02, (seed, scratch, r[FINE].final)
    assert r[FROZEN].final < scratch - 0.05, (seed, scratch, r[FROZEN].final)
