"""The Live page's time bar: where a run's training time goes, from the recorder's shares."""

from __future__ import annotations

import pandas as pd
import pytest

from app.components.step_time import step_time_figure
from app.logic import live


def wide(**columns) -> pd.DataFrame:
    n = max(len(v) for v in columns.values())
    return pd.DataFrame({k: v + [None] * (n - len(v)) for k, v in columns.items()}, index=range(1, n + 1))


def test_a_cpu_run_splits_into_waiting_the_work_probes_and_the_rest():
    shares = live.step_time(
        wide(
            data_wait=[0.9, 0.6, 0.6],
            time_compute=[0.05, 0.2, 0.2],
            time_optimizer=[0.01, 0.1, 0.1],
            probe_overhead=[0.04],
        )
    )
    assert shares is not None and sum(shares.values()) == pytest.approx(1.0)
    assert list(shares) == ["waiting for data", "forward + backward", "optimizer", "probes", "other"]
    assert shares["waiting for data"] == pytest.approx(0.7)  # the mean of the last windows
    assert "waits for its next batch **70%**" in live.step_time_caption(shares)


def test_a_gpu_run_without_host_timings_shows_the_work_as_one_part():
    shares = live.step_time(wide(data_wait=[0.1, 0.1], probe_overhead=[0.02, 0.02]))
    assert shares is not None and list(shares) == ["waiting for data", "probes", "forward, backward, optimizer"]
    assert shares["forward, backward, optimizer"] == pytest.approx(0.88)
    assert live.step_time_caption(shares).startswith("Waiting for data: 10%")


def test_nothing_is_shown_before_a_window_was_timed():
    assert live.step_time(wide(train_loss=[1.0, 0.9])) is None


def test_the_bar_stacks_one_trace_per_part_with_its_share_in_the_legend():
    fig = step_time_figure({"waiting for data": 0.7, "forward + backward": 0.25, "other": 0.05})
    assert fig.layout.barmode == "stack" and fig.layout.title.text == "Where the training time goes"
    assert [t.name for t in fig.data] == ["waiting for data 70%", "forward + backward 25%", "other 5%"]
    assert [t.text[0] for t in fig.data] == ["70%", "25%", ""]  # a sliver is named by the legend only
    assert fig.data[0].marker.color == "#d62728"


# --- how the run computes: one line under the bar --------------------------------------------


def test_a_plain_fp32_run_says_nothing_about_precision():
    assert live.precision_caption(None, wide(train_loss=[1.0])) is None


def test_a_bf16_compiled_run_says_so_and_whether_the_hardware_has_it():
    how = {"amp": "bf16", "native": False, "loss_scaling": False, "compile": True, "channels_last": False}
    line = live.precision_caption(how, wide(train_loss=[1.0]))
    assert line is not None
    assert "Mixed precision **bf16** (emulated" in line and "**compiled**" in line
    assert "skipped" not in line  # bf16 has no loss scaler


def test_an_fp16_run_counts_the_updates_its_scaler_skipped_as_normal():
    how = {"amp": "fp16", "native": True, "loss_scaling": True, "compile": False, "channels_last": True}
    line = live.precision_caption(how, wide(amp_skipped=[2.0, 3.0], loss_scale=[65536.0, 16384.0]))
    assert line is not None and "emulated" not in line and "images **channels-last**" in line
    assert "skipped **3** updates" in line and "scale now 16,384" in line and "normal" in line
