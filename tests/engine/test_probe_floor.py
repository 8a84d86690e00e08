"""The probe budget governs within a floor of records per run; samples/s is the run's average.

A cheap or short run keeps its story: whatever the budget would pick, each probe group
records at least ``planner.MIN_RECORDS`` times over ``train.steps``, with no gap longer
than the floor's interval. The budget still chooses the intervals of a long run.
"""

import time

import numpy as np
import pytest

from engine.config.recipe import load_recipe
from engine.store import Store
from engine.training import session
from engine.training.events import Callback
from engine.training.probing import planner

# --- the planner: pure arithmetic ------------------------------------------------


@pytest.mark.parametrize(("steps", "floor"), [(None, 10000), (12, 1), (199, 1), (250, 2), (800, 5), (10_000, 100)])
def test_the_floor_interval_keeps_at_least_min_records(steps, floor):
    assert planner.floor_interval(steps) == floor
    if steps:
        assert steps // floor >= min(planner.MIN_RECORDS, steps)


def test_a_budget_that_cannot_afford_the_probes_still_gets_the_floor():
    # 10 ms of gradient statistics on a 1 ms step: the budget alone would record every 500 steps.
    starved = planner.plan({"grads": 10e-3}, step_s=1e-3, budget=0.05, current={"grads": 1})
    assert starved == {"grads": 500}
    floored = planner.plan({"grads": 10e-3}, step_s=1e-3, budget=0.05, current={"grads": 1}, floor=5)
    assert floored == {"grads": 5}


def test_under_the_floor_the_budget_picks_only_divisors_of_it():
    # The budget affords every 20 steps, but 20 does not divide 50: a switch between 20 and 50
    # could leave a gap of up to 70. It gets every 50 (every 10 would pass the budget), so that
    # each multiple of 50 stays a record step whatever the interval before or after.
    want_20 = {"grads": 20 * 0.4 * 0.05 * 1e-3 * 0.9}  # just under the cost that fits every 20 steps
    assert planner.plan(want_20, step_s=1e-3, budget=0.05, current={"grads": 1}) == {"grads": 20}
    assert planner.plan(want_20, step_s=1e-3, budget=0.05, current={"grads": 1}, floor=50) == {"grads": 50}
    assert planner.plan(want_20, step_s=1e-3, budget=0.05, current={"grads": 1}, floor=100) == {"grads": 20}
    assert all(50 % n == 0 for n in planner.choices(50))


def test_a_long_run_is_governed_by_the_budget_alone():
    # 9 ms of gradient statistics on a 10 ms step at a 5% budget: every 50 steps (as without a floor),
    # and a run of a million steps (floor: every 10,000) changes nothing.
    costs = {"grads": 9e-3}
    free = planner.plan(costs, step_s=10e-3, budget=0.05, current={"grads": 1})
    long_run = planner.plan(
        costs, step_s=10e-3, budget=0.05, current={"grads": 1}, floor=planner.floor_interval(1_000_000)
    )
    assert free == long_run == {"grads": 50}


# --- real runs on a starved budget ----------------------------------------------


class _Clock(Callback):
    """Wall time from the first step to the end of training, taken outside the recorder."""

    def before_fit(self, state):
        self.start = time.perf_counter()

    def after_fit(self, state):
        self.seconds = time.perf_counter() - self.start


@pytest.fixture(scope="module")
def starved_runs(tmp_path_factory):
    """A cheap 250-step and a cheap 800-step run on a budget so small it would record almost nothing."""
    out = {}
    for steps in (250, 800):
        recipe = load_recipe(
            None,
            [
                f"train.steps={steps}",
                f"train.eval_every={steps // 2}",
                "model.depth=2",
                "model.width=16",
                "data.train_limit=256",
                "probes.budget=0.0001",
            ],
        )
        store = Store(tmp_path_factory.mktemp(f"run{steps}"))
        run_id = store.create_run(recipe.to_dict(), total_steps=steps)
        clock = _Clock()
        summary = session.train(store, run_id, session.prepare(recipe), extra_callbacks=[clock])
        assert summary["status"] == "completed" and summary["steps"] == steps
        out[steps] = (store, run_id, recipe, clock.seconds)
    return out


@pytest.mark.parametrize("steps", [250, 800])
@pytest.mark.parametrize("stat", ["grad_norm", "update_ratio", "act_mean", "weight_norm"])
def test_a_cheap_run_keeps_its_floor_of_records_to_the_end(starved_runs, steps, stat):
    store, run_id, _, _ = starved_runs[steps]
    recorded, _, _ = store.layer_matrix(run_id, stat)
    longest = steps / planner.MIN_RECORDS
    assert len(recorded) >= planner.MIN_RECORDS
    assert np.diff(recorded).max() <= longest + 1, recorded
    assert recorded[-1] > steps - longest - 1, "the floor holds to the end of the run"
    plan = store.events(run_id, kind="schedule").iloc[-1]["payload"]
    assert plan["floor_interval"] == planner.floor_interval(steps)
    assert max(plan["group_intervals"].values()) <= plan["floor_interval"]


def test_samples_per_s_is_the_runs_average(starved_runs):
    store, run_id, recipe, seconds = starved_runs[800]
    speed = store.scalars(run_id, names=["samples_per_s"])["value"].to_numpy()
    measured = 800 * recipe.train.batch_size / seconds
    # The last figure is the whole run's throughput (evaluations included), not the last window's.
    assert measured / 2 <= speed[-1] <= measured * 2, (speed[-1], measured)
