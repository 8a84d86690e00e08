"""Runs the probes on a budget: which steps, hooks on and off, what it cost.

The manager is a trainer callback. Its dispatch comes from the probes'
declarations (:mod:`engine.training.probing.base`): each probe runs at the
event it names; activation hooks are attached on the steps where a due probe
reads activations, and a weight snapshot is taken where a due probe needs
one. Probes are grouped into schedule units (their ``group``); each group
gets one interval in steps. The manager times the bare step and each group,
and at every flush asks :mod:`engine.training.probing.planner` for intervals
that keep probes under ``probes.budget`` of the step time, within a floor of
``planner.MIN_RECORDS`` records per group over the run's ``train.steps``
(the budget may only shorten the floor's interval). Fixed intervals
from ``probes.intervals`` bypass the budget (tests, benchmarks, fidelity on
demand). Probes at ``after_eval`` run at every evaluation, outside the budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.config import names
from engine.models.base import trained_layers
from engine.training.events import Callback, Event
from engine.training.probing import planner
from engine.training.probing.base import STEP_EVENTS, Probe
from engine.training.probing.context import ProbeContext

if TYPE_CHECKING:
    from engine.config.recipe import Recipe
    from engine.models.base import ClinicModel


def probe_class(name: str) -> type[Probe]:
    """The probe class defined in ``engine/training/probes/<name>.py``."""
    return names.PROBES.defined(name, Probe, "name")


def load_probes(only: list[str] | None = None, recipe: Recipe | None = None) -> list[Probe]:
    """One instance of every registered probe (or of the named ones); with ``recipe``, those it wants."""
    classes = [probe_class(n) for n in names.PROBES.names() if only is None or n in only]
    return [cls() for cls in classes if recipe is None or cls.wanted(recipe)]


def fixed_intervals() -> dict[str, int]:
    """``probes.intervals`` for every per-step probe from its group's timing-free interval.

    Tests and lessons pass these so that a finding fires (or not) the same way on a busy
    machine as on an idle one.
    """
    return {
        cls.name: planner.FIXED_INTERVALS.get(cls.group, planner.FIXED_DEFAULT)
        for cls in map(probe_class, names.PROBES.names())
        if cls.event in STEP_EVENTS
    }


def _without(got: tuple[np.ndarray, np.ndarray] | None, skipped: Iterable[int]) -> tuple[np.ndarray, np.ndarray] | None:
    """A probe's drained (steps, values) without the rows of the ``skipped`` steps (None when none is left)."""
    skipped = list(skipped)
    if got is None or not skipped:
        return got
    keep = ~np.isin(got[0], skipped)
    return (got[0][keep], got[1][keep]) if keep.any() else None


def _bounds(module: torch.nn.Module, family: str) -> tuple[float, float] | None:
    if family != "saturating":
        return None
    return (0.0, 1.0) if isinstance(module, torch.nn.Sigmoid) else (-1.0, 1.0)


class _Ema:
    def __init__(self, alpha: float = 0.1):
        self.alpha = alpha
        self.value: float | None = None

    def add(self, x: float) -> None:
        self.value = x if self.value is None else (1 - self.alpha) * self.value + self.alpha * x


class ProbeManager(Callback):
    """Schedules, runs and buffers every probe for one model."""

    def __init__(
        self,
        model: ClinicModel,
        budget: float = 0.05,
        fixed: dict[str, int] | None = None,
        probes: list[Probe] | None = None,
        steps: int | None = None,
    ):
        all_probes = probes if probes is not None else load_probes()
        self.budget = budget
        self.fixed = dict(fixed or {})
        # The run's planned steps set the floor: the longest interval any group may get.
        self.floor = planner.floor_interval(steps)
        acts = model.activation_layers()
        self.act_modules = [m for _, m, _ in acts]
        if not self.act_modules:  # nothing to hook (LSTM/GRU): the activation probes have nothing to read
            all_probes = [p for p in all_probes if p.scope != "activation"]
        self.probes = all_probes
        self.ctx = ProbeContext(
            params=[p for _, p in trained_layers(model)],
            act_bounds=[_bounds(m, fam) for _, m, fam in acts],
            families=[fam for _, _, fam in acts],
        )
        self.step_probes = [p for p in self.probes if p.event in STEP_EVENTS]
        self.eval_probes = [p for p in self.probes if p.event is Event.AFTER_EVAL]
        self.groups = planner.order(p.group for p in self.step_probes)
        # What a group needs prepared on the steps it runs: hooks on the activation layers
        # before the forward pass, a copy of the weights before the optimizer step.
        self._hook_groups = frozenset(p.group for p in self.step_probes if p.scope == "activation")
        self._snapshot_groups = frozenset(p.group for p in self.step_probes if p.needs_snapshot)
        self.interval = {g: 1 for g in self.groups}
        self._cost = {g: _Ema() for g in self.groups}
        self._bare_step = _Ema()
        self._hooks: list[Any] = []
        self._due: set[str] = set()
        self._t_step = 0.0
        self._probe_time = 0.0  # in the current step
        self._group_time: dict[str, float] = {}
        self._changed = False
        self._window_probe = 0.0  # since the last flush
        self._window_total = 0.0
        self._last_measured: float | None = None  # the latest measured_overhead(), for schedule()
        self._apply_intervals()

    @classmethod
    def for_recipe(cls, model: ClinicModel, recipe: Recipe) -> ProbeManager:
        """The probes ``recipe`` wants, on its budget and fixed intervals, with the floor of its steps."""
        return cls(
            model, recipe.probes.budget, recipe.probes.intervals, load_probes(recipe=recipe), steps=recipe.train.steps
        )

    def scopes(self) -> dict[str, str]:
        """{statistic: "param" | "activation"} of the per-layer probes, for the store."""
        return {p.name: p.scope for p in self.probes if p.scope != "model"}

    # --- schedule ----------------------------------------------------------

    def _apply_intervals(self) -> None:
        for p in self.step_probes:
            p.interval = self.fixed.get(p.name, self.interval[p.group])
        # Distinct intervals per group, so the per-step due check is a few modulos.
        self._due_checks = tuple(
            (g, tuple(sorted({p.interval for p in self.step_probes if p.group == g}))) for g in self.groups
        )
        # Each event's probes by group, so a step loops over those alone.
        self._slots = {
            e: [(g, [p for p in self.step_probes if p.group == g and p.event is e]) for g in self.groups]
            for e in STEP_EVENTS
        }

    def replan(self, step: int) -> bool:
        """Choose intervals that fit the budget; True when they changed."""
        if step < planner.WARMUP_STEPS or self._bare_step.value is None:
            return False
        new = planner.plan(
            {g: c.value for g, c in self._cost.items()},
            self._bare_step.value,
            self.budget,
            self.interval,
            floor=self.floor,
        )
        changed = new != self.interval
        self._changed = self._changed or changed
        self.interval = new
        self._apply_intervals()
        return changed

    def take_changed(self) -> bool:
        """True once after the intervals changed (the recorder then logs the new plan)."""
        changed, self._changed = self._changed, False
        return changed

    def schedule(self) -> dict[str, Any]:
        """The intervals in force and what the probes cost, for the store and the budget meter.

        The recorder stores this as a ``schedule`` event before the first step and
        again whenever the planner changes an interval (read it back with
        ``store.events(run_id, "schedule")``, column ``payload``). The live share
        of step time spent in probes is the ``probe_overhead`` scalar, written
        at every flush; ``measured_overhead`` here is the last such figure
        before this plan. Shape (numbers are examples)::

            {
              "budget": 0.05,                # probes.budget: the ceiling, a share of step time
              "planned_overhead": 0.02,      # the share the planner aims at (HEADROOM x budget)
              "estimated_overhead": 0.021,   # sum over groups of cost / (interval x step)
              "measured_overhead": 0.024,    # probe time / step time over the last flush window;
                                             # None before any step was timed
              "step_ms": 2.78,               # bare step time (without probes), ms, moving average
              "warmup_steps": 5,             # steps before this that ran every probe, to time them
              "floor_interval": 5,           # the longest interval any group may get: at least
                                             # min_records records over the run's train.steps
              "min_records": 100,
              "intervals": {"grad_norm": 1, "act_mean": 10, ...},  # every per-step probe: every N steps
              "fixed": ["grad_norm"],        # probes whose interval comes from probes.intervals
              "at_eval": ["weights_near_zero"],  # probes run at every evaluation, outside the budget
              "probes": {"grad_norm": {"group": "grads", "event": "after_backward", "scope": "param",
                                       "description": "..."}, ...},  # every probe's declaration
              "groups": {                    # what the planner decides on: one interval per group
                "grads": {"interval": 1, "cost_ms": 0.21, "share": 0.075,
                          "probes": ["grad_max_abs", "grad_norm", "nonfinite"]},
                "activations": {...}, "updates": {...}, "weights": {...}
              },                             # share = cost_ms / (interval x step_ms); cost_ms = 0 until timed
              "group_intervals": {"grads": 1, ...},       # = groups[g]["interval"] (kept for old readers)
              "group_cost_ms": {"grads": 0.21, ...}       # = groups[g]["cost_ms"] (kept for old readers)
            }

        A group absent from ``groups`` has no probe that applies to this model (an
        LSTM has no activation layers to hook). Costs are host-side times: on
        CUDA they measure kernel launches, not device time.
        """
        step_s = self._bare_step.value or 0.0
        groups: dict[str, dict[str, Any]] = {}
        for g in self.groups:
            cost = self._cost[g].value or 0.0
            groups[g] = {
                "interval": self.interval[g],
                "cost_ms": round(cost * 1e3, 4),
                "share": round(planner.share(cost, self.interval[g], step_s), 5),
                "probes": sorted(p.name for p in self.step_probes if p.group == g),
            }
        measured = self._last_measured
        return {
            "budget": self.budget,
            "planned_overhead": round(planner.HEADROOM * self.budget, 5),
            "estimated_overhead": round(sum(v["share"] for v in groups.values()), 5),
            "measured_overhead": None if measured is None or not math.isfinite(measured) else round(measured, 5),
            "step_ms": round(step_s * 1e3, 4),
            "warmup_steps": planner.WARMUP_STEPS,
            "floor_interval": self.floor,
            "min_records": planner.MIN_RECORDS,
            "intervals": {p.name: p.interval for p in self.step_probes},
            "fixed": sorted(n for n in self.fixed if any(p.name == n for p in self.step_probes)),
            "at_eval": sorted(p.name for p in self.eval_probes),
            "probes": {
                p.name: {"group": p.group, "event": p.event.value, "scope": p.scope, "description": p.description}
                for p in self.probes
            },
            "groups": groups,
            "group_intervals": dict(self.interval),
            "group_cost_ms": {g: v["cost_ms"] for g, v in groups.items()},
        }

    def measured_overhead(self) -> float:
        """Probe time / total step time since the last call (the budget meter's figure)."""
        frac = self._window_probe / self._window_total if self._window_total > 0 else math.nan
        self._window_probe = self._window_total = 0.0
        if math.isfinite(frac):
            self._last_measured = frac
        return frac

    # --- events ------------------------------------------------------------
    # Called 4x per step by every trainer: a step with no probe due costs two
    # perf_counter calls and a few comparisons (see benchmarks/overhead.py, variant o).

    def before_step(self, state: Any) -> None:
        step = state.step
        self._t_step = time.perf_counter()
        self._probe_time = 0.0
        self.ctx.step = step
        if step < planner.WARMUP_STEPS:
            due = set(self.groups)
        else:
            due = {g for g, ivs in self._due_checks if any(step % iv == 0 for iv in ivs)}
        self._due = due
        state.eager_forward = False
        if not due:
            return
        self.ctx.new_step(step)
        hooked = next((g for g in self.groups if g in due and g in self._hook_groups), None)
        if hooked is not None:
            state.eager_forward = True  # a compiled forward would not call the hooks
            t = time.perf_counter()
            self._attach_hooks(hooked)
            self._charge(hooked, time.perf_counter() - t)

    def after_forward(self, state: Any) -> None:
        if not self._due:
            return
        self._run(Event.AFTER_FORWARD)
        if self._hooks:
            self._remove_hooks()
            self.ctx.activations = []

    def after_backward(self, state: Any) -> None:
        if not self._due:
            return
        snap = next((g for g in self.groups if g in self._due and g in self._snapshot_groups), None)
        if snap is not None:  # before this event's probes, so that nonfinite can read the norms it measures
            t = time.perf_counter()
            self.ctx.take_snapshot()
            self._charge(snap, time.perf_counter() - t)
        self._run(Event.AFTER_BACKWARD)

    def after_step(self, state: Any) -> None:
        if self._due:
            self.ctx.invalidate()  # the weights moved
            self._run(Event.AFTER_STEP)
            self.ctx.drop_snapshot()
            self.ctx.end_step()
        self._after_step()

    def after_eval(self, state: Any) -> None:
        if not self.eval_probes:
            return
        self.ctx.new_step(state.step)
        for p in self.eval_probes:
            p.record(self.ctx)

    def _after_step(self) -> None:
        total = time.perf_counter() - self._t_step
        self._bare_step.add(max(total - self._probe_time, 1e-9))
        self._window_total += total
        self._window_probe += self._probe_time
        if self._due:
            for g in self._due:
                self._cost[g].add(self._group_time.get(g, 0.0))
            self._group_time = {}
        if self.ctx.step == planner.WARMUP_STEPS:  # costs are known: leave the every-step warm-up at once
            self.replan(self.ctx.step)

    def _charge(self, group: str, seconds: float) -> None:
        self._probe_time += seconds
        self._group_time[group] = self._group_time.get(group, 0.0) + seconds

    def _run(self, event: Event) -> None:
        ctx = self.ctx
        step = ctx.step
        warm = step < planner.WARMUP_STEPS
        for group, probes in self._slots[event]:
            if group not in self._due or not probes:
                continue
            t = time.perf_counter()
            for p in probes:
                if warm or p.due(step):
                    if p.scope == "activation" and len(ctx.activations) != len(self.act_modules):
                        continue  # a hooked layer did not run this step (should not happen)
                    p.record(ctx)
            self._charge(group, time.perf_counter() - t)

    def _attach_hooks(self, group: str) -> None:
        self.ctx.activations = []

        def keep(module: torch.nn.Module, inputs: Any, output: Any) -> None:
            t = time.perf_counter()
            out = output[0] if isinstance(output, tuple) else output
            self.ctx.activations.append(out.detach())
            self._charge(group, time.perf_counter() - t)

        self._hooks = [m.register_forward_hook(keep) for m in self.act_modules]

    def _remove_hooks(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []

    def drain(self, skipped: Iterable[int] = ()) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per-layer statistics buffered since the last drain: {stat: (steps, values[steps x layers])}.

        ``skipped``: steps whose update fp16's loss scaler skipped; their records are dropped (their
        gradients were Inf by design, and the weights did not move).
        """
        out = {}
        for p in self.probes:
            if p.scope != "model":
                got = _without(p.drain(), skipped)
                if got is not None:
                    out[p.name] = got
        return out

    def drain_scalars(self, skipped: Iterable[int] = ()) -> list[tuple[int, str, float]]:
        """Whole-model statistics buffered since the last drain, as (step, name, value) scalars."""
        out = []
        for p in self.probes:
            if p.scope == "model":
                got = _without(p.drain(), skipped)
                if got is not None:
                    steps, values = got
                    out += [(int(s), p.name, float(v)) for s, v in zip(steps, values[:, 0])]
        return out

    def close(self) -> None:
        self._remove_hooks()
