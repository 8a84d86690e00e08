"""Per-layer bar charts at one step: a statistic per layer, dead and saturated units.

Layers run left to right from input to output, matching the heatmaps, where
they run bottom to top.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from .theme import empty_figure, log_axis, pow10_label, run_colour, style, with_step

__all__ = ["layer_bar", "activation_fractions"]

_LAYER_AXIS = "layer (input → output)"


def _fmt(v: float) -> str:
    return "no value" if np.isnan(v) else pow10_label(v, 3)


def _layer_xaxis(fig: go.Figure, names: list[str]) -> None:
    # Category order fixed to the given order; long lists get slanted labels.
    fig.update_xaxes(
        title_text=_LAYER_AXIS,
        type="category",
        categoryorder="array",
        categoryarray=names,
        tickangle=-45 if len(names) > 8 else 0,
    )


def layer_bar(
    layer_names: Sequence[str],
    values,
    *,
    step: int | None,
    title: str,
    y_label: str,
    log_y: bool = True,
    presentation: bool = False,
) -> go.Figure:
    """One bar per layer for a statistic at one ``step`` (input layer on the left).

    Values that a log axis cannot show (exact 0) and values that are not
    numbers (NaN, ±inf) get no bar; they are listed in a note under the
    title instead, so a dead or diverged layer is named rather than silently
    missing. Hover shows the real value.
    """
    names = [str(n) for n in layer_names]
    v = np.asarray(values, dtype=float).ravel()
    full_title = with_step(title, step)
    if not names or v.size == 0:
        return empty_figure(full_title, x_label=_LAYER_AXIS, y_label=y_label, presentation=presentation)
    if v.size != len(names):
        raise ValueError(f"{len(names)} layer names but {v.size} values")
    drawable = np.isfinite(v) & ((v > 0) if log_y else True)
    fig = go.Figure(
        go.Bar(
            x=names,
            y=np.where(drawable, v, np.nan),
            marker_color=run_colour(0),
            text=[_fmt(x) for x in v],
            textposition="none",
            hovertemplate="<b>%{x}</b><br>" + y_label + " = %{text}<extra></extra>",
        )
    )
    notes = []
    for word, mask in (
        ("exactly 0", v == 0),
        ("NaN", np.isnan(v)),
        ("inf", np.isinf(v)),
        ("≤ 0 (not on a log axis)", log_y & np.isfinite(v) & (v < 0)),
    ):
        if mask.any():
            hit = [n for n, m in zip(names, mask) if m]
            shown = ", ".join(hit[:4]) + (f" … (+{len(hit) - 4})" if len(hit) > 4 else "")
            notes.append(f"{word}: {shown}")
    if notes:
        fig.add_annotation(
            text="no bar for " + "; ".join(notes),
            x=0,
            xref="paper",
            xanchor="left",
            y=1.0,
            yref="paper",
            yanchor="bottom",
            showarrow=False,
            font=dict(color="#B00020"),
        )
    fig.update_layout(title=dict(text=full_title), showlegend=False, hovermode="closest")
    _layer_xaxis(fig, names)
    fig.update_yaxes(title_text=y_label)
    if log_y:
        # Log bars grow from the bottom of the range: start it half a decade
        # below the smallest bar so that bar is still visible.
        logs = np.log10(v[drawable]) if drawable.any() else np.zeros(1)
        lo, hi = logs.min() - 0.5, logs.max() + 0.3
        lo = min(lo, np.floor(hi))  # at least one whole decade inside, so the axis has a 10ⁿ label
        log_axis(fig, "y", span_decades=hi - lo, range=[lo, hi])
    return style(fig, presentation=presentation)


def activation_fractions(
    layer_names: Sequence[str], dead, saturated, *, step: int | None, presentation: bool = False
) -> go.Figure:
    """Grouped bars of dead % and saturated % per activation layer, y from 0 to 100 %.

    ``dead`` and ``saturated`` are fractions in [0, 1], one per layer; NaN
    means "not measured for this layer" (e.g. ReLU cannot saturate) and gives
    no bar. A unit is dead when it never fires on a batch, and saturated
    when it sits on a flat part of its activation (e.g. sigmoid near 0 or 1).
    """
    names = [str(n) for n in layer_names]
    title = "Dead / saturated units"
    title = with_step(title, step)
    y_label = "share of units (%)"
    dead = np.asarray(dead, dtype=float).ravel() * 100.0
    saturated = np.asarray(saturated, dtype=float).ravel() * 100.0
    if not names or (dead.size == 0 and saturated.size == 0):
        return empty_figure(title, x_label=_LAYER_AXIS, y_label=y_label, presentation=presentation)
    fig = go.Figure()
    for label, pct, colour in (("dead", dead, "#000000"), ("saturated", saturated, run_colour(1))):
        if pct.size == 0:
            continue
        if pct.size != len(names):
            raise ValueError(f"{len(names)} layer names but {pct.size} {label} values")
        fig.add_trace(
            go.Bar(
                x=names,
                y=np.where(np.isfinite(pct), pct, np.nan),
                name=f"{label} (%)",
                marker_color=colour,
                text=[_fmt(p) for p in pct],
                textposition="none",
                hovertemplate="<b>%{x}</b><br>" + label + " = %{text} %<extra></extra>",
            )
        )
    fig.update_layout(title=dict(text=title), barmode="group", hovermode="closest")
    both = np.concatenate([dead, saturated])
    if both.size and np.nanmax(np.where(np.isfinite(both), both, 0.0)) < 0.5:
        # Zero-height bars look like a broken chart: say plainly that every layer is healthy.
        fig.add_annotation(
            text="No dead or saturated units: every layer is at 0 %",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5,
        )
    _layer_xaxis(fig, names)
    fig.update_yaxes(title_text=y_label, range=[0, 100], ticksuffix=" %")
    fig = style(fig, presentation=presentation)
    # Rotated layer names fill the space under the plot, so this legend sits inside it, top right,
    # where bars rarely reach (the y axis runs to 100 %).
    fig.update_layout(legend=dict(orientation="h", x=1.0, xanchor="right", y=0.98, yanchor="top"))
    return fig
