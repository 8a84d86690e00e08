"""A curve's x-axis: steps to epochs, samples and training time, from what a run recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.logic import axes

RECIPE = {"train": {"batch_size": 32}}
DATA = [(0, {"n_train": 1000, "task": "classification"})]


def recorded(steps=(10, 20, 40), seconds=(1.0, 2.0, 4.5), batch: int = 32) -> pd.DataFrame:
    """A run's scalars as the recorder writes them: samples_per_s is the average since the start."""
    idx = np.arange(1, max(steps) + 1)
    wide = pd.DataFrame({"train_loss": 1.0 / idx}, index=idx)
    wide["samples_per_s"] = np.nan
    for s, t in zip(steps, seconds):
        wide.loc[s, "samples_per_s"] = s * batch / t
    return wide


def test_epochs_count_whole_batches_as_the_trainer_does():
    clock = axes.run_clock(RECIPE, recorded(), DATA)
    # 1000 rows in batches of 32: 31 full batches an epoch (the ragged 8 rows are dropped).
    assert clock.steps_per_epoch == 31
    assert clock.convert([0, 31, 62], "epoch").tolist() == [0.0, 1.0, 2.0]
    assert clock.convert([10], "samples").tolist() == [320.0]


def test_training_time_is_exact_at_each_flush_and_interpolated_between():
    clock = axes.run_clock(RECIPE, recorded(), DATA)
    assert clock.convert([10, 20, 40], "time") == pytest.approx([1.0, 2.0, 4.5])
    assert clock.convert([30], "time") == pytest.approx([3.25])  # halfway between the flushes at 20 and 40
    assert clock.convert([0], "time") == pytest.approx([0.0])


def test_steps_past_the_last_flush_go_on_at_the_runs_average_speed():
    clock = axes.run_clock(RECIPE, recorded(), DATA)
    assert clock.convert([50], "time")[0] == pytest.approx(4.5 + 10 * 4.5 / 40)


def test_a_per_window_speed_from_an_older_recording_gives_no_time_axis():
    wide = recorded()
    wide.loc[40, "samples_per_s"] = 1e6  # a fast last window: read as an average, time would go backwards
    clock = axes.run_clock(RECIPE, wide, DATA)
    assert "time" not in clock.axes() and "running average" in clock.no_time
    with pytest.raises(ValueError, match="running average"):
        clock.convert([10], "time")


def test_a_resumed_run_gets_no_time_axis_but_keeps_epochs():
    clock = axes.run_clock(RECIPE, recorded(), DATA + [(20, {"n_train": 1000})])
    assert clock.axes() == ["step", "epoch", "samples"]
    assert "resumed" in clock.why_not("time")


def test_a_run_without_its_data_event_has_no_epochs():
    clock = axes.run_clock(RECIPE, recorded(), [])
    assert clock.axes() == ["step", "samples", "time"]
    assert clock.why_not("epoch") == "it has not recorded its training-set size"


def test_a_batch_larger_than_the_data_is_one_step_an_epoch():
    clock = axes.run_clock({"train": {"batch_size": 4096}}, recorded(batch=4096), DATA)
    assert clock.steps_per_epoch == 1 and clock.rows_per_step == 1000


def test_compare_offers_only_the_axes_every_run_has_and_says_why():
    clocks = {
        "baseline": axes.run_clock(RECIPE, recorded(), DATA),
        "lr 0.1": axes.run_clock(RECIPE, pd.DataFrame({"train_loss": [1.0]}, index=[1]), DATA),
    }
    assert axes.shared_axes(clocks.values()) == ["step", "epoch", "samples"]
    assert axes.missing_axes(clocks) == {"time": "lr 0.1: it has not recorded its speed yet"}


def test_time_is_counted_in_the_unit_the_longest_run_needs():
    def clock(seconds: float) -> axes.RunClock:
        return axes.run_clock(RECIPE, recorded(steps=(10,), seconds=(seconds,)), DATA)

    assert axes.x_axis("time", [clock(30.0)]).title == "training time (s)"
    assert axes.x_axis("time", [clock(30.0), clock(600.0)]) == axes.XAxis("time", "training time (min)", 60.0)
    assert axes.x_axis("time", [clock(3 * 3600.0)]).unit_s == 3600.0


def test_a_table_moves_to_the_new_axis_in_step_order():
    wide = recorded()
    clock = axes.run_clock(RECIPE, wide, DATA)
    moved = axes.on_axis(wide.iloc[::-1], clock, axes.x_axis("epoch"))
    assert moved.index[0] == pytest.approx(1 / 31) and moved.index.is_monotonic_increasing
    assert moved["train_loss"].iloc[0] == 1.0
    assert axes.on_axis(wide, clock, axes.XAxis()) is wide  # steps: the table as it is


def test_settings_name_the_loss_axis_and_key_a_cache():
    assert axes.CurveSettings(loss_axis="auto").log_y is None
    assert axes.CurveSettings(loss_axis="log").log_y is True
    assert len({axes.CurveSettings(), axes.CurveSettings(), axes.CurveSettings(smoothing=0.5)}) == 2
