"""Streamlit pieces the views share: the store, page links, presentation mode, findings.

Views stay thin: they lay out widgets and call plain modules (``app.logic.<page>``,
``app.components``, ``engine.*``). Nothing here imports torch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import streamlit as st

from app.logic import common, toggles
from engine.control import lifecycle, queue
from engine.store import Store, default_home

LAUNCH, LIVE, COMPARE, RUNS = "views/launch.py", "views/live.py", "views/compare.py", "views/runs.py"
REFRESH_S = 1.0  # how often live views poll the store

_PRESENTATION_CSS = """
<style>
.stMarkdown p, .stMarkdown li, .stAlert p, .stCaption p, label p, .stTable { font-size: 1.3rem !important; }
h1 { font-size: 3.2rem !important; } h2 { font-size: 2.4rem !important; } h3 { font-size: 1.9rem !important; }
[data-testid="stMetricValue"] { font-size: 2.8rem !important; }
[data-testid="stMetricLabel"] p { font-size: 1.3rem !important; }
</style>
"""


@st.cache_resource(show_spinner=False)
def _open_store(home: str) -> Store:
    return Store(home)


def store() -> Store:
    """The run store at ``$GRADCLINIC_HOME`` (or ./.gradclinic), opened once per server process."""
    return _open_store(str(Path(os.environ.get("GRADCLINIC_HOME") or default_home()).resolve()))


def worker_log(run_id: str) -> str:
    """The path of a run's worker log, for a failed run's page."""
    from engine.worker import log_path

    return str(log_path(store(), run_id))


def tick_queue() -> None:
    """Mark dead workers crashed and start queued runs: there is no daemon, readers do it.

    A page is a reader: it writes only if the store's lock is free at once, so another process
    holding the lock never stalls or breaks a page refresh.
    """
    queue.schedule(store(), wait_s=lifecycle.READ_WAIT_S)


def presentation() -> bool:
    """True when the sidebar's presentation mode is on (bigger fonts and charts for a projector)."""
    return bool(st.session_state.get("presentation", False))


def apply_presentation_css() -> None:
    if presentation():
        st.markdown(_PRESENTATION_CSS, unsafe_allow_html=True)


def recent_runs_or_stop(limit: int, hint: str):
    """The newest runs; on an empty store, say how to start one and stop the page."""
    recent = store().list_runs(limit=limit)
    if recent.empty:
        st.info(f"No runs yet. {hint}")
        st.page_link(LAUNCH, label="Go to Launch", icon=":material/rocket_launch:")
        st.stop()
    return recent


def run_labels(runs_df) -> dict[str, str]:
    """{run id: "name · id — status"} for run pickers."""
    return {r["id"]: f"{common.run_label(r)} — {common.badge(r['status'])}" for r in runs_df.to_dict("records")}


def go(page: str, **params: Any) -> None:
    """Open another view with query parameters (lists become repeated parameters)."""
    st.switch_page(page, query_params={k: v for k, v in params.items() if v not in (None, "", [])})


def plot(fig, key: str | None = None) -> None:
    """Draw a plotly figure at full width; the mode bar stays out of the way on a projector."""
    st.plotly_chart(fig, width="stretch", key=key, config={"displaylogo": False, "displayModeBar": "hover"})


def table(df, key: str | None = None) -> None:
    """A table; in presentation mode a static HTML table, whose text scales with the page."""
    if presentation():
        st.table(df)
    else:
        st.dataframe(df, hide_index=True, width="stretch", key=key)


def memo(key: str, version: Any, build):
    """``build()``, re-used while ``version`` is unchanged (per browser session).

    Building a plotly figure costs tens of milliseconds of validation per chart; a finished
    run's charts never change, so reruns (a click, a page switch back) draw them for free.
    """
    cache: dict = st.session_state.setdefault("_figures", {})
    hit = cache.get(key)
    if hit is not None and hit[0] == version:
        return hit[1]
    value = build()
    cache[key] = (version, value)
    return value


def evidence_text(evidence: dict) -> str:
    """A finding's evidence as short ``name: value`` pairs, numbers in 3 significant digits."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}"
        if isinstance(v, list) and len(v) > 6:
            return ", ".join(fmt(x) for x in v[:6]) + ", …"
        if isinstance(v, list):
            return ", ".join(fmt(x) for x in v)
        return str(v)

    # Per-layer tables are drawn in the charts; here only the headline numbers.
    return " · ".join(f"{k.replace('_', ' ')}: {fmt(v)}" for k, v in evidence.items() if not isinstance(v, dict))


SEVERITY_BOX = {"critical": st.error, "warning": st.warning, "info": st.info}


def remedy_label(remedy: dict) -> str:
    """``he_relu (model.init=he_normal, model.activation=relu)``: what Apply will change."""
    sets = ", ".join(f"{k}={toggles.format_choice(v)}" for k, v in remedy.get("set", {}).items())
    return f"{remedy.get('name') or 'remedy'} ({sets})"
