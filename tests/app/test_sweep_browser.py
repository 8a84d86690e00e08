"""The Sweep page in real Chromium: a finished sweep's table and charts, and a trial's row opens it live.

An 8-trial sweep of a tiny moons MLP is trained two trials at a time on a local Ray
(loopback only, its files and any ~/.ray under the test's own folders) while the app
server starts: the page reads a Ray sweep exactly as any other, from the one store.
The page at 1440x900 shows the header, the trials table and the five charts; clicking
the best trial's row lands on its Live view. The screenshot goes to
``artifacts/screenshots/sweep_1440x900.png`` (and, with ``GRADCLINIC_DOCS=1``, to
``docs/sweep.png`` for the README).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import time

import pytest

from app.logic import sweep as logic
from engine.store import Store
from engine.tuning import results
from tests.app import browser_helpers as bh
from tests.app.sweep_store import write_sweep

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bh.have_browser() is not None, reason=bh.have_browser() or ""),
]

CHARTS = (
    "Best val accuracy (%) so far",
    "Which settings mattered (parameter importance)",
    "Parallel coordinates: each finished trial, settings to result",
    "Val accuracy (%) against each setting (slices)",
)


def test_the_sweep_page_shows_a_ray_sweep_and_a_row_opens_its_run_live(tmp_path, monkeypatch):
    if importlib.util.find_spec("ray") is None:  # not imported here: the executor sets Ray's loopback switch first
        pytest.skip("ray is not installed (pip install 'gradclinic[ray]')")
    home = tmp_path / "store"
    home.mkdir()
    server = bh.Server(home, log=tmp_path / "streamlit.log")  # starts while the sweep trains
    try:
        started = time.time()
        monkeypatch.delenv("RAY_ADDRESS", raising=False)  # a local Ray, not one this machine may know of
        for key in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
            monkeypatch.delenv(key, raising=False)
        (tmp_path / "home").mkdir()
        monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the server started with the real one
        name = write_sweep(home, trials=8, seed=5, executor="ray", parallel=2)
        with Store(home) as store:
            got = results.load(store, name)
            assert len(got.trials) == 8 and len(store.list_runs(group=name)) == 8  # every Ray trial is in the store
            assert got.settings["executor"] == "ray" and got.settings["parallel"] == 2
            best_run = logic.trials_table(got).iloc[0]["run"]
        print(f"sweep took {time.time() - started:.1f}s")
        server.wait_healthy()
        print(f"server ready at {time.time() - started:.1f}s")
        with bh.browser_page({"width": 1440, "height": 900}) as page:
            try:
                page.goto(f"{server.url}/sweep?sweep={name}")
                bh.wait_app_idle(page)
                # Every chart in view: Chromium may put off drawing the ones below the fold while the
                # machine is busy (CI's other tests train beside this one).
                page.set_viewport_size({"width": 1440, "height": 3000})
                page.wait_for_function(
                    f"() => document.querySelectorAll('.js-plotly-plot').length >= {len(CHARTS) + 1}",
                    timeout=90_000,
                )
                page.set_viewport_size({"width": 1440, "height": 900})
                titles = [f["title"] for f in bh.figures(page)]
                for title in CHARTS:
                    assert title in titles, titles
                assert any(t.startswith("Val accuracy (%) over ") for t in titles), titles
                assert "Best val accuracy" in page.locator('[data-testid="stAlertContentSuccess"]').inner_text()
                grid = page.locator('[data-testid="stDataFrame"]')
                grid.wait_for()
                shot = bh.screenshot(page, "sweep_1440x900")
                if os.environ.get("GRADCLINIC_DOCS") == "1":
                    shutil.copyfile(shot, bh.ROOT / "docs" / "sweep.png")
                page.set_viewport_size({"width": 1440, "height": 3000})  # every chart, for a person to look at
                page.wait_for_timeout(800)
                bh.screenshot(page, "sweep_1440_full")
                page.set_viewport_size({"width": 1440, "height": 900})

                # The best trial leads the table: its row marker (the selection column) opens its run live.
                grid.scroll_into_view_if_needed()
                page.wait_for_timeout(300)
                box = grid.bounding_box()
                assert box is not None
                page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)
                page.wait_for_url(f"**/live?run={best_run}*", timeout=15_000)
                bh.wait_app_idle(page)
                page.get_by_text("Step of 40").first.wait_for(timeout=15_000)  # the trial's run, drawn live
                print(f"browser part took {time.time() - started:.1f}s")
            except BaseException:
                bh.screenshot(page, "sweep_failure")
                print(server.log_tail())
                raise
    finally:
        server.stop()
