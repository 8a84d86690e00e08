"""The weight and gradient histogram probes: fixed log10 bins, exact on small layers, sampled on large ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.config import histograms
from engine.config.recipe import ModelSpec
from engine.models import build_model
from engine.store import Store
from engine.training.probing import histogram
from engine.training.probing.manager import ProbeManager, load_probes
from tests.engine.test_probes import one_step, tiny_data

HIST = ["weight_hist", "grad_hist"]


def reference_shares(t: torch.Tensor, stride: int = 1) -> np.ndarray:
    """The bins by definition, in numpy: |x| read to the probe's mantissa bits, then 0, (0, 10^LOW],
    half decades, and above (with inf and NaN)."""
    a = np.abs(t.detach().reshape(-1).numpy()[::stride].astype(np.float32))
    drop = np.uint32((1 << (23 - histogram.MANTISSA_BITS)) - 1)
    a = (a.view(np.uint32) & ~drop).view(np.float32).astype(np.float64)
    a = np.where(np.isnan(a), np.inf, a)
    edges = np.concatenate([[0.0], 10.0 ** histograms.log10_edges()])
    counts = np.bincount(np.searchsorted(edges, a, side="left"), minlength=histograms.N_BINS)
    return counts / a.size


def test_reading_the_top_mantissa_bits_moves_no_bin_edge_by_more_than_3_percent():
    edges = 10.0 ** histograms.log10_edges()
    table = histogram.bin_table()
    for k, edge in enumerate(edges, start=1):  # bin k + 1 starts just above edge k
        cells = np.nonzero(table >= k + 1)[0]
        first = (np.uint32(cells[0]) << np.uint32(23 - histogram.MANTISSA_BITS)).view(np.float32)
        assert edge <= first <= edge * (1 + 2.0**-histogram.MANTISSA_BITS), f"edge {k}"


def test_the_bins_are_half_decades_with_zero_below_and_above_bins_around_them():
    edges = histograms.log10_edges()
    assert edges[0] == histograms.LOG10_LOW and edges[-1] == histograms.LOG10_HIGH
    assert np.allclose(np.diff(edges), 1 / histograms.PER_DECADE)
    assert histograms.N_BINS == len(edges) - 1 + 3  # the ranged bins, then zero, below, above
    stored = np.arange(2 * 3 * histograms.N_BINS, dtype=float).reshape(2, -1)
    assert histograms.split(stored).shape == (2, 3, histograms.N_BINS)
    padded = np.hstack([stored, np.full((2, 5), np.nan)])  # the store pads a short row to the widest
    assert np.array_equal(histograms.split(padded), histograms.split(stored))


def test_special_values_land_in_their_bins():
    t = torch.tensor([0.0, -0.0, 1e-30, 3e-4, -3e-4, 0.5, 1e3, float("inf"), float("nan"), -float("inf")])
    counts = histogram.LogHistogram([t]).counts([t]).numpy()
    assert counts[0] == 2, "exact zeros, either sign"
    assert counts[1] == 1, "1e-30 is below the range"
    assert counts[-1] == 4, "1e3, inf, NaN and -inf are above it"
    k = 2 + int(np.ceil((np.log10(3e-4) - histograms.LOG10_LOW) * histograms.PER_DECADE)) - 1
    assert counts[k] == 2, "|x| = 3e-4 for both signs: (10^-3.5, 10^-3]"
    assert counts.sum() == t.numel()


def test_histogram_probes_match_the_bins_by_definition_on_a_small_model():
    torch.manual_seed(0)
    model = build_model(ModelSpec(depth=3, width=16, activation="relu", init="he_normal"), tiny_data())
    first = model.param_layers()[0][1]
    with torch.no_grad():
        first[:3] = 0.0  # three dead rows of weights: their share of the zero bin is exact
    manager = ProbeManager(model, fixed={n: 1 for n in HIST}, probes=load_probes(HIST))
    data = tiny_data()
    ref = one_step(model, manager, torch.tensor(data.x_train), torch.tensor(data.y_train), lr=0.0)
    got = manager.drain()
    layers = [p for _, p in model.param_layers()]
    for stat, tensors in (("weight_hist", layers), ("grad_hist", [p.grad for p in layers])):
        steps, values = got[stat]
        assert steps.tolist() == [1]
        shares = histograms.split(values)[0]
        assert shares.shape == (len(layers), histograms.N_BINS), "one row of bins per layer"
        np.testing.assert_allclose(shares.sum(axis=1), 1.0)
        for i, t in enumerate(tensors):
            np.testing.assert_allclose(shares[i], reference_shares(t), err_msg=f"{stat} layer {i}")
    assert histograms.split(got["weight_hist"][1])[0, 0, 0] == pytest.approx(3 * first.shape[1] / first.numel())
    assert len(ref["grad_norm"]) == len(layers)


def test_a_large_layer_is_sampled_along_a_stride_that_visits_every_column():
    t = torch.randn(512, 256) * torch.logspace(-6, 0, 256)  # each column has its own scale
    s = histogram.stride(tuple(t.shape))
    assert s > 1 and np.gcd(s, 256) == 1
    h = histogram.LogHistogram([t])
    assert h.sizes[0] <= histogram.MAX_SAMPLES + 1
    columns = np.arange(0, t.numel(), s) % 256
    assert len(np.unique(columns)) == 256, "not one column over and over"
    sampled = h.shares(h.counts([t]).numpy()[None].astype(float))[0]
    np.testing.assert_allclose(sampled, reference_shares(t, s))
    assert np.abs(sampled - reference_shares(t)).max() < 0.03, "the sample tells the whole layer's story"


def test_histograms_are_one_planned_group_and_round_trip_through_the_store(tmp_path):
    torch.manual_seed(0)
    model = build_model(ModelSpec(depth=2, width=8, activation="relu", init="he_normal"), tiny_data())
    manager = ProbeManager(model, budget=0.05)
    plan = manager.schedule()
    assert plan["groups"]["histograms"]["probes"] == sorted(HIST)
    assert manager.scopes()["weight_hist"] == manager.scopes()["grad_hist"] == "param"
    data = tiny_data()
    one_step(model, manager, torch.tensor(data.x_train), torch.tensor(data.y_train))
    drained = manager.drain()
    names = [n for n, _ in model.param_layers()]
    with Store(tmp_path / "home") as store:
        run_id = store.create_run({"seed": 0}, total_steps=10)
        store.set_layers(run_id, names)
        store.declare_stats(manager.scopes())
        store.flush(run_id, layer_stats={k: drained[k] for k in HIST})
        steps, _, values = store.layer_matrix(run_id, "grad_hist")
    shares = histograms.split(values)
    assert steps.tolist() == [1] and shares.shape == (1, len(names), histograms.N_BINS)
    np.testing.assert_allclose(shares.sum(axis=2), 1.0)
