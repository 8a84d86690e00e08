"""``gradclinic sweep RECIPE --space KEY=SPEC ...``: a hyperparameter search over real runs.

Thin, like the rest of the CLI: read the flags over the recipe's ``sweep:`` block,
check the whole sweep (exit 2 naming the key at fault, before anything is written),
run it, print one line per finished trial on stderr and the result on stdout
(``--json``: one object with the best params and value, trial counts by status,
importances and every trial).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from engine.config.errors import RecipeError
from engine.config.sweep import EXECUTORS, PRUNERS, SAMPLERS, SweepSpec

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # a --name: also the run group and the study's name


def spec_from_args(args: argparse.Namespace, block: SweepSpec | None) -> SweepSpec:
    """The recipe's ``sweep:`` block with every flag given on the command line laid over it."""
    data: dict[str, Any] = block.model_dump() if block is not None else {}
    if args.space:
        from engine.config.sweep import parse_space

        parse_space(args.space)  # the grammar first: an error names the key
        data["space"] = {key.strip(): spec for key, _, spec in (s.partition("=") for s in args.space)}
    for key in ("sampler", "trials", "pruner", "parallel", "metric"):
        value = getattr(args, key)
        if value is not None:
            data[key] = value
    from pydantic import ValidationError

    from engine.config.errors import format_errors

    try:
        return SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(format_errors(exc, root=SweepSpec).replace("\n", "; ")) from None


def cmd_sweep(args: argparse.Namespace) -> int:
    """Check, run and report one sweep; 0 when it ran to the end."""
    from engine.cli import _recipe, _store
    from engine.tuning import executors, results
    from engine.tuning.sweep import Sweep, format_params, plan

    recipe = _recipe(args)
    checked = plan(recipe, spec_from_args(args, recipe.sweep))
    executor = executors.make(args.executor, checked.spec.parallel)
    store = _store(args)
    echo = None if args.quiet else _echo
    if args.name is not None and (not NAME.fullmatch(args.name) or args.name in results.names(store)):
        raise RecipeError(f"--name: {args.name!r} is taken or not a name (letters, digits, - and _; at most 64)")
    sweep = Sweep(store, checked, executor, echo=echo, executor_name=args.executor, name=args.name)
    sys.stderr.write(
        f"gradclinic: sweep {sweep.group}: {checked.trials} trials of {recipe.name}, {checked.spec.sampler} sampler, "
        f"{checked.spec.pruner} pruner, {checked.direction} {checked.metric}, {executor.slots} at a time\n"
    )
    sweep.run()
    result = results.load(store, sweep.group)
    if args.json:
        sys.stdout.write(json.dumps(result.summary(), default=str, allow_nan=False) + "\n")
        return 0
    best, counts = result.best(), result.counts()
    print(f"sweep {sweep.group}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    if best is None:
        print("  no trial finished with a value")
    else:
        print(f"  best: {result.metric}={best['value']:.4g} (trial {best['trial']}, run {best['run_id']})")
        print(f"        {format_params(best['params'])}")
    for key, share in result.importances().items():
        print(f"  importance {key}: {share:.2f}")
    return 0


def _echo(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def register(add) -> None:
    """Add ``sweep`` to the CLI's parser (``add`` is :func:`engine.cli.build_parser`'s helper)."""
    p = add("sweep", cmd_sweep, "search hyperparameters: every trial a real run, the sweep their run group")
    p.add_argument("recipe", help="a recipe file, a built-in recipe's name, or custom (the defaults)")
    p.add_argument(
        "--space",
        action="append",
        default=[],
        metavar="KEY=SPEC",
        help="a key to search: loguniform(1e-4,1), float(0,0.5), int(16,256), intlog(8,512) or choice(relu,tanh)",
    )
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key")
    p.add_argument("--sampler", choices=SAMPLERS, help="how trials are chosen (default tpe)")
    p.add_argument("--trials", type=int, help="how many trials (default 20; a grid runs at most its cells)")
    p.add_argument("--pruner", choices=PRUNERS, help="stop trials that lag at an evaluation (default median)")
    p.add_argument("--parallel", type=int, help="trials at a time (default 1)")
    p.add_argument("--metric", help="what to optimise (default: val_accuracy, or val_loss, or the model's own)")
    p.add_argument("--executor", choices=EXECUTORS, default="local", help="where trials train (default local)")
    p.add_argument("--name", help="the sweep's id (default sweep-<6 hex>): a caller that must know it up front")
    p.add_argument("--quiet", action="store_true", help="no line per trial on stderr")
    p.add_argument("--json", action="store_true", help="print one JSON result on stdout")
