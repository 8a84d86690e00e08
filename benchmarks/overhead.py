"""What do Gradient Clinic's probes cost? Step-time ratios against a bare loop.

Each workload is timed in this one process. Every variant is built once (its
own model, optimizer, data and, for the engine, its own store) and then they
take turns: one slice of about ``--chunk`` seconds each, in an order that
rotates every round, for ``--repeats`` rounds. A variant's ratio is the median
over rounds of its slice time divided by the bare loop's slice time in the
same round. Pairing slices that ran seconds apart cancels the drift of a
shared machine (rebuilding the model for every repeat moved two identical
bare loops 7% apart here; paired slices keep them within 1%). Same model,
data, seed and number of steps in every slice.

    (a) bare PyTorch loop
    (b) engine, default budget (probes.budget = 0.05)
    (c) engine, per-layer gradient statistics every step (grad_norm, grad_max_abs, nonfinite)
    (d) engine, every probe every step, activations included
    (e) bare loop + TensorBoard SummaryWriter: the loss and each layer's gradient norm, every step
    (f) bare loop + W&B offline: wandb.watch(log="gradients", log_freq=1) and a wandb.log per step

The engine's slices include its periodic flushes to SQLite (a slice is longer
than the flush interval) and no evaluation (the bare loop has none). (e) and
(f) include their peers' own per-step work; W&B's background service process
is a separate process, which the CPU-time table does not see. (e)/(f) print
"not installed" without the ``bench`` extra (``pip install -e '.[bench]'``).

Two tables: wall-clock time, and this process's CPU time. ``--threads 1``
(the default) keeps torch's intra-op pool from stalling on a loaded machine.

Run: ``python benchmarks/overhead.py [--repeats R] [--chunk SECONDS] [--workloads mlp20,cnn,lstm,resnet]``
(``make bench``). ``resnet`` (a residual CNN at batch 256) needs CUDA.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from engine.config import names  # noqa: E402
from engine.config.recipe import load_recipe  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.training.batches import Batches  # noqa: E402
from engine.training.optimizers import OPTIMIZERS  # noqa: E402
from engine.training.probing.manager import ProbeManager, load_probes  # noqa: E402
from engine.training.recorder import Recorder  # noqa: E402
from engine.training.session import prepare  # noqa: E402
from engine.training.trainer import Trainer, loss_fn  # noqa: E402

WORKLOADS = {
    "mlp20": [
        "model.arch=mlp",
        "model.depth=20",
        "model.width=64",
        "model.activation=relu",
        "model.init=he_normal",
        "data.name=digits",
        "train.optimizer=sgd",
        "train.lr=0.01",
    ],
    "cnn": [
        "model.arch=cnn",
        "model.depth=4",
        "model.width=32",
        "data.name=digits",
        "train.optimizer=sgd",
        "train.lr=0.01",
    ],
    "lstm": [
        "model.arch=lstm",
        "model.depth=1",
        "model.width=64",
        "data.name=adding",
        "data.params.seq_len=50",
        "train.optimizer=adam",
        "train.lr=0.001",
    ],
    # ResNet-style: residual conv blocks with batch norm, batch 256. CUDA only.
    "resnet": [
        "model.arch=cnn",
        "model.depth=10",
        "model.width=128",
        "model.residual=true",
        "model.norm=batch",
        "data.name=digits",
        "train.batch_size=256",
        "train.optimizer=sgd",
        "train.lr=0.05",
    ],
}
CUDA_ONLY = {"resnet"}
GRAD_PROBES = ["grad_norm", "grad_max_abs", "nonfinite"]
VARIANTS = {
    "a": "bare PyTorch loop",
    "b": "engine, default budget (5%)",
    "c": "engine, gradient stats (grad_norm, grad_max_abs, nonfinite) every step",
    "d": "engine, every probe every step, activations included",
    "e": "bare loop + TensorBoard SummaryWriter, loss + per-layer grad norms every step",
    "f": "bare loop + W&B offline, wandb.watch(log='gradients', log_freq=1) + wandb.log per step",
    "o": "engine, every probe off: the trainer, recorder and store alone (only with --variants ...o)",
}
FIXED = {"b": None, "c": {n: 1 for n in GRAD_PROBES}, "d": "all", "o": {}}


def _peer_available(key: str) -> bool:
    try:
        if key == "e":
            import torch.utils.tensorboard  # noqa: F401  (needs the tensorboard package)
        else:
            import wandb  # noqa: F401
    except Exception:
        return False
    return True


class _Clock:
    """Wall and CPU seconds between start() and stop(), synchronising CUDA at both ends."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.wall = self.cpu = 0.0

    def start(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()
        self._w, self._c = time.perf_counter(), time.process_time()

    def stop(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()
        self.wall, self.cpu = time.perf_counter() - self._w, time.process_time() - self._c


class BareLoop:
    """The plain PyTorch loop (a), optionally with a peer logger: TensorBoard (e) or W&B (f)."""

    def __init__(self, recipe, peer: str | None = None, tmp: Path | None = None):
        prep = prepare(recipe)
        self.model, self.device = prep.model.to(prep.device), prep.device
        self.opt = OPTIMIZERS.get(recipe.train.optimizer)(self.model.parameters(), recipe.train)
        self.batches = Batches(prep.data, recipe.train.batch_size, self.device, seed=recipe.seed)
        self.crit = loss_fn(prep.data)
        self.layers = self.model.param_layers()
        self.model.train()
        self.step = 0
        self.writer = self.run = None
        if peer == "e":
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(tmp))
        elif peer == "f":
            import wandb

            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                self.run = wandb.init(
                    project="gradclinic-bench",
                    dir=str(tmp),
                    mode="offline",
                    settings=wandb.Settings(console="off", silent=True),
                )
                wandb.watch(self.model, log="gradients", log_freq=1)

    def advance(self, steps: int) -> None:
        model, opt, crit, writer, run = self.model, self.opt, self.crit, self.writer, self.run
        for _ in range(steps):
            self.step += 1
            x, y = self.batches.next()
            loss = crit(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if writer is not None:  # what a TensorBoard user writes: one add_scalar per layer per step
                writer.add_scalar("train_loss", loss.item(), self.step)
                for name, p in self.layers:
                    writer.add_scalar(f"grad_norm/{name}", p.grad.norm().item(), self.step)
            opt.step()
            if run is not None:  # logs the loss, and the hooks' gradient histograms with it
                run.log({"train_loss": loss.item()}, step=self.step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.run is not None:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                self.run.finish()


class EngineLoop:
    """The engine's trainer with the probe manager and the store recorder (b, c, d, o)."""

    def __init__(self, recipe, fixed, home: Path):
        prep = prepare(recipe)
        self.device = prep.device
        self.store = Store(home)
        run_id = self.store.create_run(recipe.to_dict(), total_steps=recipe.train.steps)
        if fixed == "all":
            fixed = {n: 1 for n in names.PROBES.names()}
        probes = ProbeManager(prep.model, recipe.probes.budget, fixed, load_probes(recipe=recipe))  # as a run does
        if fixed is not None:  # the probes not named stay off: their interval is beyond the run
            for p in probes.probes:
                probes.fixed.setdefault(p.name, recipe.train.steps * 10)
            probes._apply_intervals()
        self.trainer = Trainer(
            recipe, prep.data, prep.model, prep.device, [probes, Recorder(self.store, run_id, probes)]
        )
        self.trainer.start()

    def advance(self, steps: int) -> None:
        self.trainer.advance(steps)

    def close(self) -> None:
        self.trainer.finish()
        self.store.close()


def build(key: str, recipe, where: Path):
    """The variant ``key`` of ``recipe``, ready to advance."""
    if key in ("a", "e", "f"):
        return BareLoop(recipe, None if key == "a" else key, where)
    return EngineLoop(recipe, FIXED[key], where)


def run_workload(
    name: str, rounds: int, chunk_s: float, device: str, keys: list[str], steps: int | None = None
) -> dict[str, tuple]:
    """{variant: (wall ratio, cpu ratio)} plus "a_ms": (wall ms, cpu ms) per step of the bare loop."""
    # Enough steps that no engine variant ends, and no evaluation inside the timed slices.
    recipe = load_recipe(
        None, WORKLOADS[name] + ["train.steps=10000000", "train.eval_every=10000000", f"train.device={device}"]
    )
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in keys}
    with tempfile.TemporaryDirectory(prefix="gradclinic-overhead-") as tmp:
        variants = {k: build(k, recipe, Path(tmp) / k) for k in keys}
        try:
            clock = _Clock(variants["a"].device)
            for v in variants.values():  # warm-up: allocator, thread pool, lazy imports, probe plan
                v.advance(20)
            if steps is None:  # slices of about chunk_s seconds of the bare loop
                clock.start()
                variants["a"].advance(20)
                clock.stop()
                steps = max(5, round(chunk_s / (clock.wall / 20)))
            for r in range(rounds):
                order = keys[r % len(keys) :] + keys[: r % len(keys)]  # rotate, so no variant always goes first
                for key in order:
                    clock.start()
                    variants[key].advance(steps)
                    clock.stop()
                    times[key].append((clock.wall / steps, clock.cpu / steps))
        finally:
            for v in variants.values():
                v.close()
    out = paired_medians(times, keys)
    out["steps"] = steps
    return out


def paired_medians(times: dict[str, list[tuple[float, float]]], keys: list[str]) -> dict[str, tuple]:
    """{variant: (wall ratio, cpu ratio)}, each the median over rounds of its slice against the bare
    loop's ("a") slice in the same round, plus "a_ms": the bare loop's median (wall, cpu) ms per step."""
    out: dict[str, tuple] = {}
    for k in keys:
        out[k] = tuple(statistics.median(t[i] / ta[i] for t, ta in zip(times[k], times["a"])) for i in (0, 1))
    out["a_ms"] = tuple(statistics.median(t[i] for t in times["a"]) * 1e3 for i in (0, 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15, help="alternated rounds (default 15)")
    parser.add_argument("--chunk", type=float, default=0.6, help="seconds of bare loop per slice (default 0.6)")
    parser.add_argument("--steps", type=int, default=None, help="steps per slice (overrides --chunk)")
    parser.add_argument("--workloads", default="mlp20,cnn,lstm,resnet")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda (resnet always needs cuda)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--variants", default="abcdef")
    args = parser.parse_args()
    # W&B: offline, silent, everything under a temp dir; no network, no login prompt.
    wandb_home = tempfile.mkdtemp(prefix="gradclinic-wandb-")
    for key, value in {
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        "WANDB_DIR": wandb_home,
        "WANDB_CONFIG_DIR": wandb_home,
        "WANDB_CACHE_DIR": wandb_home,
        "WANDB_DATA_DIR": wandb_home,
        "WANDB_CONSOLE": "off",
        "WANDB_ERROR_REPORTING": "false",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_CODE": "true",
        "WANDB_ANONYMOUS": "never",
    }.items():
        os.environ.setdefault(key, value)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    keys = ["a"] + [k for k in args.variants if k in VARIANTS and k != "a"]
    missing = {k for k in keys if k in ("e", "f") and not _peer_available(k)}
    keys = [k for k in keys if k not in missing]
    cuda = torch.cuda.is_available() and args.device in ("auto", "cuda")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, "
        f"device={'cuda: ' + torch.cuda.get_device_name() if cuda else args.device}, "
        f"{args.repeats} alternated rounds of ~{args.chunk:g} s slices; median paired step-time ratio vs (a)"
    )
    shown = [k for k in VARIANTS if k != "a" and (k != "o" or "o" in keys)]
    rows = []
    for name in args.workloads.split(","):
        if name in CUDA_ONLY and not cuda:
            rows.append((name, None, f"skipped: {name} runs on CUDA only, and no CUDA device is available"))
            continue
        device = "cuda" if name in CUDA_ONLY else args.device
        res = run_workload(name, args.repeats, args.chunk, device, keys, args.steps)
        rows.append((name, res, ""))
        print(f"  {name} done ({res['steps']} steps a slice)", file=sys.stderr, flush=True)
    for title, i in (("wall-clock time", 0), ("process CPU time", 1)):
        print(f"\n{title}:")
        print(f"{'workload':<8} {'(a) ms/step':>11} " + " ".join(f"{'(' + k + ')':>7}" for k in shown))
        for name, res, note in rows:
            if res is None:
                print(f"{name:<8} {note}")
                continue
            cells = [("not installed" if k in missing else "-") if k not in res else f"{res[k][i]:.3f}" for k in shown]
            print(f"{name:<8} {res['a_ms'][i]:>11.3f} " + " ".join(f"{c:>7}" for c in cells))
    print()
    for k, label in VARIANTS.items():
        if k not in shown and k != "a":
            continue
        print(f"({k}) {label}" + (": not installed (pip install -e '.[bench]')" if k in missing else ""))
    print("goals (CPU): (b) <= 1.05; (c) <= 1.10 on mlp20; every engine variant below (e) and (f)")


if __name__ == "__main__":
    main()
