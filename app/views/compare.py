"""Compare: a group (or any runs) side by side, with a verdict computed from the numbers."""

from __future__ import annotations

import streamlit as st

from app import ui
from app.components import ensemble_chart, folds, heatmaps, overlays, theme
from app.logic import common
from app.logic import compare as comparison
from app.logic.ensembles import ensemble_caption
from app.logic.folds import cv_caption
from app.widgets import curve_controls
from engine.config.errors import RecipeError, StoreError

store = ui.store()
P = ui.presentation()
st.title("Compare runs")
recent = ui.recent_runs_or_stop(500, "On **Launch**, press Compare or Run lesson to start a baseline and its remedies.")
groups = comparison.group_options(recent)
labels = ui.run_labels(recent)
asked_group = st.query_params.get("group")
asked_runs = [r for r in st.query_params.get_all("runs") if r]
c1, c2 = st.columns([1, 2])
group_ids = [""] + list(groups)
group = c1.selectbox(
    "Group",
    group_ids,
    index=group_ids.index(asked_group) if asked_group in groups else 0,
    format_func=lambda g: groups.get(g, "— pick runs instead —"),
)
if group:
    run_ids = store.list_runs(group=group).sort_values("created")["id"].tolist()
    c2.markdown(f"**{len(run_ids)} runs** in this group, same seed and data split.")
else:
    default = [r for r in asked_runs if r in labels]
    run_ids = c2.multiselect(
        "Runs (the first is the baseline)", list(labels), default=default, format_func=lambda i: labels.get(i, i)
    )
ui.set_query({"group": group} if group else {"runs": run_ids} if run_ids else {})

if len(run_ids) < 2:
    st.info("Pick a group, or two or more runs, to compare. The first run is the baseline.")
    st.stop()

live_at_start = any(common.is_live(store.get_run(r)["status"]) for r in run_ids)


@st.fragment(run_every=ui.REFRESH_S if live_at_start else None)
def body() -> None:
    try:
        view = comparison.build(store, run_ids, feeds=st.session_state.setdefault("compare_feeds", {}))
    except (RecipeError, StoreError) as exc:
        st.error(str(exc))
        return
    colours = {label: theme.run_colour(i) for i, label in enumerate(view.labels.values())}
    if view.summary["done"]:
        st.success(f"### {view.verdict}")
    else:
        st.info(
            f"**So far:** {view.verdict} — {view.running} of {len(run_ids)} runs still going; this page updates itself."
        )
    ui.table(view.table.set_index("run") if P else view.table)
    if view.cv is not None:  # a cross-validation: every fold's result and the interval, before the curves
        summary = view.cv
        ui.plot(ui.memo("cmp:folds", (view.version, P), lambda: folds.fold_points(summary, presentation=P)))
        st.caption(cv_caption(summary))
    if view.ensemble is not None:  # an ensemble: its metric against members, beside each member alone
        members = view.ensemble
        key = (view.version, P, members["trained"])  # a member's event lands after its last row: count it too
        ui.plot(ui.memo("cmp:ensemble", key, lambda: ensemble_chart.members_curve(members, presentation=P)))
        st.caption(ensemble_caption(members))

    metric_col, metric_label = view.metric_column
    settings = curve_controls.curve_controls("cmp:curves", view.clocks, runs=list(view.labels.values()))
    x = settings.x
    wides, groups = comparison.on_axis(view, x)
    bands = view.multi_seed and comparison.seeds_share_x(view, x)
    st.caption(
        "Hover a line to name its run · click a legend entry to hide that run, double-click to show it alone"
        " · **Highlight** draws one run bold over the others."
        + (
            " Each seed runs at its own speed, so on wall time every seed is its own line."
            if view.multi_seed and not bands
            else ""
        )
    )
    version = (view.version, P, settings)

    def validation_chart(column: str, label: str, log_y: bool | None = False):
        """One validation metric per variant: mean and ±1 sd band over seeds, or one line per run."""
        y_label = f"val {label}" + (" (%)" if label == "accuracy" else "")
        if bands:
            over = "folds" if view.cv else "members" if view.ensemble else "seeds"
            return overlays.seed_band_curves(
                groups,
                column,
                title=f"Validation {label}: mean and ±1 sd over {over}",
                colours={name: theme.run_colour(i) for i, name in enumerate(groups)},
                presentation=P,
                y_label=y_label,
                x_label=x.title,
                log_y=log_y,
                highlight=view.variant_of.get(settings.highlight or ""),
            )
        return overlays.compare_curves(
            wides,
            column,
            title=f"Validation {label}",
            colours=colours,
            presentation=P,
            y_label=y_label,
            x_label=x.title,
            log_y=log_y,
            highlight=settings.highlight,
        )

    metric_log = settings.log_y if metric_col == "val_loss" else False
    charts = [("cmp:metric", lambda: validation_chart(metric_col, metric_label, log_y=metric_log))]
    if metric_col != "val_loss":  # accuracy leads: validation loss goes beside it (overfitting shows there first)
        charts.append(("cmp:val_loss", lambda: validation_chart("val_loss", "loss", log_y=settings.log_y)))
    charts.append(
        (
            "cmp:loss",
            lambda: overlays.compare_curves(
                wides,
                "train_loss",
                title="Training loss",
                y_label="loss",
                x_label=x.title,
                colours=colours,
                presentation=P,
                log_y=settings.log_y,
                smoothing=settings.smoothing,
                highlight=settings.highlight,
            ),
        )
    )
    for start in range(0, len(charts), 2):
        for col, (key, build) in zip(ui.chart_columns(2), charts[start : start + 2]):
            with col:
                ui.plot(ui.memo(key, version, build))
    items = [(label, *view.grads[rid]) for rid, label in view.labels.items() if rid in view.grads]
    if items:
        ui.plot(ui.memo("cmp:grads", version, lambda: heatmaps.side_by_side_heatmaps(items, presentation=P)))

    st.subheader("What differs")
    if view.diff.empty:
        st.caption("The runs' recipes are identical (only the seed or nothing differs).")
    else:
        st.table(view.diff)  # a few keys: static, so it reads on a projector and needs no scrolling
    questions = comparison.lesson_questions(view)
    if questions:
        st.subheader("Questions")
        for q in questions:
            st.markdown(f"**{q.ask}**")
            if view.summary["done"]:
                with st.expander("Reveal the answer"):
                    st.markdown(q.answer)
                    st.caption(f"The numbers: {view.verdict}")
            else:
                st.caption("The answer is revealed when every run has finished.")
    if live_at_start and view.summary["done"]:
        st.rerun()  # everything ended: redraw once without the timer


body()
