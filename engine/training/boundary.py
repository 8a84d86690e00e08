"""What the model has learned, as a picture the Live view redraws: a decision boundary or a fitted curve.

Like TensorFlow Playground, a run on a plane (two input features, one class
per sample) records the model's class probabilities over a fixed 50 × 50 grid
spanning the data plus a margin, with up to 300 training points and their
labels on top. A regression on one feature records its fitted curve over the
training points, and a one-channel sequence regression (``sine``) its forecast:
a validation window's values, then the model's own predictions fed back in.

Everything is in the space the model sees (standardised inputs and targets).
:class:`BoundaryView` is a trainer callback: it draws at the start of the run
(so the first picture arrives with the first flush) and at evaluations, and
hands each picture to the recorder as a ``boundary`` event through
``state.events``, the path the GAN's samples take. A picture is a few tens of
KB, and a run stores at most :data:`MAX_FRAMES` of them, however long it is.
Models with their own objective (the autoencoder, the GAN) record none: their
output is not a prediction of the labels.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.models.base import ClinicModel
from engine.training.events import Callback

if TYPE_CHECKING:
    from engine.config.recipe import Recipe
    from engine.datasets.base import Dataset
    from engine.training.trainer import TrainState

EVENT = "boundary"
GRID = 50  # cells per axis of a decision boundary
CURVE_POINTS = 200  # x values of a fitted curve
MAX_POINTS = 300  # training points drawn on top
MAX_FRAMES = 100  # pictures per run: evaluations are thinned evenly beyond this
MARGIN = 0.1  # of the data's range, added on each side of the grid


def kind_of(data: Dataset, model: ClinicModel) -> str | None:
    """``"classes"``, ``"curve"``, ``"forecast"``, or None where no such picture means anything."""
    own = type(model)
    if (
        getattr(model, "training_step", None) is not None
        or getattr(own, "objective", ClinicModel.objective) is not ClinicModel.objective
        or getattr(own, "eval_metrics", ClinicModel.eval_metrics) is not ClinicModel.eval_metrics
    ):
        return None
    shape = tuple(data.input_shape)
    if data.task == "classification" and shape == (2,) and data.target_len == 1 and data.y_train.ndim == 1:
        return "classes"
    if data.task == "regression" and data.out_dim == 1:
        if shape == (1,):
            return "curve"
        if data.kind == "sequence" and len(shape) == 2 and shape[1] == 1:
            return "forecast"
    return None


class BoundaryView(Callback):
    """Records the run's picture at the start and at (evenly thinned) evaluations, as ``boundary`` events."""

    def __init__(self, data: Dataset, kind: str, total_steps: int, eval_every: int, seed: int = 0):
        self.data, self.kind = data, kind
        n_evals = max(1, math.ceil(total_steps / max(eval_every, 1)))
        self.every = max(1, math.ceil(n_evals / MAX_FRAMES))  # record every n-th evaluation
        self._evals = 0
        self._last_step: int | None = None
        rng = np.random.default_rng(seed)
        n = len(data.x_train)
        self.shown = np.sort(rng.choice(n, size=min(n, MAX_POINTS), replace=False))
        # The grid is fixed for the whole run, so successive pictures line up cell for cell.
        size, count = {"classes": (GRID, 2), "curve": (CURVE_POINTS, 1)}.get(kind, (0, 0))
        self.axes = [_axis(np.concatenate([data.x_train[:, i], data.x_val[:, i]]), size) for i in range(count)]

    @classmethod
    def for_run(cls, data: Dataset, model: ClinicModel, recipe: Recipe) -> BoundaryView | None:
        """The view for this run, or None where its data and model have no such picture."""
        kind = kind_of(data, model)
        if kind is None:
            return None
        return cls(data, kind, recipe.train.steps, recipe.train.eval_every, seed=recipe.seed)

    def before_fit(self, s: TrainState) -> None:
        self._record(s)

    def after_eval(self, s: TrainState) -> None:
        self._evals += 1
        if (self._evals - 1) % self.every == 0 or s.step >= s.recipe.train.steps:
            self._record(s)

    def after_fit(self, s: TrainState) -> None:
        self._record(s)  # a run that stopped between evaluations ends on its final model

    def _record(self, s: TrainState) -> None:
        if s.step == self._last_step:
            return
        payload = self.picture(s.model, s.device)
        if payload is not None:
            s.events.append((s.step, EVENT, payload))
            self._last_step = s.step

    @torch.no_grad()
    def picture(self, model: torch.nn.Module, device: torch.device) -> dict[str, Any] | None:
        """This model's picture as a JSON-ready dict, or None when its outputs are not finite (diverged)."""
        was_training = model.training
        model.eval()
        try:
            draw = {"classes": self._classes, "curve": self._curve, "forecast": self._forecast}[self.kind]
            return draw(model, device)
        finally:
            model.train(was_training)

    # --- the three pictures ----------------------------------------------------

    def _classes(self, model, device) -> dict[str, Any] | None:
        d = self.data
        gx, gy = self.axes
        xx, yy = np.meshgrid(gx, gy)  # row j is y = gy[j]: the layout of a heatmap's z
        cells = torch.as_tensor(np.stack([xx.ravel(), yy.ravel()], axis=1), dtype=torch.float32, device=device)
        probs = torch.softmax(model(cells).float(), dim=1).cpu().numpy()
        if not np.isfinite(probs).all():
            return None
        k = probs.shape[1]
        out: dict[str, Any] = {"kind": "classes", "x": _round(gx, 4), "y": _round(gy, 4), "n_classes": k}
        if k == 2:  # one number tells it all, and 0.5 is the boundary
            out["prob"] = _round(probs[:, 1].reshape(GRID, GRID), 3)
        else:
            out["label"] = probs.argmax(axis=1).reshape(GRID, GRID).tolist()
            out["conf"] = _round(probs.max(axis=1).reshape(GRID, GRID), 2)
        pts = d.x_train[self.shown]
        out["points"] = {"x": _round(pts[:, 0], 3), "y": _round(pts[:, 1], 3), "label": d.y_train[self.shown].tolist()}
        return out | self._names()

    def _curve(self, model, device) -> dict[str, Any] | None:
        d = self.data
        (gx,) = self.axes
        fit = model(torch.as_tensor(gx[:, None], dtype=torch.float32, device=device)).float().reshape(-1).cpu().numpy()
        if not np.isfinite(fit).all():
            return None
        pts_x, pts_y = d.x_train[self.shown, 0], d.y_train[self.shown, 0]
        return {
            "kind": "curve",
            "x": _round(gx, 4),
            "fit": _round(fit, 4),
            "points": {"x": _round(pts_x, 3), "y": _round(pts_y, 3)},
        } | self._names()

    def _forecast(self, model, device) -> dict[str, Any] | None:
        """The first validation window, then as many steps again predicted from the model's own outputs."""
        d = self.data
        window = torch.as_tensor(d.x_val[:1], dtype=torch.float32, device=device)  # (1, L, 1)
        length = window.shape[1]
        to_input = _target_to_input(d.extras)
        preds = []
        for _ in range(length):
            nxt = to_input(model(window).float().reshape(1, 1, 1))
            preds.append(nxt)
            window = torch.cat([window[:, 1:], nxt], dim=1)
        fit = torch.cat(preds).reshape(-1).cpu().numpy()
        if not np.isfinite(fit).all():
            return None
        truth = float(to_input(torch.as_tensor(d.y_val[:1], dtype=torch.float32).reshape(1, 1, 1)).item())
        return {
            "kind": "forecast",
            "x": list(range(length, 2 * length)),
            "fit": _round(fit, 4),
            "points": {"x": list(range(length)), "y": _round(d.x_val[0, :, 0], 3)},
            "truth": [length, round(truth, 4)],
        } | self._names()

    def _names(self) -> dict[str, Any]:
        d = self.data
        scale = d.extras.get("x_scale") or {}
        return {
            "feature_names": list(d.feature_names),
            "class_names": list(d.class_names),
            "standardised": scale.get("how", "none") != "none",
        }


def _axis(values: np.ndarray, n: int) -> np.ndarray:
    """``n`` evenly spaced values over the data's range plus :data:`MARGIN` of it on each side."""
    lo, hi = float(np.min(values)), float(np.max(values))
    pad = MARGIN * (hi - lo) if hi > lo else 1.0
    return np.linspace(lo - pad, hi + pad, n)


def _round(a, digits: int) -> list:
    return np.round(np.asarray(a, dtype=np.float64), digits).tolist()


def _target_to_input(extras: dict[str, Any]):
    """A function taking a standardised target to the standardised input it would be (same units as the window)."""
    y = extras.get("y_scale") or {}
    x = extras.get("x_scale") or {}
    y_mean, y_std = _scalar(y.get("mean"), 0.0), _scalar(y.get("std"), 1.0)
    x_mean, x_std = _scalar(x.get("mean"), 0.0), _scalar(x.get("std"), 1.0)
    return lambda t: ((t * y_std + y_mean) - x_mean) / x_std


def _scalar(value: Any, default: float) -> float:
    if value is None:
        return default
    return float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
