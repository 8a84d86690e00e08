"""Per-layer heatmaps: one row per layer (input at the bottom), one column per step.

The input is what ``store.layer_matrix(run_id, stat)`` returns: ``steps[S]``,
``layer_names[L]`` and ``values[S, L]`` (NaN where not measured). Gradient
statistics span many decades and can be exactly 0 or ±inf, so:

* on a log scale the colour is log10 of the value, the colour bar is labelled
  in whole decades (``10⁻⁶``), an exact 0 takes the lowest colour, +inf the
  highest, and NaN stays blank, while the hover always shows the real value
  ("0", "inf", "3.2×10⁻¹⁷"), never its log;
* the colour range spans the 1st to 99th percentile of the whole run's finite
  values (:func:`robust_range`), or a fixed range where the quantity has one, so
  one odd cell cannot stretch the scale and early steps are not painted as an
  explosion against a recent-only range;
* the colour scale suits the quantity (:mod:`.theme`): sequential for a
  magnitude or a share, diverging only around a meaningful centre;
* steps are binned to ≤ 600 columns (:func:`~.downsample.bin_columns`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .downsample import bin_columns, bin_starts
from .theme import (
    DIVERGING,
    SEQUENTIAL,
    chart_height,
    decade_ticks,
    empty_figure,
    font_size,
    pow10,
    pow10_labels,
    style,
)

__all__ = [
    "robust_range",
    "step_range",
    "step_axis",
    "layer_heatmap",
    "gradient_flow_heatmap",
    "update_ratio_heatmap",
    "side_by_side_heatmaps",
    "LAYER_AXIS_TITLE",
]

LAYER_AXIS_TITLE = "layer (input → output)"
MAX_COLS = 600
#: log10 of the ratio ‖Δw‖/‖w‖ that the usual rule of thumb calls healthy (~1e-3).
RULE_OF_THUMB = -3.0
# Stand-ins for 0 and ±inf cells: far outside any colour range, so plotly
# clamps them to the end colours of the scale.
_LOW, _HIGH = -1e3, 1e3


def robust_range(
    matrices: Sequence[np.ndarray], *, q: tuple[float, float] = (1, 99), log: bool = True
) -> tuple[float, float] | None:
    """Colour range (log10 by default) from the ``q`` percentiles of every finite value of ``matrices``.

    Pooling all of each matrix (``[S, L]``, the whole run) gives one range shared across runs and
    steps: a late spike or an early one counts as much as any other cell, and percentiles rather
    than min/max keep a handful of odd cells from stretching the scale. Non-finite values, and
    with ``log`` non-positive ones, are ignored. None when there is nothing to go on.
    """
    pooled = []
    for m in matrices:
        m = np.asarray(m, dtype=float)
        if m.ndim != 2 or m.size == 0:
            continue
        flat = m.ravel()
        keep = np.isfinite(flat) & (flat > 0) if log else np.isfinite(flat)
        pooled.append(np.log10(flat[keep]) if log else flat[keep])
    values = np.concatenate(pooled) if pooled else np.zeros(0)
    if values.size == 0:
        return None
    lo, hi = np.percentile(values, q)
    return float(lo), float(hi)


def step_range(*step_arrays) -> tuple[float, float] | None:
    """(first, last) step over several charts' steps: give it to each so that they show the same steps."""
    ends = [(float(np.min(s)), float(np.max(s))) for s in step_arrays if s is not None and len(s)]
    if not ends:
        return None
    return min(e[0] for e in ends), max(e[1] for e in ends)


def _colour_range(zrange, values_list, log: bool, center: float | None) -> tuple[float, float]:
    """zmin/zmax: the given range or the run's robust one, symmetric about ``center`` if given."""
    rng = zrange if zrange is not None else robust_range(values_list, log=log)
    if rng is None:  # nothing finite yet
        rng = (center - 1.0, center + 1.0) if center is not None else (-1.0, 1.0)
    lo, hi = float(rng[0]), float(rng[1])
    if center is not None:
        half = max(center - lo, hi - center)
        lo, hi = center - half, center + half
    if hi - lo < 1e-9:  # a constant matrix still needs a non-empty range
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def _cells(steps, values, *, log: bool, max_cols: int, hover_label: str):
    """z (L × bins), x (bin steps), hover text (L × bins) and hover template for one heatmap."""
    steps = np.asarray(steps)
    v = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z_raw = np.where(np.isfinite(v) & (v > 0), np.log10(v), np.nan) if log else np.where(np.isfinite(v), v, np.nan)
    x, z = bin_columns(steps, z_raw, max_cols)
    n = len(steps)
    starts = bin_starts(n, max_cols) if n > max_cols else np.arange(n)
    ends = np.append(starts[1:], n) - 1

    def per_bin(mask):
        return np.add.reduceat(mask.astype(np.int64), starts, axis=0) if n else mask[:0]

    finite = per_bin(np.isfinite(z_raw))
    # Exact zeros only need a word of their own on a log scale, where they have no log.
    zeros = per_bin(v == 0) if log else np.zeros_like(finite)
    pos_inf, neg_inf = per_bin(np.isposinf(v)), per_bin(np.isneginf(v))
    # Cells with no finite value still say something: 0 is "vanished", inf is "exploded".
    empty = finite == 0
    z = np.where(empty & (zeros > 0), _LOW, z)
    z = np.where(empty & (neg_inf > 0), _LOW, z)
    z = np.where(pos_inf > 0, _HIGH, z)

    # Hover text holds only the value (plotly ships it for every cell each refresh);
    # the step and the layer come from the template.
    single = starts == ends
    with np.errstate(over="ignore"):  # the exploded marker cells overflow; their text is replaced below
        text = pow10_labels(np.where(single[:, None], v[starts] if n else z, 10**z if log else z))
    # The few special cells get words; vectorised above, looped only here (a 20-layer x 600-column
    # heatmap has 12,000 cells, and a per-cell Python loop cost 0.2 s per run on every refresh).
    for i, j in zip(*np.nonzero(single[:, None] & np.isnan(v[starts] if n else z))):
        text[i, j] = "no value"
    multi = ~single[:, None]
    for i, j in zip(*np.nonzero(multi & ((pos_inf > 0) | (neg_inf > 0)))):
        text[i, j] = f"{'inf' if pos_inf[i, j] else '-inf'} at {pos_inf[i, j] + neg_inf[i, j]} step(s)"
    for i, j in zip(*np.nonzero(multi & (finite == 0) & (pos_inf == 0) & (neg_inf == 0))):
        text[i, j] = "0" if zeros[i, j] else "no value"
    for i, j in zip(*np.nonzero(multi & (finite > 0) & (zeros > 0) & (pos_inf == 0) & (neg_inf == 0))):
        text[i, j] += f"; 0 at {zeros[i, j]} step(s)"
    if single.all():
        template = f"step %{{x}}<br>{hover_label} = %{{text}}"
    else:
        per_cell = int(ends[0] - starts[0] + 1)
        template = (
            f"steps up to %{{x}} ({'geometric ' if log else ''}mean of {per_cell} per cell)<br>"
            f"{hover_label} = %{{text}}"
        )
    return z.T, x, text.T, template


def _heatmap_height(n_layers: int, presentation: bool) -> int:
    # Room for every layer label (plotly skips labels closer than ~1.3 lines),
    # plus the title, legend and x axis; past the cap plotly thins the labels.
    size = font_size(presentation)
    cap = 1200 if presentation else 900
    return int(min(max(chart_height(presentation), n_layers * round(size * 1.35) + size * 11), cap))


def _layer_axis(fig: go.Figure, names, **where) -> None:
    """Categorical y in the given order: the first (input) layer at the bottom."""
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=list(names), autorange=True, **where)


def _colorbar(title: str, lo: float, hi: float, *, log: bool, center, center_text, unit: str) -> dict:
    """A colour bar whose ticks read as the quantity does: ``10ⁿ`` at whole decades on a log scale."""
    bar: dict = dict(title=dict(text=title, side="right"))
    if log:
        vals, texts = decade_ticks(lo, hi)
        if center is not None and center_text:
            # The centre gets its words (and a tick even between labelled decades).
            pairs = dict(zip(vals, texts))
            pairs[float(center)] = f"{pow10(center)} {center_text}"
            vals, texts = [list(x) for x in zip(*sorted(pairs.items()))]
        bar.update(tickvals=vals, ticktext=texts)
    elif unit:
        bar.update(ticksuffix=unit)
    return bar


def step_axis(fig: go.Figure, x_range: tuple[float, float] | None, **where) -> None:
    """Steps on x; a given ``x_range`` (e.g. :func:`step_range` of the charts beside it) is kept as is."""
    fig.update_xaxes(title_text="step", **where)
    if x_range is not None:
        lo, hi = x_range
        pad = max((hi - lo) * 0.005, 0.5)  # room for the half cells at either end
        fig.update_xaxes(range=[lo - pad, hi + pad], autorange=False, **where)


def layer_heatmap(
    steps,
    layer_names,
    values,
    *,
    title: str,
    colorbar_title: str,
    log: bool = True,
    center: float | None = None,
    zrange: tuple[float, float] | None = None,
    colorscale: str = SEQUENTIAL,
    presentation: bool = False,
    hover_label: str = "value",
    max_cols: int = MAX_COLS,
    center_text: str | None = None,
    x_range: tuple[float, float] | None = None,
    unit: str = "",
) -> go.Figure:
    """Heatmap of a per-layer statistic: x = step, y = layer (input at the bottom).

    ``values`` is ``[S, L]`` as the store gives it. With ``log`` the colour is log10 of the
    value (``zrange`` is then in log10 units too) and the colour bar reads ``10ⁿ``. The range is
    ``zrange`` or :func:`robust_range` of ``values``; with ``center`` it is made symmetric about
    it, for a diverging ``colorscale`` whose middle colour then sits at ``center`` (labelled
    ``center_text``). ``x_range`` fixes the steps shown, to match the charts beside it. ``unit``
    follows linear values (" %"). Hover shows layer, step(s) and the real value, named
    ``hover_label``. Empty input gives a "waiting for data" figure.
    """
    values = np.asarray(values, dtype=float)
    names = [str(n) for n in layer_names]
    if values.ndim != 2 or values.size == 0 or len(steps) == 0 or not names:
        return empty_figure(title, x_label="step", y_label=LAYER_AXIS_TITLE, presentation=presentation)
    z, x, text, hover = _cells(steps, values, log=log, max_cols=max_cols, hover_label=hover_label)
    lo, hi = _colour_range(zrange, [values], log, center)
    if unit:
        hover = hover.replace("%{text}", "%{text}" + unit)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=x,
            y=names,
            text=text,
            zmin=lo,
            zmax=hi,
            zauto=False,
            colorscale=colorscale,
            colorbar=_colorbar(colorbar_title, lo, hi, log=log, center=center, center_text=center_text, unit=unit),
            hovertemplate="<b>%{y}</b><br>" + hover + "<extra></extra>",
            hoverongaps=False,
        )
    )
    fig.update_layout(title=dict(text=title))
    step_axis(fig, x_range)
    fig.update_yaxes(title_text=LAYER_AXIS_TITLE)
    _layer_axis(fig, names)
    return style(fig, presentation=presentation, height=_heatmap_height(len(names), presentation))


def gradient_flow_heatmap(
    steps,
    layer_names,
    values,
    *,
    zrange: tuple[float, float] | None = None,
    presentation: bool = False,
    x_range: tuple[float, float] | None = None,
) -> go.Figure:
    """Each layer's gradient norm over steps, on a log scale: dark = vanishing, bright = large.

    Sequential, since a gradient norm has no healthy centre of its own: what matters is how
    the layers compare and how they change. ``zrange`` (log10 units) fixes the colours, e.g. to
    share them with other charts; by default they span the whole run's 1st..99th percentile.
    """
    return layer_heatmap(
        steps,
        layer_names,
        values,
        title="Gradient flow: gradient norm per layer",
        colorbar_title="‖grad‖",
        log=True,
        zrange=zrange,
        presentation=presentation,
        hover_label="‖grad‖",
        x_range=x_range,
    )


def update_ratio_heatmap(
    steps,
    layer_names,
    values,
    *,
    presentation: bool = False,
    max_decades: float = 4.0,
    x_range: tuple[float, float] | None = None,
) -> go.Figure:
    """‖Δw‖/‖w‖ per layer on a log scale, white at the ~10⁻³ rule of thumb.

    Blue cells learn too slowly (updates far below 10⁻³ of the weights), red ones too fast.
    The colour range is symmetric about 10⁻³: wide enough for the run's values (1st..99th
    percentile), at least ±1 and at most ±``max_decades`` decades.
    """
    rng = robust_range([values])
    half = 1.0 if rng is None else max(abs(rng[0] - RULE_OF_THUMB), abs(rng[1] - RULE_OF_THUMB))
    half = float(np.clip(half, 1.0, max_decades))
    return layer_heatmap(
        steps,
        layer_names,
        values,
        title="Update / weight ratio per layer",
        colorbar_title="‖Δw‖/‖w‖",
        log=True,
        center=RULE_OF_THUMB,
        zrange=(RULE_OF_THUMB - half, RULE_OF_THUMB + half),
        colorscale=DIVERGING,
        presentation=presentation,
        hover_label="‖Δw‖/‖w‖",
        center_text="rule",
        x_range=x_range,
    )


def _short(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1].rstrip() + "…"


def side_by_side_heatmaps(
    items: Sequence[tuple[str, np.ndarray, list[str], np.ndarray]],
    *,
    stat_label: str = "‖grad‖",
    zrange: tuple[float, float] | None = None,
    presentation: bool = False,
    log: bool = True,
    center: float | None = None,
    colorscale: str = SEQUENTIAL,
    title: str | None = None,
    hover_label: str = "‖grad‖",
    max_cols: int = MAX_COLS,
    center_text: str | None = None,
) -> go.Figure:
    """One heatmap per run, ``(label, steps, layer_names, values)``, on ONE colour scale and ONE step range.

    The shared ``coloraxis`` spans ``zrange`` or :func:`robust_range` over all runs, so the same
    colour means the same value in every panel, and every panel shows the steps from the
    earliest to the latest any run reached, so a run that has just begun reads as short rather
    than stretched to the width of the others. Two panels a row (one in presentation mode),
    each wide enough to read at 1024 px; a run's label is shortened to fit above its panel (the
    hover names it in full). The layer axis is shared when all runs have the same layers.
    """
    title = title or "Gradient norm per layer, by run (one colour scale, one step range)"
    items = [it for it in items if np.asarray(it[3]).size and len(it[1]) and len(it[2])]
    if not items:
        return empty_figure(title, "no runs to compare yet", y_label=LAYER_AXIS_TITLE, presentation=presentation)
    n = len(items)
    cols = 1 if presentation else min(n, 2)
    rows = -(-n // cols)
    same_layers = all(list(map(str, it[2])) == list(map(str, items[0][2])) for it in items)
    n_layers = max(len(it[2]) for it in items)
    row_px = _heatmap_height(n_layers, presentation) - font_size(presentation) * 6  # the title's room once
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[_short(str(it[0]), 34 if cols > 1 else 70) for it in items],
        shared_yaxes=same_layers,
        horizontal_spacing=0.05 if same_layers else 0.2,
        # Between rows: the x-axis title of the row above and this row's panel titles.
        vertical_spacing=min(0.3, font_size(presentation) * 6.5 / (rows * row_px)) if rows > 1 else 0.0,
    )
    lo, hi = _colour_range(zrange, [it[3] for it in items], log, center)
    x_range = step_range(*(it[1] for it in items))
    for k, (label, steps, names, values) in enumerate(items):
        r, c = k // cols + 1, k % cols + 1
        names = [str(x) for x in names]
        z, x, text, hover = _cells(steps, values, log=log, max_cols=max(50, max_cols // cols), hover_label=hover_label)
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=x,
                y=names,
                text=text,
                coloraxis="coloraxis",
                name=str(label),
                hovertemplate=f"<b>{label}</b> · %{{y}}<br>{hover}<extra></extra>",
                hoverongaps=False,
            ),
            row=r,
            col=c,
        )
        step_axis(fig, x_range, row=r, col=c)
        _layer_axis(fig, names, row=r, col=c)
        if c == 1 or not same_layers:
            fig.update_yaxes(title_text=LAYER_AXIS_TITLE if c == 1 else "", row=r, col=c)
    fig.update_layout(
        title=dict(text=title),
        coloraxis=dict(
            colorscale=colorscale,
            cmin=lo,
            cmax=hi,
            cauto=False,
            colorbar=_colorbar(stat_label, lo, hi, log=log, center=center, center_text=center_text, unit=""),
        ),
    )
    fig = style(fig, presentation=presentation, height=rows * row_px + font_size(presentation) * 6)
    # The panel titles sit just above each panel: room for the first row's under the chart title.
    fig.update_layout(margin=dict(t=fig.layout.margin.t + round(font_size(presentation) * 1.6)))
    return fig
