"""Size on disk and CPU latency of the compression lesson's MLP: dense, 90% pruned, dynamic int8.

    python benchmarks/compress.py                  # 7 rounds of 30 timed passes, batches of 1 and 256
    python benchmarks/compress.py --rounds 3 --level 0.8

The model is recipes/compress-digits.yaml (a 2x512 ReLU MLP, 300k weights) trained at seed 0.
Its variants are made as ``gradclinic compress`` makes them (:mod:`engine.training.compress`):
global magnitude pruning (no fine-tune: its cost does not depend on it) and dynamic int8 of
every Linear. Size: the bytes ``torch.save`` writes for the state_dict, and for the pruned
model also its weight matrices in CSR form. Latency: the median of each round's median of 30
forward passes, the rounds interleaved over the variants so a busy moment of the machine hits
all of them; the ratios are against the dense model measured in the same process. All on one
torch thread. The pruned model runs the same dense kernels (its zeros are multiplied too), so
its latency is the dense one's; int8 wins on size, and on speed only where its kernels do.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.config.recipe import load_recipe  # noqa: E402
from engine.store import Store  # noqa: E402

RECIPE = "compress-digits"


def variants(level: float):
    """(the validation data, {name: model}) for the lesson's model trained at seed 0."""
    from engine.training import session
    from engine.training.compress import prune, quantize
    from engine.training.weights import load_weights

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        recipe = load_recipe(RECIPE)
        run_id = store.create_run(recipe.to_dict(), total_steps=recipe.train.steps, status="running")
        session.train(store, run_id, session.prepare(recipe, store))
        source = load_weights(store, run_id, "last")
    dense = source.model.cpu().eval()
    pruned = copy.deepcopy(dense)
    prune.prune(pruned, level)
    q = quantize.dynamic_int8(dense)
    assert q.model is not None, q.why_not
    return source.data, {"dense": dense, f"pruned {level:.0%}": pruned.eval(), "int8 dynamic": q.model}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=30, help="timed passes a round")
    parser.add_argument("--level", type=float, default=0.9, help="share of weights pruned")
    args = parser.parse_args(argv)
    import torch

    from engine.training.compress import measure

    torch.set_num_threads(1)
    data, models = variants(args.level)
    sizes = {name: measure.size_bytes(m) for name, m in models.items()}
    pruned_name = next(n for n in models if n.startswith("pruned"))
    csr = measure.csr_bytes(models[pruned_name])
    accuracy = {name: measure.task_metric(m, data)["val_accuracy"] for name, m in models.items()}
    print(
        f"{RECIPE} MLP ({pruned_name} without a fine-tune), {measure.counts(models['dense'])[0]:,} parameters, "
        f"one torch thread ({torch.backends.quantized.engine} int8 kernels); latency: median of {args.rounds} rounds "
        f"of {args.repeats} passes, each round's median"
    )
    for name in models:
        extra = f"; as CSR {csr:,} B ({sizes['dense'] / csr:.2f}x smaller)" if name == pruned_name else ""
        print(
            f"  {name:<13} val accuracy {accuracy[name]:.4f}, size {sizes[name]:>9,} B "
            + ("" if name == "dense" else f"({sizes['dense'] / sizes[name]:.2f}x smaller than dense)")
            + extra
        )
    for rows in (1, measure.LATENCY_ROWS):
        x = measure.latency_batch(data, rows)
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(args.rounds):  # interleaved: a busy moment of the machine hits every variant
            for name, m in models.items():
                times[name].append(measure.latency_ms(m, x, args.repeats))
        med = {name: statistics.median(t) for name, t in times.items()}
        shown = [f"{name} {med[name]:.3f} ms" for name in models]
        shown[1:] = [f"{s} (speed-up {med['dense'] / med[n]:.2f}x)" for s, n in zip(shown[1:], list(models)[1:])]
        print(f"  batch of {rows:>3}: " + ", ".join(shown), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
