"""The probe budget, as pure arithmetic: measured costs in, intervals out.

Each schedule group (the probes that share one interval) has a measured cost
per run of the group and a weight, its share of the budget. The planner picks
for each group the smallest readable interval ("every 20 steps") whose cost,
spread over that many steps, fits the group's share of ``HEADROOM x budget x
step time``. No torch, no timing, no state: the manager measures and calls in.

The budget governs within a floor: in a run of ``train.steps`` steps each group
records at least :data:`MIN_RECORDS` times (every step in a shorter run), so a
cheap or short run keeps its story however fast its steps are. The floor's
interval is the longest any group gets; the budget may only choose shorter ones,
and only divisors of it, so that every multiple of the floor's interval is a
record step whatever the budget chose before or after it: no gap between two
records of a group is longer than the floor's interval.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: Intervals the planner picks from, so the schedule stays readable ("every 20 steps").
NICE_INTERVALS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
#: Share of the budget each group may spend: gradients matter most for diagnosis.
GROUP_WEIGHTS = {"grads": 0.4, "activations": 0.3, "updates": 0.2, "weights": 0.1}
#: The weight of a group not listed above: a new probe group is planned, never refused.
DEFAULT_WEIGHT = 0.1
WARMUP_STEPS = 5  # every group runs on these steps so that its cost is measured
#: Plan for this share of the budget. The budget is a ceiling on everything the engine adds
#: (goal: default budget <= 1.05x a bare loop), and the timed probe work is not all of it:
#: the trainer and recorder with every probe off cost ~1.5% on the 20-layer MLP, and a
#: probe's results cost again at the flush (copied, stored), ~15% on top of its timed work.
HEADROOM = 0.4
#: Intervals by group that do not depend on timing, for tests and lessons whose findings must
#: not depend on how busy the machine is (``probes.intervals``). Unlisted groups get the last.
FIXED_INTERVALS = {"grads": 5, "weights": 5, "updates": 10, "activations": 10}
FIXED_DEFAULT = 10
#: The floor: each group records at least this many times over a run's planned steps.
MIN_RECORDS = 100


def floor_interval(steps: int | None) -> int:
    """The longest interval a group may have in a run of ``steps`` planned steps.

    The largest readable interval at most ``steps / MIN_RECORDS`` (1 for a run of fewer
    than ``2 x MIN_RECORDS`` steps): 250 steps -> every 2, 800 -> every 5, 10,000 -> every
    100. Without ``steps`` (a manager built outside a run) there is no floor.
    """
    if not steps:
        return NICE_INTERVALS[-1]
    return max((n for n in NICE_INTERVALS if n * MIN_RECORDS <= steps), default=1)


def choices(floor: int) -> tuple[int, ...]:
    """The intervals the budget may pick under ``floor``: the readable ones that divide it."""
    return tuple(n for n in NICE_INTERVALS if n <= floor and floor % n == 0)


def weight(group: str) -> float:
    """The group's share of the budget, before normalising over the groups present."""
    return GROUP_WEIGHTS.get(group, DEFAULT_WEIGHT)


def order(groups: Iterable[str]) -> list[str]:
    """Groups by importance (largest budget share first), then by name."""
    return sorted(set(groups), key=lambda g: (-weight(g), g))


def plan(
    costs: Mapping[str, float | None],
    step_s: float,
    budget: float,
    current: Mapping[str, int],
    floor: int = NICE_INTERVALS[-1],
) -> dict[str, int]:
    """The interval for each group in ``current``.

    ``costs``: seconds one run of the group takes (None while unmeasured: the group keeps
    its ``current`` interval); ``step_s``: the bare step time; ``budget``: ``probes.budget``;
    ``floor``: :func:`floor_interval` of the run, which no interval exceeds (a group whose
    cost the budget cannot afford even there gets the floor's interval all the same).
    """
    allowed_intervals = choices(floor)
    allowed = HEADROOM * budget * step_s
    total_weight = sum(weight(g) for g in current) or 1.0
    out = {}
    for g, interval in current.items():
        cost = costs.get(g)
        if cost is None:
            out[g] = interval
            continue
        need = cost / max(allowed * weight(g) / total_weight, 1e-12)
        out[g] = next((n for n in allowed_intervals if n >= need), allowed_intervals[-1])
    return out


def share(cost: float | None, interval: int, step_s: float) -> float:
    """The share of step time a group costs at ``interval``: cost / (interval x step)."""
    return (cost or 0.0) / interval / step_s if step_s else 0.0
