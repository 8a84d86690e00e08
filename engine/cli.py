"""``gradclinic``: the command line. Thin: parse, call the engine, print.

Exit codes (DESIGN.md): 0 when a run ended (completed, early_stopped, pruned,
diverged or stopped); 2 when the recipe, an override or the data is
invalid (one message on stderr, no traceback); 1 for anything else.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.config import limits
from engine.config.errors import RecipeError, StoreError

EXIT_OK, EXIT_ERROR, EXIT_INVALID = 0, 1, 2


def _store(args):
    from engine.store import Store

    return Store(args.home)


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, default=str, allow_nan=False) + "\n")
    sys.stdout.flush()


def _recipe(args):
    """The recipe a command names, with its ``--set`` overrides.

    ``custom``, the name a recipe without one gets, means the built-in defaults: the Launch
    page's ``?recipe=custom`` setup (an uploaded CSV's) runs here exactly as the page prints it.
    """
    from engine.config.recipe import Recipe, list_recipe_names, load_recipe

    defaults = Recipe.model_fields["name"].default
    plain = args.recipe == defaults and defaults not in list_recipe_names() and not Path(args.recipe).exists()
    return load_recipe(None if plain else args.recipe, args.set)


# --- commands ------------------------------------------------------------------


def cmd_run(args) -> int:
    recipe = _recipe(args)
    from engine.control import budget

    # Refused (exit 2) before torch loads or a run row exists when it cannot fit in memory.
    sys.stderr.write(f"gradclinic: this run needs {budget.check_fits(recipe).summary()}\n")
    from engine.training import session  # torch is imported only once the recipe is valid

    store = _store(args)
    if args.nproc != 1:
        from engine.control import nproc

        nproc.check(recipe, args.nproc)
    prepared = session.prepare(recipe, store)  # bad data or model refused here, before any process starts
    run_id = store.create_run(recipe.to_dict(), name=args.name, total_steps=recipe.train.steps)
    if args.nproc != 1:
        return _run_across(store, run_id, args)
    interrupted = {"flag": False}

    def on_sigint(signum, frame):
        if interrupted["flag"]:
            raise KeyboardInterrupt
        interrupted["flag"] = True
        sys.stderr.write("\nstopping after this step (Ctrl-C again to abort)…\n")

    old = signal.signal(signal.SIGINT, on_sigint)
    bar = None
    if not args.json or sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(
            total=recipe.train.steps,
            desc=f"{recipe.name} [{run_id}]",
            unit="step",
            file=sys.stderr,
            disable=not sys.stderr.isatty() and args.json,
        )
    on_flush = _progress(bar) if bar is not None else None
    try:
        summary = session.train(store, run_id, prepared, on_flush=on_flush, stop_check=lambda: interrupted["flag"])
    finally:
        signal.signal(signal.SIGINT, old)
        if bar is not None:
            bar.close()
    if args.json:
        _print_json(summary)
    else:
        _print_summary(summary)
    return EXIT_OK


def _run_across(store, run_id: str, args) -> int:
    """``run --nproc N``: torchrun trains the run; its summary (or the crash) as ``run`` prints it."""
    from engine.control import nproc

    log = store.runs_dir(run_id) / "ranks.log"
    sys.stderr.write(f"gradclinic: run {run_id} on {args.nproc} processes (their output: {log})\n")
    code, summary = nproc.run(store, run_id, args.nproc, log)
    if summary is None:
        run = store.get_run(run_id)
        sys.stderr.write(f"gradclinic: run {run_id} {run['status']}: {run.get('error') or 'no summary'}\n")
        return EXIT_ERROR
    if args.json:
        _print_json(summary)
    else:
        _print_summary(summary)
    return EXIT_OK


def _progress(bar) -> Callable[[dict], None]:
    def update(info: dict) -> None:
        bar.update(info["step"] - bar.n)
        post = {"loss": f"{info['loss']:.4g}"}
        acc = info["metrics"].get("val_accuracy")
        if acc is not None:
            post["val_acc"] = f"{acc:.3f}"
        bar.set_postfix(post, refresh=False)

    return update


def _print_summary(s: dict) -> None:
    final = ", ".join(f"{k}={v:.4g}" for k, v in s["final"].items() if v is not None)
    print(
        f"run {s['run_id']} ({s['recipe']}): {s['status']} after {s['steps']} steps"
        f" in {s['seconds']:.1f}s on {s['device']}"
    )
    print(f"  final: {final}")
    for f in s.get("findings", []):
        print(f"  [{f['severity']}] {f['code']}: {f['message']}")


def cmd_recipes(args) -> int:
    from engine.config.recipe import list_recipe_names, load_recipe

    rows: list[dict[str, Any]] = []
    for name in list_recipe_names():
        recipe = load_recipe(name)
        rows.append({"name": name, "title": recipe.title, "summary": recipe.summary, "variants": len(recipe.compare)})
    if args.json:
        _print_json(rows)
        return EXIT_OK
    width = max((len(r["name"]) for r in rows), default=4)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['title']}")
    return EXIT_OK


def cmd_check(args) -> int:
    """Validate a recipe and its data the way a run would, and train nothing: a dry run."""
    from engine import datasets
    from engine.control import budget

    recipe = _recipe(args)
    data = datasets.prepare(recipe.data, recipe.seed)
    fits = budget.check_fits(recipe)  # refused (exit 2) exactly as `run` would refuse it
    info: dict[str, Any] = {
        "name": recipe.name,
        "summary": recipe.summary,
        "data": {"name": recipe.data.name, "train": len(data.y_train), "val": len(data.y_val)},
        "variants": [v.label for v in recipe.compare],
        "needs": fits.summary(),
        "recipe": recipe.to_dict(),
    }
    if args.json:
        _print_json(info)
    else:
        print(
            f"{recipe.name}: valid; {recipe.model.arch} {recipe.model.depth}x{recipe.model.width} on "
            f"{recipe.data.name} ({info['data']['train']} train / {info['data']['val']} val rows), "
            f"{recipe.train.steps} steps" + (f", {len(recipe.compare)} variants" if recipe.compare else "")
        )
        print(f"needs {info['needs']}")
    return EXIT_OK


def cmd_ls(args) -> int:
    from engine.control import queue
    from engine.control.labels import printable
    from engine.control.lifecycle import READ_WAIT_S
    from engine.control.report import runs_table

    store = _store(args)
    # The queue moves on when the store is free; a listing never waits for another process's lock.
    queue.schedule(store, wait_s=READ_WAIT_S)
    table = runs_table(store)
    if args.json:
        _print_json(table.to_dict(orient="records"))
    elif table.empty:
        print("no runs yet: try `gradclinic run healthy-mlp`")
    else:
        print(table.map(printable).to_string(index=False))  # names stored before control characters were refused
    return EXIT_OK


def cmd_show(args) -> int:
    from engine.control import queue
    from engine.control.lifecycle import READ_WAIT_S
    from engine.control.report import format_report, run_report

    store = _store(args)
    run_id = store.resolve(args.run)
    queue.reap(store, wait_s=READ_WAIT_S)  # recorded if the store is free; the report says crashed either way
    report = run_report(store, run_id)
    if args.json:
        _print_json(report)
    else:
        print(format_report(report))
    return EXIT_OK


def cmd_doctor(args) -> int:
    from engine.store import doctor

    home = Path(args.home) if args.home else None
    report = doctor.check(home)
    salvaged = doctor.salvage(home, Path(args.salvage)) if args.salvage else None
    if args.json:
        _print_json({**report, "salvage": salvaged})
    else:
        for line in doctor.describe(report, salvaged):
            print(line)
    return EXIT_OK if report["ok"] or salvaged is not None else EXIT_ERROR


def cmd_export(args) -> int:
    from engine.control.export import export_run

    store = _store(args)
    paths = export_run(store, store.resolve(args.run), Path(args.out), args.format)
    for p in paths:
        print(p)
    return EXIT_OK


def cmd_launch(args) -> int:
    from engine.control import lifecycle

    recipe = _recipe(args)
    run_id = lifecycle.launch(_store(args), recipe, name=args.name, pace_ms=lifecycle.check_pace(args.pace))
    print(run_id)
    return EXIT_OK


def cmd_stop(args) -> int:
    from engine.control import lifecycle

    store = _store(args)
    run_id = store.resolve(args.run)
    status = lifecycle.enforce_stop(store, run_id, grace=args.grace)
    print(f"{run_id}: {status}")
    return EXIT_OK


def cmd_pause(args) -> int:
    """Ask a run to wait before its next step; `gradclinic unpause` lets it go on."""
    from engine.control import lifecycle

    store = _store(args)
    run_id = store.resolve(args.run)
    lifecycle.pause(store, run_id)
    print(f"{run_id}: paused (it waits at its next flush; `gradclinic unpause {run_id}` continues it)")
    return EXIT_OK


def cmd_unpause(args) -> int:
    """Let a paused run go on from the step it waited at."""
    from engine.control import lifecycle

    store = _store(args)
    run_id = store.resolve(args.run)
    lifecycle.unpause(store, run_id)
    print(f"{run_id}: continuing")
    return EXIT_OK


def cmd_pace(args) -> int:
    """Slow motion: the run waits MS milliseconds after every step (0: full speed)."""
    from engine.control import lifecycle

    store = _store(args)
    run_id = store.resolve(args.run)
    pace = lifecycle.set_pace(store, run_id, args.ms)
    print(f"{run_id}: " + (f"{pace} ms after every step" if pace else "full speed"))
    return EXIT_OK


def cmd_resume(args) -> int:
    from engine.control import lifecycle

    store = _store(args)
    run_id = store.resolve(args.run)
    try:
        lifecycle.resume(store, run_id)
    except ValueError as exc:
        sys.stderr.write(f"gradclinic: {exc}\n")
        return EXIT_ERROR
    print(run_id)
    return EXIT_OK


def cmd_compare(args) -> int:
    from engine.control import compare

    recipe = _recipe(args)
    variants = compare.build_variants(recipe, args.vary, grid=args.grid)
    if args.folds is not None:  # compare --cv K: every variant on the same folds, paired differences
        from engine.control import cv_cli

        if args.seeds != 1:
            raise RecipeError("--seeds: with --cv the folds are the repeats; leave --seeds out (or use --repeats)")
        return cv_cli.run(args, variants)
    store = _store(args)
    group = compare.launch_group(store, recipe, variants, seeds=args.seeds)
    if not args.wait:
        print(group) if not args.json else _print_json({"group": group, "variants": [v[0] for v in variants]})
        return EXIT_OK
    summary = wait_for_group(store, lambda: compare.summarize_group(store, group))
    if args.json:
        _print_json(summary)
    else:
        _print_group(summary)
    return EXIT_OK


def wait_for_group(store, summarize: Callable[[], dict]) -> dict:
    """Start queued runs as slots free up until ``summarize()`` says the group is done; its last summary."""
    import time

    from engine.control import queue

    while True:
        queue.schedule(store)
        summary = summarize()
        if summary["done"]:
            return summary
        time.sleep(0.5)


def _print_group(summary: dict) -> None:
    from engine.control.verdict import verdict

    target = summary["target"]
    print(
        f"group {summary['group']}  ({summary['metric']}, {summary['seeds']} seed(s) a variant, "
        f"target {'-' if target is None else f'{target:.4g}'}: the level the baseline settles at)"
    )

    def fmt(m: dict) -> str:
        return "-" if m["mean"] is None else f"{m['mean']:.4g} ± {m['std']:.2g}"

    for v in summary["variants"]:
        ci = v["delta_ci"]
        noise = "" if ci is None else f" [95% CI {ci['low']:+.3g} to {ci['high']:+.3g}]"
        print(
            f"  {v['label']:<32} final {fmt(v['final']):<18} delta {fmt(v['delta_vs_baseline'])}{noise:<26}"
            f" steps to target {fmt(v['steps_to_target'])}  [{', '.join(sorted(set(v['status'])))}]"
        )
    print(verdict(summary))


def cmd_diagnose(args) -> int:
    from engine.diagnosis import remedies
    from engine.diagnosis.diagnose import diagnose_into_store

    store = _store(args)
    run_id = store.resolve(args.run)
    findings = diagnose_into_store(store, run_id)
    if args.json:
        _print_json({"run_id": run_id, "findings": findings})
        return EXIT_OK
    if not findings:
        print(f"{run_id}: no problems found")
    for f in findings:
        print(f"[{f['severity']}] {f['code']} from step {f['first_step']}: {f['message']}")
        if f["layers"]:
            print(f"    layers: {', '.join(f['layers'])}")
        ev = ", ".join(f"{k}={v}" for k, v in f["evidence"].items() if not isinstance(v, dict))
        print(f"    evidence: {ev}")
        if not f["remedies"] and f["severity"] != "info":
            print("    remedy: none measured to remove it on a run like this one yet")
        for r in f["remedies"]:
            proof = f"; {r['evidence']}" if r.get("evidence") else ""
            # A watched run's remedy is a change to its own code (engine.diagnosis.code_remedies), not flags.
            what = r.get("change") or remedies.as_flags(r["set"])
            print(f"    remedy: {what}  ({r['why']}{proof})")
    return EXIT_OK


def cmd_try(args) -> int:
    """Trial the run's top remedies for its first steps, wait, and rank them by what they fixed."""
    import time

    from engine.control import queue, trials

    store = _store(args)
    run_id = store.resolve(args.run)
    t0 = time.monotonic()
    plan = trials.launch(store, run_id, top=args.top, steps=args.steps)
    if not args.json:
        names = ", ".join(r["name"] for r in plan["remedies"])
        print(f"trying {names} for {plan['steps']} steps each (group {plan['group']}) ...", flush=True)
    ranking = None
    while ranking is None:
        queue.schedule(store)
        ranking = trials.settle(store, run_id)
        if ranking is None:
            time.sleep(0.5)
    ranking["seconds"] = round(time.monotonic() - t0, 1)
    if args.json:
        _print_json(ranking)
        return EXIT_OK
    for line in trials.describe(ranking, plan["steps"]):
        print(line)
    print(f"({ranking['seconds']:.0f}s; the run's remedies now carry this evidence: gradclinic diagnose {run_id})")
    return EXIT_OK


def cmd_ui(args) -> int:
    import os

    from engine.store import default_home

    app = Path(__file__).resolve().parent.parent / "app" / "main.py"
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        args.address,
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    # Streamlit reads .streamlit/config.toml from its working directory, so it runs from the
    # project root; the store path is made absolute first so it still means the caller's folder.
    home = Path(args.home) if args.home else default_home()
    env = {**os.environ, "GRADCLINIC_HOME": str(home.expanduser().resolve())}
    print(
        f"Gradient Clinic: http://{'localhost' if args.address == '127.0.0.1' else args.address}:{args.port}"
        f"  (run store: {env['GRADCLINIC_HOME']}; Ctrl+C to quit)",
        flush=True,
    )
    # exec, not a child process: Ctrl+C or a kill reaches Streamlit itself and leaves no orphan.
    os.chdir(app.parent.parent)
    os.execve(sys.executable, cmd, env)


# --- parser --------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradclinic", description="See why a neural network won't train, and what fixes it."
    )
    parser.add_argument("--home", help="run store folder (default: $GRADCLINIC_HOME or ./.gradclinic)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--home", default=argparse.SUPPRESS, help="run store folder")
        p.set_defaults(fn=fn)
        return p

    p = add("run", cmd_run, "train a recipe in the foreground with a progress bar")
    p.add_argument(
        "recipe", help="a recipe file, a built-in recipe's name (see `gradclinic recipes`), or custom (the defaults)"
    )
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key, e.g. train.lr=0.01"
    )
    p.add_argument("--name", help="a name for the run")
    p.add_argument("--json", action="store_true", help="print one JSON summary on stdout and nothing else")
    p.add_argument(
        "--nproc",
        type=int,
        default=1,
        metavar="N",
        help="train the run with N processes (torchrun + DistributedDataParallel; gloo on a CPU, NCCL on CUDA)",
    )

    p = add("recipes", cmd_recipes, "list the built-in recipes")
    p.add_argument("--json", action="store_true")

    p = add("check", cmd_check, "validate a recipe, its overrides and its data without training (a dry run)")
    p.add_argument("recipe", help="a recipe file, the name of a built-in recipe, or custom (the defaults)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key")
    p.add_argument("--json", action="store_true")

    p = add("ls", cmd_ls, "list runs with status, progress, device and heartbeat age")
    p.add_argument("--json", action="store_true")

    p = add("show", cmd_show, "show a run: metrics, per-layer gradients, findings")
    p.add_argument("run", help="run id (or a unique prefix, or its name)")
    p.add_argument("--json", action="store_true")

    p = add("export", cmd_export, "write a run's metrics and statistics to CSV or Parquet")
    p.add_argument("run")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--out", required=True, help="folder to write into (created if missing)")

    p = add("launch", cmd_launch, "start a run in the background and print its id")
    p.add_argument("recipe")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--name")
    p.add_argument("--pace", default="0", metavar="MS", help="slow motion: wait MS ms after every step (default 0)")

    p = add("stop", cmd_stop, "stop a run (cooperatively; killed after a grace period)")
    p.add_argument("run")
    p.add_argument("--grace", type=float, default=10.0, help="seconds to wait before killing (default 10)")

    p = add("pause", cmd_pause, "pause a running run before its next step (its worker keeps its place)")
    p.add_argument("run")

    for name in ("unpause", "continue"):
        p = add(name, cmd_unpause, "let a paused run go on from where it waited")
        p.add_argument("run")

    p = add("pace", cmd_pace, "slow motion: wait MS milliseconds after every step of a run (0: full speed)")
    p.add_argument("run")
    p.add_argument("ms", metavar="MS", help=f"0 to {limits.MAX_PACE_MS} milliseconds per step")

    p = add("resume", cmd_resume, "continue a stopped or crashed run from its last checkpoint")
    p.add_argument("run")

    p = add("compare", cmd_compare, "launch a baseline plus variants under the same seed")
    p.add_argument("recipe")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="applies to every variant")
    p.add_argument("--vary", action="append", default=[], metavar="KEY=V1,V2", help="one variant per value")
    p.add_argument("--grid", action="store_true", help="vary keys together (cartesian product)")
    p.add_argument("--seeds", type=int, default=1, help="runs per variant, seeds seed..seed+N-1")
    p.add_argument("--wait", action="store_true", help="wait for every run and print the comparison")
    p.add_argument("--json", action="store_true")
    from engine.control import cv_cli

    cv_cli.add_fold_flags(p, "--cv")  # every variant on the same K folds (waits), paired differences

    p = add("try", cmd_try, "trial a run's top remedies on its first steps and rank them by what they fixed")
    p.add_argument("run")
    p.add_argument("--top", type=int, default=3, help="how many remedies to try (default 3)")
    p.add_argument("--steps", type=int, default=400, help="steps per trial (default 400, at most the run's)")
    p.add_argument("--json", action="store_true")

    p = add("diagnose", cmd_diagnose, "run the diagnosis rules on a stored run")
    p.add_argument("run")
    p.add_argument("--json", action="store_true")

    from engine.control import compress_cli, ensemble_cli, explain_cli
    from engine.tuning import lr_find_cli, sweep_cli  # torch-free; a command imports the training side to train

    lr_find_cli.register(add)
    sweep_cli.register(add)
    cv_cli.register(add)
    ensemble_cli.register(add)
    explain_cli.register(add)
    compress_cli.register(add)

    p = add("doctor", cmd_doctor, "check the run store for damage, and copy its intact runs into a new one")
    p.add_argument("--salvage", metavar="NEW_HOME", help="copy every run that reads back cleanly into this new store")
    p.add_argument("--json", action="store_true")

    p = add("ui", cmd_ui, "open the dashboard")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--address", default="127.0.0.1", help="bind address (default: localhost only)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except RecipeError as exc:
        sys.stderr.write(f"gradclinic: invalid input: {exc}\n")
        return EXIT_INVALID
    except StoreError as exc:
        sys.stderr.write(f"gradclinic: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("gradclinic: interrupted\n")
        return EXIT_ERROR
    except BrokenPipeError:
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
