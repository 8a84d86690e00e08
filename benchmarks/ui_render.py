"""Server-side render time of the Live, Compare and Runs views on a big store, and points per trace.

    python benchmarks/ui_render.py                 # 8 runs x 20,000 steps x 20 layers; 1,000 runs for Runs
    python benchmarks/ui_render.py --steps 5000    # smaller, faster to fill
    python benchmarks/ui_render.py --no-browser    # skip the Chromium part

The store is filled directly with ``Store.flush`` (train_loss and lr every
step, val_loss/val_accuracy every 50; grad_norm, update_ratio, weight_norm for
20 layers every step; dead/saturated fractions for 19 activation layers every
10 steps), all 8 runs in one group ("baseline", "v1", ...). Each view runs in
``streamlit.testing.v1.AppTest``; the first ``at.run()`` (cold: the Live view
reads the whole run) is reported apart from the warm median of the next ones.
Goals: each view <= 1 s server-side; every plotly trace <= ~2,000 points
(DESIGN.md: MinMax/LTTB downsampling). The Chromium part loads Compare and
reports the time until its charts are drawn and the longest main-thread task.
Not a timed test.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from engine.config.recipe import load_recipe  # noqa: E402
from engine.store import Store  # noqa: E402

GOAL_S = 1.0
MAX_POINTS = 2000
PARAM_LAYERS = [f"layers.{i}" for i in range(19)] + ["head"]
ACT_LAYERS = [f"act.{i}" for i in range(19)]
CHUNK = 2000  # steps per flush while filling


def fill_run(store: Store, run_id: str, steps: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    store.set_layers(run_id, PARAM_LAYERS, ACT_LAYERS)
    n, a = len(PARAM_LAYERS), len(ACT_LAYERS)
    depth = np.arange(n)
    for start in range(1, steps + 1, CHUNK):
        s = np.arange(start, min(start + CHUNK, steps + 1))
        loss = 2.3 * np.exp(-s / (3000 + 500 * seed)) + 0.1 + 0.05 * rng.random(len(s))
        ev = s[s % 50 == 0]
        scalars = [(int(i), "train_loss", float(v)) for i, v in zip(s, loss)]
        scalars += [(int(i), "lr", 0.1) for i in s]
        scalars += [(int(i), "val_loss", float(2.3 * np.exp(-i / 3000) + 0.15)) for i in ev]
        scalars += [(int(i), "val_accuracy", float(min(0.97, 0.1 + i / steps))) for i in ev]
        act = s[s % 10 == 0]
        store.flush(
            run_id,
            scalars=scalars,
            layer_stats={
                "grad_norm": (s, 10.0 ** (depth - n + rng.normal(0, 0.1, (len(s), n)))),
                "update_ratio": (s, 10.0 ** rng.uniform(-4, -2, (len(s), n))),
                "weight_norm": (s, rng.uniform(1, 5, (len(s), n))),
                "dead_fraction": (act, rng.uniform(0, 0.3, (len(act), a))),
                "saturated_fraction": (act, rng.uniform(0, 0.3, (len(act), a))),
            },
        )
    store.update_run(run_id, step=steps)


def _len(v) -> int:
    if isinstance(v, dict) and "bdata" in v:  # plotly.py 6 packs numpy arrays as base64
        itemsize = int("".join(c for c in v.get("dtype", "f8") if c.isdigit()) or 8)
        total = len(base64.b64decode(v["bdata"])) // itemsize
        return total
    if isinstance(v, (list, tuple)):
        return len(v) if not v or not isinstance(v[0], (list, tuple)) else sum(len(r) for r in v)
    return 0


def trace_points(at) -> list[tuple[str, str, int]]:
    """(figure title, trace name, points) for every plotly trace the script produced."""
    out = []
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        title = ((spec.get("layout") or {}).get("title") or {}).get("text", "")
        for tr in spec.get("data", []):
            n = max(_len(tr.get("x")), _len(tr.get("y")))
            if tr.get("z") is not None:
                n = max(n, _len(tr.get("x")) or _len(tr.get("z")))  # heatmap: its columns (steps)
            out.append((title, tr.get("name") or tr.get("type", ""), n))
    return out


def time_view(page: str, params: dict, repeats: int) -> tuple[float, list[float], object]:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app" / "main.py"), default_timeout=120)
    at.switch_page(page)
    for k, v in params.items():
        at.query_params[k] = v
    t = time.perf_counter()
    at.run()
    cold = time.perf_counter() - t
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception[0].value}")
    warm = []
    for _ in range(repeats):
        t = time.perf_counter()
        at.run()
        warm.append(time.perf_counter() - t)
    return cold, warm, at


def report(name: str, cold: float, warm: list[float]) -> None:
    med = statistics.median(warm)
    print(
        f"  {name:<34} cold {cold:6.2f} s   warm median {med:5.2f} s (n={len(warm)}, max {max(warm):.2f})"
        f"   goal <= {GOAL_S:.0f} s -> {'met' if med <= GOAL_S else 'NOT met'}"
    )


def browser_compare(home: Path, group: str) -> None:
    from tests.app import browser_helpers as bh

    reason = bh.have_browser()
    if reason:
        print(f"  browser: skipped ({reason})")
        return
    observer = """window.__longtasks = [];
      try { new PerformanceObserver(l => { for (const e of l.getEntries()) window.__longtasks.push(e.duration); })
              .observe({type: 'longtask', buffered: true}); } catch (e) { window.__longtasks = null; }"""
    with bh.app_server(home, max_runs=1) as server, bh.browser_page() as page:
        page.context.add_init_script(observer)
        page.set_default_timeout(180_000)
        t = time.time()
        page.goto(f"{server.url}/compare?group={group}")
        page.wait_for_function(
            "() => { const els = document.querySelectorAll('.js-plotly-plot');"
            " return els.length >= 3 && Array.from(els).every(e => e._fullData && e._fullData.length); }",
            polling=50,
        )
        drawn = time.time() - t
        tasks = page.evaluate("() => window.__longtasks")
        figs = page.evaluate(bh.JS_FIGURES)
        worst = max((tr["n"] for f in figs for tr in f["traces"]), default=0)
        print(
            f"  browser Compare: charts drawn {drawn:.1f} s after navigation; "
            + (
                f"longest main-thread task {max(tasks):.0f} ms ({len(tasks)} tasks > 50 ms)"
                if tasks
                else "long tasks: none reported"
                if tasks == []
                else "long tasks: not supported"
            )
            + f"; most points in one drawn trace: {worst:,}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20_000)
    ap.add_argument("--history", type=int, default=1000, help="runs in the store for the Runs view")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # show each figure as it comes, even into a file

    with tempfile.TemporaryDirectory(prefix="gc-render-") as tmp:
        home = Path(tmp) / "big"
        os.environ["GRADCLINIC_HOME"] = str(home)
        os.environ["GRADCLINIC_MAX_RUNS"] = "1"
        recipe = load_recipe("vanishing-sigmoid", {"train.steps": args.steps}).to_dict()
        t = time.time()
        with Store(home) as store:
            ids = []
            for i in range(args.runs):
                rid = store.create_run(
                    recipe,
                    name="baseline" if i == 0 else f"v{i}",
                    group="bench",
                    total_steps=args.steps,
                    status="running",
                )
                fill_run(store, rid, args.steps, seed=i)
                store.set_status(rid, "completed")
                ids.append(rid)
        print(f"Filled {args.runs} runs x {args.steps:,} steps x {len(PARAM_LAYERS)} layers in {time.time() - t:.0f} s")

        print("Server-side render (AppTest, this machine):")
        cold, warm, at_live = time_view("views/live.py", {"run": ids[0]}, args.repeats)
        report(f"Live (one {args.steps:,}-step run)", cold, warm)
        cold, warm, at_cmp = time_view("views/compare.py", {"group": "bench"}, args.repeats)
        report(f"Compare ({args.runs} runs, one group)", cold, warm)

        points = trace_points(at_live) + trace_points(at_cmp)
        worst = max(points, key=lambda p: p[2])
        over = [p for p in points if p[2] > MAX_POINTS * 1.05]
        print(
            f"  points per trace: {len(points)} traces, largest {worst[2]:,} ({worst[0]!r} / {worst[1]!r});"
            f" goal <= ~{MAX_POINTS:,} -> " + ("met" if not over else f"NOT met: {over[:5]}")
        )

        runs_home = Path(tmp) / "history"
        os.environ["GRADCLINIC_HOME"] = str(runs_home)
        small = load_recipe("vanishing-sigmoid", {"train.steps": 100}).to_dict()
        statuses = ["completed", "completed", "diverged", "crashed", "stopped"]
        with Store(runs_home) as store:
            for i in range(args.history):
                rid = store.create_run(small, name=f"run {i}", total_steps=100, status="running")
                store.flush(rid, scalars=[(100, "train_loss", 0.5)])
                store.set_status(
                    rid, statuses[i % len(statuses)], error="worker process exited (signal 9)" if i % 5 == 3 else None
                )
        _open_store_clear()
        cold, warm, _ = time_view("views/runs.py", {}, args.repeats)
        report(f"Runs ({args.history:,} runs in the store)", cold, warm)

        if not args.no_browser:
            browser_compare(home, "bench")
    return 0


def _open_store_clear() -> None:
    """The app caches its Store per home; a new $GRADCLINIC_HOME needs no clearing, but be explicit."""
    try:
        from app import ui

        ui._open_store.clear()
    except Exception:  # noqa: BLE001 - only a cache hint
        pass


if __name__ == "__main__":
    raise SystemExit(main())
