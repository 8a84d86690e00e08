"""The Launch page's "Find a learning rate" box, and the Live page's pointer to it.

The range test trains, so it runs as ``python -m engine.cli lr-find ... --json``
in a child process (:mod:`engine.tuning.lr_find_job`); a fragment polls it once
a second for its progress. The child caches its result beside the run store, so
the box shows the last test of the current setup, with a "Use it" button that
puts the suggested ``train.lr`` in the URL the Launch page reads its setup from.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import streamlit as st

from app import ui
from app.components.lr_find import lr_find_figure
from app.logic import lr_find as logic
from app.widgets import launch as launch_widgets
from engine.config.names import RULES
from engine.config.recipe import Recipe
from engine.diagnosis.diagnose import rule_class
from engine.tuning import lr_find, lr_find_job

JOB_KEY = "lr_find_job"  # session state: {"key": recipe key, "job": Job}
ERROR_KEY = "lr_find_error"  # session state: {"key": recipe key, "message": str}
POLL_S = 1.0


def panel(store: Any, name: str, recipe: Recipe | None, sets: dict[str, Any]) -> None:
    """Draw the range-test box for the page's resolved ``recipe`` (``name`` plus ``sets``)."""
    if recipe is None:
        return  # the setup is invalid: the page says why, and there is nothing to test
    plain = recipe.to_dict()
    key = lr_find.recipe_key(plain)
    running = st.session_state.get(JOB_KEY)
    cached = lr_find.load(store.home, plain)
    error = st.session_state.get(ERROR_KEY)
    with st.expander("📈 Find a learning rate (range test)", expanded=bool(running or cached)):
        st.caption(
            f"Trains this setup for {lr_find.DEFAULT_STEPS} steps while the learning rate grows from "
            f"{lr_find.DEFAULT_START:g} to {lr_find.DEFAULT_END:g}, at {lr_find.DEFAULT_SEEDS} seeds, and stops "
            "when the loss blows up (Smith 2017; fastai's lr_find). The suggestion is fastai's 'valley' rule, "
            "and the band is its spread over the seeds. Nothing is stored as a run."
        )
        if st.button(
            "📈 Find a learning rate",
            disabled=running is not None,
            help="Runs in the background: a few seconds for the lessons' models, at most "
            f"{lr_find_job.DEFAULT_TIMEOUT_S:.0f} s.",
        ):
            st.session_state.pop(ERROR_KEY, None)
            st.session_state[JOB_KEY] = {"key": key, "job": lr_find_job.start(name, sets, home=store.home)}
            st.rerun()
        if running is not None:
            _poll()
        if error and error["key"] == key:
            st.error(f"The range test failed: {error['message']}")
        if cached is not None:
            _show(cached, recipe, name, sets)


@st.fragment(run_every=POLL_S)
def _poll() -> None:
    """Redrawn every second while the job runs; once it ends, the whole page reruns with its result."""
    state = st.session_state.get(JOB_KEY)
    if state is None:
        return
    job = state["job"]
    if not job.done():
        st.progress(job.progress, text=logic.progress_text(job.stage, time.monotonic() - job.started))
        return
    result, message = job.outcome()
    st.session_state.pop(JOB_KEY, None)
    if message is not None:
        st.session_state[ERROR_KEY] = {"key": state["key"], "message": message}
    st.rerun()  # the page reads the cached result


def _show(result: lr_find.LrFindResult, recipe: Recipe, name: str, sets: dict[str, Any]) -> None:
    st.markdown(logic.verdict(result, recipe.train.lr))
    ui.plot(lr_find_figure(result.to_dict(), presentation=ui.presentation()), key="lr_find_chart")
    usable = result.suggestion is not None and result.suggestion != recipe.train.lr
    if st.button(
        f"✅ Use it: train.lr = {result.suggestion:g}" if result.suggestion is not None else "✅ Use it",
        disabled=not usable,
        help="Set the Learning rate toggle to the suggestion (the link keeps it).",
    ):
        launch_widgets.choose(name, logic.use_it_sets(sets, result))


def finding_pointer(finding: dict[str, Any], recipe_name: str) -> None:
    """Under a Live finding about the rate: say how to measure one, when no range test is there to offer yet."""
    if finding.get("code") not in _lr_codes() or any(r.get("name") == "find_lr" for r in finding.get("remedies") or []):
        return
    st.caption(
        "📈 No learning-rate range test of this recipe yet: the Launch page's *Find a learning rate* "
        f"(or `gradclinic lr-find {recipe_name}`) measures one, and this finding then offers its rate."
    )


@functools.cache
def _lr_codes() -> frozenset[str]:
    """The finding codes whose rule names ``find_lr`` among its remedies."""
    return frozenset(code for code in RULES.names() if "find_lr" in rule_class(code).remedies)
