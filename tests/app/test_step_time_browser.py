"""The Live page of an input-bound run, in real Chromium: the time bar shows the wait in red.

The input-bound lesson's baseline (a DataLoader that augments each digit on the CPU) is trained
in this process, then ``/live?run=…`` is opened. Screenshot: ``artifacts/screenshots/live_input_bound.png``
(and, with ``GRADCLINIC_DOCS=1``, ``docs/live-input-bound.png``).
"""

from __future__ import annotations

import os
import shutil

import pytest

from engine.config.recipe import load_recipe
from engine.store import Store
from tests.app import browser_helpers as bh

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bh.have_browser() is not None, reason=bh.have_browser() or ""),
]


def test_an_input_bound_run_shows_where_its_time_went_and_the_finding(tmp_path, one_thread):
    from engine.training import session

    recipe = load_recipe("input-bound", ["train.steps=400", "compare=[]"])
    with Store(tmp_path) as store:
        run_id = store.create_run(recipe.to_dict(), name="per-sample loader", total_steps=recipe.train.steps)
        session.train(store, run_id, session.prepare(recipe, store))
    with bh.app_server(tmp_path) as server, bh.browser_page() as page:
        page.goto(f"{server.url}/live?run={run_id}")
        bh.wait_app_idle(page)
        bar = page.locator(".js-plotly-plot", has_text="Where the training time goes").first
        bar.wait_for()
        page.locator('[data-testid="stAlert"]', has_text="input pipeline").first.wait_for()
        page.wait_for_timeout(400)
        traces = next(f for f in bh.figures(page) if f["title"].startswith("Where the training time goes"))["traces"]
        names = [t["name"] for t in traces]
        assert names[0].startswith("waiting for data") and int(names[0].split()[-1].rstrip("%")) > 50, names
        assert any(n.startswith("forward + backward") for n in names), names
        assert "waits for its next batch" in page.inner_text("body")
        bar.scroll_into_view_if_needed()
        shot = bh.screenshot(page, "live_input_bound")
    if os.environ.get("GRADCLINIC_DOCS") == "1":
        shutil.copyfile(shot, bh.ROOT / "docs" / "live-input-bound.png")
