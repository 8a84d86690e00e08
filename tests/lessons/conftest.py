"""Run a lesson in-process (baseline and every variant) with a temporary store.

Each lesson test runs its recipe once per module through the ``lesson``
fixture factory and asserts the claim the lesson text makes: the problem
shows in the baseline, and the named remedy fixes it, by a stated margin.
Probe intervals are fixed (not budgeted), so which findings fire cannot
depend on how busy the machine is.
"""

import pytest

from engine.control.lessons import LessonResult, fixed_probes, run_lesson
from engine.store import Store


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    cache: dict[str, LessonResult] = {}

    def run(name: str) -> LessonResult:
        if name not in cache:
            store = Store(tmp_path_factory.mktemp(name))
            cache[name] = run_lesson(name, store, overrides=fixed_probes())
            print(f"\n{name} ({cache[name].seconds:.1f}s)\n{cache[name].table()}")
        return cache[name]

    return run
