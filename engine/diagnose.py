"""Run every rule over a stored run and keep what they find.

Torch-free: the worker calls :func:`diagnose_into_store` at each evaluation,
and ``gradclinic diagnose`` calls it on any stored run.
"""
from __future__ import annotations

import warnings
from typing import Optional

import pandas as pd

from engine.findings import Finding
from engine.registry import ModuleRegistry
from engine.rules.base import Rule, RunMetrics

RULES = ModuleRegistry("rule", "engine.rules", skip=("base",))
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def load_rules() -> list[Rule]:
    """One instance of every registered rule, with its default thresholds."""
    rules = []
    for name in RULES.names():
        module = RULES.module(name)
        cls = next(v for v in vars(module).values()
                   if isinstance(v, type) and issubclass(v, Rule) and getattr(v, "code", None) == name)
        rules.append(cls())
    return rules


def load_metrics(store, run_id: str) -> RunMetrics:
    """Read one run from the store into the plain tables the rules expect."""
    run = store.get_run(run_id)
    scalars = store.scalars_wide(run_id)
    layers = {}
    for stat in ("grad_norm", "weight_norm", "update_ratio", "nonfinite", "dead_fraction", "saturated_fraction"):
        steps, names, values = store.layer_matrix(run_id, stat)
        if len(steps):
            layers[stat] = pd.DataFrame(values, index=pd.Index(steps, name="step"), columns=names)
    events = store.events(run_id)
    info: dict = {}
    diverged: Optional[int] = None
    if not events.empty:
        data_rows = events[events["kind"] == "data"]
        if len(data_rows):
            info = data_rows.iloc[-1]["payload"] or {}
        div = events[events["kind"] == "diverged"]
        if len(div):
            diverged = int(div.iloc[0]["step"])
    catalogue = store.layers(run_id)
    acts = catalogue[catalogue["kind"] == "activation"] if not catalogue.empty else catalogue
    return RunMetrics(
        scalars=scalars,
        layers=layers,
        recipe=run.get("recipe") or {},
        task=info.get("task", "classification"),
        chance_accuracy=info.get("chance_accuracy"),
        target_variance=info.get("target_variance"),
        act_families=dict(zip(acts.get("name", []), acts.get("family", []))),
        total_steps=int(run.get("total_steps") or 0),
        diverged_step=diverged,
    )


def diagnose(metrics: RunMetrics, rules: list[Rule] | None = None) -> list[Finding]:
    """Every finding the rules make, most severe first."""
    with warnings.catch_warnings():  # all-NaN windows (a diverged run) are expected here
        warnings.simplefilter("ignore", RuntimeWarning)
        found = [f for f in (r.check(metrics) for r in (rules or load_rules())) if f is not None]
    return sorted(found, key=lambda f: (_SEVERITY_ORDER[f.severity], f.first_step))


def diagnose_into_store(store, run_id: str) -> list[dict]:
    """Diagnose a stored run and replace its findings with the result."""
    findings = [f.to_dict() for f in diagnose(load_metrics(store, run_id))]
    store.clear_findings(run_id)
    if findings:
        store.add_findings(run_id, findings)
    return findings
