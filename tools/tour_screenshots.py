"""Screenshots of every view, at a laptop's 1440x900 and a projector's 1024x768, for the README tour.

    python tools/tour_screenshots.py            # into artifacts/screenshots/tour/
    python tools/tour_screenshots.py --docs     # and refresh docs/*.png from them

Trains two lessons in this process into a temporary store (``vanishing-sigmoid``
for Live, Compare and Runs; ``optimizers`` for the Playground's decision
boundary), starts the real app on it (``streamlit run app/main.py`` on a
loopback port), and photographs Launch, Live, Compare and Runs, each at both
sizes, plus Live and Compare in presentation mode at 1024x768. Each picture
is the visible window (what a student sees before scrolling) and a full-page
one (``*_full.png``). Needs /usr/bin/chromium and the playwright package.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.control.lessons import run_lesson  # noqa: E402
from engine.store import Store  # noqa: E402
from tests.app import browser_helpers as bh  # noqa: E402

FULL_H = 3000  # tall enough for the longest view
SIZES = {"1440x900": (1440, 900), "1024x768": (1024, 768)}
OUT = bh.ARTIFACTS / "screenshots" / "tour"
# docs picture <- tour picture: the ones the README shows.
DOCS = {
    "dashboard.png": "live_1440x900_full.png",
    "launch.png": "launch_1440x900.png",
    "compare.png": "compare_1440x900_full.png",
    "runs.png": "runs_1440x900.png",
    "presentation.png": "compare_1024x768_present.png",
}


def _shoot(page, url: str, name: str, size: tuple[int, int]) -> None:
    """The window as a student sees it, then the whole page (Streamlit scrolls in its own container,
    so a full-page screenshot needs a tall window, not ``full_page``)."""
    w, h = size
    page.set_viewport_size({"width": w, "height": h})
    page.goto(url)
    bh.wait_app_idle(page)
    # Streamlit draws grey skeletons until each element arrives, and plotly lays out after that.
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSkeleton\"]')", timeout=60_000)
    # Every chart drawn: a Plotly element exists (its library loads lazily) and has laid itself out.
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
        ".every(c => { const el = c.querySelector('.js-plotly-plot'); return el && el._fullLayout; })",
        timeout=60_000,
    )
    page.wait_for_timeout(2500)
    # The whole page first: in the small window Chromium can still be painting elements at the
    # fold (a grey box where a chart or an input goes) long after the page is idle.
    page.set_viewport_size({"width": w, "height": FULL_H})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(OUT / f"{name}_full.png"))
    page.set_viewport_size({"width": w, "height": h})
    page.wait_for_timeout(1000)
    page.screenshot(path=str(OUT / f"{name}.png"))
    print(OUT / f"{name}.png")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", action="store_true", help="copy the README's pictures into docs/")
    args = ap.parse_args()
    missing = bh.have_browser()
    if missing:
        print(f"tour_screenshots: {missing}", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gc-tour-") as tmp:
        home = Path(tmp)
        with Store(home) as store:
            lesson = run_lesson("vanishing-sigmoid", store)
            boundary = run_lesson("optimizers", store, labels=["Adam"])
        base = lesson.baseline.run_id
        moons = boundary.variants["Adam"].run_id
        with bh.app_server(home, max_runs=None) as server:
            for size, (w, h) in SIZES.items():
                with bh.browser_page({"width": w, "height": h}) as page:
                    page.set_default_timeout(90_000)
                    u = server.url
                    _shoot(page, f"{u}/?recipe=vanishing-sigmoid", f"launch_{size}", (w, h))
                    _shoot(page, f"{u}/live?run={base}", f"live_{size}", (w, h))
                    _shoot(page, f"{u}/live?run={moons}", f"playground_{size}", (w, h))
                    _shoot(page, f"{u}/compare?group={lesson.group}", f"compare_{size}", (w, h))
                    _shoot(page, f"{u}/runs", f"runs_{size}", (w, h))
                    if size == "1024x768":
                        _shoot(page, f"{u}/live?run={base}&present=1", f"live_{size}_present", (w, h))
                        _shoot(page, f"{u}/compare?group={lesson.group}&present=1", f"compare_{size}_present", (w, h))
    if args.docs:
        for doc, shot in DOCS.items():
            shutil.copyfile(OUT / shot, ROOT / "docs" / doc)
            print("docs/" + doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
