"""Line charts of one run: loss, accuracy, learning rate, other scalars; and the line builder they share.

Inputs are what ``store.scalars_wide(run_id)`` returns: a DataFrame indexed by step with
one column per scalar and NaN where a scalar was not logged at that step. The index may
be moved to epochs, samples or seconds first (``app.logic.axes.on_axis``); pass its name
as ``x_label``. Every trace is downsampled to ≤ 2,000 points and long ones are drawn with
WebGL. Many runs on one chart are :mod:`app.components.overlays`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .downsample import lttb, minmax
from .theme import empty_figure, log_axis, pow10_labels, run_colour, style

__all__ = ["metric_figure", "training_curves", "ema", "spans_decades", "KNOWN_COLUMNS", "DEFAULT_SMOOTHING"]

MAX_POINTS = 2000
#: Above this many points a trace is drawn with WebGL (``go.Scattergl``).
GL_THRESHOLD = 1000
#: The smoothing slider's starting weight: about a 40-point moving average of a per-step loss.
DEFAULT_SMOOTHING = 0.95
#: Opacity of the raw training loss drawn behind its smoothed line.
RAW_OPACITY = 0.3

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
        "data_wait",
        "time_compute",
        "time_optimizer",
    }
)

# Fixed colours per role, so "validation" looks the same on every chart.
_ROLE = {
    "train": run_colour(0),
    "val": run_colour(1),
    "train (eval)": run_colour(2),
}


def ema(series: pd.Series, weight: float) -> pd.Series:
    """The debiased exponential moving average TensorBoard's smoothing slider draws.

    Each point is ``weight`` × the previous average + (1 − ``weight``) × itself, over the
    finite logged points, with the start debiased (pandas' ``adjust=True``), so the curve
    starts at the first value rather than at 0. ``weight`` 0 gives the series back; it lags
    behind a falling loss by about ``1 / (1 - weight)`` points, which a centred window would
    not, but a centred window has no right half at the live edge of a running run.
    """
    s = pd.to_numeric(series, errors="coerce")
    s = s[np.isfinite(s)]
    if weight <= 0 or len(s) < 2:
        return s
    return s.ewm(alpha=1.0 - min(float(weight), 0.999), adjust=True).mean()


def spans_decades(series: Iterable[pd.Series], ratio: float = 100.0) -> bool:
    """True when the positive finite values of ``series`` (an iterable of Series) span more than ``ratio``×."""
    return _decades(series) > np.log10(ratio)


def _decades(series: Iterable) -> float:
    """How many powers of ten the positive finite values of ``series`` span (0 when none)."""
    parts = [pd.to_numeric(pd.Series(np.asarray(s, dtype=float)), errors="coerce").to_numpy() for s in series]
    values = np.concatenate(parts) if parts else np.zeros(0)
    values = values[np.isfinite(values) & (values > 0)]
    return float(np.log10(values.max() / values.min())) if values.size else 0.0


def _clean(series: pd.Series, log_y: bool) -> tuple[np.ndarray, np.ndarray]:
    """Finite (x, y) points of a series; on a log axis only the positive ones."""
    s = pd.to_numeric(series, errors="coerce").astype(float)
    y = s.to_numpy()
    keep = np.isfinite(y)
    if log_y:
        keep &= y > 0
    return np.asarray(series.index)[keep], y[keep]


def _plain(values: np.ndarray) -> bool:
    """True when every value reads well as a plain number (no power of ten needed)."""
    a = np.abs(values[values != 0])
    return not a.size or (a.min() >= 1e-2 and a.max() < 1e4)


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
    hover: str = "x unified",
) -> go.Figure:
    """One line per entry of ``series`` (label → Series indexed by the x-axis).

    Non-finite values are dropped (and non-positive ones when ``log_y``),
    then each trace is cut to ≤ 2,000 points with ``downsample="lttb"`` or
    ``"minmax"`` (the latter keeps every spike of a noisy raw loss). Traces
    longer than 1,000 points use ``go.Scattergl``. Labels without a colour
    in ``colours`` take the run palette in order. ``dash`` maps a label to a
    plotly dash style, ``opacity`` to a line opacity, ``markers`` to
    whether its points get markers (useful for sparse eval points). With no
    drawable point at all the figure says "waiting for data".

    ``hover="x unified"`` lists every line at the x under the cursor (one run's train and
    val); ``"closest"`` names the one line nearest the cursor (many runs). Powers of ten,
    on the axis and in the hover text, are written one way: ``3.2×10⁻⁴``.
    """
    reducer = {"lttb": lttb, "minmax": minmax}[downsample]
    colours, dash = colours or {}, dash or {}
    opacity, markers = opacity or {}, markers or {}
    points = [(label, *_clean(s, log_y)) for label, s in series.items()]
    drawn = [y for _, _, y in points if len(y)]
    plain = _plain(np.concatenate(drawn)) if drawn else True
    x_part = "%{x:,.4~g}" if x_label == "step" else "%{x:.4~g}"
    y_part = "%{y:.4g}" if plain else "%{text}"
    template = (
        f"{y_part}<extra></extra>"
        if hover != "closest"
        else f"<b>%{{fullData.name}}</b><br>{x_label} {x_part}<br>{y_part}<extra></extra>"
    )
    fig = go.Figure()
    for i, (label, x, y) in enumerate(points):
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
                text=None if plain else pow10_labels(y, 3),
                hovertemplate=template,
            )
        )
    if not fig.data:
        return empty_figure(title, x_label=x_label, y_label=y_label, presentation=presentation)
    fig.update_layout(title=dict(text=title), hovermode=hover, showlegend=len(fig.data) > 1)
    fig.update_xaxes(title_text=x_label)
    fig.update_yaxes(title_text=y_label)
    if log_y:
        # Whole decades only (every second or third on a wide range): plotly's default mixes
        # decade labels with digit labels, which reads as noise on a projector. Less than two
        # decades would leave one or two labels, so there the 2s and 5s are labelled too.
        span = _decades(drawn)
        log_axis(fig, "y", span_decades=span, **({} if span >= 2 else {"dtick": "D2"}))
    else:
        fig.update_yaxes(type="linear", exponentformat="power")
    return style(fig, presentation=presentation)


def _column(wide: pd.DataFrame, name: str) -> pd.Series | None:
    """The column ``name`` with its NaN rows dropped, or None when it has no value."""
    if name not in wide.columns:
        return None
    s = pd.to_numeric(wide[name], errors="coerce").dropna()
    return s if len(s) else None


def _loss_figure(
    wide: pd.DataFrame, presentation: bool, smoothing: float, log_y: bool | None, x_label: str
) -> go.Figure | None:
    train, val, train_eval = (_column(wide, c) for c in ("train_loss", "val_loss", "train_eval_loss"))
    series, dash, opacity, markers = {}, {}, {}, {}
    colours = {"train": _ROLE["train"], "val": _ROLE["val"], "train (eval)": _ROLE["train (eval)"]}
    if train is not None:
        smoothed = ema(train, smoothing)
        if smoothing > 0 and len(smoothed) > 1:
            # The raw loss stays faint behind its average, so a spike the average hides is still seen.
            series["train (raw)"], opacity["train (raw)"] = train, RAW_OPACITY
            series["train (smoothed)"] = smoothed
            colours["train (raw)"] = colours["train (smoothed)"] = _ROLE["train"]
        else:
            series["train"] = train
    if val is not None:
        series["val"] = val
        markers["val"] = len(val) <= 200
    if train_eval is not None:
        series["train (eval)"] = train_eval
        dash["train (eval)"] = "dash"
        markers["train (eval)"] = len(train_eval) <= 200
    if not series:
        return None
    # A cross-entropy that spans decades reads better on a log axis.
    log_y = spans_decades(series.values()) if log_y is None else log_y
    y_label = "loss (mean squared error)" if "val_mse" in wide.columns else "loss (cross-entropy)"
    fig = metric_figure(
        series,
        title="Loss",
        y_label=y_label,
        x_label=x_label,
        colours=colours,
        dash=dash,
        opacity=opacity,
        markers=markers,
        log_y=log_y,
        presentation=presentation,
        downsample="minmax",
    )
    _mark_non_finite(fig, wide, ("train_loss", "val_loss"), x_label)
    return fig


def _mark_non_finite(fig: go.Figure, wide: pd.DataFrame, columns, x_label: str) -> None:
    """Draw a dashed line where a loss first became ±inf (divergence).

    Only inf can be told apart: in the wide table a NaN loss looks the same as
    a step where the loss was not logged.
    """
    first = None
    for c in columns:
        if c in wide.columns:
            bad = np.isinf(pd.to_numeric(wide[c], errors="coerce").to_numpy(dtype=float))
            if bad.any():
                at = wide.index[np.argmax(bad)]
                first = at if first is None else min(first, at)
    if first is not None:
        fig.add_vline(
            x=first,
            line_dash="dash",
            line_color="#B00020",
            annotation_text=f"non-finite loss at step {first}" if x_label == "step" else "non-finite loss from here",
            annotation_position="top left",
        )


def _metric_figure(wide: pd.DataFrame, presentation: bool, x_label: str) -> go.Figure | None:
    acc = {label: _column(wide, c) for label, c in (("val", "val_accuracy"), ("train", "train_accuracy"))}
    acc = {k: v * 100.0 for k, v in acc.items() if v is not None}
    if acc:
        fig = metric_figure(
            acc,
            title="Accuracy",
            y_label="accuracy (%)",
            x_label=x_label,
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
        x_label=x_label,
        colours=_ROLE,
        log_y=log_y,
        markers={"val": len(mse) <= 200},
        presentation=presentation,
    )


def _lr_figure(wide: pd.DataFrame, presentation: bool, x_label: str) -> go.Figure | None:
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
        x_label=x_label,
        log_y=log_y,
        line_shape="hv",
        presentation=presentation,
    )
    if not log_y:  # start at 0 so a constant rate reads as its value, not as a line at the axis
        fig.update_yaxes(range=[0, float(lr.max()) * 1.15], tickformat="~g")
    return fig


#: Titles for scalars some models or remedies add (anything else is shown by its column name).
OTHER_TITLES = {
    "weights_near_zero": "Share of weights near zero",
    "gen_loss": "Generator loss",
    "disc_loss": "Discriminator loss",
}


def _other_figure(wide: pd.DataFrame, presentation: bool, x_label: str) -> go.Figure | None:
    extra = {c: _column(wide, c) for c in wide.columns if c not in KNOWN_COLUMNS}
    extra = {str(c): s for c, s in extra.items() if s is not None}
    if not extra:
        return None
    # One extra scalar gets its own name as title and axis: a lone line has no legend to name it.
    title = "Other metrics" if len(extra) > 1 else OTHER_TITLES.get(next(iter(extra)), next(iter(extra)))
    y_label = "value" if len(extra) > 1 else title.lower()
    return metric_figure(
        extra, title=title, y_label=y_label, x_label=x_label, presentation=presentation, downsample="minmax"
    )


def training_curves(
    wide: pd.DataFrame,
    *,
    presentation: bool = False,
    smoothing: float = DEFAULT_SMOOTHING,
    log_y: bool | None = None,
    x_label: str = "step",
) -> dict[str, go.Figure | None]:
    """The standard charts of one run, keyed "loss", "metric", "lr" and "other".

    * ``"loss"``: the train loss, and with ``smoothing`` > 0 (an :func:`ema` weight) its
      average drawn over the raw values, which stay faint (MinMax-downsampled, so spikes
      stay); val loss and train-eval loss as measured; a dashed marker where the loss first
      became ±inf. ``log_y`` True or False fixes the loss axis; None picks log when the
      values span more than 100×.
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
        "loss": _loss_figure(wide, presentation, smoothing, log_y, x_label),
        "metric": _metric_figure(wide, presentation, x_label),
        "lr": _lr_figure(wide, presentation, x_label),
        "other": _other_figure(wide, presentation, x_label),
    }
