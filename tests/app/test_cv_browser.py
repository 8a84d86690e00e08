"""A cross-validation on Compare in real Chromium: each fold as a point, the mean and its interval, the caption.

A finished stratified 5-fold comparison (baseline and weight decay, ten runs named and
configured as ``gradclinic compare --cv`` makes them) is written straight into the store (no
training), so the test spends its time on the browser. ``/compare?group=cv`` at 1440x900 draws
the fold chart right under the summary table, five points per variant, with the caption line
beneath; in presentation mode at 1024x768 the chart's title, labels and headings still fit.
Screenshots go to ``artifacts/screenshots/cv_*.png`` (and, with ``GRADCLINIC_DOCS=1``, the
1440x900 one to ``docs/cv.png`` for the README).
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

from app.components.folds import fold_title
from engine.store import Store
from tests.app import browser_helpers as bh
from tests.app.cv_group import CV_VALUES, write_cv_group
from tests.app.test_presentation_browser import JS_CLIPPED

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bh.have_browser() is not None, reason=bh.have_browser() or ""),
]

TITLE = fold_title({"metric": "val_accuracy", "folds": 5, "repeats": 1})
CAPTION = "5-fold CV (stratified): baseline 86.0%"

# The fold chart scrolled to `above` px under the window's top (the end of the summary table above it).
JS_SCROLL_TO_CHART = """([title, above]) => {
  for (const el of document.querySelectorAll('.js-plotly-plot')) {
    const t = ((el.layout && el.layout.title && el.layout.title.text) || '').replace(/<[^>]*>/g, '');
    if (t !== title) continue;
    el.scrollIntoView({block: 'start'});
    document.querySelector('[data-testid="stMain"]').scrollBy(0, -above);
    return true;
  }
  return false;
}"""


def _fold_chart(page) -> dict:
    """The fold chart's traces (name, points), once it is drawn."""
    page.wait_for_function(
        "(t) => [...document.querySelectorAll('.js-plotly-plot')].some(el =>"
        " ((el.layout && el.layout.title && el.layout.title.text) || '').replace(/<[^>]*>/g, '') === t)",
        arg=TITLE,
        timeout=30_000,
    )
    return next(f for f in bh.figures(page) if f["title"] == TITLE)


def test_compare_draws_every_fold_and_the_interval_for_a_cv_group(tmp_path):
    home = tmp_path / "store"
    home.mkdir()
    with Store(home) as store:
        write_cv_group(store)
    with (
        bh.app_server(home, log=tmp_path / "streamlit.log") as server,
        bh.browser_page({"width": 1440, "height": 900}) as page,
    ):
        try:
            started = time.time()
            page.goto(f"{server.url}/compare?group=cv")
            bh.wait_app_idle(page)
            chart = _fold_chart(page)
            points = {t["name"]: t["n"] for t in chart["traces"]}
            assert points == {label: 5 for label in CV_VALUES} | {f"{label}: mean": 1 for label in CV_VALUES}
            caption = page.get_by_text(CAPTION)
            caption.wait_for(timeout=10_000)
            assert "weight decay 0.001: paired change +1.2 points" in caption.inner_text()
            assert "better beyond fold noise" in caption.inner_text()
            # The curves below say what their band is over: folds, not seeds.
            titles = [f["title"] for f in bh.figures(page)]
            assert "Validation accuracy: mean and ±1 sd over folds" in titles, titles

            assert page.evaluate(JS_SCROLL_TO_CHART, [TITLE, 120])
            page.wait_for_timeout(300)
            shot = bh.screenshot(page, "cv_1440x900")
            if os.environ.get("GRADCLINIC_DOCS") == "1":
                shutil.copyfile(shot, bh.ROOT / "docs" / "cv.png")

            # A projector: large type, and nothing on the chart or the page cut off.
            page.set_viewport_size({"width": 1024, "height": 768})
            page.goto(f"{server.url}/compare?group=cv&present=1")
            bh.wait_app_idle(page)
            assert {t["name"]: t["n"] for t in _fold_chart(page)["traces"]} == points
            page.get_by_text(CAPTION).wait_for(timeout=10_000)
            assert page.evaluate(JS_SCROLL_TO_CHART, [TITLE, 70])  # under the header: the chart and its caption
            page.wait_for_timeout(300)
            assert page.evaluate(JS_CLIPPED) == []
            bh.screenshot(page, "cv_present_1024x768")
            print(f"browser part took {time.time() - started:.1f}s")
        except BaseException:
            bh.screenshot(page, "cv_failure")
            print(server.log_tail())
            raise
