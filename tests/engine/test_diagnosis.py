"""Diagnosis on real runs: each finding fires where it should, its top remedy clears it,
and healthy runs raise no alarm. Plus synthetic tables for the edge cases."""

import json

import numpy as np
import pandas as pd
import pytest

from engine.config.recipe import load_recipe
from engine.control.lessons import fixed_probes
from engine.diagnosis.diagnose import diagnose, load_rules
from engine.diagnosis.metrics import RunMetrics
from engine.store import Store
from engine.training import session

#: code -> (recipe, overrides) of a run built to show it. Its top remedy must clear it.
SHOWCASES = {
    "vanishing_gradients": ("vanishing-sigmoid", []),
    "underfitting": ("vanishing-sigmoid", []),
    "loss_plateau": ("vanishing-sigmoid", []),
    "exploding_gradients": ("exploding-residual", []),
    "non_finite": ("exploding-residual", []),
    "dead_units": ("healthy-mlp", ["model.depth=4", "train.optimizer=sgd", "train.lr=0.8", "train.steps=600"]),
    "saturated_units": (
        "healthy-mlp",
        ["model.depth=4", "model.activation=tanh", "model.init=normal", "model.init_std=1.0", "train.steps=600"],
    ),
    "overfitting": ("healthy-mlp", ["model.width=256", "data.train_limit=150", "train.steps=1500"]),
    "unstable_loss": ("healthy-mlp", ["train.lr=0.05", "train.steps=1000"]),
}
HEALTHY = {
    "mlp": ("healthy-mlp", []),
    "cnn": ("healthy-mlp", ["model.arch=cnn", "model.depth=3", "model.width=16"]),
    "lstm": (
        "healthy-mlp",
        ["model.arch=lstm", "data.name=adding", "model.depth=1", "data.params.seq_len=20", "train.steps=1000"],
    ),
}


def findings_of(tmp_path, name, overrides):
    # Fixed probe intervals: the budget planner picks intervals from measured
    # timings, which vary with machine load; tests must not.
    recipe = load_recipe(name, list(overrides)).with_overrides(fixed_probes())
    store = Store(tmp_path)
    run_id = store.create_run(recipe.to_dict(), total_steps=recipe.train.steps)
    summary = session.train(store, run_id, session.prepare(recipe))
    return {f["code"]: f for f in summary["findings"]}, summary


@pytest.mark.slow
@pytest.mark.parametrize("code", sorted(SHOWCASES))
def test_each_finding_fires_on_its_showcase_and_its_top_remedy_clears_it(tmp_path, code):
    name, overrides = SHOWCASES[code]
    found, summary = findings_of(tmp_path / "base", name, overrides)
    assert code in found, (code, sorted(found))
    f = found[code]
    assert f["message"] and f["evidence"] and f["remedies"], f
    top = f["remedies"][0]["set"]
    fixed, after = findings_of(tmp_path / "fix", name, overrides + [f"{k}={json.dumps(v)}" for k, v in top.items()])
    print(
        f"{code}: fires at step {f['first_step']} on {name} {overrides}; top remedy {top} -> "
        f"{after['status']}, val_accuracy {summary['final'].get('val_accuracy')}"
        f" -> {after['final'].get('val_accuracy')}"
    )
    assert code not in fixed, (code, top, fixed.get(code))


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(HEALTHY))
def test_healthy_runs_raise_no_warning(tmp_path, kind):
    found, summary = findings_of(tmp_path, *HEALTHY[kind])
    alarms = {c: f["message"] for c, f in found.items() if f["severity"] in ("warning", "critical")}
    assert alarms == {}, alarms


def test_vanishing_evidence_names_layers_numbers_and_remedies(tmp_path):
    found, _ = findings_of(tmp_path, "vanishing-sigmoid", ["train.steps=300"])
    f = found["vanishing_gradients"]
    assert f["layers"][0] == "layers.0" and f["evidence"]["first_to_last_ratio"] < 1e-3
    assert {"model.init": "he_normal", "model.activation": "relu"} in [r["set"] for r in f["remedies"]]
    assert {"model.residual": True} in [r["set"] for r in f["remedies"]]


def test_exploding_remedies_include_clipping(tmp_path):
    found, summary = findings_of(tmp_path, "exploding-residual", [])
    assert summary["status"] == "diverged"
    remedies = [
        r["set"] for code in ("exploding_gradients", "non_finite") if code in found for r in found[code]["remedies"]
    ]
    assert any("train.clip_norm" in r for r in remedies)


def test_a_remedy_already_in_use_is_never_suggested(tmp_path):
    found, _ = findings_of(tmp_path, "exploding-residual", ["model.norm=batch", "train.steps=200"])
    for f in found.values():
        assert {"model.norm": "batch"} not in [r["set"] for r in f["remedies"]]


# --- synthetic tables -------------------------------------------------------------


def metrics(steps=100, layers=3, grad=1.0, loss=None, recipe=None, **extra):
    idx = pd.Index(np.arange(1, steps + 1), name="step")
    g = pd.DataFrame(np.full((steps, layers), grad), index=idx, columns=[f"layers.{i}" for i in range(layers)])
    scalars = pd.DataFrame({"train_loss": loss if loss is not None else np.linspace(2, 0.1, steps)}, index=idx)
    return RunMetrics(scalars=scalars, layers={"grad_norm": g}, recipe=recipe or {}, total_steps=steps, **extra)


def test_a_run_too_short_to_judge_has_no_finding():
    assert diagnose(metrics(steps=3, grad=1e-12)) == []


def test_missing_evaluations_do_not_crash_any_rule():
    m = metrics(steps=600, loss=np.full(600, 2.3))
    codes = {f.code for f in diagnose(m)}
    assert "overfitting" not in codes and "underfitting" not in codes  # no val metrics: no judgement
    assert "loss_plateau" in codes


def test_nan_at_step_zero_is_non_finite():
    loss = np.full(10, np.nan)
    codes = {f.code: f for f in diagnose(metrics(steps=10, loss=loss))}
    assert codes["non_finite"].first_step == 1


def test_a_single_layer_cannot_vanish():
    assert "vanishing_gradients" not in {f.code for f in diagnose(metrics(layers=1, grad=1e-12))}


def test_thresholds_are_validated():
    from engine.diagnosis.rules.dead_units import DeadUnits
    from engine.diagnosis.rules.vanishing_gradients import VanishingGradients

    with pytest.raises(ValueError, match="fraction"):
        DeadUnits(fraction=1.5)
    with pytest.raises(ValueError, match="ratio"):
        VanishingGradients(ratio=-1)


def test_every_code_has_a_rule():
    from engine.diagnosis.findings import CODES

    assert sorted(r.code for r in load_rules()) == sorted(CODES)


def test_a_dead_network_is_not_called_vanishing():
    """All gradients exactly zero (last layer included): no ratio to speak of."""
    m = metrics(steps=50, grad=0.0, loss=np.full(50, 2.3))
    assert "vanishing_gradients" not in {f.code for f in diagnose(m)}


def exploding(recipe=None, **extra):
    """Per-layer gradient norms rising from 1 to 1e3 over 100 steps (pre-clip, as the probes read them)."""
    m = metrics(recipe=recipe, **extra)
    m.layers["grad_norm"] = m.layers["grad_norm"].mul(np.logspace(0, 3, 100), axis=0)
    return m


def test_clipping_that_holds_is_reported_as_info_with_both_norms():
    from engine.diagnosis.rules.exploding_gradients import ExplodingGradients

    f = ExplodingGradients().check(exploding(recipe={"train": {"clip_norm": 1.0}}))
    assert f.severity == "info" and f.message.startswith("clipping is holding the exploding gradients in check")
    assert f.evidence["post_clip_peak"] == 1.0 and f.evidence["pre_clip_peak"] > 1000
    assert 0.9 < f.evidence["clipped_share"] <= 1.0
    unclipped = ExplodingGradients().check(exploding())
    assert unclipped.severity in ("warning", "critical")


def test_clipping_that_did_not_stop_a_divergence_is_still_a_warning():
    from engine.diagnosis.rules.exploding_gradients import ExplodingGradients

    f = ExplodingGradients().check(exploding(recipe={"train": {"clip_norm": 1.0}}, diverged_step=90))
    assert f.severity in ("warning", "critical")


def evaluated(val, train):
    """Metrics with one evaluation every 50 steps: val_loss and train_eval_loss as given."""
    idx = pd.Index(50 * np.arange(1, len(val) + 1), name="step")
    scalars = pd.DataFrame({"val_loss": val, "train_eval_loss": train}, index=idx)
    return RunMetrics(scalars=scalars, layers={}, recipe={}, total_steps=int(idx[-1]))


def test_a_well_fitted_net_whose_tiny_validation_loss_doubles_is_not_overfitting():
    from engine.diagnosis.rules.overfitting import Overfitting

    # 99.5% accuracy: the validation loss doubles (0.011 -> 0.022), the training loss stays flat.
    val = [0.05, 0.02, 0.011, 0.014, 0.018, 0.02, 0.022, 0.021, 0.022]
    train = [0.05, 0.025, 0.018, 0.0179, 0.0178, 0.0178, 0.0177, 0.0177, 0.0177]
    assert Overfitting().check(evaluated(val, train)) is None


def test_memorising_is_a_rise_beyond_noise_while_the_training_loss_falls():
    from engine.diagnosis.rules.overfitting import Overfitting

    val = [1.2, 0.8, 0.6, 0.55, 0.6, 0.7, 0.8, 0.9, 1.0]
    train = [1.1, 0.7, 0.4, 0.25, 0.12, 0.06, 0.03, 0.015, 0.008]
    f = Overfitting().check(evaluated(val, train))
    assert f.severity == "warning" and f.evidence["best_step"] == 200
    assert f.evidence["risen_by"] > 3 * f.evidence["val_noise"]
    # The same rise in a noisy validation loss (it jumps by 0.4 between evaluations) is not evidence.
    noisy = [1.2, 0.4, 1.1, 0.35, 1.0, 0.45, 1.05, 0.9, 1.0]
    assert Overfitting().check(evaluated(noisy, train)) is None


def test_one_spike_in_a_memorising_net_is_not_an_explosion():
    from engine.diagnosis.rules.exploding_gradients import ExplodingGradients

    m = metrics()
    spike = np.ones(100)
    spike[70] = 1e3  # one hard batch; the gradient is back to its usual size at once
    m.layers["grad_norm"] = m.layers["grad_norm"].mul(spike, axis=0)
    assert ExplodingGradients().check(m) is None
    m.diverged_step = 71  # the same spike right before a NaN: that is the explosion that ended the run
    assert ExplodingGradients().check(m) is not None


def test_a_memorised_training_set_with_a_slowly_creeping_validation_loss_is_overfitting():
    from engine.diagnosis.rules.overfitting import Overfitting

    # 150 digits, 256 units wide: training loss to ~0, validation loss 0.22 and creeping up 5%, steadily.
    val = [0.40, 0.25, 0.2201, 0.2204, 0.2212, 0.2221, 0.2238, 0.2252, 0.2270, 0.2290, 0.2311]
    train = [0.3, 0.05, 0.002, 0.0008, 0.0004, 0.0002, 0.0001, 5e-5, 2e-5, 1e-5, 5e-6]
    f = Overfitting().check(evaluated(val, train))
    assert f.severity == "warning" and f.evidence["memorised"] and f.evidence["rise"] < 0.1
    assert "below the validation loss" in f.message
    # The same creep with a gap a healthy net shows (0.1) is not enough.
    assert Overfitting().check(evaluated([v - 0.13 for v in val], train)) is None


def classified(train_acc, val_acc, chance=0.5, total=None):
    """Metrics with one evaluation every 50 steps: accuracies as given, on a task with this chance level."""
    idx = pd.Index(50 * np.arange(1, len(train_acc) + 1), name="step")
    scalars = pd.DataFrame({"train_accuracy": train_acc, "val_accuracy": val_acc}, index=idx)
    return RunMetrics(scalars=scalars, layers={}, recipe={}, chance_accuracy=chance, total_steps=total or int(idx[-1]))


def test_a_net_too_small_to_fit_its_training_set_underfits_even_above_chance():
    from engine.diagnosis.rules.underfitting import Underfitting

    stalled = [0.52, 0.58, 0.61, 0.62, 0.63, 0.63, 0.63, 0.63, 0.63, 0.63]  # a 1-unit net on two spirals
    f = Underfitting().check(classified(stalled, stalled, total=1200))  # mid-run, but stalled
    assert f.severity == "warning" and f.evidence["train_accuracy"] == 0.63 and f.evidence["threshold"] == 0.75
    climbing = [0.5, 0.52, 0.54, 0.56, 0.58, 0.6, 0.62, 0.64, 0.66, 0.68]
    assert Underfitting().check(classified(climbing, climbing, total=1200)) is None  # still learning, mid-run
    assert Underfitting().check(classified(climbing, climbing)).severity == "warning"  # ...but the run ended there
    fitted = [0.6, 0.75, 0.82, 0.85, 0.86, 0.865, 0.866, 0.865, 0.866, 0.866]  # a shallow sigmoid net on moons
    assert Underfitting().check(classified(fitted, fitted)) is None


def test_a_flat_noisy_loss_is_a_plateau_and_a_slow_real_descent_is_not():
    from engine.diagnosis.rules.loss_plateau import LossPlateau

    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.06, 600)
    # Minibatch noise of 6% on a flat loss moves a short median by several percent: it is still flat.
    assert LossPlateau().check(metrics(steps=600, loss=1.0 + noise)) is not None
    # A loss that falls 4% per 180 steps, through the same noise, is learning (slowly).
    descending = np.linspace(1.04, 0.90, 600) + noise
    assert LossPlateau().check(metrics(steps=600, loss=descending)) is None


def test_a_loss_that_relapses_from_near_zero_again_and_again_is_unstable():
    from engine.diagnosis.rules.unstable_loss import UnstableLoss

    rng = np.random.default_rng(0)
    loss = np.concatenate([np.linspace(1.5, 0.05, 200), 0.05 * np.exp(rng.normal(0, 0.3, 800))])
    assert UnstableLoss().check(metrics(steps=1000, loss=loss)) is None  # converged, with batch noise
    loss[np.arange(500, 1000, 25)] = 0.4  # 4% of late steps jump 8x, to a quarter of the initial loss
    f = UnstableLoss().check(metrics(steps=1000, loss=loss))
    assert f is not None and f.evidence["spike_share"] > 0.02
