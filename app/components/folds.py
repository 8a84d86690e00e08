"""A cross-validation's folds: each fold's result as a point, per variant, beside the mean and its interval.

Input is the summary :func:`engine.control.cv.summarize` returns (the Compare view's
``ComparisonView.cv``). One column per variant, in the summary's order and in the variant's
run colour (``theme.run_colour``, as the seed-band curves colour variants): its folds as dots
on the left, in fold order, so fold 3 sits at the same place in every column and a remedy's
paired change can be read fold by fold; on the right, the mean as a diamond with its 95%
interval as an error bar. Plain plotly, no Streamlit.
"""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from .theme import empty_figure, run_colour, style

__all__ = ["fold_points", "fold_title"]

# Horizontal layout inside a variant's column (x = its index, its label under the middle): the
# folds fan out leftwards from DOTS_RIGHT, DOT_GAP apart, and from seven folds on (10-fold, or
# repeats) they share the widest span DOTS_SPAN; the mean and its interval stand clear at MEAN_AT.
DOTS_RIGHT, DOT_GAP, DOTS_SPAN, MEAN_AT = 0.02, 0.07, 0.4, 0.22


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _split_words(summary: dict[str, Any]) -> str:
    """``5 folds`` or ``5 folds × 2 repeats``: what one column's dots are."""
    folds, repeats = int(summary.get("folds") or 0), int(summary.get("repeats") or 1)
    return f"{folds} folds" + (f" × {repeats} repeats" if repeats > 1 else "")


def fold_title(summary: dict[str, Any]) -> str:
    """``Validation accuracy on each of 5 folds: mean and 95% interval`` (the chart's one-line title)."""
    metric = "accuracy" if summary.get("metric") == "val_accuracy" else "loss"
    return f"Validation {metric} on each of {_split_words(summary)}: mean and 95% interval"


def _offsets(n: int) -> list[float]:
    """Where ``n`` dots sit in their column, evenly and always the same: no random jitter to move on a refresh."""
    if n <= 1:
        return [DOTS_RIGHT - DOT_GAP] * n
    span = min(DOTS_SPAN, DOT_GAP * (n - 1))
    return [DOTS_RIGHT - span + span * j / (n - 1) for j in range(n)]


def fold_points(summary: dict[str, Any], *, presentation: bool = False) -> go.Figure:
    """Each fold's validation metric as a dot per variant, and each variant's mean with its 95% interval.

    Folds without a value yet (a run still training, or one that crashed) are left out; a
    variant with one finished fold gets its mean and no interval; with no value anywhere the
    figure says it is waiting. Accuracy is shown in %, as on the other Compare charts; hovering
    a dot names its fold, its run and its value.
    """
    acc = summary.get("metric") == "val_accuracy"
    scale, unit = (100.0, "%") if acc else (1.0, "")
    y_label = "val accuracy (%)" if acc else "val loss"
    title = fold_title(summary) if summary else "Validation on each fold: mean and 95% interval"
    variants = list(summary.get("variants") or [])
    if not any(_is_number(f.get("value")) for v in variants for f in v.get("folds", ())):
        return empty_figure(
            title, "waiting for the first fold to finish", x_label="", y_label=y_label, presentation=presentation
        )

    def shown(x: float) -> str:
        return f"{x * scale:.1f}{unit}" if acc else f"{x:.4g}"

    dot, diamond = (13, 20) if presentation else (9, 14)
    fig = go.Figure()
    for i, v in enumerate(variants):
        colour, label = run_colour(i), str(v["label"])
        folds = sorted(v.get("folds", ()), key=lambda f: (f.get("repeat", 0), f.get("index", 0)))
        placed = [(i + dx, f) for dx, f in zip(_offsets(len(folds)), folds) if _is_number(f.get("value"))]
        fig.add_trace(
            go.Scatter(
                x=[x for x, _ in placed],
                y=[f["value"] * scale for _, f in placed],
                mode="markers",
                name=label,
                legendgroup=label,
                marker=dict(color=colour, size=dot, opacity=0.8, line=dict(width=1, color="white")),
                customdata=[[f["fold"], f["run"], shown(f["value"])] for _, f in placed],
                hovertemplate=f"<b>{label}</b><br>%{{customdata[0]}} · run %{{customdata[1]}}"
                "<br>%{customdata[2]}<extra></extra>",
            )
        )
        if not _is_number(v.get("mean")):
            continue
        ci, mean = v.get("ci"), float(v["mean"])
        interval = f"95% CI {shown(ci['low'])} to {shown(ci['high'])}" if ci else "one fold: no interval"
        fig.add_trace(
            go.Scatter(
                x=[i + MEAN_AT],
                y=[mean * scale],
                mode="markers",
                name=f"{label}: mean",
                legendgroup=label,
                marker=dict(color=colour, size=diamond, symbol="diamond", line=dict(width=1.5, color="#222")),
                error_y=(
                    dict(
                        type="data",
                        symmetric=False,
                        array=[(ci["high"] - mean) * scale],
                        arrayminus=[(mean - ci["low"]) * scale],
                        color=colour,
                        thickness=3 if presentation else 2,
                        width=diamond * 0.6,
                    )
                    if ci
                    else dict(visible=False)
                ),
                hovertemplate=f"<b>{label}</b><br>mean {shown(mean)} over {v.get('n', 0)} folds"
                f"<br>{interval}<extra></extra>",
            )
        )
    fig.update_layout(title=dict(text=title), showlegend=False, hovermode="closest")
    fig.update_xaxes(
        title_text="",
        tickmode="array",
        tickvals=list(range(len(variants))),
        ticktext=[str(v["label"]) for v in variants],
        range=[-0.55, len(variants) - 0.45],
        showgrid=False,
        zeroline=False,
    )
    fig.update_yaxes(title_text=y_label)
    return style(fig, presentation=presentation)
