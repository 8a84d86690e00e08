"""The Explain page's layer conductance charts: how much of the output flows through each layer, and each unit.

Plain plotly over ``gradclinic explain --method layer_conductance --json``. The per-layer bars
are the Live page's (:func:`.bars.layer_bar`): input on the left, a log axis when the layers
span decades (a vanishing network's first layers conduct 10⁻¹⁹), zeros named, not dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go

from . import bars
from .theme import log_axis, style

__all__ = ["conductance_range", "conductance_bars", "unit_bars"]

RED, BLUE = "#B2182B", "#2166AC"  # the ends of the diverging scale (RdBu): toward the output, against it


def _title(text: str, name: str | None) -> str:
    return f"{name} · {text}" if name else text


def conductance_range(results: Iterable[Mapping[str, Any]]) -> tuple[bool, tuple[float, float] | None]:
    """(a log axis?, its log10 range) shared by every result's per-layer bars: log when they span decades."""
    v = np.concatenate([[layer["mean_abs"] for layer in r["layers"]] for r in results] or [[]])
    v = np.asarray(v, dtype=float)
    positive = v[np.isfinite(v) & (v > 0)]
    if positive.size == 0:
        return False, None
    lo, hi = np.log10(positive.min()), np.log10(positive.max())
    if hi - lo < 2 and positive.size == v.size:
        return False, None
    return True, (float(lo - 0.5), float(hi + 0.3))


def conductance_bars(
    result: Mapping[str, Any],
    *,
    log_y: bool | None = None,
    y_range: tuple[float, float] | None = None,
    name: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Mean |conductance| per unit of each activation layer, input → output (the Live page's layer bars)."""
    layers = result["layers"]
    shared_log, own = conductance_range([result])
    log_y = shared_log if log_y is None else log_y
    fig = bars.layer_bar(
        [layer["layer"] for layer in layers],
        [layer["mean_abs"] for layer in layers],
        step=None,
        title=_title("Conductance per layer", name),
        y_label="mean |conductance| per unit" + (" (log)" if log_y else ""),
        log_y=log_y,
        presentation=presentation,
    )
    span = y_range or own
    if log_y and span is not None:
        log_axis(fig, "y", span_decades=span[1] - span[0], range=list(span))
    return fig


def unit_bars(result: Mapping[str, Any], *, name: str | None = None, presentation: bool = False) -> go.Figure:
    """The chosen layer's units by mean conductance (signed), largest first: red toward the output, blue against."""
    units = result["neurons"]
    mean = np.asarray(units["mean"], dtype=float)
    order = np.argsort(-mean, kind="stable")
    labels = [f"#{i}" for i in order]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=mean[order],
            marker_color=[RED if m >= 0 else BLUE for m in mean[order]],
            customdata=np.asarray(units["mean_abs"], dtype=float)[order],
            hovertemplate="unit %{x}<br>mean %{y:.3g}, mean |·| %{customdata:.3g}<extra></extra>",
        )
    )
    fig.update_layout(title={"text": _title(f"Units of {units['layer']}", name)}, showlegend=False, hovermode="closest")
    fig.update_xaxes(title_text="unit (largest mean conductance first)", type="category", tickangle=-90)
    fig.update_yaxes(title_text="mean conductance", zeroline=True, zerolinecolor="#888")
    return style(fig, presentation=presentation)
