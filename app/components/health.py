"""Layer health: the strip of per-layer heatmaps the Live page chooses from, and histograms over time.

The strip is one heatmap of layers x steps at a time, for whichever quantity a
student picks (:data:`QUANTITIES`, in the order a diagnosis reads them); each
quantity keeps its own colour scale (:mod:`.theme`): sequential on a log scale
for magnitudes, diverging only about a meaningful centre, sequential 0..100 %
for shares.

A histogram over time is bins x steps for one layer's weights or gradients, in
the fixed log10 |x| bins of :mod:`engine.config.histograms`, so a colour means
the same share at every step and in every layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from engine.config.histograms import HIST_STATS, LOG10_HIGH, LOG10_LOW, N_BINS, PER_DECADE, log10_edges

from . import heatmaps
from .downsample import bin_columns
from .theme import DENSITY, DIVERGING, SEQUENTIAL, SHARES, empty_figure, font_size, pow10, pow10_label, style

__all__ = ["Quantity", "QUANTITIES", "health_heatmap", "histogram_heatmap", "bin_names"]


@dataclass(frozen=True)
class Quantity:
    """How the strip draws one per-layer statistic."""

    label: str  # on the selector
    title: str
    colorbar: str
    hover: str
    log: bool = True
    colorscale: str = SEQUENTIAL
    center: float | None = None
    scale: float = 1.0  # shares are drawn as percentages
    zrange: tuple[float, float] | None = None  # a fixed range, for quantities that have one
    unit: str = ""


#: The strip's quantities, by statistic, in the order a diagnosis reads them.
QUANTITIES: dict[str, Quantity] = {
    "grad_norm": Quantity("gradient norm", "Gradient flow: gradient norm per layer", "‖grad‖", "‖grad‖"),
    "update_ratio": Quantity(
        "update / weight", "Update / weight ratio per layer", "‖Δw‖/‖w‖", "‖Δw‖/‖w‖", colorscale=DIVERGING
    ),
    "weight_norm": Quantity("weight norm", "Weight norm per layer", "‖w‖", "‖w‖"),
    "act_mean": Quantity(
        "activation mean", "Activation mean per layer", "mean", "mean", log=False, colorscale=DIVERGING, center=0.0
    ),
    "act_std": Quantity("activation std", "Activation spread (std) per layer", "std", "std"),
    "dead_fraction": Quantity(
        "dead units",
        "Dead units per layer: share that never fire on a batch",
        "dead",
        "dead",
        log=False,
        colorscale=SHARES,
        scale=100.0,
        zrange=(0.0, 100.0),
        unit=" %",
    ),
    "saturated_fraction": Quantity(
        "saturated units",
        "Saturated units per layer: share on a flat end of the activation",
        "saturated",
        "saturated",
        log=False,
        colorscale=SHARES,
        scale=100.0,
        zrange=(0.0, 100.0),
        unit=" %",
    ),
}


def health_heatmap(
    stat: str,
    steps,
    layer_names,
    values,
    *,
    x_range: tuple[float, float] | None = None,
    presentation: bool = False,
) -> go.Figure:
    """The strip for ``stat`` (a key of :data:`QUANTITIES`): layers x steps in that quantity's colours."""
    if stat == "grad_norm":
        return heatmaps.gradient_flow_heatmap(steps, layer_names, values, x_range=x_range, presentation=presentation)
    if stat == "update_ratio":
        return heatmaps.update_ratio_heatmap(steps, layer_names, values, x_range=x_range, presentation=presentation)
    q = QUANTITIES[stat]
    return heatmaps.layer_heatmap(
        steps,
        layer_names,
        np.asarray(values, dtype=float) * q.scale,
        title=q.title,
        colorbar_title=q.colorbar,
        log=q.log,
        center=q.center,
        zrange=q.zrange,
        colorscale=q.colorscale,
        presentation=presentation,
        hover_label=q.hover,
        x_range=x_range,
        unit=q.unit,
    )


# --- histograms over time -------------------------------------------------------------------

#: Shares below this draw in the lightest colour: 0.1 % of a layer is already a visible tail.
_LOWEST_SHARE = -3.0


def bin_names() -> list[str]:
    """Each bin's range in words, bottom to top: "exactly 0", "≤ 10⁻²⁴", "3.2×10⁻⁴ – 10⁻³", ..., "> 10²"."""
    edges = 10.0 ** log10_edges()
    ranged = [f"{pow10_label(a)} – {pow10_label(b)}" for a, b in zip(edges[:-1], edges[1:])]
    return ["exactly 0", f"≤ {pow10(LOG10_LOW)}", *ranged, f"> {pow10(LOG10_HIGH)} (or inf, NaN)"]


def _bin_ticks(presentation: bool, plot_px: float) -> tuple[list[str], list[str]]:
    """y ticks (the rows are the bins, by name): the zero and "above" rows, and decades between."""
    names = bin_names()
    per_decade_px = plot_px / N_BINS * PER_DECADE
    step = max(1, int(np.ceil(font_size(presentation) * 1.5 / per_decade_px)))
    # Ranged bin k (names[k]) starts at decade LOW + (k - 2) / PER_DECADE: label the rows that start one,
    # but not the range's own ends, which would crowd the named rows.
    decades = range(LOG10_LOW + step, LOG10_HIGH, step)
    rows = [names[2 + (d - LOG10_LOW) * PER_DECADE] for d in decades]
    # The "below the range" row, next to the zero row, is named by its hover only: two labels
    # one row apart would overprint.
    return (
        [names[0], *rows, names[-1]],
        ["0", *(f"{pow10(d)}" for d in decades), f"> {pow10(LOG10_HIGH)}"],
    )


def histogram_heatmap(
    steps,
    shares,
    *,
    layer: str,
    stat: str = "weight_hist",
    x_range: tuple[float, float] | None = None,
    presentation: bool = False,
    max_cols: int = 300,
) -> go.Figure:
    """One layer's histogram over time: bins of |x| (rows) x steps, coloured by the share of entries in each.

    ``shares`` is ``[S, N_BINS]`` (one layer of :func:`engine.config.histograms.split`). The colour is
    log10 of the share from 0.1 % to 100 %, so a thin tail shows next to the bulk; an empty bin
    stays blank. ``stat`` names what is counted (``weight_hist`` or ``grad_hist``). Steps are
    binned to ``max_cols`` columns (the mean share over each column's steps); the hover reads the
    share from numbers, not per-cell strings, so a refresh ships little more than the cells.
    """
    what = HIST_STATS.get(stat, "values")
    symbol = "|w|" if stat == "weight_hist" else "|grad|" if stat == "grad_hist" else "|x|"
    title = f"{what.capitalize()} of {layer}: share of entries per {symbol} bin"
    shares = np.asarray(shares, dtype=float)
    if shares.ndim != 2 or shares.shape[0] == 0 or len(steps) == 0 or shares.shape[1] != N_BINS:
        return empty_figure(title, x_label="step", y_label=symbol, presentation=presentation)
    x, binned = bin_columns(np.asarray(steps), shares, max_cols)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(binned > 0, np.log10(binned), np.nan).T
    size = font_size(presentation)
    height = max(700 if presentation else 480, size * 34)
    tickvals, ticktext = _bin_ticks(presentation, height - size * 10)
    names = bin_names()
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=x,
            y=names,
            customdata=np.nan_to_num(binned.T),
            zmin=_LOWEST_SHARE,
            zmax=0.0,
            zauto=False,
            colorscale=DENSITY,
            colorbar=dict(
                title=dict(text="share of entries", side="right"),
                tickvals=[-3.0, -2.0, -1.0, 0.0],
                ticktext=["≤ 0.1 %", "1 %", "10 %", "100 %"],
            ),
            hovertemplate=(
                f"<b>{layer}</b> · step %{{x}}<br>{symbol} %{{y}}: %{{customdata:.3~%}} of entries<extra></extra>"
            ),
            hoverongaps=False,
        )
    )
    fig.update_layout(title=dict(text=title))
    fig.update_yaxes(
        title_text=f"{symbol} (log scale)",
        type="category",
        categoryorder="array",
        categoryarray=names,
        tickvals=tickvals,
        ticktext=ticktext,
    )
    heatmaps.step_axis(fig, x_range)
    return style(fig, presentation=presentation, height=height)
