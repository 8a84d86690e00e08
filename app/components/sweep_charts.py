"""A sweep's charts: best so far, parallel coordinates, parameter importances, slices and a contour.

Plain plotly over a :class:`engine.tuning.results.SweepResult`, no Streamlit. The
parallel coordinates and the contour are Optuna's own (``optuna.visualization``),
restyled; the history, slices and importances are drawn here, because Optuna's
leave pruned trials out (here they are grey, at the value they were cut at) and
its importance chart would compute the importances a second time. Every builder
returns an explanation instead of a chart until it has the trials it needs.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.logic.sweep import format_param, metric_label, shown_value
from engine.tuning.results import SweepResult

from .theme import SEQUENTIAL, empty_figure, font_size, pow10, run_colour, style

__all__ = ["history_figure", "parallel_figure", "importance_figure", "slice_figure", "contour_figure", "log_params"]

DONE = run_colour(0)  # finished trials: the first run colour
BEST = run_colour(1)  # the best-so-far line: vermillion against blue
PRUNED = "#9a9a9a"  # cut trials: grey, drawn under the finished ones
SLICES_A_ROW = 3


def log_params(result: SweepResult) -> set[str]:
    """The parameters searched on a log scale (``loguniform``, ``intlog``): their axes are logarithmic."""
    return {k for k, spec in result.settings.get("space", {}).items() if str(spec).startswith(("loguniform", "intlog"))}


def _finished(result: SweepResult) -> pd.DataFrame:
    t = result.trials
    return t[(t["state"] == "COMPLETE") & t["value"].notna()] if len(t) else t


def _pruned(result: SweepResult) -> pd.DataFrame:
    t = result.trials
    return t[(t["state"] == "PRUNED") & t["value"].notna()] if len(t) else t


def _hover(result: SweepResult, row: dict[str, Any]) -> str:
    params = "<br>".join(f"{p} = {format_param(row[p])}" for p in result.params)
    cut = f" (cut at step {int(row['steps'])})" if row["state"] == "PRUNED" and pd.notna(row["steps"]) else ""
    return f"trial #{int(row['number'])} · {row['status']}{cut}<br>{params}"


def _values(result: SweepResult, frame: pd.DataFrame) -> list[float]:
    return [shown_value(result.metric, v) for v in frame["value"]]


def _need(result: SweepResult, title: str, n: int, presentation: bool, what: str = "") -> go.Figure | None:
    """An explanation figure while fewer than ``n`` trials have finished; None once the chart can be drawn."""
    have = len(_finished(result))
    if have >= n:
        return None
    so_far = "none has yet" if have == 0 else f"{have} has so far" if have == 1 else f"{have} have so far"
    message = f"{what or 'Drawn'} once {n} trials have finished ({so_far})"
    return empty_figure(title, message, x_label="", presentation=presentation)


PRUNED_MARKER = dict(color=PRUNED, size=10, symbol="x-thin-open", line=dict(width=2.5, color=PRUNED))
DONE_MARKER = dict(color=DONE, size=11, line=dict(width=1, color="white"))


def _trial_markers(result: SweepResult, rows: pd.DataFrame, name: str, marker: dict) -> go.Scatter:
    """One marker per trial in ``rows``, at its number and value, with its params on hover."""
    return go.Scatter(
        x=rows["number"],
        y=_values(result, rows),
        mode="markers",
        name=name,
        marker=marker,
        hovertext=[_hover(result, r) for r in rows.to_dict("records")],
        hovertemplate="%{hovertext}<br>%{y:.4g}<extra></extra>",
    )


def history_figure(result: SweepResult, *, presentation: bool = False) -> go.Figure:
    """Each trial's metric by trial number and the best so far; pruned trials grey, at the value they were cut at."""
    title = f"Best {metric_label(result.metric)} so far"
    empty = _need(result, title, 1, presentation)
    if empty is not None:
        return empty
    fig = go.Figure()
    pruned, done = _pruned(result), _finished(result)
    if len(pruned):
        fig.add_trace(_trial_markers(result, pruned, "pruned (value when cut)", PRUNED_MARKER))
    fig.add_trace(_trial_markers(result, done, "finished trial", DONE_MARKER))
    best = result.best_so_far()
    last = int(result.trials["number"].max())
    xs = [*best["number"], last] if last > best["number"].iloc[-1] else list(best["number"])
    ys = [shown_value(result.metric, v) for v in [*best["best"], best["best"].iloc[-1]][: len(xs)]]
    fig.add_trace(
        go.Scatter(
            x=xs, y=ys, mode="lines", name="best so far", line=dict(color=BEST, width=3, shape="hv"), hoverinfo="skip"
        )
    )
    fig.update_layout(title=dict(text=title), hovermode="closest")
    fig.update_xaxes(title_text="trial", range=[-0.5, last + 0.5], tickformat="d", dtick=_trial_dtick(last))
    fig.update_yaxes(title_text=metric_label(result.metric))
    return style(fig, presentation=presentation)


def _trial_dtick(last: int) -> int:
    """A whole-number tick step that labels at most ~12 trials, so the axis never overprints."""
    return max(1, math.ceil((last + 1) / 12))


def parallel_figure(result: SweepResult, *, presentation: bool = False) -> go.Figure:
    """Parallel coordinates over the finished trials: one line per trial through its settings to its metric.

    Drawn here (plotly's ``Parcoords``), not with Optuna's: Optuna 5 draws it from scatter lines
    with 10-px tick labels that vanish on a projector. Log-scaled settings sit on a log axis,
    labelled in their own values; a choice has one tick per option.
    """
    title = "Parallel coordinates: each finished trial, settings to result"
    empty = _need(result, title, 2, presentation)
    if empty is not None:
        return empty
    done, logs = _finished(result), log_params(result)
    dims = [_dimension(p, done[p], p in logs) for p in result.params]
    values = _values(result, done)
    label = metric_label(result.metric)
    dims.append(dict(label=label, values=values))
    size = font_size(presentation)
    fig = go.Figure(
        go.Parcoords(
            dimensions=dims,
            line=dict(
                color=values,
                colorscale=SEQUENTIAL,
                reversescale=result.direction == "minimize",  # the best trials bright, whichever way is better
                showscale=True,
                colorbar=dict(title=dict(text=label, side="right")),
            ),
            labelfont=dict(size=size + 2),
            tickfont=dict(size=size),
            rangefont=dict(size=1, color="rgba(0,0,0,0)"),  # each axis's range repeats its end ticks: hidden
            labelside="top",
        )
    )
    fig.update_layout(title=dict(text=title))
    fig = style(fig, presentation=presentation)
    m = fig.layout.margin
    fig.update_layout(margin=dict(l=max(m.l, 80), r=max(m.r, 60), t=m.t + size * 2, b=size * 2))
    return fig


def _dimension(name: str, column: pd.Series, log: bool) -> dict[str, Any]:
    """One parallel axis: a choice as evenly spaced options, a log-scaled setting as log10 with its own labels."""
    if _categorical(column) or column.dtype == object:
        options = list(dict.fromkeys(_axis_value(v) for v in column))
        index = {o: i for i, o in enumerate(options)}
        return dict(
            label=name,
            values=[index[_axis_value(v)] for v in column],
            tickvals=list(range(len(options))),
            ticktext=[format_param(o) for o in options],
            range=[-0.25, len(options) - 0.75] if len(options) > 1 else [-1, 1],
        )
    values = pd.to_numeric(column).astype(float)
    if not log or values.min() <= 0:
        return dict(label=name, values=values.tolist())
    logv = np.log10(values)
    lo, hi = float(logv.min()), float(logv.max())
    ticks = [lo + (hi - lo) * i / 4 for i in range(5)] if hi > lo else [lo]
    return dict(
        label=f"{name} (log)",
        values=logv.tolist(),
        tickvals=ticks,
        ticktext=[format_param(round(10**t) if column.dtype.kind in "iu" else 10**t) for t in ticks],
    )


def importance_figure(importances: dict[str, float], finished: int, *, presentation: bool = False) -> go.Figure:
    """How much each parameter explains the metric (Optuna's fANOVA, shares summing to 100%)."""
    title = "Which settings mattered (parameter importance)"
    if not importances:
        return empty_figure(
            title,
            "Drawn once two finished trials differ"
            + ("" if finished >= 2 else f" ({finished} finished so far)" if finished else " (none finished yet)"),
            x_label="",
            presentation=presentation,
        )
    ranked = sorted(importances.items(), key=lambda kv: kv[1])  # plotly draws bars bottom-up: most important on top
    fig = go.Figure(
        go.Bar(
            x=[100 * v for _, v in ranked],
            y=[k for k, _ in ranked],
            orientation="h",
            marker=dict(color=DONE),
            text=[f"{100 * v:.0f}%" for _, v in ranked],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:.1f}% of the variance<extra></extra>",
        )
    )
    fig.update_layout(title=dict(text=title), showlegend=False)
    fig.update_xaxes(title_text="share of the metric's variance it explains (%)", range=[0, 115], dtick=25)
    fig.update_yaxes(title_text="")
    height = max(260, 120 + 60 * len(ranked)) if not presentation else max(380, 160 + 80 * len(ranked))
    return style(fig, presentation=presentation, height=height)


def slice_figure(result: SweepResult, *, presentation: bool = False) -> go.Figure:
    """The metric against each parameter, one panel each (log axes for log-scaled ones); pruned trials grey."""
    title = f"{metric_label(result.metric).capitalize()} against each setting (slices)"
    empty = _need(result, title, 1, presentation)
    if empty is not None or not result.params:
        return empty or empty_figure(title, "No parameters were searched", presentation=presentation)
    params, logs = result.params, log_params(result)
    cols = min(SLICES_A_ROW, len(params))
    rows = math.ceil(len(params) / cols)
    fig = make_subplots(rows=rows, cols=cols, shared_yaxes=True, horizontal_spacing=0.04, vertical_spacing=0.22)
    done, pruned = _finished(result), _pruned(result)
    for i, p in enumerate(params):
        r, c = i // cols + 1, i % cols + 1
        for frame, name, marker in (
            (pruned, "pruned (value when cut)", dict(color=PRUNED, size=9, symbol="x-thin-open", line=dict(width=2))),
            (done, "finished trial", dict(color=DONE, size=10, line=dict(width=1, color="white"))),
        ):
            if not len(frame):
                continue
            fig.add_trace(
                go.Scatter(
                    x=[_axis_value(v) for v in frame[p]],
                    y=_values(result, frame),
                    mode="markers",
                    name=name,
                    legendgroup=name,
                    showlegend=i == 0,
                    marker=marker,
                    hovertext=[_hover(result, row) for row in frame.to_dict("records")],
                    hovertemplate="%{hovertext}<br>%{y:.4g}<extra></extra>",
                ),
                row=r,
                col=c,
            )
        fig.update_xaxes(title_text=p, row=r, col=c, nticks=5)
        if p in logs:
            fig.update_xaxes(row=r, col=c, **_log_ticks(result.trials[p]))
        elif _categorical(result.trials[p]):
            fig.update_xaxes(type="category", row=r, col=c)
    for r in range(1, rows + 1):
        fig.update_yaxes(title_text=metric_label(result.metric), row=r, col=1)
    fig.update_layout(title=dict(text=title), hovermode="closest")
    base = 420 if not presentation else 620
    return style(fig, presentation=presentation, height=base + (rows - 1) * (base - 120))


def _log_ticks(values: pd.Series) -> dict[str, Any]:
    """A log axis with explicit ticks: decades (every second past eight), or 1-2-5 steps inside two decades.

    Explicit values, since plotly's own log ticks leave a range narrower than a decade with one label.
    """
    v = pd.to_numeric(values, errors="coerce").dropna()
    if not len(v) or v.min() <= 0:
        return dict(type="log")
    lo, hi = math.log10(v.min()), math.log10(v.max())
    if hi - lo >= 2:
        step = 1 if hi - lo <= 8 else 2
        ticks = [10.0**e for e in range(math.floor(lo), math.ceil(hi) + 1, step)]
        text = [pow10(math.log10(t)) for t in ticks]
    else:
        steps = (1, 2, 5) if hi - lo >= 1 else (1, 1.5, 2, 3, 5, 7)  # inside one decade, enough labels to read off
        ticks = [m * 10.0**e for e in range(math.floor(lo) - 1, math.ceil(hi) + 1) for m in steps]
        ticks = [t for t in ticks if v.min() / 1.5 <= t <= v.max() * 1.5]
        text = [format_param(int(t) if t >= 1 else t) for t in ticks]
    return dict(type="log", tickvals=ticks, ticktext=text, minor=dict(showgrid=False))


def _axis_value(v: Any) -> Any:
    return str(v) if isinstance(v, (bool, np.bool_)) or v is None else v


def _categorical(column: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def contour_figure(result: SweepResult, x: str, y: str, *, presentation: bool = False) -> go.Figure:
    """Optuna's contour of the metric over two parameters (interpolated from finished trials), pruned ones marked."""
    title = f"{metric_label(result.metric).capitalize()} over {x} and {y} (contour)"
    empty = _need(result, title, 3, presentation, "A contour is interpolated")
    if empty is not None:
        return empty
    done = _finished(result)
    if x == y or done[x].nunique() < 2 or done[y].nunique() < 2:
        return empty_figure(
            title, "Needs finished trials that differ in both settings", x_label=x, y_label=y, presentation=presentation
        )
    import optuna.visualization as ov

    metric = result.metric
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = ov.plot_contour(
            result.study, params=[x, y], target=lambda t: shown_value(metric, t.value), target_name=metric_label(metric)
        )
    fig.update_traces(
        colorscale=SEQUENTIAL,
        reversescale=result.direction == "minimize",
        colorbar=dict(title=dict(text=metric_label(metric), side="right")),
        selector=dict(type="contour"),
    )
    fig.update_traces(marker=dict(size=10), selector=dict(type="scatter"))
    # Optuna puts the two parameters on the axes in its own (sorted) order: read it back.
    x, y = fig.layout.xaxis.title.text or x, fig.layout.yaxis.title.text or y
    pruned = _pruned(result)
    if len(pruned):
        fig.add_trace(
            go.Scatter(
                x=[_axis_value(v) for v in pruned[x]],
                y=[_axis_value(v) for v in pruned[y]],
                mode="markers",
                name="pruned",
                marker=dict(color=PRUNED, size=10, symbol="x-thin-open", line=dict(width=2.5, color=PRUNED)),
                hovertext=[_hover(result, r) for r in pruned.to_dict("records")],
                hovertemplate="%{hovertext}<extra></extra>",
                showlegend=False,
            )
        )
    fig.update_layout(title=dict(text=title), showlegend=False)
    for update, p in ((fig.update_xaxes, x), (fig.update_yaxes, y)):
        update(title_text=p, **(_log_ticks(done[p]) if p in log_params(result) else {}))
    return style(fig, presentation=presentation)
