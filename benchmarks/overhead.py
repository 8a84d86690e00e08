"""What do Gradient Clinic's probes cost? Step-time ratios against a bare loop.

Each workload is timed in this one process. Variants run alternately, a few
repeats each, and the table shows the median seconds per step of each
variant divided by the median of the bare PyTorch loop (a). Same model,
data, seed and number of steps everywhere.

    (a) bare PyTorch loop
    (b) engine, default budget (probes.budget = 0.05)
    (c) engine, per-layer gradient statistics every step
    (d) engine, every probe every step, activations included

Run: ``python benchmarks/overhead.py [--steps N] [--repeats R] [--workloads mlp20,cnn,lstm]``
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from engine import names  # noqa: E402
from engine.batches import Batches  # noqa: E402
from engine.probing import ProbeManager  # noqa: E402
from engine.recorder import Recorder  # noqa: E402
from engine.session import prepare  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.trainer import Trainer, loss_fn  # noqa: E402
from engine.recipe import load_recipe  # noqa: E402

WORKLOADS = {
    "mlp20": ["model.arch=mlp", "model.depth=20", "model.width=64", "model.activation=relu",
              "model.init=he_normal", "data.name=digits", "train.optimizer=sgd", "train.lr=0.01"],
    "cnn": ["model.arch=cnn", "model.depth=4", "model.width=32", "data.name=digits",
            "train.optimizer=sgd", "train.lr=0.01"],
    "lstm": ["model.arch=lstm", "model.depth=1", "model.width=64", "data.name=adding",
             "data.params.seq_len=50", "train.optimizer=adam", "train.lr=0.001"],
}
GRAD_PROBES = ["grad_norm", "grad_max_abs", "nonfinite"]


def variants() -> dict[str, dict]:
    every = {n: 1 for n in names.PROBES.names()}
    return {
        "a": {"label": "bare PyTorch loop"},
        "b": {"label": "engine, default budget", "fixed": {}},
        "c": {"label": "engine, gradient stats every step", "fixed": {n: 1 for n in GRAD_PROBES}},
        "d": {"label": "engine, all probes every step", "fixed": every},
    }


def bare_loop(recipe, steps: int) -> float:
    """Seconds per step of a plain loop: same model, same batches, no instrumentation."""
    prep = prepare(recipe)
    model, device = prep.model.to(prep.device), prep.device
    from engine.optimizers import OPTIMIZERS

    opt = OPTIMIZERS.get(recipe.train.optimizer)(model.parameters(), recipe.train)
    batches = Batches(prep.data, recipe.train.batch_size, device, seed=recipe.seed)
    crit = loss_fn(prep.data)
    model.train()
    t0 = time.perf_counter()
    for _ in range(steps):
        x, y = batches.next()
        loss = crit(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / steps


def engine_loop(recipe, steps: int, fixed: dict, home: Path) -> float:
    """Seconds per step of the engine's trainer with probes and the store recorder."""
    prep = prepare(recipe)
    store = Store(home)
    run_id = store.create_run(recipe.to_dict(), total_steps=steps)
    budget = recipe.probes.budget
    # With fixed intervals for some probes, the others stay off (interval beyond the run).
    probes = ProbeManager(prep.model, budget=budget, fixed=fixed) if fixed else ProbeManager(prep.model, budget=budget)
    if fixed:
        for p in probes.probes:
            if p.name not in fixed:
                probes.fixed[p.name] = steps * 10
        probes._apply_intervals()
    trainer = Trainer(recipe, prep.data, prep.model, prep.device, [probes, Recorder(store, run_id, probes)])
    t0 = time.perf_counter()
    trainer.fit()
    if prep.device.type == "cuda":
        torch.cuda.synchronize()
    per_step = (time.perf_counter() - t0) / steps
    store.close()
    return per_step


def run_workload(name: str, steps: int, repeats: int, device: str) -> dict[str, float]:
    # One evaluation at the very end keeps the engine's timing about training steps.
    recipe = load_recipe(None, WORKLOADS[name] + [f"train.steps={steps}", f"train.eval_every={steps}",
                                                  f"train.device={device}"])
    times: dict[str, list[float]] = {k: [] for k in variants()}
    with tempfile.TemporaryDirectory() as tmp:
        bare_loop(recipe, min(steps, 50))  # warm-up: allocator, thread pool, lazy imports
        for r in range(repeats):
            for key, spec in variants().items():
                if key == "a":
                    times[key].append(bare_loop(recipe, steps))
                else:
                    times[key].append(engine_loop(recipe, steps, spec["fixed"], Path(tmp) / f"{key}{r}"))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {k: med[k] / med["a"] for k in med} | {"a_ms": med["a"] * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workloads", default="mlp20,cnn,lstm")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    labels = variants()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device={args.device}, "
          f"{args.steps} steps x {args.repeats} repeats, median step-time ratio vs (a)")
    header = f"{'workload':<8} {'(a) ms/step':>11} " + " ".join(f"{'(' + k + ')':>7}" for k in labels if k != "a")
    print(header)
    for name in args.workloads.split(","):
        res = run_workload(name, args.steps, args.repeats, args.device)
        print(f"{name:<8} {res['a_ms']:>11.3f} " + " ".join(f"{res[k]:>7.3f}" for k in labels if k != "a"))
    print("\n" + "\n".join(f"({k}) {v['label']}" for k, v in labels.items()))
    print("goals (CPU): (b) <= 1.05; (c) <= 1.10 on mlp20")


if __name__ == "__main__":
    main()
