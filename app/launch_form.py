"""The Launch view's parts: gallery, CSV upload, toggle grid, URL state and validation.

Pure helpers (``from_query``, ``resolve``, ``variant_options`` ...) take and
return plain values so they are tested without a browser; the functions that
draw widgets say so in their docstring.
"""
from __future__ import annotations

import hashlib
import re
from typing import Any, Mapping

import pandas as pd
import streamlit as st

from app import toggles
from engine import names
from engine.errors import RecipeError
from engine.recipe import Recipe, list_recipe_names, load_recipe

DEFAULT_RECIPE = "vanishing-sigmoid"
CUSTOM = "custom"  # the built-in defaults, which an uploaded CSV starts from
MAX_UPLOAD_MB = 20
ADVANCED_HINT = ("seed", "train.steps", "train.eval_every", "train.optimizer", "train.clip_value",
                 "data.val_fraction", "data.train_limit", "data.params.<name>", "model.init_std",
                 "probes.intervals.<probe>", "train.device")
_SAFE = re.compile(r"[^A-Za-z0-9_-]+")  # no dots or slashes: the stem can never climb out
# The order a course would take the lessons in; lessons not listed follow, by name.
CURRICULUM = ("vanishing-sigmoid", "exploding-residual", "exploding-rnn", "long-range-memory",
              "overfitting-small-data", "lr-schedules", "batch-norm", "optimizers", "batch-size-lr",
              "model-capacity", "mlp-vs-cnn", "rnn-vs-transformer", "autoencoder-anomaly", "gan-2d")


# --- URL state ------------------------------------------------------------------


def from_query(params: Mapping) -> tuple[str, list[str]]:
    """(recipe name, ``key=value`` overrides) from the URL's query parameters."""
    name = params.get("recipe") or DEFAULT_RECIPE
    sets = params.get_all("set") if hasattr(params, "get_all") else list(params.get("set") or [])
    return str(name), [str(s) for s in sets]


def write_query(name: str, sets: dict[str, Any]) -> None:
    """Put the setup in the URL (widgets draw from it on a fresh page load)."""
    wanted = {"recipe": name, "set": [toggles.encode(k, v) for k, v in sets.items()]}
    current = {"recipe": st.query_params.get("recipe"), "set": st.query_params.get_all("set")}
    if wanted != current:
        st.query_params.from_dict({k: v for k, v in wanted.items() if v})
    # The URL now matches the widgets: only a URL changed from outside should reset them.
    st.session_state["_synced"] = (name, tuple(wanted["set"]))


@st.cache_data(show_spinner=False, ttl=30)
def _recipes() -> dict[str, dict]:
    out = {}
    for n in list_recipe_names():
        try:
            r = load_recipe(n)
        except RecipeError:
            continue  # a broken recipe file must not take the gallery down; `gradclinic recipes` names it
        out[n] = {"title": r.title or n, "summary": r.summary, "lesson": r.is_lesson}
    return out


def base_recipe(name: str) -> tuple[Recipe | None, str | None]:
    """The recipe before any toggle, or (None, message)."""
    try:
        return (load_recipe(None) if name == CUSTOM else load_recipe(name)), None
    except RecipeError as exc:
        return None, str(exc)


def resolve(base: Recipe, toggle_sets: dict[str, Any], advanced_text: str) -> tuple[Recipe | None, str | None]:
    """Apply toggles then the Advanced lines; (recipe, None) or (None, the engine's message)."""
    try:
        return base.with_overrides({**toggle_sets, **advanced_sets(advanced_text, strict=True)}), None
    except RecipeError as exc:
        return None, str(exc)


def advanced_sets(text: str, strict: bool = False) -> dict[str, Any]:
    """The Advanced box's ``key=value`` lines; malformed lines raise only when ``strict``."""
    try:
        return toggles.decode((text or "").splitlines())
    except RecipeError:
        if strict:
            raise
        return {}


def baseline_of(base: Recipe, advanced_text: str) -> Recipe:
    """A comparison's baseline: the recipe plus the Advanced settings, without the toggles."""
    return base.with_overrides(advanced_sets(advanced_text, strict=True))


def variant_options(base: Recipe, toggle_sets: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What Compare can run against the baseline: each changed toggle alone, then the recipe's remedies."""
    options = {f"{k}={toggles.format_choice(v)}": {k: v} for k, v in toggle_sets.items()}
    for v in base.compare:
        options.setdefault(v.label, dict(v.set))
    return options


def describe_changes(sets: dict[str, Any]) -> str:
    return ", ".join(f"`{k}={toggles.format_choice(v)}`" for k, v in sets.items())


def run_name(base: Recipe, sets: dict[str, Any]) -> str:
    """A run's display name: the recipe, or the recipe plus what the user changed."""
    if not sets:
        return base.name
    return f"{base.name}: " + ", ".join(f"{k.split('.')[-1]}={toggles.format_choice(v)}" for k, v in sets.items())[:70]


# --- widgets -------------------------------------------------------------------


def choose(name: str, sets: list[str] | None = None) -> None:
    """Switch to recipe ``name`` (widgets reset to its values) and rerun. Draws nothing."""
    st.query_params.from_dict({"recipe": name, **({"set": sets} if sets else {})})
    st.session_state.pop("_synced", None)
    st.rerun()


def gallery(current: str) -> str | None:
    """Draw recipe cards, lessons first; returns the name clicked, if any."""
    recipes = _recipes()
    picked = None
    for heading, want_lesson in (("Lessons", True), ("Presets", False)):
        names = sorted((n for n, r in recipes.items() if r["lesson"] == want_lesson),
                       key=lambda n: (CURRICULUM.index(n) if n in CURRICULUM else len(CURRICULUM), n))
        if not names:
            continue
        st.markdown(f"**{heading}**")
        cols = st.columns(3)
        for i, n in enumerate(names):
            with cols[i % 3].container(border=True):
                st.markdown(f"**{recipes[n]['title']}**")
                summary = recipes[n]["summary"]
                st.caption(summary[:180] + ("…" if len(summary) > 180 else ""))
                if st.button("Selected" if n == current else "Open", key=f"pick:{n}", disabled=n == current,
                             width="stretch"):
                    picked = n
    return picked


def csv_card(store) -> None:
    """Draw the CSV upload card; on "Use this CSV" the setup switches to it."""
    st.markdown("**Your own data**")
    upload = st.file_uploader(f"Upload a CSV (numeric columns plus a target; up to {MAX_UPLOAD_MB} MB)",
                              type=["csv"], key="csv_upload")
    if upload is None:
        return
    data = upload.getvalue()
    if len(data) > MAX_UPLOAD_MB * 1024 * 1024:
        st.error(f"{upload.name} is {len(data) / 2**20:.1f} MB; the limit is {MAX_UPLOAD_MB} MB.")
        return
    try:
        header = pd.read_csv(pd.io.common.BytesIO(data), nrows=5)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        st.error(f"{upload.name} is not a readable CSV: {exc}")
        return
    target = st.selectbox("Target column (what to predict)", list(header.columns), index=len(header.columns) - 1)
    if st.button("Use this CSV", type="primary"):
        path = save_upload(store.home, upload.name, data)
        sets = {"data.name": "csv", "data.params": {"path": str(path), "target": str(target)}}
        error = check_csv(sets)
        if error:
            st.error(error)
            return
        choose(CUSTOM, [toggles.encode(k, v) for k, v in sets.items()])


def save_upload(home, filename: str, data: bytes):
    """Store an upload under ``home/uploads`` with a content-hash name (never the user's path)."""
    folder = home / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    stem = _SAFE.sub("_", filename.rsplit(".", 1)[0])[:40] or "data"
    path = folder / f"{hashlib.sha256(data).hexdigest()[:10]}-{stem}.csv"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def check_csv(sets: dict[str, Any]) -> str | None:
    """Load the CSV the way a run would (torch-free), so a bad file is refused before launch."""
    from engine import datasets

    try:
        recipe = load_recipe(None, sets)
        datasets.prepare(recipe.data, recipe.seed)
    except RecipeError as exc:  # DataError is a RecipeError
        return f"This CSV cannot be used: {exc}"
    return None


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
    image = getattr(names.DATASETS.module(base.data.name), "KIND", "tabular") == "image"
    for i, t in enumerate(toggles.TOGGLES):
        key = f"w:{t.key}"
        with cols[i % 4]:
            if t.kind == "select":
                opts = t.choices(base.get(t.key))
                if st.session_state.get(key) not in opts:
                    st.session_state[key] = base.get(t.key)
                values[t.key] = st.selectbox(t.label, opts, key=key, help=t.help or None)
            elif t.kind in ("toggle", "early"):
                values[t.key] = st.toggle(t.label, key=key, help=t.help or None)
            elif t.kind == "slider":
                lo, hi, step = t.options
                hi = max(hi, base.get(t.key))  # a recipe deeper than the slider still fits
                values[t.key] = st.slider(t.label, lo, hi, step=step, key=key, help=t.help or None)
            elif t.kind == "choice":
                opts = t.choices(base.get(t.key))
                if st.session_state.get(key) not in opts:
                    st.session_state[key] = base.get(t.key)
                values[t.key] = st.select_slider(t.label, opts, key=key, help=t.help or None,
                                                 format_func=lambda v, t=t: toggles.format_choice(v, t))
            elif t.kind == "multiselect":
                values[t.key] = st.multiselect(t.label, list(t.options), key=key, disabled=not image,
                                               help="Only for image data." if not image else t.help or None)
    return values
