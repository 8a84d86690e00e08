"""Explain: what a trained run looks at. Captum attributions of its saved weights, one run or two side by side.

The work needs torch, so ``gradclinic explain`` runs in a child process per run
(:mod:`engine.control.explain_job`) and a fragment polls it once a second, as the Launch page's
range test does (:mod:`app.widgets.lr_find`). The child saves its result beside the run, so a
request asked before (by this page or ``gradclinic explain --save``) is drawn at once.
"""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from app import ui
from app.components import attribution as charts
from app.components import conductance
from app.logic import explain as logic
from engine.config.errors import StoreError
from engine.control import explain_cli, explain_job

JOB_KEY = "explain_job"  # session state: {"key": the requests, "jobs": [(run name, Job)]}
ERROR_KEY = "explain_error"  # session state: {"key": the requests, "message": str}
POLL_S = 1.0

store = ui.store()
P = ui.presentation()
st.title("Explain a run")
st.caption(
    "Which inputs a trained network's answer depends on: Captum attributes the output to every pixel, "
    "feature or time step of validation samples, from the run's saved weights (nothing is retrained)."
)
recent = ui.recent_runs_or_stop(500, "Train one from **Launch**; once it has finished, explain it here.")
choices = logic.explainable(store.home, recent)
if not choices:
    st.info("No finished run with saved weights yet: a run saves them when it ends. Train one from **Launch**.")
    st.stop()
ids = list(choices)


def _asked(param: str, default: str | None) -> str | None:
    """The run a link asks for (``?run=`` or ``?vs=``), if it is one that can be explained."""
    ref = st.query_params.get(param)
    if not ref:
        return default
    try:
        run_id = store.resolve(ref)
    except StoreError as exc:
        st.warning(f"{exc}; showing another run instead.")
        return default
    if run_id not in choices:
        st.warning(f"Run {run_id} has no saved weights to explain (it has not finished); showing another run.")
        return default
    return run_id


first = _asked("run", ids[0])
c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
run_id = c1.selectbox("Run", ids, index=ids.index(first), format_func=choices.get, key="explain:run")
pair = c2.toggle(
    "Compare two runs",
    value=bool(st.query_params.get("vs")),
    help="The same method on the same samples of a second run (say a Compare group's baseline and its remedy).",
)
runs = [run_id]
if pair:
    others = logic.partners(recent, run_id, ids)
    if not others:
        st.info("There is no second finished run to set beside this one.")
        st.stop()
    second = _asked("vs", others[0])
    second = second if second in others else others[0]
    runs.append(st.selectbox("Second run", others, index=others.index(second), format_func=choices.get))
ui.set_query({"run": runs[0], "vs": runs[1]} if pair else {"run": runs[0]})
rows = {r: store.get_run(r) for r in runs}
titles = logic.short_names(list(rows.values()))
refused = [f"{titles[r]}: {why}" for r in runs if (why := logic.refusal(rows[r]["recipe"]))]
if refused:
    st.error("\n\n".join(refused))
    st.stop()


@st.cache_data(show_spinner="Reading the data…", max_entries=16)
def _classes(recipe: dict[str, Any]) -> list[str]:
    return logic.class_names(recipe)


m1, m2, m3, m4 = st.columns([2, 1, 1, 1.4])
method = m1.selectbox(
    "Method",
    logic.METHODS,
    format_func=logic.METHOD_NAMES.get,
    help="\n\n".join(logic.METHOD_HELP.values()),
    key="explain:method",
)
samples = m2.number_input(
    "Samples", 1, explain_cli.MAX_SAMPLES, 16, help="The first validation samples", key="explain:samples"
)
steps = m3.number_input(
    "Steps",
    1,
    explain_cli.MAX_STEPS,
    50,
    disabled=method not in logic.STEP_METHODS,
    help="Integration steps (integrated gradients, layer conductance) or random baselines (GradientSHAP). "
    f"Samples × steps is at most {explain_cli.MAX_EVALS:,}.",
    key="explain:steps",
)
saved = [c for c in logic.WEIGHTS if all(c in logic.checkpoints(store.home, r) for r in runs)]
if not saved:
    st.error("These two runs have no checkpoint in common (one kept only its best weights): pick another pair.")
    st.stop()
checkpoint = m4.selectbox(
    "Weights", saved, format_func=lambda c: f"{c} ({logic.CHECKPOINT_NAMES[c]})", key="explain:checkpoint"
)
st.caption(logic.METHOD_HELP[method])
t1, t2 = st.columns(2)
classes = _classes(rows[runs[0]]["recipe"])
target = None
if classes:  # a classifier: each sample's own prediction, or one class for all (other models have one score)
    target = t1.selectbox(
        "Output to explain",
        [None, *range(len(classes))],
        format_func=lambda c: "each sample's predicted class" if c is None else f"class {classes[c]}",
        help="Which class's score is attributed: each sample's own prediction, or one class for every sample.",
        key="explain:target",
    )
layer = None
if method == "layer_conductance":
    acts = store.layers(runs[0])
    names = acts.loc[acts["kind"] == "activation", "name"].tolist()
    layer = t2.selectbox(
        "Units of layer",
        [None, *names],
        format_func=lambda n: "(per layer only)" if n is None else n,
        help="Also attribute the output to each unit of this activation layer.",
        key="explain:layer",
    )

requests = tuple(
    logic.request(r, method, int(samples), int(steps), target=target, checkpoint=checkpoint, layer=layer) for r in runs
)
bound = logic.bound_error(requests[0].samples, requests[0].steps)
results = [explain_job.load(store.home, q) for q in requests]
missing = [(titles[q.run] if pair else "", q) for q, got in zip(requests, results) if got is None]
running = st.session_state.get(JOB_KEY)
if st.button(
    "🔍 Explain",
    type="primary",
    disabled=bound is not None or running is not None or not missing,
    help="Runs in the background: a few seconds for the lessons' models, at most "
    f"{explain_job.DEFAULT_TIMEOUT_S:.0f} s. A result is kept beside its run."
    + ("" if missing else " (This one is shown below already.)"),
):
    st.session_state.pop(ERROR_KEY, None)
    jobs = [(name, explain_job.start(q, home=store.home)) for name, q in missing]
    st.session_state[JOB_KEY] = {"key": requests, "jobs": jobs}
    st.rerun()
if bound is not None:
    st.error(bound)


@st.fragment(run_every=POLL_S)
def _poll() -> None:
    """Redrawn every second while the jobs run; once they end, the whole page reruns with the results."""
    state = st.session_state.get(JOB_KEY)
    if state is None:
        return
    jobs = state["jobs"]
    if st.button("⏹️ Stop explaining", key="explain:cancel"):
        for _, job in jobs:
            job.cancel()
        st.session_state.pop(JOB_KEY, None)  # stopped on purpose: nothing to report
        st.rerun()
    if not all(job.done() for _, job in jobs):
        share = sum(job.progress for _, job in jobs) / len(jobs)
        since = min(job.started for _, job in jobs)
        stages = [(name, job.stage) for name, job in jobs]
        st.progress(share, text=logic.progress_text(stages, time.monotonic() - since))
        return
    messages = [m for name, job in jobs for m in [job.outcome()[1]] if m is not None]
    named = [f"{name}: {m}" if name else m for (name, _), m in zip(jobs, messages)]
    st.session_state.pop(JOB_KEY, None)
    if messages:
        st.session_state[ERROR_KEY] = {"key": state["key"], "message": "; ".join(named)}
    st.rerun()  # the page reads the saved results


if running is not None:
    _poll()
error = st.session_state.get(ERROR_KEY)
if error and error["key"] == requests:
    st.error(f"The explanation failed: {error['message']}")


def figure_rows(results: list[dict], names: list[str | None]) -> list[list]:
    """The charts, a row at a time: two kinds side by side for one run, one kind per row for two."""
    kind, two, both = results[0]["kind"], len(results) == 2, list(zip(results, names))
    if "layers" in results[0]:
        log_y, span = conductance.conductance_range(results)
        flows = [conductance.conductance_bars(r, log_y=log_y, y_range=span, name=n, presentation=P) for r, n in both]
        units = [conductance.unit_bars(r, name=n, presentation=P) for r, n in both if r.get("neurons")]
        if not two:
            return [flows + units]
        return [flows, units] if len(units) == 2 else [flows]
    zmax = charts.shared_zmax(results)
    if kind == "image":  # full width for one run; two runs get half each, so fewer samples a row
        cmax = charts.shared_zmax([{"m": [g["map"] for g in r["per_class"]]} for r in results], "m")
        grid = {"per_row": 3, "most": 8, "width": 480} if two else {}
        mean = {"per_row": 3, "width": 480} if two else {}
        return [
            [charts.image_grid(r, zmax=zmax, name=n, presentation=P, **grid) for r, n in both],
            [charts.class_grid(r, zmax=cmax, name=n, presentation=P, **mean) for r, n in both],
        ]
    if kind == "tabular":
        top = max(max(r["importance"]) for r in results)
        bars = [
            charts.feature_bars(r, colour=i, x_max=top, name=n, presentation=P)
            for i, (r, n) in enumerate(zip(results, names))
        ]
        heat = [charts.sample_heatmap(r, zmax=zmax, name=n, presentation=P) for r, n in zip(results, names)]
        return [bars, heat] if two else [bars + heat]
    marks = [logic.marker_steps(r) for r in results]
    lines = [charts.time_chart(r, name=n, marks=m, presentation=P) for (r, n), m in zip(both, marks)]
    heat = [charts.sample_heatmap(r, zmax=zmax, name=n, marks=m, presentation=P) for (r, n), m in zip(both, marks)]
    when = [charts.feature_time_heatmap(r, name=n, presentation=P) for r, n in both]
    several = len(results[0]["features"]) > 1  # which input channel, when: only where there are several
    if two:
        return [lines, heat] + ([when] if several else [])
    return [lines + (when if several else []), heat]  # a sample's row needs the width: one per time step


def show(results: list[dict]) -> None:
    """The verdicts, the colour key, IG's completeness check and the charts."""
    names = [titles[r["run"]] for r in results] if pair else [None]
    if len({r["kind"] for r in results}) > 1:
        kinds = " and ".join(r["kind"] for r in results)
        st.error(f"These two runs take different inputs ({kinds}): pick two runs of one kind of data to compare.")
        return
    for col, r, name in zip(ui.chart_columns(len(results)) if pair else [st.container()], results, names):
        with col:
            st.markdown((f"**{name}**: " if name else "") + logic.verdict(r))
            completeness = logic.delta_caption(r)
            if completeness:
                st.caption(completeness)
            if r.get("warning"):
                st.warning(f"{name + ': ' if name else ''}{r['warning']}")
    st.caption(logic.colour_caption(results[0], pair=pair))
    figs = ui.memo("explain:figures", (requests, P), lambda: figure_rows(results, names))
    for row in figs:
        for col, fig in zip(ui.chart_columns(len(row)) if len(row) > 1 else [st.container()], row):
            with col:
                ui.plot(fig)


if not missing:
    show([r for r in results if r is not None])
elif running is None:
    st.info("Not explained with these settings yet: press **🔍 Explain** (a few seconds for the lessons' models).")
