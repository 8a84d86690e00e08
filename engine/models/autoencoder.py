"""``autoencoder``: squeeze the input through a bottleneck and rebuild it; flag what it rebuilds badly.

An MLP encoder (``model.depth`` blocks of ``model.width`` units), a linear
``bottleneck`` of ``max(2, width // 8)`` units, a mirror-image decoder and a
linear ``head`` back to the flattened input. It trains on reconstruction
(mean squared error against its own input); the labels only pick the
anomalies.

Anomalies: the data's last class (digit 9 on digits) is held out. Its
samples are in the batches but weigh nothing in the loss, so the model never
learns to rebuild them. At each evaluation every held-out sample it has
(those in the validation set and in the fixed training subset) is scored by
its reconstruction error against the normal validation samples:

* ``val_mse`` (= ``val_loss``): reconstruction error on normal validation data;
* ``anomaly_auc``: ROC AUC of the error separating normal from held-out
  (0.5 is a coin toss, 1.0 perfect);
* ``anomaly_recall`` and ``false_alarm_rate``: with the threshold set at the
  95th percentile of the error on normal *training* samples, the share of
  anomalies flagged and of normal validation samples flagged.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn as nn

from engine.config.errors import RecipeError
from engine.models.base import ClinicModel, dense_blocks
from engine.training import activations

if TYPE_CHECKING:
    from engine.config.recipe import ModelSpec
    from engine.datasets.base import Dataset

#: The threshold is this quantile of the reconstruction error on normal training data.
THRESHOLD_QUANTILE = 0.95

# What this architecture accepts and honours (engine.models.Capabilities).
RESIDUAL = True
NORMS = ("none", "batch", "layer")
METRIC = "anomaly_auc"  # how well reconstruction error separates the anomalies: the point of the model


class Autoencoder(ClinicModel):
    """``encoder.0`` … ``bottleneck`` … ``decoder.0`` … ``head``."""

    label = "autoencoder"

    def __init__(self, spec, data):
        super().__init__(spec)
        self.n_in = math.prod(data.input_shape)
        self.code_size = max(2, spec.width // 8)
        self.anomaly_class = int(data.n_classes) - 1
        self.encoder = dense_blocks(self.n_in, spec)
        self.bottleneck = nn.Linear(spec.width, self.code_size)
        self.decoder = dense_blocks(self.code_size, spec)
        self.head = nn.Linear(spec.width, self.n_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction, flattened: ``(N, prod(input_shape))``."""
        h = x.flatten(1)
        for block in self.encoder:
            h = block(h)
        h = self.bottleneck(h)
        for block in self.decoder:
            h = block(h)
        return self.head(h)

    def param_layers(self) -> list[tuple[str, nn.Parameter]]:
        named = [(f"encoder.{i}", b.layer.weight) for i, b in enumerate(self.encoder)]
        named.append(("bottleneck", self.bottleneck.weight))
        named += [(f"decoder.{i}", b.layer.weight) for i, b in enumerate(self.decoder)]
        return named + [("head", self.head.weight)]

    def activation_layers(self) -> list[tuple[str, nn.Module, str]]:
        family = activations.get(self.spec.activation).family
        return [(f"encoder.{i}", b.act, family) for i, b in enumerate(self.encoder)] + [
            (f"decoder.{i}", b.act, family) for i, b in enumerate(self.decoder)
        ]

    explained = "the reconstruction error (the anomaly score)"

    def explain_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The anomaly score, ``(N, 1)``: which inputs make a sample hard to rebuild."""
        return self.errors(x)[:, None]

    # --- objective and metrics ------------------------------------------------

    def errors(self, x: torch.Tensor) -> torch.Tensor:
        """Per-sample reconstruction error (mean squared error over the input's values)."""
        return (self(x) - x.flatten(1)).pow(2).mean(dim=1)

    def objective(self, out, x, y, crit):
        """Reconstruction MSE over the normal samples of the batch (held-out ones weigh 0)."""
        err = (out - x.flatten(1)).pow(2).mean(dim=1)
        normal = (y != self.anomaly_class).to(err.dtype)
        return (err * normal).sum() / normal.sum().clamp_min(1.0)

    @torch.no_grad()
    def eval_metrics(self, trainer) -> dict[str, float]:
        from sklearn.metrics import roc_auc_score

        was_training = self.training
        self.eval()
        xv, yv = trainer.batches.val_tensors()
        xt, yt = trainer.batches.train_eval_tensors()
        ev, et = self.errors(xv).float().cpu().numpy(), self.errors(xt).float().cpu().numpy()
        self.train(was_training)
        k = self.anomaly_class
        yv, yt = yv.cpu().numpy(), yt.cpu().numpy()
        normal_val, normal_train = ev[yv != k], et[yt != k]
        anomalies = np.concatenate([ev[yv == k], et[yt == k]])
        out = {
            "val_loss": float(normal_val.mean()),
            "val_mse": float(normal_val.mean()),
            "train_eval_loss": float(normal_train.mean()),
        }
        if len(anomalies) and len(normal_val) and np.isfinite(ev).all() and np.isfinite(et).all():
            scores = np.concatenate([normal_val, anomalies])
            labels = np.concatenate([np.zeros(len(normal_val)), np.ones(len(anomalies))])
            threshold = float(np.quantile(normal_train, THRESHOLD_QUANTILE))
            out["anomaly_auc"] = float(roc_auc_score(labels, scores))
            out["anomaly_recall"] = float((anomalies > threshold).mean())
            out["false_alarm_rate"] = float((normal_val > threshold).mean())
        return out


def build(spec: ModelSpec, data: Dataset) -> Autoencoder:
    """An autoencoder; it needs labelled data to know which samples are the anomalies."""
    if data.task != "classification" or data.target_len != 1 or (data.n_classes or 0) < 2:
        raise RecipeError(
            f"model.arch: autoencoder holds the last class out as the anomalies, so it needs a labelled "
            f"dataset with one class per sample (e.g. data.name: digits); this dataset is a {data.task} task"
        )
    return Autoencoder(spec, data)
