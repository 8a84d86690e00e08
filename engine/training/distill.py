"""Knowledge distillation (Hinton, Vinyals and Dean 2015): a student also learns from a teacher run.

``distill.teacher`` names a stored run; its saved weights are loaded (:func:`weights.load_weights`)
and the student's training loss becomes

    alpha x T² x KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) x CE(student, labels)

The teacher's softened probabilities say which wrong classes look like the right one (a 7 that
resembles a 1), which the labels alone do not. Only the training loss changes: the trainer's
evaluation keeps the plain task loss (:func:`engine.training.trainer.evaluate`), so a distilled
run's validation loss compares with any other run's.

The teacher is held by a plain callable object, never as a submodule of the student: a submodule
would be saved in the student's state_dict, counted in its parameters, moved and switched to
training mode with it, and hooked by its probes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.config.distill import DistillSpec
from engine.config.errors import RecipeError, StoreError
from engine.config.recipe import Recipe
from engine.models.base import ClinicModel
from engine.training import session
from engine.training.weights import load_weights


@dataclass(eq=False)
class DistillObjective:
    """The student's ``objective(out, x, y, crit)``: softened teacher targets mixed with the labels."""

    teacher: nn.Module
    temperature: float
    alpha: float
    n_classes: int

    def __call__(self, out: torch.Tensor, x: torch.Tensor, y: torch.Tensor, crit) -> torch.Tensor:
        with torch.no_grad():
            target = self.teacher(x).float()
        t, c = self.temperature, self.n_classes
        # One row per labelled position (the copy task labels several per sample).
        soft = F.kl_div(
            F.log_softmax(out.float().reshape(-1, c) / t, dim=-1),
            F.log_softmax(target.reshape(-1, c) / t, dim=-1),
            reduction="batchmean",
            log_target=True,
        )
        return self.alpha * t * t * soft + (1.0 - self.alpha) * crit(out, y)


class _Restandardized(nn.Module):
    """The teacher fed its own standardisation: a student on fewer rows (``data.train_limit``) scales
    its inputs by its own rows' statistics, and ``x * scale + shift`` turns them into the teacher's."""

    scale: torch.Tensor
    shift: torch.Tensor

    def __init__(self, teacher: nn.Module, scale: torch.Tensor, shift: torch.Tensor):
        super().__init__()
        self.teacher = teacher
        self.register_buffer("scale", scale)
        self.register_buffer("shift", shift)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.teacher(x * self.scale + self.shift)


def _stats(data) -> tuple[str, np.ndarray, np.ndarray]:
    s = data.extras.get("x_scale") or {"how": "none"}
    if s["how"] == "none":
        return "none", np.zeros(()), np.ones(())
    mean, std = np.asarray(s["mean"], dtype=np.float64), np.asarray(s["std"], dtype=np.float64)
    if s["how"] == "feature" and data.kind == "image" and mean.ndim == 1:  # per channel of (N, C, H, W)
        mean, std = mean.reshape(-1, 1, 1), std.reshape(-1, 1, 1)
    return s["how"], mean, std


def _fed(teacher: nn.Module, student_data, teacher_data) -> nn.Module:
    """``teacher``, given inputs standardised as the student's are (the same statistics: as it is)."""
    how_s, mean_s, std_s = _stats(student_data)
    how_t, mean_t, std_t = _stats(teacher_data)
    if how_s == how_t and np.array_equal(mean_s, mean_t) and np.array_equal(std_s, std_t):
        return teacher
    scale = torch.as_tensor(std_s / std_t, dtype=torch.float32)
    shift = torch.as_tensor((mean_s - mean_t) / std_t, dtype=torch.float32)
    return _Restandardized(teacher, scale, shift)


def _split(r: Recipe) -> tuple:
    """What decides which rows are validation rows: a teacher trained on other rows has seen ours."""
    return (r.data.seed if r.data.seed is not None else r.seed, r.data.val_fraction, r.data.fold)


def check_teacher(student: Recipe, teacher: Recipe, teacher_id: str) -> None:
    """Refuse a teacher trained on other data, or on another split of the same data, naming distill.teacher."""
    if (teacher.data.name, teacher.data.params) != (student.data.name, student.data.params):
        raise RecipeError(
            f"distill.teacher: run {teacher_id} was trained on {teacher.data.name} {dict(teacher.data.params)}, "
            f"this run on {student.data.name} {dict(student.data.params)}; a teacher must know the same data"
        )
    if _split(teacher) != _split(student):
        raise RecipeError(
            f"distill.teacher: run {teacher_id} was trained on another split of {student.data.name} (its seed, "
            "data.seed, data.val_fraction or data.fold differ), so it has seen this run's validation rows"
        )


def attach(prepared: session.Prepared, store) -> None:
    """Load ``prepared.recipe.distill``'s teacher and make it the student's training loss."""
    spec: DistillSpec | None = prepared.recipe.distill
    assert spec is not None, "attach is called for a recipe with distill set"
    student = prepared.model
    if prepared.data.task != "classification":
        raise RecipeError(
            f"distill: distillation matches class probabilities; {prepared.recipe.data.name} is a regression task"
        )
    if student.training_step is not None or type(student).objective is not ClinicModel.objective:
        raise RecipeError(f"distill: model.arch {prepared.recipe.model.arch} trains on an objective of its own")
    if store is None:
        raise RecipeError(f"distill.teacher: run {spec.teacher} needs its run store, and none was given here")
    try:
        teacher_id = store.resolve(spec.teacher)
        run = store.get_run(teacher_id)
        if run["status"] == "diverged":
            raise RecipeError(f"distill.teacher: run {teacher_id} diverged; its outputs have nothing to teach")
        check_teacher(prepared.recipe, Recipe.from_dict(run["recipe"]), teacher_id)
        teacher = load_weights(store, teacher_id, spec.checkpoint)
    except (RecipeError, StoreError) as exc:
        message = str(exc)
        raise RecipeError(message if message.startswith("distill.") else f"distill.teacher: {message}") from None
    if (teacher.data.n_classes, teacher.data.input_shape) != (prepared.data.n_classes, prepared.data.input_shape):
        raise RecipeError(
            f"distill.teacher: run {teacher_id} predicts {teacher.data.n_classes} classes from inputs of shape "
            f"{teacher.data.input_shape}; this run has {prepared.data.n_classes} from {prepared.data.input_shape}"
        )
    model = _fed(teacher.model, prepared.data, teacher.data).to(prepared.device).eval().requires_grad_(False)
    assert prepared.data.n_classes is not None
    objective = DistillObjective(model, spec.temperature, spec.alpha, int(prepared.data.n_classes))
    # A plain attribute: nn.Module.__setattr__ registers only Modules, Parameters and tensors, and the
    # objective is none of these, so the teacher stays out of the student's modules.
    student.objective = objective  # type: ignore[method-assign]
