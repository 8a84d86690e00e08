"""``gradclinic ensemble RECIPE``: bagging or boosting from the command line, every member a run.

Thin, like the rest of the CLI: check the flags and what may be ensembled (exit 2 with one line
naming the key, before anything trains), train the members in this process, then print the
ensemble's metric against members (or ``--json``). Progress goes to stderr, one line a member.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engine.config.ensemble import METHODS
from engine.control import ensemble


def cmd_ensemble(args: argparse.Namespace) -> int:
    """Train the ensemble ``args`` describe; 0 when it trained."""
    from engine.cli import EXIT_OK, _print_json, _recipe, _store

    recipe = _recipe(args)
    spec = ensemble.spec_of(recipe, args.method, args.members)
    from engine import datasets

    data = datasets.prepare(ensemble.member_recipe(recipe, spec, 0).data, recipe.seed)
    ensemble.check(recipe, spec, data.task, data.target_len)  # before torch is imported
    import torch

    from engine.training.ensemble import train_ensemble

    torch.set_num_threads(1)  # as a worker on a CPU: the members are small, and results match any core count
    store = _store(args)
    group = train_ensemble(store, recipe, spec, progress=None if args.quiet else _progress)
    summary = ensemble.summarize(store, group)
    if args.json:
        _print_json(summary)
    else:
        print_summary(summary)
    return EXIT_OK


def _progress(m: int, n: int, payload: dict) -> None:
    value = payload["value"]
    sys.stderr.write(
        f"ensemble: member {m + 1}/{n} trained; {payload['metric']} with {m + 1}: "
        f"{'-' if value is None else f'{value:.4g}'}\n"
    )
    sys.stderr.flush()


def _f(x: Any) -> str:
    return "-" if x is None else f"{x:.4g}"


def print_summary(s: dict[str, Any]) -> None:
    """The metric against members, then the single net, the ensemble and the best member."""
    print(f"group {s['group']}  ({s['method']}, {s['trained']} of {s['members']} members, {s['metric']})")
    print(f"  {'members':>7}  {'ensemble':>9}  {'this member':>11}")
    for c in s["curve"]:
        extra = f"  alpha {c['alpha']:.3g}" if c.get("alpha") is not None else ""
        print(f"  {c['members']:>7}  {_f(c['value']):>9}  {_f(c['member_value']):>11}{extra}")
    print(f"  one net {_f(s['single'])}, ensemble {_f(s['final'])}, best member {_f(s['best_member'])}")
    for f in s["diagnosis"]:
        print(f"  {f['code'].replace('_', ' ')}: {f['message']}")
    if s["member_findings"]:
        print("  members' findings: " + ", ".join(f"{k} ({v})" for k, v in s["member_findings"].items()))


def register(add) -> None:
    """Add ``ensemble`` to the CLI's parser (``add`` is :func:`engine.cli.build_parser`'s helper)."""
    p = add("ensemble", cmd_ensemble, "bagging or boosting: train N networks, each a run, and combine them")
    p.add_argument("recipe", help="a recipe file, a built-in recipe's name, or custom (the defaults)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key")
    p.add_argument("--method", choices=METHODS, help="bagging (bootstrap samples, averaged) or boosting (SAMME)")
    p.add_argument("--members", type=int, help="networks in the ensemble (2 to 32; default the recipe's, else 5)")
    p.add_argument("--quiet", action="store_true", help="no line per member on stderr")
    p.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
