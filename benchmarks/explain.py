"""Time to explain 100 digits with integrated gradients (50 steps): the MLP and the CNN.

    python benchmarks/explain.py                 # both models, 7 repeats
    python benchmarks/explain.py --repeats 3 --samples 100 --steps 50

Each model is trained briefly (the weights' values do not change the cost) and explained by
:func:`engine.training.explain.explain`: load the safetensors weights, rebuild the data,
Captum IG in chunks (:func:`~engine.training.explain.chunk_size`), the completeness check,
the summaries. Also timed: Captum's IG alone on the loaded model, in the same chunks. The
baseline, in the same process, is integrated gradients written by hand in plain PyTorch on the
same model and inputs: a 50-point path per sample, one forward and one backward pass per 50
samples, no Captum, no loading. Quoted: the median over repeats of each, and the ratios to
the baseline. All on one torch thread.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.config.recipe import load_recipe  # noqa: E402
from engine.store import Store  # noqa: E402

MODELS = {
    "digits MLP (healthy-mlp)": ("healthy-mlp", []),
    "digits CNN (mlp-vs-cnn's CNN)": ("mlp-vs-cnn", ["model.arch=cnn", "model.depth=3", "model.width=24"]),
}


def bare_ig(model, x, steps: int, chunk: int = 50):
    """Integrated gradients by hand: a left Riemann sum over ``steps`` points from the zero baseline."""
    import torch

    out = []
    with torch.no_grad():
        target = model(x).argmax(-1)
    alphas = (torch.arange(steps, dtype=x.dtype) + 0.5) / steps
    for i in range(0, len(x), chunk):
        xs, t = x[i : i + chunk], target[i : i + chunk]
        path = (alphas.view(-1, 1, *[1] * (xs.ndim - 1)) * xs.unsqueeze(0)).reshape(-1, *xs.shape[1:])
        path.requires_grad_(True)
        score = model(path).gather(1, t.repeat(steps).view(-1, 1)).sum()
        (grad,) = torch.autograd.grad(score, path)
        out.append(xs * grad.view(steps, *xs.shape).mean(0))
    return torch.cat(out)


def measure(name: str, sets: list[str], samples: int, steps: int, repeats: int) -> tuple[float, float, float]:
    """Median seconds of ``gradclinic explain``'s IG, of Captum's IG alone, and of the bare loop."""
    import torch

    from engine.training import session
    from engine.training.explain import _Explained, attribute, chunk_size, explain
    from engine.training.weights import load_weights

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(tmp)
        recipe = load_recipe(name, [*sets, "train.steps=50", "train.eval_every=50"])
        run_id = store.create_run(recipe.to_dict(), total_steps=recipe.train.steps, status="running")
        session.train(store, run_id, session.prepare(recipe))
        prepared = load_weights(store, run_id, "last")
        x = torch.from_numpy(prepared.data.x_val[:samples])
        assert len(x) == samples, f"{name} has only {len(x)} validation samples"
        forward, k = _Explained(prepared.model), chunk_size("ig", steps)
        with torch.no_grad():
            target = prepared.model(x).argmax(-1)
        ours, captum, bare = [], [], []
        for _ in range(repeats):  # interleaved, so a busy moment of the machine hits all three
            t = time.perf_counter()
            explain(store, run_id, "ig", samples=samples, steps=steps)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            for i in range(0, samples, k):
                attribute(forward, "ig", x[i : i + k], target[i : i + k], steps)
            captum.append(time.perf_counter() - t)
            t = time.perf_counter()
            bare_ig(prepared.model, x, steps)
            bare.append(time.perf_counter() - t)
    return statistics.median(ours), statistics.median(captum), statistics.median(bare)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    for label, (name, sets) in MODELS.items():
        ours, captum, bare = measure(name, sets, args.samples, args.steps, args.repeats)
        print(
            f"{label}, {args.samples} samples, IG {args.steps} steps: gradclinic explain {ours:.3f} s "
            f"({ours / bare:.1f}x), Captum IG alone {captum:.3f} s ({captum / bare:.1f}x), "
            f"hand-written IG in plain PyTorch {bare:.3f} s (medians of {args.repeats})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
