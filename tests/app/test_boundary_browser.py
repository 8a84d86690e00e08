"""In a real browser: a moons run's Live page draws its decision boundary first and redraws it as it trains.

A short moons run is launched into the test server's store (the worker is a
real process); the Live page's "Decision boundary" chart is read twice from
the plotly element in the DOM, at two steps, and its probability field must
differ between the two. A screenshot at 1440×900 (a classroom projector's
size) goes to ``artifacts/screenshots/live-boundary.png``.
"""

from __future__ import annotations

import time

import pytest

from engine.config.names import TERMINAL
from engine.config.recipe import load_recipe
from engine.control import lifecycle
from engine.store import Store
from tests.app import browser_helpers as bh

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(bh.have_browser() is not None, reason=bh.have_browser() or ""),
]

WAIT_S = 60.0
PROJECTOR = {"width": 1440, "height": 900}
# Long enough (5,000 steps, a picture every 50) that the page sees the run mid-way; it is stopped at the end.
RECIPE = {
    "data.name": "moons",
    "model.arch": "mlp",
    "model.depth": 2,
    "model.width": 32,
    "train.optimizer": "adam",
    "train.lr": 0.01,
    "train.steps": 5000,
    "train.eval_every": 50,
}

# The newest "Decision boundary" chart (a rerun may briefly leave a stale copy beside it): its step,
# the heatmap's cell count and the sum of its probabilities, and which traces it draws.
JS_BOUNDARY = """() => {
  let best = null;
  for (const el of document.querySelectorAll('.js-plotly-plot')) {
    const title = ((el.layout && el.layout.title && el.layout.title.text) || '').replace(/<[^>]*>/g, '');
    if (!title.startsWith('Decision boundary')) continue;
    const traces = el._fullData && el._fullData.length ? el._fullData : (el.data || []);
    const heat = traces.find(t => t.type === 'heatmap');
    if (!heat || !heat.z) continue;
    let cells = 0, sum = 0;
    for (const row of heat.z) for (const v of row) { cells += 1; sum += Number(v); }
    const m = title.match(/step ([\\d,]+)/);
    const step = m ? Number(m[1].replace(/,/g, '')) : null;
    const box = el.getBoundingClientRect();
    if (best === null || step > best.step) best = {
      title, step, cells, sum, top: box.top, left: box.left,
      types: traces.map(t => t.type), names: traces.map(t => t.name || ''),
    };
  }
  return best;
}"""


def _wait(predicate, what: str, timeout: float = WAIT_S, every: float = 0.3):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def test_the_live_page_draws_the_decision_boundary_and_redraws_it_as_the_run_trains(tmp_path):
    home = tmp_path / "store"
    home.mkdir()
    started = time.time()
    with (
        bh.app_server(home, max_runs=1, log=tmp_path / "streamlit.log") as server,
        bh.browser_page(PROJECTOR) as page,
        Store(home) as store,
    ):
        try:
            # In slow motion (10 ms a step, as a class would watch it): on a busy machine the page's first
            # read could otherwise come after the net had converged, when pictures no longer differ.
            run_id = lifecycle.launch(store, load_recipe(None, RECIPE), name="moons boundary", pace_ms=10)
            page.set_default_timeout(WAIT_S * 1000)
            page.goto(f"{server.url}/live?run={run_id}")
            bh.wait_app_idle(page)

            def status():
                run = store.get_run(run_id)
                assert run["status"] not in TERMINAL, f"run ended {run['status']} too soon: {run.get('error')}"
                return run["status"]

            first = _wait(lambda: status() and page.evaluate(JS_BOUNDARY), "the first decision boundary")
            assert first["cells"] == 50 * 50 and 0 < first["sum"] < first["cells"]
            assert {"heatmap", "contour", "scatter"} <= set(first["types"])
            assert {"upper", "lower"} <= set(first["names"]), "the training points, one trace per class"

            def redrawn():
                status()
                read = page.evaluate(JS_BOUNDARY)
                changed = read and read["step"] > first["step"] and abs(read["sum"] - first["sum"]) > 1.0
                return read if changed else None

            second = _wait(redrawn, f"the boundary to be redrawn past step {first['step']}")
            assert abs(second["sum"] - first["sum"]) > 1.0, "the field changed, not just its title"

            # It is the first chart: no drawn chart sits above it, nor beside it on its left. (The run
            # header's one-bar "Where the training time goes" is part of the header, above every chart.)
            others = page.locator(".js-plotly-plot").evaluate_all(
                "els => els.filter(e => !e.textContent.includes('Where the training time goes'))"
                ".map(e => e.getBoundingClientRect()).filter(r => r.width > 0)"
                ".map(r => ({top: r.top, left: r.left}))"
            )
            assert all((o["top"], o["left"]) >= (second["top"], second["left"]) for o in others), others
            # Stopped first: while the slow-motion run trains the page reruns every second, and a loaded
            # machine may never show it idle. The chart keeps its last picture.
            lifecycle.stop(store, run_id, wait=15)
            bh.wait_app_idle(page)
            # The chart may have been redrawn meanwhile: scroll to whichever copy is on the page now.
            page.evaluate(
                "() => [...document.querySelectorAll('.js-plotly-plot')].filter(e =>"
                " (e.layout?.title?.text || '').includes('Decision boundary')).pop()?.scrollIntoView()"
            )
            page.wait_for_timeout(300)
            shot = bh.screenshot(page, "live-boundary")
        except BaseException:
            bh.screenshot(page, "live-boundary-failure")
            raise
        finally:
            bh.stop_runs(home)
    assert shot.is_file() and shot.stat().st_size > 10_000
    print(f"boundary steps {first['step']} -> {second['step']}; {time.time() - started:.0f}s; screenshot {shot}")
