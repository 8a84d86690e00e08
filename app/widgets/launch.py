"""The Launch page's widgets: recipe gallery, CSV upload card, toggle grid, and the URL they keep in sync.

Each function draws with Streamlit and says so; the decisions behind them are
plain functions in :mod:`app.logic.launch` and :mod:`app.logic.toggles`.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from app import ui
from app.components import data_preview
from app.logic import toggles
from app.logic.launch import (
    CUSTOM,
    MAX_UPLOAD_MB,
    accept_upload,
    csv_sets,
    is_image_data,
    load_data,
    recipe_cards,
    upload_columns,
)
from app.logic.launch import data_summary as summary_line
from engine.config.errors import RecipeError
from engine.config.recipe import DataSpec, Recipe

PICKER_KEY = "pick_recipe"


def write_query(name: str, sets: dict[str, Any]) -> None:
    """Put the setup in the URL (widgets draw from it on a fresh page load)."""
    wanted = {"recipe": name, "set": [toggles.encode(k, v) for k, v in sets.items()]}
    current = {"recipe": st.query_params.get("recipe"), "set": st.query_params.get_all("set")}
    if wanted != current:
        ui.set_query({k: v for k, v in wanted.items() if v})
    # The URL now matches the widgets: only a URL changed from outside should reset them.
    st.session_state["_synced"] = (name, tuple(wanted["set"]))


@st.cache_data(show_spinner=False, ttl=30)
def _recipes() -> dict[str, dict[str, Any]]:
    return recipe_cards()


def choose(name: str, sets: list[str] | None = None) -> None:
    """Switch to recipe ``name`` (widgets reset to its values) and rerun. Draws nothing."""
    ui.set_query({"recipe": name, **({"set": sets} if sets else {})})
    st.session_state.pop("_synced", None)
    st.rerun()


def picker(current: str) -> None:
    """Draw the compact lesson picker (one selectbox, lessons first); picking one switches to it."""
    recipes = _recipes()
    options = list(recipes) if current in recipes else [current, *recipes]  # the custom CSV setup, a bad link

    def label(n: str) -> str:
        if n == CUSTOM:
            return "📄 Your own data (CSV)"
        if n not in recipes:
            return toggles.format_choice(n)[:60]
        return ("🎓 " if recipes[n]["lesson"] else "⚙️ ") + recipes[n]["title"]

    # The URL decides the recipe: a gallery click, a CSV or a pasted link moves the picker too.
    if st.session_state.get(PICKER_KEY) != current:
        st.session_state[PICKER_KEY] = current
    st.selectbox(
        "Lesson or recipe",
        options,
        key=PICKER_KEY,
        format_func=label,
        on_change=_picked,
        help="🎓 lessons, in course order, then ⚙️ presets. All of them, with summaries, are in the gallery below.",
    )


def _picked() -> None:
    # A callback runs before the script, so this rerun already reads the new recipe from the URL.
    ui.set_query({"recipe": st.session_state[PICKER_KEY]})
    st.session_state.pop("_synced", None)


@st.cache_data(show_spinner="Reading the data…", max_entries=8)
def _look(data_json: str, seed: int, presentation: bool) -> tuple[str | None, Any]:
    """(one line about the data, a picture of it), from one read of the data."""
    data = load_data(DataSpec.model_validate(json.loads(data_json)), seed)
    if data is None:
        return None, None
    return summary_line(data), data_preview.preview_figure(data, presentation=presentation)


def _look_at(recipe: Recipe) -> tuple[str | None, Any]:
    return _look(json.dumps(recipe.to_dict()["data"], sort_keys=True), recipe.seed, ui.presentation())


def data_summary(recipe: Recipe) -> str | None:
    """One line about the recipe's data (rows, features, classes), read once per data setup and cached."""
    return _look_at(recipe)[0]


def data_picture(recipe: Recipe) -> None:
    """Draw the recipe's training data (points, images or sequences), where there is a picture of it."""
    fig = _look_at(recipe)[1]
    if fig is not None:
        ui.plot(fig, key="data_preview")


def gallery(current: str) -> str | None:
    """Draw recipe cards, lessons first; returns the name clicked, if any."""
    recipes = _recipes()
    picked = None
    for heading, want_lesson in (("Lessons", True), ("Presets", False)):
        names = [n for n, r in recipes.items() if r["lesson"] == want_lesson]
        if not names:
            continue
        st.markdown(f"**{heading}**")
        cols = st.columns(3)
        for i, n in enumerate(names):
            with cols[i % 3].container(border=True):
                st.markdown(f"**{recipes[n]['title']}**")
                summary = recipes[n]["summary"]
                st.caption(summary[:180] + ("…" if len(summary) > 180 else ""))
                if st.button(
                    "Selected" if n == current else "Open", key=f"pick:{n}", disabled=n == current, width="stretch"
                ):
                    picked = n
    return picked


def csv_card(store) -> None:
    """Draw the CSV upload card; on "Use this CSV" the setup switches to it."""
    st.markdown("**Your own data**")
    upload = st.file_uploader(
        f"Upload a CSV (numeric columns plus a target; up to {MAX_UPLOAD_MB} MB)", type=["csv"], key="csv_upload"
    )
    if upload is None:
        return
    data = upload.getvalue()
    # Only the header is read here; nothing is written until "Use this CSV" has checked the whole file.
    columns, error = upload_columns(upload.name, data)
    if error:
        st.error(error)
        return
    target = st.selectbox("Target column (what to predict)", columns, index=len(columns) - 1)
    if st.button("Use this CSV", type="primary"):
        path, error = accept_upload(store.home, upload.name, data, str(target))
        if path is None:
            st.error(error)
            return
        choose(CUSTOM, [toggles.encode(k, v) for k, v in csv_sets(path, str(target)).items()])


def sync_widgets(base: Recipe, name: str, url_sets: list[str]) -> None:
    """Set the widgets from the URL once per recipe/link, so a copied link shows its setup."""
    marker = (name, tuple(url_sets))
    if st.session_state.get("_synced") == marker:
        return
    try:
        wanted = toggles.decode(url_sets)
    except RecipeError as exc:
        st.warning(f"Ignoring the link's settings: {exc}")
        wanted = {}
    toggle_part, advanced = toggles.split_advanced(wanted)
    try:
        shown = base.with_overrides(toggle_part)
    except RecipeError as exc:
        st.warning(f"Ignoring the link's toggles: {exc}")
        shown = base
    for t in toggles.TOGGLES:
        st.session_state[f"w:{t.key}"] = toggles.widget_value(t, shown)
    st.session_state["advanced"] = "\n".join(toggles.encode(k, v) for k, v in advanced.items())
    st.session_state["_synced"] = marker


def toggle_grid(base: Recipe) -> dict[str, Any]:
    """Draw one widget per toggle in a 4-column grid; returns {dotted key: widget value}."""
    values: dict[str, Any] = {}
    cols = st.columns(4)
    image = is_image_data(base)
    for i, t in enumerate(toggles.TOGGLES):
        key = f"w:{t.key}"
        with cols[i % 4]:
            if t.kind == "select":
                opts = t.choices(base.get(t.key))
                if st.session_state.get(key) not in opts:
                    st.session_state[key] = base.get(t.key)
                values[t.key] = st.selectbox(t.label, opts, key=key, help=t.help or None)
            elif t.kind in ("toggle", "early"):
                # wrap: a label too long for its column (or for a projector's type) wraps, never "Residual connecti…"
                values[t.key] = st.toggle(t.label, key=key, help=t.help or None, wrap=True)
            elif t.kind == "slider":
                lo, hi, step = t.options
                hi = max(hi, base.get(t.key))  # a recipe deeper than the slider still fits
                values[t.key] = st.slider(t.label, lo, hi, step=step, key=key, help=t.help or None)
            elif t.kind == "choice":
                opts = t.choices(base.get(t.key))
                wanted = st.session_state.get(key)
                if t.log and isinstance(wanted, float) and wanted > 0 and wanted not in opts:
                    opts = sorted([*opts, wanted])  # a link's rate between the choices (the range test's "Use it")
                if st.session_state.get(key) not in opts:
                    st.session_state[key] = base.get(t.key)
                values[t.key] = st.select_slider(
                    t.label, opts, key=key, help=t.help or None, format_func=lambda v, t=t: toggles.format_choice(v, t)
                )
            elif t.kind == "multiselect":
                values[t.key] = st.multiselect(
                    t.label,
                    list(t.options),
                    key=key,
                    disabled=not image,
                    help="Only for image data." if not image else t.help or None,
                )
    return values
