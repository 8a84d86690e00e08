"""One look for every chart: palette, fonts, margins, legend, presentation mode.

Every figure builder ends with :func:`style`, so a change here (say, a larger
projector font) reaches every chart at once.
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

__all__ = [
    "RUN_COLOURS",
    "run_colour",
    "RUN_DASHES",
    "run_dash",
    "style",
    "chart_height",
    "font_size",
    "empty_figure",
]

#: Okabe & Ito's colour-blind-safe palette, reordered so the first runs get
#: the colours that read best on a washed-out projector; yellow is last
#: because it is faint on white.
RUN_COLOURS: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#F0E442",  # yellow
)

_FONT = {False: 14, True: 22}
_HEIGHT = {False: 420, True: 620}
_FONT_FAMILY = "Inter, 'Segoe UI', Helvetica, Arial, sans-serif"


def run_colour(index: int) -> str:
    """The colour of the ``index``-th run (wraps around after the palette ends)."""
    return RUN_COLOURS[index % len(RUN_COLOURS)]


#: Line styles that cycle with the colours. Okabe-Ito keeps two near pairs (blue and sky
#: blue, orange and yellow): in the palette's order each pair gets two different styles, and
#: a ninth run, which wraps to blue again, is told from the first by its dashes. A dashed
#: line also lets a run drawn underneath show through its gaps when several curves coincide.
RUN_DASHES: tuple[str, ...] = ("solid", "dash", "dot", "dashdot")


def run_dash(index: int) -> str:
    """The line style of the ``index``-th run: with :func:`run_colour`, 32 distinct pairs before any repeats."""
    return RUN_DASHES[(index + index // len(RUN_COLOURS)) % len(RUN_DASHES)]


def font_size(presentation: bool = False) -> int:
    """Base font size in px: ~14 on a laptop, ~22 for a classroom projector."""
    return _FONT[bool(presentation)]


def chart_height(presentation: bool = False) -> int:
    """Default chart height in px; presentation mode makes charts taller too."""
    return _HEIGHT[bool(presentation)]


# Set once: assigning a template by name to every figure rebuilt and deep-copied it each
# time, about 30 ms a chart, most of a warm Compare render.
pio.templates.default = "plotly_white"


def with_step(title: str, step: int | None) -> str:
    """``title · step N``: one short line, since plotly cuts (never wraps) a title too wide for its chart."""
    return title if step is None else f"{title} · step {int(step):,}"


def style(fig: go.Figure, *, presentation: bool = False, height: int | None = None) -> go.Figure:
    """Apply the house style to ``fig`` in place and return it.

    White template, readable fonts (larger in presentation mode), the title at
    the top left and the legend in rows under the plot, so a legend of many
    runs never covers the title or the data, and narrow charts keep their width. Hover mode is left
    to the builder: line charts want ``"x unified"``, heatmaps do not.
    """
    size = font_size(presentation)
    title_size = round(size * 1.3)
    # Room above the plot for the title line.
    top = round(title_size * 1.6 + size * 1.2)
    fig.update_layout(
        height=height or chart_height(presentation),
        font=dict(family=_FONT_FAMILY, size=size, color="#222"),
        title=dict(
            font=dict(size=title_size),
            x=0.0,
            xanchor="left",
            xref="paper",
            y=1.0,
            yref="container",
            yanchor="top",
            pad=dict(t=round(size * 0.6)),
        ),
        margin=dict(l=round(size * 4.5), r=round(size * 1.5), t=top, b=round(size * 4)),
        legend=dict(
            orientation="h",
            x=0.0,
            xanchor="left",
            y=-0.2,
            yanchor="top",
            font=dict(size=size),
            bgcolor="rgba(255,255,255,0.8)",
        ),
        hoverlabel=dict(font=dict(size=size)),
    )
    # Bigger fonts on the axes and a visible grid survive a dim projector.
    axis = dict(title_font=dict(size=size), tickfont=dict(size=size), automargin=True)
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis)
    # Subplot titles and notes are annotations with their own fixed size.
    fig.update_annotations(font_size=size)
    return fig


def empty_figure(
    title: str,
    message: str = "waiting for data",
    *,
    x_label: str = "step",
    y_label: str = "",
    presentation: bool = False,
) -> go.Figure:
    """A styled, titled figure with ``message`` in the middle, for "no data yet"."""
    fig = go.Figure()
    fig.update_layout(title=dict(text=title))
    fig.update_xaxes(title_text=x_label, showticklabels=False, zeroline=False)
    fig.update_yaxes(title_text=y_label, showticklabels=False, zeroline=False)
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font=dict(color="#888"))
    return style(fig, presentation=presentation)
