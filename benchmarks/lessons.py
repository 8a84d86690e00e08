"""Every lesson recipe, all its variants, in-process: what each shows and how long it takes.

    python benchmarks/lessons.py                      # every recipe with lesson text and a compare: block
    python benchmarks/lessons.py vanishing-sigmoid batch-norm
    python benchmarks/lessons.py --fixed-probes       # the probe intervals the lesson tests use
    python benchmarks/lessons.py --detail             # also the per-variant table

Lessons are found automatically (``Recipe.is_lesson``). The goal is each
lesson, baseline plus every variant, in at most 60 s on 2 CPU cores; the
table marks any that take longer. Runs go to a temporary store.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.control.lessons import fixed_probes, lesson_names, run_lesson  # noqa: E402
from engine.store import Store  # noqa: E402

GOAL_S = 60.0


def _fmt(metric: str, x) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if metric == "val_accuracy" else f"{x:.4f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("lessons", nargs="*", help="lesson names (default: every lesson recipe)")
    p.add_argument("--fixed-probes", action="store_true", help="fixed probe intervals, as in the lesson tests")
    p.add_argument("--detail", action="store_true", help="print every variant's numbers too")
    args = p.parse_args(argv)
    names = args.lessons or lesson_names()
    unknown = [n for n in names if n not in lesson_names()]
    if unknown:
        print(f"not lesson recipes: {', '.join(unknown)}; lessons: {', '.join(lesson_names())}", file=sys.stderr)
        return 2
    rows = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as home:
        store = Store(home)
        for name in names:
            res = run_lesson(name, store, overrides=fixed_probes() if args.fixed_probes else None)
            base, best = res.baseline, res.best_remedy()
            rows.append(
                (
                    name,
                    base.metric,
                    base.status,
                    base.final,
                    best.label,
                    best.final,
                    ",".join(sorted(base.findings)) or "-",
                    res.seconds,
                    len(res.variants),
                )
            )
            if args.detail:
                print(f"\n{name} ({res.seconds:.1f}s)\n{res.table()}", flush=True)
            else:
                print(f"{name}: {res.seconds:.1f}s", file=sys.stderr, flush=True)
    header = ("lesson", "metric", "baseline", "best remedy", "its metric", "findings on baseline", "runs", "wall s")
    table = [header] + [
        (
            n,
            m.replace("val_", ""),
            f"{_fmt(m, bf)} ({st})" if st != "completed" else _fmt(m, bf),
            bl[:34],
            _fmt(m, rf),
            fd,
            str(k),
            f"{s:.1f}" + (" !" if s > GOAL_S else ""),
        )
        for n, m, st, bf, bl, rf, fd, s, k in rows
    ]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print()
    for i, r in enumerate(table):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    slow = [r[0] for r in rows if r[7] > GOAL_S]
    print(
        f"\n{len(rows)} lessons in {time.perf_counter() - t0:.0f}s; goal ≤ {GOAL_S:.0f}s each"
        + (f"; over the goal: {', '.join(slow)}" if slow else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
