"""The Launch page's "Sweep: search these settings" box: pick toggles to search, start the sweep, open its page.

The decisions (which toggles, their default SPECs, the command line, the detached
process) are plain functions in :mod:`app.logic.sweep_launch`; this draws them.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from app import ui
from app.logic import sweep_launch as logic
from engine.config.errors import RecipeError
from engine.config.recipe import Recipe
from engine.config.sweep import MAX_DIMENSIONS, PRUNERS, SAMPLERS

SAMPLER_HELP = (
    "tpe: Optuna's default, models where good trials were · random: a fair baseline · grid: every combination · "
    "gp: a Gaussian process, for few trials · cmaes: for several continuous settings"
)


def panel(store: Any, name: str, recipe: Recipe | None, sets: dict[str, Any]) -> None:
    """Draw the sweep box for the page's resolved ``recipe`` (``name`` plus ``sets``); Start opens the Sweep page."""
    if recipe is None:
        return  # the setup is invalid: the page says why
    options = logic.searchable(recipe)
    with st.expander("🔎 Sweep: search these settings (each trial a real run)", expanded=False):
        keys = st.multiselect(
            "Settings to search",
            list(options),
            default=[k for k in ("train.lr",) if k in options],
            format_func=lambda k: f"{options[k][0]} · {options[k][1]}",
            key="sweep:keys",
            max_selections=MAX_DIMENSIONS,
            help="Each ticked toggle is drawn from the range shown, around this setup's value; "
            "the other toggles stay as they are set above.",
        )
        c1, c2, c3, c4 = st.columns(4)
        sampler = c1.selectbox("Sampler", SAMPLERS, index=SAMPLERS.index("tpe"), key="sweep:sampler", help=SAMPLER_HELP)
        trials = c2.number_input("Trials", 2, 200, logic.DEFAULTS["trials"], key="sweep:trials")
        pruner = c3.selectbox(
            "Pruner",
            PRUNERS,
            key="sweep:pruner",
            help="median: stop a trial whose evaluation falls below the median of earlier trials at that step",
        )
        parallel = c4.number_input("At a time", 1, 16, logic.DEFAULTS["parallel"], key="sweep:parallel")
        space = {k: options[k][1] for k in keys}
        st.caption(logic.trials_caption(int(trials), int(parallel), recipe.train.steps))
        if not space:
            st.caption("Tick at least one setting to search.")
            return
        sweep_id = st.session_state.setdefault("sweep:next_id", logic.new_name())
        args = logic.sweep_args(
            name,
            sets,
            space,
            sampler=str(sampler),
            trials=int(trials),
            pruner=str(pruner),
            parallel=int(parallel),
            home=store.home,
            name=sweep_id,
        )
        st.code(logic.command_line(args), language="bash")
        if st.button("🔎 Start sweep", type="primary", help="Runs in the background; the Sweep page follows it."):
            try:
                logic.start(args, store.home, sweep_id)
            except (OSError, RecipeError) as exc:
                st.error(f"The sweep could not start: {exc}")
                return
            st.session_state.pop("sweep:next_id", None)  # the next sweep gets a new id
            ui.go(ui.SWEEP, sweep=sweep_id)
