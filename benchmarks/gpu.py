"""The GPU path: probe overhead, host syncs, mixed precision and compilation, on CUDA.

Four checks, each against a baseline in this same process:

1. **Probe overhead** (goal: the engine at its default budget within 1.02x of a bare loop). For
   each workload (``mlp20``, ``cnn``, ``resnet``: residual CNN with batch norm at batch 256) and
   each way of computing (fp32; ``train.amp`` fp16 with loss scaling; bf16; ``train.compile``;
   ``train.channels_last`` for the CNNs), the bare loop and the engine take turns in slices, as
   in ``benchmarks/overhead.py``; the ratio is the median over rounds of engine / bare, the bare
   loop computing the same way (its own autocast, scaler, compiled module).
2. **Host syncs on steps that do not flush** (goal: none in fp32 and bf16). The engine trains with
   ``torch.cuda.set_sync_debug_mode("warn")`` on from BEFORE_STEP to AFTER_STEP of every step that
   does not flush, and the warnings are counted. fp16's GradScaler makes one by design (its step
   reads the overflow flag), so fp16 is reported, not held to zero.
3. **What AMP and compile buy**: the bare loop's step time in each way, as a ratio to fp32.
4. The device, torch and CUDA versions, so the numbers can be compared.

Run on a machine with a GPU: ``python benchmarks/gpu.py [--repeats R] [--chunk S]``. Without one,
``--device cpu`` runs the same code (no resnet, bf16 and fp16 emulated) to check it still works.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from benchmarks.overhead import WORKLOADS, _Clock  # noqa: E402
from engine.config.recipe import load_recipe  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.training import compilation  # noqa: E402
from engine.training.batches import Batches  # noqa: E402
from engine.training.events import Callback  # noqa: E402
from engine.training.optimizers import OPTIMIZERS  # noqa: E402
from engine.training.precision import Precision  # noqa: E402
from engine.training.probing.manager import ProbeManager, load_probes  # noqa: E402
from engine.training.recorder import Recorder  # noqa: E402
from engine.training.session import prepare  # noqa: E402
from engine.training.trainer import Trainer, loss_fn  # noqa: E402

WAYS = {
    "fp32": [],
    "fp16": ["train.amp=true", "train.amp_dtype=fp16"],
    "bf16": ["train.amp=true", "train.amp_dtype=bf16"],
    "compile": ["train.compile=true"],
    "channels_last": ["train.channels_last=true"],
}
CONV = {"cnn", "resnet"}


class Bare:
    """A plain PyTorch loop computing the way ``recipe.train`` says (autocast, scaler, compile, layout)."""

    def __init__(self, recipe):
        prep = prepare(recipe)
        self.model, self.device = prep.model.to(prep.device), prep.device
        t = recipe.train
        self.channels_last = compilation.to_channels_last(self.model, t)
        compiled = compilation.compiled_forward(self.model, t)
        self.forward = self.model if compiled is None else compiled
        self.opt = OPTIMIZERS.get(t.optimizer)(self.model.parameters(), t)
        self.precision = Precision.for_run(t, self.device)
        self.batches = Batches(prep.data, t.batch_size, self.device, seed=recipe.seed)
        self.crit = loss_fn(prep.data)
        self.model.train()

    def advance(self, steps: int) -> None:
        p = self.precision
        for _ in range(steps):
            x, y = self.batches.next()
            if self.channels_last:
                x = compilation.input_channels_last(x)
            with p.autocast():
                out = self.forward(x)
            loss = self.crit(out.float(), y)
            self.opt.zero_grad(set_to_none=True)
            if p.scaler is None:
                loss.backward()
                self.opt.step()
            else:
                p.scaler.scale(loss).backward()
                p.scaler.step(self.opt)
                p.scaler.update()

    def close(self) -> None:
        pass


class _SyncCounter(Callback):
    """Counts CUDA host syncs from BEFORE_STEP to AFTER_STEP (listed first and last: ``end``)."""

    def __init__(self, end: bool, shared: dict):
        self.end, self.shared = end, shared

    def before_step(self, s) -> None:
        if not self.end and torch.cuda.is_available() and s.step > 20:  # after the warm-up's one-off set-up
            torch.cuda.set_sync_debug_mode("warn")
            self.shared["steps"] += 1

    def after_step(self, s) -> None:
        if self.end and torch.cuda.is_available():
            torch.cuda.set_sync_debug_mode("default")


class Engine:
    """The engine's trainer, probes (default budget) and recorder; flushes only at the end."""

    def __init__(self, recipe, home: Path, count_syncs: bool = False):
        prep = prepare(recipe)
        self.store = Store(home)
        run_id = self.store.create_run(recipe.to_dict(), total_steps=recipe.train.steps)
        probes = ProbeManager(prep.model, recipe.probes.budget, None, load_probes(recipe=recipe))
        self.syncs = {"steps": 0}
        recorder = Recorder(self.store, run_id, probes, flush_seconds=math.inf if count_syncs else 2.0)
        cbs = [probes, recorder]
        if count_syncs:
            cbs = [_SyncCounter(False, self.syncs), *cbs, _SyncCounter(True, self.syncs)]
        self.trainer = Trainer(recipe, prep.data, prep.model, prep.device, cbs)
        self.trainer.start()

    def advance(self, steps: int) -> None:
        self.trainer.advance(steps)

    def close(self) -> None:
        self.trainer.finish()
        self.store.close()


def _recipe(workload: str, way: str, device: str):
    return load_recipe(
        None,
        WORKLOADS[workload]
        + WAYS[way]
        + ["train.steps=10000000", "train.eval_every=10000000", f"train.device={device}"],
    )


def overhead(workload: str, way: str, device: str, rounds: int, chunk_s: float) -> dict[str, float]:
    """Median paired ratio engine / bare in ``way``, and the bare loop's ms per step."""
    recipe = _recipe(workload, way, device)
    with tempfile.TemporaryDirectory(prefix="gradclinic-gpu-") as tmp:
        bare, engine = Bare(recipe), Engine(recipe, Path(tmp) / "e")
        clock = _Clock(bare.device)
        try:
            for v in (bare, engine):  # warm-up, compilation included
                v.advance(30)
            clock.start()
            bare.advance(20)
            clock.stop()
            steps = max(5, round(chunk_s / (clock.wall / 20)))
            ratios, bare_ms = [], []
            for r in range(rounds):
                got = {}
                for key, v in (("b", bare), ("e", engine)) if r % 2 == 0 else (("e", engine), ("b", bare)):
                    clock.start()
                    v.advance(steps)
                    clock.stop()
                    got[key] = clock.wall / steps
                ratios.append(got["e"] / got["b"])
                bare_ms.append(got["b"] * 1e3)
        finally:
            bare.close()
            engine.close()
    return {"ratio": statistics.median(ratios), "bare_ms": statistics.median(bare_ms)}


def syncs(workload: str, way: str, device: str, steps: int = 200) -> tuple[int, int]:
    """(host syncs seen, steps checked) over ``steps`` engine steps that do not flush."""
    recipe = _recipe(workload, way, device)
    with tempfile.TemporaryDirectory(prefix="gradclinic-gpu-") as tmp, warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        engine = Engine(recipe, Path(tmp) / "e", count_syncs=True)
        try:
            engine.advance(steps)
        finally:
            if torch.cuda.is_available():
                torch.cuda.set_sync_debug_mode("default")
            engine.close()
    n = sum("synchroniz" in str(w.message).lower() for w in seen)
    return n, engine.syncs["steps"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=9, help="alternated rounds per cell (default 9)")
    parser.add_argument("--chunk", type=float, default=0.5, help="seconds of bare loop per slice (default 0.5)")
    parser.add_argument("--device", default="cuda", help="cuda (default), or cpu to check the script")
    parser.add_argument("--workloads", default="mlp20,cnn,resnet")
    parser.add_argument("--ways", default=",".join(WAYS))
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: nothing measured (use --device cpu to check that the script runs)")
        return
    name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, device {name}; {args.repeats} rounds per cell")
    workloads = [w for w in args.workloads.split(",") if args.device == "cuda" or w != "resnet"]
    t0 = time.perf_counter()
    rows = []
    for w in workloads:
        for way in args.ways.split(","):
            if way == "channels_last" and w not in CONV:
                continue
            res = overhead(w, way, args.device, args.repeats, args.chunk)
            n_sync, checked = syncs(w, way, args.device) if args.device == "cuda" else (None, 0)
            rows.append((w, way, res, n_sync, checked))
            print(f"  {w} {way} done ({time.perf_counter() - t0:.0f} s)", file=sys.stderr, flush=True)
    fp32_ms = {w: res["bare_ms"] for w, way, res, _, _ in rows if way == "fp32"}
    print(f"\n{'workload':<8} {'way':<14} {'bare ms/step':>12} {'vs fp32':>8} {'engine/bare':>11} {'syncs/step':>10}")
    for w, way, res, n_sync, checked in rows:
        vs = res["bare_ms"] / fp32_ms[w] if w in fp32_ms else math.nan
        per = "-" if n_sync is None else f"{n_sync / max(checked, 1):.2f}"
        print(f"{w:<8} {way:<14} {res['bare_ms']:>12.3f} {vs:>8.2f} {res['ratio']:>11.3f} {per:>10}")
    print("\ngoals: engine/bare <= 1.02 at the default budget; 0 syncs/step in fp32, bf16, compile, channels_last")
    print("(fp16's GradScaler reads its overflow flag each step: 1 sync/step there is PyTorch's, not the engine's)")


if __name__ == "__main__":
    main()
