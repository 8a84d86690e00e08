"""Sweep: one hyperparameter search, its trials (each a real run), the best so far and what mattered.

The sweep is in the URL (``?sweep=sweep-ab12cd``). Clicking a trial's row opens
its run live; Compare opens the best few side by side. While trials run, the
page refreshes itself.
"""

from __future__ import annotations

import streamlit as st

from app import ui
from app.components import sweep_charts as charts
from app.logic import sweep as logic
from app.logic import sweep_launch
from engine.tuning import results

REFRESH_S = 2.0  # a sweep's trials take seconds to minutes, and reading the study costs a few hundred ms
TABLE_KEY = "sweep:table_n"  # session state: bumped on leaving for Live, so a return shows no stale selection

store = ui.store()
P = ui.presentation()
st.title("Sweep")
options = logic.sweep_options(store.home)
asked = st.query_params.get("sweep") or ""
starting = bool(asked) and asked not in options and sweep_launch.log_tail(store.home, asked) is not None

if starting:
    ui.set_query({"sweep": asked})

    @st.fragment(run_every=1.0)
    def wait_for_start() -> None:
        if asked in logic.sweep_options(store.home):
            st.rerun()  # the driver wrote its study: draw the sweep
        alive = sweep_launch.driver_alive(store.home, asked)
        (st.info if alive else st.error)(
            f"Sweep `{asked}` is starting (checking the setup, reading the data)…"
            if alive
            else f"Sweep `{asked}` stopped before its first trial. Its log:"
        )
        st.code(sweep_launch.log_tail(store.home, asked) or "", language="text")

    wait_for_start()
    st.stop()

if not options:
    st.info(
        "No sweeps yet. On **Launch**, open *Sweep: search these settings*, tick the settings to search and "
        "press Start sweep; or run one from a terminal into this run store:"
    )
    st.code(
        f"gradclinic --home {store.home} sweep healthy-mlp --set data.name=moons "
        "--space train.lr='loguniform(1e-4,1)' --space model.width='intlog(8,128)' --trials 12 --parallel 2",
        language="bash",
    )
    st.page_link(
        ui.LAUNCH, label="Go to Launch", icon=":material/rocket_launch:", query_params=ui.with_presentation({})
    )
    st.stop()

ids = list(options)
name = str(
    st.selectbox("Sweep", ids, index=ids.index(asked) if asked in options else 0, format_func=lambda i: options[i])
)
ui.set_query({"sweep": name})
live_at_start = logic.is_live(results.load(store, name), store)


@st.fragment(run_every=REFRESH_S if live_at_start else None)
def body() -> None:
    result = results.load(store, name)
    live = logic.is_live(result, store)
    st.markdown(logic.settings_line(result) + "  \n" + logic.counts_line(result))
    st.caption("Searched: " + logic.space_line(result))
    (st.success if result.best() else st.info)(logic.best_line(result))
    if live:
        st.caption("Trials are still running: this page updates itself.")

    # The two charts that answer "did it find anything, and what mattered" lead; the details follow.
    done = logic.finished(result)
    version = (logic.version(result), P)
    importances = ui.memo(f"sweep:{name}:imp", logic.version(result), result.importances)
    first = ui.chart_columns(2)
    with first[0]:
        ui.plot(ui.memo(f"sweep:{name}:hist", version, lambda: charts.history_figure(result, presentation=P)))
    with first[1]:
        ui.plot(
            ui.memo(
                f"sweep:{name}:imp-fig", version, lambda: charts.importance_figure(importances, done, presentation=P)
            )
        )

    st.subheader("Trials")
    table = logic.trials_table(result)
    value_col = logic.metric_label(result.metric)
    n = st.session_state.setdefault(TABLE_KEY, 0)
    picked = st.dataframe(
        table,
        key=f"sweep:trials:{n}",
        hide_index=True,
        width="stretch",
        height=min(len(table), 14) * 35 + 40,
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "trial": st.column_config.NumberColumn("trial", format="#%d", width="small"),
            value_col: st.column_config.NumberColumn(
                help="The finished trial's result; a pruned or running one's last evaluation, at the step shown",
                format="%.1f" if result.metric in logic.PERCENT_METRICS else "%.4g",
            ),
            "at step": st.column_config.NumberColumn(help="The step of that evaluation"),
            **{p: st.column_config.NumberColumn(format="%.3g") for p in result.params if table[p].dtype.kind == "f"},
            "duration (s)": st.column_config.NumberColumn(format="%.1f"),
            "run": st.column_config.TextColumn("run", help="The trial's run: click its row to watch it live"),
        },
    )
    rows = picked.selection.rows if picked is not None else []
    if rows:
        st.session_state[TABLE_KEY] = n + 1
        ui.go(ui.LIVE, run=str(table.iloc[rows[0]]["run"]))
    st.caption("Click a trial's row to open its run live. Best first; then running, pruned and failed trials.")

    c1, c2, _ = st.columns([1, 1, 2], vertical_alignment="bottom")
    k = c1.number_input("Top k to compare", 2, max(2, min(done, 10)), min(3, max(2, done)), key="sweep:k")
    if c2.button(f"⚖️ Compare top {k}", disabled=done < 2, width="stretch", help="Open the best finished trials"):
        ui.go(ui.COMPARE, runs=logic.compare_runs(result, int(k)))

    ui.plot(ui.memo(f"sweep:{name}:par", version, lambda: charts.parallel_figure(result, presentation=P)))
    ui.plot(ui.memo(f"sweep:{name}:slice", version, lambda: charts.slice_figure(result, presentation=P)))
    if len(result.params) >= 2:
        ranked = sorted(result.params, key=lambda p: -importances.get(p, 0.0))
        if len(result.params) > 2:
            a, b, _ = st.columns([1, 1, 2])
            x = a.selectbox("Contour: across", result.params, index=result.params.index(ranked[0]), key="sweep:cx")
            others = [p for p in result.params if p != x]
            y = b.selectbox("against", others, index=others.index(ranked[1]) if ranked[1] in others else 0)
        else:
            x, y = ranked[0], ranked[1]
        ui.plot(
            ui.memo(
                f"sweep:{name}:contour",
                (version, x, y),
                lambda: charts.contour_figure(result, str(x), str(y), presentation=P),
            )
        )
    if live_at_start and not live:
        st.rerun()  # the sweep ended: redraw once without the timer


body()
