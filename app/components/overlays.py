"""Many runs on one chart: one line per run, or one line and a seed band per variant.

Every run keeps its colour and line style (``theme.run_colour``/``run_dash``) on every
chart, so eight or more overlaid runs stay apart; a line lying exactly on an earlier one
says so in the legend. Hovering names the one run nearest the cursor (``hovermode
"closest"``); clicking a legend entry hides that run, double-clicking shows it alone
(plotly's own legend, all a chart can do in the browser without custom script); and
``highlight`` redraws one run bold, on top, with the others faded.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .curves import GL_THRESHOLD, MAX_POINTS, RAW_OPACITY, ema, metric_figure, spans_decades
from .downsample import minmax
from .theme import run_colour, run_dash

__all__ = ["compare_curves", "seed_band_curves"]

#: Opacity of the runs that are not highlighted.
FADED = 0.25


def compare_curves(
    wides: Mapping[str, pd.DataFrame],
    column: str,
    *,
    title: str,
    y_label: str,
    x_label: str = "step",
    colours: Mapping[str, str] | None = None,
    presentation: bool = False,
    log_y: bool | None = False,
    smoothing: float = 0.0,
    dash: Mapping[str, str] | None = None,
    highlight: str | None = None,
) -> go.Figure:
    """One line per run for one scalar ``column`` (run label → wide DataFrame).

    Runs without the column (or with no value in it) are skipped; with none
    left the figure says "waiting for data". Colours come from ``colours``
    or the run palette in the order of ``wides``, so pass the same mapping
    to every Compare chart to keep a run's colour fixed; line styles come
    from ``dash`` or cycle in the same order (``theme.run_dash``). ``lr`` is carried
    forward between changes, and ``*_accuracy`` columns are shown in %.
    ``smoothing`` (an ``ema`` weight, 0 = raw) draws each line's average over its raw
    values, which stay faint behind it. ``log_y=None`` picks a log axis when the positive
    values span more than 100× (a run that blew up beside runs that trained); a log axis
    is named in the title. ``highlight`` names the run drawn bold over the faded others.
    """
    colours, dash = dict(colours or {}), dict(dash or {})
    series: dict[str, pd.Series] = {}
    raw: dict[str, pd.Series] = {}
    for i, (label, wide) in enumerate(wides.items()):
        colours.setdefault(label, run_colour(i))
        dash.setdefault(label, run_dash(i))
        if wide is None or column not in wide.columns:
            continue
        s = pd.to_numeric(wide.sort_index()[column], errors="coerce")
        s = s.ffill() if column == "lr" else s
        s = s[np.isfinite(s)]
        if s.empty:
            continue
        if column.endswith("_accuracy"):
            s = s * 100.0
        if smoothing > 0 and len(s) > 1:
            raw[label], s = s, ema(s, smoothing)
        series[label] = s
    if log_y is None:  # a run that blew up beside runs that trained
        log_y = spans_decades([*series.values(), *raw.values()])
    title += " (log scale)" if log_y else ""  # the title says so, since 10⁰ to 10¹ can look linear
    # A run whose line lies exactly on an earlier one (runs stuck at chance, say) would vanish
    # under it: its legend entry says whose line it shares.
    shown = {
        label: label if other is None else f"{label} (same as {other})"
        for label, other in _coinciding(series, log_y).items()
    }
    fig = metric_figure(
        {shown[label]: s for label, s in series.items()},
        title=title,
        y_label=y_label,
        x_label=x_label,
        colours={shown.get(label, label): c for label, c in colours.items()},
        dash={shown.get(label, label): d for label, d in dash.items()},
        log_y=log_y,
        presentation=presentation,
        line_shape="hv" if column == "lr" else "linear",
        downsample="minmax",
        hover="closest",
    )
    if not series:
        return fig
    own = {shown[label]: label for label in series}
    for rank, trace in enumerate(fig.data):
        # One legend group per run: a legend click hides its raw line and band too.
        trace.update(legendgroup=own[trace.name], legendrank=rank)
    lines = len(fig.data)
    for label, s in raw.items():
        x, y = np.asarray(s.index), s.to_numpy(dtype=float)
        if log_y:
            x, y = x[y > 0], y[y > 0]
        x, y = minmax(x, y, MAX_POINTS)
        trace_cls = go.Scattergl if len(y) > GL_THRESHOLD else go.Scatter
        fig.add_trace(
            trace_cls(
                x=x,
                y=y,
                mode="lines",
                line=dict(color=colours[label], width=1),
                opacity=RAW_OPACITY,
                name=f"{label} (raw)",
                legendgroup=label,
                showlegend=False,
                hoverinfo="skip",
            )
        )
    fig.data = fig.data[lines:] + fig.data[:lines]  # the raw values behind every average
    fig.update_layout(showlegend=True, legend=dict(itemclick="toggle", itemdoubleclick="toggleothers"))
    if column.endswith("_accuracy"):
        fig.update_yaxes(range=[0, 100.5])
    _emphasise(fig, highlight)
    return fig


def seed_band_curves(
    groups: Mapping[str, list[pd.DataFrame]],
    column: str,
    *,
    title: str,
    y_label: str,
    x_label: str = "step",
    colours: Mapping[str, str] | None = None,
    presentation: bool = False,
    log_y: bool | None = False,
    highlight: str | None = None,
) -> go.Figure:
    """One line per variant, the mean over its seeds, in a band of ±1 standard deviation across seeds.

    ``groups`` maps a variant's label to the wide tables of its seeds' runs, all indexed
    by the same x values (steps, epochs or samples: seeds evaluate at the same steps), so
    the band is computed point by point over the seeds that have a value there; a variant
    with one run is drawn as a plain line. ``log_y`` as in :func:`compare_curves` (None:
    log when the means span over 100×); ``highlight`` names a variant.
    """
    colours = dict(colours or {})
    dash: dict[str, str] = {}
    means: dict[str, pd.DataFrame] = {}
    spread: dict[str, pd.Series] = {}
    for i, (label, wides) in enumerate(groups.items()):
        colours.setdefault(label, run_colour(i))
        dash[label] = run_dash(i)
        cols = [pd.to_numeric(w[column], errors="coerce") for w in wides if w is not None and column in w.columns]
        if not cols:
            continue
        table = pd.concat(cols, axis=1).sort_index()
        table = table.where(np.isfinite(table))
        means[label] = pd.DataFrame({column: table.mean(axis=1)})
        if table.shape[1] > 1:
            spread[label] = table.std(axis=1, ddof=1)
    if log_y is None:
        log_y = spans_decades(m[column] for m in means.values())
    fig = compare_curves(
        means,
        column,
        title=title,
        y_label=y_label,
        x_label=x_label,
        colours=colours,
        dash=dash,
        presentation=presentation,
        log_y=log_y,
    )
    lines = len(fig.data)
    scale = 100.0 if column.endswith("_accuracy") else 1.0
    for label, std in spread.items():
        mean = means[label][column]
        ok = np.isfinite(mean) & np.isfinite(std)
        x = mean.index[ok]
        upper, lower = (mean[ok] + std[ok]) * scale, (mean[ok] - std[ok]) * scale
        if log_y:  # a log axis cannot draw mean - sd <= 0: the band stops a decade below the mean
            lower = np.maximum(lower, mean[ok] * scale / 10)
        fill = _with_alpha(colours[label], 0.18)
        fig.add_trace(
            go.Scatter(
                x=x, y=upper, mode="lines", line={"width": 0}, hoverinfo="skip", showlegend=False, legendgroup=label
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=lower,
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=fill,
                hoverinfo="skip",
                name=f"{label} ±1 sd over seeds",
                showlegend=False,
                legendgroup=label,
            )
        )
    fig.data = fig.data[lines:] + fig.data[:lines]  # bands under the lines
    _emphasise(fig, highlight)
    return fig


def _emphasise(fig: go.Figure, label: str | None) -> None:
    """Draw the traces of run ``label`` twice as thick and on top; fade every other run's."""
    if label is None or not any(t.legendgroup == label for t in fig.data):
        return
    mine, others = [], []
    for trace in fig.data:
        if trace.legendgroup == label:
            if trace.line.width:
                trace.line.width = trace.line.width * 2
            mine.append(trace)
        else:
            trace.opacity = (1.0 if trace.opacity is None else trace.opacity) * FADED
            others.append(trace)
    fig.data = tuple(others + mine)


def _coinciding(series: Mapping[str, pd.Series], log_y: bool = False, share: float = 0.005) -> dict[str, str | None]:
    """{label: the first earlier label whose line it lies on, or None}.

    Two lines coincide when they have the same x values and differ nowhere by more than
    ``share`` of the chart's whole y range (so on screen, by about a line's width). On a log
    axis that range is in decades: beside a loss that reached 10¹³, runs between 0.01 and 2
    are far apart.
    """
    if log_y:
        series = {label: np.log10(s.where(s > 0)) for label, s in series.items()}
    values = [np.asarray(s, dtype=float) for s in series.values() if len(s)]
    span = float(np.nanmax(np.concatenate(values)) - np.nanmin(np.concatenate(values))) if values else 0.0
    tol = share * span if span > 0 else 1e-12
    out: dict[str, str | None] = {}
    earlier: list[tuple[str, pd.Series]] = []
    for label, s in series.items():
        out[label] = next(
            (
                other
                for other, o in earlier
                if len(o) == len(s)
                and o.index.equals(s.index)
                and np.nanmax(np.abs(o.to_numpy() - s.to_numpy())) <= tol
            ),
            None,
        )
        earlier.append((label, s))
    return out


def _with_alpha(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r}, {g}, {b}, {alpha})"
