"""How runs are named on screen and grouped into variants: one home for every run label.

A comparison names its runs after their variant ("baseline", "He init"), and
repeated seeds of a variant as "He init #1", "He init #2": the part before
:data:`SEED_MARK` is the variant, so seeds group back together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SEED_MARK = " #"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1: what drives a terminal


def printable(text: Any) -> str:
    """``text`` safe to print on a terminal: each control character (ESC, newline, NUL) written as its escape.

    New names with control characters are refused (``Store.create_run``); this is for rows
    stored before that, and for any other stored text a command prints.
    """
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(text))


def _text(run: Mapping[str, Any], key: str) -> str | None:
    value = run.get(key)  # a missing name is None in a dict and NaN in a DataFrame row
    return value if isinstance(value, str) and value else None


def display_name(run: Mapping[str, Any], default: str | None = None) -> str:
    """The run's own name, else its recipe's, else ``default`` (its id when none is given)."""
    return (
        _text(run, "name")
        or _text(run, "recipe_name")
        or _text(run, "recipe")
        or default
        or str(run.get("id") or "run")
    )


def run_label(run: Mapping[str, Any]) -> str:
    """A short label for pickers and titles: ``name · id``."""
    return f"{display_name(run, default='run')} · {run['id']}"


def seed_name(label: str, index: int, seeds: int) -> str:
    """The name of a variant's run with seed number ``index`` of ``seeds``."""
    return label if seeds == 1 else f"{label}{SEED_MARK}{index}"


def variant_of(run: Mapping[str, Any]) -> str:
    """The variant a run belongs to: its name without the seed number."""
    return display_name(run).split(SEED_MARK)[0]


def unique_labels(runs: list[Mapping[str, Any]]) -> dict[str, str]:
    """{run id: display name}, with part of the id added where two runs share a name."""
    names = [display_name(r) for r in runs]
    return {str(r["id"]): (f"{n} ({str(r['id'])[:4]})" if names.count(n) > 1 else n) for r, n in zip(runs, names)}
