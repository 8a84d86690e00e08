"""Presentation mode in a real browser at 1024×768: it survives a reload, and nothing is cut off.

Two finished runs are written straight into a private store (no training), then the
Live and Compare views are opened in headless Chromium at a small projector's
resolution. With and without presentation mode, every metric tile's label and
value, every heading and every plotly title must fit inside its box and the
window. Presentation mode is turned on with the sidebar toggle, the page is
reloaded, and the mode must still be on: ``?present=1`` in the URL, large type,
one chart a row. Screenshots go to ``artifacts/screenshots/presentation-*.png``.
"""

from __future__ import annotations

import re
import time

import pytest

from engine.config.recipe import load_recipe
from engine.store import Store
from tests.app import browser_helpers as bh
from tests.app.conftest import fill, finding

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(bh.have_browser() is not None, reason=bh.have_browser() or ""),
]

SMALL_SCREEN = {"width": 1024, "height": 768}
WAIT_MS = 60_000

# Everything on the page that could be cut short, with the box it must fit in. A text is cut
# when its element scrolls (scrollWidth > clientWidth: an ellipsis or a clipped line), or when
# it pokes out of its tile, its chart or the window. Plotly titles are SVG: their box must lie
# inside the chart's own box.
JS_CLIPPED = """() => {
  const vw = document.documentElement.clientWidth, bad = [];
  const shown = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const outside = (r, box) => r.left < box.left - 1 || r.right > box.right + 1;
  const check = (el, what, box) => {
    if (!shown(el)) return;
    const r = el.getBoundingClientRect(), text = (el.innerText || el.textContent || '').trim().slice(0, 40);
    if (el.scrollWidth > el.clientWidth + 1) bad.push(`${what} cut (${el.scrollWidth}>${el.clientWidth}): ${text}`);
    if (r.right > vw + 1) bad.push(`${what} runs past the window (${Math.round(r.right)}>${vw}): ${text}`);
    if (box && outside(r, box.getBoundingClientRect())) bad.push(`${what} pokes out of its box: ${text}`);
  };
  const METRIC_TEXT = '[data-testid="stMetricLabel"] p, [data-testid="stMetricLabel"] div, '
    + '[data-testid="stMetricValue"] div';
  for (const m of document.querySelectorAll('[data-testid="stMetric"]'))
    for (const el of m.querySelectorAll(METRIC_TEXT)) check(el, 'metric', m);
  for (const h of document.querySelectorAll('[data-testid="stMain"] :is(h1, h2, h3)'))
    check(h, 'heading', h.closest('[data-testid="stMarkdownContainer"], [data-testid="stHeading"]'));
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    const box = plot.getBoundingClientRect();
    for (const t of plot.querySelectorAll('.gtitle')) {
      const r = t.getBoundingClientRect(), text = (t.textContent || '').slice(0, 40);
      if (r.width && (outside(r, box) || r.right > vw + 1))
        bad.push(`chart title cut (${Math.round(r.right)}>${Math.round(box.right)}): ${text}`);
    }
  }
  return bad;
}"""

# Type sizes, and how many rows the charts stand in (one a row: as many rows as charts).
JS_SIZES = """() => {
  const px = sel => { const el = document.querySelector(sel); return el && parseFloat(getComputedStyle(el).fontSize); };
  const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
  const tops = plots.map(p => Math.round(p.getBoundingClientRect().top));
  return {h1: px('[data-testid="stMain"] h1'), metric: px('[data-testid="stMetricValue"]'),
          charts: tops.length, rows: new Set(tops).size};
}"""
SIDEBAR_OPEN = '[data-testid="stExpandSidebarButton"], [data-testid="stSidebarCollapsedControl"] button'
SIDEBAR_CLOSE = '[data-testid="stSidebarCollapseButton"] button'


def _two_finished_runs(home) -> dict[str, str]:
    """A baseline and a remedy, completed, in one comparison group: Live and Compare have all their charts."""
    recipe = load_recipe("vanishing-sigmoid", {"train.steps": 200}).to_dict()
    ids = {}
    with Store(home) as store:
        for name in ("baseline", "He init + ReLU"):
            rid = store.create_run(recipe, name=name, group="g1", total_steps=200)
            fill(store, rid, vanishing=name == "baseline")
            store.update_run(rid, step=200, device="cpu")
            store.set_status(rid, "completed")
            ids[name] = rid
        store.add_findings(ids["baseline"], [finding()])
    return ids


def _open(page, url: str) -> None:
    page.goto(url)
    bh.wait_app_idle(page, WAIT_MS)
    page.wait_for_selector(".js-plotly-plot .gtitle", timeout=WAIT_MS)
    time.sleep(0.5)  # plotly draws its titles a frame after the chart appears


def _assert_fits(page, what: str) -> None:
    clipped = page.evaluate(JS_CLIPPED)
    assert not clipped, f"{what} at 1024×768: " + "; ".join(clipped)


def _screenshot(page, name: str) -> None:
    """The whole page at the same width: Streamlit scrolls inside its own box, so the window grows."""
    page.set_viewport_size({"width": SMALL_SCREEN["width"], "height": 2600})
    time.sleep(0.5)
    bh.screenshot(page, name)
    page.set_viewport_size(SMALL_SCREEN)


def test_presentation_mode_survives_a_reload_and_nothing_is_cut_at_1024x768(tmp_path):
    home = tmp_path / "store"
    home.mkdir()
    ids = _two_finished_runs(home)
    with bh.app_server(home, log=tmp_path / "streamlit.log") as server, bh.browser_page(SMALL_SCREEN) as page:
        page.set_default_timeout(WAIT_MS)
        live, compare = f"{server.url}/live?run={ids['baseline']}", f"{server.url}/compare?group=g1"

        # 1. A laptop screen's layout: the tiles and chart titles fit even with the sidebar open.
        _open(page, live)
        _assert_fits(page, "Live")
        _open(page, compare)
        _assert_fits(page, "Compare")
        _screenshot(page, "presentation-off-compare")
        normal = page.evaluate(JS_SIZES)

        # 2. On Compare, turn presentation mode on with the sidebar toggle: the URL says so at once.
        page.get_by_text("Presentation mode").click()
        page.wait_for_url(re.compile(r"present=1"))
        assert "group=g1" in page.url  # the page's own parameters stay

        # 3. Reload: still on (a new session reads the URL), with large type and one chart a row.
        page.reload()
        bh.wait_app_idle(page, WAIT_MS)
        page.wait_for_selector(".js-plotly-plot .gtitle")
        time.sleep(0.5)
        assert "present=1" in page.url
        big = page.evaluate(JS_SIZES)
        assert big["h1"] >= 48 > normal["h1"], (big, normal)
        assert big["rows"] == big["charts"], f"one chart a row in presentation mode: {big}"
        _assert_fits(page, "Compare in presentation mode")
        _screenshot(page, "presentation-on-compare")

        # 4. A page switch from the sidebar keeps the mode, and the URL keeps the parameter.
        page.locator(SIDEBAR_OPEN).first.click()
        page.get_by_role("link", name=re.compile("Live run")).click()
        page.wait_for_url(re.compile(r"/live\?.*present=1"))
        bh.wait_app_idle(page, WAIT_MS)
        page.wait_for_selector(".js-plotly-plot .gtitle")
        time.sleep(0.5)
        tiles = page.evaluate(JS_SIZES)
        assert tiles["metric"] >= 40 and tiles["rows"] == tiles["charts"], tiles
        page.locator(SIDEBAR_CLOSE).click()  # fold it away again, as on a projector
        _assert_fits(page, "Live in presentation mode")
        _screenshot(page, "presentation-on-live")
