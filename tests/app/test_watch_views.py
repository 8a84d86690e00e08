"""The dashboard's pages with watched runs (``gradclinic.watch``) in the store: Live, Runs and Compare.

A watched run's recipe row is no Recipe (engine.control.watched): the pages that read a run's
recipe must still render it, and the Live page shows its remedies as code changes, with nothing
to Apply, no trials and no Resume (nothing can relaunch a user's own loop).
"""

from __future__ import annotations

import pytest

from tests.app.test_views import open_page, texts
from tests.watch.test_examples import train


@pytest.fixture
def watched_runs(home, monkeypatch, one_thread):
    """The watched deep sigmoid net and its fix, seed 0, in the app's store: {script: run id}."""
    return {name: train(name, 0, home, monkeypatch)["id"] for name in ("watched_loop", "fixed_loop")}


def test_live_shows_a_watched_runs_finding_and_its_code_changes(watched_runs):
    at = open_page("views/live.py", run=watched_runs["watched_loop"])
    assert not at.exception, at.exception
    shown = texts(at)
    assert "vanishing gradients" in shown
    assert "replace nn.Sigmoid with nn.ReLU and initialise with kaiming_normal_" in shown
    assert "Watched in your own loop" in shown and "nn.Sigmoid (saturating)" in shown
    assert any("kaiming_normal_" in c.value for c in at.code)
    labels = {b.label for b in at.button}
    assert "Apply" not in labels and "🧪 Try the top 3" not in labels and "▶️ Resume" not in labels


def test_runs_and_compare_render_watched_runs(watched_runs):
    at = open_page("views/runs.py")
    assert not at.exception, at.exception
    assert {"deep-sigmoid", "deep-relu"} <= set(at.dataframe[0].value["name"])
    at = open_page("views/compare.py", runs=list(watched_runs.values()))
    assert not at.exception, at.exception
    assert "deep-relu" in set(at.dataframe[0].value["run"])
