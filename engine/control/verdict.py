"""One line in words from a comparison's numbers (:func:`engine.control.compare.summarize_runs`).

It says what a student can trust: which variant did best and by how much;
over several seeds, whether that is more than seed noise (the 95% interval of
the difference excludes zero) or indistinguishable from it; how much sooner
it reached the level the baseline settles at; and, where the baseline
diverged or never learned, what trained instead. The same line is printed
by ``gradclinic compare --wait`` and shown on the Compare page.
"""

from __future__ import annotations

import math
from typing import Any


def verdict(summary: dict[str, Any]) -> str:
    """The best variant against the baseline, in one line."""
    variants = summary["variants"]
    base_label = summary.get("baseline", "baseline")
    base = next((v for v in variants if v["label"] == base_label), None)
    others = [v for v in variants if v["label"] != base_label and v["final"]["mean"] is not None]
    higher = summary["higher_is_better"]
    acc = summary["metric"] == "val_accuracy"
    name = "validation accuracy" if acc else "validation loss"
    if base is None or not others:
        return "not enough finished runs to compare yet"
    best = max(others, key=lambda v: v["final"]["mean"] * (1 if higher else -1))
    if base["final"]["mean"] is None and "diverged" in base["status"]:
        # A diverged baseline has no final number to subtract from: say what trained instead.
        also = [v["label"] for v in variants if v is not base and "diverged" in v["status"]]
        return f"The baseline diverged; {best['label']} trained to a {name} of {_value(best['final']['mean'], acc)}" + (
            f" ({', '.join(also)} diverged too)" if also else ""
        )
    if base["final"]["mean"] is None:
        return "not enough finished runs to compare yet"
    if summary.get("baseline_learned") is False:
        return _never_learned(summary, base, best)
    d = best["final"]["mean"] - base["final"]["mean"]
    change = _change(d, acc)
    ci = best.get("delta_ci")
    if ci is not None:
        interval = f"95% CI {_change(ci['low'], acc, unit=False)} to {_change(ci['high'], acc)}, {ci['n_a']} seeds"
        if not ci["excludes_zero"]:
            return (
                f"{best['label']} is indistinguishable from seed noise: it ended {change} against the baseline "
                f"({interval})"
            )
        return f"{best['label']} ended {change} against the baseline ({interval}){_sooner(summary, base, best)}"
    sooner = _sooner(summary, base, best)
    if sooner:
        return f"{best['label']}{sooner.removeprefix(',')} and ended {change}"
    return f"{best['label']} ended {change} against the baseline"


def _value(x: float, acc: bool) -> str:
    return f"{x:.1%}" if acc else f"{x:.3g}"


def _change(d: float, acc: bool, unit: bool = True) -> str:
    if acc:  # whole points, and a decimal below ten, where seed noise lives
        number = f"{d * 100:+.1f}" if abs(d) < 0.1 else f"{d * 100:+.0f}"
        return f"{number} points" if unit else number
    return f"{d:+.3g} val loss" if unit else f"{d:+.3g}"


def _sooner(summary: dict[str, Any], base: dict[str, Any], best: dict[str, Any]) -> str:
    """', reached the baseline's final level of ... (x) N× sooner', or '' where that is not true or not known."""
    target = summary.get("target")
    base_steps, best_steps = base["steps_to_target"]["mean"], best["steps_to_target"]["mean"]
    if target is None or not base_steps or not best_steps or best_steps >= base_steps:
        return ""
    acc = summary["metric"] == "val_accuracy"
    name = "validation accuracy" if acc else "validation loss"
    return (
        f", reached the baseline's final level of {name} ({_value(target, acc)}) {base_steps / best_steps:.1f}× sooner"
    )


def _never_learned(summary: dict[str, Any], base: dict[str, Any], best: dict[str, Any]) -> str:
    """A chance-level baseline: no speed-up can be measured against it, so say what the best variant did."""
    chance = summary["chance"]
    line = (
        f"The baseline never learned (validation accuracy {base['final']['mean']:.0%}, chance {chance:.0%}); "
        f"{best['label']} ended at {best['final']['mean']:.1%}"
    )
    level = math.floor(best["final"]["mean"] * 10) / 10
    step = best.get("first_step_at", {}).get(f"{level:g}")
    if step is not None and level > chance:
        line += f" and passed {level:.0%} at step {step:,}"
    return line
