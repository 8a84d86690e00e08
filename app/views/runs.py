"""Runs: the history. Filter, open, compare, delete (with confirmation), download CSV or Parquet."""

from __future__ import annotations

import streamlit as st

from app import ui
from app.logic import common
from app.logic import runs as history
from engine.config.errors import StoreError
from engine.config.names import STATUSES
from engine.control import lifecycle

store = ui.store()
st.title("Run history")

c1, c2, c3, c4 = st.columns([1, 1, 1, 1])
recipe = c1.selectbox("Recipe", ["(all)"] + store.recipe_names())
status = c2.multiselect("Status", list(STATUSES), placeholder="(all)")
group = c3.text_input("Group id", placeholder="(all)").strip() or None
page_size = c4.selectbox("Rows per page", [25, 50, 100], index=1)
filters = {"recipe": None if recipe == "(all)" else recipe, "status": status or None, "group": group}

total = store.count_runs(**filters)
if total == 0:
    st.info("No runs match." if any(filters.values()) else "No runs yet: start one from **Launch**.")
    st.stop()
pages = max(1, -(-total // page_size))
page = st.number_input(f"Page (of {pages}; {total:,} runs)", 1, pages, 1) if pages > 1 else 1
table = history.page(store, page_size=page_size, page=page, **filters)

picked = st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="multi-row",
    key="history",
    column_config={
        "id": st.column_config.TextColumn("id", width="small"),
        "problem": st.column_config.TextColumn("error or finding", width="large"),
    },
)
rows = picked.selection.rows if picked is not None else []
chosen = table.iloc[rows]["id"].tolist() if rows else []
if not chosen:
    st.caption("Select rows (the boxes on the left) to open, compare, download or delete them.")
    st.stop()

st.markdown(f"**Selected:** {', '.join(chosen)}")
a, b, c, d = st.columns(4)
if a.button("Open live view", disabled=len(chosen) != 1, width="stretch"):
    ui.go(ui.LIVE, run=chosen[0])
if b.button("Compare", disabled=len(chosen) < 2, width="stretch"):
    ui.go(ui.COMPARE, runs=chosen)
fmt = c.radio("Format", ["csv", "parquet"], horizontal=True, label_visibility="collapsed")
if len(chosen) == 1:
    try:
        blob, filename, mime = history.download(store, chosen[0], fmt)
        c.download_button(f"Download {fmt.upper()}", blob, file_name=filename, mime=mime, width="stretch")
    except StoreError as exc:
        c.error(str(exc))
else:
    c.caption("Download one run at a time.")
with d.popover("🗑️ Delete…", width="stretch"):
    live = [r for r in chosen if common.is_live(store.get_run(r)["status"])]
    st.warning(
        f"Delete {len(chosen)} run(s) and all their metrics? This cannot be undone."
        + (f" {len(live)} still running will be stopped first." if live else "")
    )
    if st.button("Yes, delete", type="primary", key="confirm_delete"):
        for rid in chosen:
            lifecycle.delete(store, rid)
        st.toast(f"Deleted {len(chosen)} run(s).")
        st.rerun()
