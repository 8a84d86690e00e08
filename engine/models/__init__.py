"""Architecture registry: ``engine/models/<arch>.py`` is ``model.arch: <arch>``.

Each architecture module defines ``build(spec, data) -> ClinicModel`` and
declares what it can honour as module-level constants, which the torch-free
side reads from the file without importing it (see :class:`Capabilities`)::

    DATA_KINDS = ("image",)          # the data kinds it accepts; leave out for every kind
    RESIDUAL = True                  # honours model.residual
    NORMS = ("none", "batch", "layer")  # the model.norm values it honours
    ACTIVATIONS = ("tanh", "relu")   # optional: the model.activation values it honours (default: all)
    NEEDS = "image data"             # optional: how a refusal describes the data it needs
    TRY_DATA = "digits"              # optional: datasets a refusal suggests
    METRIC = "anomaly_auc"           # optional: what a sweep optimises when told nothing (default:
                                     # val_accuracy on classification data, else val_loss)
    CHANNELS_LAST = True             # optional: convolutions that train.channels_last can speed up
    OWN_UPDATE = True                # optional: trains with its own step (GAN), which train.amp and
                                     # train.compile do not reach

A recipe asking for something the architecture does not declare is refused
at load time, naming the dotted key; ``build`` still checks the exact shapes.
Adding an architecture means adding one file.

This package must stay importable without torch: the recipe lists and reads
the architectures for torch-free validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.config.errors import RecipeError
from engine.config.names import ARCHITECTURES

if TYPE_CHECKING:
    from engine.config.recipe import ModelSpec, TrainSpec
    from engine.datasets.base import Dataset
    from engine.models.base import ClinicModel

ALL_KINDS = ("tabular", "image", "sequence", "video")
ALL_NORMS = ("none", "batch", "layer")


@dataclass(frozen=True)
class Capabilities:
    """What one architecture accepts and honours, as its file declares it."""

    arch: str
    data_kinds: tuple[str, ...] = ALL_KINDS
    residual: bool = False
    norms: tuple[str, ...] = ("none",)
    needs: str = ""
    try_data: str = ""
    activations: tuple[str, ...] | None = None  # None: every registered activation
    metric: str = ""  # the model's own headline metric for a sweep ("": the task's)
    channels_last: bool = False
    own_update: bool = False

    def data_kind_error(self, dataset: str, kind: str) -> str | None:
        """The refusal for a dataset of ``kind``, or None when it fits."""
        if kind in self.data_kinds:
            return None
        needs = self.needs or f"{' or '.join(self.data_kinds)} data"
        return f"model.arch: {self.arch} needs {needs}, and dataset {dataset!r} is {kind}" + (
            f"; try data.name: {self.try_data}" if self.try_data else ""
        )

    def spec_error(self, spec: ModelSpec) -> str | None:
        """The refusal for a ``model.residual``, ``model.norm`` or ``model.activation`` this architecture
        cannot honour, or None."""
        if self.activations is not None and spec.activation not in self.activations:
            return f"model.activation: {self.arch} supports {' or '.join(self.activations)} (got {spec.activation})"
        if spec.residual and not self.residual:
            return f"model.residual: not available for {self.arch}; set model.residual: false"
        if spec.norm not in self.norms:
            return f"model.norm: {spec.norm} norm is not available for {self.arch}; use {' or '.join(self.norms)}"
        return None

    def train_error(self, train: TrainSpec) -> str | None:
        """The refusal for a ``train.channels_last``, ``train.amp`` or ``train.compile`` this architecture
        cannot honour, or None."""
        if train.channels_last and not self.channels_last:
            return f"train.channels_last: {self.arch} has no convolutions to lay out; set train.channels_last: false"
        for key in ("amp", "compile"):
            if getattr(train, key) and self.own_update:
                return (
                    f"train.{key}: {self.arch} trains with its own update, which train.{key} does not reach; "
                    f"set train.{key}: false"
                )
        return None


def capabilities(arch: str) -> Capabilities:
    """The declared capabilities of ``arch``, read without importing its module (or torch)."""
    c = ARCHITECTURES.constants(arch)
    return Capabilities(
        arch=arch,
        data_kinds=tuple(c.get("DATA_KINDS", ALL_KINDS)),
        residual=bool(c.get("RESIDUAL", False)),
        norms=tuple(c.get("NORMS", ("none",))),
        needs=str(c.get("NEEDS", "")),
        try_data=str(c.get("TRY_DATA", "")),
        activations=tuple(c["ACTIVATIONS"]) if "ACTIVATIONS" in c else None,
        metric=str(c.get("METRIC", "")),
        channels_last=bool(c.get("CHANNELS_LAST", False)),
        own_update=bool(c.get("OWN_UPDATE", False)),
    )


def build_model(spec: ModelSpec, data: Dataset) -> ClinicModel:
    """Build ``spec.arch`` for ``data`` and initialise its weights with ``spec.init``."""
    from engine.training.inits import apply_init

    try:
        module = ARCHITECTURES.module(spec.arch)
    except KeyError as exc:
        raise RecipeError(f"model.arch: {exc.args[0]}") from None
    caps = capabilities(spec.arch)
    error = caps.data_kind_error(data.extras.get("name", "this dataset"), data.kind) or caps.spec_error(spec)
    if error:
        raise RecipeError(error)
    model = module.build(spec, data)
    # The model's own activation, not spec.activation: LSTM/GRU ignore the
    # latter, and a relu gain would oversize their tanh-gated weights.
    apply_init(model, spec.init, model.activation_name, spec.init_std, spec.init_bias)
    return model
