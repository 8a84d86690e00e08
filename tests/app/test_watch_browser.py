"""A watched run on the Live page, in real Chromium: the example's two-line change shows its finding.

``examples/watched_loop.py`` (a deep sigmoid net in a plain PyTorch loop, with the watch API's two
lines) trains in this process at seed 0, then ``/live?run=…`` is opened: the diagnosis names
vanishing gradients and offers the remedy as a code change. Screenshot:
``artifacts/screenshots/live_watched.png`` (and, with ``GRADCLINIC_DOCS=1``, ``docs/live-watched.png``).
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.app import browser_helpers as bh
from tests.watch.test_examples import train

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bh.have_browser() is not None, reason=bh.have_browser() or ""),
]


def test_the_watched_example_shows_vanishing_gradients_on_the_live_page(tmp_path, monkeypatch, one_thread):
    run = train("watched_loop", 0, tmp_path, monkeypatch)
    assert run["status"] == "completed"
    with bh.app_server(tmp_path) as server, bh.browser_page() as page:
        page.goto(f"{server.url}/live?run={run['id']}")
        bh.wait_app_idle(page)
        finding = page.locator('[data-testid="stAlert"]', has_text="vanishing gradients").first
        finding.wait_for()
        page.get_by_text("replace nn.Sigmoid with nn.ReLU", exact=False).first.wait_for()
        body = page.inner_text("body")
        assert "Watched in your own loop" in body and "kaiming_normal_" in body
        assert page.get_by_role("button", name="Apply").count() == 0
        page.locator(".js-plotly-plot", has_text="Gradient norm per layer").first.wait_for()
        finding.scroll_into_view_if_needed()
        shot = bh.screenshot(page, "live_watched")
    if os.environ.get("GRADCLINIC_DOCS") == "1":
        shutil.copyfile(shot, bh.ROOT / "docs" / "live-watched.png")
