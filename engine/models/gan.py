"""``gan``: a generator and a discriminator (two small MLPs) learning a 2-D distribution.

The generator ``gen`` maps 8-D Gaussian noise to a point; the discriminator
``disc`` scores a point real or fake. Each is ``model.depth`` blocks of
``model.width`` units (``model.activation``, ``model.norm: layer``,
``model.residual``, ``model.dropout`` as in the MLP) and a linear head.
``forward(x)`` is the discriminator's logit for real points ``x``.

One training step is two alternating updates (non-saturating loss,
Goodfellow et al. 2014):

1. discriminator: ``BCE(D(real), 1) + BCE(D(G(z)), 0)``, one optimizer step
   on ``disc.*`` only;
2. generator: ``BCE(D(G(z)), 1)`` against the *updated* discriminator, one
   optimizer step on ``gen.*`` only.

Both players share the recipe's optimizer (one torch optimizer, whose
per-parameter state is independent, so it acts as two): each update steps
only the parameters that have a gradient. The probes see the step as one:
at ``AFTER_BACKWARD`` every layer holds the (unclipped) gradient its own
update used and its weights from before the step. ``train_loss`` is the
generator's loss; ``gen_loss`` and ``disc_loss`` are stored every step.

At each evaluation: ``val_mmd`` (= ``val_loss``), the kernel MMD² between
1,000 generated points (fixed noise) and the validation points, lower is
better; ``mode_coverage``, the share of the data's classes (the ring's
blobs) that receive at least a fifth of their fair share of generated
points lying on the data; and a ``samples`` event
``{"real": [[x, y], ...], "fake": [[x, y], ...]}`` (500 points each) for
the scatter plot. ``train.l1`` and ``train.amp`` are ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.config.errors import RecipeError
from engine.models.base import ClinicModel, dense_blocks
from engine.training import activations
from engine.training.events import Event

if TYPE_CHECKING:
    from engine.config.recipe import ModelSpec
    from engine.datasets.base import Dataset

NOISE_DIM = 8
N_EVAL = 1000  # generated points per evaluation (fixed noise, so evaluations compare)
N_SHOWN = 500  # points per side in the samples event
#: RBF bandwidths (squared) for the MMD, in data units: blob-sized to ring-sized.
MMD_BANDWIDTHS = (0.02, 0.2, 2.0)
#: A class is covered when its generated points reach this share of 1/classes.
COVERAGE_SHARE = 0.2

# What this architecture accepts and honours (engine.models.Capabilities).
DATA_KINDS = ("tabular",)
RESIDUAL = True
NORMS = ("none", "layer")  # batch norm would mix real and fake samples in its statistics
NEEDS = "2-D points (tabular data with 2 features)"
TRY_DATA = "ring, moons, circles or spirals"
METRIC = "val_mmd"  # the distance to the data, not the players' losses
OWN_UPDATE = True  # two players, each its own optimizer step (training_step below)


class Player(nn.Module):
    """An MLP: ``depth`` :class:`Block` s and a linear ``head``."""

    def __init__(self, n_in: int, n_out: int, spec):
        super().__init__()
        self.layers = dense_blocks(n_in, spec)
        self.head = nn.Linear(spec.width, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.layers:
            x = block(x)
        return self.head(x)


class GAN(ClinicModel):
    """``gen.0`` … ``gen.head``, then ``disc.0`` … ``disc.head``."""

    label = "GAN"

    def __init__(self, spec, data):
        super().__init__(spec)
        self.gen = Player(NOISE_DIM, 2, spec)
        self.disc = Player(2, 1, spec)
        noise = torch.randn(N_EVAL, NOISE_DIM, generator=torch.Generator().manual_seed(12345))
        self.register_buffer("eval_noise", noise, persistent=False)

    @property
    def gen_params(self) -> list[nn.Parameter]:
        return list(self.gen.parameters())

    @property
    def disc_params(self) -> list[nn.Parameter]:
        return list(self.disc.parameters())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The discriminator's logit that each point of ``x`` is real: ``(N, 1)``."""
        return self.disc(x)

    def sample(self, n: int) -> torch.Tensor:
        """``n`` generated points."""
        return self.gen(torch.randn(n, NOISE_DIM, device=cast(torch.Tensor, self.eval_noise).device))

    def param_layers(self) -> list[tuple[str, nn.Parameter]]:
        named = []
        for who, player in (("gen", self.gen), ("disc", self.disc)):
            named += [(f"{who}.{i}", b.layer.weight) for i, b in enumerate(player.layers)]
            named.append((f"{who}.head", player.head.weight))
        return named

    def activation_layers(self) -> list[tuple[str, nn.Module, str]]:
        """Generator blocks, then discriminator blocks: the order they run in a step."""
        family = activations.get(self.spec.activation).family
        return [
            (f"{who}.{i}", b.act, family)
            for who, player in (("gen", self.gen), ("disc", self.disc))
            for i, b in enumerate(player.layers)
        ]

    explained = "the discriminator's logit that a point is real"

    def explain_layers(self) -> list[tuple[str, nn.Module, str]]:
        """The discriminator's blocks: :meth:`forward` never runs the generator."""
        return [layer for layer in self.activation_layers() if layer[0].startswith("disc.")]

    # --- the two-player step ------------------------------------------------

    def training_step(self, trainer, x: torch.Tensor, y: torch.Tensor) -> None:
        s = trainer.state
        opt = s.optimizer
        gen_params, disc_params = self.gen_params, self.disc_params
        n = x.shape[0]
        fake = self.gen(torch.randn(n, NOISE_DIM, device=x.device))
        # One discriminator pass over real and fake, so each hooked layer runs once before AFTER_FORWARD.
        logits = self.disc(torch.cat([x, fake.detach()]))
        ones, zeros = torch.ones_like(logits[:n]), torch.zeros_like(logits[:n])
        d_loss = F.binary_cross_entropy_with_logits(logits[:n], ones) + F.binary_cross_entropy_with_logits(
            logits[n:], zeros
        )
        trainer.emit(Event.AFTER_FORWARD)

        # 1. the discriminator's update
        opt.zero_grad(set_to_none=True)
        d_loss.backward(inputs=disc_params)
        clipping = trainer.recipe.train.clip_norm is not None or trainer.recipe.train.clip_value is not None
        raw = [cast(torch.Tensor, p.grad).clone() for p in disc_params] if clipping else None
        trainer.clip_gradients(disc_params)
        with torch.no_grad():
            before = [p.detach().clone() for p in disc_params]
        opt.step()  # only disc.* has gradients

        # 2. the generator's update, against the updated discriminator
        g_loss = F.binary_cross_entropy_with_logits(self.disc(fake), ones)
        g_loss.backward(inputs=gen_params)
        s.loss = g_loss.detach()
        s.step_scalars = {"gen_loss": s.loss, "disc_loss": d_loss.detach()}

        # The probes read both players' gradients and pre-step weights now.
        with torch.no_grad():
            after = [p.detach().clone() for p in disc_params]
            torch._foreach_copy_([p.data for p in disc_params], before)
            if raw is not None:
                for p, g in zip(disc_params, raw):
                    p.grad = g
        trainer.emit(Event.AFTER_BACKWARD)
        with torch.no_grad():
            torch._foreach_copy_([p.data for p in disc_params], after)
        for p in disc_params:
            p.grad = None
        trainer.clip_gradients(gen_params)
        opt.step()  # only gen.* has gradients now

    # --- evaluation -----------------------------------------------------------

    @torch.no_grad()
    def eval_metrics(self, trainer) -> dict[str, float]:
        was_training = self.training
        self.eval()
        fake = self.gen(self.eval_noise).float()
        self.train(was_training)
        real, labels = trainer.batches.val_tensors()
        real = real.float()
        mmd = float(mmd2(fake, real))
        out = {"val_loss": mmd, "val_mmd": mmd}
        if trainer.data.task == "classification" and labels.ndim == 1:
            out["mode_coverage"] = float(mode_coverage(fake, real, labels, int(trainer.data.n_classes)))
        trainer.state.events.append(
            (trainer.state.step, "samples", {"real": _points(real[:N_SHOWN]), "fake": _points(fake[:N_SHOWN])})
        )
        return out


def _points(t: torch.Tensor) -> list[list[float]]:
    return [[round(a, 4), round(b, 4)] for a, b in t.cpu().tolist()]


def mmd2(a: torch.Tensor, b: torch.Tensor, bandwidths=MMD_BANDWIDTHS) -> torch.Tensor:
    """Squared maximum mean discrepancy (biased estimate) with a sum of RBF kernels."""

    def k(u, v):
        d = torch.cdist(u, v).pow(2)
        return sum(torch.exp(-d / (2 * h)) for h in bandwidths)

    return k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()


def mode_coverage(
    fake: torch.Tensor, real: torch.Tensor, labels: torch.Tensor, n_classes: int, share: float = COVERAGE_SHARE
) -> float:
    """Share of classes that get at least ``share``/classes of the generated points lying on the data.

    A generated point lies on the data when its nearest real point is closer
    than the 95th percentile of the real points' distance to their 5th
    nearest neighbour (the "manifold" radius of Kynkäänniemi et al. 2019);
    it then counts for that real point's class.
    """
    d_real = torch.cdist(real, real)
    k = min(5, len(real) - 1)
    radius = torch.quantile(d_real.topk(k + 1, largest=False).values[:, k], 0.95)
    dist, nearest = torch.cdist(fake, real).min(dim=1)
    hits = labels[nearest][dist <= radius]
    counts = torch.bincount(hits, minlength=n_classes)
    present = torch.bincount(labels, minlength=n_classes) > 0
    covered = (counts >= share * len(fake) / n_classes) & present
    return float(covered.sum()) / max(int(present.sum()), 1)


def build(spec: ModelSpec, data: Dataset) -> GAN:
    """A GAN for 2-D points; refuses tabular data of any other width."""
    if tuple(data.input_shape) != (2,):
        raise RecipeError(
            f"model.arch: gan learns a 2-D distribution (data.name: ring, moons, circles or spirals); "
            f"this dataset is {data.kind} with input shape {tuple(data.input_shape)}"
        )
    return GAN(spec, data)
