"""The Compress page in real Chromium: press Compress, watch the job, read the charts.

A digits MLP is trained in this process first (torch here is fine: only the app must stay
torch-free), then ``/compress?run=…`` compresses it in a child process: 80% and 90% of the
weights pruned and int8, no fine-tune, so the job is seconds. With ``GRADCLINIC_DOCS=1`` the
run is the ``compress-digits`` lesson's wide MLP (fewer steps) and each pruned copy is fine-tuned,
the story the README tells; the screenshot goes to ``docs/compress.png`` as well as
``artifacts/screenshots/compress.png``.
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

from engine.config.recipe import load_recipe
from engine.store import Store
from tests.app import browser_helpers as bh
from tests.app.test_presentation_browser import JS_CLIPPED

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bh.have_browser() is not None, reason=bh.have_browser() or ""),
]

DOCS = os.environ.get("GRADCLINIC_DOCS") == "1"
WAIT_MS = 180_000 if DOCS else 90_000  # the child imports torch first; the docs' fine-tunes train
SIZE, SPEED, LAYERS = "Accuracy vs size on disk", "Accuracy vs CPU time per batch", "Weights pruned in each layer"
FINETUNE = 200  # docs only: enough to bring 90% pruned back within a point

# Every chart: its title, x axis type and tick labels, and each trace's type, name and number of points.
JS_CHARTS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(el => ({
  title: ((el.layout && el.layout.title && el.layout.title.text) || '').replace(/<[^>]*>/g, ''),
  xtype: el._fullLayout.xaxis.type, xtitle: el._fullLayout.xaxis.title.text, ytitle: el._fullLayout.yaxis.title.text,
  ticks: Array.from(el._fullLayout.xaxis.ticktext || []),
  traces: (el._fullData || []).map(t => ({
    type: t.type, name: t.name || '', n: t.x ? t.x.length : 0, rank: t.legendrank ?? 1000})),
}))"""


def trained(home) -> str:
    """A completed digits MLP with its weights saved (seconds; the docs' 512-wide one about ten)."""
    import torch

    from engine.training import session

    torch.set_num_threads(1)
    if DOCS:
        recipe = load_recipe("compress-digits", {"train.steps": 300})
    else:
        recipe = load_recipe("healthy-mlp", {"train.steps": 150})
    with Store(home) as store:
        run_id = store.create_run(recipe.to_dict(), name="digits MLP", total_steps=recipe.train.steps, status="running")
        session.train(store, run_id, session.prepare(recipe, store))
    return run_id


def charts(page) -> dict[str, dict]:
    """Each chart by its title, its traces in legend order (dense is drawn last, over the others, but listed first)."""
    got = {c["title"]: c for c in page.evaluate(JS_CHARTS)}
    for chart in got.values():
        chart["traces"].sort(key=lambda t: t["rank"])
    return got


def test_the_compress_page_prunes_and_quantizes_a_run_and_draws_the_trade_offs(tmp_path):
    home = tmp_path / "store"
    home.mkdir()
    started = time.time()
    run_id = trained(home)
    print(f"training took {time.time() - started:.1f}s")
    with (
        bh.app_server(home, log=tmp_path / "streamlit.log", extra_env={"GRADCLINIC_WARM": "0"}) as server,
        bh.browser_page({"width": 1440, "height": 2300}) as page,
    ):
        try:
            started = time.time()
            page.goto(f"{server.url}/compress?run={run_id}")
            bh.wait_app_idle(page)
            page.get_by_text("Not compressed yet").wait_for(timeout=30_000)
            if DOCS:
                steps = page.get_by_label("Fine-tune steps", exact=True)
                steps.fill(str(FINETUNE))
                steps.press("Enter")
                bh.wait_app_idle(page)
            page.get_by_role("button", name="🗜️ Compress").click()
            page.get_by_test_id("stProgress").wait_for(timeout=WAIT_MS)  # the job's bar, from the fragment
            page.wait_for_function(
                "(want) => { const got = [...document.querySelectorAll('.js-plotly-plot')].map(el =>"
                " ((el.layout && el.layout.title && el.layout.title.text) || '').replace(/<[^>]*>/g, ''));"
                " return want.every(t => got.includes(t)); }",
                arg=[SIZE, SPEED, LAYERS],
                timeout=WAIT_MS,
            )
            bh.wait_app_idle(page)
            page.wait_for_timeout(400)  # the charts' own layout pass
            got = charts(page)
            # dense, 80% and 90% pruned (with their fine-tuned copies for the docs), int8 dynamic
            names = ["dense (as trained)", "prune 80%", "prune 90%", "int8 dynamic"]
            if DOCS:
                names[2:2] = [f"prune 80% + finetune {FINETUNE}"]
                names[4:4] = [f"prune 90% + finetune {FINETUNE}"]
            size = got[SIZE]
            assert [t["name"] for t in size["traces"] if t["type"] == "scatter"] == names
            # One marker per variant, and a pruned one's hollow twin: its weights stored sparse.
            assert [t["n"] for t in size["traces"]] == [2 if n.startswith("prune") else 1 for n in names]
            assert size["xtype"] == "log" and any(t.endswith(("kB", "MB")) for t in size["ticks"])
            assert "size on disk" in size["xtitle"] and "(%)" in size["ytitle"]
            assert "ms per batch" in got[SPEED]["xtitle"] and len(got[SPEED]["traces"]) == len(names)
            assert [t["name"] for t in got[LAYERS]["traces"]] == ["prune 80%", "prune 90%"]
            assert page.get_by_text("int8 dynamic", exact=False).first.is_visible()  # the verdict names it
            assert page.get_by_test_id("stDataFrame").count() == 1
            assert page.get_by_test_id("stException").count() == 0
            assert not page.get_by_text("Not compressed:").count()  # no error box
            assert page.evaluate(JS_CLIPPED) == []
            page.mouse.move(5, 5)  # no tooltip from the button just pressed
            page.wait_for_timeout(300)
            shot = bh.screenshot(page, "compress")
            if DOCS:
                shutil.copyfile(shot, bh.ROOT / "docs" / "compress.png")

            # A projector: the stored group drawn at once (no job), large type, nothing cut.
            page.set_viewport_size({"width": 1024, "height": 768})
            page.goto(f"{server.url}/compress?run={run_id}&present=1")
            bh.wait_app_idle(page)
            page.wait_for_function(
                "(t) => [...document.querySelectorAll('.js-plotly-plot')].some(el => el.layout.title.text.includes(t))",
                arg=SIZE,
                timeout=30_000,
            )
            assert page.evaluate(JS_CLIPPED) == []
            page.set_viewport_size({"width": 1024, "height": 3000})  # Streamlit scrolls in its own box
            page.wait_for_timeout(500)
            bh.screenshot(page, "compress_present_1024")
            print(f"browser part took {time.time() - started:.1f}s")
        except BaseException:
            bh.screenshot(page, "compress_failure")
            print(server.log_tail())
            raise
