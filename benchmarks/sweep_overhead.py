"""A sweep's cost: trials per minute against a bare Optuna loop training the same objective.

    python benchmarks/sweep_overhead.py               # 3 repeats of 16 trials each
    python benchmarks/sweep_overhead.py --repeats 5 --trials 32

The ratio is against the in-memory loop; a second column keeps the bare loop's study in
SQLite too, since a sweep's study must outlive its process (the dashboard reads it).

Both sides train the same tiny recipe with the same sampler (random, seeded) in
this process: the bare loop is ``study.optimize`` over an objective that trains
each trial through ``engine.training.session`` and returns its last val accuracy;
the sweep is ``Sweep(..., InlineExecutor())``, which adds what the tool does on
top (a run in the store per trial, in the sweep's group, reports to the pruner at
every evaluation, the study's attributes, the results read back). Repeats
alternate the two; the table gives medians and the ratio (goal >= 0.9).

Then the local executor (trials as background worker processes, warm-forked):
``--parallel 1`` against ``--parallel 2`` on this machine's cores.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.config.recipe import load_recipe  # noqa: E402
from engine.config.sweep import SweepSpec  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.tuning import results  # noqa: E402
from engine.tuning.executors import make  # noqa: E402
from engine.tuning.sweep import Sweep, plan  # noqa: E402

TINY = ["data.name=moons", "model.depth=2", "model.width=16", "train.steps=200", "train.eval_every=25"]
SPACE = {"train.lr": "loguniform(1e-4,1e-1)", "model.width": "int(8,32)"}


def bare_optuna(trials: int, seed: int, pruner: str = "none", sqlite: bool = False) -> float:
    """Trials per minute of ``study.optimize`` over the same training, its study in memory.

    With ``pruner="median"`` the objective reports each evaluation and stops a trial the
    pruner cuts, as Optuna's own examples do (a flag the training's stop check reads). With
    ``sqlite`` the study is kept in a SQLite file as the sweep's is (Optuna's RDB storage).
    """
    import optuna

    from engine.training import session
    from engine.tuning.study import make_pruner

    store = Store(tempfile.mkdtemp(prefix="gc-bare-"))
    base = load_recipe("healthy-mlp", TINY)

    def objective(trial: optuna.Trial) -> float:
        recipe = base.with_overrides(
            {
                "train.lr": trial.suggest_float("train.lr", 1e-4, 1e-1, log=True),
                "model.width": trial.suggest_int("model.width", 8, 32),
            }
        )
        run_id = store.create_run(recipe.to_dict(), total_steps=recipe.train.steps)
        cut, every, last = [False], recipe.train.eval_every, [0]

        def on_flush(info: dict) -> None:
            value, step = info["metrics"].get("val_accuracy"), info["step"]
            if pruner != "none" and value is not None and step % every == 0 and step > last[0]:
                last[0] = step
                trial.report(float(value), step)
                cut[0] = cut[0] or trial.should_prune()

        summary = session.train(store, run_id, session.prepare(recipe), on_flush=on_flush, stop_check=lambda: cut[0])
        if cut[0]:
            raise optuna.TrialPruned()
        return float(summary["final"]["val_accuracy"])

    study = optuna.create_study(
        storage=f"sqlite:///{store.home / 'bare.db'}" if sqlite else None,
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=seed),
        pruner=make_pruner(pruner, base.train.steps, base.train.eval_every, trials),
    )
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return trials / (time.perf_counter() - t0) * 60


def sweep(trials: int, seed: int, executor: str = "inline", parallel: int = 1, pruner: str = "none") -> float:
    """Trials per minute of ``gradclinic sweep``'s driver with ``executor``: its study created in sweeps.db,
    every trial run and told. (Reading the sweep back once at the end, importances included, is
    a fixed cost of well under a second, not per trial; see the last line of the output.)"""
    store = Store(tempfile.mkdtemp(prefix="gc-sweep-"))
    spec = SweepSpec(space=SPACE, sampler="random", trials=trials, pruner=pruner, parallel=parallel, seed=seed)
    checked = plan(load_recipe("healthy-mlp", TINY), spec)
    t0 = time.perf_counter()
    Sweep(store, checked, make(executor, parallel), executor_name=executor).run()
    return trials / (time.perf_counter() - t0) * 60


def read_back_s(trials: int) -> float:
    """Seconds to read a finished sweep back with its importances (the CLI's --json, the Sweep page)."""
    store = Store(tempfile.mkdtemp(prefix="gc-read-"))
    spec = SweepSpec(space=SPACE, sampler="random", trials=trials, pruner="none", seed=0)
    group = Sweep(store, plan(load_recipe("healthy-mlp", TINY), spec), make("inline", 1)).run()
    t0 = time.perf_counter()
    results.load(store, group).summary()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--no-local", action="store_true", help="skip the worker-process measurement")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # as a worker does: the comparison is of the loops, not of thread pools
    logging.disable(logging.WARNING)
    bare_optuna(2, 99)  # warm: imports, the first prepare
    sweep(2, 99)
    print(f"in-process, {args.trials} trials x {args.repeats} repeats (median trials/min)")
    print(
        "| pruner | bare Optuna, in memory | bare Optuna, SQLite study | gradclinic sweep (inline, SQLite) | ratio |"
        "\n| --- | ---: | ---: | ---: | ---: |"
    )
    scale = 0.0
    for pruner in ("none", "median"):
        bare, bare_db, ours = [], [], []
        for i in range(args.repeats):
            bare.append(bare_optuna(args.trials, i, pruner))
            bare_db.append(bare_optuna(args.trials, i, pruner, sqlite=True))
            ours.append(sweep(args.trials, i, pruner=pruner))
        b, d, s = statistics.median(bare), statistics.median(bare_db), statistics.median(ours)
        print(f"| {pruner} | {b:.1f} | {d:.1f} | {s:.1f} | {s / b:.2f} (vs SQLite {s / d:.2f}) |")
        scale = scale or b
    print(f"(reading the sweep back with its importances, once: {read_back_s(args.trials):.2f} s)")
    if args.no_local:
        return 0
    os.environ.setdefault("GRADCLINIC_HOME", tempfile.mkdtemp(prefix="gc-local-"))
    one = statistics.median(sweep(args.trials, i, "local", 1) for i in range(args.repeats))
    two = statistics.median(sweep(args.trials, i, "local", 2) for i in range(args.repeats))
    print(f"\nworker processes on {os.cpu_count()} cores (median trials/min)")
    print("| executor | trials/min | ratio |\n| --- | ---: | ---: |")
    print(f"| local --parallel 1 | {one:.1f} | 1.00 |")
    print(f"| local --parallel 2 | {two:.1f} | {two / one:.2f} |")
    print(f"| (in-process bare Optuna, no pruner, for scale) | {scale:.1f} | {scale / one:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
