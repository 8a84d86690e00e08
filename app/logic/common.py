"""What every page shows the same way: status badges, whether a run is live, run labels.

Labels themselves come from :mod:`engine.control.labels`, the CLI's too.
"""

from __future__ import annotations

from engine.config.names import TERMINAL
from engine.control.labels import run_label, unique_labels

__all__ = ["STATUS_BADGE", "badge", "is_live", "run_label", "unique_labels"]

STATUS_BADGE = {
    "queued": "⏳ queued",
    "running": "🟢 running",
    "completed": "✅ completed",
    "early_stopped": "⏱️ early stopped",
    "pruned": "✂️ pruned",
    "diverged": "💥 diverged",
    "stopped": "⏹️ stopped",
    "failed": "⛔ failed",
    "crashed": "☠️ crashed",
}


PAUSED_BADGE = "⏸️ paused"


def badge(status: str, paused: bool = False) -> str:
    """A status with an icon, so a crashed or diverged run stands out in any table; a paused running run says so."""
    if paused and status == "running":
        return PAUSED_BADGE
    return STATUS_BADGE.get(status, status)


def is_live(status: str) -> bool:
    """True while a run may still write rows (queued or running)."""
    return status not in TERMINAL
