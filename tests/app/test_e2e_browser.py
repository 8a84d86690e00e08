"""End to end, in a real browser: launch the vanishing-sigmoid lesson, watch it, apply the fix, compare.

Drives ``streamlit run app/main.py`` (a private store, loopback port) in
headless Debian Chromium through Playwright. It launches a real training run
from the Launch view, sees the loss chart grow on the Live view, waits for
the "vanishing gradients" diagnosis, clicks Apply on the He-init remedy, and
checks that Compare shows both runs and a verdict. Screenshots of every view
go to ``artifacts/screenshots/`` (git-ignored). Skipped, with the reason,
where Chromium or Playwright is missing.
"""

from __future__ import annotations

import re
import time

import pytest

from engine.config.names import TERMINAL
from engine.store import Store
from tests.app import browser_helpers as bh

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(bh.have_browser() is not None, reason=bh.have_browser() or ""),
]

STEPS = 3000  # short, yet long enough (~10 s of training) to see the chart grow while a busy browser redraws it
WAIT_S = 90.0


def _wait(predicate, what: str, timeout: float = WAIT_S, every: float = 0.5):
    """Poll ``predicate`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.time() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def _legend_texts(page) -> list[str]:
    # SVG text has no innerText: read textContent.
    return page.locator(".js-plotly-plot .legendtext").evaluate_all("els => els.map(e => e.textContent || '')")


def test_launch_watch_diagnose_apply_compare(tmp_path):
    home = tmp_path / "store"
    home.mkdir()
    shots = {}
    started = time.time()
    with (
        bh.app_server(home, max_runs=2, log=tmp_path / "streamlit.log") as server,
        bh.browser_page() as page,
        Store(home) as store,
    ):
        try:
            page.set_default_timeout(WAIT_S * 1000)

            # 1. Launch: the default lesson, made short through the URL's `set=` parameter.
            page.goto(f"{server.url}/?recipe=vanishing-sigmoid&set=train.steps={STEPS}")
            bh.wait_app_idle(page)
            page.get_by_role("heading", name=re.compile("sigmoid", re.I)).first.wait_for()  # the default lesson
            page.wait_for_function(
                "() => document.querySelector('.st-key-advanced textarea')"
                f" && document.querySelector('.st-key-advanced textarea').value.includes('train.steps={STEPS}')"
            )
            shots["launch"] = bh.screenshot(page, "launch")
            # The Launch row sits above the fold of a 1440×900 screen, above the lesson and the toggles.
            page.set_viewport_size({"width": 1440, "height": 900})
            bh.wait_app_idle(page)
            box = page.locator("button", has_text=re.compile(r"Launch$")).first.bounding_box()
            assert box and box["y"] + box["height"] <= 900, f"the Launch button is below the fold: {box}"
            page.set_viewport_size(bh.VIEWPORT)
            page.locator("button", has_text=re.compile(r"Launch$")).first.click()

            # 2. Live: the app switches to /live?run=<id> for the new run.
            page.wait_for_url(re.compile(r"/live\?run=[0-9a-f]{8}"))
            run_id = re.search(r"run=([0-9a-f]{8})", page.url).group(1)
            assert store.get_run(run_id)["total_steps"] == STEPS

            # The loss chart gains points: a first read while the run is running, then a larger one.
            def running_read():
                read = bh.loss_points(page)
                status = store.get_run(run_id)["status"]
                assert status in ("queued", "running"), (
                    f"run {run_id} ended {status} before its chart was read: {store.get_run(run_id).get('error')}"
                )
                return (read, status) if read and read["last"] is not None and status == "running" else None

            first, _ = _wait(running_read, "the loss chart's first points while the run is running")

            def grown():
                read = bh.loss_points(page)
                return read if read and read["last"] is not None and read["last"] > first["last"] else None

            second = _wait(grown, f"the loss chart to grow past step {first['last']}")
            assert sum(second["points"]) > sum(first["points"]) or second["last"] > first["last"]

            # The diagnosis names the problem.
            page.locator('[data-testid="stAlert"]', has_text="vanishing gradients").first.wait_for()
            page.locator(".js-plotly-plot", has_text="Gradient flow").first.wait_for()
            shots["live"] = bh.screenshot(page, "live")
            # The README's picture (docs/dashboard.png is copied from it): charts and gradient flow.
            # It needs a still page: while the run trains the page redraws every second, and on a
            # loaded machine (CI's other worker training beside this one) it may never be idle.
            _wait(lambda: store.get_run(run_id)["status"] not in ("queued", "running"), "the run to end", 180)
            page.set_viewport_size(bh.DOCS_VIEWPORT)
            bh.wait_app_idle(page)
            shots["live-docs"] = bh.screenshot(page, "live-docs")
            page.set_viewport_size(bh.VIEWPORT)

            # 3. Apply the He-init remedy of the vanishing-gradients finding. Its button's key is
            # apply:<run>:<finding index>:<remedy index>, exposed as the class st-key-apply-<run>-<i>-<j>.
            findings = store.findings(run_id)
            i = next(k for k, f in enumerate(findings) if f["code"] == "vanishing_gradients")
            j = next(k for k, r in enumerate(findings[i]["remedies"]) if r.get("name") == "he_relu")
            key = f"st-key-apply-{run_id}-{i}-{j}"
            row = page.locator('[data-testid="stHorizontalBlock"]', has=page.locator(f".{key}")).last
            assert row.inner_text().lstrip().startswith("💊 he_relu (model.init=he_normal, model.activation=relu)")
            # A button with help text is drawn twice (one copy hidden, for layout): click the visible one.
            row.locator(f".{key} button:visible").first.click()

            # 4. Compare: both runs, then a verdict once they have ended.
            page.wait_for_url(re.compile(r"/compare\?runs="))
            runs_in_url = re.findall(r"runs=([0-9a-f]{8})", page.url)
            assert runs_in_url[0] == run_id and len(runs_in_url) == 2, page.url
            remedy_id = runs_in_url[1]
            assert store.get_run(remedy_id)["recipe"]["model"]["init"] == "he_normal"

            # Compare labels runs by name (the id is added only where two names clash).
            names = [store.get_run(r)["name"] or r for r in (run_id, remedy_id)]
            assert names[1].endswith("he_relu"), names

            def both_legended():
                texts = set(_legend_texts(page))
                return all(any(n == t or r in t for t in texts) for n, r in zip(names, (run_id, remedy_id)))

            _wait(both_legended, "both runs in the Compare charts' legends")
            main = page.locator('[data-testid="stMain"]')
            assert all(n in main.inner_text() for n in names)  # the run picker lists both

            _wait(
                lambda: all(store.get_run(r)["status"] in TERMINAL for r in (run_id, remedy_id)),
                "both runs to end",
                timeout=150,
            )
            verdict = page.locator('[data-testid="stAlertContentSuccess"]')
            verdict.first.wait_for()
            text = verdict.first.inner_text()
            assert re.search(r"sooner|ended|against the baseline", text), text
            assert store.get_run(remedy_id)["status"] == "completed", store.get_run(remedy_id).get("error")
            _wait(both_legended, "both runs in the final Compare charts")
            bh.wait_app_idle(page)
            shots["compare"] = bh.screenshot(page, "compare")

            # 5. Runs: the history lists both.
            page.goto(f"{server.url}/runs")
            bh.wait_app_idle(page)
            page.locator('[data-testid="stDataFrame"]').first.wait_for()
            assert "No runs" not in main.inner_text()
            shots["runs"] = bh.screenshot(page, "runs")
        except BaseException:
            bh.screenshot(page, "failure")
            raise
        finally:
            bh.stop_runs(home)
    for name, path in shots.items():
        assert path.is_file() and path.stat().st_size > 10_000, f"screenshot {name} is empty"
    print(f"e2e took {time.time() - started:.0f}s; screenshots: {', '.join(str(p) for p in shots.values())}")
