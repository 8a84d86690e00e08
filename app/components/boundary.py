"""What the model has learned, drawn over the data: a decision boundary or a fitted curve (Playground style).

The payloads are the ``boundary`` events that ``engine/training/boundary.py``
records (everything in the standardised space the model sees):

* ``kind: "classes"``: a grid (``x``, ``y``) with, for two classes, the
  probability of the second (``prob``), else the predicted class (``label``)
  and its probability (``conf``), plus training ``points`` with their labels;
* ``kind: "curve"``: the model's output ``fit`` along ``x`` over training ``points``;
* ``kind: "forecast"``: a validation window (``points``), the true next
  value (``truth``), and the model's predictions fed back in (``fit``).

For two classes the field is diverging around 50 %, each side tinted in its
class's colour, with the 50 % line drawn on top: that line is the boundary.
With more classes each cell takes its predicted class's hue, paler where the
model is less sure. Points keep full colour, a white rim and one marker shape
per class, so they read on a dim projector and without colour.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go

from .theme import chart_height, empty_figure, run_colour, style, with_step

__all__ = ["boundary_figure", "decision_boundary", "fitted_curve"]

#: One filled shape per class, so classes differ without colour too.
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "triangle-down", "pentagon", "hexagon", "star")
#: How far a region's colour goes from white towards its class's colour at full confidence.
TINT = 0.5
#: The boundary is the chart a class watches, and a square plot needs the height: this much taller than the rest.
HEIGHT_FACTOR = 1.25
TITLES = {"classes": "Decision boundary", "curve": "Fitted curve", "forecast": "Forecast"}


def boundary_figure(
    payload: dict[str, Any] | None, *, step: int | None = None, presentation: bool = False
) -> go.Figure:
    """The chart for one ``boundary`` payload, whichever its kind; a titled empty chart for none."""
    kind = (payload or {}).get("kind")
    if kind == "classes":
        return decision_boundary(payload or {}, step=step, presentation=presentation)
    if kind in ("curve", "forecast"):
        return fitted_curve(payload or {}, step=step, presentation=presentation)
    return empty_figure(with_step("Decision boundary", step), x_label="x₁", y_label="x₂", presentation=presentation)


def decision_boundary(payload: dict[str, Any], *, step: int | None = None, presentation: bool = False) -> go.Figure:
    """Class probability over the plane (heatmap), the 50 % line for two classes, and the labelled points."""
    title = with_step(TITLES["classes"], step)
    gx, gy = np.asarray(payload.get("x", []), dtype=float), np.asarray(payload.get("y", []), dtype=float)
    k = int(payload.get("n_classes") or 2)
    names = _class_names(payload, k)
    x_label, y_label = _axis_labels(payload, 2)
    if gx.size < 2 or gy.size < 2:
        return empty_figure(title, x_label=x_label, y_label=y_label, presentation=presentation)
    fig = go.Figure()
    hover_xy = f"{x_label} %{{x:.2f}}, {y_label} %{{y:.2f}}<br>"
    if "prob" in payload:
        prob = _grid(payload["prob"], gy.size, gx.size)
        scale = [[0.0, _tint(_class_colour(0))], [0.5, "#ffffff"], [1.0, _tint(_class_colour(1))]]
        fig.add_trace(
            go.Heatmap(
                x=gx,
                y=gy,
                z=prob,
                zmin=0.0,
                zmax=1.0,
                colorscale=scale,
                zsmooth="best",  # a smooth field, as the model's output is, not 50 × 50 tiles
                # No colour bar: a region takes its class's colour, as its points do, paler where the
                # model is unsure (Playground's key); a bar beside an equal-aspect plot sits far from it.
                showscale=False,
                name=f"P({names[1]})",
                hovertemplate=hover_xy + f"P({names[1]}) %{{z:.0%}}<extra></extra>",
            )
        )
        fig.add_trace(
            go.Contour(
                x=gx,
                y=gy,
                z=prob,
                contours=dict(start=0.5, end=0.5, size=1.0, coloring="none"),  # "lines" would take a colour scale
                line=dict(color="#222222", width=3 if presentation else 2),
                showscale=False,
                name="boundary (50/50)",
                showlegend=True,
                hoverinfo="skip",
            )
        )
    else:
        label, conf = (
            _grid(payload.get("label", []), gy.size, gx.size),
            _grid(payload.get("conf", []), gy.size, gx.size),
        )
        for c in range(k):
            mask = label == c
            if not mask.any():
                continue
            fig.add_trace(
                go.Heatmap(
                    x=gx,
                    y=gy,
                    z=np.where(mask, conf, np.nan),
                    zmin=1.0 / k,
                    zmax=1.0,
                    colorscale=[[0.0, "#ffffff"], [1.0, _tint(_class_colour(c))]],
                    showscale=False,
                    name=names[c],
                    hovertemplate=hover_xy + f"{names[c]} %{{z:.0%}}<extra></extra>",
                )
            )
    _add_points(fig, payload.get("points") or {}, names, presentation)
    fig.update_layout(title=dict(text=title), hovermode="closest")
    # The grid fills the plot exactly, one unit as long on both axes: circles stay round.
    # Kept to the left, under the title and above the legend, whatever room is left on the right.
    fig.update_xaxes(
        title_text=x_label,
        range=[gx[0], gx[-1]],
        constrain="domain",
        constraintoward="left",
        showgrid=False,
        zeroline=False,
    )
    fig.update_yaxes(
        title_text=y_label, range=[gy[0], gy[-1]], scaleanchor="x", scaleratio=1, showgrid=False, zeroline=False
    )
    return style(fig, presentation=presentation, height=round(chart_height(presentation) * HEIGHT_FACTOR))


def fitted_curve(payload: dict[str, Any], *, step: int | None = None, presentation: bool = False) -> go.Figure:
    """The model's curve (vermillion) over the data points (blue); for a forecast, also the true next value."""
    forecast = payload.get("kind") == "forecast"
    title = with_step(TITLES["forecast" if forecast else "curve"], step)
    suffix = " (standardised)" if payload.get("standardised") else ""
    x_label = "time step" if forecast else _axis_labels(payload, 1)[0]
    y_label = ("value" if forecast else "target") + suffix
    px, py = _xy(payload.get("points") or {})
    fx, fy = _xy({"x": payload.get("x", []), "y": payload.get("fit", [])})
    if len(px) == 0 and len(fx) == 0:
        return empty_figure(title, x_label=x_label, y_label=y_label, presentation=presentation)
    size = 10 if presentation else 7
    fig = go.Figure()
    order = np.argsort(px, kind="stable")
    fig.add_trace(
        go.Scatter(
            x=px[order],
            y=py[order],
            mode="lines+markers" if forecast else "markers",
            name="input window" if forecast else "training data",
            line=dict(color=run_colour(0), width=1),
            marker=dict(color=run_colour(0), size=size, opacity=0.7, line=dict(color="white", width=1)),
            hovertemplate="(%{x:.3g}, %{y:.3g})<extra></extra>",
        )
    )
    truth = payload.get("truth")
    if forecast and truth and len(truth) == 2:
        fig.add_trace(
            go.Scatter(
                x=[truth[0]],
                y=[truth[1]],
                mode="markers",
                name="true next value",
                marker=dict(color=run_colour(2), size=size * 2, symbol="star", line=dict(color="#222", width=1)),
                hovertemplate="true next value %{y:.3g}<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=fx,
            y=fy,
            mode="lines+markers" if forecast else "lines",
            name="model's forecast" if forecast else "model",
            line=dict(color=run_colour(1), width=4 if presentation else 3),
            marker=dict(size=size * 0.7),
            hovertemplate="model (%{x:.3g}, %{y:.3g})<extra></extra>",
        )
    )
    fig.update_layout(title=dict(text=title), hovermode="closest")
    fig.update_xaxes(title_text=x_label)
    fig.update_yaxes(title_text=y_label, range=_y_range(py, fy))
    return style(fig, presentation=presentation)


# --- helpers --------------------------------------------------------------------


def _add_points(fig: go.Figure, points: dict, names: list[str], presentation: bool) -> None:
    """One marker trace per class: full colour, a white rim, its own shape."""
    x, y = _xy(points)
    labels = np.asarray(points.get("label", []), dtype=np.int64).reshape(-1)
    if len(labels) != len(x):
        return
    size = 11 if presentation else 8
    for c in np.unique(labels).tolist():
        pick = labels == c
        name = names[c] if 0 <= c < len(names) else f"class {c}"
        fig.add_trace(
            go.Scatter(
                x=x[pick],
                y=y[pick],
                mode="markers",
                name=name,
                marker=dict(
                    color=_class_colour(c),
                    symbol=_class_symbol(c),
                    size=size,
                    line=dict(color="white", width=1.5 if presentation else 1),
                ),
                hovertemplate=f"{name}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
            )
        )


def _class_names(payload: dict, k: int) -> list[str]:
    given = [str(n) for n in payload.get("class_names") or []]
    return given[:k] + [f"class {c}" for c in range(len(given), k)]


def _axis_labels(payload: dict, n: int) -> list[str]:
    names = [str(f) for f in payload.get("feature_names") or []]
    names = names[:n] + [f"x{i + 1}" for i in range(len(names), n)]
    suffix = " (standardised)" if payload.get("standardised") else ""
    return [name + suffix for name in names]


def _class_colour(c: int) -> str:
    """Class ``c``'s colour: the palette's order, so class 0 is blue and class 1 vermillion, as elsewhere."""
    return run_colour(c)


def _class_symbol(c: int) -> str:
    # Shapes shift by one each time the colours wrap, so no two of the first 64 classes look alike.
    return SYMBOLS[(c + c // len(SYMBOLS)) % len(SYMBOLS)]


def _tint(hex_colour: str, amount: float = TINT) -> str:
    """``hex_colour`` mixed with white: ``amount`` 1 is the colour itself, 0 is white."""
    rgb = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    mixed = [round(255 + (v - 255) * amount) for v in rgb]
    return "#" + "".join(f"{v:02x}" for v in mixed)


def _grid(values, rows: int, cols: int) -> np.ndarray:
    """``values`` as a (rows, cols) float array, NaN-filled when it has the wrong shape."""
    a = np.asarray(values if values is not None else [], dtype=float)
    return a if a.shape == (rows, cols) else np.full((rows, cols), np.nan)


def _xy(points: dict) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(points.get("x", []), dtype=float).reshape(-1)
    y = np.asarray(points.get("y", []), dtype=float).reshape(-1)
    n = min(len(x), len(y))
    x, y = x[:n], y[:n]
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def _y_range(data: np.ndarray, fit: np.ndarray) -> list[float] | None:
    """The data's span plus the model's, but a runaway model (a forecast that explodes) no further than
    one data span beyond the data, so the points stay readable."""
    if len(data) == 0:
        return None
    lo, hi = float(data.min()), float(data.max())
    span = max(hi - lo, 1e-6)
    if len(fit):
        lo, hi = max(min(lo, float(fit.min())), lo - span), min(max(hi, float(fit.max())), hi + span)
    pad = 0.05 * (hi - lo)
    return [lo - pad, hi + pad]
