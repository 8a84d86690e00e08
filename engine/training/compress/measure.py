"""What a model variant costs and what it still gets right, measured the same way for every variant.

* the task metric on the validation rows, through the trainer's own evaluation
  (:func:`engine.training.trainer.evaluate`, the headline of :mod:`engine.config.metrics`);
* parameters and nonzero parameters;
* size on disk: the bytes ``torch.save`` writes for the state_dict, which is how a model is
  shipped (a pruned model's zeros still take 4 bytes each there), and for a pruned model also
  the bytes of its weight matrices in CSR form (int32 indices; every other tensor dense);
* CPU latency: the median of ``repeats`` forward passes of one batch of validation rows, after a
  warm-up, in this process, so variants measured together compare on one machine state.
"""

from __future__ import annotations

import io
import math
import statistics
import time
import warnings
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from engine.config.metrics import headline
from engine.datasets.base import Dataset
from engine.training.trainer import evaluate

LATENCY_ROWS = 256
REPEATS = 30
WARMUP = 3


def counts(model: nn.Module) -> tuple[int, int]:
    """(parameters, nonzero parameters) of a float model."""
    params = list(model.parameters())
    return sum(p.numel() for p in params), sum(int(torch.count_nonzero(p)) for p in params)


def _saved_bytes(obj: Any) -> int:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getbuffer().nbytes


def size_bytes(model: nn.Module) -> int:
    """The bytes ``torch.save(model.state_dict())`` writes: the size of the model on disk."""
    return _saved_bytes(model.state_dict())


@torch.no_grad()
def csr_bytes(model: nn.Module) -> int:
    """The state_dict's bytes with every weight matrix (conv kernels flattened to rows) in CSR form:
    the nonzero values, their int32 column indices and int32 row offsets; other tensors dense."""
    weights = {id(p) for _, p in model.param_layers()}  # type: ignore[operator]
    named = dict(model.named_parameters())
    out: dict[str, Any] = {}
    for key, t in model.state_dict().items():
        p = named.get(key)
        if p is not None and id(p) in weights:
            with warnings.catch_warnings():  # PyTorch calls its sparse CSR support beta, once per process
                warnings.simplefilter("ignore", UserWarning)
                csr = t.detach().reshape(t.shape[0], -1).to_sparse_csr()
            out[key] = (csr.crow_indices().int(), csr.col_indices().int(), csr.values(), tuple(t.shape))
        else:
            out[key] = t
    return _saved_bytes(out)


def latency_batch(data: Dataset, rows: int = LATENCY_ROWS) -> torch.Tensor:
    """``rows`` validation inputs (repeated when there are fewer): the batch every variant is timed on."""
    x = data.x_val
    if len(x) < rows:
        x = np.concatenate([x] * (rows // max(len(x), 1) + 1))
    return torch.from_numpy(np.ascontiguousarray(x[:rows]))


@torch.inference_mode()
def latency_ms(model: nn.Module, x: torch.Tensor, repeats: int = REPEATS) -> float:
    """Median milliseconds of one forward pass of ``x`` on the CPU."""
    model.eval()
    for _ in range(WARMUP):
        model(x)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(times)


def task_metric(model: nn.Module, data: Dataset) -> dict[str, float | None]:
    """{headline name: value, "val_loss": value} on the validation rows, on the CPU."""
    x, y = torch.from_numpy(data.x_val), torch.from_numpy(data.y_val)
    loss, acc = evaluate(model, x, y, data)
    name = headline((), data.task).name
    value = acc if data.task == "classification" else loss
    return {name: _finite(value), "val_loss": _finite(loss)}


def _finite(x: float | None) -> float | None:
    """None for a missing or non-finite number: a broken variant's loss is no number to print or store."""
    return float(x) if x is not None and math.isfinite(x) else None


def measure(
    model: nn.Module,
    data: Dataset,
    *,
    counted: tuple[int, int] | None = None,
    sparse: bool = False,
    repeats: int = REPEATS,
) -> dict[str, Any]:
    """Everything above for one model (moved to the CPU). ``counted`` gives the (parameters, nonzero)
    of the float model a quantized one came from (its int8 weights are not ``parameters()``);
    ``sparse`` adds ``size_csr_bytes``."""
    model = model.cpu().eval()
    params, nonzero = counted if counted is not None else counts(model)
    out: dict[str, Any] = {
        **task_metric(model, data),
        "params": params,
        "nonzero_params": nonzero,
        "size_bytes": size_bytes(model),
        "latency_ms": latency_ms(model, latency_batch(data), repeats),
        "latency_rows": LATENCY_ROWS,
        "latency_repeats": repeats,
        "threads": torch.get_num_threads(),
    }
    if sparse:
        out["size_csr_bytes"] = csr_bytes(model)
    return out
