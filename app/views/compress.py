"""Compress: smaller, faster copies of a trained run (pruning, int8, distillation), measured side by side.

The work needs torch, so ``gradclinic compress`` runs in a child process
(:mod:`engine.control.compress_job`) and a fragment polls it once a second, as the Explain page
does. Every variant is stored as a run of a ``compress-<hex>`` group, so what is drawn below is
read back from the store: each earlier compress of the chosen run, newest first.
"""

from __future__ import annotations

import time

import streamlit as st

from app import ui
from app.components import compress_charts as charts
from app.logic import compress as logic
from engine.config.errors import StoreError
from engine.control import compress, compress_job

JOB_KEY = "compress_job"  # session state: {"run": run id, "job": Job}
ERROR_KEY = "compress_error"  # session state: {"run": run id, "message": str}
SKIPPED_KEY = "compress_skipped"  # session state: {group: [line]}, variants tried and not made (no row)
POLL_S = 1.0

store = ui.store()
P = ui.presentation()
st.title("Compress a run")
st.caption(
    "Smaller, faster copies of a trained network: pruning sets its smallest weights to zero, int8 stores "
    "each weight in one byte instead of four, and distillation trains a small student on its outputs. "
    "Each copy is measured on the validation rows, on disk and on this machine's CPU, and kept as a run."
)
recent = ui.recent_runs_or_stop(500, "Train one from **Launch**; once it has finished, compress it here.")
choices = logic.compressible(store.home, recent)


def _asked(default: str | None) -> str | None:
    """The run a link asks for (``?run=``), if it has final weights to start from."""
    ref = st.query_params.get("run")
    if not ref:
        return default
    try:
        run_id = store.resolve(ref)
    except StoreError as exc:
        st.warning(f"{exc}; showing another run instead.")
        return default
    if run_id not in choices and logic.has_weights(store.home, run_id):  # older, or a variant: the command takes it
        choices[run_id] = logic.run_label(store.get_run(run_id))
    if run_id not in choices:
        st.warning(f"Run {run_id} has no final weights to compress (it has not finished); showing another run.")
        return default
    return run_id


first = _asked(next(iter(choices), None))
if first is None:
    st.info("No finished run with saved weights yet: a run saves them when it ends. Train one from **Launch**.")
    st.stop()
ids = list(choices)
run_id = st.selectbox("Run", ids, index=ids.index(first), format_func=choices.get, key="compress:run")
ui.set_query({"run": run_id})

c1, c2, c3 = st.columns([2.2, 1, 1], vertical_alignment="bottom")
levels = c1.multiselect(
    "Prune",
    logic.LEVELS,
    default=[0.8, 0.9],
    format_func=lambda x: f"{x:.0%} of the weights",
    help="Each level zeroes that share of the weights with the smallest |w| (over the whole network), "
    "one copy per level.",
    key="compress:levels",
)
finetune = c2.number_input(
    "Fine-tune steps",
    0,
    compress.MAX_FINETUNE,
    0,
    step=100,
    help="Train each pruned copy this many more steps with its zeros held at zero (0: none). "
    "It is a recorded run of its own, so it takes as long as that many training steps.",
    key="compress:finetune",
)
structured = c3.checkbox(
    "Whole units",
    help="Remove whole hidden units (MLP) or channels (CNN), the same share in each layer, instead of single weights.",
    key="compress:structured",
)
d1, d2 = st.columns([1, 3.2], vertical_alignment="bottom")
int8 = d1.checkbox(
    "int8",
    value=True,
    help="Post-training int8: dynamic for every model, and static too for a CNN.",
    key="compress:int8",
)
student = d2.text_input(
    "Distill a student (its recipe changes; empty: none)",
    placeholder="model.width=32,model.depth=1",
    help="A student is this run's recipe with these KEY=VALUE changes, trained on this run's softened outputs "
    "and the labels; the same student is also trained on the labels alone, for comparison.",
    key="compress:student",
)
running = st.session_state.get(JOB_KEY)
if st.button(
    "🗜️ Compress",
    type="primary",
    disabled=running is not None,
    help="Runs in the background: seconds without fine-tuning or students, minutes with them "
    f"(at most {compress.MAX_FINETUNE:,} fine-tune steps; stopped after {compress_job.DEFAULT_TIMEOUT_S:.0f} s).",
):
    req = logic.request(run_id, levels, structured=structured, finetune=int(finetune), int8=int8, student=student)
    message = logic.check(store, req)
    st.session_state.pop(ERROR_KEY, None)
    if message is not None:  # refused here, as the command would: nothing starts, nothing is stored
        st.session_state[ERROR_KEY] = {"run": run_id, "message": message}
    else:
        st.session_state[JOB_KEY] = {"run": run_id, "job": compress_job.start(req, home=store.home)}
    st.rerun()


@st.fragment(run_every=POLL_S)
def _poll() -> None:
    """Redrawn every second while the job runs; once it ends, the whole page reruns with the results."""
    state = st.session_state.get(JOB_KEY)
    if state is None:
        return
    job = state["job"]
    if st.button("⏹️ Stop compressing", key="compress:cancel"):
        job.cancel()  # the variants made so far stay; the one being made is marked crashed
        st.session_state.pop(JOB_KEY, None)
        st.rerun()
    if not job.done():
        where = "" if state["run"] == run_id else f"run {state['run']}: "
        st.progress(job.progress, text=where + logic.progress_text(job.stage, time.monotonic() - job.started))
        return
    result, message = job.outcome()
    st.session_state.pop(JOB_KEY, None)
    if message is not None:
        # The child's refusal reads as the page's own would (the command prefixes it for a terminal).
        st.session_state[ERROR_KEY] = {"run": state["run"], "message": message.removeprefix("invalid input: ")}
    elif result is not None:
        skipped = st.session_state.setdefault(SKIPPED_KEY, {})
        skipped[result["group"]] = logic.not_applied(result["variants"])
    st.rerun()  # the page reads the stored variants


if running is not None:
    _poll()
error = st.session_state.get(ERROR_KEY)
if error and error["run"] == run_id:
    st.error(f"Not compressed: {error['message']}")


def show(group: logic.Group) -> None:
    """One compress: the verdict, the two trade-off charts, the pruned layers and the table."""
    dense = group.dense or {}
    made = logic.measured(group.variants)
    st.caption(
        f"Group `{group.group}` · {len(made)} variants · latency: median of {dense.get('latency_repeats', '?')} "
        f"passes of {dense.get('latency_rows', '?')} validation rows on {dense.get('threads', '?')} CPU thread(s), "
        "all measured in one process, one after the other."
    )
    st.markdown("\n".join(f"- {line}" for line in logic.verdict_lines(group)))
    for line in st.session_state.get(SKIPPED_KEY, {}).get(group.group, []):
        st.info(f"Not made: {line}")
    if group.unfinished:
        states = ", ".join(sorted(set(group.unfinished)))
        st.warning(f"{len(group.unfinished)} variant(s) ended before they were measured ({states}).")
    figs = ui.memo(
        f"compress:figures:{group.group}",
        (len(group.variants), P),
        lambda: [
            charts.size_figure(group, presentation=P),
            charts.latency_figure(group, presentation=P),
            charts.sparsity_figure(group, presentation=P) if not logic.sparsity(group).empty else None,
        ],
    )
    for col, fig, name in zip(ui.chart_columns(2), figs[:2], ("size", "latency")):
        with col:
            ui.plot(fig, key=f"compress:{name}:{group.group}")
    st.caption(
        "Dotted line: the dense model's score. Hollow markers: a pruned copy's weights stored sparse (the "
        "nonzero values and their positions); the file it is saved as keeps its zeros, 4 bytes each."
    )
    if figs[2] is not None:
        ui.plot(figs[2], key=f"compress:sparsity:{group.group}")
    ui.table(logic.frame(group), key=f"compress:table:{group.group}")


groups = logic.groups_of(store, run_id)
if not groups and running is None:
    st.info("Not compressed yet: choose what to try above and press **🗜️ Compress**.")
for i, group in enumerate(groups):
    when = time.strftime("%d %b %Y, %H:%M", time.localtime(group.created))
    if i == 0:
        st.subheader(f"Compressed {when}")
        show(group)
    else:
        with st.expander(f"Compressed {when} · {len(logic.measured(group.variants))} variants"):
            show(group)
