"""Which remedy removes which finding? Measured on the fault-injection suite, written where the ranking reads it.

    python benchmarks/remedy_evidence.py              # every faulty case at seeds 0, 1, 2; writes the table
    python benchmarks/remedy_evidence.py --seeds 0 --only dead --out /tmp/evidence.json
    python benchmarks/remedy_evidence.py --raw runs.json     # also keep every remedied run's outcome
    python benchmarks/remedy_evidence.py --from-raw runs.json  # re-count them without training

For each faulty case of ``benchmarks/diagnosis.py`` at each seed, the case is
trained once as it is. Every warning or critical finding it raises offers
remedies (the rule's list, those that apply to this recipe); each of those
remedies is then trained on the same recipe, seed and data. A remedy
*fixed* a finding when its run ends without that finding as a warning or
critical, and without diverging. Per finding code and remedy, the table
counts fixed and tried runs: in all, per case, and per syndrome (the
faulty run's whole set of warnings and criticals), so that "similar runs"
can mean runs with the same findings.

The result goes to ``engine/diagnosis/remedy_evidence.json``; the remedy
ranking (``engine.diagnosis.remedies.ranked``) offers a remedy for a finding
only where this table (or a trial on the run itself) saw it remove that
finding, most often first, with its count as the evidence a student sees.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from diagnosis import SEEDS, Case, suite  # noqa: E402

from engine.config.names import ALARMS  # noqa: E402
from engine.diagnosis.evidence import PATH  # noqa: E402


def run(args: tuple[Case, int, str, dict]) -> dict:
    """Train ``case`` at ``seed`` with ``sets`` on top (a remedy's overrides, or nothing)."""
    case, seed, home, sets = args
    import torch

    from engine.config.errors import RecipeError
    from engine.config.recipe import load_recipe
    from engine.control.lessons import fixed_probes
    from engine.store import Store
    from engine.training import session

    torch.set_num_threads(1)
    try:
        recipe = load_recipe(case.recipe, list(case.sets)).with_overrides(
            {"seed": seed, **fixed_probes(), "compare": [], **sets}
        )
        with Store(home) as store:
            run_id = store.create_run(recipe.to_dict(), name=case.name, total_steps=recipe.train.steps)
            summary = session.train(store, run_id, session.prepare(recipe))
    except RecipeError as exc:  # a remedy this recipe cannot take: a bug in the remedy, reported, not fatal
        return {"alarms": [], "status": "refused", "error": str(exc), "recipe": {}}
    alarms = {f["code"] for f in summary["findings"] if f["severity"] in ALARMS}
    return {"alarms": sorted(alarms), "status": summary["status"], "recipe": recipe.to_dict()}


def offered(code: str, recipe: dict) -> list[tuple[str, dict]]:
    """Every remedy the rule for ``code`` may offer on this recipe, measured or not: (name, overrides)."""
    from engine.diagnosis import remedies
    from engine.diagnosis.diagnose import rule_class

    built = remedies.ranked(rule_class(code).remedies, recipe)
    return [(r.name, dict(r.set)) for r in built]


def aggregate(rows: list[dict]) -> dict[str, dict[str, dict]]:
    """Per finding code and remedy: fixed and tried counts, per case, and per syndrome (the baseline's
    whole set of warnings and criticals: a remedy for underfitting that works when the step is too
    small need not work when the gradients vanish)."""
    codes: dict[str, dict[str, dict]] = {}
    for row in rows:
        if row["status"] == "refused":
            continue
        syndrome = "+".join(sorted(row["baseline_alarms"]))
        for code in row["answers"]:
            won = row["status"] != "diverged" and code not in row["alarms"]
            e = codes.setdefault(code, {}).setdefault(row["remedy"], {"fixed": 0, "tried": 0, "cases": {}, "with": {}})
            for counts in (e["cases"].setdefault(row["case"], [0, 0]), e["with"].setdefault(syndrome, [0, 0])):
                counts[0] += int(won)
                counts[1] += 1
            e["fixed"] += int(won)
            e["tried"] += 1
    return {k: dict(sorted(v.items())) for k, v in sorted(codes.items())}


class _Pool:
    """``Pool.map`` and ``imap`` over non-daemonic processes (a ProcessPoolExecutor's), or in this
    process for one job: a multiprocessing pool's daemonic workers may not start the DataLoader
    workers that the more_workers remedy asks for."""

    def __init__(self, jobs: int):
        from concurrent.futures import ProcessPoolExecutor

        self._ex = ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn")) if jobs > 1 else None

    def __enter__(self) -> _Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ex is not None:
            self._ex.shutdown()

    def imap(self, fn, items, chunksize: int = 1):
        return (fn(i) for i in items) if self._ex is None else self._ex.map(fn, items)

    def map(self, fn, items, chunksize: int = 1) -> list:
        return list(self.imap(fn, items))


def train_all(cases: list[Case], seeds: list[int], jobs: int) -> list[dict]:
    """Every faulty case at every seed, then each remedy its findings offer: one row per remedied run."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as home, _Pool(jobs) as pool:
        todo = [(c, s) for s in seeds for c in cases]
        bases = pool.map(run, [(c, s, home, {}) for c, s in todo], chunksize=1)
        work, rows = [], []  # one remedied run per (case, seed, remedy), and the codes it answers for
        for (c, s), b in zip(todo, bases):
            per_remedy: dict[str, tuple[dict, list[str]]] = {}
            for code in b["alarms"]:
                for name, sets in offered(code, b["recipe"]):
                    per_remedy.setdefault(name, (sets, []))[1].append(code)
            for name, (sets, answers) in per_remedy.items():
                work.append((c, s, home, sets))
                rows.append(
                    {"case": c.name, "seed": s, "remedy": name, "answers": answers, "baseline_alarms": b["alarms"]}
                )
        print(f"{len(bases)} faulty runs in {time.perf_counter() - t0:.0f}s; training {len(work)} remedied runs")
        for i, r in enumerate(pool.imap(run, work, chunksize=1)):
            rows[i].update(alarms=r["alarms"], status=r["status"], error=r.get("error"))
            if (i + 1) % 25 == 0:
                print(f"  {i + 1}/{len(work)} in {time.perf_counter() - t0:.0f}s", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    p.add_argument("--only", nargs="+", help="fault families to run (vanishing, dead, ...)")
    p.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    p.add_argument("--out", default=str(PATH), help=f"where to write the table (default {PATH.name})")
    p.add_argument("--raw", help="also write every remedied run's outcome to this file")
    p.add_argument("--from-raw", help="re-count a --raw file instead of training")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    if args.from_raw:
        rows = json.loads(Path(args.from_raw).read_text())
    else:
        cases = [c for c in suite() if c.family != "healthy" and (not args.only or c.family in args.only)]
        rows = train_all(cases, args.seeds, args.jobs)
    if args.raw:
        Path(args.raw).write_text(json.dumps(rows))
    table = {
        "generated_by": "python benchmarks/remedy_evidence.py",
        "seeds": sorted({r["seed"] for r in rows}),
        "remedied_runs": len(rows),
        "codes": aggregate(rows),
    }
    Path(args.out).write_text(json.dumps(table, indent=1) + "\n")
    print(f"{len(rows)} remedied runs counted in {time.perf_counter() - t0:.0f}s\n")
    print(f"{'finding':<22} {'remedy':<16} {'fixed':>9}")
    for code, per in table["codes"].items():
        for name, e in sorted(per.items(), key=lambda kv: -kv[1]["fixed"] / kv[1]["tried"]):
            print(f"{code:<22} {name:<16} {e['fixed']:>4} of {e['tried']:<3}")
    refused = [r for r in rows if r["status"] == "refused"]
    for r in refused:
        print(f"REFUSED {r['remedy']} on {r['case']} (seed {r['seed']}): {r['error']}")
    print(f"\nwritten to {args.out}")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
