"""Launch: pick a recipe or upload a CSV, toggle remedies, launch one run or a comparison.

The recipe name and every override live in the URL (``?recipe=…&set=key=value``),
so a copied link reproduces the setup, as TensorFlow Playground's links do.
"""

from __future__ import annotations

import streamlit as st

from app import ui
from app.logic import launch as setup
from app.logic import toggles
from app.widgets import launch as widgets
from app.widgets import lr_find, sweep_launch, transfer
from engine.config.errors import RecipeError, StoreError, excerpt
from engine.config.recipe import Recipe
from engine.control import compare, lifecycle

LAUNCHED, LAUNCH_FAILED = "launched_run", "launch_failed"


def launch_now(recipe: Recipe, run_name: str) -> None:
    """Launch's callback: record the run and start its worker, before the page reruns."""
    try:
        pace_ms = int(st.session_state.get("launch_pace") or 0)
        st.session_state[LAUNCHED] = lifecycle.launch(store, recipe, name=run_name, pace_ms=pace_ms)
    except (RecipeError, StoreError) as exc:  # too big for memory by now, or a busy store: said on the page
        st.session_state[LAUNCH_FAILED] = str(exc)


store = ui.store()
# Launch starts its run in the button's callback, before this rerun; the page goes straight to it
# instead of drawing itself again first (that redraw was half a second of the wait for a first point).
if launched := st.session_state.pop(LAUNCHED, None):
    ui.go(ui.LIVE, run=launched)
st.title("🩺 Gradient Clinic")
if failed := st.session_state.pop(LAUNCH_FAILED, None):
    st.error(f"**Cannot launch:** {failed}")
st.caption("Why won't my network train? Pick a lesson, watch the gradients, toggle a remedy, compare.")

name, url_sets = setup.from_query(st.query_params)
base, base_error = setup.base_recipe(name)

# Above the fold at 1440×900: the picker, the recipe's name and summary, then the Launch row.
# The 15 lesson cards and the CSV upload wait, collapsed, in the gallery.
with st.columns([3, 2])[0]:
    widgets.picker(name)
with st.expander("📚 Gallery: every lesson and recipe, and your own data (CSV)", expanded=base is None):
    picked = widgets.gallery(name)
    if picked:
        widgets.choose(picked)
    widgets.csv_card(store)

if base is None:
    st.error(f"Recipe {excerpt(name)} could not be loaded: {base_error}")
    st.stop()

widgets.sync_widgets(base, name, url_sets)
head = st.container()  # filled once the Advanced lines are known: a CSV setup is titled by its file
run_box = st.container(border=True)

text, picture = ui.chart_columns(2)
with text:
    if setup.lesson_rest(base):
        st.markdown(setup.lesson_rest(base))
    if base.questions:
        with st.container(border=True):
            st.markdown("**Questions to answer from the runs**")
            for q in base.questions:
                st.markdown(f"- {q.ask}")

st.subheader("Remedies")
widget_values = widgets.toggle_grid(base)
toggle_sets = toggles.overrides_from_widgets(base, widget_values)

with st.expander("Advanced: any other recipe key", expanded=False):
    advanced_text = st.text_area(
        "One `key=value` per line (dotted recipe keys, e.g. `train.steps=500`, `seed=1`, `probes.budget=0.1`)",
        key="advanced",
        height=120,
    )
    st.caption("Keys: " + ", ".join(setup.ADVANCED_HINT))

all_sets = setup.setup_sets(toggle_sets, advanced_text)  # toggles and Advanced lines: the caption and run name
recipe, error = setup.resolve(base, toggle_sets, advanced_text)
if error:
    st.error(f"**Invalid setup:** {error}")
else:
    widgets.write_query(name, all_sets)
    with st.expander("Resolved recipe (what will run)"):
        st.json(recipe.to_dict(), expanded=False)
    with st.expander("Command line (the same run from a terminal, into this run store)"):
        st.code(
            setup.cli_command(name, all_sets, home=store.home, label=setup.run_name(base, all_sets)), language="bash"
        )

with head:
    st.header(setup.page_title(base, all_sets))
    summary = widgets.data_summary(recipe) if recipe is not None and setup.csv_upload(all_sets) else None
    if summary or base.summary:
        st.caption(summary or base.summary)

with picture:
    if recipe is not None:
        widgets.data_picture(recipe)  # what the network will learn from

with run_box:
    variant_options = setup.variant_options(base, toggle_sets)
    c1, c2, c4, c3 = st.columns([1, 2, 0.7, 1])
    c1.button(
        "🚀 Launch",
        type="primary",
        disabled=error is not None,
        width="stretch",
        help="Start one run with the setup below and watch it live.",
        on_click=launch_now,
        args=(recipe, setup.run_name(base, all_sets)),
    )
    pace_ms = c1.selectbox(
        "🐢 Slow motion",
        lifecycle.PACE_CHOICES_MS,
        format_func=lambda ms: f"{ms} ms a step" if ms else "off",
        key="launch_pace",
        help="Wait this long after every step, so that a short run can be watched in class; "
        "the numbers it trains stay the same. The Live page can change it while the run trains.",
    )
    chosen = c2.multiselect(
        "Variants to compare against the baseline",
        list(variant_options),
        default=list(variant_options)[: min(len(variant_options), 6)],
        disabled=error is not None,
        placeholder="Change a toggle, or pick the recipe's remedies",
    )
    seeds = c4.number_input(
        "Seeds",
        min_value=1,
        max_value=setup.MAX_SEEDS,
        value=1,
        help="Runs per variant at seeds seed, seed+1, ...: with 2 or more, every change from the baseline gets a "
        "95% confidence interval, and the verdict says when it is within seed noise.",
    )
    compare_clicked = c3.button(
        "⚖️ Compare",
        disabled=error is not None or not chosen,
        width="stretch",
        help="Start the baseline (the recipe without your toggles) plus one run per variant, "
        "same seed, and compare them side by side.",
    )
    lesson_clicked = False
    if base.is_lesson:
        lesson_clicked = st.button(
            f"🎓 Run lesson: baseline + {len(base.compare)} remedies", width="stretch", disabled=error is not None
        )
    if error:
        st.caption("⚠️ The setup below is invalid, so nothing can be launched; its message is by the Advanced box.")
    else:
        changed = setup.describe_changes(all_sets)
        st.caption(f"Changes from the recipe: {changed}" if changed else "Using the recipe as written.")
    lr_find.panel(store, name, recipe, all_sets)  # the range test of this setup, and its "Use it"
    sweep_launch.panel(store, name, recipe, all_sets)  # search the ticked toggles; opens the Sweep page
    transfer.panel(store, name, recipe, all_sets)  # start from a finished run's weights (model.init_from)

if error is None and (compare_clicked or lesson_clicked):
    baseline = setup.baseline_of(base, advanced_text)
    picked_variants = (
        [(v.label, dict(v.set)) for v in base.compare]
        if lesson_clicked
        else [(label, variant_options[label]) for label in chosen]
    )
    try:
        group = compare.launch_group(
            store, baseline, [("baseline", {})] + picked_variants, seeds=int(seeds), pace_ms=int(pace_ms)
        )
    except RecipeError as exc:
        st.error(f"**Cannot compare:** {exc}")
    else:
        ui.go(ui.COMPARE, group=group)
