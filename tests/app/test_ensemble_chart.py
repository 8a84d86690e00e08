"""An ensemble on Compare: its metric against members, each member alone, one caption line.

The chart and the caption are tested on summaries written by hand (the shape
``engine.control.ensemble.summarize`` returns); ``build()`` on an ensemble group written straight
into a store (no training) by :func:`tests.app.ensemble_group.write_ensemble_group`, which the
Chromium test shares; and the page itself in Streamlit's AppTest.
"""

from __future__ import annotations

import orjson
import pytest

from app.components import ensemble_chart
from app.logic import compare as comparison
from app.logic.ensembles import ensemble_caption, ensemble_summary
from engine.store import Store
from tests.app.cv_group import write_cv_group
from tests.app.ensemble_group import ENSEMBLE_VALUES, MEMBER_VALUES, write_ensemble_group
from tests.app.seed_group import write_seed_group
from tests.app.test_views import open_page


def summary(
    values: list,
    member_values: list,
    *,
    method: str = "bagging",
    planned: int | None = None,
    metric: str = "val_accuracy",
    stopped: str | None = None,
    findings: dict | None = None,
) -> dict:
    """A hand-made summary: the ensemble's value with 1..m members and each member's own."""
    higher = metric == "val_accuracy"
    n = planned or len(values)
    curve = [
        {
            "members": m + 1,
            "of": n,
            "method": method,
            "metric": metric,
            "higher_is_better": higher,
            "value": v,
            "member_value": own,
            "stopped": stopped if m == len(values) - 1 else None,
            "run": f"run{m}",
            "status": "completed",
            **({"alpha": 1.5 - 0.1 * m, "weighted_error": 0.2} if method == "boosting" else {}),
        }
        for m, (v, own) in enumerate(zip(values, member_values))
    ]
    own = [x for x in member_values if x is not None]
    best = (max(own) if higher else min(own)) if own else None
    final = values[-1] if values else None
    return {
        "group": "g",
        "method": method,
        "members": n,
        "trained": len(values),
        "metric": metric,
        "higher_is_better": higher,
        "curve": curve,
        "single": member_values[0] if member_values else None,
        "final": final,
        "best_member": best,
        "gain_over_best_member": None if final is None or best is None else (final - best) * (1 if higher else -1),
        "member_findings": findings or {},
        "stopped": stopped,
        "done": True,
    }


BAGGING = summary([0.819, 0.85, 0.864], [0.819, 0.80, 0.833], planned=3, findings={"overfitting": 2})


def by_name(fig) -> dict:
    return {t.name: t for t in fig.data}


# --- the chart ------------------------------------------------------------------------


def test_the_ensemble_is_a_line_over_members_and_each_member_a_marker_in_percent():
    fig = ensemble_chart.members_curve(BAGGING)
    traces = by_name(fig)
    assert fig.layout.title.text == "Bagging: validation accuracy against members"
    together, alone = traces["the ensemble"], traces["each member alone"]
    assert together.mode == "lines+markers" and alone.mode == "markers"
    assert list(together.x) == [1, 2, 3] and list(alone.x) == [1, 2, 3]
    assert list(together.y) == pytest.approx([81.9, 85.0, 86.4])  # accuracy in %
    assert list(alone.y) == pytest.approx([81.9, 80.0, 83.3])
    assert together.marker.color != alone.marker.color and alone.marker.symbol != together.marker.symbol
    assert fig.layout.yaxis.title.text == "val accuracy (%)"
    # Whole members on x, 1..N.
    assert fig.layout.xaxis.dtick == 1 and fig.layout.xaxis.tick0 == 1
    assert list(fig.layout.xaxis.range) == [0.5, 3.5]
    # One net: a dotted line at the first member's value, labelled.
    (line,) = fig.layout.shapes
    assert line.line.dash == "dot" and line.y0 == line.y1 == pytest.approx(81.9)
    assert any(a.text == "first member" for a in fig.layout.annotations)
    assert "run2" in alone.customdata[2][1]


def test_missing_values_are_left_out_and_the_axis_still_spans_the_planned_members():
    fig = ensemble_chart.members_curve(summary([None, 0.8, 0.82], [None, 0.8, 0.79], planned=8))
    traces = by_name(fig)
    assert list(traces["the ensemble"].x) == [2, 3] and list(traces["each member alone"].x) == [2, 3]
    assert list(fig.layout.xaxis.range) == [0.5, 8.5]
    assert not fig.layout.shapes  # no first member's value: no "first member" line


def test_boosting_shows_each_members_vote_weight_on_hover():
    fig = ensemble_chart.members_curve(summary([0.3, 0.56], [0.3, 0.55], method="boosting"))
    assert fig.layout.title.text.startswith("Boosting:")
    assert "vote weight 1.50" in by_name(fig)["each member alone"].customdata[0][2]


def test_an_mse_is_shown_as_it_is_and_says_lower_is_better():
    fig = ensemble_chart.members_curve(summary([0.5, 0.4], [0.5, 0.45], metric="val_loss"))
    assert fig.layout.title.text == "Bagging: validation MSE against members"
    assert "lower is better" in fig.layout.yaxis.title.text
    assert list(by_name(fig)["the ensemble"].y) == [0.5, 0.4]


def test_no_value_yet_gives_a_chart_that_says_it_is_waiting():
    for nothing in ({}, summary([], []), summary([None], [None], planned=4)):
        fig = ensemble_chart.members_curve(nothing)
        assert not fig.data and "waiting" in fig.layout.annotations[0].text


def test_presentation_mode_is_larger():
    small, large = ensemble_chart.members_curve(BAGGING), ensemble_chart.members_curve(BAGGING, presentation=True)
    assert large.layout.font.size > small.layout.font.size and large.layout.height > small.layout.height
    assert by_name(large)["the ensemble"].marker.size > by_name(small)["the ensemble"].marker.size


# --- the caption ----------------------------------------------------------------------


def test_the_caption_gives_one_net_the_ensemble_the_best_member_and_the_findings():
    assert ensemble_caption(BAGGING) == (
        "Bagging, 3 members: first member 81.9%, the ensemble 86.4% (+4.5 points), best single member 83.3%;"
        " members' findings: overfitting (2 of 3)"
    )


def test_the_caption_says_how_far_a_training_ensemble_is_and_when_boosting_stopped():
    running = summary([0.8, 0.82], [0.8, 0.79], planned=8)
    assert ensemble_caption(running).startswith("Bagging, 2 of 8 members so far: first member 80.0%")
    assert ensemble_caption(running).endswith("members' findings: none")
    why = "member 3 was no better than chance on the re-weighted rows"
    stopped = summary([0.3, 0.5, 0.5], [0.3, 0.4, 0.1], method="boosting", planned=8, stopped=why)
    assert ensemble_caption(stopped).startswith(f"Boosting, stopped after 3 of 8 members ({why}): first member 30.0%")


def test_the_caption_of_an_mse_is_lower_is_better_and_signs_the_change():
    text = ensemble_caption(summary([0.5, 0.4], [0.5, 0.45], metric="val_loss", findings={"dead_units": 1}))
    assert text == (
        "Bagging, 2 members: first member MSE 0.5, the ensemble 0.4 (−0.1), best single member 0.45 (lower is better);"
        " members' findings: dead units (1 of 2)"
    )


def test_the_caption_survives_values_that_are_missing():
    text = ensemble_caption(summary([None], [None], planned=4))
    assert text.startswith("Bagging, 1 of 4 members so far: first member –, the ensemble –, best single member –")


# --- the view's data ------------------------------------------------------------------


def test_build_shows_the_ensemble_of_an_ensemble_group_and_nothing_for_other_groups(tmp_path):
    with Store(tmp_path) as store:
        members = write_ensemble_group(store)
        seeds = write_seed_group(store)
        folded = write_cv_group(store)
        view = comparison.build(store, list(members.values()))
        ordinary = comparison.build(store, list(seeds.values()))
        cv = comparison.build(store, list(folded.values()))
        part = comparison.build(store, list(members.values())[:3])  # hand-picked: not the whole ensemble
    ens = view.ensemble
    assert ens is not None and ens["method"] == "bagging" and ens["members"] == ens["trained"] == 8
    assert [c["value"] for c in ens["curve"]] == list(ENSEMBLE_VALUES)
    assert [c["member_value"] for c in ens["curve"]] == list(MEMBER_VALUES)
    assert ens["member_findings"] == {"overfitting": 5}
    assert ensemble_caption(ens) == (
        "Bagging, 8 members: first member 81.9%, the ensemble 88.3% (+6.4 points), best single member 84.2%;"
        " members' findings: overfitting (5 of 8)"
    )
    assert view.cv is None and cv.cv is not None
    assert ordinary.ensemble is None and cv.ensemble is None and part.ensemble is None
    # The members are one variant, as seeds are.
    assert [v["label"] for v in view.summary["variants"]] == ["bagging"]


def test_an_ensemble_still_training_is_shown_with_the_members_so_far(tmp_path):
    with Store(tmp_path) as store:
        ids = write_ensemble_group(store, values=(0.8, 0.82), member_values=(0.8, 0.79), planned=6, running=True)
        runs = [store.get_run(r) for r in ids.values()]
        live = ensemble_summary(store, runs)
        store.set_status(runs[-1]["id"], "crashed")  # finished without its event: not an ensemble to show
        crashed = ensemble_summary(store, [store.get_run(r) for r in ids.values()])
    assert live is not None and live["trained"] == 2 and not live["done"]
    assert ensemble_caption(live).startswith("Bagging, 2 of 6 members so far")
    assert crashed is None


def test_the_compare_page_draws_the_members_chart_and_its_caption_under_the_table(home):
    with Store(home) as store:
        write_ensemble_group(store)
    at = open_page("views/compare.py", group="ens")
    assert not at.exception, at.exception
    charts = [orjson.loads(c.proto.spec) for c in at.get("plotly_chart")]
    first = charts[0]
    assert first["layout"]["title"]["text"] == "Bagging: validation accuracy against members"  # before the curves
    points = {t["name"]: len(t["x"]) for t in first["data"]}
    assert points == {"the ensemble": 8, "each member alone": 8}
    assert any(c.value.startswith("Bagging, 8 members: first member 81.9%") for c in at.caption)
    # The curves below say what their band is over: the members, not seeds.
    assert "Validation accuracy: mean and ±1 sd over members" in [c["layout"]["title"]["text"] for c in charts]
