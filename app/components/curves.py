"""Line charts over training steps: loss, accuracy, learning rate, run comparisons.

Inputs are what ``store.scalars_wide(run_id)`` returns: a DataFrame indexed
by step with one column per scalar and NaN where a scalar was not logged at
that step. Every trace is downsampled to ≤ 2,000 points and long ones are
drawn with WebGL.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .downsample import lttb, minmax
from .theme import empty_figure, run_colour, run_dash, style

__all__ = ["metric_figure", "training_curves", "compare_curves", "seed_band_curves", "spans_decades", "KNOWN_COLUMNS"]

MAX_POINTS = 2000
#: Above this many points a trace is drawn with WebGL (``go.Scattergl``).
GL_THRESHOLD = 1000

#: Scalars the training curves know how to place; anything else goes to "other".
KNOWN_COLUMNS = frozenset(
    {
        "train_loss",
        "val_loss",
        "train_eval_loss",
        "val_accuracy",
        "train_accuracy",
        "val_mse",
        "lr",
        "samples_per_s",
        "probe_overhead",
    }
)

# Fixed colours per role, so "validation" looks the same on every chart.
_ROLE = {
    "train": run_colour(0),
    "val": run_colour(1),
    "train (eval)": run_colour(2),
}


def _clean(series: pd.Series, log_y: bool) -> tuple[np.ndarray, np.ndarray]:
    """Finite (x, y) points of a series; on a log axis only the positive ones."""
    s = pd.to_numeric(series, errors="coerce").astype(float)
    y = s.to_numpy()
    keep = np.isfinite(y)
    if log_y:
        keep &= y > 0
    return np.asarray(series.index)[keep], y[keep]


def metric_figure(
    series: Mapping[str, pd.Series],
    *,
    title: str,
    y_label: str,
    x_label: str = "step",
    colours: Mapping[str, str] | None = None,
    log_y: bool = False,
    presentation: bool = False,
    dash: Mapping[str, str] | None = None,
    downsample: str = "lttb",
    opacity: Mapping[str, float] | None = None,
    markers: Mapping[str, bool] | None = None,
    line_shape: str = "linear",
) -> go.Figure:
    """One line per entry of ``series`` (label → Series indexed by step).

    Non-finite values are dropped (and non-positive ones when ``log_y``),
    then each trace is cut to ≤ 2,000 points with ``downsample="lttb"`` or
    ``"minmax"`` (the latter keeps every spike of a noisy raw loss). Traces
    longer than 1,000 points use ``go.Scattergl``. Labels without a colour
    in ``colours`` take the run palette in order. ``dash`` maps a label to a
    plotly dash style, ``opacity`` to a line opacity, ``markers`` to
    whether its points get markers (useful for sparse eval points). With no
    drawable point at all the figure says "waiting for data".
    """
    reducer = {"lttb": lttb, "minmax": minmax}[downsample]
    colours, dash = colours or {}, dash or {}
    opacity, markers = opacity or {}, markers or {}
    fig = go.Figure()
    for i, (label, s) in enumerate(series.items()):
        x, y = _clean(s, log_y)
        if len(y) == 0:
            continue
        trace_cls = go.Scattergl if len(y) > GL_THRESHOLD else go.Scatter
        x, y = reducer(x, y, MAX_POINTS)
        fig.add_trace(
            trace_cls(
                x=x,
                y=y,
                name=str(label),
                mode="lines+markers" if markers.get(label) else "lines",
                line=dict(
                    color=colours.get(label, run_colour(i)),
                    dash=dash.get(label, "solid"),
                    width=2.5 if presentation else 2,
                    shape=line_shape,
                ),
                opacity=opacity.get(label, 1.0),
                hovertemplate="%{y:.4g}",
            )
        )
    if not fig.data:
        return empty_figure(title, x_label=x_label, y_label=y_label, presentation=presentation)
    fig.update_layout(title=dict(text=title), hovermode="x unified", showlegend=len(fig.data) > 1)
    fig.update_xaxes(title_text=x_label)
    fig.update_yaxes(title_text=y_label, type="log" if log_y else "linear", exponentformat="power" if log_y else "B")
    if log_y:
        # Label only 1-2-5 steps (or whole decades on a wide range): plotly's default mixes
        # big decade labels with small digit labels, which reads as noise on a projector.
        ys = np.concatenate([np.asarray(t.y, dtype=float) for t in fig.data if t.y is not None] or [np.ones(1)])
        ys = ys[np.isfinite(ys) & (ys > 0)]
        wide = ys.size and np.log10(ys.max() / ys.min()) >= 2
        fig.update_yaxes(dtick=1 if wide else "D2")
    return style(fig, presentation=presentation)


def _column(wide: pd.DataFrame, name: str) -> pd.Series | None:
    """The column ``name`` with its NaN rows dropped, or None when it has no value."""
    if name not in wide.columns:
        return None
    s = pd.to_numeric(wide[name], errors="coerce").dropna()
    return s if len(s) else None


def _loss_figure(wide: pd.DataFrame, presentation: bool, smooth_span: int) -> go.Figure | None:
    train, val, train_eval = (_column(wide, c) for c in ("train_loss", "val_loss", "train_eval_loss"))
    series, dash, opacity, markers = {}, {}, {}, {}
    if train is not None:
        series["train (raw)"] = train
        opacity["train (raw)"] = 0.35
        # Debiased EMA over logged points, like TensorBoard's smoothing slider.
        finite = train[np.isfinite(train)]
        if len(finite) > 1:
            series["train (smoothed)"] = finite.ewm(span=smooth_span, adjust=True).mean()
    if val is not None:
        series["val"] = val
        markers["val"] = len(val) <= 200
    if train_eval is not None:
        series["train (eval)"] = train_eval
        dash["train (eval)"] = "dash"
        markers["train (eval)"] = len(train_eval) <= 200
    if not series:
        return None
    colours = {
        "train (raw)": _ROLE["train"],
        "train (smoothed)": _ROLE["train"],
        "val": _ROLE["val"],
        "train (eval)": _ROLE["train (eval)"],
    }
    # A cross-entropy that spans decades reads better on a log axis.
    values = pd.concat(list(series.values())).to_numpy(dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    log_y = len(values) > 0 and values.min() > 0 and values.max() / values.min() > 100
    y_label = "loss (mean squared error)" if "val_mse" in wide.columns else "loss (cross-entropy)"
    fig = metric_figure(
        series,
        title="Loss",
        y_label=y_label,
        colours=colours,
        dash=dash,
        opacity=opacity,
        markers=markers,
        log_y=log_y,
        presentation=presentation,
        downsample="minmax",
    )
    _mark_non_finite(fig, wide, ("train_loss", "val_loss"))
    return fig


def _mark_non_finite(fig: go.Figure, wide: pd.DataFrame, columns) -> None:
    """Draw a dashed line at the first step where a loss became ±inf (divergence).

    Only inf can be told apart: in the wide table a NaN loss looks the same as
    a step where the loss was not logged.
    """
    first = None
    for c in columns:
        if c in wide.columns:
            bad = np.isinf(pd.to_numeric(wide[c], errors="coerce").to_numpy(dtype=float))
            if bad.any():
                step = wide.index[np.argmax(bad)]
                first = step if first is None else min(first, step)
    if first is not None:
        fig.add_vline(
            x=first,
            line_dash="dash",
            line_color="#B00020",
            annotation_text=f"non-finite loss at step {first}",
            annotation_position="top left",
        )


def _metric_figure(wide: pd.DataFrame, presentation: bool) -> go.Figure | None:
    acc = {label: _column(wide, c) for label, c in (("val", "val_accuracy"), ("train", "train_accuracy"))}
    acc = {k: v * 100.0 for k, v in acc.items() if v is not None}
    if acc:
        fig = metric_figure(
            acc,
            title="Accuracy",
            y_label="accuracy (%)",
            colours=_ROLE,
            markers={k: len(v) <= 200 for k, v in acc.items()},
            presentation=presentation,
        )
        fig.update_yaxes(range=[0, 100.5])
        return fig
    mse = _column(wide, "val_mse")
    if mse is None:
        return None
    positive = mse[mse > 0]
    log_y = len(positive) == len(mse) and positive.max() / positive.min() > 100
    return metric_figure(
        {"val": mse},
        title="Validation error",
        y_label="mean squared error",
        colours=_ROLE,
        log_y=log_y,
        markers={"val": len(mse) <= 200},
        presentation=presentation,
    )


def _lr_figure(wide: pd.DataFrame, presentation: bool) -> go.Figure | None:
    if "lr" not in wide.columns:
        return None
    # lr is logged only when it changes: carry it forward to every later step.
    lr = pd.to_numeric(wide["lr"], errors="coerce").ffill().dropna()
    if lr.empty:
        return None
    # Log axis only when the schedule spans a decade or more (and never reaches 0): a constant
    # or gently decaying rate reads better on a linear axis than among log minor ticks.
    log_y = bool((lr > 0).all()) and float(lr.max()) >= 10 * float(lr.min())
    fig = metric_figure(
        {"learning rate": lr},
        title="Learning rate schedule",
        y_label="learning rate",
        log_y=log_y,
        line_shape="hv",
        presentation=presentation,
    )
    if not log_y:  # start at 0 so a constant rate reads as its value, not as a line at the axis
        fig.update_yaxes(range=[0, float(lr.max()) * 1.15], tickformat="~g")
    return fig


def _other_figure(wide: pd.DataFrame, presentation: bool) -> go.Figure | None:
    extra = {c: _column(wide, c) for c in wide.columns if c not in KNOWN_COLUMNS}
    extra = {str(c): s for c, s in extra.items() if s is not None}
    if not extra:
        return None
    return metric_figure(extra, title="Other metrics", y_label="value", presentation=presentation, downsample="minmax")


def training_curves(
    wide: pd.DataFrame, *, presentation: bool = False, smooth_span: int = 50
) -> dict[str, go.Figure | None]:
    """The standard charts of one run, keyed "loss", "metric", "lr" and "other".

    * ``"loss"``: raw train loss (faint, MinMax-downsampled so spikes stay),
      its EMA over ``smooth_span`` logged points, val loss and train-eval loss;
      a dashed marker where the loss first became ±inf.
    * ``"metric"``: val/train accuracy in %, or else val MSE.
    * ``"lr"``: the learning rate carried forward between changes, log y.
    * ``"other"``: any unrecognised scalar columns (e.g. a GAN's
      ``gen_loss`` and ``disc_loss``); ``samples_per_s`` and
      ``probe_overhead`` are performance numbers and are never drawn here.

    A key whose columns are missing or hold no value maps to **None** (the
    view decides whether to show a placeholder), so an empty DataFrame gives
    ``{"loss": None, "metric": None, "lr": None, "other": None}``.
    """
    if wide is None or wide.empty:
        return {"loss": None, "metric": None, "lr": None, "other": None}
    wide = wide.sort_index()
    return {
        "loss": _loss_figure(wide, presentation, smooth_span),
        "metric": _metric_figure(wide, presentation),
        "lr": _lr_figure(wide, presentation),
        "other": _other_figure(wide, presentation),
    }


def compare_curves(
    wides: Mapping[str, pd.DataFrame],
    column: str,
    *,
    title: str,
    y_label: str,
    colours: Mapping[str, str] | None = None,
    presentation: bool = False,
    log_y: bool | None = False,
    smooth_span: int | None = None,
    dash: Mapping[str, str] | None = None,
) -> go.Figure:
    """One line per run for one scalar ``column`` (run label → wide DataFrame).

    Runs without the column (or with no value in it) are skipped; with none
    left the figure says "waiting for data". Colours come from ``colours``
    or the run palette in the order of ``wides``, so pass the same mapping
    to every Compare chart to keep a run's colour fixed; line styles come
    from ``dash`` or cycle in the same order (``theme.run_dash``), so eight
    or more overlaid runs stay apart. ``lr`` is carried
    forward between changes, and ``*_accuracy`` columns are shown in %.
    ``smooth_span`` replaces each line by its EMA (handy for noisy train loss).
    ``log_y=None`` picks a log axis when the positive values span more than
    100× (a run that blew up beside runs that trained) and then says so in the title.
    """
    colours, dash = dict(colours or {}), dict(dash or {})
    series = {}
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
        if smooth_span:
            s = s.ewm(span=smooth_span, adjust=True).mean()
        series[label] = s
    if log_y is None:  # the chart chose its axis, so its title says which
        log_y = spans_decades(series.values())
        title += " (log scale)" if log_y else ""
    # A run whose line lies exactly on an earlier one (runs stuck at chance, say) would vanish
    # under it: its legend entry says whose line it shares.
    shown = {
        label: label if other is None else f"{label} (same as {other})" for label, other in _coinciding(series).items()
    }
    fig = metric_figure(
        {shown[label]: s for label, s in series.items()},
        title=title,
        y_label=y_label,
        colours={shown.get(label, label): c for label, c in colours.items()},
        dash={shown.get(label, label): d for label, d in dash.items()},
        log_y=log_y,
        presentation=presentation,
        line_shape="hv" if column == "lr" else "linear",
        downsample="minmax",
    )
    fig.update_layout(showlegend=True)
    if column.endswith("_accuracy") and series:
        fig.update_yaxes(range=[0, 100.5])
    return fig


def seed_band_curves(
    groups: Mapping[str, list[pd.DataFrame]],
    column: str,
    *,
    title: str,
    y_label: str,
    colours: Mapping[str, str] | None = None,
    presentation: bool = False,
    log_y: bool | None = False,
) -> go.Figure:
    """One line per variant, the mean over its seeds, in a band of ±1 standard deviation across seeds.

    ``groups`` maps a variant's label to the wide tables of its seeds' runs. Seeds
    evaluate at the same steps, so the band is computed step by step over the seeds
    that have a value there; a variant with one run is drawn as a plain line.
    ``log_y`` as in :func:`compare_curves` (None: log when the means span over 100×).
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
        title += " (log scale)" if log_y else ""
    fig = compare_curves(
        means, column, title=title, y_label=y_label, colours=colours, dash=dash, presentation=presentation, log_y=log_y
    )
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
    return fig


def _coinciding(series: Mapping[str, pd.Series], share: float = 0.005) -> dict[str, str | None]:
    """{label: the first earlier label whose line it lies on, or None}.

    Two lines coincide when they have the same steps and differ nowhere by more than
    ``share`` of the chart's whole y range (so on screen, by about a line's width).
    """
    values = [np.asarray(s, dtype=float) for s in series.values() if len(s)]
    span = float(np.ptp(np.concatenate(values))) if values else 0.0
    tol = share * span if span > 0 else 1e-12
    out: dict[str, str | None] = {}
    earlier: list[tuple[str, pd.Series]] = []
    for label, s in series.items():
        out[label] = next(
            (
                other
                for other, o in earlier
                if len(o) == len(s) and o.index.equals(s.index) and np.abs(o.to_numpy() - s.to_numpy()).max() <= tol
            ),
            None,
        )
        earlier.append((label, s))
    return out


def spans_decades(series, ratio: float = 100.0) -> bool:
    """True when the positive finite values of ``series`` (an iterable of Series) span more than ``ratio``×."""
    parts = [pd.to_numeric(s, errors="coerce").to_numpy(dtype=float) for s in series]
    values = np.concatenate(parts) if parts else np.zeros(0)
    values = values[np.isfinite(values) & (values > 0)]
    return bool(values.size) and float(values.max()) / float(values.min()) > ratio


def _with_alpha(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r}, {g}, {b}, {alpha})"
