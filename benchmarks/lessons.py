"""Every lesson recipe, all its variants, in-process: what each shows and how long it takes.

    python benchmarks/lessons.py                      # every recipe with lesson text and a compare: block
    python benchmarks/lessons.py vanishing-sigmoid batch-norm
    python benchmarks/lessons.py --fixed-probes       # the probe intervals the lesson tests use
    python benchmarks/lessons.py --detail             # also the per-variant table
    python benchmarks/lessons.py --seeds 0 1 2        # each lesson at each seed: mean and spread

Lessons are found automatically (``Recipe.is_lesson``). The goal is each
lesson, baseline plus every variant, in at most 60 s on 2 CPU cores; the
table marks any that take longer. Runs go to a temporary store.

With ``--seeds`` every lesson runs once per seed, and the table gives the
baseline's headline metric and the key variant's as mean and spread
(min-max) over the seeds. The key variant is the one with the best mean
headline over the seeds, so it is the same run at every seed; a diverged
run has no metric and is counted instead.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.control.lessons import LessonResult, fixed_probes, lesson_names, run_lesson  # noqa: E402
from engine.store import Store  # noqa: E402

GOAL_S = 60.0


def _fmt(metric: str, x) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if metric == "val_accuracy" else f"{x:.4f}"


def _spread(metric: str, values: list[float | None]) -> str:
    """``mean (min-max)`` of the finite values, and how many runs had none (diverged)."""
    got = [v for v in values if v is not None]
    text = "-" if not got else _fmt(metric, statistics.fmean(got))
    if len(got) > 1:
        text += f" ({_fmt(metric, min(got))}-{_fmt(metric, max(got))})"
    if len(got) < len(values):
        text += f" [{len(values) - len(got)}/{len(values)} diverged]"
    return text


def _key_variant(results: list[LessonResult]) -> str:
    """The variant label with the best mean final headline over ``results`` (one lesson, several seeds)."""
    first = results[0]
    sign = 1 if first.baseline.higher_is_better else -1
    labels = [k for k in first.variants if k != "baseline"]

    def score(label: str) -> float:
        finals = [r[label].final for r in results if r[label].final is not None]
        return sign * statistics.fmean(finals) if finals else float("-inf")

    return max(labels, key=score)


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    table = [header, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    print()
    for i, r in enumerate(table):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def one_seed(names: list[str], overrides: dict | None, detail: bool) -> list[float]:
    """Each lesson at its recipe's seed: baseline, best remedy, findings. Returns the seconds per lesson."""
    rows, seconds = [], []
    with tempfile.TemporaryDirectory() as home:
        store = Store(home)
        for name in names:
            res = run_lesson(name, store, overrides=overrides)
            base, best = res.baseline, res.best_remedy()
            m = base.metric
            seconds.append(res.seconds)
            rows.append(
                (
                    name,
                    m.replace("val_", ""),
                    _fmt(m, base.final) + (f" ({base.status})" if base.status != "completed" else ""),
                    best.label[:34],
                    _fmt(m, best.final),
                    ",".join(sorted(base.findings)) or "-",
                    str(len(res.variants)),
                    f"{res.seconds:.1f}" + (" !" if res.seconds > GOAL_S else ""),
                )
            )
            if detail:
                print(f"\n{name} ({res.seconds:.1f}s)\n{res.table()}", flush=True)
            else:
                print(f"{name}: {res.seconds:.1f}s", file=sys.stderr, flush=True)
    header = ("lesson", "metric", "baseline", "best remedy", "its metric", "findings on baseline", "runs", "wall s")
    _print_table(header, rows)
    return seconds


def over_seeds(names: list[str], seeds: list[int], overrides: dict | None, detail: bool) -> list[float]:
    """Each lesson at each seed: baseline and key variant as mean (min-max). Returns the slowest seed's
    seconds per lesson."""
    rows, seconds = [], []
    for name in names:
        results = []
        for seed in seeds:
            with tempfile.TemporaryDirectory() as home:
                res = run_lesson(name, Store(home), overrides={**(overrides or {}), "seed": seed})
            results.append(res)
            if detail:
                print(f"\n{name} seed {seed} ({res.seconds:.1f}s)\n{res.table()}", flush=True)
            else:
                print(f"{name} seed {seed}: {res.seconds:.1f}s", file=sys.stderr, flush=True)
        key = _key_variant(results)
        m = results[0].baseline.metric
        times = [r.seconds for r in results]
        seconds.append(max(times))
        rows.append(
            (
                name,
                m.replace("val_", ""),
                _spread(m, [r.baseline.final for r in results]),
                key[:34],
                _spread(m, [r[key].final for r in results]),
                f"{statistics.fmean(times):.1f}",
                f"{max(times):.1f}" + (" !" if max(times) > GOAL_S else ""),
            )
        )
    seeds_text = ", ".join(map(str, seeds))
    header = ("lesson", "metric", f"baseline, seeds {seeds_text}", "key variant", "its metric", "mean s", "max s")
    _print_table(header, rows)
    return seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("lessons", nargs="*", help="lesson names (default: every lesson recipe)")
    p.add_argument("--fixed-probes", action="store_true", help="fixed probe intervals, as in the lesson tests")
    p.add_argument("--detail", action="store_true", help="print every variant's numbers too")
    p.add_argument("--seeds", nargs="+", type=int, metavar="SEED", help="run every lesson at each seed")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    args = p.parse_args(argv)
    names = args.lessons or lesson_names()
    unknown = [n for n in names if n not in lesson_names()]
    if unknown:
        print(f"not lesson recipes: {', '.join(unknown)}; lessons: {', '.join(lesson_names())}", file=sys.stderr)
        return 2
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    overrides = fixed_probes() if args.fixed_probes else None
    t0 = time.perf_counter()
    if args.seeds:
        seconds = over_seeds(names, args.seeds, overrides, args.detail)
    else:
        seconds = one_seed(names, overrides, args.detail)
    slow = [n for n, s in zip(names, seconds) if s > GOAL_S]
    print(
        f"\n{len(names)} lessons in {time.perf_counter() - t0:.0f}s; goal ≤ {GOAL_S:.0f}s each"
        + (" at every seed" if args.seeds else "")
        + (f"; over the goal: {', '.join(slow)}" if slow else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
