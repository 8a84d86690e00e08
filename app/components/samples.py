"""Real data against generator samples in the plane, for the GAN lesson."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from .theme import empty_figure, run_colour, style, with_step

__all__ = ["samples_scatter"]

MAX_POINTS = 2000
GL_THRESHOLD = 1000


def _points(a) -> np.ndarray:
    """Finite rows of an (N, 2) array, thinned evenly to ≤ 2,000 points."""
    a = np.asarray(a, dtype=float).reshape(-1, 2) if np.size(a) else np.zeros((0, 2))
    a = a[np.isfinite(a).all(axis=1)]
    if len(a) > MAX_POINTS:
        # Even strides rather than random picks, so the chart does not flicker between refreshes.
        a = a[np.linspace(0, len(a) - 1, MAX_POINTS).astype(np.int64)]
    return a


def samples_scatter(real, fake, *, step: int | None = None, presentation: bool = False) -> go.Figure:
    """Scatter of real points (blue) and generator samples (vermillion), each (N, 2).

    A healthy generator covers every cluster of the real data; mode collapse
    shows as all samples piled on one cluster. Axes share one scale so that
    circles look round. Non-finite rows (a diverged generator) are dropped.
    """
    title = with_step("Data vs generator", step)
    real, fake = _points(real), _points(fake)
    if len(real) == 0 and len(fake) == 0:
        return empty_figure(title, x_label="x₁", y_label="x₂", presentation=presentation)
    size = 8 if presentation else 5
    fig = go.Figure()
    for name, pts, colour, symbol in (
        ("real data", real, run_colour(0), "circle"),
        ("generator samples", fake, run_colour(1), "x"),
    ):
        if len(pts) == 0:
            continue
        cls = go.Scattergl if len(pts) > GL_THRESHOLD else go.Scatter
        fig.add_trace(
            cls(
                x=pts[:, 0],
                y=pts[:, 1],
                mode="markers",
                name=name,
                marker=dict(color=colour, size=size, symbol=symbol, opacity=0.6),
                hovertemplate=name + "<br>(%{x:.3g}, %{y:.3g})<extra></extra>",
            )
        )
    fig.update_layout(title=dict(text=title), hovermode="closest")
    fig.update_xaxes(title_text="x₁")
    fig.update_yaxes(title_text="x₂", scaleanchor="x", scaleratio=1)
    return style(fig, presentation=presentation)
