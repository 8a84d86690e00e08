"""Runs: the history. Filter, sort, tag and annotate, open, compare, delete (with confirmation), download.

One table: click a header to sort by it (the numbers are numbers); type in the
tags or notes cells to change them (saved on each edit); tick the boxes on the
left to act on runs.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from app import ui
from app.logic import common
from app.logic import runs as history
from engine.config import limits
from engine.config.errors import StoreError
from engine.config.names import STATUSES
from engine.control import lifecycle

PICK = "✓"  # the selection column
REFUSED = "history:refused"  # session key: the messages of the last refused edits

store = ui.store()
st.title("Run history")

c1, c2, c3, c4 = st.columns([1, 1, 1.4, 0.6])
recipe = c1.selectbox("Recipe", ["(all)"] + store.recipe_names())
status = c2.multiselect("Status", list(STATUSES), placeholder="(all)")
groups = history.group_choices(store)
group = c3.selectbox(
    "Comparison group",
    [None, *groups],
    format_func=lambda g: "(all)" if g is None else groups[g],
    help="The runs one Compare launched together; type a recipe name to find its groups.",
)
page_size = c4.selectbox("Rows per page", [25, 50, 100], index=1)
filters = {"recipe": None if recipe == "(all)" else recipe, "status": status or None, "group": group}

total = store.count_runs(**filters)
if total == 0:
    st.info("No runs match." if any(filters.values()) else "No runs yet: start one from **Launch**.")
    st.stop()
pages = max(1, -(-total // page_size))
page = st.number_input(f"Page (of {pages}; {total:,} runs)", 1, pages, 1) if pages > 1 else 1
table = history.page(store, page_size=page_size, page=page, **filters)
# A new page, filter or run is a new editor: ticks and edits belong to the rows they were made on.
key = "history:" + hashlib.sha1("|".join(table["id"]).encode()).hexdigest()[:12]


def save(table, key: str) -> None:
    """Store the tags and notes just edited (the editor's state holds every edit so far)."""
    saved, refused = history.save_edits(store, table, st.session_state[key]["edited_rows"])
    st.session_state[REFUSED] = (key, refused)
    if saved:
        st.toast(f"Saved {saved} change(s).")


shown = table.copy()
shown.insert(0, PICK, False)
# Shown in percent with one decimal ("percent" would print 10% beside 97.22%); sorting is unchanged.
shown["val accuracy"] = shown["val accuracy"] * 100
edited = st.data_editor(
    shown,
    key=key,
    hide_index=True,
    width="stretch",
    disabled=[c for c in shown.columns if c not in (PICK, *history.EDITABLE)],
    on_change=save,
    args=(table, key),
    column_config={
        PICK: st.column_config.CheckboxColumn(PICK, help="Tick runs to open, compare, download or delete them"),
        "tags": st.column_config.TextColumn(
            "tags ✏️",
            help=f"Short words separated by commas (at most {limits.MAX_TAGS}); saved as you type them",
            max_chars=limits.MAX_TAGS * (limits.MAX_TAG_CHARS + 2),
        ),
        "notes": st.column_config.TextColumn(
            "notes ✏️", help="A line about this run; saved as you type it", max_chars=limits.MAX_NOTE_CHARS
        ),
        "val accuracy": st.column_config.NumberColumn(
            help="Final validation accuracy: what a classification run is judged by", format="%.1f%%"
        ),
        "val loss": st.column_config.NumberColumn(
            help="Final validation loss (MSE for a regression): what other runs are judged by", format="%.4g"
        ),
        "train loss": st.column_config.NumberColumn(help="Final training loss", format="%.4g"),
        "duration (s)": st.column_config.NumberColumn(help="From start to end (to now while it runs)", format="%.1f"),
        "progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent"),
        "critical": st.column_config.NumberColumn("🔴 critical", help="Critical findings"),
        "warning": st.column_config.NumberColumn("🟠 warning", help="Warnings"),
        "info": st.column_config.NumberColumn("🔵 info", help="Findings that inform"),
        "worst": st.column_config.TextColumn("worst finding"),
        "problem": st.column_config.TextColumn("error or finding", width="large"),
        "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
        "id": st.column_config.TextColumn("id", width="small"),
    },
)
refused_in, refused = st.session_state.get(REFUSED, (None, []))
for message in refused if refused_in == key else []:  # (a cell refused on another page is gone)
    st.error(f"Not saved: {message}")
chosen = edited.loc[edited[PICK], "id"].tolist()
if not chosen:
    st.caption("Tick runs (the boxes on the left) to open, compare, download or delete them.")
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
