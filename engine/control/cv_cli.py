"""``gradclinic cv RECIPE --folds K`` and ``compare --cv K``: k-fold cross-validation from the command line.

Thin, like the rest of the CLI: check the folds and the first split (exit 2 with one line naming
``--folds`` or ``data.fold`` before anything is queued), queue one run per fold (per variant) as
one group, wait for it, print the per-fold table with mean, std and 95% interval, and for
``compare --cv`` each remedy's paired difference from the baseline on the same folds.
"""

from __future__ import annotations

import argparse
from typing import Any

from engine.control import cv


def cmd_cv(args: argparse.Namespace) -> int:
    """Cross-validate ``args.recipe``; with ``variants`` (compare --cv), every variant on the same folds."""
    return run(args, [("baseline", {})])


def run(args: argparse.Namespace, variants: list[tuple[str, dict]]) -> int:
    """Queue ``variants`` on every fold of ``args``' split, wait, and print (or ``--json``) the summary."""
    from engine.cli import EXIT_OK, _print_json, _recipe, _store, wait_for_group

    specs = cv.fold_specs(args.folds, args.stratified, args.repeats)
    recipe = _recipe(args)
    store = _store(args)
    group = cv.launch(store, recipe, specs, variants)
    summary = wait_for_group(store, lambda: cv.summarize(store, group))
    if args.json:
        _print_json(summary)
    else:
        print_summary(summary)
    return EXIT_OK


def _f(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def print_summary(summary: dict[str, Any]) -> None:
    """The per-fold table, then one line per variant: mean ± std, the 95% interval, the paired change."""
    kind = "stratified " if summary["stratified"] else ""
    reps = f", {summary['repeats']} repeats" if summary["repeats"] > 1 else ""
    print(f"group {summary['group']}  ({summary['metric']}, {kind}{summary['folds']}-fold{reps})")
    for v in summary["variants"]:
        folds = "  ".join(f"{x['fold']}: {_f(x['value'])}" for x in v["folds"])
        print(f"  {v['label']}")
        print(f"    {folds}")
        ci = v["ci"]
        interval = "" if ci is None else f"  95% CI {ci['low']:.4g} to {ci['high']:.4g}"
        line = f"    mean {_f(v['mean'])} ± {_f(v['std'])} (min {_f(v['min'])}, max {_f(v['max'])}){interval}"
        paired = v["paired_vs_baseline"]
        if paired and paired["mean"] is not None:
            pci = paired["ci"]
            noise = "" if pci is None else f" [95% CI {pci['low']:+.3g} to {pci['high']:+.3g}]"
            verdict = "" if pci is None else ("  beyond fold noise" if pci["excludes_zero"] else "  within fold noise")
            line += f"\n    paired change vs {summary['baseline']}: {paired['mean']:+.4g}{noise}{verdict}"
        print(line)


def add_fold_flags(p: argparse.ArgumentParser, flag: str) -> None:
    """The split's flags: ``flag`` (``--folds`` or ``--cv``) K, ``--stratified``, ``--repeats R``."""
    p.add_argument(flag, dest="folds", type=int, metavar="K", help="k-fold cross-validation with K folds (2 to 20)")
    p.add_argument("--stratified", action="store_true", help="keep each class's share in every fold")
    p.add_argument("--repeats", type=int, default=1, metavar="R", help="repeat the k-fold split R times (1 to 10)")


def register(add) -> None:
    """Add ``cv`` to the CLI's parser (``add`` is :func:`engine.cli.build_parser`'s helper)."""
    p = add("cv", cmd_cv, "k-fold cross-validation: one run per fold, the metric's mean, std and 95 percent interval")
    p.add_argument("recipe", help="a recipe file, a built-in recipe's name, or custom (the defaults)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key")
    add_fold_flags(p, "--folds")
    p.set_defaults(folds=5)
    p.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
