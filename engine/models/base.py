"""The contract every architecture meets, and the pieces they share.

:class:`ClinicModel` is what the trainer and the probes rely on: logits of
shape ``(batch, data.n_outputs)``, the weight layers in input→output order
with chart-friendly names, and the activation modules probes may hook.

The helpers below (:func:`make_norm`, :func:`to_sequence`, :class:`Block`,
:func:`dense_blocks`, :func:`conv_blocks`, :class:`BlockStack`) exist so
architecture files stay a few dozen lines and never copy each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import torch
import torch.nn as nn

from engine.config.errors import RecipeError
from engine.training import activations

if TYPE_CHECKING:
    from engine.config.recipe import ModelSpec


class ClinicModel(nn.Module):
    """Base class of every Gradient Clinic architecture.

    Subclasses build their layers in ``__init__`` and define ``forward``. The
    defaults below work for any model; architectures override them where a
    better name or order exists.
    """

    #: Short architecture name used in :meth:`describe` ("MLP", "LSTM"...).
    label = "model"
    #: False where ``model.activation`` is ignored (LSTM and GRU gates are fixed).
    uses_activation = True

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.spec = spec

    @property
    def activation_name(self) -> str:
        """The activation the hidden units actually use; init gains follow it."""
        return self.spec.activation if self.uses_activation else "tanh"

    def param_layers(self) -> list[tuple[str, nn.Parameter]]:
        """Weight matrices and kernels (ndim >= 2), input→output, with short names.

        Biases and norm parameters are left out (they still train). The
        default lists ``named_parameters()`` in registration order with the
        ``.weight`` suffix stripped, which is input→output for any model
        that registers its layers in the order it applies them.
        """
        return [(name.removesuffix(".weight"), p) for name, p in self.named_parameters() if p.ndim >= 2]

    def activation_layers(self) -> list[tuple[str, nn.Module, str]]:
        """``(name, module, family)`` for modules whose forward output is an activation.

        Probes hook these modules' outputs. ``family`` is
        ``engine.training.activations.get(name).family`` ("relu" or "saturating").
        Where a module returns a tuple (``nn.RNN`` returns ``(output, h_n)``),
        the hook reads element 0. The default exposes nothing: showing no
        activations beats showing misleading ones.
        """
        return []

    # --- what `gradclinic explain` attributes --------------------------------

    #: What the explained output is, in words (a one-output model says so; a classifier explains a class).
    explained = "the model's output"

    def explain_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The outputs Captum attributes, ``(N, outputs)``: the prediction, unless a model says otherwise."""
        return self(x)

    def explain_layers(self) -> list[tuple[str, nn.Module, str]]:
        """The activation layers on :meth:`explain_forward`'s path (layer conductance needs the hook to fire)."""
        return self.activation_layers()

    # --- hooks for models whose objective is not "predict y" ---------------
    #
    # The trainer stays generic: it asks the model for the loss of a batch,
    # for the metrics at an evaluation, and (where one is defined) lets the
    # model run the whole optimisation step. Supervised models keep these
    # defaults; the autoencoder and the GAN override them.

    #: ``training_step(trainer, x, y)``, or None for the trainer's own step.
    #: A model that defines it computes its losses, fires ``AFTER_FORWARD``
    #: and ``AFTER_BACKWARD`` through ``trainer.emit`` (the probes listen to
    #: them), sets ``trainer.state.loss`` and steps ``trainer.state.optimizer``;
    #: the trainer then steps the LR schedule and fires ``AFTER_STEP``.
    training_step: Callable[..., None] | None = None

    def objective(self, out: torch.Tensor, x: torch.Tensor, y: torch.Tensor, crit) -> torch.Tensor:
        """The training loss of one batch; supervised models compare ``out`` with ``y``."""
        return crit(out, y)

    def eval_metrics(self, trainer) -> dict[str, float] | None:
        """Metrics at an evaluation (must include ``val_loss``), or None for the trainer's own."""
        return None

    def num_parameters(self) -> int:
        """Trainable parameter count."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def describe(self) -> str:
        """One line, e.g. "20-layer sigmoid MLP, width 64, 84k parameters"."""
        s = self.spec
        act = f"{s.activation} " if self.uses_activation else ""
        parts = [f"{s.depth}-layer {act}{self.label}", f"width {s.width}"]
        if s.residual:
            parts.append("residual")
        if s.norm != "none":
            parts.append(f"{s.norm} norm")
        if s.dropout > 0:
            parts.append(f"dropout {s.dropout:g}")
        parts.append(f"{_human(self.num_parameters())} parameters")
        return ", ".join(parts)


def _human(n: int) -> str:
    if n < 1000:
        return str(n)
    if n < 10_000:
        return f"{n / 1000:.1f}k"
    if n < 1_000_000:
        return f"{n / 1000:.0f}k"
    return f"{n / 1e6:.1f}M"


# --- shared building blocks ---------------------------------------------------


def make_activation(name: str) -> nn.Module:
    """A fresh activation module (one per layer, so each can be hooked alone)."""
    return activations.get(name).factory()


def make_norm(kind: str, features: int, spatial: bool = False) -> nn.Module:
    """The ``model.norm`` layer for ``features`` units (channels if ``spatial``).

    "layer" on feature maps is GroupNorm with one group: LayerNorm over
    (C, H, W) without fixing the image size into the parameters.
    """
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(features) if spatial else nn.BatchNorm1d(features)
    if kind == "layer":
        return nn.GroupNorm(1, features) if spatial else nn.LayerNorm(features)
    raise RecipeError(f"model.norm: unknown norm {kind!r}; allowed: none, batch, layer")


def sequence_shape(input_shape: tuple[int, ...]) -> tuple[int, int]:
    """``(steps, features)`` a recurrent net sees for one sample of ``input_shape``.

    Tabular ``(F,)`` becomes F steps of 1 feature; sequences ``(T, F)`` stay;
    images ``(C, H, W)`` become H steps (rows) of C*W features; video ``(T, C, H, W)``
    becomes T steps (frames) of C*H*W features, each frame's pixels flattened.
    """
    if len(input_shape) == 1:
        return input_shape[0], 1
    if len(input_shape) == 2:
        return input_shape[0], input_shape[1]
    if len(input_shape) == 3:
        c, h, w = input_shape
        return h, c * w
    if len(input_shape) == 4:
        t, c, h, w = input_shape
        return t, c * h * w
    raise RecipeError(f"model.arch: cannot read input of shape {tuple(input_shape)} as a sequence")


def to_sequence(x: torch.Tensor) -> torch.Tensor:
    """Reshape a batch to ``(N, T, F)`` following :func:`sequence_shape`."""
    if x.ndim == 2:
        return x.unsqueeze(-1)
    if x.ndim == 4:
        # Rows are the time steps: (N, C, H, W) -> (N, H, C, W) -> (N, H, C*W).
        n, c, h, w = x.shape
        return x.permute(0, 2, 1, 3).reshape(n, h, c * w)
    if x.ndim == 5:
        # Frames are the time steps: (N, T, C, H, W) -> (N, T, C*H*W).
        return x.flatten(2)
    return x


class Block(nn.Module):
    """``layer → norm → activation → dropout``, plus ``x +`` when residual.

    ``act`` is its own module so probes can hook exactly this block's
    activations (before the skip connection is added).
    """

    def __init__(self, layer: nn.Module, norm: nn.Module, act: nn.Module, drop: nn.Module, residual: bool):
        super().__init__()
        self.layer = layer
        self.norm = norm
        self.act = act
        self.drop = drop
        self.residual = residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.drop(self.act(self.norm(self.layer(x))))
        return x + y if self.residual else y


def dense_blocks(n_in: int, spec) -> nn.ModuleList:
    """``spec.depth`` fully connected blocks of ``spec.width`` units (norm, activation, dropout,
    residual where the shapes allow): the body of the MLP, the autoencoder and the GAN."""
    blocks = []
    for _ in range(spec.depth):
        blocks.append(
            Block(
                nn.Linear(n_in, spec.width),
                make_norm(spec.norm, spec.width),
                make_activation(spec.activation),
                nn.Dropout(spec.dropout) if spec.dropout > 0 else nn.Identity(),
                residual=spec.residual and n_in == spec.width,
            )
        )
        n_in = spec.width
    return nn.ModuleList(blocks)


def conv_blocks(c_in: int, spec) -> nn.ModuleList:
    """``spec.depth`` 3×3 conv blocks of ``spec.width`` channels (``conv → norm → activation →
    Dropout2d``, residual where the channels match): the body of the CNN and of the CRNN's frame encoder."""
    blocks = []
    for _ in range(spec.depth):
        blocks.append(
            Block(
                nn.Conv2d(c_in, spec.width, kernel_size=3, padding=1),
                make_norm(spec.norm, spec.width, spatial=True),
                make_activation(spec.activation),
                nn.Dropout2d(spec.dropout) if spec.dropout > 0 else nn.Identity(),
                residual=spec.residual and c_in == spec.width,
            )
        )
        c_in = spec.width
    return nn.ModuleList(blocks)


class BlockStack(ClinicModel):
    """A model made of :class:`Block` s in ``self.<stack_name>`` and a ``head``.

    Block i is reported as parameter layer and activation layer
    ``"<stack_name>.i"``, so gradient and activation charts line up.
    """

    stack_name = "layers"
    head: nn.Linear

    @property
    def blocks(self) -> list[Block]:
        return list(getattr(self, self.stack_name))

    def param_layers(self) -> list[tuple[str, nn.Parameter]]:
        """``<stack_name>.0`` … ``<stack_name>.{depth-1}``, then ``head``."""
        named = [(f"{self.stack_name}.{i}", cast(nn.Parameter, b.layer.weight)) for i, b in enumerate(self.blocks)]
        named.append(("head", cast(nn.Parameter, self.head.weight)))
        return named

    def activation_layers(self) -> list[tuple[str, nn.Module, str]]:
        """Each block's activation module, named like its weight layer."""
        family = activations.get(self.spec.activation).family
        return [(f"{self.stack_name}.{i}", b.act, family) for i, b in enumerate(self.blocks)]


def trained_layers(model) -> list[tuple[str, nn.Parameter]]:
    """``model.param_layers()`` less the frozen ones (``model.freeze``): what training moves, and
    what the probes watch (a frozen layer's zero gradient is by design, not vanishing). Any model
    with ``param_layers`` will do, a clinic model or not."""
    return [(name, p) for name, p in model.param_layers() if p.requires_grad]
