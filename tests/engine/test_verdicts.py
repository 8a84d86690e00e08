"""Verdicts a student can trust: seed noise gets a confidence interval, and a chance-level baseline no speed-up."""

import pytest

from engine.config.recipe import load_recipe
from engine.control.compare import summarize_runs
from engine.control.stats import difference_interval
from engine.control.verdict import verdict
from engine.store import Store

RECIPE = load_recipe("healthy-mlp").to_dict()


def test_welch_interval_of_a_difference_of_means():
    ci = difference_interval([0.90, 0.92, 0.94], [0.50, 0.52, 0.54])
    assert ci.low < 0.40 < ci.high and ci.excludes_zero
    assert ci.high - ci.low == pytest.approx(2 * 2.776 * 0.02 * (2 / 3) ** 0.5, rel=0.01)  # 2 t(0.975, df=4) se
    overlap = difference_interval([0.90, 0.95, 0.85], [0.91, 0.86, 0.93])
    assert overlap.low < 0 < overlap.high and not overlap.excludes_zero
    assert difference_interval([0.9], [0.5, 0.6]) is None  # one seed says nothing about seed noise
    same = difference_interval([0.7, 0.7], [0.5, 0.5, None])
    assert (same.low, same.high) == pytest.approx((0.2, 0.2))


def group(store, curves: dict[str, list[list[float]]], chance: float | None = 0.1) -> list[str]:
    """Runs named like a multi-seed group ("He #0", "He #1"), each with one accuracy curve (every 50 steps)."""
    ids = []
    for label, seeds in curves.items():
        for i, accs in enumerate(seeds):
            rid = store.create_run(RECIPE, name=label if len(seeds) == 1 else f"{label} #{i}", group="g")
            store.flush(rid, scalars=[(50 * (k + 1), "val_accuracy", a) for k, a in enumerate(accs)])
            if chance is not None:
                store.add_event(rid, 0, "data", {"task": "classification", "chance_accuracy": chance})
            store.set_status(rid, "completed")
            ids.append(rid)
    return ids


def test_two_remedies_within_seed_noise_are_called_indistinguishable(tmp_path):
    with Store(tmp_path) as store:
        ids = group(
            store,
            {"baseline": [[0.5, 0.90], [0.5, 0.95], [0.5, 0.85]], "Adam": [[0.6, 0.91], [0.6, 0.86], [0.6, 0.93]]},
        )
        summary = summarize_runs(store, ids)
    text = verdict(summary)
    assert text.startswith("Adam is indistinguishable from seed noise: it ended +0.0 points against the baseline")
    assert "95% CI" in text and "3 seeds" in text
    assert summary["seeds"] == 3


def test_a_difference_beyond_seed_noise_gets_its_interval(tmp_path):
    with Store(tmp_path) as store:
        ids = group(
            store,
            {"baseline": [[0.3, 0.50], [0.3, 0.52], [0.3, 0.54]], "He init": [[0.6, 0.90], [0.6, 0.92], [0.7, 0.94]]},
        )
        summary = summarize_runs(store, ids)
    he = next(v for v in summary["variants"] if v["label"] == "He init")
    assert he["delta_ci"]["excludes_zero"] and he["delta_ci"]["low"] > 0.3
    assert verdict(summary).startswith("He init ended +40 points against the baseline (95% CI +")
    assert "reached the baseline's final level of validation accuracy (50.0%) 2.0× sooner" in verdict(summary)


def test_a_chance_level_baseline_gets_no_speed_up_from_its_noise_peak(tmp_path):
    # The baseline's best (13% at step 100) is noise around chance, not a level it reached.
    with Store(tmp_path) as store:
        ids = group(store, {"baseline": [[0.10, 0.13, 0.10, 0.10]], "Residual": [[0.50, 0.80, 0.91, 0.93]]})
        summary = summarize_runs(store, ids)
    assert summary["baseline_learned"] is False and summary["target"] is None
    assert verdict(summary) == (
        "The baseline never learned (validation accuracy 10%, chance 10%); "
        "Residual ended at 93.0% and passed 90% at step 150"
    )


def test_without_a_recorded_chance_level_the_baseline_is_assumed_to_have_learned(tmp_path):
    with Store(tmp_path) as store:
        ids = group(store, {"baseline": [[0.2, 0.4]], "Fix": [[0.45, 0.6]]}, chance=None)
        summary = summarize_runs(store, ids)
    assert summary["baseline_learned"] is None and summary["target"] == pytest.approx(0.4)
    assert verdict(summary).startswith("Fix reached the baseline's final level")
