"""A look at the data before training: what the network is asked to learn, on the Launch page.

One picture per kind of data: the points in the plane (2-D data, coloured by class), the target
against the feature (1-feature regression), the first two features (wider tables), a row of
images with their labels, a few sequences over time, or a few video clips as strips of frames.
It also means the chart library is already loaded when Launch opens the Live page, so the first
point there is drawn sooner.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from engine.datasets.base import Dataset

from .theme import run_colour, style

__all__ = ["preview_figure"]

MAX_POINTS = 1500
IMAGES = 8
PER_ROW = 4
SEQUENCES = 3
CLIPS = 4
CLIPS_PER_ROW = 2
GUIDE = {"color": "rgba(214, 39, 40, 0.55)", "width": 1.5}  # the frames' centre lines


def preview_figure(data: Dataset, *, presentation: bool = False) -> go.Figure | None:
    """A small figure of the training data, or None where there is nothing useful to draw."""
    x, y = np.asarray(data.x_train), np.asarray(data.y_train)
    if len(x) == 0:
        return None
    if data.kind == "image":
        fig = _images(x, y, data)
    elif data.kind == "sequence":
        fig = _sequences(x, data)
    elif data.kind == "video" and x.ndim == 5:
        fig = _clips(x, y, data)
    elif data.task == "classification" and x.ndim == 2 and x.shape[1] >= 2 and y.ndim == 1:
        fig = _classes(x, y, data)
    elif data.task == "regression" and x.ndim == 2:
        fig = _regression(x, y, data)
    else:
        return None
    return style(fig, presentation=presentation, height=300 if not presentation else 440)


def _thin(n: int) -> np.ndarray:
    """Evenly spaced indices, at most MAX_POINTS of them (the same ones on every redraw)."""
    return np.linspace(0, n - 1, min(n, MAX_POINTS)).astype(np.int64)


def _feature(data: Dataset, i: int) -> str:
    names = data.feature_names
    return names[i] if i < len(names) else f"x{'₁₂'[i] if i < 2 else i + 1}"


def _classes(x: np.ndarray, y: np.ndarray, data: Dataset) -> go.Figure:
    keep = _thin(len(x))
    x, y = x[keep], y[keep]
    fig = go.Figure()
    for c in np.unique(y):
        pts = x[y == c]
        label = data.class_names[int(c)] if int(c) < len(data.class_names) else f"class {int(c)}"
        fig.add_trace(
            go.Scatter(
                x=pts[:, 0],
                y=pts[:, 1],
                mode="markers",
                name=label,
                marker=dict(color=run_colour(int(c)), size=5, opacity=0.7),
                hovertemplate=label + "<br>(%{x:.3g}, %{y:.3g})<extra></extra>",
            )
        )
    wide = x.shape[1] > 2
    title = f"Training data: the first 2 of {x.shape[1]} features" if wide else "Training data"
    fig.update_layout(title=dict(text=title), hovermode="closest")
    fig.update_xaxes(title_text=_feature(data, 0))
    fig.update_yaxes(title_text=_feature(data, 1), **({} if wide else dict(scaleanchor="x", scaleratio=1)))
    return fig


def _regression(x: np.ndarray, y: np.ndarray, data: Dataset) -> go.Figure:
    keep = _thin(len(x))
    target = y.reshape(len(y), -1)[keep, 0]
    fig = go.Figure(
        go.Scatter(
            x=x[keep, 0],
            y=target,
            mode="markers",
            name="training points",
            marker=dict(color=run_colour(0), size=5, opacity=0.7),
            hovertemplate="(%{x:.3g}, %{y:.3g})<extra></extra>",
        )
    )
    fig.update_layout(title=dict(text="Training data: target against the first feature"), showlegend=False)
    fig.update_xaxes(title_text=_feature(data, 0))
    fig.update_yaxes(title_text="target")
    return fig


def _images(x: np.ndarray, y: np.ndarray, data: Dataset) -> go.Figure:
    """The first image of each class (then the next ones) in rows of four, grey scale, labelled."""
    firsts = [int(np.flatnonzero(y == c)[0]) for c in np.unique(y)] if y.ndim == 1 else []
    taken = set(firsts)
    picks = (firsts + [i for i in range(min(len(x), IMAGES * 2)) if i not in taken])[:IMAGES]
    h, w = x.shape[-2], x.shape[-1]
    rows = -(-len(picks) // PER_ROW)
    # One canvas with a blank line (NaN: not drawn) between images and a label row above each row.
    canvas = np.full((rows * (h + 2), PER_ROW * (w + 1) - 1), np.nan)
    fig = go.Figure()
    for k, i in enumerate(picks):
        r, c = divmod(k, PER_ROW)
        top, left = r * (h + 2) + 2, c * (w + 1)
        canvas[top : top + h, left : left + w] = np.asarray(x[i], dtype=float).reshape(h, w)
        label = int(y[i]) if y.ndim == 1 else None
        name = data.class_names[label] if label is not None and label < len(data.class_names) else label
        fig.add_annotation(x=left + (w - 1) / 2, y=top - 1.2, text=str(name), showarrow=False)
    fig.add_trace(go.Heatmap(z=canvas, colorscale="Greys", showscale=False, hoverinfo="skip"))
    fig.update_layout(title=dict(text=f"Training data: {len(picks)} of {len(x):,} images, with their labels"))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", scaleratio=1)
    return fig


def _sequences(x: np.ndarray, data: Dataset) -> go.Figure:
    """The first feature of a few training sequences over their time steps."""
    fig = go.Figure()
    for k in range(min(SEQUENCES, len(x))):
        seq = np.asarray(x[k], dtype=float).reshape(x.shape[1], -1)[:, 0]
        fig.add_trace(
            go.Scatter(
                y=seq,
                mode="lines",
                name=f"sequence {k + 1}",
                line=dict(color=run_colour(k)),
                hovertemplate="t=%{x}: %{y:.3g}<extra></extra>",
            )
        )
    fig.update_layout(title=dict(text=f"Training data: {min(SEQUENCES, len(x))} sequences, first input"))
    fig.update_xaxes(title_text="time step")
    fig.update_yaxes(title_text=_feature(data, 0))
    return fig


def _clips(x: np.ndarray, y: np.ndarray, data: Dataset) -> go.Figure:
    """A few clips (the first of each class first), each a strip of frames in time order, labelled.

    Two clips a row, so the frames are large enough to read on a projector; each frame's background
    is drawn a light grey (the colour scale starts below the data), so its edges, and so the digit's
    movement within it, show against the blank page between frames, and a faint red line marks
    each frame's middle.
    """
    firsts = [int(np.flatnonzero(y == c)[0]) for c in np.unique(y)] if y.ndim == 1 else []
    picks = (firsts[:CLIPS] + [i for i in range(min(len(x), CLIPS * 2)) if i not in firsts[:CLIPS]])[:CLIPS]
    frames, h, w = x.shape[1], x.shape[-2], x.shape[-1]
    strip, gap = frames * (w + 1) - 1, 4  # one clip's width; the space between two clips
    rows = -(-len(picks) // CLIPS_PER_ROW)
    canvas = np.full((rows * (h + 3), CLIPS_PER_ROW * (strip + gap) - gap), np.nan)
    fig = go.Figure()
    for k, i in enumerate(picks):
        r, c = divmod(k, CLIPS_PER_ROW)
        top, left = r * (h + 3) + 3, c * (strip + gap)
        for f in range(frames):
            at = left + f * (w + 1)
            canvas[top : top + h, at : at + w] = np.asarray(x[i, f], dtype=float).reshape(-1, h, w).mean(0)
            # A line down each frame's middle: the eye reads a one-pixel shift against it.
            mid = at + (w - 1) / 2
            fig.add_shape(type="line", x0=mid, x1=mid, y0=top - 0.5, y1=top + h - 0.5, line=GUIDE)
        label = int(y[i]) if y.ndim == 1 else None
        name = data.class_names[label] if label is not None and label < len(data.class_names) else label
        fig.add_annotation(x=left - 0.5, y=top - 1.5, text=f"<b>{name}</b>", showarrow=False, xanchor="left")
    lo, hi = float(np.nanmin(canvas)), float(np.nanmax(canvas))
    fig.add_trace(
        go.Heatmap(z=canvas, colorscale="Greys", zmin=lo - 0.12 * (hi - lo), zmax=hi, showscale=False, hoverinfo="skip")
    )
    title = f"Training data: {len(picks)} of {len(x):,} clips, time →"
    fig.update_layout(title=dict(text=title))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", scaleratio=1)
    return fig
