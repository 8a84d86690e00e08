"""The learning-rate range test's chart: smoothed loss against the rate, one line per seed, the band shaded.

Plain plotly over the result's JSON (``gradclinic lr-find --json``), no Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from .theme import log_axis, pow10_label, run_colour, run_dash, style

__all__ = ["lr_find_figure"]

BAND_COLOUR = "rgba(0, 158, 115, 0.18)"  # Okabe-Ito's bluish green, faint: the band sits behind the lines
MARK_COLOUR = "#009E73"


def lr_find_figure(result: Mapping[str, Any], *, presentation: bool = False) -> go.Figure:
    """Loss against learning rate on a log x axis: each seed's smoothed curve, the band, the suggestion.

    The y axis stops a little above the highest starting loss, so the blow-up at the end of the
    ramp (its ×4 stop) does not squash the part of the curve that matters.
    """
    fig = go.Figure()
    starts, lows = [], []
    for i, curve in enumerate(result.get("per_seed") or []):
        pts = [(x, y) for x, y in zip(curve["lr"], curve["loss"]) if y is not None and math.isfinite(y)]
        if not pts:
            continue
        xs, ys = zip(*pts)
        starts.append(ys[0])
        lows.append(min(ys))
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name=f"seed {curve['seed']}",
                line=dict(color=run_colour(i), dash=run_dash(i), width=2.5),
                hovertemplate="lr %{x:.3g}<br>loss %{y:.4g}<extra>seed " + str(curve["seed"]) + "</extra>",
            )
        )
        if curve.get("stopped_at") is not None:
            fig.add_trace(
                go.Scatter(
                    x=[xs[-1]],
                    y=[ys[-1]],
                    mode="markers",
                    marker=dict(symbol="x", size=12, color=run_colour(i)),
                    name=f"seed {curve['seed']} diverged",
                    showlegend=False,
                    hovertemplate="diverged at lr %{x:.3g}<extra></extra>",
                )
            )
    band, suggestion = result.get("band"), result.get("suggestion")
    if band:
        fig.add_vrect(x0=band[0], x1=band[1], fillcolor=BAND_COLOUR, line_width=0, layer="below")
    if suggestion:
        fig.add_vline(x=suggestion, line=dict(color=MARK_COLOUR, dash="dash", width=2.5))
        fig.add_annotation(
            x=math.log10(suggestion),
            y=1.0,
            yref="paper",
            text=f"suggested {pow10_label(suggestion)}",
            showarrow=False,
            yanchor="bottom",
            font=dict(color=MARK_COLOUR),
        )
    title = "Loss against learning rate (range test)"
    if band:
        title += f" · band {pow10_label(band[0])} to {pow10_label(band[1])}"
    fig.update_layout(title=dict(text=title), hovermode="closest")
    fig.update_xaxes(title_text="learning rate (log scale)")
    fig.update_yaxes(title_text="training loss (smoothed)")
    start, end = result.get("start") or 1e-6, result.get("end") or 10.0
    log_axis(fig, "x", span_decades=math.log10(end / start), range=[math.log10(start), math.log10(end)])
    if starts:
        lo, hi = min(lows), max(starts)
        pad = 0.05 * (hi - lo or 1.0)
        fig.update_yaxes(range=[max(0.0, lo - pad), hi * 1.3])
    return style(fig, presentation=presentation)
