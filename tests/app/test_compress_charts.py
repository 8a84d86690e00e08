"""The Compress page's charts, on a group shaped as ``engine/training/compress/run.py`` stores it.

The group is built here (no torch, no training) with the numbers of a 512-wide digits MLP
(recipes/compress-digits.yaml at 300 steps) pruned 80% and 90%, each also fine-tuned 200 steps,
and dynamic int8: four variants near the dense accuracy, two far below it.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.components import compress_charts as charts
from app.components.theme import font_size
from app.logic.compress import Group

PARAMS, LAYERS = 301_064, ("layers.0", "layers.1", "head")
DENSE_BYTES, DENSE_MS = 1_207_200, 2.367


def variant(name: str, kind: str, acc: float, nonzero: int, size: int, ms: float, **extra: Any) -> dict[str, Any]:
    """One variant's ``summary["compress"]`` (plus its run id and name), its ratios against the dense row."""
    return {
        "run_id": name.encode().hex()[:8],
        "name": name,
        "source": "1fd0f392",
        "kind": kind,
        "what": name,
        "val_accuracy": acc,
        "val_loss": 0.1,
        "params": PARAMS,
        "nonzero_params": nonzero,
        "size_bytes": size,
        "latency_ms": ms,
        "latency_repeats": 30,
        "latency_rows": 256,
        "threads": 1,
        "vs_dense": {"metric_change": acc - 0.9778, "size_ratio": DENSE_BYTES / size, "latency_ratio": DENSE_MS / ms},
        **extra,
    }


def pruned(amount: float, zeros: tuple[float, ...], csr: int) -> dict[str, Any]:
    """A pruned variant's extra fields: its CSR size and per-layer zeros."""
    layers = dict(zip(LAYERS, zeros))
    return {
        "size_csr_bytes": csr,
        "pruning": {"amount": amount, "structured": False, "sparsity": amount, "layers": layers},
    }


def digits_group() -> Group:
    """The group, as :func:`app.logic.compress.groups_of` reads it from the store."""
    p80, p90 = pruned(0.8, (0.40, 0.85, 0.83), 492_400), pruned(0.9, (0.51, 0.95, 0.93), 252_400)
    variants = [
        variant("dense (as trained)", "dense", 0.9778, PARAMS, DENSE_BYTES, DENSE_MS),
        variant("prune 80%", "prune", 0.8639, 61_038, 1_207_300, 2.321, **p80),
        variant("prune 80% + finetune 200", "prune+finetune", 0.9750, 61_039, 1_207_300, 3.589, **p80),
        variant("prune 90%", "prune", 0.6306, 31_035, 1_207_300, 2.943, **p90),
        variant("prune 90% + finetune 200", "prune+finetune", 0.9722, 31_035, 1_207_300, 2.55, **p90),
        variant("int8 dynamic", "quantize", 0.9778, PARAMS, 309_200, 1.573, quantization={"method": "dynamic"}),
    ]
    return Group("compress-a6464041", "1fd0f392", 1.7e9, tuple(variants))


def scatter(fig) -> dict[str, Any]:
    """{trace name: trace} of a figure's variant traces."""
    return {t.name: t for t in fig.data}


def test_size_chart_is_log_in_kb_and_mb_with_a_marker_per_variant_and_sparse_twins():
    fig = charts.size_figure(digits_group())
    assert fig.layout.title.text == "Accuracy vs size on disk"
    assert fig.layout.xaxis.type == "log" and "size on disk" in fig.layout.xaxis.title.text
    assert list(fig.layout.xaxis.ticktext) == ["300 kB", "500 kB", "700 kB", "1 MB"]
    assert fig.layout.yaxis.title.text == "validation accuracy (%)"
    traces = scatter(fig)
    assert len(traces) == 6
    for name, t in traces.items():  # the file's size first; a pruned variant's CSR size is its hollow twin
        assert len(t.x) == (2 if name.startswith("prune") else 1)
        assert t.y[0] == pytest.approx(
            100 * next(v for v in digits_group().variants if v["name"] == name)["val_accuracy"]
        )
    assert list(traces["prune 90%"].x) == [1_207_300, 252_400] and traces["prune 90%"].marker.symbol[1].endswith(
        "-open"
    )
    dense = traces["dense (as trained)"]
    assert dense.marker.symbol[0] == "star" and dense.marker.color == "#000000"
    assert (
        fig.data[-1].name == "dense (as trained)"
        and dense.legendrank
        < min(  # drawn on top, listed first
            t.legendrank for t in fig.data[:-1]
        )
    )
    assert fig.layout.shapes[0].y0 == pytest.approx(97.78)  # the dotted dense level


def test_colours_match_across_the_charts():
    group = digits_group()
    size, speed, layers = (f(group) for f in (charts.size_figure, charts.latency_figure, charts.sparsity_figure))
    for name, t in scatter(speed).items():
        assert t.marker.color == scatter(size)[name].marker.color
    for bar in layers.data:
        assert bar.marker.color == scatter(size)[bar.name].marker.color
    assert len({t.marker.color for t in size.data}) == 6


def test_latency_chart_is_in_ms_from_zero():
    fig = charts.latency_figure(digits_group())
    assert fig.layout.title.text == "Accuracy vs CPU time per batch"
    assert fig.layout.xaxis.type in (None, "linear") and fig.layout.xaxis.range[0] == 0
    assert fig.layout.xaxis.title.text == "ms per batch of 256 rows on 1 CPU thread"
    assert [len(t.x) for t in fig.data] == [1] * 6


def test_labels_never_overlap_and_a_crowded_marker_is_left_to_the_legend():
    # Two markers on one spot: the second label takes another side, or none.
    spots = [[(0.5, 0.5)], [(0.5, 0.5)], [(0.5, 0.5)]]
    where = charts._positions(spots, ["dense", "pruned 80%", "int8"], False)
    placed = [w for w in where if w is not None]
    assert where[0] == (0, "middle right") and len({p for _, p in placed}) == len(placed)
    # Next to the right edge, a label goes left; on a twin's level line, it goes elsewhere.
    assert charts._positions([[(0.98, 0.5)]], ["dense"], False) == [(0, "middle left")]
    lined = charts._positions([[(0.9, 0.5), (0.2, 0.5)]], ["pruned 90%"], False, [(0.9, 0.2, 0.5)])
    assert lined[0] is not None and lined[0][1] not in ("middle left",)
    for presentation in (False, True):
        for fig in (charts.size_figure(digits_group(), presentation=presentation),):
            labelled = [t for t in fig.data if any(t.text)]
            assert {t.name for t in labelled} >= {"dense (as trained)", "prune 80%", "prune 90%"}


def test_sparsity_chart_has_a_bar_per_pruned_variant_in_each_layer():
    fig = charts.sparsity_figure(digits_group())
    assert fig.layout.title.text == "Weights pruned in each layer" and fig.layout.barmode == "group"
    assert [b.name for b in fig.data] == ["prune 80%", "prune 90%"]
    assert list(fig.data[1].x) == list(LAYERS) and list(fig.data[1].y) == pytest.approx([51, 95, 93])
    assert fig.layout.yaxis.title.text == "weights set to zero (%)" and list(fig.layout.yaxis.range) == [0, 112]
    unpruned = digits_group()
    only_int8 = Group(unpruned.group, unpruned.source, 0.0, (unpruned.variants[0], unpruned.variants[-1]))
    assert "no pruned variant" in charts.sparsity_figure(only_int8).layout.annotations[0].text


def test_presentation_mode_is_larger_and_mse_is_named():
    small, big = charts.size_figure(digits_group()), charts.size_figure(digits_group(), presentation=True)
    assert big.layout.height > small.layout.height and big.layout.font.size == font_size(True)
    acc = digits_group()
    # A regression's group: each variant's MSE in place of its accuracy.
    variants = [
        {k: x for k, x in v.items() if k != "val_accuracy"} | {"val_mse": 1.0 - v["val_accuracy"]} for v in acc.variants
    ]
    mse = Group(acc.group, acc.source, acc.created, tuple(variants))
    fig = charts.latency_figure(mse)
    assert fig.layout.title.text == "MSE vs CPU time per batch"
    assert fig.layout.yaxis.title.text == "validation MSE (lower is better)"
    assert charts.bytes_label(850) == "850 B" and charts.bytes_label(1_207_200) == "1.21 MB"
