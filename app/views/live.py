"""Live run: status, curves, gradient flow, update ratios, activations and findings, refreshed each second.

Only new rows are read on each refresh (``app.logic.live.RunFeed``); the page body is
an ``st.fragment`` that re-runs itself while the run is queued or running.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from app import ui
from app.components import bars, boundary, curves, health, samples
from app.components.step_time import step_time_figure
from app.logic import axes, common, explain
from app.logic import compress as compress_logic
from app.logic import live as data
from app.widgets import curve_controls, lr_find
from engine.config.errors import RecipeError, StoreError
from engine.config.recipe import Recipe
from engine.control import lifecycle, trials, watched

store = ui.store()
P = ui.presentation()
st.title("Live run")
recent = ui.recent_runs_or_stop(200, "Start one from **Launch**: pick a lesson and press Launch.")

ids = recent["id"].tolist()
wanted = ids[0]
if st.query_params.get("run"):
    try:
        wanted = store.resolve(st.query_params["run"])
    except StoreError as exc:
        st.warning(f"{exc}; showing the newest run instead.")
if wanted not in ids:
    ids.insert(0, wanted)
labels = ui.run_labels(recent)
run_id = st.selectbox("Run", ids, index=ids.index(wanted), format_func=lambda i: labels.get(i, i))
if st.query_params.get("run") != run_id:
    st.query_params["run"] = run_id

feeds: dict = st.session_state.setdefault("feeds", {})
feed: data.RunFeed = feeds.setdefault(run_id, data.RunFeed(run_id))
try:
    feed.refresh(store)
except StoreError as exc:
    st.error(f"This run is gone: {exc}")
    st.stop()
live_at_start = common.is_live(feed.status)


def header() -> None:
    run = feed.run
    total = run.get("total_steps") or 0
    step = run.get("step") or 0
    speed = feed.latest("samples_per_s")
    acc, mse = feed.latest("val_accuracy"), feed.latest("val_mse")
    # Tiles as wide as their text, wrapping onto a second row on a narrow screen or a projector's
    # large type, so no label or value is ever cut short ("Val accur… 10…").
    with st.container(horizontal=True, gap="small", key="run_tiles"):
        st.metric("Status", common.badge(feed.status, feed.paused), width="content", border=True)
        st.metric(f"Step of {total:,}" if total else "Step", f"{step:,}", width="content", border=True)
        st.metric("Device", run.get("device") or "–", width="content", border=True)
        st.metric("Samples/s", f"{speed:,.0f}" if speed else "–", width="content", border=True)
        st.metric(
            "Val accuracy" if mse is None else "Val MSE",
            f"{acc:.1%}" if acc is not None else (f"{mse:.4g}" if mse is not None else "–"),
            width="content",
            border=True,
        )
    if total:
        st.progress(min(step / total, 1.0))
    if run.get("error"):
        st.error(f"**{feed.status}:** {run['error']}")
        if feed.status in ("failed", "crashed"):
            st.caption(f"Worker log: `{ui.worker_log(feed.run_id)}`")
    st.caption("⏱️ " + data.probe_meter(feed.schedule, feed.latest("probe_overhead")))
    if watched.is_watched(run):  # gradclinic.watch: the user's own loop, and what was inferred about it
        st.caption(watched.caption(run))
    shares = data.step_time(feed.wide)
    if shares:
        ui.plot(step_time_figure(shares, presentation=ui.presentation()), key=f"step_time:{run_id}")
        st.caption(data.step_time_caption(shares))
    how = data.precision_caption(feed.precision, feed.wide)
    if how:
        st.caption(how)


def controls() -> None:
    c = st.columns([1.25, 1.25, 1.25, 2.25])  # wide enough at 1024 px for "⚖️ Compare…" in any of the first three
    # A watched run is the user's own loop: only its script can train it again.
    live = common.is_live(feed.status)
    resumable = feed.status in ("stopped", "crashed") and not watched.is_watched(feed.run)
    if live:
        if c[0].button("⏹️ Stop", key=f"stop:{run_id}", type="primary"):
            lifecycle.stop(store, run_id)
            st.toast("Stop requested: the run saves a checkpoint and ends.")
        label, act = ("▶️ Continue", lifecycle.unpause) if feed.paused else ("⏸️ Pause", lifecycle.pause)
        if c[1].button(label, key=f"pause:{run_id}:{feed.paused}", help="Wait between two steps; nothing is lost"):
            try:
                act(store, run_id)
            except RecipeError as exc:  # it ended meanwhile
                st.toast(str(exc))
            st.rerun()

        def pace_changed() -> None:
            try:
                lifecycle.set_pace(store, run_id, st.session_state[f"pace:{run_id}"])
            except RecipeError as exc:
                if common.is_live(store.get_run(run_id)["status"]):  # a run that just ended needs no pace
                    st.toast(str(exc))

        c[3].select_slider(
            "🐢 Slow motion",
            lifecycle.PACE_CHOICES_MS,
            value=min(lifecycle.PACE_CHOICES_MS, key=lambda ms: abs(ms - feed.pace_ms)),
            format_func=lambda ms: f"{ms} ms a step" if ms else "off",
            key=f"pace:{run_id}",
            on_change=pace_changed,
            help="Wait this long after every step, so that a fast run can be watched. "
            "The numbers it trains stay the same, and the wait counts in no timing.",
        )
    elif resumable:
        if c[0].button("▶️ Resume", key=f"resume:{run_id}"):
            lifecycle.resume(store, run_id)
            st.rerun()
    if c[2 if live else 1 if resumable else 0].button("⚖️ Compare…", key=f"cmp:{run_id}"):
        ui.go(ui.COMPARE, runs=[run_id])
    if not live and explain.checkpoints(store.home, run_id):  # a finished run's saved weights: what it looks at
        c[2 if resumable else 1].page_link(
            ui.EXPLAIN, label="🔍 Explain this run", query_params=ui.with_presentation({"run": run_id})
        )
    # A run trained to its end has a model worth making smaller (a stopped one's weights are not the result).
    if feed.status in compress_logic.STATUSES and compress_logic.has_weights(store.home, run_id):
        c[2].page_link(ui.COMPRESS, label="🗜️ Compress this run", query_params=ui.with_presentation({"run": run_id}))


def small_charts(settings: axes.CurveSettings) -> list:
    """Decision boundary (or fitted curve), loss, metric, extra scalars (e.g. GAN losses), generator samples, lr,
    activation health."""
    figs = curves.training_curves(
        axes.on_axis(feed.wide, feed.clock, settings.x),
        presentation=P,
        smoothing=settings.smoothing,
        log_y=settings.log_y,
        x_label=settings.x.title,
    )
    extra = [figs.get("other")]
    # What the model has learned comes first: it is what a classroom watches.
    picture = (
        boundary.boundary_figure(feed.boundary["payload"], step=feed.boundary.get("step"), presentation=P)
        if feed.boundary
        else None
    )
    if feed.samples:
        p = feed.samples["payload"]
        extra.append(
            samples.samples_scatter(
                np.asarray(p.get("real", [])),
                np.asarray(p.get("fake", [])),
                step=feed.samples.get("step"),
                presentation=P,
            )
        )
    return [
        f
        for f in (picture, figs.get("loss"), figs.get("metric"), *extra, figs.get("lr"), activations_figure())
        if f is not None
    ]


def charts() -> None:
    # Figures are rebuilt only when new rows arrived (feed.version), not on every rerun.
    version = (feed.version, P)
    settings = curve_controls.curve_controls("live:curves", {"this run": feed.clock})
    shown = ui.memo(f"live:{run_id}:small", (version, settings), lambda: small_charts(settings))
    if not shown:
        st.info("Waiting for the first steps…")
    # Two charts a row on a screen; one in presentation mode, whose larger fonts need the width.
    for i in range(0, len(shown), 2):
        for col, fig in zip(ui.chart_columns(2), shown[i : i + 2]):
            with col:
                ui.plot(fig)

    grads = feed.matrices["grad_norm"]
    if grads.empty:
        return
    # Every layer chart of the run shows the same steps, so side by side they line up.
    span = data.step_span(feed.matrices)
    layer_health(version, span)
    left, right = ui.chart_columns(2)
    with left:
        follow = st.toggle("Follow the latest step", value=True, key=f"follow:{run_id}")
        if follow:
            idx = len(grads.steps) - 1
            st.session_state[f"frozen:{run_id}"] = (int(grads.steps[0]), int(grads.steps[-1]))
        else:
            lo, hi = st.session_state.get(f"frozen:{run_id}", (int(grads.steps[0]), int(grads.steps[-1])))
            pick = st.slider("Step", lo, max(hi, lo + 1), hi, key=f"step:{run_id}")
            idx = int(np.clip(np.searchsorted(grads.steps, pick, side="right") - 1, 0, len(grads.steps) - 1))
        ui.plot(
            bars.layer_bar(
                grads.names,
                grads.values[idx],
                step=int(grads.steps[idx]),
                title="Gradient norm per layer",
                y_label="‖grad‖ (log scale)",
                presentation=P,
            )
        )
    with right:
        histograms_panel(version, span)


def layer_health(version, span) -> None:
    """The layer health strip: one heatmap of layers x steps, for the quantity picked above it."""
    options = data.health_options(feed.matrices, health.QUANTITIES)
    pick = st.segmented_control(
        "Layer health",
        options,
        default=options[0],
        format_func=lambda s: health.QUANTITIES[s].label,
        key=f"health:{run_id}",
    )
    stat = pick if pick in options else options[0]  # clicking the chosen one again clears it
    m = feed.matrices[stat]
    ui.plot(
        ui.memo(
            f"live:{run_id}:health:{stat}",
            (version, span),
            lambda: health.health_heatmap(stat, m.steps, m.names, m.values, x_range=span, presentation=P),
        )
    )


def histograms_panel(version, span) -> None:
    """One layer's weight or gradient histogram over time, in fixed log10 bins (bins x steps)."""
    held = [s for s in data.HIST_STATS if not feed.matrices[s].empty]
    if not held:
        return
    c1, c2 = st.columns(2)
    with c1:
        pick = st.segmented_control(
            "Histogram of", held, default=held[0], format_func=data.HIST_STATS.get, key=f"hist:{run_id}"
        )
    stat = pick if pick in held else held[0]
    m = feed.matrices[stat]
    layers = data.histogram_layers(m)
    if not layers:
        return
    with c2:
        i = st.selectbox("Layer", range(len(layers)), format_func=lambda k: layers[k], key=f"hist_layer:{run_id}")
    i = min(int(i or 0), len(layers) - 1)
    steps, shares = data.layer_histogram(m, i)
    ui.plot(
        ui.memo(
            f"live:{run_id}:hist:{stat}:{i}",
            (version, span),
            lambda: health.histogram_heatmap(steps, shares, layer=layers[i], stat=stat, x_range=span, presentation=P),
        )
    )


def activations_figure():
    """Dead and saturated share per activation layer at the latest recorded step, or None."""
    dead, sat = feed.matrices["dead_fraction"], feed.matrices["saturated_fraction"]
    if dead.empty and sat.empty:
        return None
    names = dead.names if not dead.empty else sat.names
    d = dead.values[-1] if not dead.empty else np.full(len(names), np.nan)
    s = sat.values[-1] if not sat.empty else np.full(len(names), np.nan)
    return bars.activation_fractions(names, d, s, step=int((dead if not dead.empty else sat).steps[-1]), presentation=P)


def findings_panel() -> None:
    st.subheader("Diagnosis")
    if not feed.findings:
        st.success("No problems found so far." if feed.wide.shape[0] else "Diagnosis starts with the first evaluation.")
        return
    own_loop = watched.is_watched(feed.run)  # its remedies are code changes: nothing to launch or try
    trial = trials.settle(store, run_id) if not common.is_live(feed.status) and not own_loop else None
    if trial is not None:
        st.caption(
            f"🧪 Remedies tried on this run ({trial['steps']} steps each): "
            + "; ".join(trials.describe(trial, trial["steps"]))
        )
    elif not own_loop and not common.is_live(feed.status) and any(f.get("remedies") for f in feed.findings):
        if st.button(
            "🧪 Try the top 3",
            help=f"Train the top three remedies for the first {trials.TRIAL_STEPS} steps of this run, at its seed, "
            "and rank them by the findings they remove (the runs open in Compare).",
        ):
            plan = trials.launch(store, run_id)
            ui.go(ui.COMPARE, group=plan["group"])
    for i, f in enumerate(feed.findings):
        box = ui.SEVERITY_BOX.get(f["severity"], st.info)
        box(f"**{f['code'].replace('_', ' ')}** (from step {f['first_step']}): {f['message']}")
        ev = ui.evidence_text(f.get("evidence") or {})
        if ev:
            st.caption(f"Evidence — {ev}")
        if not f.get("remedies") and f["severity"] != "info":
            st.caption("No remedy has been measured to remove this finding on a run like this one yet.")
        if not own_loop:
            lr_find.finding_pointer(f, feed.run.get("recipe_name") or "RECIPE")
        for j, remedy in enumerate(f.get("remedies") or []):
            if own_loop:
                code_change(remedy)
                continue
            c1, c2 = st.columns([4, 1])
            proof = f" ✅ *{remedy['evidence']}*" if remedy.get("evidence") else ""
            c1.markdown(f"💊 **{ui.remedy_label(remedy)}** — {remedy.get('why', '')}{proof}")
            if c2.button(
                "Apply", key=f"apply:{run_id}:{i}:{j}", help="Launch this remedy and compare it with this run"
            ):
                apply(remedy)


def code_change(remedy: dict) -> None:
    """A watched run's remedy: the change to make in the loop's own code, and the snippet that makes it."""
    proof = f" ✅ *{remedy['evidence']}*" if remedy.get("evidence") else ""
    st.markdown(f"💊 **{remedy.get('change') or remedy.get('name')}** — {remedy.get('why', '')}{proof}")
    if remedy.get("code"):
        st.code(remedy["code"], language="python")


def apply(remedy: dict) -> None:
    """Launch the run's recipe with the remedy's overrides, and open both runs in Compare."""
    base_name = feed.run.get("name") or feed.run.get("recipe_name") or run_id
    try:
        recipe = Recipe.from_dict(feed.run["recipe"]).with_overrides(remedy.get("set", {}))
        # launch refuses too: a remedy that makes the model too big for memory, say
        new_id = lifecycle.launch(store, recipe, name=f"{base_name} + {remedy.get('name', 'remedy')}"[:80])
    except RecipeError as exc:
        st.error(f"This remedy cannot be applied: {exc}")
        return
    ui.go(ui.COMPARE, runs=[run_id, new_id])


@st.fragment(run_every=ui.REFRESH_S if live_at_start else None)
def body() -> None:
    try:
        if live_at_start and feed.wide.shape[0] == 0:
            data.wait_for_first_step(store, run_id)  # drawn the moment it is stored, not at the next tick
        feed.refresh(store)
    except StoreError as exc:
        st.error(f"This run is gone: {exc}")
        return
    header()
    controls()
    charts()
    findings_panel()
    if live_at_start and not common.is_live(feed.status):
        st.rerun()  # the run ended: redraw once without the timer


body()
