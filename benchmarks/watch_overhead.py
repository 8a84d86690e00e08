"""What does ``gradclinic.watch`` cost a user's own loop? Step-time ratios against the same loop bare.

The workloads, the bare loop and the timing are ``benchmarks/overhead.py``'s: every variant is
built once (its own model, optimizer, data and store), then they take turns, one slice of about
``--chunk`` seconds each in an order that rotates every round, for ``--repeats`` rounds; a
variant's ratio is the median over rounds of its slice time over the bare loop's slice in the
same round (paired slices cancel a shared machine's drift).

    (a) the bare PyTorch loop (overhead.py's)
    (w) the same loop with the watch API: ``with gradclinic.watch(model, optimizer) as clinic``
        and ``clinic.step(loss)`` after ``optimizer.step()``, at the default budget (5%) and
        without ``steps=`` (the probes' floor follows the run: every group at least every 10
        steps at first, then at least 25 records a group at any time)
    (l) the same, with ``steps=`` a long run (no floor: the budget alone sets the intervals, as
        overhead.py's (b) runs, whose train.steps is 10 million)
    (b) overhead.py's (b): the engine's own trainer at the default budget, for reference

The watched slices include the recorder's flushes to SQLite and the watch's diagnosis of a
loop that never evaluates. That diagnosis runs every ``DIAGNOSE_EVERY_S`` of wall time; with
the variants taking turns, each watched variant has only its share of the wall time, so the
benchmark stretches that interval by the number of variants: each diagnoses as often per slice
as a run of its own would (the engine's (b), which never evaluates here, never diagnoses).

Run: ``python benchmarks/watch_overhead.py [--repeats R] [--chunk SECONDS] [--workloads mlp20,cnn,lstm]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from overhead import CUDA_ONLY, FIXED, WORKLOADS, BareLoop, EngineLoop, _Clock, paired_medians  # noqa: E402

import gradclinic  # noqa: E402
from engine.config.recipe import load_recipe  # noqa: E402
from engine.watch import session  # noqa: E402

VARIANTS = {
    "a": "bare PyTorch loop",
    "w": "bare loop + gradclinic.watch, default budget (5%), no steps= (the floor follows the run)",
    "l": "bare loop + gradclinic.watch, default budget (5%), steps=10,000,000 (no floor)",
    "b": "engine trainer, default budget (5%): overhead.py's (b)",
}


class WatchedLoop(BareLoop):
    """overhead.py's bare loop with the watch API's two lines."""

    def __init__(self, recipe, home: Path, steps: int | None):
        super().__init__(recipe)
        self.clinic = gradclinic.watch(self.model, self.opt, home=home, steps=steps, quiet=True).__enter__()

    def advance(self, steps: int) -> None:
        model, opt, crit, clinic = self.model, self.opt, self.crit, self.clinic
        for _ in range(steps):
            x, y = self.batches.next()
            loss = crit(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            clinic.step(loss)

    def close(self) -> None:
        self.clinic.__exit__(None, None, None)


def build(key: str, recipe, where: Path):
    if key == "a":
        return BareLoop(recipe)
    if key == "b":
        return EngineLoop(recipe, FIXED["b"], where)
    return WatchedLoop(recipe, where, None if key == "w" else 10_000_000)


def run_workload(name: str, rounds: int, chunk_s: float, device: str, keys: list[str]) -> dict:
    recipe = load_recipe(
        None, WORKLOADS[name] + ["train.steps=10000000", "train.eval_every=10000000", f"train.device={device}"]
    )
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in keys}
    intervals: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="gradclinic-watch-overhead-") as tmp:
        variants = {k: build(k, recipe, Path(tmp) / k) for k in keys}
        try:
            clock = _Clock(variants["a"].device)
            for v in variants.values():  # warm-up: allocator, lazy imports, the first plan
                v.advance(20)
            clock.start()
            variants["a"].advance(20)
            clock.stop()
            steps = max(5, round(chunk_s / (clock.wall / 20)))
            for r in range(rounds):
                order = keys[r % len(keys) :] + keys[: r % len(keys)]
                for key in order:
                    clock.start()
                    variants[key].advance(steps)
                    clock.stop()
                    times[key].append((clock.wall / steps, clock.cpu / steps))
            for k in keys:
                if k in ("w", "l"):
                    probes = variants[k].clinic.probes
                    intervals[k] = dict(probes.interval) if probes is not None else {}
        finally:
            for v in variants.values():
                v.close()
    out: dict = paired_medians(times, keys)
    out["steps"] = steps
    out["intervals"] = intervals
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=15, help="alternated rounds (default 15)")
    parser.add_argument("--chunk", type=float, default=0.6, help="seconds of bare loop per slice (default 0.6)")
    parser.add_argument("--workloads", default="mlp20,cnn,lstm,resnet")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda (resnet always needs cuda)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--variants", default="awlb")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    keys = ["a"] + [k for k in args.variants if k in VARIANTS and k != "a"]
    session.DIAGNOSE_EVERY_S *= len(keys)  # each watched variant runs a 1/len(keys) share of the wall time
    cuda = torch.cuda.is_available() and args.device in ("auto", "cuda")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, "
        f"device={'cuda: ' + torch.cuda.get_device_name() if cuda else args.device}, "
        f"{args.repeats} alternated rounds of ~{args.chunk:g} s slices; median paired step-time ratio vs (a)"
    )
    rows = []
    for name in args.workloads.split(","):
        if name in CUDA_ONLY and not cuda:
            rows.append((name, None, f"skipped: {name} runs on CUDA only, and no CUDA device is available"))
            continue
        device = "cuda" if name in CUDA_ONLY else args.device
        res = run_workload(name, args.repeats, args.chunk, device, keys)
        rows.append((name, res, ""))
        print(f"  {name} done ({res['steps']} steps a slice); watch intervals {res['intervals']}", file=sys.stderr)
    shown = [k for k in keys if k != "a"]
    for title, i in (("wall-clock time", 0), ("process CPU time", 1)):
        print(f"\n{title}:")
        print(f"{'workload':<8} {'(a) ms/step':>11} " + " ".join(f"{'(' + k + ')':>7}" for k in shown))
        for name, res, note in rows:
            if res is None:
                print(f"{name:<8} {note}")
                continue
            print(f"{name:<8} {res['a_ms'][i]:>11.3f} " + " ".join(f"{res[k][i]:>7.3f}" for k in shown))
    print()
    for k in keys:
        print(f"({k}) {VARIANTS[k]}")
    print("goal (CPU): (w) <= 1.05 at the default budget")


if __name__ == "__main__":
    main()
