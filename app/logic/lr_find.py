"""The Launch page's range test, as plain decisions: what "Use it" sets and how the result reads.

No Streamlit, so it is tested as plain Python; :mod:`app.widgets.lr_find` draws it.
"""

from __future__ import annotations

from typing import Any

from app.logic import toggles
from engine.tuning.lr_find import LrFindResult


def use_it_sets(sets: dict[str, Any], result: LrFindResult) -> list[str]:
    """The page's overrides with ``train.lr`` set to the suggestion, as the URL's ``set=key=value`` items."""
    if result.suggestion is None:
        raise ValueError("this range test has no suggestion to use")
    return [toggles.encode(k, v) for k, v in {**sets, "train.lr": result.suggestion}.items()]


def verdict(result: LrFindResult, current_lr: float) -> str:
    """One sentence: the suggestion, its band over the seeds, and where the setup's own rate sits."""
    if result.suggestion is None or not result.band:
        return (
            f"The loss never fell over the ramp ({result.start:g} to {result.end:g}): no rate to suggest. "
            "The problem is probably not the learning rate; look at the init, the activation or the depth."
        )
    lo, hi = result.band
    seeds = ", ".join(map(str, result.seeds))
    head = f"Suggested **train.lr = {result.suggestion:g}** (band {lo:g} to {hi:g} over seeds {seeds})."
    if lo <= current_lr <= hi:
        where = f"The setup's {current_lr:g} is inside the band."
    elif current_lr > hi:
        where = f"The setup's {current_lr:g} is {current_lr / hi:.2g}x above the band."
    else:
        where = f"The setup's {current_lr:g} is {lo / current_lr:.2g}x below the band."
    stop = f" The loss diverged from {result.stopped_at:g}." if result.stopped_at is not None else ""
    return f"{head} {where}{stop}"


def progress_text(stage: str, seconds: float) -> str:
    """The progress bar's label: where the job is and how long it has run."""
    return f"Range test: {stage} · {seconds:.0f} s"
