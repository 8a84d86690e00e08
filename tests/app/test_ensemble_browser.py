"""An ensemble on Compare in real Chromium: its accuracy against members, each member alone, the caption.

A finished 8-member bagging (runs named and configured as ``gradclinic ensemble`` makes them,
with the numbers of a real one) is written straight into the store (no training), so the test
spends its time on the browser. ``/compare?group=ens`` at 1440x900 draws the members chart
right under the summary table, eight ensemble points and eight member points, with the caption
line beneath; in presentation mode at 1024x768 the chart's title, labels and headings still
fit. Screenshots go to ``artifacts/screenshots/ensemble_*.png`` (and, with ``GRADCLINIC_DOCS=1``,
the 1440x900 one to ``docs/ensemble.png`` for the README).
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

from app.components.ensemble_chart import members_title
from engine.store import Store
from tests.app import browser_helpers as bh
from tests.app.ensemble_group import ENSEMBLE_VALUES, write_ensemble_group
from tests.app.test_cv_browser import JS_SCROLL_TO_CHART
from tests.app.test_presentation_browser import JS_CLIPPED

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bh.have_browser() is not None, reason=bh.have_browser() or ""),
]

TITLE = members_title({"method": "bagging", "metric": "val_accuracy"})
CAPTION = "Bagging, 8 members: first member 81.9%, the ensemble 88.3% (+6.4 points)"
N = len(ENSEMBLE_VALUES)


def _members_chart(page) -> dict:
    """The members chart's traces (name, points), once it is drawn."""
    page.wait_for_function(
        "(t) => [...document.querySelectorAll('.js-plotly-plot')].some(el =>"
        " ((el.layout && el.layout.title && el.layout.title.text) || '').replace(/<[^>]*>/g, '') === t)",
        arg=TITLE,
        timeout=30_000,
    )
    return next(f for f in bh.figures(page) if f["title"] == TITLE)


def test_compare_draws_the_ensemble_against_its_members_for_an_ensemble_group(tmp_path):
    home = tmp_path / "store"
    home.mkdir()
    with Store(home) as store:
        write_ensemble_group(store)
    with (
        bh.app_server(home, log=tmp_path / "streamlit.log") as server,
        bh.browser_page({"width": 1440, "height": 900}) as page,
    ):
        try:
            started = time.time()
            page.goto(f"{server.url}/compare?group=ens")
            bh.wait_app_idle(page)
            chart = _members_chart(page)
            points = {t["name"]: t["n"] for t in chart["traces"]}
            assert points == {"the ensemble": N, "each member alone": N}
            caption = page.get_by_text(CAPTION)
            caption.wait_for(timeout=10_000)
            assert "best single member 84.2%; members' findings: overfitting (5 of 8)" in caption.inner_text()
            # The chart stands first, right under the table: before the validation curves.
            titles = [f["title"] for f in bh.figures(page)]
            assert titles.index(TITLE) == 0, titles

            assert page.evaluate(JS_SCROLL_TO_CHART, [TITLE, 120])
            page.wait_for_timeout(300)
            shot = bh.screenshot(page, "ensemble_1440x900")
            if os.environ.get("GRADCLINIC_DOCS") == "1":
                shutil.copyfile(shot, bh.ROOT / "docs" / "ensemble.png")

            # A projector: large type, and nothing on the chart or the page cut off.
            page.set_viewport_size({"width": 1024, "height": 768})
            page.goto(f"{server.url}/compare?group=ens&present=1")
            bh.wait_app_idle(page)
            assert {t["name"]: t["n"] for t in _members_chart(page)["traces"]} == points
            page.get_by_text(CAPTION).wait_for(timeout=10_000)
            assert page.evaluate(JS_SCROLL_TO_CHART, [TITLE, 70])  # under the header: the chart and its caption
            page.wait_for_timeout(300)
            assert page.evaluate(JS_CLIPPED) == []
            bh.screenshot(page, "ensemble_present_1024x768")
            print(f"browser part took {time.time() - started:.1f}s")
        except BaseException:
            bh.screenshot(page, "ensemble_failure")
            print(server.log_tail())
            raise
