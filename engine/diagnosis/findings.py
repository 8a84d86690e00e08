"""What a diagnosis says: a finding with its evidence and ranked remedies."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine.config.names import CODES, SEVERITIES


@dataclass
class Remedy:
    """A recipe override the UI can apply with one click, and why it helps."""

    name: str
    set: dict[str, Any]
    why: str
    evidence: str = ""  # what was measured, e.g. "removed it in a 400-step trial on this run"


@dataclass
class Finding:
    """One problem a rule saw in a run: its code, how bad, since when, and the evidence."""

    code: str
    severity: str
    first_step: int
    message: str
    layers: list[str] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    remedies: list[Remedy] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
