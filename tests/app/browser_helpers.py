"""Helpers for driving the real app in headless Chromium (tests and benchmarks share them).

The browser is Debian's ``chromium`` (``/usr/bin/chromium``) driven through
Playwright's Python package; a Playwright browser download is impossible
here. The Streamlit server is started on a free loopback port, in its own
process group, with a private ``GRADCLINIC_HOME``, and torn down with that
group. Nothing here imports torch.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("GRADCLINIC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "artifacts"
#: Tall, so Streamlit's own scrolling container fits on one screenshot.
VIEWPORT = {"width": 1400, "height": 2600}
#: The README screenshot: the Live view down to the end of the gradient-flow heatmap.
DOCS_VIEWPORT = {"width": 1400, "height": 2000}

# Plotly titles come back wrapped in <b> (Streamlit's theming adds them); compare them tag-free.
# Arrays arrive base64-packed in ``el.data`` (plotly.py 6), so read the decoded ``el._fullData``.
_JS_COMMON = """
  const title = el => ((el.layout && el.layout.title && el.layout.title.text) || '').replace(/<[^>]*>/g, '');
  const arr = (tr, k) => { const a = tr[k]; return a && typeof a.length === 'number' ? a : null; };
  const traces = el => (el._fullData && el._fullData.length ? el._fullData : (el.data || []));
"""

# The loss chart ("Loss"): points per trace and the largest step drawn by its first trace. While a
# fragment reruns, Streamlit briefly keeps the stale figure beside the new one: take the newest.
JS_LOSS_POINTS = (
    "() => {"
    + _JS_COMMON
    + """
  let best = null;
  for (const el of document.querySelectorAll('.js-plotly-plot')) {
    if (title(el) !== 'Loss') continue;
    const tr = traces(el);
    const points = tr.map(t => { const x = arr(t, 'x'); return x ? x.length : 0; });
    const x0 = tr.length ? arr(tr[0], 'x') : null;
    const last = x0 && x0.length ? Number(x0[x0.length - 1]) : null;
    if (best === null || (last !== null && (best.last === null || last > best.last))) best = {points, last};
  }
  return best;
}"""
)

# Every drawn plotly figure: title, and points per trace (cells for a heatmap) for the ~2,000-point check.
JS_FIGURES = (
    "() => {"
    + _JS_COMMON
    + """
  return Array.from(document.querySelectorAll('.js-plotly-plot')).map(el => ({
    title: title(el),
    traces: traces(el).map(t => {
      const x = arr(t, 'x'), y = arr(t, 'y'), z = arr(t, 'z');
      let n = x ? x.length : (y ? y.length : 0), cells = null;
      if (z) cells = z.length && z[0] && typeof z[0].length === 'number' ? z.length * z[0].length : z.length;
      if (z && x) n = x.length;
      return {type: t.type || 'scatter', name: t.name || '', n, cells};
    }),
  }));
}"""
)


def have_browser() -> str | None:
    """None when the browser tests can run, else the reason they cannot."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``streamlit run app/main.py`` on 127.0.0.1:<free port>, in its own process group."""

    def __init__(self, home: Path, *, max_runs: int | None = 2, log: Path | None = None, extra_env: dict | None = None):
        self.home = Path(home)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log or (self.home / "streamlit.log")
        env = {
            **os.environ,
            "GRADCLINIC_HOME": str(self.home),
            "GRADCLINIC_MAX_RUNS": str(max_runs),
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        if max_runs is None:  # the app's own default concurrency
            env.pop("GRADCLINIC_MAX_RUNS")
        cmd = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app/main.py",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(self.port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            cmd,
            cwd=str(ROOT),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"streamlit not healthy after {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._log.close()


@contextlib.contextmanager
def app_server(home: Path, **kw) -> Iterator[Server]:
    server = Server(home, **kw)
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def browser_page(viewport: dict | None = None) -> Iterator:
    """A fresh Chromium page (headless, Debian's browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport=viewport or VIEWPORT)
            yield context.new_page()
        finally:
            browser.close()


def wait_app_idle(page, timeout_ms: float = 90_000) -> None:
    """Wait until Streamlit has drawn the page and is not running a script (the status widget is gone)."""
    page.wait_for_selector('[data-testid="stAppViewContainer"]', timeout=timeout_ms)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && !document.querySelector('[data-stale=\"true\"]')"  # elements left over from the last rerun
        " && document.querySelector('[data-testid=\"stMain\"] h1')",
        timeout=timeout_ms,
    )


def loss_points(page) -> dict | None:
    return page.evaluate(JS_LOSS_POINTS)


def figures(page) -> list[dict]:
    return page.evaluate(JS_FIGURES)


def screenshot(page, name: str, folder: Path | None = None) -> Path:
    folder = folder or ARTIFACTS / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def stop_runs(home: Path, grace: float = 10.0) -> None:
    """Stop every run of this store that is not finished (cooperatively, then by force)."""
    from engine.config.names import TERMINAL
    from engine.control import lifecycle
    from engine.store import Store

    with Store(home) as store:
        alive = [r["id"] for r in store.list_runs().to_dict("records") if r["status"] not in TERMINAL]
        for run_id in alive:  # queued ones stop at once, so enforce_stop's re-schedule starts nothing
            lifecycle.stop(store, run_id)
        for run_id in alive:
            if store.get_run(run_id)["status"] not in TERMINAL:
                lifecycle.enforce_stop(store, run_id, grace=grace)
