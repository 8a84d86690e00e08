"""k-fold cross-validation: what it costs in-process, and the cv-one-split lesson's numbers.

    python benchmarks/cross_validation.py                      # timing (5-fold, overfitting-small-data)
    python benchmarks/cross_validation.py --lesson             # cv-one-split at seeds 0-4
    python benchmarks/cross_validation.py --recipe NAME --folds K --repeats N

Timing: a 5-fold CV (``engine.control.cv.run_inline``: five fold runs and the summary) against
its baseline in the same process, five plain runs of the same recipe, each on the recipe's own
validation split, trained the same way. The ratio is what the folds cost beyond the training
itself (splitting, the group, the summary); median of ``--repeats``. Everything trains on one
torch thread into a temporary store.

Lesson: per seed, the five folds' accuracies (each what a single 20% split would report), their
mean and 95% interval, and the single-split run the recipe makes without folds.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.config.recipe import load_recipe  # noqa: E402
from engine.control import cv  # noqa: E402
from engine.store import Store  # noqa: E402


def timing(recipe_name: str, folds: int, repeats: int) -> None:
    from engine.training import session

    recipe = load_recipe(recipe_name)
    specs = cv.fold_specs(folds, stratified=True)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        cv.run_inline(store, recipe, specs[:1])  # warm-up: imports, first-step costs
        cv_s, bare_s = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            group = cv.run_inline(store, recipe, specs)
            cv.summarize(store, group)
            cv_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            for _ in range(folds):
                run_id = store.create_run(recipe.to_dict(), total_steps=recipe.train.steps, status="running")
                session.train(store, run_id, session.prepare(recipe))
            bare_s.append(time.perf_counter() - t)
    cv_m, bare_m = statistics.median(cv_s), statistics.median(bare_s)
    print(f"{folds}-fold CV of {recipe_name} ({recipe.train.steps} steps a fold), in-process, median of {repeats}")
    print(f"  {folds}-fold CV (runs + summary): {cv_m:.1f} s  (min {min(cv_s):.1f}, max {max(cv_s):.1f})")
    print(f"  {folds} plain runs (baseline):     {bare_m:.1f} s  (min {min(bare_s):.1f}, max {max(bare_s):.1f})")
    print(f"  CV / baseline: {cv_m / bare_m:.2f}x")


def lesson(seeds: list[int]) -> None:
    means, singles, plain = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        for seed in seeds:
            recipe = load_recipe("cv-one-split", [f"seed={seed}"])
            v = cv.summarize(store, cv.run_inline(store, recipe, cv.fold_specs(5, stratified=True)))["variants"][0]
            values = [x["value"] for x in v["folds"]]
            from engine.training import session

            run_id = store.create_run(recipe.to_dict(), total_steps=recipe.train.steps, status="running")
            summary = session.train(store, run_id, session.prepare(recipe))
            plain.append(summary["final"]["val_accuracy"])
            means.append(v["mean"])
            singles += values
            ci = v["ci"]
            print(
                f"seed {seed}: folds {' '.join(f'{x:.3f}' for x in values)} (range {max(values) - min(values):.3f});"
                f" mean {v['mean']:.3f}, 95% CI {ci['low']:.3f}-{ci['high']:.3f}; single 20% split {plain[-1]:.3f}"
            )
    print(
        f"over seeds {seeds[0]}-{seeds[-1]}: single-fold estimates sd {statistics.stdev(singles):.4f}"
        f" (range {min(singles):.3f}-{max(singles):.3f}); plain single splits {min(plain):.3f}-{max(plain):.3f};"
        f" 5-fold means sd {statistics.stdev(means):.4f} (range {min(means):.3f}-{max(means):.3f})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lesson", action="store_true", help="the cv-one-split lesson's numbers instead")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--recipe", default="overfitting-small-data")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    logging.disable(logging.WARNING)
    if args.lesson:
        lesson(args.seeds)
    else:
        timing(args.recipe, args.folds, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
