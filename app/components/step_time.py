"""Where a run's training time goes: one stacked bar, waiting for data beside the work itself.

The parts are shares of the last windows' training time (the recorder's ``data_wait``,
``time_compute``, ``time_optimizer`` and ``probe_overhead``); "other" is the rest (evaluations,
recording). Waiting for data is drawn in the warning colour, since it is the part a faster
model cannot shrink.
"""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go

from .theme import style

__all__ = ["COLOURS", "step_time_figure"]

#: One colour per part, in the order drawn (left to right).
COLOURS = {
    "waiting for data": "#d62728",
    "forward + backward": "#1f77b4",
    "optimizer": "#17becf",
    "forward, backward, optimizer": "#1f77b4",
    "probes": "#9467bd",
    "other": "#bbbbbb",
}


def step_time_figure(shares: Mapping[str, float], *, presentation: bool = False) -> go.Figure:
    """A single horizontal bar split into ``shares`` (part -> share of the training time, summing to 1)."""
    fig = go.Figure()
    for part, share in shares.items():
        fig.add_trace(
            go.Bar(
                x=[share],
                y=["time"],
                orientation="h",
                name=f"{part} {share:.0%}",
                marker_color=COLOURS.get(part, "#7f7f7f"),
                text=[f"{share:.0%}" if share >= 0.06 else ""],  # a sliver's label would overlap its neighbour's
                textposition="inside",
                insidetextanchor="middle",
                hovertemplate=f"{part}: %{{x:.1%}}<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="stack",
        title_text="Where the training time goes",
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "traceorder": "normal"},  # left to right, as the bar
        uniformtext={"minsize": 12, "mode": "hide"},
    )
    fig.update_xaxes(range=[0, 1], showticklabels=False, showgrid=False)  # the shares are on the bar and legend
    fig.update_yaxes(visible=False)
    fig.update_traces(textfont_size=20 if presentation else 16)
    return style(fig, presentation=presentation, height=210 if presentation else 170)
