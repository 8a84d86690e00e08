"""What the fault-injection benchmark measured each remedy doing to each finding.

``benchmarks/remedy_evidence.py`` trains every faulty benchmark case, then
each remedy its findings offer, at seeds 0, 1 and 2, and writes
``remedy_evidence.json`` beside this file: per finding code, per remedy, in
how many runs with that finding the remedy removed it (``fixed``) out of how
many it was tried on (``tried``), in all and per *syndrome*: the whole set of
warnings and criticals the faulty run raised. Similar runs are those with the
same syndrome where the benchmark has them (raising the learning rate cures
the underfitting of a too-small step, not that of vanishing gradients), and
every run with the finding otherwise. The remedy ranking reads it from here
and nowhere else, so regenerating the file is how a rule's advice changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

PATH = Path(__file__).with_name("remedy_evidence.json")


@dataclass(frozen=True)
class Measured:
    """How often one remedy removed one finding in the benchmark."""

    fixed: int
    tried: int
    same_syndrome: bool = False

    @property
    def rate(self) -> float:
        return self.fixed / self.tried if self.tried else 0.0

    def words(self) -> str:
        alike = "with the same findings" if self.same_syndrome else "with this finding"
        return f"fixed it in {self.fixed} of {self.tried} benchmark runs {alike}"


@cache
def table(path: Path = PATH) -> dict[str, Any]:
    """The whole evidence file (empty when it has not been generated)."""
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def syndrome_key(codes: set[str] | frozenset[str] | list[str]) -> str:
    """How the table names a set of findings: their codes, sorted, joined by '+'."""
    return "+".join(sorted(codes))


def measured(code: str, remedy: str, syndrome: str | None = None) -> Measured | None:
    """What the benchmark measured ``remedy`` doing to ``code`` in runs with the same ``syndrome``
    (a :func:`syndrome_key`), or in every run with ``code`` when it has none such; None when it never
    tried it there."""
    entry = (table().get("codes") or {}).get(code, {}).get(remedy)
    if not entry or not entry.get("tried"):
        return None
    same = (entry.get("with") or {}).get(syndrome) if syndrome else None
    if same and same[1]:
        return Measured(int(same[0]), int(same[1]), same_syndrome=True)
    return Measured(int(entry["fixed"]), int(entry["tried"]))
