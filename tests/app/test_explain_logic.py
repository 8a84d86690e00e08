"""The Explain page's logic, and the page itself in Streamlit's AppTest, on results shaped as the engine's.

The results are built here in the shapes ``engine/training/explain.py`` returns (no torch, no
training); the page finds them where the child process saves them (``explain_job.save``), so
it draws them without a job. A fake job stands in for the child where the button is pressed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from app.logic import explain as logic
from engine.config.recipe import load_recipe
from engine.control import explain_job
from engine.store import Store
from tests.app.test_views import open_page, texts

FEATURES = [f"f{i}" for i in range(1, 9)]


def _common(run: str, kind: str, n: int, task: str = "classification", **extra: Any) -> dict[str, Any]:
    labels = [i % 10 for i in range(n)] if task == "classification" else [1.0 + 0.1 * i for i in range(n)]
    return {
        "run": run,
        "method": "ig",
        "checkpoint": "last",
        "kind": kind,
        "task": task,
        "samples": n,
        "steps": 50,
        "layer": None,
        "target": None,
        "explained": "the score of each sample's predicted class" if task == "classification" else "the model's output",
        "targets": labels if task == "classification" else [0] * n,
        "labels": labels,
        "predicted": list(labels),
        "class_names": [str(c) for c in range(10)] if task == "classification" else [],
        "delta": {"max_abs": 0.02, "max_relative": 0.004},
        **extra,
    }


def image_result(run: str = "a1b2c3d4", n: int = 16, scale: float = 1.0, seed: int = 0) -> dict[str, Any]:
    """The digits: (n, 8, 8) maps and images, their mean |map|, and per-class averages."""
    rng = np.random.default_rng(seed)
    maps, images = rng.normal(0, scale, (n, 8, 8)), rng.normal(0, 1, (n, 8, 8))
    r = _common(run, "image", n, per_sample=maps.tolist(), inputs=images.tolist())
    r["predicted"][-1] = 1  # one wrong answer
    r["importance"] = np.abs(maps).mean(0).tolist()
    classes = sorted(set(r["targets"]))
    r["per_class"] = [
        {
            "class": c,
            "name": str(c),
            "count": r["targets"].count(c),
            "map": maps[[i for i, t in enumerate(r["targets"]) if t == c]].mean(0).tolist(),
            "image": images[[i for i, t in enumerate(r["targets"]) if t == c]].mean(0).tolist(),
        }
        for c in classes
    ]
    return r


def tabular_result(run: str = "a1b2c3d4", n: int = 16, features=FEATURES, top: int = 3) -> dict[str, Any]:
    """``explain-one-feature``: attributions mostly on feature ``top`` (f4), signed by the sample."""
    rng = np.random.default_rng(1)
    per = rng.normal(0, 0.3, (n, len(features)))
    per[:, top] = np.where(np.arange(n) % 2, 7.0, -7.0)
    r = _common(run, "tabular", n, per_sample=per.tolist(), inputs=rng.normal(0, 1, per.shape).tolist())
    r.update(importance=np.abs(per).mean(0).tolist(), features=list(features), class_names=["f4 ≤ 0", "f4 > 0"])
    r["labels"] = r["predicted"] = r["targets"] = [i % 2 for i in range(n)]
    return r


def sequence_result(run: str = "a1b2c3d4", n: int = 8, steps: int = 50) -> dict[str, Any]:
    """The adding problem: (n, T, 2) inputs whose "marker" channel marks two steps; attribution there."""
    rng = np.random.default_rng(2)
    inputs = np.zeros((n, steps, 2))
    inputs[:, :, 0] = rng.uniform(0, 1, (n, steps))
    per = rng.normal(0, 0.01, (n, steps))
    for i in range(n):
        for t in (i + 1, steps - 2 - i):
            inputs[i, t, 1] = 1.0
            per[i, t] = 0.5
    r = _common(run, "sequence", n, task="regression", per_sample=per.tolist(), inputs=inputs.tolist())
    r.update(
        importance=np.abs(per).mean(0).tolist(),
        per_feature=np.abs(np.stack([per * 0.3, per * 0.7], -1)).mean(0).T.tolist(),
        features=["value", "marker"],
    )
    return r


def conductance_result(run: str = "a1b2c3d4", values=(0.4, 0.3), units: int | None = 32) -> dict[str, Any]:
    """Layer conductance: per activation layer (input → output), and per unit of ``layers.0``."""
    r = _common(run, "tabular", 16, method="layer_conductance", layer="layers.0" if units else None)
    r.pop("delta")
    r["layers"] = [{"layer": f"layers.{i}", "units": 32, "mean_abs": v, "total": 32 * v} for i, v in enumerate(values)]
    mean = np.linspace(1.0, -0.2, units or 1)
    r["neurons"] = {"layer": "layers.0", "mean": mean.tolist(), "mean_abs": np.abs(mean).tolist()} if units else None
    return r


# --- the logic --------------------------------------------------------------------------------


def finished(store: Store, name: str | None, files=("final.safetensors",), status="completed", group=None) -> str:
    """A run row with the weight files a finished run leaves (empty: nothing here reads them)."""
    run_id = store.create_run(load_recipe("healthy-mlp").to_dict(), name=name, group=group, status=status)
    for f in files:
        (store.runs_dir(run_id) / f).write_bytes(b"")
    return run_id


def test_only_finished_runs_with_saved_weights_can_be_explained(tmp_path):
    with Store(tmp_path) as store:
        done = finished(store, "done")
        best_only = finished(store, None, files=("best.safetensors",), status="early_stopped")
        finished(store, "live", status="running")  # a live run's files are still being written
        bare = store.create_run(load_recipe("healthy-mlp").to_dict(), status="failed")
        choices = logic.explainable(tmp_path, store.list_runs())
        assert list(choices) == [best_only, done]  # newest first
        assert choices[done] == f"done · healthy-mlp · ✅ completed · {done}"
        assert choices[best_only] == f"healthy-mlp · ⏱️ early stopped · {best_only}"
        assert logic.checkpoints(tmp_path, best_only) == ("best",)
        assert not (tmp_path / "runs" / bare).exists()  # looking created no folder for the run without files


def test_the_second_run_offers_the_first_ones_group_first(tmp_path):
    with Store(tmp_path) as store:
        base = finished(store, "baseline", group="g")
        other = finished(store, "other")
        remedy = finished(store, "He init + ReLU", group="g")
        runs = store.list_runs()
    choices = runs["id"].tolist()
    assert logic.partners(runs, base, choices) == [remedy, other]
    assert logic.partners(runs, other, choices) == [remedy, base]
    runs_ = [{"id": "aaaa1111", "name": "vanishing-sigmoid"}, {"id": "bbbb2222", "name": "vanishing-sigmoid"}]
    assert logic.short_names(runs_) == {"aaaa1111": "vanishing-sigmoid (aaaa)", "bbbb2222": "vanishing-sigmoid (bbbb)"}
    assert logic.short_names([{"id": "c" * 8, "name": "x" * 40}])["c" * 8] == "x" * 27 + "…"


def test_a_request_keeps_only_what_its_method_uses():
    ig = logic.request("a1b2c3d4", "ig", 16, 80, target=3, layer="layers.0")
    assert (ig.steps, ig.target, ig.layer) == (80, 3, None)  # a layer only for layer conductance
    assert logic.request("a1b2c3d4", "saliency", 16, 80).steps == logic.NO_STEPS  # saliency has no steps
    lc = logic.request("a1b2c3d4", "layer_conductance", 16, 20, layer="layers.0")
    assert lc.key() == "layer_conductance-last-s16-n20-tpred-llayers.0"
    with pytest.raises(ValueError, match="--method"):
        logic.request("a1b2c3d4", "lime", 16, 50)


def test_the_bounds_are_the_commands_own_and_name_the_flag():
    assert logic.bound_error(16, 50) is None
    assert logic.bound_error(500, 40) is None  # exactly 20,000 evaluations
    assert logic.bound_error(500, 50) == (
        "--samples x --steps: 500 x 50 = 25,000 model evaluations; at most 20,000 (fewer samples or steps)"
    )
    assert logic.bound_error(501, 1).startswith("--samples: give 1 to 500")
    assert logic.bound_error(1, 501).startswith("--steps: give 1 to 500")


def test_the_verdict_says_where_the_attribution_goes():
    tab = tabular_result()
    assert logic.ranked(tab["features"], tab["importance"])[0][0] == "f4"
    assert logic.verdict(tab).startswith("**f4** carries 8")  # 7 of about 8.7 per sample
    assert "; next f" in logic.verdict(tab)
    seq = sequence_result()
    assert logic.marker_steps(seq)[0] == [1, 48]
    assert logic.verdict(seq).startswith("The marked time steps carry **72%**")  # 2 x 0.5 against 48 x ~0.008
    assert "top 10% of pixels (6 of 64)" in logic.verdict(image_result())
    assert "does not depend on its input" in logic.verdict(image_result(scale=1e-18))  # a net that learned nothing
    assert logic.verdict(conductance_result()) == (
        "**layers.0** conducts the most per unit (0.4), layers.1 the least (0.3). In layers.0, unit #0 carries 7%."
    )
    assert logic.verdict(conductance_result(values=(3e-19, 2e-14, 0.0))).startswith("Nothing flows")


def test_the_captions_say_what_is_explained_and_what_the_colours_mean():
    caption = logic.colour_caption(image_result(), pair=True)
    assert caption.startswith("Explained: the score of each sample's predicted class. Red pushes toward it")
    assert "units of the output" in caption and "share one colour scale" in caption
    assert "a gradient" in logic.colour_caption({**image_result(), "method": "saliency"})
    assert "0.4% of the typical gap" in logic.delta_caption(image_result())
    assert logic.delta_caption(conductance_result()) is None
    assert logic.progress_text([("baseline", "ig on samples 1-10 of 16"), ("remedy", "done")], 4.2) == (
        "Explaining: baseline: ig on samples 1-10 of 16 · remedy: done · 4 s"
    )


def test_the_target_choices_are_a_classifiers_classes_only():
    assert logic.class_names(load_recipe("healthy-mlp").to_dict()) == [str(c) for c in range(10)]
    assert logic.class_names(load_recipe("explain-one-feature").to_dict()) == ["f4 ≤ 0", "f4 > 0"]
    assert logic.class_names(load_recipe("long-range-memory").to_dict()) == []  # a regression: one output
    assert logic.class_names(load_recipe("autoencoder-anomaly").to_dict()) == []  # its own score


# --- the page ---------------------------------------------------------------------------------


def titles(at) -> list[str]:
    return [orjson.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def saved(home, result: dict, **kw) -> None:
    explain_job.save(home, logic.request(result["run"], result["method"], 16, 50, **kw), result)


def test_a_saved_result_is_drawn_at_once_and_a_link_picks_the_run(home):
    with Store(home) as store:
        digits, table = finished(store, "digits"), finished(store, "table")
    saved(home, image_result(digits))
    saved(home, tabular_result(table))
    at = open_page("views/explain.py", run=digits)
    assert not at.exception, at.exception
    assert at.selectbox(key="explain:run").value == digits
    assert "top 10% of pixels" in texts(at) and "Completeness check" in texts(at)
    assert titles(at) == ["16 samples (label → predicted)", "Average per explained class"]
    explain = next(b for b in at.button if b.label == "🔍 Explain")
    assert explain.disabled  # nothing left to compute
    at.selectbox(key="explain:run").select(table).run()
    assert titles(at) == ["Which inputs matter", "Each sample's attributions"]
    assert at.query_params.get("run") in (table, [table])


def test_two_runs_side_by_side_share_one_colour_scale(home):
    with Store(home) as store:
        base, remedy = finished(store, "baseline", group="g"), finished(store, "He init + ReLU", group="g")
    saved(home, image_result(base, scale=1e-18))
    saved(home, image_result(remedy, seed=1))
    at = open_page("views/explain.py", run=remedy, vs=base)
    assert not at.exception, at.exception
    assert at.toggle[0].value is True and at.selectbox[1].value == base
    grid = "8 samples (label → predicted)"  # half the width each: fewer samples a row
    assert titles(at)[:2] == [f"He init + ReLU · {grid}", f"baseline · {grid}"]
    specs = [orjson.loads(c.proto.spec) for c in at.get("plotly_chart")[:2]]
    scales = {(d["zmin"], d["zmax"]) for s in specs for d in s["data"] if d.get("zmid") == 0}
    assert len(scales) == 1 and -min(scales)[0] == min(scales)[1] > 0.5  # one range, symmetric, the remedy's
    assert "**baseline**: Every attribution is about 0" in texts(at)


def test_work_beyond_the_bound_is_refused_before_any_job_starts(home, monkeypatch):
    started = []
    monkeypatch.setattr(explain_job, "start", lambda *a, **k: started.append(a))
    with Store(home) as store:
        finished(store, "digits")
    at = open_page("views/explain.py")
    at.number_input(key="explain:samples").set_value(500).run()
    assert not at.exception, at.exception
    assert "--samples x --steps: 500 x 50 = 25,000 model evaluations" in " ".join(e.value for e in at.error)
    assert next(b for b in at.button if b.label == "🔍 Explain").disabled and not started


class FakeJob:
    """A child that has finished: it saved its result, as ``gradclinic explain --save`` does."""

    def __init__(self, request, home):
        self.request, self.home, self.progress, self.stage, self.started = request, home, 1.0, "done", 0.0

    def done(self) -> bool:
        return True

    def outcome(self):
        result = {**tabular_result(self.request.run), "method": self.request.method}
        explain_job.save(self.home, self.request, result)
        return result, None


def test_explain_starts_a_job_and_draws_its_result(home, monkeypatch):
    monkeypatch.setattr(explain_job, "start", lambda request, home: FakeJob(request, home))
    with Store(home) as store:
        run = finished(store, "table")
    at = open_page("views/explain.py", run=run)
    at.selectbox(key="explain:method").select("deeplift").run()
    assert "Not explained with these settings yet" in texts(at)
    next(b for b in at.button if b.label == "🔍 Explain").click().run()
    assert not at.exception, at.exception
    at.run()  # the poll found the job done and reran the page
    assert "**f4** carries" in texts(at) and titles(at) == ["Which inputs matter", "Each sample's attributions"]


def test_a_video_run_is_refused_on_the_page_naming_the_dataset(home, monkeypatch):
    started = []
    monkeypatch.setattr(explain_job, "start", lambda *a, **k: started.append(a))
    with Store(home) as store:
        run_id = store.create_run(load_recipe("crnn-moving-digits").to_dict(), name="clips", status="completed")
        (store.runs_dir(run_id) / "final.safetensors").write_bytes(b"")
        recipe = store.get_run(run_id)["recipe"]
    assert logic.refusal(recipe).startswith("data.name: explain draws attributions")
    assert logic.refusal(load_recipe("healthy-mlp").to_dict()) is None
    at = open_page("views/explain.py", run=run_id)
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    assert "clips: data.name: explain draws attributions" in errors and "'moving_digits' is video" in errors
    assert not any(b.label == "🔍 Explain" for b in at.button) and not started
