"""Mixed precision and torch.compile change how a lesson computes, not what the clinic finds in it.

The vanishing-sigmoid lesson's starved baseline and its batch-norm remedy, at seeds 0, 1 and 2,
trained three ways: fp32 (as the lesson ships), ``train.amp`` (bf16 on this CPU) and
``train.compile``. Each way must name the same findings for each run and reach the same
accuracy within a few points. (The lesson's "He init + ReLU" variant is left out: it trains at
the edge of instability, and whether its loss counts as ``unstable_loss`` already changes from
seed to seed in fp32, so it cannot show an equivalence.) fp16 with loss scaling on a CPU, where
it is emulated, is checked in ``tests/engine/test_precision.py``.
"""

import pytest

from engine.control.lessons import LessonResult, fixed_probes, run_lesson
from engine.store import Store

pytestmark = pytest.mark.slow

WAYS = {
    "fp32": {},
    "amp": {"train.amp": True},
    "compile": {"train.compile": True},
}
LABELS = ["Batch norm"]  # and the baseline, which every lesson run trains


@pytest.fixture(scope="module")
def trained(tmp_path_factory, seed, one_thread) -> dict[str, LessonResult]:
    out = {}
    for way, overrides in WAYS.items():
        store = Store(tmp_path_factory.mktemp(f"{way}-seed{seed}"))
        out[way] = run_lesson(
            "vanishing-sigmoid", store, overrides={**fixed_probes(), "seed": seed, **overrides}, labels=LABELS
        )
        print(f"\n{way} seed {seed} ({out[way].seconds:.1f}s)\n{out[way].table()}")
    return out


@pytest.mark.parametrize("way", ["amp", "compile"])
@pytest.mark.parametrize("label", ["baseline", *LABELS])
def test_the_same_findings_as_fp32(trained, way, label):
    fp32, other = trained["fp32"][label], trained[way][label]
    assert other.status == fp32.status == "completed"
    assert set(other.findings) == set(fp32.findings), (label, way)


@pytest.mark.parametrize("way", ["amp", "compile"])
@pytest.mark.parametrize("label", ["baseline", *LABELS])
def test_the_same_accuracy_within_a_few_points(trained, way, label):
    assert abs(trained[way][label].final - trained["fp32"][label].final) < 0.03


def test_the_lesson_still_holds_in_every_way(trained):
    for way, res in trained.items():
        assert "vanishing_gradients" in res.baseline.findings, way
        assert "vanishing_gradients" not in res["Batch norm"].findings, way
        assert res["Batch norm"].final > res.baseline.final + 0.7, way


def test_an_amp_run_says_how_it_computed(trained):
    res = trained["amp"]
    summary = res.store.get_run(res.baseline.run_id)["summary"]["precision"]
    assert {k: summary[k] for k in ("amp", "loss_scaling", "skipped_steps")} == {
        "amp": "bf16",
        "loss_scaling": False,
        "skipped_steps": 0,
    }
    event = res.store.events(res.baseline.run_id, "precision")["payload"].iloc[0]
    assert event["amp"] == "bf16" and event["compile"] is False


def test_a_compiled_run_still_records_its_activations(trained):
    """The probes' hooked steps run the eager model, so activation statistics are there as in fp32."""
    for way in ("fp32", "compile"):
        res = trained[way]
        acts = res.store.layer_stats(res.baseline.run_id, "act_std")
        assert len(acts) > 0, way
    fp32, comp = (trained[w].store.layer_stats(trained[w].baseline.run_id, "act_std") for w in ("fp32", "compile"))
    assert sorted(set(fp32["step"])) == sorted(set(comp["step"]))
