"""Gradient Clinic's dashboard: ``streamlit run app/main.py`` (or ``make run``).

Routes with ``st.navigation`` to thin views in ``app/views/``. The app never
imports torch: training happens in worker processes started by ``engine.control.lifecycle``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run app/main.py` puts app/, not the project, on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import ui  # noqa: E402

ui.start_presentation_sync()  # ?present=1 survives reloads, links and page switches
# A projector needs the width: presentation mode opens with the sidebar folded away.
st.set_page_config(
    page_title="Gradient Clinic",
    page_icon="🩺",
    layout="wide",
    initial_sidebar_state="collapsed" if ui.presentation() else "auto",
)

pages = [
    st.Page(ui.LAUNCH, title="Launch", icon=":material/rocket_launch:", default=True),
    st.Page(ui.LIVE, title="Live run", icon=":material/monitoring:", url_path="live"),
    st.Page(ui.COMPARE, title="Compare", icon=":material/compare_arrows:", url_path="compare"),
    st.Page(ui.RUNS, title="Runs", icon=":material/history:", url_path="runs"),
    st.Page(ui.SWEEP, title="Sweep", icon=":material/tune:", url_path="sweep"),
    st.Page(ui.EXPLAIN, title="Explain", icon=":material/psychology:", url_path="explain"),
    st.Page(ui.COMPRESS, title="Compress", icon=":material/compress:", url_path="compress"),
]
page = st.navigation(pages)

with st.sidebar:
    st.toggle(
        "Presentation mode",
        key=ui.PRESENTATION_KEY,
        help="Large type, one chart a row and high contrast, for a projector. Kept in the link (?present=1).",
    )
    st.caption(f"Run store: `{ui.store().home}`")

ui.apply_css()  # once here, for whichever page runs
ui.warm_up()  # once per server process: the first Launch starts warm
ui.tick_queue()
page.run()
# A page that rewrote its whole query without ui.set_query: put `present` back (reached only when
# the page ran to its end; st.stop and page switches skip it, which is why pages use set_query).
ui.keep_presentation_param()
