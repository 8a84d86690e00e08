"""A compress group's charts: the metric against size on disk and against CPU latency, and the
share of each layer's weights that pruning set to zero.

Plain plotly over an :class:`app.logic.compress.Group`, no Streamlit. A variant keeps its colour
and marker on every chart (dense: a black star); the legend names each variant in full, and a
marker carries a short label only where the label fits without covering another (same-size
variants sit on one vertical line: a pruned file keeps its zeros), hover says everything.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from app.logic import compress as logic

from .theme import RUN_COLOURS, empty_figure, font_size, style

__all__ = ["colours", "size_figure", "latency_figure", "sparsity_figure", "bytes_label"]

DENSE = "#000000"
PALETTE = tuple(c for c in RUN_COLOURS if c != DENSE)  # black is dense's alone
SYMBOLS = {
    "dense": "star",
    "prune": "circle",
    "prune+finetune": "diamond",
    "quantize": "square",
    "distill": "triangle-up",
    "labels": "triangle-down",
}
#: The plot area's rough size in px (a half-width chart; presentation mode: full width, taller),
#: enough to tell whether two labels would overlap.
PLOT_PX = {False: (400.0, 220.0), True: (800.0, 340.0)}  # measured in Chromium at 1440 and 1024 px, less a margin
MARKER = {False: 13, True: 18}


def colours(group: logic.Group) -> dict[str, str]:
    """{variant name: its colour}, the same on every chart of the group."""
    out, i = {}, 0
    for v in logic.measured(group.variants):
        if v.get("kind") == "dense":
            out[v["name"]] = DENSE
        else:
            out[v["name"]], i = PALETTE[i % len(PALETTE)], i + 1
    return out


def bytes_label(n: float) -> str:
    """``850 B``, ``12 kB``, ``1.2 MB``: an axis tick's size on disk."""
    for unit, scale in (("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.3g} B"


def _size_ticks(lo: float, hi: float) -> list[float]:
    """Ticks at 1, 2 and 5 times a power of ten inside [10^lo, 10^hi] bytes (finer on a short axis)."""
    ticks = [m * 10.0**e for e in range(math.floor(lo) - 1, math.ceil(hi) + 1) for m in (1, 2, 5)]
    inside = [t for t in ticks if lo <= math.log10(t) <= hi]
    if len(inside) < 3:  # under a decade wide: finer steps, so the axis has something to read
        inside = [m * 10.0**e for e in range(math.floor(lo) - 1, math.ceil(hi) + 1) for m in (1, 1.5, 2, 3, 5, 7)]
        inside = [t for t in inside if lo <= math.log10(t) <= hi]
    return inside


def _span(values: Sequence[float], pad: float, least: float) -> tuple[float, float]:
    """[lo, hi] around ``values``: ``pad`` of their spread each side, and at least ``least`` wide."""
    lo, hi = min(values), max(values)
    extra = pad * (hi - lo) + max((least - (hi - lo)) / 2, 0.0)
    if hi - lo + 2 * extra <= 0:  # one value (an MSE, say): a tenth of it each side
        extra = 0.1 * abs(lo) or 1.0
    return lo - extra, hi + extra


def _hover(metric: str, v: Mapping[str, Any], dense_value: float | None) -> str:
    vs, value = v.get("vs_dense") or {}, logic.shown(metric, v.get(metric))
    unit = "%" if metric == "val_accuracy" else ""
    lines = [
        f"<b>{v['name']}</b>",
        f"{logic.metric_title(metric).split(' (')[0]}: {value:.4g}{unit}" if value is not None else "no metric",
        f"{v['nonzero_params']:,} nonzero of {v['params']:,} params",
        f"size on disk: {bytes_label(v['size_bytes'])} ({logic.size_words(vs.get('size_ratio', 1.0))})",
        f"CPU: {v['latency_ms']:.3g} ms a batch ({logic.speed_words(vs.get('latency_ratio', 1.0))})",
    ]
    if "size_csr_bytes" in v:
        lines.insert(4, f"stored sparse (CSR): {bytes_label(v['size_csr_bytes'])}")
    if v.get("kind") != "dense":
        lines.insert(2, logic.change_words(metric, vs.get("metric_change"), dense_value))
    return "<br>".join(lines)


def _positions(
    spots: list[list[tuple[float, float]]],
    labels: list[str],
    presentation: bool,
    segments: Sequence[tuple[float, float, float]] = (),
) -> list[tuple[int, str] | None]:
    """Where each variant's label goes: (which of its points, plotly's textposition), or None where none is free.

    ``spots`` are each variant's points in plot fractions (0..1 across, 0..1 up): its marker, then
    its sparse twin, tried in that order; ``segments`` the level lines (x0, x1, y) joining them. A
    label may cover no other label, marker or such line, and must stay inside the plot.
    """
    width, height = PLOT_PX[presentation]
    size = font_size(presentation)
    char, line, gap, r = 0.55 * size, 1.3 * size, 0.5 * MARKER[presentation] + 3, 0.5 * MARKER[presentation] + 1
    taken = [(x * width - r, y * height - r, x * width + r, y * height + r) for pts in spots for x, y in pts]
    taken += [(min(a, b) * width, y * height - 2, max(a, b) * width, y * height + 2) for a, b, y in segments]

    def free(box: tuple[float, float, float, float]) -> bool:
        inside = box[0] >= 0 and box[1] >= 0 and box[2] <= width and box[3] <= height
        return inside and not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in taken)

    def sides(x: float, y: float, w: float) -> dict[str, tuple[float, float, float, float]]:
        d = r + 1  # a diagonal label sits off the corner of the marker's box
        return {
            "middle right": (x + gap, y - line / 2, x + gap + w, y + line / 2),
            "middle left": (x - gap - w, y - line / 2, x - gap, y + line / 2),
            "top center": (x - w / 2, y + gap, x + w / 2, y + gap + line),
            "bottom center": (x - w / 2, y - gap - line, x + w / 2, y - gap),
            "top right": (x + d, y + d, x + d + w, y + d + line),
            "bottom right": (x + d, y - d - line, x + d + w, y - d),
            "top left": (x - d - w, y + d, x - d, y + d + line),
            "bottom left": (x - d - w, y - d - line, x - d, y - d),
        }

    out: list[tuple[int, str] | None] = []
    for pts, label in zip(spots, labels):
        found = next(
            (
                (i, pos, box)
                for i, (x, y) in enumerate(pts)
                for pos, box in sides(x * width, y * height, len(label) * char).items()
                if free(box)
            ),
            None,
        )
        if found is not None:
            taken.append(found[2])
        out.append(None if found is None else found[:2])
    return out


def _scatter(group: logic.Group, x_of, *, title: str, x_title: str, log_x: bool, presentation: bool) -> go.Figure:
    """Metric (y) against ``x_of(variant)`` (x): a list of x values per variant, the first its marker."""
    metric, variants, colour = group.metric, logic.measured(group.variants), colours(group)
    ys = {v["name"]: logic.shown(metric, v.get(metric)) for v in variants}
    drawn = [v for v in variants if ys[v["name"]] is not None]
    if not drawn:
        return empty_figure(title, "no variant has a finite metric", x_label=x_title, presentation=presentation)
    xs = {v["name"]: x_of(v) for v in drawn}
    every_x = [x for v in drawn for x in xs[v["name"]]]
    tx = (lambda x: math.log10(x)) if log_x else (lambda x: x)
    if log_x:
        x_lo, x_hi = _span([tx(x) for x in every_x], 0.08, 0.6)
    else:
        x_lo, x_hi = 0.0, max(every_x) * 1.12
    y_lo, y_hi = _span([ys[v["name"]] for v in drawn], 0.1, 2.0 if metric == "val_accuracy" else 0.0)

    def frac(x: float, y: float) -> tuple[float, float]:
        return (tx(x) - x_lo) / (x_hi - x_lo), (y - y_lo) / (y_hi - y_lo)

    labels = [logic.short_label(v) for v in drawn]
    spots = [[frac(x, ys[v["name"]]) for x in xs[v["name"]]] for v in drawn]
    twins = [(pts[0][0], p[0], p[1]) for pts in spots for p in pts[1:]]
    where = _positions(spots, labels, presentation, twins)
    fig = go.Figure()
    size = MARKER[presentation]
    dense = group.dense
    if dense is not None and dense.get(metric) is not None:
        # Under the markers and labels: a variant that keeps the metric sits on it.
        fig.add_hline(
            y=logic.shown(metric, dense[metric]), line=dict(color="#999", width=1.5, dash="dot"), layer="below"
        )
    # Dense is drawn last, over any variant at its size or speed, and listed first all the same.
    order = sorted(range(len(drawn)), key=lambda i: drawn[i].get("kind") == "dense")
    for rank in order:
        v, label, pos = drawn[rank], labels[rank], where[rank]
        name, kind = v["name"], v.get("kind", "")
        symbol, n = SYMBOLS.get(kind, "circle"), len(xs[name])
        is_dense = kind == "dense"
        fig.add_trace(
            go.Scatter(
                x=xs[name],
                y=[ys[name]] * n,
                name=name,
                legendrank=1000 + rank,
                mode="lines+markers+text" if n > 1 else "markers+text",
                marker=dict(
                    symbol=[symbol] + [f"{symbol}-open"] * (n - 1),
                    size=[size * (1.6 if is_dense else 1.0)] + [size] * (n - 1),
                    color=colour[name],
                    line=dict(width=[1.5] + [2.5] * (n - 1), color=["white"] + [colour[name]] * (n - 1)),
                ),
                line=dict(color=colour[name], width=1.2),  # solid: the dotted line is dense's level
                text=[label if pos and pos[0] == i else "" for i in range(n)],
                textposition=pos[1] if pos else "middle right",
                textfont=dict(color=colour[name], size=font_size(presentation) - 1),
                hovertext=[_hover(metric, v, (dense or {}).get(metric))] * n,
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    fig.update_layout(title=dict(text=title), hovermode="closest", legend=dict(itemsizing="constant"))
    fig.update_yaxes(title_text=logic.metric_title(metric), range=[y_lo, y_hi])
    if log_x:
        ticks = _size_ticks(x_lo, x_hi)
        fig.update_xaxes(type="log", range=[x_lo, x_hi], tickvals=ticks, ticktext=[bytes_label(t) for t in ticks])
    else:
        fig.update_xaxes(range=[x_lo, x_hi])
    fig.update_xaxes(title_text=x_title)
    return style(fig, presentation=presentation)


def _metric_word(group: logic.Group) -> str:
    return "Accuracy" if group.metric == "val_accuracy" else "MSE"


def size_figure(group: logic.Group, *, presentation: bool = False) -> go.Figure:
    """The metric against the bytes on disk (log x); a pruned variant's hollow twin: its weights stored sparse."""

    def sizes(v: Mapping[str, Any]) -> list[float]:
        return [v["size_bytes"]] + ([v["size_csr_bytes"]] if "size_csr_bytes" in v else [])

    return _scatter(
        group,
        sizes,
        title=f"{_metric_word(group)} vs size on disk",
        x_title="size on disk, log scale (hollow: stored sparse)",
        log_x=True,
        presentation=presentation,
    )


def latency_figure(group: logic.Group, *, presentation: bool = False) -> go.Figure:
    """The metric against the CPU time of one forward pass of a batch (median of the timed passes)."""
    dense = group.dense or {}
    rows, threads = dense.get("latency_rows", "a batch of"), dense.get("threads", 1)
    return _scatter(
        group,
        lambda v: [v["latency_ms"]],
        title=f"{_metric_word(group)} vs CPU time per batch",
        x_title=f"ms per batch of {rows} rows on {threads} CPU thread{'s' if threads != 1 else ''}",
        log_x=False,
        presentation=presentation,
    )


def sparsity_figure(group: logic.Group, *, presentation: bool = False) -> go.Figure:
    """Grouped bars: each layer's share of weights set to zero, one bar per pruned variant (0-100%)."""
    title = "Weights pruned in each layer"
    table, colour = logic.sparsity(group), colours(group)
    if table.empty:
        return empty_figure(title, "no pruned variant in this group", x_label="layer", presentation=presentation)
    fig = go.Figure()
    for name in table.columns:
        fig.add_trace(
            go.Bar(
                x=list(table.index),
                y=[100.0 * s for s in table[name]],
                name=name,
                marker_color=colour.get(name, PALETTE[0]),
                text=[f"{100.0 * s:.0f}%" for s in table[name]],
                textposition="outside",
                cliponaxis=False,
                hovertemplate=f"{name}<br>%{{x}}: %{{y:.1f}}% of its weights are zero<extra></extra>",
            )
        )
    fig.update_layout(title=dict(text=title), barmode="group", bargap=0.25, hovermode="closest")
    fig.update_xaxes(title_text="layer (input → output)", type="category")
    fig.update_yaxes(title_text="weights set to zero (%)", range=[0, 112], tickvals=[0, 20, 40, 60, 80, 100])
    return style(fig, presentation=presentation)
