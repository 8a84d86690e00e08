"""Run every rule over a stored run and keep what they find.

Torch-free: the worker calls :func:`diagnose_into_store` at each evaluation,
and ``gradclinic diagnose`` calls it on any stored run.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from engine.config.names import ALARMS, RULES, severity_rank
from engine.control.watched import is_watched
from engine.diagnosis import code_remedies, remedies
from engine.diagnosis.evidence import syndrome_key
from engine.diagnosis.findings import Finding
from engine.diagnosis.metrics import RunMetrics, load_metrics
from engine.diagnosis.rules.base import Rule

if TYPE_CHECKING:
    from engine.store import Store


def rule_class(name: str) -> type[Rule]:
    """The rule defined in ``engine/diagnosis/rules/<name>.py`` (its ``code`` is the file's name)."""
    return RULES.defined(name, Rule, "code")


def load_rules() -> list[Rule]:
    """One instance of every registered rule, with its default thresholds."""
    return [rule_class(name)() for name in RULES.names()]


def diagnose(metrics: RunMetrics, rules: list[Rule] | None = None) -> list[Finding]:
    """Every finding the rules make, most severe first, each with remedies ranked for the whole set."""
    with warnings.catch_warnings():  # all-NaN windows (a diverged run) are expected here
        warnings.simplefilter("ignore", RuntimeWarning)
        pairs = [(r, f) for r in (rules or load_rules()) if (f := r.check(metrics)) is not None]
    # What fixed a finding depends on what came with it (see engine.diagnosis.evidence): rank again,
    # now that the run's whole syndrome of warnings and criticals is known.
    syndrome = syndrome_key({f.code for _, f in pairs if f.severity in ALARMS})
    # A watched run (gradclinic.watch) has no recipe to override: the same remedies, written as code changes.
    rank = code_remedies.ranked if is_watched(metrics.recipe) else remedies.ranked
    for rule, f in pairs:
        f.remedies = rank(rule.remedies, metrics.recipe, metrics.trials, f.code, syndrome=syndrome)
    return sorted((f for _, f in pairs), key=lambda f: (severity_rank(f.severity), f.first_step))


def diagnose_into_store(store: Store, run_id: str) -> list[dict]:
    """Diagnose a stored run and replace its findings with the result."""
    findings = [f.to_dict() for f in diagnose(load_metrics(store, run_id))]
    store.clear_findings(run_id)
    if findings:
        store.add_findings(run_id, findings)
    return findings
