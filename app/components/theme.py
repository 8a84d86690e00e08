"""One look for every chart: palette, fonts, margins, legend, presentation mode.

Every figure builder ends with :func:`style`, so a change here (say, a larger
projector font) reaches every chart at once.
"""

from __future__ import annotations

import re

import numpy as np
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
    "log_axis",
    "pow10",
    "pow10_label",
    "decade_ticks",
    "pow10_labels",
    "SEQUENTIAL",
    "SHARES",
    "DIVERGING",
    "DENSITY",
]

#: Colour scales by kind of quantity, so the same kind reads the same on every chart.
#: A magnitude on a log scale (gradient norm, weight norm, activation spread): perceptually
#: uniform and colour-blind safe, dark = small, bright = large.
SEQUENTIAL = "Viridis"
#: A share from 0 to 1 (dead, saturated units): its own sequential scale, so it is not read as a magnitude.
SHARES = "Cividis"
#: Only around a meaningful centre (the 10⁻³ update rule, a mean of 0): blue below, red above, white at it.
DIVERGING = "RdBu_r"
#: How often values fall in a histogram bin: white for none, darker for more.
DENSITY = "Blues"

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
# Streamlit's own web font first: a chart drawn with its own colours (presentation mode) reads
# in the page's type and its titles fit the widths measured for it.
_FONT_FAMILY = "'Source Sans', 'Source Sans Pro', Inter, 'Segoe UI', Helvetica, Arial, sans-serif"


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
    """The house style applied to ``fig``: returns the styled figure (use it, not ``fig``).

    White template, readable fonts (larger in presentation mode), the title at
    the top left and the legend in rows under the plot, so a legend of many
    runs never covers the title or the data, and narrow charts keep their width. Hover mode is left
    to the builder: line charts want ``"x unified"``, heatmaps do not.

    The style is merged into the figure's plain JSON and the figure rebuilt without validation:
    the same result as plotly's ``update_layout`` and ``update_xaxes``, at about a tenth of their
    cost (30 ms a chart otherwise, every refresh, on the machine that also trains).
    """
    size = font_size(presentation)
    layout = fig.layout.to_plotly_json()
    _merge(layout, _house_layout(size, height or chart_height(presentation)))
    # Bigger fonts on the axes and a visible grid survive a dim projector.
    axis = {"title": {"font": {"size": size}}, "tickfont": {"size": size}, "automargin": True}
    for key in {"xaxis", "yaxis", *(k for k in layout if _AXIS.fullmatch(k))}:
        _merge(layout.setdefault(key, {}), axis)
    # Subplot titles and notes are annotations with their own fixed size.
    for note in layout.get("annotations", ()):
        note.setdefault("font", {})["size"] = size
    return go.Figure(data=fig.data, layout=layout, frames=fig.frames, _validate=False)


_AXIS = re.compile(r"[xy]axis[0-9]*")


def _house_layout(size: int, height: int) -> dict:
    title_size = round(size * 1.3)
    return {
        "height": height,
        "font": {"family": _FONT_FAMILY, "size": size, "color": "#222"},
        "title": {
            "font": {"size": title_size},
            # From the chart's left edge, not the plot area's: a heatmap's layer names push the
            # plot area right, and plotly cuts a title that runs past the chart.
            "x": 0.0,
            "xanchor": "left",
            "xref": "container",
            "y": 1.0,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": round(size * 0.6), "l": round(size * 0.6)},
        },
        # Room above the plot for the title line.
        "margin": {
            "l": round(size * 4.5),
            "r": round(size * 1.5),
            "t": round(title_size * 1.6 + size * 1.2),
            "b": round(size * 4),
        },
        "legend": {
            "orientation": "h",
            "x": 0.0,
            "xanchor": "left",
            "y": -0.2,
            "yanchor": "top",
            "font": {"size": size},
            "bgcolor": "rgba(255,255,255,0.8)",
        },
        "hoverlabel": {"font": {"size": size}},
    }


def _merge(into: dict, new: dict) -> None:
    """``into`` updated from ``new`` as plotly's ``update_layout`` does: nested dicts merged, leaves replaced."""
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


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


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def pow10(exponent: float) -> str:
    """``10⁻³`` for ``-3``: the one way every chart and caption writes a power of ten."""
    return "10" + str(int(round(exponent))).translate(_SUPERSCRIPT)


def pow10_label(value: float, digits: int = 2) -> str:
    """A number in the house notation: ``3.2×10⁻⁴`` for small or large values, plain ``0.25`` otherwise.

    Log-scale colour bars, hover text and captions all use it, so one screen never mixes
    ``-16``, ``1e-3`` and ``10⁻¹⁵`` for the same kind of number.
    """
    if value is None:
        return "–"
    return str(pow10_labels([value], digits)[0])


def log_axis(fig: go.Figure, axis: str = "y", *, span_decades: float | None = None, **kwargs) -> go.Figure:
    """Make ``fig``'s x or y axis logarithmic in the house notation: labels ``10ⁿ``, no minor ticks.

    Ticks sit on whole decades; a range wider than about eight decades labels every
    second or third one, so a diverging loss (10⁻⁴ to 10¹³) never overprints its axis.
    """
    step = 1
    if span_decades is not None and span_decades > 8:
        step = int(-(-span_decades // 8))
    settings = dict(
        type="log", exponentformat="power", showexponent="all", dtick=step, minor=dict(showgrid=False, ticks="")
    )
    settings.update(kwargs)
    (fig.update_xaxes if axis == "x" else fig.update_yaxes)(**settings)
    return fig


def decade_ticks(lo: float, hi: float, *, max_ticks: int = 8) -> tuple[list[float], list[str]]:
    """Colour-bar ticks for a log10 colour range ``[lo, hi]``: whole decades, labelled ``10ⁿ``.

    A range wider than ``max_ticks`` decades labels every second (or third...) decade; a range
    narrower than one decade still gets its nearest decade, so a bar is never unlabelled.
    """
    first, last = int(np.ceil(lo - 1e-9)), int(np.floor(hi + 1e-9))
    if last < first:  # no whole decade inside: the nearest one to the middle
        first = last = int(round((lo + hi) / 2))
    step = max(1, -(-(last - first + 1) // max_ticks))
    vals = [float(k) for k in range(first, last + 1, step)]
    return vals, [pow10(v) for v in vals]


def pow10_labels(values, digits: int = 3) -> np.ndarray:
    """:func:`pow10_label` over a whole array at once (an object array of str): heatmap hover text.

    A heatmap has thousands of cells and plotly ships their text on every refresh, so this is
    vectorised; "0", "inf", "-inf" and "nan" read as such.
    """
    v = np.asarray(values, dtype=float)
    out = np.char.mod(f"%.{digits}g", np.where(np.isfinite(v), v, 0.0)).astype(object)
    with np.errstate(divide="ignore", invalid="ignore"):
        exp = np.floor(np.log10(np.abs(v)))
    finite = np.isfinite(exp)
    big = finite & (exp == 3)  # 1000..9999: whole numbers, as pow10_label writes them
    out[big] = np.char.mod("%.0f", v[big])
    far = finite & ((exp < -2) | (exp > 3))
    if far.any():
        e = exp[far]
        mant = np.round(v[far] / 10.0**e, max(digits - 1, 0))
        over = np.abs(mant) >= 10  # 9.99 rounded up to 10.0: one decade higher
        mant, e = np.where(over, mant / 10, mant), np.where(over, e + 1, e)
        powers = np.array([pow10(x) for x in e], dtype=object)
        m_txt = np.char.mod(f"%.{max(digits - 1, 0)}f", mant).astype(object)
        one = np.abs(mant) == 1
        out[far] = np.where(one, np.where(mant < 0, "-", "") + powers, m_txt + "×" + powers)
    out[v == 0] = "0"
    out[np.isposinf(v)], out[np.isneginf(v)], out[np.isnan(v)] = "inf", "-inf", "nan"
    return out
