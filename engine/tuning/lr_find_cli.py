"""``gradclinic lr-find RECIPE``: the learning-rate range test from the command line.

Thin, like the rest of the CLI: check the input, ramp each seed (the training
side, imported only once the input is valid), keep the result beside the run
store for the dashboard and the remedies, print it. Progress goes to stderr as
``lr-find: seed I/N step S/STEPS`` lines, which the dashboard's job reads; with
``--json`` stdout holds the one JSON object and nothing else.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from engine.tuning import lr_find

PROGRESS_PREFIX = "lr-find: seed "


def cmd_lr_find(args: argparse.Namespace) -> int:
    """Run the range test on ``args.recipe`` (with ``--set``), cache it, print it; 0 when it ran."""
    from engine.cli import _recipe
    from engine.store import default_home

    lr_find.check_settings(args.seeds, args.steps, args.start, args.end)  # RecipeError: exit 2, before torch loads
    recipe = _recipe(args)
    import torch

    from engine.training import lr_range  # torch is imported only once the input is valid

    # One thread, as a worker on a CPU has (engine.worker): the lessons' small models gain little from
    # a second, and the ramp's arithmetic, so its suggestion, is then the same at any core count.
    torch.set_num_threads(1)
    result = lr_range.range_test(recipe, args.seeds, args.steps, args.start, args.end, progress=_progress(args.seeds))
    lr_find.save(args.home or default_home(), result)
    if args.json:
        sys.stdout.write(json.dumps(result.to_dict(), allow_nan=False) + "\n")
    else:
        print(result.describe())
        for c in result.per_seed:
            stop = f"diverged at {c.stopped_at:g}" if c.stopped_at is not None else "did not diverge"
            sugg = "none" if c.suggestion is None else f"{c.suggestion:g}"
            print(f"  seed {c.seed}: suggests {sugg}; lowest loss at {c.min_loss_lr}; {stop}")
        print(f"({result.seconds:.1f}s; use it: --set train.lr={result.suggestion})" if result.suggestion else "")
    return 0


def _progress(seeds: int) -> Callable[[int, int, int], None]:
    def report(i: int, step: int, steps: int) -> None:
        sys.stderr.write(f"{PROGRESS_PREFIX}{i + 1}/{seeds} step {step}/{steps}\n")
        sys.stderr.flush()

    return report


def parse_progress(line: str) -> tuple[int, int, int, int] | None:
    """(seed number from 1, seeds, step, steps) from one progress line on stderr, or None for any other line."""
    if not line.startswith(PROGRESS_PREFIX):
        return None
    try:
        seed_part, step_part = line[len(PROGRESS_PREFIX) :].split(" step ")
        i, n = (int(x) for x in seed_part.split("/"))
        step, steps = (int(x) for x in step_part.split("/"))
    except ValueError:
        return None
    return i, n, step, steps


def register(add: Callable[..., Any]) -> None:
    """Add ``lr-find`` to the CLI: ``add`` is :func:`engine.cli.build_parser`'s subcommand helper."""
    p = add("lr-find", cmd_lr_find, "learning-rate range test: ramp the rate until the loss diverges, suggest a band")
    p.add_argument("recipe", help="a recipe file, a built-in recipe's name, or custom (the defaults)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key")
    p.add_argument(
        "--seeds", type=int, default=lr_find.DEFAULT_SEEDS, help="seeds seed..seed+N-1 (default 3): the band"
    )
    p.add_argument(
        "--steps",
        type=int,
        default=lr_find.DEFAULT_STEPS,
        help=f"ramp length in steps ({lr_find.MIN_STEPS} to {lr_find.MAX_STEPS}, default {lr_find.DEFAULT_STEPS})",
    )
    p.add_argument("--start", type=float, default=lr_find.DEFAULT_START, help="first rate (default 1e-6)")
    p.add_argument("--end", type=float, default=lr_find.DEFAULT_END, help="last rate (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout and nothing else")
