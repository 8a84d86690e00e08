"""The Explain page in real Chromium: press Explain, watch the job, read the charts.

Four short runs are trained in this process first (torch here is fine: only the app must stay
torch-free): the digits MLP, a penguins CSV uploaded as the Launch page keeps it, and a Compare
group of the 20-layer sigmoid MLP beside its He + ReLU remedy. Then ``/explain?run=…`` explains
each in a child process: the digits' maps and per-class averages, the CSV's bars named by its
columns, and the pair side by side on one colour scale. Screenshots go to
``artifacts/screenshots/explain_*.png`` (and, with ``GRADCLINIC_DOCS=1``, to
``docs/explain-digits.png``, ``docs/explain-csv.png`` and ``docs/explain-pair.png``).
"""

from __future__ import annotations

import os
import shutil
import time

import pytest

from app.logic import launch as setup
from engine.config.recipe import load_recipe
from engine.store import Store
from tests.app import browser_helpers as bh
from tests.app.conftest import ROOT
from tests.app.test_presentation_browser import JS_CLIPPED

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bh.have_browser() is not None, reason=bh.have_browser() or ""),
]

WAIT_MS = 90_000  # a child imports torch and Captum before its first sample: seconds on 2 cores
GRID = "16 samples (label → predicted)"
PAIR_GRID = "8 samples (label → predicted)"  # half the width each: fewer samples
BARS = "Which inputs matter"

# Every drawn chart: its title, and each trace's type, y values (a bar's category names) and colour range.
JS_CHARTS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(el => ({
  title: ((el.layout && el.layout.title && el.layout.title.text) || '').replace(/<[^>]*>/g, ''),
  traces: (el._fullData || []).map(t => ({
    type: t.type, name: t.name || '', zmin: t.zmin ?? null, zmax: t.zmax ?? null,
    colorscale: t.colorscale ? JSON.stringify(t.colorscale) : null,
    y: t.type === 'bar' && t.y ? Array.from(t.y).map(String) : null,
  })),
}))"""


def train(store: Store, recipe, name: str, group: str | None = None) -> str:
    """A completed run of ``recipe`` trained in this process, its weights saved."""
    from engine.training import session

    run_id = store.create_run(
        recipe.to_dict(), name=name, group=group, total_steps=recipe.train.steps, status="running"
    )
    session.train(store, run_id, session.prepare(recipe))
    return run_id


def prepare_store(home) -> dict[str, str]:
    """The four runs, trained for a few hundred steps (seconds on 2 cores)."""
    import torch

    torch.set_num_threads(1)
    penguins = (ROOT / "sample_data" / "penguins.csv").read_bytes()
    path, error = setup.accept_upload(home, "penguins.csv", penguins, "species")
    assert error is None, error
    with Store(home) as store:
        sigmoid = {"train.steps": 150, "train.eval_every": 50}
        return {
            "baseline": train(store, load_recipe("vanishing-sigmoid", sigmoid), "baseline", group="vs"),
            "remedy": train(
                store,
                load_recipe("vanishing-sigmoid", {**sigmoid, "model.init": "he_normal", "model.activation": "relu"}),
                "He init + ReLU",
                group="vs",
            ),
            "csv": train(
                store, load_recipe(None, {**setup.csv_sets(path, "species"), "train.steps": 200}), "penguins.csv"
            ),
            "digits": train(store, load_recipe("healthy-mlp", {"train.steps": 300}), "digits MLP"),
        }


def charts(page) -> dict[str, list[dict]]:
    return {c["title"]: c["traces"] for c in page.evaluate(JS_CHARTS)}


def explain(page, url: str, wanted: list[str]) -> dict[str, list[dict]]:
    """Open ``url``, press Explain, and wait (through the progress bar) for the charts titled ``wanted``."""
    page.goto(url)
    bh.wait_app_idle(page)
    page.get_by_role("button", name="🔍 Explain").click()
    page.get_by_test_id("stProgress").wait_for(timeout=WAIT_MS)  # the job's bar, from the fragment
    page.wait_for_function(
        "(want) => { const got = [...document.querySelectorAll('.js-plotly-plot')].map(el =>"
        " ((el.layout && el.layout.title && el.layout.title.text) || '').replace(/<[^>]*>/g, ''));"
        " return want.every(t => got.includes(t)); }",
        arg=wanted,
        timeout=WAIT_MS,
    )
    bh.wait_app_idle(page)
    page.wait_for_timeout(400)  # the charts' own layout pass
    return charts(page)


def shoot(page, name: str, docs: str) -> None:
    page.mouse.move(5, 5)  # no tooltip from the button just pressed
    page.wait_for_timeout(300)
    shot = bh.screenshot(page, f"explain_{name}")
    if os.environ.get("GRADCLINIC_DOCS") == "1":
        shutil.copyfile(shot, bh.ROOT / "docs" / docs)


def diverging(trace: dict) -> bool:
    """A heatmap on the diverging scale (RdBu_r: darkest blue first; clear at 0 over an image): signed attributions."""
    return trace["type"] == "heatmap" and (trace["colorscale"] or "").startswith(
        ('[[0,"rgb(5,48,97)"]', '[[0,"rgba(5,48,97,')
    )


def grey(trace: dict) -> bool:
    """A heatmap on the gray scale (white first): an image under its map."""
    return trace["type"] == "heatmap" and (trace["colorscale"] or "").startswith('[[0,"rgb(255,255,255)"]')


def symmetric(trace: dict) -> bool:
    """White at 0: the colour range is symmetric (plotly drops zmid once zmin and zmax are set)."""
    return trace["zmax"] > 0 and abs(trace["zmin"] + trace["zmax"]) < 1e-12


def test_the_explain_page_draws_digits_a_csv_and_a_pair_side_by_side(tmp_path):
    home = tmp_path / "store"
    home.mkdir()
    started = time.time()
    ids = prepare_store(home)
    print(f"training took {time.time() - started:.1f}s")
    with (
        bh.app_server(home, log=tmp_path / "streamlit.log", extra_env={"GRADCLINIC_WARM": "0"}) as server,
        bh.browser_page({"width": 1440, "height": 1900}) as page,
    ):
        try:
            started = time.time()
            got = explain(page, f"{server.url}/explain?run={ids['digits']}", [GRID, "Average per explained class"])
            maps = [t for t in got[GRID] if diverging(t)]
            assert len(maps) == 16 and all(symmetric(m) for m in maps)  # one map a sample, over its image
            assert len([t for t in got[GRID] if grey(t)]) == 16
            assert page.get_by_text("Completeness check").is_visible()
            assert page.get_by_text("Red pushes toward it, blue against it").is_visible()
            assert page.evaluate(JS_CLIPPED) == []
            shoot(page, "digits", "explain-digits.png")

            got = explain(page, f"{server.url}/explain?run={ids['csv']}", [BARS, "Each sample's attributions"])
            names = next(t["y"] for t in got[BARS] if t["type"] == "bar")
            assert set(names) == {"bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"}
            assert page.get_by_text("carries").first.is_visible()  # the verdict names the top column
            assert page.evaluate(JS_CLIPPED) == []
            shoot(page, "csv", "explain-csv.png")

            pair = [f"He init + ReLU · {PAIR_GRID}", f"baseline · {PAIR_GRID}"]
            got = explain(page, f"{server.url}/explain?run={ids['remedy']}&vs={ids['baseline']}", pair)
            scales = [next(t for t in got[title] if diverging(t)) for title in pair]
            assert all(symmetric(s) for s in scales) and scales[0]["zmax"] == scales[1]["zmax"]  # one scale
            assert page.get_by_text("does not depend on its input").is_visible()  # the sigmoid net learned nothing
            assert page.evaluate(JS_CLIPPED) == []
            shoot(page, "pair", "explain-pair.png")

            # A projector: the saved digits result drawn at once (no job), large type, nothing cut.
            page.set_viewport_size({"width": 1024, "height": 768})
            page.goto(f"{server.url}/explain?run={ids['digits']}&present=1")
            bh.wait_app_idle(page)
            page.wait_for_function(
                "(t) => [...document.querySelectorAll('.js-plotly-plot')].some(el => el.layout.title.text.includes(t))",
                arg=GRID,
                timeout=30_000,
            )
            assert page.evaluate(JS_CLIPPED) == []
            bh.screenshot(page, "explain_present_1024x768")
            print(f"browser part took {time.time() - started:.1f}s")
        except BaseException:
            bh.screenshot(page, "explain_failure")
            print(server.log_tail())
            raise
