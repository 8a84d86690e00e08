"""Run-store speed: ingest through ``Store.flush`` and incremental reads of a big run.

    python benchmarks/store.py            # full sizes (builds a 1,000,000-step x 20-layer run, ~2 min)
    python benchmarks/store.py --quick    # smaller sizes, a few seconds

Goals (DESIGN.md, "Performance design"): one writer ingests >= 200k layer-stat
values/s; reading the last 1,000 steps of a 1,000,000-step x 20-layer run takes
<= 50 ms. A value is one statistic of one layer at one step (a "row" in the
issue's words; since store schema 2 one SQLite row holds a step's values for
every layer). The baseline is a naive per-step logger, measured in the same
run: one transaction per step and one ``execute`` per value into a
row-per-value table.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.store import Store

LAYERS = 20
STATS = ("grad_norm", "weight_norm", "update_ratio", "act_mean")
STEPS_PER_FLUSH = 50  # what a worker buffers between flushes: 50 x 20 x 4 = 4,000 values


def _batches(n_steps: int, steps_per_flush: int, stats=STATS, layers=LAYERS):
    rng = np.random.default_rng(0)
    for start in range(0, n_steps, steps_per_flush):
        steps = np.arange(start, min(start + steps_per_flush, n_steps))
        yield steps, {s: (steps, rng.random((len(steps), layers))) for s in stats}


def ingest(home: Path, n_steps: int, start_at: float | None = None) -> tuple[float, float, int]:
    """Flush ``n_steps`` steps into a new run; returns (t_start, t_end, layer-stat values)."""
    with Store(home) as store:
        run = store.create_run({"name": "bench"})
        batches = list(_batches(n_steps, STEPS_PER_FLUSH))  # build the arrays before the clock starts
        if start_at is not None:
            time.sleep(max(0.0, start_at - time.time()))
        t0 = time.perf_counter(), time.time()
        for steps, stats in batches:
            store.flush(run, scalars=[(int(s), "train_loss", 1.0) for s in steps], layer_stats=stats)
        elapsed = time.perf_counter() - t0[0]
    return t0[1], t0[1] + elapsed, n_steps * LAYERS * len(STATS)


def naive_ingest(home: Path, n_steps: int) -> float:
    """Baseline, a naive per-step logger: one transaction per step, one ``execute`` per value. Values/s."""
    with Store(home) as store:
        with store._write() as c:  # a row per value, keyed like the store's tables
            c.execute(
                "CREATE TABLE naive (run INTEGER, stat INTEGER, step INTEGER, layer INTEGER, value REAL,"
                " PRIMARY KEY (run, stat, step, layer)) WITHOUT ROWID"
            )
        values = np.random.default_rng(0).random((n_steps, LAYERS))
        t0 = time.perf_counter()
        for step in range(n_steps):
            with store._write() as c:
                for layer in range(LAYERS):
                    c.execute(
                        "INSERT INTO naive VALUES (?, ?, ?, ?, ?)", (1, 1, step, layer, float(values[step, layer]))
                    )
        return n_steps * LAYERS / (time.perf_counter() - t0)


def concurrent_ingest(root: Path, writers: int, n_steps: int) -> float:
    """Aggregate values/s of ``writers`` processes flushing into one store at the same time."""
    home = root / f"w{writers}-{time.monotonic_ns()}"
    Store(home).close()
    start_at = time.time() + 2.0  # let every process import and build its batches first
    with mp.get_context("spawn").Pool(writers) as pool:
        spans = pool.starmap(ingest, [(home, n_steps, start_at)] * writers)
    return sum(r for _, _, r in spans) / (max(e for _, e, _ in spans) - min(s for s, _, _ in spans))


def build_big_run(home: Path, n_steps: int) -> str:
    """A run with ``n_steps`` steps x 20 layers of grad_norm, plus train_loss, flushed in large batches."""
    with Store(home) as store:
        run = store.create_run({"name": "big"}, total_steps=n_steps)
        store.set_layers(run, [(f"layers.{i}", "linear") for i in range(LAYERS)], [])
        for steps, stats in _batches(n_steps, 10_000, stats=("grad_norm",)):
            store.flush(run, scalars=[(s, "train_loss", 1.0) for s in steps.tolist()], layer_stats=stats)
    return run


def time_reads(home: Path, run: str, n_steps: int, repeats: int = 9) -> dict[str, float]:
    """Median seconds of each incremental read of the last 1,000 steps, from a fresh Store (as the app)."""
    since = n_steps - 1001
    reads = {
        "layer_matrix(grad_norm, last 1,000 steps)": lambda s: s.layer_matrix(run, "grad_norm", since_step=since),
        "layer_stats(grad_norm, last 1,000 steps)": lambda s: s.layer_stats(run, "grad_norm", since_step=since),
        "scalars(last 1,000 steps)": lambda s: s.scalars(run, since_step=since),
    }
    out = {}
    with Store(home) as store:
        steps, _, values = store.layer_matrix(run, "grad_norm", since_step=since)
        assert values.shape == (1000, LAYERS) and steps[-1] == n_steps - 1, values.shape
        for label, read in reads.items():
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                read(store)
                times.append(time.perf_counter() - t0)
            out[label] = statistics.median(times)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a few seconds)")
    args = parser.parse_args()
    ingest_steps = 2_500 if args.quick else 12_500  # x 20 layers x 4 stats = 200k / 1M values
    big_steps = 100_000 if args.quick else 1_000_000
    rows = []
    with tempfile.TemporaryDirectory(prefix="gradclinic-bench-") as tmp:
        root = Path(tmp)
        base = naive_ingest(root / "naive", ingest_steps // 5)
        one = statistics.median(
            (lambda s: s[2] / (s[1] - s[0]))(ingest(root / f"one{i}", ingest_steps)) for i in range(3)
        )
        four = statistics.median(concurrent_ingest(root, 4, ingest_steps // 2) for _ in range(3))
        rows += [
            ("ingest, naive per-step logger (baseline)", f"{base / 1e3:,.0f}k values/s", "", "1.0x"),
            ("ingest, Store.flush, 1 writer", f"{one / 1e3:,.0f}k values/s", ">= 200k values/s", f"{one / base:.1f}x"),
            (
                "ingest, Store.flush, 4 writer processes",
                f"{four / 1e3:,.0f}k values/s",
                "(aggregate)",
                f"{four / base:.1f}x",
            ),
        ]
        t0 = time.perf_counter()
        run = build_big_run(root / "big", big_steps)
        build = time.perf_counter() - t0
        rows.append(
            (
                f"build {big_steps:,} steps x {LAYERS} layers",
                f"{build:.1f} s",
                f"{big_steps * LAYERS / build / 1e3:,.0f}k values/s",
                "",
            )
        )
        size = sum(p.stat().st_size for p in (root / "big").glob("runs.db*"))
        for label, seconds in time_reads(root / "big", run, big_steps).items():
            rows.append((label, f"{seconds * 1e3:.1f} ms", "<= 50 ms", ""))
    width = max(len(r[0]) for r in rows)
    print(
        f"run store benchmark ({'quick' if args.quick else 'full'}; big run db {size / 2**20:,.0f} MiB; "
        f"medians of 3 ingests, 9 reads)"
    )
    print(f"{'measure':<{width}}  {'result':>16}  {'goal':>16}  {'vs baseline':>11}")
    for label, value, goal, ratio in rows:
        print(f"{label:<{width}}  {value:>16}  {goal:>16}  {ratio:>11}")


if __name__ == "__main__":
    main()
