"""The curve controls the Live and Compare pages share: smoothing, loss axis, x-axis, highlight.

One row of widgets above the curves; what they chose comes back as an
``axes.CurveSettings``, which the page passes to the chart builders and into its
figure cache key. The choices live in ``st.session_state`` under ``key``, so
each page remembers its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import streamlit as st

from app.components.curves import DEFAULT_SMOOTHING
from app.logic import axes

_LOSS_HELP = "auto: a log axis once the loss spans more than 100× (a run that blew up), else linear."
_SMOOTH_HELP = (
    "An exponential moving average of the training loss, like TensorBoard's slider: 0 draws the raw "
    "loss, 0.99 the smoothest line. The raw values stay faint behind it; evaluations are drawn as measured."
)


def curve_controls(
    key: str, clocks: Mapping[str, axes.RunClock], runs: Sequence[str] | None = None
) -> axes.CurveSettings:
    """Draw the controls for charts of ``clocks`` (run label → clock) and return the choice.

    The x-axis offers what every run's clock can give (:func:`axes.shared_axes`), and a
    caption says why an axis is missing. With ``runs`` (labels), a "Highlight" picker
    draws one of them bold over the faded others.
    """
    offered = axes.shared_axes(clocks.values())
    state = st.session_state
    # A choice the runs on screen cannot give (another run was picked) is forgotten before drawing,
    # so the widget starts again from its default (assigning the state instead makes Streamlit warn).
    if f"{key}:x" in state and state[f"{key}:x"] not in offered:
        del state[f"{key}:x"]
    if f"{key}:hl" in state and state[f"{key}:hl"] not in (None, *(runs or ())):
        del state[f"{key}:hl"]
    # One row that wraps onto a second on a narrow screen or under a projector's large type,
    # each control as wide as its options, so none is ever cut short ("linea", "wall tim").
    with st.container(horizontal=True, gap="medium", vertical_alignment="bottom", key=f"{key}:row"):
        smoothing = st.slider(
            "Smoothing", 0.0, 0.99, DEFAULT_SMOOTHING, 0.01, key=f"{key}:smooth", help=_SMOOTH_HELP, width=180
        )
        loss_axis = st.segmented_control(
            "Loss axis", axes.LOSS_AXES, default="auto", required=True, key=f"{key}:loss", help=_LOSS_HELP
        )
        x_key = st.segmented_control(
            "x-axis", offered, default="step", required=True, format_func=axes.CHOICES.get, key=f"{key}:x"
        )
        highlight = None
        if runs is not None:
            highlight = st.selectbox(
                "Highlight",
                [None, *runs],
                format_func=lambda r: "— none —" if r is None else r,
                key=f"{key}:hl",
                help="Draw one run bold, on top, with the others faded.",
                width=200,
            )
    missing = axes.missing_axes(clocks)
    if missing:
        st.caption(
            "Not offered: " + "; ".join(f"{axes.CHOICES[a]} ({why})" for a, why in missing.items() if a not in offered)
        )
    return axes.CurveSettings(
        smoothing=float(smoothing),
        loss_axis=loss_axis or "auto",
        x=axes.x_axis(x_key or "step", clocks.values()),
        highlight=highlight,
    )
