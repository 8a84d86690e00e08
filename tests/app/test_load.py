"""Load: 8 background runs at once, 2 dashboard sessions in Chromium and a CLI poller, for about a minute.

What a classroom does to one laptop: every student's run writes to the same store
while two browsers redraw the Live and Runs pages and a script polls
``gradclinic ls --json`` and ``show --json``. The test asserts 0 errors (no
exception element on a page, every CLI call exit 0 with parseable JSON, no
traceback in the server's log) and 0 lost rows (every run completed, and its
``train_loss`` has every step from 1 to the last, no gaps).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from engine.config.names import TERMINAL
from engine.config.recipe import load_recipe
from engine.control import lifecycle
from engine.store import Store
from engine.worker import log_path
from tests.app import browser_helpers as bh

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(bh.have_browser() is not None, reason=bh.have_browser() or ""),
]

RUNS = 8
STEPS = 1500  # 40-60 s for all eight on two cores beside a browser
LOAD_S = 60.0  # keep the browsers and the poller busy at least this long
TIMEOUT_S = 240.0


def gradclinic(home, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GRADCLINIC_HOME": str(home), "GRADCLINIC_MAX_RUNS": str(RUNS)}
    return subprocess.run(
        [sys.executable, "-m", "engine.cli", *args], env=env, cwd=str(bh.ROOT), capture_output=True, text=True
    )


class Poller(threading.Thread):
    """``ls --json`` and ``show --json`` in a loop; keeps every failure it sees."""

    def __init__(self, home, run_ids: list[str]):
        super().__init__(daemon=True)
        self.home, self.run_ids = home, run_ids
        self.calls, self.errors = 0, []
        self.halt = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.halt.is_set():
            args = ("ls", "--json") if i % 2 == 0 else ("show", self.run_ids[i % len(self.run_ids)], "--json")
            out = gradclinic(self.home, *args)
            self.calls += 1
            try:
                json.loads(out.stdout)
                ok = out.returncode == 0 and not out.stderr.strip()
            except json.JSONDecodeError:
                ok = False
            if not ok:
                self.errors.append(f"{' '.join(args)}: rc={out.returncode} {out.stderr[-400:]}")
            i += 1
            time.sleep(0.5)


def page_errors(page) -> list[str]:
    """Exception boxes Streamlit drew on the page (an uncaught error in a view)."""
    return page.locator('[data-testid="stException"]').all_inner_texts()


def test_eight_runs_two_dashboards_and_a_poller(tmp_path, monkeypatch, warm_server):
    """Eight concurrent runs under two live dashboards and a CLI poller: 0 errors and 0 lost rows."""
    home = tmp_path / "store"
    home.mkdir()
    monkeypatch.setenv("GRADCLINIC_MAX_RUNS", str(RUNS))  # all eight at once; the workers inherit it
    with Store(home) as store:  # launched in-process: eight CLI starts would cost a minute on two cores
        run_ids = [
            lifecycle.launch(store, load_recipe("healthy-mlp", {"train.steps": STEPS, "seed": i}), name=f"s{i}")
            for i in range(RUNS)
        ]
    poller = Poller(home, run_ids)
    errors: list[str] = []
    views = 0
    started = time.time()
    with bh.app_server(home, max_runs=RUNS, log=tmp_path / "streamlit.log") as server:
        from playwright.sync_api import sync_playwright

        poller.start()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=bh.CHROMIUM, args=bh.CHROMIUM_ARGS, headless=True)
            try:
                # Two contexts: two independent sessions, as two students' browsers would be.
                pages = [browser.new_context(viewport={"width": 1280, "height": 1600}).new_page() for _ in range(2)]
                with Store(home) as store:
                    while True:
                        for k, page in enumerate(pages):
                            run = run_ids[(views + k) % RUNS]
                            url = f"{server.url}/live?run={run}" if (views + k) % 3 else f"{server.url}/runs"
                            page.goto(url)
                            # Not "idle": a live page reruns its fragment every second while runs train.
                            page.wait_for_selector('[data-testid="stMain"] h1', timeout=60_000)
                            page.wait_for_timeout(1500)  # let the live fragment redraw a few times
                            errors += [f"{url}: {e[:300]}" for e in page_errors(page)]
                            views += 1
                        statuses = [store.get_run(r)["status"] for r in run_ids]
                        elapsed = time.time() - started
                        busy_enough = elapsed > LOAD_S and views >= 4  # two rounds of both pages at least
                        if (all(s in TERMINAL for s in statuses) and busy_enough) or elapsed > TIMEOUT_S:
                            break
            finally:
                browser.close()
                poller.halt.set()
                poller.join(timeout=30)
        log = server.log_tail(200_000)
    errors += poller.errors
    print(
        f"load: {RUNS} runs, {views} page views in 2 sessions, {poller.calls} CLI calls, {time.time() - started:.0f} s"
    )
    if "Traceback" in log:
        errors.append("server log: " + log[log.index("Traceback") :][:800])
    assert not errors, "\n".join(errors[:10])
    assert views >= 4 and poller.calls >= 10, (views, poller.calls)  # every page is slow on a saturated CPU

    with Store(home) as store:
        for run_id in run_ids:
            run = store.get_run(run_id)
            worker_log = log_path(store, run_id)
            tail = worker_log.read_text(errors="replace")[-1500:] if worker_log.is_file() else "(no worker log)"
            assert run["status"] == "completed", (run_id, run["status"], run.get("error"), tail)
            steps = store.scalars(run_id, names=["train_loss"])["step"].tolist()
            assert steps == list(range(1, STEPS + 1)), f"{run_id}: {len(steps)} of {STEPS} steps stored"
