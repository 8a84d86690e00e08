"""Launch's "Start from an earlier run" box: pick a finished run whose weights this setup starts from.

The choice becomes the transfer keys in the link (``set=model.init_from=…``), like any Advanced
line, so the run's name, the command line and a copied link all carry it. The logic is
:mod:`app.logic.transfer`.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from app.logic import toggles
from app.logic import transfer as logic
from app.widgets import launch as launch_widgets
from engine.config.errors import StoreError
from engine.config.recipe import Recipe

SCRATCH = ""  # the selectbox's "no earlier run" option


def panel(store: Any, name: str, recipe: Recipe | None, sets: dict[str, Any]) -> None:
    """The expander; opened when the setup already starts from a run."""
    current = recipe.model.init_from if recipe is not None else None
    with st.expander("🔁 Start from an earlier run (transfer learning)", expanded=current is not None):
        if recipe is None:
            st.caption("Fix the setup first: a transfer starts from a valid one.")
            return
        runs = logic.startable(store.home, store.list_runs(status="completed", limit=500))
        if current is not None and current not in runs:
            st.caption(f"This setup starts from `{current}` (set in the recipe or the Advanced box).")
        if not runs:
            st.caption("No finished run with saved weights yet: train one, then start from it here.")
            return
        options = [SCRATCH, *runs]
        picked = st.selectbox(
            "Start from",
            options,
            index=options.index(current) if current in runs else 0,
            format_func=lambda r: "— from scratch (new random weights) —" if r == SCRATCH else runs[r],
            key="transfer_source",
            help="Its final weights are loaded by layer name and shape; the head starts afresh when the "
            "number of outputs differs.",
        )
        if not picked:  # SCRATCH (or nothing picked)
            if current is not None and st.button("Train from scratch instead", key="transfer_clear"):
                launch_widgets.choose(name, logic.scratch_sets(sets))
            return
        _options(store, name, recipe, sets, picked)


def _options(store: Any, name: str, recipe: Recipe, sets: dict[str, Any], run_id: str) -> None:
    try:
        source = store.get_run(run_id)
    except StoreError as exc:
        st.warning(str(exc))
        return
    warning = logic.fit_warning(source["recipe"], recipe)
    if warning:
        st.warning(warning)
    groups = logic.layer_groups(logic.final_weights(store.home, run_id))
    same = recipe.model.init_from == run_id
    c1, c2, c3 = st.columns([2, 1, 1])
    freeze = c1.multiselect(
        "Freeze (keep as loaded)",
        groups,
        default=[g for g in recipe.model.freeze if g in groups] if same else [],
        key=f"transfer_freeze:{run_id}",
        help="Frozen layers keep the loaded weights and are left out of the gradient probes: "
        "'layers' freezes every hidden layer, 'layers.0' only the first.",
    )
    lr_scale = c2.number_input(
        "Learning rate × for loaded layers",
        min_value=0.01,
        max_value=100.0,
        value=float(recipe.model.init_lr_scale) if same else 1.0,
        step=0.1,
        key=f"transfer_lr:{run_id}",
        help="Fine-tune the loaded layers gently (below 1); a fresh head learns at train.lr itself.",
    )
    fresh = c3.toggle(
        "New head",
        value=bool(recipe.model.fresh_head) if same else False,
        key=f"transfer_head:{run_id}",
        help="Start the output layer afresh even when its shape fits (a new task with as many classes).",
    )
    new = logic.use_sets(sets, run_id, freeze, float(lr_scale), fresh)
    applied = sorted(new) == sorted(toggles.encode(k, v) for k, v in sets.items())
    if st.button("✅ Use these weights", key="transfer_use", disabled=applied, help="Put these keys in the setup."):
        launch_widgets.choose(name, new)
    if applied:
        st.caption("✔ The setup below starts from this run: Launch, Compare or Run lesson use it.")
