"""Runs the probes on a budget: which steps, hooks on and off, what it cost.

The manager is a trainer callback. Probes are grouped by what they share
(gradient norms, a weight snapshot, activation hooks); each group gets an
interval in steps. The manager times the bare step and each group, and at
every flush re-plans the intervals so that probes take at most
``probes.budget`` of the step time. Fixed intervals from
``probes.intervals`` bypass the budget (benchmarks, fidelity on demand).
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from engine import names
from engine.events import Callback, Event
from engine.probes.base import Probe, ProbeContext

#: Intervals the planner picks from, so the schedule stays readable ("every 20 steps").
NICE_INTERVALS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
#: Share of the budget each group may spend: gradients matter most for diagnosis.
GROUP_WEIGHTS = {"grads": 0.4, "activations": 0.3, "updates": 0.2, "weights": 0.1}
WARMUP_STEPS = 5  # every group runs on these steps so that its cost is measured
#: Plan for this share of the budget. The budget is a ceiling on everything the engine adds
#: (goal: default budget <= 1.05x a bare loop), and the timed probe work is not all of it:
#: the trainer and recorder with every probe off cost ~1.5% on the 20-layer MLP, and a
#: probe's results cost again at the flush (copied, stored), ~15% on top of its timed work.
HEADROOM = 0.4


def load_probes(only: list[str] | None = None) -> list[Probe]:
    """One instance of every registered probe (or of the named ones)."""
    probes = []
    for name in names.PROBES.names():
        if only is not None and name not in only:
            continue
        module = names.PROBES.module(name)
        cls = next(
            v
            for v in vars(module).values()
            if isinstance(v, type) and issubclass(v, Probe) and v is not Probe and getattr(v, "name", None) == name
        )
        probes.append(cls())
    return probes


def _bounds(module: torch.nn.Module, family: str) -> tuple[float, float] | None:
    if family != "saturating":
        return None
    return (0.0, 1.0) if isinstance(module, torch.nn.Sigmoid) else (-1.0, 1.0)


class _Ema:
    def __init__(self, alpha: float = 0.1):
        self.alpha, self.value = alpha, None

    def add(self, x: float) -> None:
        self.value = x if self.value is None else (1 - self.alpha) * self.value + self.alpha * x


class ProbeManager(Callback):
    """Schedules, runs and buffers every probe for one model."""

    def __init__(self, model, budget: float = 0.05, fixed: dict[str, int] | None = None, probes=None):
        self.probes: list[Probe] = probes if probes is not None else load_probes()
        self.budget = budget
        self.fixed = dict(fixed or {})
        acts = model.activation_layers()
        self.act_modules = [m for _, m, _ in acts]
        self.ctx = ProbeContext(
            params=[p for _, p in model.param_layers()],
            act_bounds=[_bounds(m, fam) for _, m, fam in acts],
            families=[fam for _, _, fam in acts],
        )
        self.groups = sorted({p.group for p in self.probes}, key=list(GROUP_WEIGHTS).index)
        if not self.act_modules:  # nothing to hook (LSTM/GRU): drop the activation probes
            self.probes = [p for p in self.probes if p.scope != "activation"]
            self.groups = [g for g in self.groups if g != "activations"]
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

    # --- schedule ----------------------------------------------------------

    def _apply_intervals(self) -> None:
        for p in self.probes:
            p.interval = self.fixed.get(p.name, self.interval[p.group])
        # Distinct intervals per group, so the per-step due check is a few modulos.
        self._group_ivs = {g: sorted({p.interval for p in self.probes if p.group == g}) for g in self.groups}
        self._due_checks = tuple((g, tuple(self._group_ivs[g])) for g in self.groups)
        # Each group's probes for the event they run at, so a step loops over those alone.
        self._slot = {(g, e): [p for p in self.probes if p.group == g and p.event is e]
                      for g in self.groups for e in {p.event for p in self.probes}}

    def replan(self, step: int) -> bool:
        """Choose intervals that fit the budget; True when they changed."""
        if step < WARMUP_STEPS or self._bare_step.value is None:
            return False
        allowed = HEADROOM * self.budget * self._bare_step.value
        total_weight = sum(GROUP_WEIGHTS[g] for g in self.groups)
        new = {}
        for g in self.groups:
            cost = self._cost[g].value
            if cost is None:
                new[g] = self.interval[g]
                continue
            need = cost / max(allowed * GROUP_WEIGHTS[g] / total_weight, 1e-12)
            new[g] = next((n for n in NICE_INTERVALS if n >= need), NICE_INTERVALS[-1])
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
              "intervals": {"grad_norm": 1, "act_mean": 10, ...},  # every probe: run every N steps
              "fixed": ["grad_norm"],        # probes whose interval comes from probes.intervals
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
        groups = {}
        for g in self.groups:
            cost = self._cost[g].value or 0.0
            groups[g] = {
                "interval": self.interval[g],
                "cost_ms": round(cost * 1e3, 4),
                "share": round(cost / self.interval[g] / step_s, 5) if step_s else 0.0,
                "probes": sorted(p.name for p in self.probes if p.group == g),
            }
        measured = self._last_measured
        return {
            "budget": self.budget,
            "planned_overhead": round(HEADROOM * self.budget, 5),
            "estimated_overhead": round(sum(v["share"] for v in groups.values()), 5),
            "measured_overhead": round(measured, 5) if measured is not None and math.isfinite(measured) else None,
            "step_ms": round(step_s * 1e3, 4),
            "warmup_steps": WARMUP_STEPS,
            "intervals": {p.name: p.interval for p in self.probes},
            "fixed": sorted(n for n in self.fixed if any(p.name == n for p in self.probes)),
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

    def on(self, event: Event, tr) -> None:
        # Called 4x per step by every trainer: a step with no probe due costs two
        # perf_counter calls and a few comparisons (see benchmarks/overhead.py, variant o).
        if event is Event.BEFORE_STEP:
            self._before_step(tr.step)
        elif not self._due:
            if event is Event.AFTER_STEP:
                self._after_step()
        elif event is Event.AFTER_FORWARD:
            if "activations" in self._due:
                self._run("activations", Event.AFTER_FORWARD)
                self._remove_hooks()
                self.ctx.activations = []
        elif event is Event.AFTER_BACKWARD:
            if "updates" in self._due:  # first, so that nonfinite can read the weight norms it measures
                t = time.perf_counter()
                self.ctx.take_snapshot()
                self._charge("updates", time.perf_counter() - t)
            self._run("grads", Event.AFTER_BACKWARD)
        elif event is Event.AFTER_STEP:
            self.ctx.invalidate()  # the weights moved
            self._run("weights", Event.AFTER_STEP)
            self._run("updates", Event.AFTER_STEP)
            self.ctx.drop_snapshot()
            self.ctx.end_step()
            self._after_step()

    def _before_step(self, step: int) -> None:
        self._t_step = time.perf_counter()
        self._probe_time = 0.0
        self.ctx.step = step
        if step < WARMUP_STEPS:
            due = set(self.groups)
        else:
            due = {g for g, ivs in self._due_checks if any(step % iv == 0 for iv in ivs)}
        self._due = due
        if due:
            self.ctx.new_step(step)
        if "activations" in due:
            t = time.perf_counter()
            self._attach_hooks()
            self._charge("activations", time.perf_counter() - t)

    def _after_step(self) -> None:
        total = time.perf_counter() - self._t_step
        self._bare_step.add(max(total - self._probe_time, 1e-9))
        self._window_total += total
        self._window_probe += self._probe_time
        if self._due:
            for g in self._due:
                self._cost[g].add(self._group_time.get(g, 0.0))
            self._group_time = {}
        if self.ctx.step == WARMUP_STEPS:  # costs are known: leave the every-step warm-up at once
            self.replan(self.ctx.step)

    def _charge(self, group: str, seconds: float) -> None:
        self._probe_time += seconds
        self._group_time[group] = self._group_time.get(group, 0.0) + seconds

    def _run(self, group: str, event: Event) -> None:
        if group not in self._due:
            return
        t = time.perf_counter()
        ctx = self.ctx
        step = ctx.step
        warm = step < WARMUP_STEPS
        for p in self._slot.get((group, event), ()):
            if warm or p.due(step):
                if p.scope == "activation" and len(ctx.activations) != len(self.act_modules):
                    continue  # a hooked layer did not run this step (should not happen)
                p.record(ctx)
        self._charge(group, time.perf_counter() - t)

    def _attach_hooks(self) -> None:
        self.ctx.activations = []

        def keep(module, inputs, output):
            t = time.perf_counter()
            out = output[0] if isinstance(output, tuple) else output
            self.ctx.activations.append(out.detach())
            self._charge("activations", time.perf_counter() - t)

        self._hooks = [m.register_forward_hook(keep) for m in self.act_modules]

    def _remove_hooks(self) -> None:
        for h in self._hooks:
            h.remove()
        self._hooks = []

    def drain(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Everything buffered since the last drain: {stat: (steps, values[steps x layers])}."""
        out = {}
        for p in self.probes:
            got = p.drain()
            if got is not None:
                out[p.name] = got
        return out

    def close(self) -> None:
        self._remove_hooks()
