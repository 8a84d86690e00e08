"""Run a lesson in-process (baseline and every variant) with a temporary store, at seeds 0, 1 and 2.

Each lesson test runs its recipe once per module and seed through the
``lesson`` fixture factory and asserts the claim the lesson text makes: the
problem shows in the baseline, and the named remedy fixes it, by a stated
margin. A claim that holds at one seed is luck, not a lesson, so ``seed`` is
a module-scoped fixture over ``SEEDS`` and every test that uses ``lesson``
runs at each of them (pytest groups a module's tests by seed, so each
lesson trains once per seed). Probe intervals are fixed (not budgeted), so
which findings fire cannot depend on how busy the machine is.
"""

import pytest
import torch

from engine.control.lessons import LessonResult, fixed_probes, run_lesson
from engine.store import Store

SEEDS = [0, 1, 2]


@pytest.fixture(scope="module", params=SEEDS, ids=lambda s: f"seed{s}")
def seed(request) -> int:
    return request.param


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread while a module trains: on a 2-core machine shared with other tests, two
    threads per process oversubscribe the cores and make the runs several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def lesson(tmp_path_factory, seed, one_thread):
    cache: dict[str, LessonResult] = {}

    def run(name: str) -> LessonResult:
        if name not in cache:
            store = Store(tmp_path_factory.mktemp(f"{name}-seed{seed}"))
            cache[name] = run_lesson(name, store, overrides={**fixed_probes(), "seed": seed})
            print(f"\n{name} seed {seed} ({cache[name].seconds:.1f}s)\n{cache[name].table()}")
        return cache[name]

    return run
