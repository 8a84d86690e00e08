"""``gradclinic compress RUN``: pruned, int8 and distilled variants of a trained run, each a run.

Thin, like the rest of the CLI: the flags are checked first (:func:`engine.control.compress.plan`:
exit 2 with one line naming the flag, before torch loads and before any row exists), then the
variants are made and measured in this process (:mod:`engine.training.compress.run`), one line
each on stderr, and the table (or ``--json``) printed. With ``--json`` (the dashboard's
:mod:`engine.control.compress_job` reads it) the stderr lines are countable progress instead:
``compress: progress 3/7 prune 80%``, the total known from the plan before the first variant.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from engine.config.recipe import Recipe
from engine.control import compress, compress_job, sources


def cmd_compress(args: argparse.Namespace) -> int:
    """Compress ``args.run``; 0 when every asked variant was made."""
    from engine.cli import EXIT_OK, _print_json, _store

    store = _store(args)
    run_id = store.resolve(args.run)
    run = store.get_run(run_id)
    has_weights = sources.saved_weights(store.home, run_id).is_file()
    plan = compress.plan(
        run,
        prune=args.prune,
        structured=args.structured,
        finetune=args.finetune,
        quantize=args.quantize,
        distill=args.distill,
        has_weights=has_weights,
    )
    import torch

    from engine.training.compress.run import compress as run_compress

    torch.set_num_threads(1)  # as a worker: latencies compare on one core, and results match any core count
    progress: Callable[[str, dict[str, Any]], None] | None = None
    if args.json and not args.quiet:
        progress = _Counted(compress.expected_variants(plan, Recipe.from_dict(run["recipe"]).model.arch))
    elif not args.quiet:
        progress = _progress
    result = run_compress(store, plan, progress=progress)
    if args.json:
        _print_json(result)
    else:
        print_result(result)
    return EXIT_OK


def _progress(name: str, entry: dict[str, Any]) -> None:
    metric = next((k for k in ("val_accuracy", "val_mse") if k in entry), None)
    value = entry.get(metric) if metric else None
    said = entry["what"] if value is None else f"{metric} {value:.4g}"
    sys.stderr.write(f"compress: {name}: {said}\n")
    sys.stderr.flush()


class _Counted:
    """``--json``'s progress: a countable line per finished variant (the first line, 0 of N, at once)."""

    def __init__(self, total: int):
        self.done, self.total = 0, total
        self._write("loading the run's weights")

    def __call__(self, name: str, entry: dict[str, Any]) -> None:
        self.done += 1
        self._write(name)

    def _write(self, stage: str) -> None:
        # A count past the plan's total would be a bug in expected_variants; the bar then stays full.
        sys.stderr.write(compress_job.progress_line(self.done, max(self.total, self.done), stage))
        sys.stderr.flush()


def _bytes(n: Any) -> str:
    if n is None:
        return "-"
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def _f(x: Any, fmt: str = ".4f") -> str:
    return "-" if x is None else format(x, fmt)


def print_result(r: dict[str, Any]) -> None:
    """One line per variant: the metric and its change, nonzero weights, size and latency against dense."""
    d = r["dense"]
    print(
        f"run {r['run']} -> group {r['group']} ({r['metric']} on the validation rows; latency: median of "
        f"{d['latency_repeats']} passes of {d['latency_rows']} rows on {d['threads']} CPU thread(s))"
    )
    print(f"  {'variant':<40} {r['metric']:>12} {'change':>8} {'nonzero':>9} {'size':>10} {'x':>5} {'ms':>7} {'x':>5}")
    for v in r["variants"]:
        if v.get("applied") is False:
            print(f"  {v['name']:<40} {v['what']}")
            continue
        vs = v["vs_dense"]
        change = "-" if v["kind"] == "dense" or vs["metric_change"] is None else f"{vs['metric_change']:+.4f}"
        print(
            f"  {v['name']:<40} {_f(v.get(r['metric'])):>12} {change:>8} {v['nonzero_params']:>9,} "
            f"{_bytes(v['size_bytes']):>10} {vs['size_ratio']:>5.2f} "
            f"{v['latency_ms']:>7.3f} {vs['latency_ratio']:>5.2f}"
        )
        if "size_csr_bytes" in v:
            print(f"  {'':<40} {'':>12} {'':>8} {'as CSR':>9} {_bytes(v['size_csr_bytes']):>10}")
        if "pruning" in v:
            zeros = ", ".join(f"{name} {share:.0%}" for name, share in v["pruning"]["layers"].items())
            print(f"    zeros by layer: {zeros}")
    print("  (x: times smaller, times faster than dense; below 1 is larger or slower)")


def register(add) -> None:
    """Add ``compress`` to the CLI's parser (``add`` is :func:`engine.cli.build_parser`'s helper)."""
    p = add("compress", cmd_compress, "smaller, faster variants of a trained run: pruning, int8, distillation")
    p.add_argument("run", help="run id (or a unique prefix, or its name)")
    p.add_argument("--prune", metavar="LEVELS", help="shares of weights to remove, e.g. 0.5,0.8,0.9")
    p.add_argument(
        "--structured", action="store_true", help="remove whole units (Linear rows) or channels (Conv2d) instead"
    )
    p.add_argument(
        "--finetune",
        type=int,
        metavar="STEPS",
        help=f"train each pruned copy this many steps (1 to {compress.MAX_FINETUNE})",
    )
    p.add_argument("--quantize", metavar="int8", help="post-training int8 (dynamic; static too for a CNN)")
    p.add_argument(
        "--distill",
        metavar="STUDENT_OVERRIDES",
        help="train a student (the run's recipe with these overrides, e.g. model.width=16,model.depth=2) "
        "from the run's outputs, and the same student on the labels alone",
    )
    p.add_argument("--quiet", action="store_true", help="no line per variant on stderr")
    p.add_argument("--json", action="store_true", help="print one JSON result on stdout")
