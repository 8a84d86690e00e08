"""The two ensemble lessons at seeds 0-4: the numbers the README and the lesson texts quote.

    python benchmarks/ensembles.py                              # both lessons, seeds 0 1 2 3 4
    python benchmarks/ensembles.py --seeds 0 1 2 --lessons ensemble-boosting

Per seed: one net (the recipe without its ``ensemble:`` block, trained on all its training
rows), the ensemble with 1..N members, its best member, and how long the ensemble and the
one net took together. Then mean, range and
standard deviation over the seeds. Everything trains on one torch thread into a temporary store.
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
from engine.store import Store  # noqa: E402

LESSONS = ("ensemble-bagging", "ensemble-boosting")


def spread(values: list[float]) -> str:
    """``mean (min-max), sd`` of ``values``."""
    return f"{statistics.mean(values):.3f} ({min(values):.3f}-{max(values):.3f}), sd {statistics.stdev(values):.4f}"


def lesson(name: str, seeds: list[int]) -> None:
    from engine.training.ensemble import against_one_net

    ones, finals = [], []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        for seed in seeds:
            t = time.perf_counter()
            s, one = against_one_net(store, load_recipe(name, [f"seed={seed}"]))
            seconds = time.perf_counter() - t
            ones.append(one)
            finals.append(s["final"])
            curve = " ".join(f"{c['value']:.3f}" for c in s["curve"])
            print(
                f"{name} seed {seed}: one net {one:.3f}; ensemble by members {curve}; best member "
                f"{s['best_member']:.3f}; {seconds:.0f} s for the ensemble and the one net",
                flush=True,
            )
    wins = sum(f > o for f, o in zip(finals, ones))
    print(f"{name}: one net {spread(ones)}; ensemble {spread(finals)}; ensemble above one net at {wins}/{len(seeds)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--lessons", nargs="+", default=list(LESSONS), choices=LESSONS)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    logging.disable(logging.WARNING)
    for name in args.lessons:
        lesson(name, args.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
