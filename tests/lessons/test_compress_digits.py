"""Pruning, int8 and distillation of a wide digits MLP (recipes/compress-digits.yaml), at seeds 0, 1 and 2.

One ``compress`` per seed makes every variant the lesson talks about from one trained run: 80% and
90% of the weights pruned, each with and without 400 steps of fine-tuning; dynamic int8; and a
32-unit student on 100 labelled digits, distilled and on the labels alone. The claims: after the
fine-tune the pruned nets are within a point of the dense one, and without it they lose more;
int8 is about 4x smaller on disk within half a point; the distilled student beats the labels-only
one. Latency is reported, never asserted: a small model need not get faster on this CPU.
"""

from __future__ import annotations

import math

import pytest

from engine.config.recipe import load_recipe
from engine.control.compress import Plan
from engine.store import Store
from tests.lessons.conftest import SEEDS

RECIPE = "compress-digits"
LEVELS = (0.8, 0.9)
FINETUNE = 400
STUDENT = {"model.width": 32, "model.depth": 1, "data.train_limit": 100}


@pytest.fixture(scope="module")
def results(tmp_path_factory, one_thread) -> dict[int, dict]:
    from engine.training import session
    from engine.training.compress.run import compress

    store = Store(tmp_path_factory.mktemp("compress"))
    out = {}
    for seed in SEEDS:
        recipe = load_recipe(RECIPE, [f"seed={seed}"])
        run_id = store.create_run(recipe.to_dict(), total_steps=recipe.train.steps, status="running")
        session.train(store, run_id, session.prepare(recipe, store))
        plan = Plan(run_id, prune=LEVELS, finetune=FINETUNE, quantize="int8", distill=STUDENT)
        out[seed] = {"store": store, **compress(store, plan)}
    for seed, r in out.items():
        print(f"\nseed {seed}: group {r['group']}")
        for v in r["variants"]:
            vs = v["vs_dense"]
            print(
                f"  {v['name']:<36} acc {v['val_accuracy']:.4f} ({vs['metric_change']:+.4f})  "
                f"size {v['size_bytes']:>9,} B ({vs['size_ratio']:.2f}x)  latency {v['latency_ms']:.3f} ms "
                f"({vs['latency_ratio']:.2f}x)" + (f"  CSR {v['size_csr_bytes']:,} B" if "size_csr_bytes" in v else "")
            )
    return out


def by_name(r: dict) -> dict[str, dict]:
    return {v["name"]: v for v in r["variants"]}


def test_the_dense_teacher_learns_the_digits(results):
    for seed, r in results.items():
        assert r["dense"]["val_accuracy"] > 0.96, (seed, r["dense"]["val_accuracy"])
        assert r["dense"]["params"] > 290_000, seed


def test_pruning_80_to_90_percent_costs_under_a_point_after_a_short_fine_tune(results):
    for seed, r in results.items():
        v, dense = by_name(r), r["dense"]["val_accuracy"]
        for level in LEVELS:
            tuned = v[f"prune {level:.0%} + finetune {FINETUNE}"]
            assert dense - tuned["val_accuracy"] < 0.01, (seed, level, dense, tuned["val_accuracy"])
            assert tuned["pruning"]["after_finetune"] == pytest.approx(level, abs=1e-3)  # the zeros stayed


def test_without_the_fine_tune_pruning_costs_more(results):
    for seed, r in results.items():
        v, dense = by_name(r), r["dense"]["val_accuracy"]
        for level in LEVELS:
            raw = v[f"prune {level:.0%}"]["val_accuracy"]
            tuned = v[f"prune {level:.0%} + finetune {FINETUNE}"]["val_accuracy"]
            assert dense - raw > 0.02 and raw < tuned - 0.02, (seed, level, dense, raw, tuned)


def test_pruned_weights_are_zeros_in_the_dense_file_and_smaller_as_csr(results):
    for seed, r in results.items():
        v = by_name(r)
        for level in LEVELS:
            p = v[f"prune {level:.0%}"]
            assert p["pruning"]["sparsity"] == pytest.approx(level, abs=1e-3), seed
            assert p["vs_dense"]["size_ratio"] == pytest.approx(1.0, abs=0.01), seed  # a zero still takes 4 bytes
            assert p["size_csr_bytes"] < (2 * (1 - level) + 0.02) * p["size_bytes"], seed  # 8 bytes a nonzero
            assert (r["store"].runs_dir(p["run_id"]) / "final.safetensors").is_file()


def test_int8_is_about_four_times_smaller_with_accuracy_within_half_a_point(results):
    for seed, r in results.items():
        q = by_name(r)["int8 dynamic"]
        assert 3.5 < q["vs_dense"]["size_ratio"] < 4.1, (seed, q["vs_dense"])
        assert abs(q["vs_dense"]["metric_change"]) <= 0.005, (seed, q["vs_dense"])


def test_latency_is_measured_for_every_variant_and_only_reported(results):
    for seed, r in results.items():
        for v in r["variants"]:
            assert math.isfinite(v["latency_ms"]) and v["latency_ms"] > 0, (seed, v["name"])
            assert v["latency_rows"] == 256 and v["latency_repeats"] >= 10


def test_a_distilled_student_beats_the_same_student_on_labels_alone(results):
    for seed, r in results.items():
        v = by_name(r)
        distilled, labels = v["student distilled (T=4, alpha=0.7)"], v["student labels only"]
        assert distilled["params"] == labels["params"] < r["dense"]["params"] / 100
        assert distilled["val_accuracy"] > labels["val_accuracy"] + 0.02, (seed, distilled, labels)
