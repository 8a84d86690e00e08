"""Will this run fit? A memory and time estimate made before a run has a row. Torch-free.

:func:`check_fits` is what every entry point that starts training calls
first (``gradclinic run``, :func:`engine.control.lifecycle.launch`,
:func:`engine.control.compare.launch_group`, the dashboard's Launch page):
a run that needs more than :data:`SAFE_FRACTION` of the free memory is
refused with one :class:`RecipeError` naming the key that dominates, before
anything is stored or allocated. The worker checks again against the GPU's
free memory once it knows its device (only the training side may ask torch).

The estimate is analytic, so it costs milliseconds and no torch:

* weights, their copies (the best weights, checkpoints), gradients and the
  optimizer's state, from the exact parameter count of
  ``engine/models/_sizes.py``, in float32;
* the activations a training step keeps at the effective batch size;
* an evaluation's peak, when it is larger than a step's activations;
* the dataset while it is prepared;
* the Python, torch and numpy runtime of a worker.

The time estimate is information, never a refusal: a rough FLOP count
against a conservative CPU throughput.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from engine import datasets
from engine.config.errors import RecipeError

if TYPE_CHECKING:
    from engine.config.recipe import Recipe
    from engine.models._sizes import DataShape

#: A run may take this share of the memory that is free when it is launched.
SAFE_FRACTION = 0.8
FLOAT_BYTES = 4  # float32 weights, gradients, optimizer state and activations
#: Copies of the weights beside the model: the trainer's best weights (taken at every improvement), and
#: the ones a checkpoint serialises. A 185M-parameter MLP with Adam peaked at 7.6x its weights in all.
WEIGHT_COPIES = 3
#: Buffers of the size of the weights each optimizer keeps (``engine/training/optimizers.py``).
OPTIMIZER_STATE = {"sgd": 0, "momentum": 1, "nesterov": 1, "adam": 2, "adamw": 2, "rmsprop": 1}
#: On top of what the forward pass keeps: the activations' gradients during backward, allocator rounding.
ACTIVATION_SLACK = 1.5
#: Bytes per input value while the data is prepared: the loader's array, the split's float64 copy,
#: the standardised copy and the float32 result are alive at once.
DATA_BYTES_PER_VALUE = 28
#: A worker's Python, torch, numpy and scikit-learn before any tensor (a tiny run peaks at 1.0 GB).
RUNTIME_BYTES = 1_000_000_000
#: Synthetic datasets are probed with this many samples; their shapes do not depend on the count.
PROBE_ROWS = 64
#: Conservative training throughput per core (FLOP/s): an MLP step measured 25-30 GFLOP/s per core.
FLOPS_PER_CORE = 10e9
#: Per step: Python, the probes and the recorder (healthy-mlp measured about 5 ms).
STEP_OVERHEAD_S = 0.006
#: Per run: preparing the data and the model, the probes' first measurements, the final diagnosis.
RUN_OVERHEAD_S = 2.0
#: Data params whose halving a refusal may suggest, besides the model's width and depth and the batch size.
DATA_KNOBS = ("n_samples", "seq_len")

_LABELS = {
    "weights": "of weights",
    "copies": "for the best weights and checkpoints",
    "gradients": "of gradients",
    "optimizer": "of {optimizer} state",
    "activations": "of activations at {batch}",
    "evaluation": "for evaluation",
    "data": "of data",
    "runtime": "for the runtime",
}


@dataclass(frozen=True)
class Estimate:
    """What a run needs: memory by part (bytes), the free memory it was held against, and a time."""

    params: int
    parts: dict[str, int]
    available: int
    where: str  # "memory" (RAM), or a device such as "cuda:0 memory"
    batch: int  # the effective batch: train.batch_size, or every training row when there are fewer
    batch_size: int  # train.batch_size as asked
    optimizer: str
    flops: float
    seconds: float
    device: str = "auto"
    data_known: bool = True  # False when the data could not be read (the run will say why)

    @property
    def total(self) -> int:
        """Peak bytes: the static parts, plus a step's activations or an evaluation, whichever is larger."""
        p = self.parts
        return sum(v for k, v in p.items() if k not in ("activations", "evaluation")) + max(
            p["activations"], p["evaluation"]
        )

    @property
    def usable(self) -> int:
        return int(self.available * SAFE_FRACTION)

    @property
    def fits(self) -> bool:
        return self.total <= self.usable

    def breakdown(self) -> str:
        """The parts that matter (1% of the total or more), e.g. "13 GB of weights (...), 13 GB of gradients"."""
        shown = [k for k, v in self.parts.items() if v >= 0.01 * self.total or k == "activations"]
        batch = (
            f"train.batch_size={self.batch}"
            if self.batch == self.batch_size
            else f"a batch of all {self.batch} training rows"
        )
        labels = [_LABELS[k].format(optimizer=self.optimizer, batch=batch) for k in shown]
        return ", ".join(f"{human_bytes(self.parts[k])} {label}" for k, label in zip(shown, labels))

    def summary(self) -> str:
        """One line for the user before training, e.g. "about 0.5 GB of 22 GB free memory, about 5 s on this CPU"."""
        gpu = f", less on {self.device}" if self.device in ("cuda", "mps") else ""
        return (
            f"about {human_bytes(self.total)} of {human_bytes(self.available)} free {self.where}, "
            f"{human_seconds(self.seconds)} on this CPU ({_cores()} cores{gpu})"
        )


def available_memory() -> int:
    """Bytes of RAM free for a new process (``psutil.virtual_memory().available``)."""
    import psutil

    return int(psutil.virtual_memory().available)


def check_fits(recipe: Recipe, available: int | None = None, where: str = "memory", label: str = "") -> Estimate:
    """The run's :class:`Estimate`; raises :class:`RecipeError` when it needs more than
    :data:`SAFE_FRACTION` of ``available`` bytes (default: the free RAM). ``label`` names the run
    within a group in the message."""
    found = estimate(recipe, available, where)
    if found.fits:
        return found
    key, advice = _dominant(recipe, found)
    raise RecipeError(
        f"{key}{f' ({label})' if label else ''}: this run needs about {human_bytes(found.total)} "
        f"({found.breakdown()}), but {human_bytes(found.available)} of {where} is free and a run may take "
        f"{SAFE_FRACTION:.0%} of it; {advice}"
    )


def estimate(recipe: Recipe, available: int | None = None, where: str = "memory") -> Estimate:
    """Memory and time ``recipe`` needs, computed from its sizes alone (nothing is built or trained)."""
    probe = _data(recipe.data.name, _params_key(recipe.data.params))
    return _estimate(recipe, probe, available_memory() if available is None else int(available), where)


# --- the sums -------------------------------------------------------------------


@dataclass(frozen=True)
class _Probe:
    """One sample's shape (from a small load), and how many samples the real data has."""

    input_shape: tuple[int, ...]
    n_outputs: int
    n_total: int
    values: int  # floats per sample, inputs and targets
    known: bool = True


def _estimate(recipe: Recipe, probe: _Probe, available: int, where: str) -> Estimate:
    from engine.models._sizes import size_of

    t = recipe.train
    shape = _shape(recipe, probe)
    size = size_of(recipe.model, shape)
    # Batches never exceed the training rows; unreadable data leaves the batch as asked.
    batch = max(1, min(t.batch_size, shape.n_train)) if probe.known else t.batch_size
    p = size.params * FLOAT_BYTES
    parts = {
        "weights": p,
        "copies": WEIGHT_COPIES * p,
        "gradients": p,
        "optimizer": OPTIMIZER_STATE.get(t.optimizer, 2) * p,  # an unlisted one counts like Adam
        "activations": int(batch * size.acts * FLOAT_BYTES * ACTIVATION_SLACK),
        "evaluation": size.eval_floats * FLOAT_BYTES,
        "data": probe.n_total * probe.values * DATA_BYTES_PER_VALUE,
        "runtime": RUNTIME_BYTES,
    }
    # Forward and backward cost about three forward passes of two FLOPs per multiply-accumulate.
    evals = t.steps // t.eval_every + 1
    flops = 6.0 * size.macs * batch * t.steps + 2.0 * size.macs * (shape.n_val + min(shape.n_train, 1000)) * evals
    seconds = RUN_OVERHEAD_S + t.steps * STEP_OVERHEAD_S + flops / (FLOPS_PER_CORE * _cores())
    return Estimate(
        size.params, parts, available, where, batch, t.batch_size, t.optimizer, flops, seconds, t.device, probe.known
    )


def _shape(recipe: Recipe, probe: _Probe) -> DataShape:
    """The split ``engine.datasets.prepare`` makes: ``ceil(val_fraction * n)`` validation rows, then ``train_limit``."""
    from engine.models._sizes import DataShape

    n = max(probe.n_total, 2)
    n_val = min(n - 1, max(1, math.ceil(recipe.data.val_fraction * n)))
    n_train = n - n_val
    if recipe.data.train_limit is not None:
        n_train = min(n_train, recipe.data.train_limit)
    return DataShape(probe.input_shape, probe.n_outputs, n_train, n_val)


def _dominant(recipe: Recipe, found: Estimate) -> tuple[str, str]:
    """The key to name in a refusal, and what to do about it.

    Activations grow with the batch, so when they are the largest part the
    batch size is at fault. Otherwise the key is whichever of the model's
    width and depth and the data's size params saves the most when halved.
    """
    p = found.parts
    groups = {
        "model": p["weights"] + p["copies"] + p["gradients"] + p["optimizer"],
        "activations": p["activations"],
        "evaluation": p["evaluation"],
        "data": p["data"],
    }
    if max(groups, key=lambda k: groups[k]) == "activations":
        per_row = p["activations"] / found.batch
        room = found.usable - (found.total - p["activations"])
        fits = int(room // per_row) if room > 0 else 0
        if fits >= 1:
            return "train.batch_size", f"lower train.batch_size (about {fits:,} would fit)"
        return "train.batch_size", "even one sample is too large; lower model.width or model.depth"
    best, saved = "model.width", -1
    for key, trial in _halved(recipe):
        probe = _data(trial.data.name, _params_key(trial.data.params))
        gain = found.total - _estimate(trial, probe, found.available, found.where).total
        if gain > saved:
            best, saved = key, gain
    return best, "lower model.width or model.depth" if best.startswith("model.") else f"lower {best}"


def _halved(recipe: Recipe) -> list[tuple[str, Recipe]]:
    """``(key, the recipe with that key halved)`` for the model's width and depth and the data's size params."""
    m = recipe.model
    out = [
        (f"model.{k}", recipe.model_copy(update={"model": m.model_copy(update={k: max(1, getattr(m, k) // 2)})}))
        for k in ("width", "depth")
    ]
    for knob in DATA_KNOBS:
        value = recipe.data.params.get(knob)
        if isinstance(value, int) and not isinstance(value, bool) and value > 1:
            params = {**recipe.data.params, knob: value // 2}
            try:
                datasets.check_params(recipe.data.name, params)
            except RecipeError:  # below what the dataset takes: no advice
                continue
            data = recipe.data.model_copy(update={"params": params})
            out.append((f"data.params.{knob}", recipe.model_copy(update={"data": data})))
    return out


# --- the data, without loading it all ---------------------------------------------


def _params_key(params: dict[str, Any]) -> str:
    """A cache key for ``data.params``: the values, plus the size and time of any file they name."""
    stamps = {}
    for k, v in sorted(params.items()):
        if isinstance(v, str) and len(v) < 4096:
            try:
                st = Path(v).expanduser().stat()
                stamps[k] = [st.st_size, st.st_mtime_ns]
            except (OSError, ValueError):
                pass
    return json.dumps({"params": params, "files": stamps}, sort_keys=True, default=str)


@lru_cache(maxsize=64)
def _data(name: str, key: str) -> _Probe:
    """Load the dataset once, as small as its params allow, to learn one sample's shape.

    Data that cannot be read gives a one-value stand-in: the estimate still
    catches a model too big for any data, and the run itself reports the
    data's problem as it does today.
    """
    params = json.loads(key)["params"]
    n_samples = params.get("n_samples")
    small = isinstance(n_samples, int) and n_samples > PROBE_ROWS
    spec = SimpleNamespace(
        name=name, val_fraction=0.5, train_limit=None, params={**params, "n_samples": PROBE_ROWS} if small else params
    )
    try:
        data = datasets.prepare(spec, 0)
    except RecipeError:  # DataError: a missing or broken file
        return _Probe((1,), 1, 0, 1, known=False)
    n_total = int(n_samples) if small else int(data.extras["n_total"])
    values = math.prod(data.input_shape) + int(data.y_train[0].size)
    return _Probe(tuple(data.input_shape), int(data.n_outputs), n_total, values)


# --- words ------------------------------------------------------------------------


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def human_bytes(n: float) -> str:
    """``13_400_000_000`` -> "13 GB", ``1_234_000_000`` -> "1.2 GB", ``52_000_000`` -> "52 MB"."""
    unit, scale = ("TB", 1e12) if n >= 1e12 else ("GB", 1e9) if n >= 1e8 else ("MB", 1e6)
    x = n / scale
    return f"{x:.0f} {unit}" if x >= 10 or unit == "MB" and x >= 1 else f"{x:.1f} {unit}"


def human_seconds(s: float) -> str:
    """``12.3`` -> "about 12 s"; minutes, hours and days for longer runs."""
    if s < 1:
        return "under a second"
    for unit, scale in (("days", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if s >= scale:
            x = s / scale
            return f"about {x:.0f} {unit}" if x >= 10 or unit == "s" else f"about {x:.1f} {unit}"
    return "under a second"  # pragma: no cover - s >= 1 matched "s"
