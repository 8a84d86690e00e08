"""Streamlit pieces the views share: the store, page links, presentation mode, findings.

Views stay thin: they lay out widgets and call plain modules (``app.logic.<page>``,
``app.components``, ``engine.*``). Nothing here imports torch.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import streamlit as st

from app.logic import common, toggles
from engine.control import lifecycle, queue
from engine.store import Store, default_home

LAUNCH, LIVE, COMPARE, RUNS = "views/launch.py", "views/live.py", "views/compare.py", "views/runs.py"
SWEEP = "views/sweep.py"
EXPLAIN = "views/explain.py"
COMPRESS = "views/compress.py"
REFRESH_S = 1.0  # how often live views poll the store

PRESENT = "present"  # the query parameter that keeps presentation mode through reloads and links
PRESENTATION_KEY = "presentation"  # the sidebar toggle's key: the mode within one browser session

# Always on: chart rows wrap when their columns get too narrow for a chart's title (a 1024-px
# screen; at 1440 px two charts stay side by side beside the open sidebar), so a title is never
# cut ("Training los"); below 1280 px the page's wide side margins shrink, since there the width
# is worth more than the air.
_LAYOUT_CSS = """
<style>
@media (max-width: 1280px) {
  [data-testid="stMainBlockContainer"] { padding-left: 1.5rem !important; padding-right: 1.5rem !important;
                                         padding-top: 3.5rem !important; }
}
[data-testid="stHorizontalBlock"]:has([data-testid="stPlotlyChart"]) { flex-wrap: wrap; }
[data-testid="stHorizontalBlock"]:has([data-testid="stPlotlyChart"]) > [data-testid="stColumn"] {
  min-width: min(100%, 520px);
}
@media (min-width: 1281px) {  /* a laptop with the sidebar open: two charts of ~480 px still read well */
  [data-testid="stHorizontalBlock"]:has([data-testid="stPlotlyChart"]) > [data-testid="stColumn"] {
    min-width: min(100%, 440px);
  }
}
</style>
"""

# Presentation mode: large type and a high-contrast theme for a washed-out projector: black on
# white (the charts' own background), strong borders round tiles, boxes and tables.
_PRESENTATION_CSS = """
<style>
html, body, .stApp, [data-testid="stMain"], [data-testid="stSidebar"] {
  background: #fff !important; color: #000 !important;
}
.stMarkdown p, .stMarkdown li, .stAlert p, .stCaption p, label p, .stTable, [data-testid="stExpander"] summary p,
[data-testid="stCaptionContainer"] { font-size: 1.3rem !important; color: #000 !important; }
/* captions are faded (opacity 0.6) on a screen: on a projector they would vanish */
[data-testid="stCaptionContainer"] { opacity: 1 !important; }
[data-testid="stCaptionContainer"] * { color: #222 !important; }
h1 { font-size: 3.2rem !important; } h2 { font-size: 2.4rem !important; } h3 { font-size: 1.9rem !important; }
h1, h2, h3, h4 { color: #000 !important; font-weight: 800 !important; }
[data-testid="stMetricValue"] { font-size: 2.8rem !important; color: #000 !important; }
[data-testid="stMetricLabel"] p { font-size: 1.3rem !important; color: #000 !important; font-weight: 700; }
[data-testid="stMetric"], [data-testid="stAlert"], [data-testid="stExpander"] details,
[data-testid="stVerticalBlockBorderWrapper"], [data-testid="stTable"] table {
  border: 3px solid #000 !important; border-radius: 6px;
}
[data-testid="stMetric"] { padding: 0.5rem 0.9rem; }
[data-testid="stSelectbox"] [data-baseweb="select"] div, [data-testid="stButton"] button p {
  font-size: 1.15rem !important;
}
[data-testid="stTable"] th, [data-testid="stTable"] td { border: 2px solid #000 !important; color: #000 !important; }
[data-testid="stMain"] a, [data-testid="stMain"] a p {
  color: #003d99 !important; text-decoration: underline !important;
}
</style>
"""


@st.cache_resource(show_spinner=False)
def _open_store(home: str) -> Store:
    return Store(home)


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    """Once per server process, in the background: start the warm fork server and import scikit-learn.

    The first Launch then neither waits for a worker to import torch (the fork server has)
    nor for its own memory check to import scikit-learn to load the dataset (about 2 s each
    on a small laptop); the page renders meanwhile.
    """

    def work() -> None:
        from engine.config.names import DATASETS
        from engine.control import warm

        warm.ensure_started()
        for name in DATASETS.names():  # torch-free: numpy and scikit-learn
            DATASETS.module(name)

    thread = threading.Thread(target=work, name="gradclinic-warm-up", daemon=True)
    thread.start()
    return thread


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
    """True in presentation mode (large type, one chart a row, high contrast: for a projector)."""
    return bool(st.session_state.get(PRESENTATION_KEY, False))


def start_presentation_sync() -> None:
    """Read presentation mode from the URL on a fresh session, and keep ``?present=1`` in it after.

    Called by ``main.py`` before the sidebar toggle is drawn. A reload or a pasted link is
    a new session: ``?present=1`` turns the mode on. From then on the toggle decides, and
    the URL follows it, so a sidebar page switch (which drops the query) or a page that
    rewrites its query keeps the mode in the address bar for the next reload.
    """
    if PRESENTATION_KEY not in st.session_state:
        st.session_state[PRESENTATION_KEY] = st.query_params.get(PRESENT) == "1"
    keep_presentation_param()


def keep_presentation_param() -> None:
    """Make the URL's ``present`` parameter match the mode (pages may have rewritten the query)."""
    if presentation() and st.query_params.get(PRESENT) != "1":
        st.query_params[PRESENT] = "1"
    elif not presentation() and PRESENT in st.query_params:
        del st.query_params[PRESENT]


def with_presentation(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` plus ``present=1`` in presentation mode: every link and page switch carries it."""
    return {**params, PRESENT: "1"} if presentation() else params


def set_query(params: dict[str, Any]) -> None:
    """Replace the page's query with ``params``, keeping presentation mode's parameter.

    Pages use this, not ``st.query_params.from_dict``, which would drop ``present``: a page
    that then stops early (``st.stop``) could not put it back, and a reload would lose the mode.
    """
    st.query_params.from_dict(with_presentation(params))


def apply_css() -> None:
    """Inject the page CSS: the always-on layout rules, and presentation mode's when it is on."""
    st.markdown(_LAYOUT_CSS + (_PRESENTATION_CSS if presentation() else ""), unsafe_allow_html=True)


def chart_columns(n: int = 2) -> list:
    """``n`` side-by-side columns for charts; in presentation mode ``n`` full-width rows instead.

    A projector's large fonts need a chart's whole width, so every page lays charts out
    through this: ``for col, fig in zip(ui.chart_columns(2), figs): with col: ui.plot(fig)``.
    """
    if presentation():
        return [st.container() for _ in range(n)]
    return list(st.columns(n))


def recent_runs_or_stop(limit: int, hint: str):
    """The newest runs; on an empty store, say how to start one and stop the page."""
    recent = store().list_runs(limit=limit)
    if recent.empty:
        st.info(f"No runs yet. {hint}")
        st.page_link(LAUNCH, label="Go to Launch", icon=":material/rocket_launch:", query_params=with_presentation({}))
        st.stop()
    return recent


def run_labels(runs_df) -> dict[str, str]:
    """{run id: "name · id — status"} for run pickers."""
    return {r["id"]: f"{common.run_label(r)} — {common.badge(r['status'])}" for r in runs_df.to_dict("records")}


def go(page: str, **params: Any) -> None:
    """Open another view with query parameters (lists become repeated parameters), keeping presentation mode."""
    st.switch_page(page, query_params=with_presentation({k: v for k, v in params.items() if v not in (None, "", [])}))


def plot(fig, key: str | None = None) -> None:
    """Draw a plotly figure at full width; the mode bar stays out of the way on a projector.

    In presentation mode the figure keeps its own colours (``theme.style``: dark text on
    white) instead of Streamlit's chart theme, whose grey axis labels fade on a projector.
    """
    st.plotly_chart(
        fig,
        width="stretch",
        key=key,
        theme=None if presentation() else "streamlit",
        config={"displaylogo": False, "displayModeBar": "hover"},
    )


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
