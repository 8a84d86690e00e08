"""LR schedule registry: ``train.schedule`` name -> factory(optimizer, train).

A factory returns a torch LR scheduler, or None for a constant rate. The
trainer calls ``scheduler.step()`` after every optimizer step, except for
``plateau``, which it steps with the validation loss at each evaluation.
Shapes are chosen relative to ``train.steps`` so that every schedule spans
the whole run whatever its length.
"""

from __future__ import annotations

from engine.config.registry import Registry

SCHEDULES = Registry("schedule")

#: Schedules that are stepped with the validation loss instead of every step.
METRIC_DRIVEN = {"plateau"}


@SCHEDULES.register("constant")
def constant(optimizer, train):
    return None


@SCHEDULES.register("step")
def step(optimizer, train):
    from torch.optim.lr_scheduler import StepLR

    # Two drops of 10x, at one and two thirds of the run.
    return StepLR(optimizer, step_size=max(1, train.steps // 3), gamma=0.1)


@SCHEDULES.register("exponential")
def exponential(optimizer, train):
    from torch.optim.lr_scheduler import ExponentialLR

    # Ends the run at 1% of the initial rate.
    return ExponentialLR(optimizer, gamma=0.01 ** (1.0 / max(1, train.steps)))


@SCHEDULES.register("cosine")
def cosine(optimizer, train):
    from torch.optim.lr_scheduler import CosineAnnealingLR

    return CosineAnnealingLR(optimizer, T_max=max(1, train.steps))


@SCHEDULES.register("cyclic")
def cyclic(optimizer, train):
    from torch.optim.lr_scheduler import CyclicLR

    # Four triangular cycles between lr/10 and lr over the run.
    return CyclicLR(
        optimizer,
        base_lr=train.lr / 10,
        max_lr=train.lr,
        step_size_up=max(1, train.steps // 8),
        cycle_momentum=False,
    )


@SCHEDULES.register("onecycle")
def onecycle(optimizer, train):
    from torch.optim.lr_scheduler import OneCycleLR

    return OneCycleLR(optimizer, max_lr=train.lr, total_steps=max(2, train.steps), cycle_momentum=False)


@SCHEDULES.register("plateau")
def plateau(optimizer, train):
    from torch.optim.lr_scheduler import ReduceLROnPlateau

    return ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=3)
