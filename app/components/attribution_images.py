"""The Explain page's image grids: each sample's attribution map drawn over its grayscale image.

One cell a sample, its own pair of axes: the image underneath (gray, no colour bar) and the
signed attribution on top on :data:`OVERLAY`, the diverging scale with an alpha ramp, so what
pushes toward the explained output shows red *on* the strokes it sits on, what pushes against it
blue, and a pixel that does nothing stays clear: a model that looks at nothing shows only its
digits. Plain plotly, no Streamlit; :mod:`app.components.attribution` wraps it for the results.
"""

from __future__ import annotations

import numpy as np
import plotly.colors
import plotly.graph_objects as go

from .theme import DIVERGING, font_size, style

__all__ = ["OVERLAY", "GREY", "MISS", "COLOURBAR", "overlay_grid"]

#: The opacity of the scale's two ends, 0 in the middle, linear in |value| between: under 1, so a stroke
#: still shows through the strongest colour, and the faint noise of small attributions hardly covers it.
ALPHA = 0.9


def _overlay_scale(name: str, alpha: float) -> list[list]:
    """``name``'s colours, transparent at the middle and ``alpha`` opaque at the ends (linearly in |value|)."""
    stops = plotly.colors.get_colorscale(name)
    out = []
    for t, colour in stops:
        r, g, b = plotly.colors.unlabel_rgb(plotly.colors.convert_colors_to_same_type(colour, "rgb")[0][0])
        a = alpha * abs(2 * float(t) - 1)
        out.append([round(float(t), 3), f"rgba({r:.0f},{g:.0f},{b:.0f},{a:.2f})"])
    return out


#: Signed attributions over an image: theme.DIVERGING's colours, clear at 0 so the image shows through.
OVERLAY = _overlay_scale(DIVERGING, ALPHA)
#: The image underneath: white background, dark grey strokes (not black: red or blue on black reads as black).
GREY = [[0.0, "rgb(255,255,255)"], [1.0, "rgb(64,64,64)"]]
MISS = "#B00020"  # a wrong prediction's label
COLOURBAR = {"title": {"text": "attribution", "side": "right"}, "thickness": 14}
_BAR_PX = 90  # the colour bar's width beside a grid
_MARGIN = 8  # px left and right of the cells
MIN_PLOT_PX = 220  # a grid's plot height at least: its colour bar needs the room
_FRAME = "#BBBBBB"  # a thin line round each cell, so a blank map still reads as a picture


def _axis(domain: list[float], anchor: str, **extra) -> dict:
    return {
        "domain": domain,
        "anchor": anchor,
        "showticklabels": False,
        "ticks": "",
        "showgrid": False,
        "zeroline": False,
        "showline": True,
        "mirror": True,
        "linecolor": _FRAME,
        "constrain": "domain",
        **extra,
    }


def overlay_grid(
    images: np.ndarray,
    maps: np.ndarray,
    notes: list[tuple[str, bool]],
    *,
    zmax: float,
    per_row: int,
    width: int,
    presentation: bool,
) -> go.Figure:
    """One cell per sample, ``per_row`` a row: ``maps[k]`` over ``images[k]``, ``notes[k]`` above (red if wrong).

    ``width`` is the chart's expected width in px: the figure is made as tall as square cells of
    that width need, with room above each row for its labels' type. Every map shares the colour
    range ±``zmax``; the first carries the one colour bar.
    """
    n, h, w = maps.shape
    rows = -(-n // per_row)
    size = font_size(presentation)
    plot_w = max(width - _BAR_PX - 2 * _MARGIN, 100)
    pitch = plot_w / per_row  # px from one cell's left edge to the next one's
    gap = max(12.0, pitch * 0.1)
    side = pitch - gap  # a cell's width; its height is side * h / w
    label = size * 1.6  # px above each cell for its label
    row_h = label + side * h / w + gap / 2
    plot_h = max(rows * row_h, MIN_PLOT_PX)
    finite = images[np.isfinite(images)]
    lo, hi = (float(v) for v in np.percentile(finite, [1, 99])) if finite.size else (0.0, 1.0)
    traces, layout, notes_drawn = [], {}, []
    for k in range(n):
        r, c = divmod(k, per_row)
        suffix = "" if k == 0 else str(k + 1)
        x0, x1 = c * pitch / plot_w, (c * pitch + side) / plot_w
        top = r * row_h + label
        y1, y0 = 1 - top / plot_h, 1 - (top + side * h / w) / plot_h
        on = {"type": "heatmap", "xaxis": f"x{suffix}", "yaxis": f"y{suffix}"}
        traces.append(
            {**on, "z": images[k], "colorscale": GREY, "zmin": lo, "zmax": hi, "showscale": False, "hoverinfo": "skip"}
        )
        traces.append(
            {
                **on,
                "z": maps[k],
                "colorscale": OVERLAY,
                "zmid": 0,
                "zmin": -zmax,
                "zmax": zmax,
                "showscale": k == 0,
                "colorbar": COLOURBAR,
                "hovertemplate": "attribution %{z:.3g}<extra></extra>",
            }
        )
        layout[f"xaxis{suffix}"] = _axis([x0, x1], f"y{suffix}", range=[-0.5, w - 0.5])
        layout[f"yaxis{suffix}"] = _axis(
            [max(y0, 0.0), y1],
            f"x{suffix}",
            range=[h - 0.5, -0.5],  # row 0 on top, as the image is
            scaleanchor=f"x{suffix}",
            scaleratio=1,
            constraintoward="top",
        )
        text, wrong = notes[k]
        notes_drawn.append(
            {
                "x": (x0 + x1) / 2,
                "y": y1,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",  # "auto" would anchor a paper x near an edge by that edge
                "yanchor": "bottom",
                "text": text,
                "showarrow": False,
                "font": {"color": MISS if wrong else "#222"},
            }
        )
    # Built unchecked, as theme.style rebuilds it: validating 32 traces and their axes would take ~0.2 s.
    fig = go.Figure(data=traces, layout={**layout, "annotations": notes_drawn}, _validate=False)
    top_margin = round(size * 1.3 * 1.6 + size * 1.2)  # the house title's room (theme.style)
    styled = style(fig, presentation=presentation, height=round(top_margin + 12 + plot_h))
    # No axes to label: the house margins for tick labels would only shrink the pictures. No pad either
    # (Streamlit's chart theme sets 8 px): it would draw each cell's frame 8 px outside it, over its neighbours.
    styled.update_layout(margin={"l": _MARGIN, "b": 12, "r": _MARGIN, "pad": 0})
    return styled
