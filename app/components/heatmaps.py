"""Per-layer heatmaps: one row per layer (input at the bottom), one column per step.

The input is what ``store.layer_matrix(run_id, stat)`` returns: ``steps[S]``,
``layer_names[L]`` and ``values[S, L]`` (NaN where not measured). Gradient
statistics span many decades and can be exactly 0 or ±inf, so:

* colours are log10 of the value; an exact 0 takes the lowest colour, +inf
  the highest, and NaN stays blank, while the hover always shows the real
  value ("0", "inf", "3.2e-17"), never its log;
* the colour range comes from the *recent* half of the run
  (:func:`recent_range`), so a spike at step 0 cannot make healthy late
  gradients look vanished;
* steps are binned to ≤ 600 columns (:func:`~.downsample.bin_columns`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .downsample import bin_columns, bin_starts
from .theme import chart_height, empty_figure, font_size, style

__all__ = [
    "recent_range",
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


def recent_range(
    matrices: Sequence[np.ndarray], *, recent_fraction: float = 0.5, q: tuple[float, float] = (2, 98), log: bool = True
) -> tuple[float, float] | None:
    """Colour range (log10 by default) from the latest ``recent_fraction`` of each matrix's steps.

    Pooling the recent rows of all ``matrices`` (each ``[S, L]``) gives one
    range shared across runs. Percentiles ``q`` rather than min/max keep one
    odd cell from stretching the scale. Non-finite values, and with ``log``
    non-positive ones, are ignored. None when there is nothing to go on.
    """
    pooled = []
    for m in matrices:
        m = np.asarray(m, dtype=float)
        if m.ndim != 2 or m.shape[0] == 0:
            continue
        start = min(int(m.shape[0] * (1.0 - recent_fraction)), m.shape[0] - 1)
        recent = m[max(start, 0) :].ravel()
        keep = np.isfinite(recent) & (recent > 0) if log else np.isfinite(recent)
        pooled.append(np.log10(recent[keep]) if log else recent[keep])
    values = np.concatenate(pooled) if pooled else np.zeros(0)
    if values.size == 0:
        return None
    lo, hi = np.percentile(values, q)
    return float(lo), float(hi)


def _colour_range(zrange, values_list, log: bool, center: float | None) -> tuple[float, float]:
    """zmin/zmax: the given range or the recent one, symmetric about ``center`` if given."""
    rng = zrange if zrange is not None else recent_range(values_list, log=log)
    if rng is None:  # nothing finite yet
        rng = (center - 1.0, center + 1.0) if center is not None else (-1.0, 1.0)
    lo, hi = float(rng[0]), float(rng[1])
    if center is not None:
        half = max(center - lo, hi - center)
        lo, hi = center - half, center + half
    if hi - lo < 1e-9:  # a constant matrix still needs a non-empty range
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    return f"{v:.4g}" if 1e-3 <= abs(v) < 1e4 else f"{v:.3g}"


def _hover_text(shown: np.ndarray) -> np.ndarray:
    """:func:`_fmt` over a whole array at once (object array of str)."""
    shown = np.asarray(shown, dtype=float)
    mid = np.isfinite(shown) & (np.abs(shown) >= 1e-3) & (np.abs(shown) < 1e4)
    out = np.where(mid, np.char.mod("%.4g", shown), np.char.mod("%.3g", shown)).astype(object)
    out[shown == 0] = "0"
    return out


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
        text = _hover_text(np.where(single[:, None], v[starts] if n else z, 10**z if log else z))
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


def _ticks(lo: float, hi: float, center: float | None, center_text: str | None):
    """Integer (decade) colourbar ticks, with ``center`` labelled ``center_text``."""
    vals = [float(k) for k in range(int(np.ceil(lo)), int(np.floor(hi)) + 1)]
    step = max(1, len(vals) // 7)
    vals = vals[::step]
    if center is not None and center_text and center not in vals:
        vals = sorted(vals + [center])
    texts = [center_text if (center_text and v == center) else f"1e{int(v)}" for v in vals]
    return vals, texts


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
    colorscale: str = "RdBu_r",
    presentation: bool = False,
    hover_label: str = "value",
    max_cols: int = MAX_COLS,
    center_text: str | None = None,
) -> go.Figure:
    """Heatmap of a per-layer statistic: x = step, y = layer (input at the bottom).

    ``values`` is ``[S, L]`` as the store gives it. With ``log`` the colour
    is log10 of the value (``zrange`` is then in log10 units too). The
    diverging ``colorscale`` is centred at ``center`` (the range is made
    symmetric about it) or else at the middle of the range, which is
    ``zrange`` or :func:`recent_range` of ``values``. Hover shows layer,
    step(s) and the real value, named ``hover_label``. With ``center_text``
    (and ``log``) the colourbar ticks read as powers of ten and the centre
    tick carries that text. Empty input gives a "waiting for data" figure.
    """
    values = np.asarray(values, dtype=float)
    names = [str(n) for n in layer_names]
    if values.ndim != 2 or values.size == 0 or len(steps) == 0 or not names:
        return empty_figure(title, x_label="step", y_label=LAYER_AXIS_TITLE, presentation=presentation)
    z, x, text, hover = _cells(steps, values, log=log, max_cols=max_cols, hover_label=hover_label)
    lo, hi = _colour_range(zrange, [values], log, center)
    colorbar = dict(title=dict(text=colorbar_title, side="right"))
    if log and center_text:
        colorbar["tickvals"], colorbar["ticktext"] = _ticks(lo, hi, center, center_text)
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
            colorbar=colorbar,
            hovertemplate="<b>%{y}</b><br>" + hover + "<extra></extra>",
            hoverongaps=False,
        )
    )
    fig.update_layout(title=dict(text=title))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text=LAYER_AXIS_TITLE)
    _layer_axis(fig, names)
    return style(fig, presentation=presentation, height=_heatmap_height(len(names), presentation))


def gradient_flow_heatmap(
    steps, layer_names, values, *, zrange: tuple[float, float] | None = None, presentation: bool = False
) -> go.Figure:
    """log10 of each layer's gradient norm over steps: blue = vanishing, red = exploding.

    ``zrange`` (log10 units) fixes the colours, e.g. to share them with other
    charts; by default they follow the recent half of the run.
    """
    return layer_heatmap(
        steps,
        layer_names,
        values,
        title="Gradient flow: log10 gradient norm per layer",
        colorbar_title="log10 ‖grad‖",
        log=True,
        zrange=zrange,
        presentation=presentation,
        hover_label="‖grad‖",
    )


def update_ratio_heatmap(
    steps, layer_names, values, *, presentation: bool = False, max_decades: float = 4.0
) -> go.Figure:
    """log10 of ‖Δw‖/‖w‖ per layer, white at the ~1e-3 rule of thumb.

    Blue cells learn too slowly (updates far below 1e-3 of the weights), red
    ones too fast. The colour range is symmetric about -3: wide enough for
    the recent values, at least ±1 and at most ±``max_decades`` decades.
    """
    rng = recent_range([values])
    half = 1.0 if rng is None else max(abs(rng[0] - RULE_OF_THUMB), abs(rng[1] - RULE_OF_THUMB))
    half = float(np.clip(half, 1.0, max_decades))
    return layer_heatmap(
        steps,
        layer_names,
        values,
        title="Update / weight ratio per layer",
        colorbar_title="‖Δw‖/‖w‖ (log scale)",
        log=True,
        center=RULE_OF_THUMB,
        zrange=(RULE_OF_THUMB - half, RULE_OF_THUMB + half),
        presentation=presentation,
        hover_label="‖Δw‖/‖w‖",
        center_text="1e-3 (rule of thumb)",
    )


def side_by_side_heatmaps(
    items: Sequence[tuple[str, np.ndarray, list[str], np.ndarray]],
    *,
    stat_label: str = "log10 ‖grad‖",
    zrange: tuple[float, float] | None = None,
    presentation: bool = False,
    log: bool = True,
    center: float | None = None,
    colorscale: str = "RdBu_r",
    title: str | None = None,
    hover_label: str = "value",
    max_cols: int = MAX_COLS,
) -> go.Figure:
    """One heatmap per run, ``(label, steps, layer_names, values)``, on ONE shared colour scale.

    The shared ``coloraxis`` spans ``zrange`` or :func:`recent_range` over
    all runs, so the same colour means the same value in every panel. Panels
    wrap after three per row, titled with the run labels; the layer axis is
    shared when all runs have the same layers.
    """
    title = title or f"{stat_label} per layer, by run (one shared colour scale)"
    items = [it for it in items if np.asarray(it[3]).size and len(it[1]) and len(it[2])]
    if not items:
        return empty_figure(title, "no runs to compare yet", y_label=LAYER_AXIS_TITLE, presentation=presentation)
    n = len(items)
    cols = min(n, 3)
    rows = -(-n // cols)
    same_layers = all(list(map(str, it[2])) == list(map(str, items[0][2])) for it in items)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[str(it[0]) for it in items],
        shared_yaxes=same_layers,
        horizontal_spacing=0.04 if same_layers else 0.12,
        vertical_spacing=0.12,
    )
    lo, hi = _colour_range(zrange, [it[3] for it in items], log, center)
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
        fig.update_xaxes(title_text="step", row=r, col=c)
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
            colorbar=dict(title=dict(text=stat_label, side="right")),
        ),
    )
    n_layers = max(len(it[2]) for it in items)
    return style(fig, presentation=presentation, height=rows * _heatmap_height(n_layers, presentation))
