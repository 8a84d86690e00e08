"""An ensemble's validation metric against its number of members, beside each member alone.

Input is the summary :func:`engine.control.ensemble.summarize` returns (the Compare view's
``ComparisonView.ensemble``). x is the number of members (1..N, whole numbers): a line with
markers for the ensemble of the first *m* members, each member's own metric as a marker of
another colour and shape ("each member alone"), and a dotted line at the first member's value
("first member"), so the gain of combining reads off against a single network and against the
spread of the members. Accuracy is shown in %, as on the other Compare charts; an MSE as it
is, lower being better. Plain plotly, no Streamlit.
"""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from .theme import empty_figure, run_colour, style

__all__ = ["members_curve", "members_title"]


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def members_title(summary: dict[str, Any]) -> str:
    """``Bagging: validation accuracy against members`` (the chart's one-line title)."""
    method = str(summary.get("method") or "ensemble").capitalize()
    metric = "accuracy" if summary.get("metric") == "val_accuracy" else "MSE"
    return f"{method}: validation {metric} against members"


def members_curve(summary: dict[str, Any], *, presentation: bool = False) -> go.Figure:
    """The ensemble's metric with 1..m members as a line, each member's own as markers, first member dotted.

    Points without a value (a member that diverged, an ensemble with no usable member yet)
    are left out; with no value at all the figure says it is waiting. Hovering names the
    member's run and, for boosting, its vote weight.
    """
    acc = summary.get("metric") == "val_accuracy"
    scale = 100.0 if acc else 1.0
    y_label = "val accuracy (%)" if acc else "val MSE (lower is better)"
    title = members_title(summary)
    curve = sorted(summary.get("curve") or [], key=lambda c: c.get("members", 0))
    if not any(_is_number(c.get("value")) or _is_number(c.get("member_value")) for c in curve):
        waiting = "waiting for the first member to finish"
        return empty_figure(title, waiting, x_label="members", y_label=y_label, presentation=presentation)

    def shown(x: float) -> str:
        return f"{x * scale:.1f}%" if acc else f"{x:.4g}"

    def extra(c: dict) -> str:
        alpha = c.get("alpha")
        return f" · vote weight {alpha:.2f}" if _is_number(alpha) else ""

    line, dot = (4, 14) if presentation else (2.5, 9)
    fig = go.Figure()
    together = [c for c in curve if _is_number(c.get("value"))]
    fig.add_trace(
        go.Scatter(
            x=[c["members"] for c in together],
            y=[c["value"] * scale for c in together],
            mode="lines+markers",
            name="the ensemble",
            line=dict(color=run_colour(0), width=line),
            marker=dict(color=run_colour(0), size=dot),
            customdata=[[shown(c["value"])] for c in together],
            hovertemplate="ensemble of %{x}: %{customdata[0]}<extra></extra>",
        )
    )
    alone = [c for c in curve if _is_number(c.get("member_value"))]
    fig.add_trace(
        go.Scatter(
            x=[c["members"] for c in alone],
            y=[c["member_value"] * scale for c in alone],
            mode="markers",
            name="each member alone",
            marker=dict(
                color=run_colour(1), size=dot, symbol="diamond-open", line=dict(width=3 if presentation else 2)
            ),
            customdata=[[shown(c["member_value"]), str(c.get("run", "")), extra(c)] for c in alone],
            hovertemplate="member %{x} alone: %{customdata[0]} · run %{customdata[1]}%{customdata[2]}<extra></extra>",
        )
    )
    single = summary.get("single")
    if single is not None and _is_number(single):
        fig.add_hline(
            y=single * scale,
            line=dict(color="#666", dash="dot", width=2 if presentation else 1.5),
            annotation_text="first member",
            annotation_position="bottom right",
            annotation_font_color="#555",
        )
    planned = max(int(summary.get("members") or 0), max((int(c.get("members", 0)) for c in curve), default=1))
    fig.update_layout(title=dict(text=title), hovermode="x unified")
    fig.update_xaxes(
        title_text="members",
        tickmode="linear",
        tick0=1,
        dtick=1 if planned <= 16 else 2,
        range=[0.5, planned + 0.5],
        zeroline=False,
    )
    fig.update_yaxes(title_text=y_label)
    return style(fig, presentation=presentation)
