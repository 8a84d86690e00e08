"""The Explain page's charts: what a trained run looks at, from ``gradclinic explain --json``.

Plain plotly over the result dict, no Streamlit. Signed attributions use the diverging scale
(red pushes toward the explained output, blue against it, white at 0) on a symmetric range,
which a caller may share between two runs (:func:`shared_zmax`) so the same colour means the
same amount on both. Images draw each sample's map over the sample itself, one cell a sample
(:mod:`app.components.attribution_images`); tables and sequences draw heatmaps of samples.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from .attribution_images import COLOURBAR as _COLOURBAR
from .attribution_images import MISS, overlay_grid
from .theme import DIVERGING, SEQUENTIAL, chart_height, empty_figure, run_colour, style

__all__ = [
    "MISS",
    "shared_zmax",
    "image_grid",
    "class_grid",
    "feature_bars",
    "sample_heatmap",
    "time_chart",
    "feature_time_heatmap",
]

MAX_IMAGES = 16  # samples drawn in the image grid (three rows of six, the last of four)
PER_ROW = 6  # cells a row at the full width: a cell is about 130 px square, an 8×8 digit 16 px a pixel
WIDTH = 960  # px: an image grid's expected width (the page's full width); the grid is made as tall as it needs
MAX_ROWS = 40  # samples in a heatmap: beyond this the rows get too thin to read
MAX_FEATURES = 20  # bars in the importance chart (the top ones)
TRACES = 3  # samples drawn as lines over time
#: A range below this is "no attribution at all" (a model that has not learned): kept white.
FLOOR = 1e-6


def shared_zmax(results: Iterable[Mapping[str, Any]], key: str = "per_sample") -> float:
    """One symmetric colour range for every result's ``key``: the largest of their 99th percentiles of
    |value| (one hot pixel does not wash the rest out, and a blank run does not lower the other's
    range), never below :data:`FLOOR`, so zero attributions stay white."""
    top = FLOOR
    for r in results:
        values = np.abs(np.asarray(r.get(key) if r.get(key) is not None else [], dtype=float)).ravel()
        values = values[np.isfinite(values)]
        if values.size:
            top = max(top, float(np.percentile(values, 99)))
    return top


def _title(text: str, name: str | None) -> dict:
    return {"text": f"{name} · {text}" if name else text}


def _class(result: Mapping[str, Any], value: Any) -> str:
    names = result.get("class_names") or []
    if result.get("task") == "classification" and isinstance(value, int | float) and float(value).is_integer():
        k = int(value)
        return str(names[k]) if 0 <= k < len(names) else str(k)
    return f"{float(value):.3g}"


def _row_labels(result: Mapping[str, Any], n: int) -> list[str]:
    """``#3: 8 → 1``: each sample's number, label and prediction."""
    labels, predicted = result.get("labels") or [], result.get("predicted") or []
    return [f"#{i + 1}: {_class(result, labels[i])} → {_class(result, predicted[i])}" for i in range(n)]


def image_grid(
    result: Mapping[str, Any],
    *,
    zmax: float | None = None,
    name: str | None = None,
    per_row: int = PER_ROW,
    most: int = MAX_IMAGES,
    width: int = WIDTH,
    presentation: bool = False,
) -> go.Figure:
    """The first ``most`` samples, each (grey) under its attribution map (red/blue), labelled ``label → predicted``."""
    maps = np.asarray(result["per_sample"], dtype=float)[:most]
    images = np.asarray(result["inputs"], dtype=float)[:most]
    labels, predicted = result.get("labels") or [], result.get("predicted") or []
    notes = [
        (f"{_class(result, labels[i])} → {_class(result, predicted[i])}", labels[i] != predicted[i])
        for i in range(len(maps))
    ]
    scale = zmax or shared_zmax([result])
    fig = overlay_grid(images, maps, notes, zmax=scale, per_row=per_row, width=width, presentation=presentation)
    fig.update_layout(title=_title(f"{len(maps)} samples (label → predicted)", name))
    return fig


def class_grid(
    result: Mapping[str, Any],
    *,
    zmax: float | None = None,
    name: str | None = None,
    per_row: int = PER_ROW,
    width: int = WIDTH,
    presentation: bool = False,
) -> go.Figure:
    """Per explained class: its samples' average map over their average image."""
    groups = result.get("per_class") or []
    if not groups:
        return empty_figure(
            _title("Average per explained class", name)["text"], "no samples", presentation=presentation
        )
    maps = np.asarray([g["map"] for g in groups], dtype=float)
    images = np.asarray([g["image"] for g in groups], dtype=float)
    notes = [(f"{g['name']} (n={g['count']})", False) for g in groups]
    scale = zmax or shared_zmax([{"m": maps}], "m")
    fig = overlay_grid(images, maps, notes, zmax=scale, per_row=per_row, width=width, presentation=presentation)
    fig.update_layout(title=_title("Average per explained class", name))
    return fig


def feature_bars(
    result: Mapping[str, Any],
    *,
    colour: int = 0,
    x_max: float | None = None,
    name: str | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Mean |attribution| per feature, the largest on top, each bar labelled with its share."""
    v = np.asarray(result["importance"], dtype=float)
    order = np.argsort(-v, kind="stable")[:MAX_FEATURES]
    names = [str(result["features"][i]) for i in order]
    total = float(np.abs(v).sum()) or 1.0
    fig = go.Figure(
        go.Bar(
            x=v[order],
            y=names,
            orientation="h",
            marker_color=run_colour(colour),
            text=[f"{x / total:.0%}" for x in v[order]],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="<b>%{y}</b><br>mean |attribution| %{x:.3g}<extra></extra>",
        )
    )
    shown = f"top {len(order)} of {len(v)} inputs" if len(order) < len(v) else "inputs"
    fig.update_layout(title=_title(f"Which {shown} matter", name), showlegend=False, hovermode="closest")
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=names[::-1])
    top = x_max if x_max is not None else float(v.max(initial=0.0))
    fig.update_xaxes(title_text="mean |attribution| (share of the total)", range=[0, max(top, FLOOR) * 1.18])
    height = max(chart_height(presentation), 120 + len(order) * (44 if presentation else 28))
    return style(fig, presentation=presentation, height=height)


def sample_heatmap(
    result: Mapping[str, Any],
    *,
    zmax: float | None = None,
    name: str | None = None,
    marks: Sequence[Sequence[int]] = (),
    presentation: bool = False,
) -> go.Figure:
    """Samples (rows) by input (columns) of signed attributions: features for a table, time steps for a sequence.

    A table's columns follow the importance order; ``marks`` (per sample, time steps) are
    ringed, so the adding problem's two marked numbers stand out.
    """
    z = np.asarray(result["per_sample"], dtype=float)[:MAX_ROWS]
    rows = _row_labels(result, len(z))
    if result.get("kind") == "sequence":
        columns, x_title = list(range(z.shape[1])), "time step"
    else:
        order = np.argsort(-np.asarray(result["importance"], dtype=float), kind="stable")
        z, columns, x_title = z[:, order], [str(result["features"][i]) for i in order], "input (most important first)"
    scale = zmax or shared_zmax([result])
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=columns,
            y=rows,
            colorscale=DIVERGING,
            zmid=0,
            zmin=-scale,
            zmax=scale,
            colorbar=_COLOURBAR,
            hovertemplate="%{y}<br>%{x}: %{z:.3g}<extra></extra>",
        )
    )
    ringed = [(t, rows[i]) for i, steps in enumerate(marks[: len(rows)]) for t in steps]
    if ringed:
        fig.add_trace(
            go.Scatter(
                x=[t for t, _ in ringed],
                y=[r for _, r in ringed],
                mode="markers",
                name="marked step",
                marker={
                    "symbol": "circle-open",
                    "size": 14 if presentation else 10,
                    "color": "#000",
                    "line": {"width": 2},
                },
                hovertemplate="%{y}<br>marked step %{x}<extra></extra>",
            )
        )
    what = "Each sample over time" if result.get("kind") == "sequence" else "Each sample's attributions"
    fig.update_layout(title=_title(what + (" (○ marked)" if ringed else ""), name), hovermode="closest")
    fig.update_xaxes(title_text=x_title, type="linear" if result.get("kind") == "sequence" else "category")
    fig.update_yaxes(title_text="sample: label → predicted", type="category", autorange="reversed")
    height = max(chart_height(presentation), 140 + len(rows) * (30 if presentation else 20))
    return style(fig, presentation=presentation, height=height)


def time_chart(
    result: Mapping[str, Any],
    *,
    name: str | None = None,
    marks: Sequence[Sequence[int]] = (),
    y_range: tuple[float, float] | None = None,
    presentation: bool = False,
) -> go.Figure:
    """Attribution over time: mean |attribution| per step as bars, and a few samples' signed lines.

    Each drawn sample's ``marks`` get a large marker on its line.
    """
    importance = np.asarray(result["importance"], dtype=float)
    per = np.asarray(result["per_sample"], dtype=float)
    steps = np.arange(len(importance))
    fig = go.Figure(
        go.Bar(
            x=steps,
            y=importance,
            name="mean |attr.| (all)",
            marker_color="#BBBBBB",
            hovertemplate="t=%{x}: mean |attribution| %{y:.3g}<extra></extra>",
        )
    )
    for i in range(min(TRACES, len(per))):
        colour = run_colour(i)
        fig.add_trace(
            go.Scatter(
                x=steps,
                y=per[i],
                mode="lines",
                name=f"#{i + 1}",
                line={"color": colour, "width": 2.5},
                hovertemplate=f"#{i + 1} t=%{{x}}: %{{y:.3g}}<extra></extra>",
            )
        )
        picked = list(marks[i]) if i < len(marks) else []
        if picked:
            fig.add_trace(
                go.Scatter(
                    x=picked,
                    y=per[i, picked],
                    mode="markers",
                    name="marked",
                    showlegend=i == 0,
                    marker={
                        "symbol": "star",
                        "size": 18 if presentation else 13,
                        "color": colour,
                        "line": {"width": 1},
                    },
                    hovertemplate=f"#{i + 1} marked step %{{x}}: %{{y:.3g}}<extra></extra>",
                )
            )
    fig.update_layout(title=_title("Attribution over time", name), hovermode="closest", barmode="overlay")
    fig.update_xaxes(title_text="time step")
    fig.update_yaxes(title_text="attribution", zeroline=True, zerolinecolor="#888", range=y_range)
    return style(fig, presentation=presentation)


def feature_time_heatmap(
    result: Mapping[str, Any], *, name: str | None = None, presentation: bool = False
) -> go.Figure:
    """A sequence's mean |attribution| per input channel and time step: which input matters, when."""
    z = np.asarray(result["per_feature"], dtype=float)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            y=[str(f) for f in result["features"]],
            colorscale=SEQUENTIAL,
            zmin=0,
            colorbar={"title": {"text": "mean |attr.|", "side": "right"}, "thickness": 14},
            hovertemplate="%{y} at t=%{x}: %{z:.3g}<extra></extra>",
        )
    )
    fig.update_layout(title=_title("Which input, when", name))
    fig.update_xaxes(title_text="time step")
    fig.update_yaxes(title_text="input", type="category")
    return style(fig, presentation=presentation, height=max(420 if presentation else 300, 180 + 50 * len(z)))
